import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { writeIfCondition } from "../../aws/dynamo.js";
import type { PhoenixDeps } from "../../deps.js";
import {
  COMPLETED_SK,
  CURRENT_SK,
  epochSeconds,
  familyPartition,
  ROLLOUT_SK_PREFIX,
} from "../../state-keys.js";
import { type AccountResult, accountResults } from "../core/account-results.js";
import type { ImageVersion, InFlightRollout } from "../core/supersede.js";

/**
 * The state behind supersede: per family, the newest image it is rolling to ("current"), one
 * record per rollout, and the image it last finished rolling out ("completed"). A rollout checks
 * "current" before each wave: once a newer image has claimed it, the older rollout starts no
 * further wave (see the rollout workflow's BeginWave step).
 */
/** "incomplete": the waves succeeded but some groups of the family could not be rolled. */
/** "paused": stopped by `phoenix pause` before it finished (run it again after `phoenix resume`). */
export type RolloutStatus = "running" | "succeeded" | "incomplete" | "failed" | "superseded" | "paused";

export interface RolloutRecord extends ImageVersion {
  family: string;
  execution: string;
  status: RolloutStatus;
  waves: number[];
  wavesStarted: number[];
  reason?: string;
  /** Groups the plan could not roll (their keys, place.ts), with why: the rollout is then incomplete. */
  notRolled?: { name: string; reason: string }[];
  /** Each ended wave's group results (group keys, place.ts), in wave order. */
  results?: WaveGroupResult[];
  /** The same by account and region. */
  accounts?: AccountResult[];
}

export interface WaveGroupResult {
  group: string;
  wave: number;
  outcome: string;
  reason: string;
  accountId?: string;
  region?: string;
  refreshId?: string;
}

type RecordDeps = Pick<PhoenixDeps, "clients" | "resources" | "now">;

/** The longest reason a wave result keeps in the record (the audit trail has it whole). */
const REASON_CHARS = 400;

/** Rollout records are history for supersede decisions; a year is more than enough. */
const RECORD_DAYS = 365;

const rolloutKey = (family: string, imageId: string) => ({
  pk: familyPartition(family),
  sk: `${ROLLOUT_SK_PREFIX}${imageId}`,
});

export async function getRollout(
  deps: RecordDeps,
  family: string,
  imageId: string,
): Promise<RolloutRecord | undefined> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({
      TableName: deps.resources.stateTable,
      Key: rolloutKey(family, imageId),
      ConsistentRead: true,
    }),
  );
  return Item === undefined ? undefined : toRollout(Item);
}

/** Rollouts of the family still running, as decideSupersede wants them. */
export async function inFlightRollouts(deps: RecordDeps, family: string): Promise<InFlightRollout[]> {
  return (await familyRollouts(deps, family))
    .filter((record) => record.status === "running")
    .map((record) => ({
      imageId: record.imageId,
      creationDate: record.creationDate,
      executionId: record.execution,
      waves: record.waves,
      wavesStarted: record.wavesStarted,
      ...(record.blocked ? { blocked: true } : {}),
    }));
}

