import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { PhoenixDeps } from "../../deps.js";
import { notifiedKey, onceKey } from "../../state-keys.js";

/**
 * At-most-once side effects across retries. Powertools' idempotency utility keys a whole
 * handler invocation (or a function's payload) with in-progress records in a table of its own;
 * these need a marker per business key in the state table, tied to Phoenix's own conditions (a
 * finding notifies again when its count grows), so this one small module does it.
 */
/**
 * Claims the right to notify about this finding at this count: true once per (finding, count),
 * so redeliveries and copies of a medium-severity finding notify once, and a repeat with a higher
 * count notifies again.
 */
export async function claimNotification(
  deps: PhoenixDeps,
  findingId: string,
  count: number,
): Promise<boolean> {
  const expiresAt = Math.floor(deps.now().getTime() / 1000) + deps.policy.retention.dedupeHours * 3600;
  try {
    await deps.clients.dynamo.send(
      new PutCommand({
        TableName: deps.resources.stateTable,
        Item: { ...notifiedKey(findingId), count, expiresAt },
        ConditionExpression: "attribute_not_exists(pk) OR #count < :count",
        ExpressionAttributeNames: { "#count": "count" },
        ExpressionAttributeValues: { ":count": count },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Runs a side effect that cannot be made idempotent itself (an SNS publish) at most once per key,
 * across retries of the step: the marker is written first, and removed again if the effect fails,
 * so a failed effect is retried rather than lost.
 */
export async function once(deps: PhoenixDeps, key: string, effect: () => Promise<void>): Promise<boolean> {
  const Key = onceKey(key);
  const expiresAt = Math.floor(deps.now().getTime() / 1000) + deps.policy.retention.auditDays * 86_400;
  try {
    await deps.clients.dynamo.send(
      new PutCommand({
        TableName: deps.resources.stateTable,
        Item: { ...Key, at: deps.now().toISOString(), expiresAt },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
  try {
    await effect();
    return true;
  } catch (error) {
    await deps.clients.dynamo.send(new DeleteCommand({ TableName: deps.resources.stateTable, Key }));
    throw error;
  }
}
