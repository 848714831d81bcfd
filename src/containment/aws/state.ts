import { createHash } from "node:crypto";
import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { withBackoff } from "../../aws/retry.js";
import type { PhoenixDeps } from "../../deps.js";
import { accountRefusal, type BudgetLimit, bucketWindow, groupLimit, groupRefusal } from "../core/budget.js";
import { containmentExecutionName, instanceDedupeKey } from "../core/naming.js";
import { type ContainmentInput, instanceSubject } from "../core/types.js";
import { type OriginalState, originalRecordKey } from "./isolation.js";

/**
 * The state table: one containment record per instance, holds waiting for a person, and the
 * blast-radius budget counters. Every decision that must hold under concurrency (one
 * containment per instance, the budget) is a single conditional write or transaction, so many
 * handlers racing on a flood of findings cannot both win.
 *
 * Items (pk / sk):
 * - `instance#<account>#<instance>` / `containment`: the containment record (ContainmentItem).
 * - `hold#<hold id>` / `hold`: a held containment a person can approve (HoldItem).
 * - `budget#group#<account>#<group>` / `running`: `members`, the string set of the group's
 *   instances in containment now. A set, not a counter: adding an instance twice or releasing it
 *   twice cannot skew it.
 * - `budget#account#<account>` / `window#<bucket start>`: `starts`, containments started in
 *   that fixed window bucket (expires after three buckets).
 * - `finding#<finding id>` / `notified`: the highest `service.count` already notified.
 * - `once#<key>` / `once`: marks a side effect (a notification) done, so a retried step skips it.
 */

export type ContainmentStatus = "starting" | "running" | "held" | "succeeded" | "failed" | "released";

/** One sighting of a finding on the instance: the latest count and update time seen. */
export interface FindingSighting {
  findingId: string;
  type: string;
  severity: number;
  count: number;
  updatedAt: string;
}

export interface HoldInfo {
  id: string;
  kind: "protected" | "budget";
  limit?: BudgetLimit;
  reason: string;
}

export interface ContainmentItem {
  accountId: string;
  instanceId: string;
  groupName?: string;
  status: ContainmentStatus;
  /** Increases each time the instance is contained again after a release. */
  generation: number;
  /** The finding that opened this containment. */
  epoch: string;
  executionName: string;
  /** Stored so every start attempt sends the same input (StartExecution is idempotent then). */
  executionInput: ContainmentInput;
  executionArn?: string;
  openedAt: string;
  /** The delivery (SQS message id) or person that opened or approved it. */
  openedBy: string;
  hold?: HoldInfo;
  /** Every finding seen on the instance while this containment is open, by finding id. */
  findings: Record<string, Omit<FindingSighting, "findingId">>;
  deliveries: number;
  lastSeenAt: string;
  endedAt?: string;
  releasedBy?: string;
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

export interface OpenRequest {
  accountId: string;
  instanceId: string;
  group?: { name: string; desiredCapacity: number };
  sighting: FindingSighting;
  openedBy: string;
  findingReceivedAt: string;
  /** Set when the instance or its group is tagged protected: the containment is held, not started. */
  protectedReason?: string;
  /**
   * The record as the caller just read it (absent, or released): saves a read on the first
   * attempt. The transaction's condition still checks it did not change.
   */
  current?: ContainmentItem | undefined;
  /** The previous window bucket's starts as the caller read them beside its other reads. */
  previousStarts?: PreviousStarts;
  /**
   * The instance as the caller found it, before anything moved: recorded in the audit trail
   * (the record release restores from) by the same transaction that opens the containment, so
   * it exists exactly when the containment was started and before anyone can isolate.
   */
  original?: { state: OriginalState; actor: string };
}

export interface PreviousStarts {
  bucket: string;
  starts: number;
}

export type OpenOutcome =
  | { kind: "opened"; item: ContainmentItem }
  | { kind: "held"; item: ContainmentItem; hold: HoldItem }
  /** Another containment of the instance is open (possibly opened by a concurrent handler). */
  | { kind: "exists"; item: ContainmentItem };

const RECORD_SK = "containment";

export const containmentKey = (accountId: string, instanceId: string) => ({
  pk: instanceDedupeKey(accountId, instanceId),
  sk: RECORD_SK,
});
const holdKey = (holdId: string) => ({ pk: `hold#${holdId}`, sk: "hold" });
const groupBudgetKey = (accountId: string, groupName: string) => ({
  pk: `budget#group#${accountId}#${groupName}`,
  sk: "running",
});
const windowKey = (accountId: string, bucketStart: string) => ({
  pk: `budget#account#${accountId}`,
  sk: `window#${bucketStart}`,
});

/** A short id a person can type; derived from the execution name, so a retry finds the same hold. */
export function holdIdFor(executionName: string): string {
  return `hold-${createHash("sha256").update(executionName).digest("hex").slice(0, 12)}`;
}

export async function getContainment(
  deps: PhoenixDeps,
  accountId: string,
  instanceId: string,
): Promise<ContainmentItem | undefined> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({
      TableName: deps.resources.stateTable,
      Key: containmentKey(accountId, instanceId),
      ConsistentRead: true,
    }),
  );
  return Item ? stripKeys<ContainmentItem>(Item) : undefined;
}

