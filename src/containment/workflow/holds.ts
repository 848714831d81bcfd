import type { PhoenixDeps } from "../../deps.js";
import { startContainment } from "../aws/execution.js";
import { approveHoldRecord, getHold, type HoldItem } from "../aws/hold-records.js";
import { getContainment } from "../aws/records.js";
import { instanceSubject } from "../core/types.js";

export class HoldNotFoundError extends Error {
  constructor(holdId: string) {
    super(`No hold with id ${holdId}: check the id in the hold notification.`);
    this.name = "HoldNotFoundError";
  }
}

export class HoldNotPendingError extends Error {
  constructor(hold: HoldItem, why: string) {
    super(`Hold ${hold.holdId} on ${hold.instanceId} cannot be approved: ${why}.`);
    this.name = "HoldNotPendingError";
  }
}

/**
 * A person approves a held containment (protected instance, or over budget): it starts, with the
 * approver in the workflow input and in the audit trail. Approving twice, or concurrently, starts
 * one execution (the record's deterministic name), and the second approval is told so.
 */
export async function approveHold(
  deps: PhoenixDeps,
  holdId: string,
  actor: string,
  /** Where the approver means (the CLI's --account, --region): a hold elsewhere is not approved. */
  options: { accountId?: string; region?: string } = {},
): Promise<{ executionName: string; executionArn: string; alreadyApproved: boolean }> {
  const hold = await getHold(deps, holdId);
  if (!hold) throw new HoldNotFoundError(holdId);
  if (options.accountId !== undefined && options.accountId !== hold.accountId)
    throw new HoldNotPendingError(
      hold,
      `it is a hold in account ${hold.accountId}, not ${options.accountId}`,
    );
  if (hold.status === "dismissed")
    throw new HoldNotPendingError(hold, "it was dismissed (the instance was released)");

  const held = await getContainment(deps, hold.accountId, hold.instanceId);
  if (!held || held.hold?.id !== holdId) {
    throw new HoldNotPendingError(hold, "the instance's containment record no longer refers to it");
  }
  const region = held.region ?? deps.region;
  if (options.region !== undefined && options.region !== region)
    throw new HoldNotPendingError(hold, `it is a hold in region ${region}, not ${options.region}`);
  const approvedNow = hold.status === "pending" && (await approveHoldRecord(deps, hold, held, actor));
  const item = await getContainment(deps, hold.accountId, hold.instanceId);
  if (!item || item.hold?.id !== holdId) {
    throw new HoldNotPendingError(hold, "the instance's containment record changed meanwhile");
  }
  if (item.status === "held")
    throw new HoldNotPendingError(hold, "it is still held (the approval did not apply)");

  // starting: (re)start under the record's name; running or later: already started.
  const executionArn =
    item.status === "starting" ? await startContainment(deps, item) : (item.executionArn ?? "");
  await deps.audit.write(
    {
      subject: instanceSubject(hold.instanceId),
      action: "approve-hold",
      outcome: "ok",
      actor,
      execution: item.executionName,
      reason: hold.reason,
      details: { holdId, kind: hold.kind, limit: hold.limit ?? null, executionArn },
    },
    `approve#${holdId}`,
  );
  return { executionName: item.executionName, executionArn, alreadyApproved: !approvedNow };
}