/** Every rollout record of the family, in the table's order. */
export async function familyRollouts(deps: RecordDeps, family: string): Promise<RolloutRecord[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.clients.dynamo.send(
      new QueryCommand({
        TableName: deps.resources.stateTable,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": familyPartition(family), ":prefix": ROLLOUT_SK_PREFIX },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items.map(toRollout);
}

/**
 * The family's records of an image say it is blocked (marked compromised): its rollout record
 * and whichever pointer ("current", "completed") holds it. A blocked pointer may then be taken by
 * an older image (putPointerIfNewer), and a blocked rival no longer stops one (decideSupersede).
 * Each write applies only where the image is still the one recorded: race-free, repeatable.
 */
export async function markFamilyImageBlocked(
  deps: RecordDeps,
  family: string,
  imageId: string,
): Promise<void> {
  const keys = [
    rolloutKey(family, imageId),
    ...[CURRENT_SK, COMPLETED_SK].map((sk) => ({ pk: familyPartition(family), sk })),
  ];
  for (const Key of keys) {
    await writeIfCondition(
      deps.clients.dynamo,
      new UpdateCommand({
        TableName: deps.resources.stateTable,
        Key,
        UpdateExpression: "SET blocked = :yes",
        ConditionExpression: "imageId = :imageId",
        ExpressionAttributeValues: { ":yes": true, ":imageId": imageId },
      }),
    );
  }
}

/**
 * Records a rollout as running. Refused (false) when another execution's rollout of the same
 * image is still running; a retry by the same execution, or a new attempt after an earlier one
 * ended, writes over it.
 */
export async function putRunningRollout(
  deps: RecordDeps & Pick<PhoenixDeps, "accountId" | "region">,
  record: Omit<RolloutRecord, "status" | "wavesStarted">,
): Promise<boolean> {
  return writeIfCondition(
    deps.clients.dynamo,
    new PutCommand({
      TableName: deps.resources.stateTable,
      Item: {
        ...rolloutKey(record.family, record.imageId),
        kind: "rollout",
        ...record,
        status: "running",
        wavesStarted: [],
        waveResults: {},
        homeAccountId: deps.accountId,
        homeRegion: deps.region,
        startedAt: deps.now().toISOString(),
        expiresAt: epochSeconds(deps.now()) + RECORD_DAYS * 86_400,
      },
      ConditionExpression: "attribute_not_exists(pk) OR #status <> :running OR execution = :execution",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":running": "running", ":execution": record.execution },
    }),
  );
}

/** Records that a wave started (idempotent). False when the rollout is no longer running. */
export async function markWaveStarted(
  deps: RecordDeps,
  family: string,
  imageId: string,
  execution: string,
  wave: number,
): Promise<boolean> {
  const record = await getRollout(deps, family, imageId);
  if (record === undefined || record.execution !== execution || record.status !== "running") return false;
  if (record.wavesStarted.includes(wave)) return true;
  return writeIfCondition(
    deps.clients.dynamo,
    new UpdateCommand({
      TableName: deps.resources.stateTable,
      Key: rolloutKey(family, imageId),
      UpdateExpression: "SET wavesStarted = list_append(wavesStarted, :wave)",
      ConditionExpression: "execution = :execution AND #status = :running",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":wave": [wave], ":execution": execution, ":running": "running" },
    }),
  );
}

/**
 * Records a wave's group results in the rollout's record, under the wave (a retried EndWave writes
 * the same again). Only the execution that owns the record writes; a record made before results
 * were kept is left as it is.
 */
export async function recordWaveResults(
  deps: RecordDeps,
  family: string,
  imageId: string,
  execution: string,
  wave: number,
  results: readonly WaveGroupResult[],
): Promise<boolean> {
  return writeIfCondition(
    deps.clients.dynamo,
    new UpdateCommand({
      TableName: deps.resources.stateTable,
      Key: rolloutKey(family, imageId),
      UpdateExpression: "SET waveResults.#wave = :results",
      ConditionExpression: "execution = :execution AND attribute_exists(waveResults)",
      ExpressionAttributeNames: { "#wave": String(wave) },
      ExpressionAttributeValues: {
        // Reasons cut short: a wave of many groups must stay well inside an item's 400 KB.
        ":results": results.map((result) => ({
          ...(JSON.parse(JSON.stringify(result)) as Record<string, unknown>),
          reason:
            result.reason.length > REASON_CHARS ? `${result.reason.slice(0, REASON_CHARS)}…` : result.reason,
        })),
        ":execution": execution,
      },
    }),
  );
}

/**
 * Ends a running rollout with a status. Only the execution that owns the record can end it as
 * succeeded or failed; anyone may mark it superseded. Returns false when it was not running.
 */
export async function endRollout(
  deps: RecordDeps,
  family: string,
  imageId: string,
  end: { status: Exclude<RolloutStatus, "running">; reason: string; execution?: string },
): Promise<boolean> {
  const ownerOnly = end.execution !== undefined ? " AND execution = :execution" : "";
  return writeIfCondition(
    deps.clients.dynamo,
    new UpdateCommand({
      TableName: deps.resources.stateTable,
      Key: rolloutKey(family, imageId),
      UpdateExpression: "SET #status = :status, reason = :reason, endedAt = :at",
      ConditionExpression: `attribute_exists(pk) AND #status = :running${ownerOnly}`,
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":status": end.status,
        ":reason": end.reason,
        ":at": deps.now().toISOString(),
        ":running": "running",
        ...(end.execution !== undefined ? { ":execution": end.execution } : {}),
      },
    }),
  );
}

