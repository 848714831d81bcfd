import { createHash } from "node:crypto";
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { stripKeys, writeIfCondition } from "../../aws/dynamo.js";
import type { PhoenixDeps } from "../../deps.js";
import { ratePeriodMs } from "../../policy/schedule.js";
import { driftHoldKey } from "../../state-keys.js";
import type { GroupEnforcement } from "../core/enforce.js";

/** A group's replacement an enforcing sweep held back (over maxGroupsPerSweep): a person approves it. */
export interface DriftHoldItem extends GroupEnforcement {
  holdId: string;
  sweepId: string;
  createdAt: string;
  status: "pending" | "approved";
  approvedBy?: string;
  approvedAt?: string;
  /** Set on approval: the rollout started, from the plan made again then (image, replaceAll). */
  rollout?: string;
  approvedImageId?: string;
  approvedReplaceAll?: boolean;
}

/**
 * How long a hold may be approved: two sweep periods (drift.schedule). By then a later sweep has
 * looked at the group again and held it afresh if it still drifts; approving a plan that old
 * would act on what the fleet was, not what it is.
 */
export function driftHoldValidUntil(policy: Pick<PhoenixDeps["policy"], "drift">, createdAt: string): number {
  const period = ratePeriodMs(policy.drift.schedule);
  return Date.parse(createdAt) + 2 * (period.ok ? period.ms : 86_400_000);
}

export const DRIFT_HOLD_PREFIX = "drift-hold-";

/** A short id a person can type; the same for a sweep and group, so a retried sweep finds it. */
export const driftHoldIdFor = (sweepId: string, group: string) =>
  `${DRIFT_HOLD_PREFIX}${createHash("sha256").update(`${sweepId}\n${group}`).digest("hex").slice(0, 12)}`;

type Deps = Pick<PhoenixDeps, "clients" | "resources" | "now" | "policy">;

export async function putDriftHold(
  deps: Deps,
  hold: Omit<DriftHoldItem, "status" | "createdAt">,
): Promise<void> {
  await writeIfCondition(
    deps.clients.dynamo,
    new PutCommand({
      TableName: deps.resources.stateTable,
      Item: {
        ...driftHoldKey(hold.holdId),
        kind: "drift-hold",
        ...hold,
        status: "pending",
        createdAt: deps.now().toISOString(),
        // Approvable for two sweep periods; kept a week beyond, so approving it late says it
        // expired instead of "no such hold". The audit trail keeps its history.
        expiresAt: Math.floor(driftHoldValidUntil(deps.policy, deps.now().toISOString()) / 1000) + 7 * 86_400,
      },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
}

export async function getDriftHold(deps: Deps, holdId: string): Promise<DriftHoldItem | undefined> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({ TableName: deps.resources.stateTable, Key: driftHoldKey(holdId), ConsistentRead: true }),
  );
  return Item ? stripKeys<DriftHoldItem>(Item) : undefined;
}

/**
 * pending → approved, once, with the rollout the approval starts: false when it was approved
 * already (concurrently, or before), and then the stored rollout is the one to follow.
 */
export async function approveDriftHoldRecord(
  deps: Deps,
  holdId: string,
  approval: { actor: string; rollout: string; imageId: string; replaceAll: boolean },
): Promise<boolean> {
  return writeIfCondition(
    deps.clients.dynamo,
    new UpdateCommand({
      TableName: deps.resources.stateTable,
      Key: driftHoldKey(holdId),
      UpdateExpression:
        "SET #status = :approved, approvedBy = :actor, approvedAt = :now, rollout = :rollout, approvedImageId = :image, approvedReplaceAll = :all",
      ConditionExpression: "#status = :pending",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":approved": "approved",
        ":pending": "pending",
        ":actor": approval.actor,
        ":now": deps.now().toISOString(),
        ":rollout": approval.rollout,
        ":image": approval.imageId,
        ":all": approval.replaceAll,
      },
    }),
  );
}
