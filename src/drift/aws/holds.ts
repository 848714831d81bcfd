import { createHash } from "node:crypto";
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { stripKeys, writeIfCondition } from "../../aws/dynamo.js";
import type { PhoenixDeps } from "../../deps.js";
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
        // A hold nobody approved goes with the audit trail's retention; the next sweep holds again.
        expiresAt: Math.floor(deps.now().getTime() / 1000) + deps.policy.retention.auditDays * 86_400,
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

/** pending → approved, once: false when it was approved already (concurrently, or before). */
export async function approveDriftHoldRecord(deps: Deps, holdId: string, actor: string): Promise<boolean> {
  return writeIfCondition(
    deps.clients.dynamo,
    new UpdateCommand({
      TableName: deps.resources.stateTable,
      Key: driftHoldKey(holdId),
      UpdateExpression: "SET #status = :approved, approvedBy = :actor, approvedAt = :now",
      ConditionExpression: "#status = :pending",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":approved": "approved",
        ":pending": "pending",
        ":actor": actor,
        ":now": deps.now().toISOString(),
      },
    }),
  );
}