/** Whether a new finding on the instance should open a new containment rather than join. */
export const isOpen = (item: ContainmentItem | undefined): item is ContainmentItem =>
  item !== undefined && item.status !== "released";

/**
 * Opens the containment of an instance: held when protected, otherwise started only if the
 * blast-radius budget allows, checked and counted in the same transaction as the record's
 * creation. The record's condition (absent, or released at the generation we read) is what
 * makes the first finding win and every concurrent one join.
 */
export async function openContainment(deps: PhoenixDeps, request: OpenRequest): Promise<OpenOutcome> {
  let known = "current" in request;
  let prefetched = request.previousStarts;
  let original = request.original;
  return withBackoff(
    async () => {
      const previous = known
        ? request.current
        : await getContainment(deps, request.accountId, request.instanceId);
      known = false;
      if (isOpen(previous)) return { kind: "exists", item: previous };
      const item = newItem(deps, request, previous);
      if (request.protectedReason) {
        return hold(deps, item, previous, { kind: "protected", reason: request.protectedReason });
      }
      const attempt = { previousStarts: prefetched, original };
      // Later attempts read afresh; the original goes only while it may still be written.
      prefetched = undefined;
      try {
        return await startWithinBudget(deps, item, previous, request.group, attempt);
      } catch (error) {
        if (error instanceof OriginalExists) original = undefined;
        throw error;
      }
    },
    (error) => error instanceof RetryTransaction,
    { maxAttempts: 8, baseDelayMs: 20, maxDelayMs: 500 },
  );
}

/** A transaction lost a race that re-reading resolves (a window bucket moved, a conflict). */
class RetryTransaction extends Error {}

/** The original-state record already exists (an earlier attempt wrote it): retry without it. */
class OriginalExists extends RetryTransaction {}

function newItem(deps: PhoenixDeps, request: OpenRequest, previous?: ContainmentItem): ContainmentItem {
  const generation = (previous?.generation ?? 0) + 1;
  const { sighting } = request;
  const executionName = containmentExecutionName({
    accountId: request.accountId,
    instanceId: request.instanceId,
    epoch: sighting.findingId,
    generation,
  });
  const now = deps.now().toISOString();
  const executionInput: ContainmentInput = {
    containmentId: executionName,
    instanceId: request.instanceId,
    accountId: request.accountId,
    findingId: sighting.findingId,
    findingType: sighting.type,
    severity: sighting.severity,
    findingReceivedAt: request.findingReceivedAt,
    generation,
    ...(request.group ? { groupName: request.group.name } : {}),
  };
  return {
    accountId: request.accountId,
    instanceId: request.instanceId,
    ...(request.group ? { groupName: request.group.name } : {}),
    status: "starting",
    generation,
    epoch: sighting.findingId,
    executionName,
    executionInput,
    openedAt: now,
    openedBy: request.openedBy,
    findings: {
      [sighting.findingId]: {
        type: sighting.type,
        severity: sighting.severity,
        count: sighting.count,
        updatedAt: sighting.updatedAt,
      },
    },
    deliveries: 1,
    lastSeenAt: now,
  };
}

