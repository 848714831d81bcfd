import { createHash } from "node:crypto";
import type { PhoenixDeps } from "../../deps.js";
import { groupSubject } from "../../rollout/aws/image-marks.js";
import { rolloutExecutionName } from "../../rollout/core/execution-name.js";
import { startManualRollout } from "../../rollout/workflow/manual-rollout.js";
import { retakeTaintedInstance, type SessionOutcome } from "../../sessions/workflow/intake.js";
import {
  approveDriftHoldRecord,
  type DriftHoldItem,
  driftHoldIdFor,
  driftHoldValidUntil,
  getDriftHold,
  putDriftHold,
} from "../aws/holds.js";
import { readInventory } from "../aws/inventory.js";
import { detectDrift } from "../core/drift.js";
import {
  driftModeOf,
  type EnforcementPlan,
  enforcementPlan,
  type GroupEnforcement,
} from "../core/enforce.js";

export const SWEEP_ACTOR = "phoenix:sweep";

export interface EnforcedGroup extends GroupEnforcement {
  execution: string;
  executionArn: string;
  started: boolean;
}

export interface HeldGroup extends GroupEnforcement {
  holdId: string;
}

/** What the session decision did with a tainted instance the sweep found. */
export interface TaintedOutcome {
  instanceId: string;
  group: string;
  family: string;
  /** "failed": the retake threw; the sweep goes on with the others and the groups. */
  outcome: SessionOutcome["kind"] | "failed";
  reason: string;
}

/** The rollout that replaces a drifted group: one per sweep and group (or hold), repeatable. */
const enforcementName = (key: string, imageId: string) =>
  rolloutExecutionName(`drift-${createHash("sha256").update(key).digest("hex").slice(0, 10)}`, imageId);

/**
 * Carries out an enforcing sweep's plan: each group to start is rolled through the rollout
 * workflow (named groups, so the plan step's gate, pause, locks and waves apply, and with
 * replaceAll when age or a taint is the drift); each group over the budget gets a hold a person
 * approves with `phoenix approve <hold-id>`. Every decision is audited under the group.
 */
export async function enforceDrift(
  deps: PhoenixDeps,
  sweepId: string,
  plan: EnforcementPlan,
  actor: string,
): Promise<{ enforced: EnforcedGroup[]; held: HeldGroup[]; tainted: TaintedOutcome[] }> {
  // One after the other: each reads its group afresh, so a second tainted instance of a group
  // sees the first one leaving and waits for the next sweep rather than take the group lower.
  const tainted: TaintedOutcome[] = [];
  for (const item of plan.tainted) {
    const which = { instanceId: item.instanceId, group: item.group, family: item.family };
    try {
      const outcome = await retakeTaintedInstance(deps, { ...item, sweepId, actor });
      tainted.push({ ...which, outcome: outcome.kind, reason: outcome.reason });
    } catch (error) {
      // One instance's failure (an AWS error past the retries) must not cost the sweep its groups,
      // holds and report: it is reported with the others, and the next sweep tries it again.
      const reason = `not replaced: ${(error as Error).name}: ${(error as Error).message}; the next sweep tries again`;
      await deps.audit.write(
        {
          subject: `instance/${item.instanceId}`,
          action: "drift-enforce",
          outcome: "failed",
          actor,
          execution: sweepId,
          reason,
          details: { group: item.group, family: item.family, tainted: item.taint },
        },
        `drift-enforce#${sweepId}#${item.instanceId}`,
      );
      tainted.push({ ...which, outcome: "failed", reason });
    }
  }
  const enforced: EnforcedGroup[] = [];
  for (const item of plan.start) {
    const started = await startReplacement(
      deps,
      enforcementName(`${sweepId}\n${item.group}`, item.imageId),
      item,
      actor,
      sweepId,
    );
    enforced.push({
      ...item,
      execution: started.name,
      executionArn: started.executionArn,
      started: started.created,
    });
  }
  const held: HeldGroup[] = [];
  for (const item of plan.held) {
    const holdId = driftHoldIdFor(sweepId, item.group);
    await putDriftHold(deps, { ...item, holdId, sweepId });
    await deps.audit.write(
      {
        subject: groupSubject(item.group),
        action: "drift-enforce",
        outcome: "held",
        actor,
        execution: sweepId,
        imageId: item.imageId,
        reason: `over drift.maxGroupsPerSweep (${deps.policy.drift.maxGroupsPerSweep}): waits for approval (phoenix approve ${holdId})`,
        details: { ...item, holdId },
      },
      `drift-enforce#${sweepId}`,
    );
    held.push({ ...item, holdId });
  }
  return { enforced, held, tainted };
}

async function startReplacement(
  deps: PhoenixDeps,
  name: string,
  item: GroupEnforcement,
  actor: string,
  execution: string,
): Promise<{ name: string; executionArn: string; created: boolean }> {
  const started = await startManualRollout(deps, {
    stateMachineArn: deps.resources.rolloutStateMachineArn,
    name,
    request: {
      imageId: item.imageId,
      groups: [item.group],
      requestedBy: actor,
      ...(item.replaceAll ? { replaceAll: true } : {}),
    },
  });
  await deps.audit.write(
    {
      subject: groupSubject(item.group),
      action: "drift-enforce",
      outcome: started.created ? "ok" : "skipped",
      actor,
      execution,
      imageId: item.imageId,
      reason: `${item.kinds.join(", ")}: replaced through rollout ${name}${item.replaceAll ? " (every instance)" : ""}`,
      details: { ...item, rollout: name },
    },
    `drift-enforce#${execution}`,
  );
  return { name, executionArn: started.executionArn, created: started.created };
}

