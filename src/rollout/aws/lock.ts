import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { PhoenixDeps } from "../../deps.js";
import { epochSeconds, groupPartition, LOCK_SK } from "../../state-keys.js";

/**
 * One lock per Auto Scaling group, so two rollouts never refresh one group at once. Containment
 * does not take it, on purpose: isolating a compromised instance must never wait for a rollout.
 * What keeps the two apart instead: the refresh skips an instance a containment detached (it is
 * no longer in the group), and an instance the group launched from its old settings meanwhile
 * (the detach's replacement) gets a follow-up refresh (workflow/group-steps.ts pollStep).
 * A conditional write in the state table:
 * taken when free, expired, or already ours (a retried step re-acquires what it holds).
 * `expiresAt` is also the table's TTL attribute, so DynamoDB eventually deletes stale locks;
 * the condition does not wait for that (TTL deletion can lag by days).
 */
export interface GroupLock {
  group: string;
  /** Who holds it: the execution ARN of the workflow. */
  owner: string;
  /** What for, e.g. "rollout ami-0abc" (shown to whoever finds the group locked). */
  purpose: string;
  acquiredAt: string;
  /** Epoch seconds. */
  expiresAt: number;
}

export type LockAttempt = { acquired: true; lock: GroupLock } | { acquired: false; holder?: GroupLock };

type LockDeps = Pick<PhoenixDeps, "clients" | "resources" | "now">;

const key = (group: string) => ({ pk: groupPartition(group), sk: LOCK_SK });

export async function acquireGroupLock(
  deps: LockDeps,
  request: { group: string; owner: string; purpose: string; ttlSeconds: number },
): Promise<LockAttempt> {
  const now = deps.now();
  const lock: GroupLock = {
    group: request.group,
    owner: request.owner,
    purpose: request.purpose,
    acquiredAt: now.toISOString(),
    expiresAt: epochSeconds(now) + request.ttlSeconds,
  };
  try {
    await deps.clients.dynamo.send(
      new PutCommand({
        TableName: deps.resources.stateTable,
        Item: { ...key(request.group), kind: "group-lock", ...lock },
        ConditionExpression: "attribute_not_exists(pk) OR expiresAt <= :now OR #owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":now": epochSeconds(now), ":owner": request.owner },
      }),
    );
    return { acquired: true, lock };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const holder = await readGroupLock(deps, request.group);
    return holder === undefined ? { acquired: false } : { acquired: false, holder };
  }
}

/** Releases the lock only if `owner` holds it; false when it was not held by them (nothing done). */
export async function releaseGroupLock(deps: LockDeps, group: string, owner: string): Promise<boolean> {
  try {
    await deps.clients.dynamo.send(
      new DeleteCommand({
        TableName: deps.resources.stateTable,
        Key: key(group),
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": owner },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Pushes the expiry out while the owner still holds the lock (a long refresh outlives the TTL
 * otherwise). False when the lock is no longer theirs.
 */
export async function renewGroupLock(
  deps: LockDeps,
  group: string,
  owner: string,
  ttlSeconds: number,
): Promise<boolean> {
  const now = epochSeconds(deps.now());
  try {
    await deps.clients.dynamo.send(
      new UpdateCommand({
        TableName: deps.resources.stateTable,
        Key: key(group),
        UpdateExpression: "SET expiresAt = :expiresAt",
        ConditionExpression: "#owner = :owner AND expiresAt > :now",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": owner, ":now": now, ":expiresAt": now + ttlSeconds },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** The lock as stored, expired or not; undefined when there is none. */
export async function readGroupLock(deps: LockDeps, group: string): Promise<GroupLock | undefined> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({ TableName: deps.resources.stateTable, Key: key(group), ConsistentRead: true }),
  );
  if (Item === undefined) return undefined;
  return {
    group: String(Item.group),
    owner: String(Item.owner),
    purpose: String(Item.purpose ?? ""),
    acquiredAt: String(Item.acquiredAt ?? ""),
    expiresAt: Number(Item.expiresAt),
  };
}

/** "held by <owner> for <purpose> until <time>", for error messages and notifications. */
export function describeHolder(holder: GroupLock | undefined): string {
  if (holder === undefined) return "held by another workflow (released while we looked)";
  return `held by ${holder.owner} (${holder.purpose}) until ${new Date(holder.expiresAt * 1000).toISOString()}`;
}
