import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { PhoenixDeps } from "../../deps.js";
import { groupBudgetKey, windowKey } from "../../state-keys.js";
import { accountRefusal, bucketWindow, groupRefusal } from "../core/budget.js";
import type { HoldInfo } from "./hold-records.js";
import type { ContainmentItem, OpenRequest } from "./records.js";

/**
 * The blast-radius budget's counters in the state table: the members of each group in
 * containment and the starts of each account per window bucket. The limits they are held under
 * are core/budget.ts's; records.ts increments them in the transaction that opens a containment.
 */
export interface PreviousStarts {
  bucket: string;
  starts: number;
}

export interface WindowBuckets {
  current: string;
  previous: string;
  /** Epoch seconds: the bucket is useless once the next two have passed. */
  expiresAt: number;
}

/**
 * The per-account limit counts starts in fixed buckets of the window's length, and a start is
 * allowed only while the current and the previous bucket together stay under the limit. Any
 * sliding window of that length overlaps at most two consecutive buckets, so the limit holds for
 * every window, at the price of sometimes holding a little earlier than a sliding count would.
 */
export function windowBuckets(now: Date, windowMinutes: number): WindowBuckets {
  const size = windowMinutes * 60_000;
  const start = Math.floor(now.getTime() / size) * size;
  return {
    current: new Date(start).toISOString(),
    previous: new Date(start - size).toISOString(),
    expiresAt: Math.floor((start + 3 * size) / 1000),
  };
}

/**
 * Counts a containment against its group: the instance joins the group's members, under the
 * group's limit when one is given (an approval counts it without: a person decided).
 */
export function groupMemberAdd(
  table: string,
  item: Pick<ContainmentItem, "accountId" | "instanceId">,
  groupName: string,
  limit?: number,
) {
  return {
    TableName: table,
    Key: groupBudgetKey(item.accountId, groupName),
    UpdateExpression: "ADD members :instance",
    ...(limit !== undefined
      ? {
          ConditionExpression:
            "attribute_not_exists(members) OR contains(members, :id) OR size(members) < :limit",
          ExpressionAttributeValues: {
            ":instance": new Set([item.instanceId]),
            ":id": item.instanceId,
            ":limit": limit,
          },
        }
      : { ExpressionAttributeValues: { ":instance": new Set([item.instanceId]) } }),
  };
}

/** Counts a start in the account's current window bucket, under `room` when given (as above). */
export function accountStartAdd(table: string, accountId: string, buckets: WindowBuckets, room?: number) {
  return {
    TableName: table,
    Key: windowKey(accountId, buckets.current),
    UpdateExpression: "ADD starts :one SET expiresAt = if_not_exists(expiresAt, :expiresAt)",
    ...(room !== undefined
      ? {
          ConditionExpression: "attribute_not_exists(starts) OR starts < :room",
          ExpressionAttributeValues: { ":one": 1, ":room": room, ":expiresAt": buckets.expiresAt },
        }
      : { ExpressionAttributeValues: { ":one": 1, ":expiresAt": buckets.expiresAt } }),
  };
}

export function groupHoldInfo(
  budgets: PhoenixDeps["policy"]["containment"]["budgets"],
  group: NonNullable<OpenRequest["group"]>,
  inGroup: number,
): Omit<HoldInfo, "id"> {
  const refusal = groupRefusal(budgets, group, inGroup);
  return { kind: "budget", limit: refusal.limit, reason: refusal.reason };
}

export function accountHoldInfo(
  budgets: PhoenixDeps["policy"]["containment"]["budgets"],
  accountId: string,
  started: number,
): Omit<HoldInfo, "id"> {
  const refusal = accountRefusal(budgets, accountId, started, bucketWindow(budgets.windowMinutes));
  return { kind: "budget", limit: refusal.limit, reason: refusal.reason };
}

/**
 * Starts counted against the per-account limit now: the current window bucket and the one
 * before it, as startWithinBudget counts them (for the dry run, which reads what it would write).
 */
export async function readAccountStarts(deps: PhoenixDeps, accountId: string): Promise<number> {
  const buckets = windowBuckets(deps.now(), deps.policy.containment.budgets.windowMinutes);
  const [previous, current] = await Promise.all([
    readStarts(deps, accountId, buckets.previous),
    readStarts(deps, accountId, buckets.current),
  ]);
  return previous + current;
}

/** The previous window bucket's starts, for a caller that reads them beside its other reads. */
export async function readPreviousStarts(deps: PhoenixDeps, accountId: string): Promise<PreviousStarts> {
  const bucket = windowBuckets(deps.now(), deps.policy.containment.budgets.windowMinutes).previous;
  return { bucket, starts: await readStarts(deps, accountId, bucket) };
}

export async function readStarts(deps: PhoenixDeps, accountId: string, bucketStart: string): Promise<number> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({
      TableName: deps.resources.stateTable,
      Key: windowKey(accountId, bucketStart),
      ConsistentRead: true,
    }),
  );
  return typeof Item?.["starts"] === "number" ? Item["starts"] : 0;
}

export function releaseGroupSlot(table: string, accountId: string, groupName: string, instanceId: string) {
  return {
    Update: {
      TableName: table,
      Key: groupBudgetKey(accountId, groupName),
      UpdateExpression: "DELETE members :instance",
      ExpressionAttributeValues: { ":instance": new Set([instanceId]) },
    },
  };
}

/** The instances of a group currently counted against its budget. */
export async function groupMembers(
  deps: PhoenixDeps,
  accountId: string,
  groupName: string,
): Promise<string[]> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({
      TableName: deps.resources.stateTable,
      Key: groupBudgetKey(accountId, groupName),
      ConsistentRead: true,
    }),
  );
  const members = Item?.["members"];
  return members instanceof Set ? [...members].map(String).sort() : [];
}