/** The condition under which this handler may (re)create the record: nobody else did meanwhile. */
function recordCondition(previous?: ContainmentItem) {
  if (!previous) return { ConditionExpression: "attribute_not_exists(pk)" };
  return {
    ConditionExpression: "#status = :released AND generation = :previousGeneration",
    ExpressionAttributeNames: { "#status": "status" },
    ExpressionAttributeValues: { ":released": "released", ":previousGeneration": previous.generation },
  };
}

async function hold(
  deps: PhoenixDeps,
  item: ContainmentItem,
  previous: ContainmentItem | undefined,
  info: Omit<HoldInfo, "id">,
): Promise<OpenOutcome> {
  const holdId = holdIdFor(item.executionName);
  const held: ContainmentItem = { ...item, status: "held", hold: { id: holdId, ...info } };
  const holdItem: HoldItem = {
    holdId,
    accountId: item.accountId,
    instanceId: item.instanceId,
    kind: info.kind,
    ...(info.limit ? { limit: info.limit } : {}),
    reason: info.reason,
    createdAt: item.openedAt,
    status: "pending",
  };
  try {
    await deps.clients.dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: deps.resources.stateTable,
              Item: { ...containmentKey(item.accountId, item.instanceId), ...held },
              ...recordCondition(previous),
            },
          },
          {
            Put: {
              TableName: deps.resources.stateTable,
              Item: { ...holdKey(holdId), ...holdItem },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
        ],
      }),
    );
  } catch (error) {
    const codes = cancellationCodes(error);
    if (codes?.[0] === "ConditionalCheckFailed") return existing(deps, item);
    if (codes?.includes("TransactionConflict")) throw new RetryTransaction();
    throw error;
  }
  return { kind: "held", item: held, hold: holdItem };
}

async function existing(deps: PhoenixDeps, item: ContainmentItem): Promise<OpenOutcome> {
  const current = await getContainment(deps, item.accountId, item.instanceId);
  // Released again between the write and this read: start over with a fresh read.
  if (!isOpen(current)) throw new RetryTransaction();
  return { kind: "exists", item: current };
}

interface WindowBuckets {
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
 * Reading the counters and then deciding would be a check-then-act race: N handlers reading at
 * once all see room for one more. Here the budget's limits (core/budget.ts) are conditions on the
 * counters that the same transaction increments, so DynamoDB serialises the decision; a failed
 * condition is worded by the same refusals the pure decision gives.
 */
async function startWithinBudget(
  deps: PhoenixDeps,
  item: ContainmentItem,
  previous: ContainmentItem | undefined,
  group: OpenRequest["group"],
  attempt: Pick<OpenRequest, "previousStarts" | "original">,
): Promise<OpenOutcome> {
  const budgets = deps.policy.containment.budgets;
  const table = deps.resources.stateTable;
  const buckets = windowBuckets(deps.now(), budgets.windowMinutes);
  const previousStarts =
    attempt.previousStarts?.bucket === buckets.previous
      ? attempt.previousStarts.starts
      : await readStarts(deps, item.accountId, buckets.previous);
  const room = budgets.perAccountMaxCount - previousStarts;
  const perGroup = group ? groupLimit(budgets, group.desiredCapacity) : undefined;

  if (group && perGroup && perGroup.limit <= 0) {
    return hold(deps, item, previous, groupHoldInfo(budgets, group, perGroup, 0));
  }
  if (room <= 0) return hold(deps, item, previous, accountHoldInfo(budgets, item.accountId, previousStarts));

  const recordIndex = 0;
  const transactItems: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]> = [
    {
      Put: {
        TableName: table,
        Item: { ...containmentKey(item.accountId, item.instanceId), ...item },
        ...recordCondition(previous),
      },
    },
  ];
  let groupIndex = -1;
  if (group && perGroup) {
    groupIndex = transactItems.length;
    transactItems.push({ Update: groupMemberAdd(table, item, group.name, perGroup.limit) });
  }
  const previousIndex = transactItems.length;
  transactItems.push({
    ConditionCheck: {
      TableName: table,
      Key: windowKey(item.accountId, buckets.previous),
      // The previous bucket still holds what we read (a handler with a slower clock may add to it).
      ConditionExpression: "attribute_not_exists(starts) OR starts = :seen",
      ExpressionAttributeValues: { ":seen": previousStarts },
    },
  });
  const currentIndex = transactItems.length;
  transactItems.push({ Update: accountStartAdd(table, item.accountId, buckets, room) });
  let originalIndex = -1;
  if (attempt.original) {
    originalIndex = transactItems.length;
    transactItems.push({
      Put: deps.audit.transactPut(
        {
          subject: instanceSubject(item.instanceId),
          action: "record-original",
          outcome: "ok",
          actor: attempt.original.actor,
          execution: item.executionName,
          findingId: item.epoch,
          details: attempt.original.state as unknown as Record<string, unknown>,
        },
        originalRecordKey(item.executionName),
      ),
    });
  }

