import { DeleteCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { PhoenixDeps } from "../../deps.js";
import { CONTROL_PARTITION, PAUSE_SK_PREFIX, pauseSortKey } from "../../state-keys.js";
import type { Pause } from "../core/pause.js";

/**
 * Pause records in the state table (one per scope: every family, or one family), so a pause
 * survives restarts and redeployments and every function and the CLI read the same one.
 */

type Deps = Pick<PhoenixDeps, "clients" | "resources">;

/** Every pause in force. Consistent: a pause written a moment ago must stop the next step. */
export async function listPauses(deps: Deps): Promise<Pause[]> {
  const { Items } = await deps.clients.dynamo.send(
    new QueryCommand({
      TableName: deps.resources.stateTable,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": CONTROL_PARTITION, ":prefix": PAUSE_SK_PREFIX },
      ConsistentRead: true,
    }),
  );
  return (Items ?? []).map(toPause);
}

/** Pauses (again: a second pause of the same scope replaces the reason); returns the one it replaced. */
export async function putPause(deps: Deps, pause: Pause): Promise<Pause | undefined> {
  const { Attributes } = await deps.clients.dynamo.send(
    new PutCommand({
      TableName: deps.resources.stateTable,
      Item: {
        pk: CONTROL_PARTITION,
        sk: pauseSortKey(pause.family),
        kind: "rollout-pause",
        ...pause,
      },
      ReturnValues: "ALL_OLD",
    }),
  );
  return Attributes === undefined ? undefined : toPause(Attributes);
}

/** Lifts the pause of that scope; returns it, or undefined when there was none. */
export async function deletePause(deps: Deps, family: string | undefined): Promise<Pause | undefined> {
  const { Attributes } = await deps.clients.dynamo.send(
    new DeleteCommand({
      TableName: deps.resources.stateTable,
      Key: { pk: CONTROL_PARTITION, sk: pauseSortKey(family) },
      ReturnValues: "ALL_OLD",
    }),
  );
  return Attributes === undefined ? undefined : toPause(Attributes);
}

function toPause(item: Record<string, unknown>): Pause {
  return {
    ...(typeof item.family === "string" ? { family: item.family } : {}),
    reason: String(item.reason ?? ""),
    by: String(item.by ?? "unknown"),
    at: String(item.at ?? ""),
  };
}