export interface FamilyPointer extends ImageVersion {
  execution: string;
}

export async function familyCurrent(deps: RecordDeps, family: string): Promise<FamilyPointer | undefined> {
  return getPointer(deps, family, CURRENT_SK);
}

export async function familyCompleted(deps: RecordDeps, family: string): Promise<FamilyPointer | undefined> {
  return getPointer(deps, family, COMPLETED_SK);
}

/**
 * Claims "current" for an image unless a newer one (by CreationDate, ties by image id, as
 * decideSupersede orders them) holds it. The condition makes the claim race-free: of two
 * rollouts planning at once, the newer image wins whatever the order of the writes.
 */
export async function claimFamilyCurrent(
  deps: RecordDeps,
  family: string,
  pointer: FamilyPointer,
): Promise<boolean> {
  return putPointerIfNewer(deps, family, CURRENT_SK, pointer);
}

/** Records the image the family finished rolling out, unless a newer one already finished. */
export async function recordFamilyCompleted(
  deps: RecordDeps,
  family: string,
  pointer: FamilyPointer,
): Promise<boolean> {
  return putPointerIfNewer(deps, family, COMPLETED_SK, pointer);
}

async function putPointerIfNewer(
  deps: RecordDeps,
  family: string,
  sk: string,
  pointer: FamilyPointer,
): Promise<boolean> {
  return writeIfCondition(
    deps.clients.dynamo,
    new PutCommand({
      TableName: deps.resources.stateTable,
      Item: {
        pk: familyPartition(family),
        sk,
        kind: `family-${sk}`,
        ...pointer,
        at: deps.now().toISOString(),
      },
      // ISO 8601 UTC strings of one format order as text the way they order in time. A blocked
      // (compromised) image's pointer is taken by any other image (the family is rolled back),
      // and never written again by the blocked image itself (which would drop the mark).
      ConditionExpression:
        "attribute_not_exists(pk) OR (blocked = :yes AND imageId <> :imageId) OR (attribute_not_exists(blocked) AND (imageId = :imageId OR creationDate < :created OR (creationDate = :created AND imageId < :imageId)))",
      ExpressionAttributeValues: {
        ":imageId": pointer.imageId,
        ":created": pointer.creationDate,
        ":yes": true,
      },
    }),
  );
}

async function getPointer(deps: RecordDeps, family: string, sk: string): Promise<FamilyPointer | undefined> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({
      TableName: deps.resources.stateTable,
      Key: { pk: familyPartition(family), sk },
      ConsistentRead: true,
    }),
  );
  if (Item === undefined) return undefined;
  return {
    imageId: String(Item.imageId),
    creationDate: String(Item.creationDate),
    execution: String(Item.execution),
    ...(Item.blocked === true ? { blocked: true } : {}),
  };
}

function toRollout(item: Record<string, unknown>): RolloutRecord {
  const numbers = (value: unknown) => (Array.isArray(value) ? value.map(Number) : []);
  const record: RolloutRecord = {
    family: String(item.family),
    imageId: String(item.imageId),
    creationDate: String(item.creationDate),
    execution: String(item.execution),
    status: String(item.status) as RolloutStatus,
    waves: numbers(item.waves),
    wavesStarted: numbers(item.wavesStarted),
  };
  if (typeof item.reason === "string") record.reason = item.reason;
  if (item.blocked === true) record.blocked = true;
  if (Array.isArray(item.notRolled)) record.notRolled = item.notRolled as { name: string; reason: string }[];
  if (item.waveResults !== null && typeof item.waveResults === "object") {
    const waves = Object.entries(item.waveResults as Record<string, unknown>).sort(
      ([a], [b]) => Number(a) - Number(b),
    );
    record.results = waves.flatMap(([, results]) =>
      Array.isArray(results) ? (results as WaveGroupResult[]) : [],
    );
    const notRolled = (record.notRolled ?? []).map((group) => ({ group: group.name, outcome: "not-rolled" }));
    record.accounts = accountResults([...record.results, ...notRolled], home(item));
  }
  return record;
}

/** Where Phoenix ran when the record was made (its groups' keys are bare names there). */
const home = (item: Record<string, unknown>) => ({
  accountId: String(item.homeAccountId ?? ""),
  region: String(item.homeRegion ?? ""),
});
