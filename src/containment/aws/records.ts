import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { cancellationCodes, stripKeys } from "../../aws/dynamo.js";
import { withBackoff } from "../../aws/retry.js";
import type { PhoenixDeps } from "../../deps.js";
import { containmentKey, holdKey, windowKey } from "../../state-keys.js";
import { groupLimit } from "../core/budget.js";
import { containmentExecutionName } from "../core/naming.js";
import { type ContainmentInput, instanceSubject } from "../core/types.js";
import {
  accountHoldInfo,
  accountStartAdd,
  groupHoldInfo,
  groupMemberAdd,
  type PreviousStarts,
  readStarts,
  releaseGroupSlot,
  windowBuckets,
} from "./budget-counters.js";
import { type HoldInfo, type HoldItem, holdIdFor } from "./hold-records.js";
import { type OriginalState, originalRecordKey } from "./isolation.js";

/**
 * The containment record, one per instance: opened, joined, started, finished and released.
 * Every decision that must hold under concurrency (one containment per instance, the budget)
 * is one conditional write or transaction, so many handlers racing on a flood of findings
 * cannot both win. Keys: src/state-keys.ts.
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

export interface ContainmentItem {
  accountId: string;
  /** Where the instance runs (absent on records written before member accounts: Phoenix's own). */
  region?: string;
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

export interface OpenRequest {
  accountId: string;
  /** The instance's region (the finding's, verified as managed). */
  region?: string;
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

export type OpenOutcome =
  | { kind: "opened"; item: ContainmentItem }
  | { kind: "held"; item: ContainmentItem; hold: HoldItem }
  /** Another containment of the instance is open (possibly opened by a concurrent handler). */
  | { kind: "exists"; item: ContainmentItem };

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
    ...(request.region ? { region: request.region } : {}),
    findingId: sighting.findingId,
    findingType: sighting.type,
    severity: sighting.severity,
    findingReceivedAt: request.findingReceivedAt,
    generation,
    ...(request.group ? { groupName: request.group.name } : {}),
  };
  return {
    accountId: request.accountId,
    ...(request.region ? { region: request.region } : {}),
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
    return hold(deps, item, previous, groupHoldInfo(budgets, group, 0));
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
      return hold(deps, item, previous, groupHoldInfo(budgets, group, perGroup.limit));
    }
    if (codes[previousIndex] === "ConditionalCheckFailed") throw new RetryTransaction();
    if (codes[currentIndex] === "ConditionalCheckFailed") {
      return hold(deps, item, previous, accountHoldInfo(budgets, item.accountId, budgets.perAccountMaxCount));
    }
    throw error;
  }
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