  try {
    await deps.clients.dynamo.send(new TransactWriteCommand({ TransactItems: transactItems }));
    return { kind: "opened", item };
  } catch (error) {
    const codes = cancellationCodes(error);
    if (!codes) throw error;
    if (codes[recordIndex] === "ConditionalCheckFailed") return existing(deps, item);
    if (originalIndex >= 0 && codes[originalIndex] === "ConditionalCheckFailed") throw new OriginalExists();
    if (codes.includes("TransactionConflict")) throw new RetryTransaction();
    if (groupIndex >= 0 && codes[groupIndex] === "ConditionalCheckFailed" && group && perGroup) {
      return hold(deps, item, previous, groupHoldInfo(budgets, group, perGroup, perGroup.limit));
    }
    if (codes[previousIndex] === "ConditionalCheckFailed") throw new RetryTransaction();
    if (codes[currentIndex] === "ConditionalCheckFailed") {
      return hold(deps, item, previous, accountHoldInfo(budgets, item.accountId, budgets.perAccountMaxCount));
    }
    throw error;
  }
}

/**
 * Counts a containment against its group: the instance joins the group's members, under the
 * group's limit when one is given (an approval counts it without: a person decided).
 */
function groupMemberAdd(
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
function accountStartAdd(table: string, accountId: string, buckets: WindowBuckets, room?: number) {
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

function groupHoldInfo(
  budgets: PhoenixDeps["policy"]["containment"]["budgets"],
  group: NonNullable<OpenRequest["group"]>,
  _perGroup: { limit: number; by: BudgetLimit },
  inGroup: number,
): Omit<HoldInfo, "id"> {
  const refusal = groupRefusal(budgets, group, inGroup);
  return { kind: "budget", limit: refusal.limit, reason: refusal.reason };
}

function accountHoldInfo(
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

async function readStarts(deps: PhoenixDeps, accountId: string, bucketStart: string): Promise<number> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({
      TableName: deps.resources.stateTable,
      Key: windowKey(accountId, bucketStart),
      ConsistentRead: true,
    }),
  );
  return typeof Item?.["starts"] === "number" ? Item["starts"] : 0;
}

/**
 * Records another finding (or another copy of one) on an open containment. A sighting replaces
 * the stored one only if it is newer (higher count, or the same count updated later), so copies
 * delivered out of order cannot move it backwards; every delivery is counted. The common case in
 * a flood, a copy of what is stored, costs one conditional write. Returns whether the sighting
 * was news (a new finding or a newer copy).
 */
export async function joinContainment(
  deps: PhoenixDeps,
  item: Pick<ContainmentItem, "accountId" | "instanceId">,
  sighting: FindingSighting,
): Promise<boolean> {
  const Key = containmentKey(item.accountId, item.instanceId);
  const now = deps.now().toISOString();
  const { findingId, ...stored } = sighting;
  const names = { "#findings": "findings", "#finding": findingId, "#count": "count" };
  const storedIsNewer =
    "#findings.#finding.#count > :count OR (#findings.#finding.#count = :count AND #findings.#finding.updatedAt >= :updatedAt)";
  const count = (condition: string, extraNames: boolean) =>
    deps.clients.dynamo.send(
      new UpdateCommand({
        TableName: deps.resources.stateTable,
        Key,
        UpdateExpression: "SET lastSeenAt = :now ADD deliveries :one",
        ConditionExpression: condition,
        ...(extraNames ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: {
          ":now": now,
          ":one": 1,
          ...(extraNames ? { ":count": sighting.count, ":updatedAt": sighting.updatedAt } : {}),
        },
      }),
    );
  try {
    await count(`attribute_exists(pk) AND (${storedIsNewer})`, true);
    return false;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  try {
    await deps.clients.dynamo.send(
      new UpdateCommand({
        TableName: deps.resources.stateTable,
        Key,
        UpdateExpression: "SET #findings.#finding = :sighting, lastSeenAt = :now ADD deliveries :one",
        ConditionExpression: `attribute_exists(pk) AND NOT (${storedIsNewer})`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ":sighting": stored,
          ":now": now,
          ":one": 1,
          ":count": sighting.count,
          ":updatedAt": sighting.updatedAt,
        },
      }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // A newer copy was stored between the two writes: only count the delivery.
    await count("attribute_exists(pk)", false);
    return false;
  }
}

/** starting → running once the execution exists; a no-op if another handler got there first. */
export async function markRunning(
  deps: PhoenixDeps,
  item: ContainmentItem,
  executionArn: string,
): Promise<void> {
  try {
    await deps.clients.dynamo.send(
      new UpdateCommand({
        TableName: deps.resources.stateTable,
        Key: containmentKey(item.accountId, item.instanceId),
        UpdateExpression: "SET #status = :running, executionArn = :arn",
        ConditionExpression: "#status = :starting AND generation = :generation",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":running": "running",
          ":starting": "starting",
          ":arn": executionArn,
          ":generation": item.generation,
        },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/**
 * The end of a containment's workflow. A success frees the group's budget slot (the replacement
 * is healthy). A failure keeps it: the group may still be short of capacity or hold an isolated
 * instance, and a person has to look before more of it is contained automatically.
 */
export async function finishContainment(
  deps: PhoenixDeps,
  input: Pick<ContainmentInput, "accountId" | "instanceId" | "generation" | "groupName">,
  outcome: "succeeded" | "failed",
): Promise<void> {
  const table = deps.resources.stateTable;
  const transactItems: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]> = [
    {
      Update: {
        TableName: table,
        Key: containmentKey(input.accountId, input.instanceId),
        UpdateExpression: "SET #status = :outcome, endedAt = if_not_exists(endedAt, :now)",
        // Only the generation this workflow runs for, and never over a release.
        ConditionExpression: "generation = :generation AND #status <> :released",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":outcome": outcome,
          ":now": deps.now().toISOString(),
          ":generation": input.generation,
          ":released": "released",
        },
      },
    },
  ];
  if (outcome === "succeeded" && input.groupName) {
    transactItems.push(releaseGroupSlot(table, input.accountId, input.groupName, input.instanceId));
  }
  try {
    await deps.clients.dynamo.send(new TransactWriteCommand({ TransactItems: transactItems }));
  } catch (error) {
    if (cancellationCodes(error)?.[0] !== "ConditionalCheckFailed") throw error;
  }
}

function releaseGroupSlot(table: string, accountId: string, groupName: string, instanceId: string) {
  return {
    Update: {
      TableName: table,
      Key: groupBudgetKey(accountId, groupName),
      UpdateExpression: "DELETE members :instance",
      ExpressionAttributeValues: { ":instance": new Set([instanceId]) },
    },
  };
}

/** A person released the instance (or dismissed its hold): new findings open a new containment. */
export async function markReleased(deps: PhoenixDeps, item: ContainmentItem, actor: string): Promise<void> {
  const table = deps.resources.stateTable;
  const transactItems: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]> = [
    {
      Update: {
        TableName: table,
        Key: containmentKey(item.accountId, item.instanceId),
        UpdateExpression:
          "SET #status = :released, releasedBy = :actor, endedAt = if_not_exists(endedAt, :now)",
        ConditionExpression: "generation = :generation",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":released": "released",
          ":actor": actor,
          ":now": deps.now().toISOString(),
          ":generation": item.generation,
        },
      },
    },
  ];
  if (item.groupName) {
    transactItems.push(releaseGroupSlot(table, item.accountId, item.groupName, item.instanceId));
  }
  if (item.hold && item.status === "held") {
    transactItems.push({
      Update: {
        TableName: table,
        Key: holdKey(item.hold.id),
        UpdateExpression: "SET #status = :dismissed",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":dismissed": "dismissed" },
      },
    });
  }
  await deps.clients.dynamo.send(new TransactWriteCommand({ TransactItems: transactItems }));
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
        Item: { pk: `finding#${findingId}`, sk: "notified", count, expiresAt },
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
  const Key = { pk: `once#${key}`, sk: "once" };
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

function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((reason) => reason.Code);
}

function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
}
