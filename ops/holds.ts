import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { HoldItem } from "../src/containment/aws/hold-records.js";
import type { Connection } from "./connect.js";

/**
 * The holds of the state table (`hold#<id>` / `hold`): containments waiting for a person
 * (protected instance, or over budget). Read-only: a Scan of the state table, which is small
 * (one item per instance in containment, per hold, per budget counter).
 */
export async function listHolds(
  connection: Pick<Connection, "deps">,
  options: { all?: boolean } = {},
): Promise<HoldItem[]> {
  const { dynamo } = connection.deps.clients;
  const holds: HoldItem[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: connection.deps.resources.stateTable,
        FilterExpression: options.all
          ? "begins_with(pk, :hold) AND sk = :sk"
          : "begins_with(pk, :hold) AND sk = :sk AND #status = :pending",
        ExpressionAttributeValues: {
          ":hold": "hold#",
          ":sk": "hold",
          ...(options.all ? {} : { ":pending": "pending" }),
        },
        ...(options.all ? {} : { ExpressionAttributeNames: { "#status": "status" } }),
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const { pk: _pk, sk: _sk, ...hold } = item;
      holds.push(hold as HoldItem);
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return holds.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.holdId.localeCompare(b.holdId));
}
