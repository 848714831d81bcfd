import { createHash } from "node:crypto";
import { GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { cancellationCodes, stripKeys } from "../../aws/dynamo.js";
import type { PhoenixDeps } from "../../deps.js";
import { containmentKey, holdKey } from "../../state-keys.js";
import type { BudgetLimit } from "../core/budget.js";
import { accountStartAdd, groupMemberAdd, windowBuckets } from "./budget-counters.js";
import type { ContainmentItem } from "./records.js";

/** Held containments: the record a person approves (`phoenix approve`), and the approval's transaction. */
export interface HoldInfo {
  id: string;
  kind: "protected" | "budget";
  limit?: BudgetLimit;
  reason: string;
}

export interface HoldItem {
  holdId: string;
  accountId: string;
  instanceId: string;
  kind: HoldInfo["kind"];
  limit?: BudgetLimit;
  reason: string;
  createdAt: string;
  status: "pending" | "approved" | "dismissed";
  approvedBy?: string;
  approvedAt?: string;
}

/** A short id a person can type; derived from the execution name, so a retry finds the same hold. */
export function holdIdFor(executionName: string): string {
  return `hold-${createHash("sha256").update(executionName).digest("hex").slice(0, 12)}`;
}

export async function getHold(deps: PhoenixDeps, holdId: string): Promise<HoldItem | undefined> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({ TableName: deps.resources.stateTable, Key: holdKey(holdId), ConsistentRead: true }),
  );
  return Item ? stripKeys<HoldItem>(Item) : undefined;
}

/**
 * A person approved a hold: the record goes from held to starting with the approver recorded in
 * the execution input. The budget counters are incremented without a limit (a person decided,
 * over budget if need be) so that automatic containments still see the slot taken. Returns false
 * if the hold was no longer pending (approved concurrently, or dismissed).
 */
export async function approveHoldRecord(
  deps: PhoenixDeps,
  hold: HoldItem,
  item: ContainmentItem,
  actor: string,
): Promise<boolean> {
  const table = deps.resources.stateTable;
  const now = deps.now();
  const buckets = windowBuckets(now, deps.policy.containment.budgets.windowMinutes);
  const transactItems: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]> = [
    {
      Update: {
        TableName: table,
        Key: holdKey(hold.holdId),
        UpdateExpression: "SET #status = :approved, approvedBy = :actor, approvedAt = :now",
        ConditionExpression: "#status = :pending",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":approved": "approved",
          ":pending": "pending",
          ":actor": actor,
          ":now": now.toISOString(),
        },
      },
    },
    {
      Update: {
        TableName: table,
        Key: containmentKey(item.accountId, item.instanceId),
        UpdateExpression: "SET #status = :starting, openedBy = :openedBy, executionInput.approvedBy = :actor",
        ConditionExpression: "#status = :held AND #hold.id = :holdId",
        ExpressionAttributeNames: { "#status": "status", "#hold": "hold" },
        ExpressionAttributeValues: {
          ":starting": "starting",
          ":held": "held",
          ":holdId": hold.holdId,
          ":openedBy": `approval:${hold.holdId}`,
          ":actor": actor,
        },
      },
    },
    { Update: accountStartAdd(table, item.accountId, buckets) },
  ];
  if (item.groupName) transactItems.push({ Update: groupMemberAdd(table, item, item.groupName) });
  try {
    await deps.clients.dynamo.send(new TransactWriteCommand({ TransactItems: transactItems }));
    return true;
  } catch (error) {
    const codes = cancellationCodes(error);
    if (codes?.[0] === "ConditionalCheckFailed" || codes?.[1] === "ConditionalCheckFailed") return false;
    throw error;
  }
}