export class DriftHoldError extends Error {
  constructor(
    message: string,
    readonly notFound = false,
  ) {
    super(message);
    this.name = "DriftHoldError";
  }
}

/**
 * A person approves a held group replacement. The plan is made again first, from the fleet as it
 * is now: the group may have been replaced meanwhile, its family rolled on, or its mode changed,
 * and a hold older than two sweep periods is refused (a later sweep has held it afresh if it
 * still drifts). The rollout starts once, however often the hold is approved.
 */
export async function approveDriftHold(
  deps: PhoenixDeps,
  holdId: string,
  actor: string,
): Promise<{ executionName: string; executionArn: string; alreadyApproved: boolean; hold: DriftHoldItem }> {
  const hold = await getDriftHold(deps, holdId);
  if (!hold)
    throw new DriftHoldError(
      `No drift hold with id ${holdId}: check the id in the sweep's report or notification.`,
      true,
    );
  if (hold.status === "approved") return startApproved(deps, hold, actor, true);
  const validUntil = driftHoldValidUntil(deps.policy, hold.createdAt);
  if (deps.now().getTime() > validUntil) {
    throw new DriftHoldError(
      `Drift hold ${holdId} (group ${hold.group}, sweep ${hold.sweepId} at ${hold.createdAt}) expired at ${new Date(validUntil).toISOString()}, two sweep periods (drift.schedule ${deps.policy.drift.schedule}) after it was made: run \`phoenix sweep\` for a plan of the fleet as it is now.`,
    );
  }
  const now = await planGroupNow(deps, hold);
  if (now.kind === "none") {
    throw new DriftHoldError(`Drift hold ${holdId} not approved: ${now.reason}. Nothing was started.`);
  }
  const name = enforcementName(holdId, now.item.imageId);
  const approvedNow = await approveDriftHoldRecord(deps, holdId, {
    actor,
    rollout: name,
    imageId: now.item.imageId,
    replaceAll: now.item.replaceAll,
  });
  // Lost a race with another approval: start (or find) the rollout that one recorded.
  const approved = approvedNow
    ? {
        ...hold,
        status: "approved" as const,
        rollout: name,
        approvedImageId: now.item.imageId,
        approvedReplaceAll: now.item.replaceAll,
        kinds: now.item.kinds,
        reasons: now.item.reasons,
      }
    : await getDriftHold(deps, holdId);
  return startApproved(deps, approved ?? hold, actor, !approvedNow);
}

async function startApproved(
  deps: PhoenixDeps,
  hold: DriftHoldItem,
  actor: string,
  alreadyApproved: boolean,
) {
  const imageId = hold.approvedImageId ?? hold.imageId;
  const item: GroupEnforcement = {
    group: hold.group,
    family: hold.family,
    imageId,
    replaceAll: hold.approvedReplaceAll ?? hold.replaceAll,
    kinds: hold.kinds,
    reasons: hold.reasons,
  };
  const name = hold.rollout ?? enforcementName(hold.holdId, imageId);
  const started = await startReplacement(deps, name, item, actor, hold.holdId);
  return {
    executionName: name,
    executionArn: started.executionArn,
    alreadyApproved,
    hold: { ...hold, imageId, replaceAll: item.replaceAll },
  };
}

/** The held group's replacement as a sweep would plan it now, whatever the budget; or why there is none. */
async function planGroupNow(
  deps: PhoenixDeps,
  hold: DriftHoldItem,
): Promise<{ kind: "replace"; item: GroupEnforcement } | { kind: "none"; reason: string }> {
  const { inventory } = await readInventory(deps);
  const policy = deps.policy.drift;
  if (driftModeOf(policy, hold.family) !== "enforce")
    return { kind: "none", reason: `family ${hold.family} is in drift mode "report" now` };
  const findings = detectDrift(inventory, {
    maxInstanceAgeDays: policy.maxInstanceAgeDays,
    now: deps.now(),
    family: hold.family,
  }).filter((f) => f.group === hold.group);
  const plan = enforcementPlan(
    findings,
    inventory,
    { ...policy, maxGroupsPerSweep: Number.MAX_SAFE_INTEGER },
    new Set(inventory.refreshing ?? []),
  );
  const item = plan.start.find((g) => g.group === hold.group);
  if (item) return { kind: "replace", item };
  const why = plan.notEnforced.find((n) => n.subject === groupSubject(hold.group));
  if (why) return { kind: "none", reason: `group ${hold.group}: ${why.reason}` };
  if (!inventory.groups.some((g) => g.name === hold.group))
    return {
      kind: "none",
      reason: `group ${hold.group} is no longer a managed group of family ${hold.family}`,
    };
  return {
    kind: "none",
    reason: `group ${hold.group} no longer drifts (a rollout or a person replaced it since)`,
  };
}
