import { createHash } from "node:crypto";
import type { PhoenixDeps } from "../../deps.js";
import { groupSubject } from "../../rollout/aws/image-marks.js";
import { rolloutExecutionName } from "../../rollout/core/execution-name.js";
import { startManualRollout } from "../../rollout/workflow/manual-rollout.js";
import {
  approveDriftHoldRecord,
  type DriftHoldItem,
  driftHoldIdFor,
  getDriftHold,
  putDriftHold,
} from "../aws/holds.js";
import type { EnforcementPlan, GroupEnforcement } from "../core/enforce.js";

export const SWEEP_ACTOR = "phoenix:sweep";

export interface EnforcedGroup extends GroupEnforcement {
  execution: string;
  executionArn: string;
  started: boolean;
}

export interface HeldGroup extends GroupEnforcement {
  holdId: string;
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
): Promise<{ enforced: EnforcedGroup[]; held: HeldGroup[] }> {
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
  return { enforced, held };
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

/** A person approves a held group replacement: it starts (once, however often it is approved). */
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
  const approvedNow = hold.status === "pending" && (await approveDriftHoldRecord(deps, holdId, actor));
  const name = enforcementName(holdId, hold.imageId);
  const started = await startReplacement(deps, name, hold, actor, holdId);
  return { executionName: name, executionArn: started.executionArn, alreadyApproved: !approvedNow, hold };
}
