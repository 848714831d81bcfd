import type { PhoenixDeps } from "../../deps.js";
import type { Finding } from "../../findings/guardduty.js";
import { getContainment } from "../aws/records.js";
import { instanceSubject } from "../core/types.js";
import { approveHold } from "./holds.js";
import { type IntakeOutcome, takeFinding } from "./intake.js";

/** The finding type of a containment a person asked for; policy typeOverrides may match it. */
export const MANUAL_FINDING_TYPE = "Phoenix:Manual/Contain";

/**
 * A person's request as the finding intake sees one: highest severity (a person decided), never
 * a sample. One finding id per instance, so asking twice joins the open containment instead of
 * starting a second; after a release the record's generation gives the next one a new name.
 */
export function manualFinding(
  where: { accountId: string; region: string },
  instanceId: string,
  reason: string,
  now: Date,
): Finding {
  return {
    eventId: `cli-${now.getTime()}`,
    findingId: `manual-${instanceId}`,
    type: MANUAL_FINDING_TYPE,
    severity: 10,
    title: reason,
    accountId: where.accountId,
    region: where.region,
    resourceType: "Instance",
    instanceId,
    count: 1,
    updatedAt: now.toISOString(),
    sample: false,
    archived: false,
  };
}

export interface ContainmentRequest {
  accountId: string;
  region: string;
  instanceId: string;
  /** Why, in the person's words: the audit trail and the finding's title carry it. */
  reason: string;
  /** Who asked: "user:<name>". */
  actor: string;
  /** Approve a hold at once (audited as force-containment). */
  force: boolean;
}

export type ManualOutcome =
  | IntakeOutcome
  | { kind: "forced"; holdId: string; reason: string; executionName: string; executionArn: string };

/**
 * `phoenix contain`: a person asks, and the request goes through the intake like any finding
 * (routing, dedupe, protection, budgets, the cut at intake). Audited as asked; with `force`, a
 * hold (new, or the one an earlier request waits on) is approved at once and audited as forced.
 */
export async function requestContainment(
  deps: PhoenixDeps,
  request: ContainmentRequest,
): Promise<ManualOutcome> {
  const { instanceId, actor } = request;
  const now = deps.now();
  await deps.audit.write({
    subject: instanceSubject(instanceId),
    action: "request-containment",
    outcome: "ok",
    actor,
    reason: request.reason,
    details: { force: request.force },
  });
  const outcome = await takeFinding(deps, manualFinding(request, instanceId, request.reason, now), {
    id: `cli:${actor}:${now.getTime()}`,
    receivedAt: now.toISOString(),
  });
  if (!request.force) return outcome;
  let hold: { holdId: string; reason: string } | undefined;
  if (outcome.kind === "held") hold = { holdId: outcome.holdId, reason: outcome.reason };
  if (outcome.kind === "joined" && outcome.status === "held") {
    // Asked again with force while an earlier request waits on its hold: force that hold.
    const existing = await getContainment(deps, request.accountId, instanceId);
    if (existing?.hold) hold = { holdId: existing.hold.id, reason: existing.hold.reason };
  }
  if (hold === undefined) return outcome;
  const approved = await approveHold(deps, hold.holdId, `${actor} (--force)`);
  await deps.audit.write(
    {
      subject: instanceSubject(instanceId),
      action: "force-containment",
      outcome: "ok",
      actor,
      execution: approved.executionName,
      reason: `--force over a hold (${hold.reason}); requested because: ${request.reason}`,
      details: { holdId: hold.holdId },
    },
    `force#${hold.holdId}`,
  );
  return {
    kind: "forced",
    ...hold,
    executionName: approved.executionName,
    executionArn: approved.executionArn,
  };
}
