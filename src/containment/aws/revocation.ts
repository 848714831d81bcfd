import { randomUUID } from "node:crypto";
import { DeleteRolePolicyCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { isAwsError } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";

/**
 * The revocation of contained instances' credentials on their role: ONE inline policy per role
 * (per Phoenix stage), one Deny statement listing every instance whose credentials are revoked,
 * for sessions issued before the latest revocation time. An instance whose profile was swapped
 * cannot get credentials of the role again, so one time for all of them denies exactly the
 * credentials they already hold; other instances on the role are not listed and keep working.
 *
 * Why one policy: a role's inline policies share 10,240 characters. One policy per instance
 * (~311 characters) filled a shared role after 32 containments; from then on every containment on
 * it ended without revoking anything. Listed here, an instance costs ~66 characters, and an entry
 * is pruned once every credential it could deny has expired (CREDENTIAL_LIFETIME_MS after its
 * revocation time), so the policy holds the instances contained in the last half day: about 150
 * fit, far beyond what the containment budgets let through.
 *
 * Why the list lives in the state table: containments of instances on one role run at the same
 * time (a worm spreads through one group), and a read-modify-write of the IAM policy would let
 * one overwrite another's entry (IAM reads are not guaranteed to see the latest write). Each
 * containment adds its entry to the table's set atomically; the policy is then written, from the
 * set, by one writer at a time (a lease on the same item), which records the version it wrote:
 * whoever added an entry after that version writes again, and a retry finds nothing to write.
 *
 * Not covered: sessions chained from the instance's credentials (sts:AssumeRole called with
 * them) are sessions of another role and carry no ec2:SourceInstanceARN; see docs/DEPLOY.md.
 */

/** Credentials of the old role issued this long after the swap was confirmed are denied too. */
export const REVOCATION_MARGIN_MS = 5 * 60 * 1000;
/**
 * How long a credential the deny covers can stay valid: an instance profile's credentials last
 * about 6 hours; 12 hours is the longest any role session lasts (MaxSessionDuration).
 */
export const CREDENTIAL_LIFETIME_MS = 12 * 60 * 60 * 1000;
/** A role's inline policies share this many characters (whitespace not counted). */
export const INLINE_POLICY_BUDGET = 10_240;

const SID = "PhoenixRevokeInstanceCredentials";
const SORT_KEY = "revocation";

export interface Revocation {
  instanceArn: string;
  /** Sessions of this instance issued before this time are denied. */
  issuedBefore: string;
}

/** The role's inline policy of this stage: `phoenix-<stage>-revoke` (from the stage's state table). */
export const revocationPolicyName = (stateTable: string): string =>
  `${stateTable.endsWith("-state") ? stateTable.slice(0, -"-state".length) : stateTable}-revoke`;

const itemKey = (account: string, roleName: string) => ({
  pk: `revoke#${account}#${roleName}`,
  sk: SORT_KEY,
});
const encode = (r: Revocation) => `${r.instanceArn}|${r.issuedBefore}`;
function decode(entry: string): Revocation {
  const at = entry.lastIndexOf("|");
  return { instanceArn: entry.slice(0, at), issuedBefore: entry.slice(at + 1) };
}

/** Characters IAM counts against a role's inline-policy budget (whitespace is not counted). */
export const policyCharacters = (document: string): number => document.replace(/\s/g, "").length;

/** The deny for these revocations: every action, for sessions of the listed instances issued before the latest time. */
export function revocationDocument(revocations: readonly Revocation[]): string {
  const arns = [...new Set(revocations.map((r) => r.instanceArn))].sort();
  const issuedBefore = revocations
    .map((r) => r.issuedBefore)
    .sort()
    .at(-1);
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: SID,
        Effect: "Deny",
        Action: "*",
        Resource: "*",
        Condition: {
          StringEquals: { "ec2:SourceInstanceARN": arns },
          DateLessThan: { "aws:TokenIssueTime": issuedBefore },
        },
      },
    ],
  });
}

export class RevocationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RevocationRefusedError";
  }
}

interface Stored {
  revocations: Revocation[];
  version: number;
  /** The latest version whose policy was written and found current afterwards. */
  writtenVersion: number;
}

function stored(item: Record<string, unknown> | undefined): Stored {
  const entries = item?.["entries"];
  const list = entries instanceof Set ? [...entries] : Array.isArray(entries) ? entries : [];
  return {
    revocations: list.map((e) => decode(String(e))),
    version: Number(item?.["version"] ?? 0),
    writtenVersion: Number(item?.["writtenVersion"] ?? 0),
  };
}

async function read(deps: PhoenixDeps, account: string, roleName: string): Promise<Stored> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({
      TableName: deps.resources.stateTable,
      Key: itemKey(account, roleName),
      ConsistentRead: true,
    }),
  );
  return stored(Item);
}

async function update(
  deps: PhoenixDeps,
  account: string,
  roleName: string,
  change: { add?: Revocation[]; remove?: Revocation[] },
): Promise<Stored> {
  const add = change.add ?? [];
  const remove = change.remove ?? [];
  const operation =
    add.length > 0 ? "ADD entries :entries, version :one" : "DELETE entries :entries ADD version :one";
  const entries = new Set((add.length > 0 ? add : remove).map(encode));
  // Once every credential the latest entry denies has expired, the item can go (TTL).
  const latest = Math.max(deps.now().getTime(), ...add.map((r) => Date.parse(r.issuedBefore)));
  const { Attributes } = await deps.clients.dynamo.send(
    new UpdateCommand({
      TableName: deps.resources.stateTable,
      Key: itemKey(account, roleName),
      UpdateExpression: `${operation} SET expiresAt = :expiresAt`,
      ExpressionAttributeValues: {
        ":entries": entries,
        ":one": 1,
        ":expiresAt": Math.floor((latest + 2 * CREDENTIAL_LIFETIME_MS) / 1000),
      },
      ReturnValues: "ALL_NEW",
    }),
  );
  return stored(Attributes);
}

/** How long a writer may hold a role's revocation (real time: a lease, not a simulated duration). */
const LEASE_MS = 30_000;
/** How long a writer waits for another's lease before the step fails and is retried. */
const LEASE_WAIT_MS = 25_000;

class LeaseLost extends Error {}

/**
 * Runs `write` holding the role's revocation lease, with the set as it is once the lease is
 * taken. Only the lease holder writes the role's policy, and it renders the set it read under
 * the lease: entries added meanwhile are written by whoever added them, after it. The lease is
 * released with the version that was written, so that nobody writes a policy already on the role.
 */
async function withLease<T>(
  deps: PhoenixDeps,
  account: string,
  roleName: string,
  write: (state: Stored) => Promise<{ result: T; writtenVersion: number }>,
): Promise<T> {
  const me = randomUUID();
  const deadline = Date.now() + LEASE_WAIT_MS;
  let state: Stored | undefined;
  for (let delay = 100; state === undefined; delay = Math.min(delay * 2, 1_000)) {
    try {
      const { Attributes } = await deps.clients.dynamo.send(
        new UpdateCommand({
          TableName: deps.resources.stateTable,
          Key: itemKey(account, roleName),
          UpdateExpression: "SET writer = :me, writerUntil = :until",
          ConditionExpression: "attribute_not_exists(writer) OR writerUntil <= :now",
          ExpressionAttributeValues: { ":me": me, ":until": Date.now() + LEASE_MS, ":now": Date.now() },
          ReturnValues: "ALL_NEW",
        }),
      );
      state = stored(Attributes);
    } catch (error) {
      if (!isAwsError(error, "ConditionalCheckFailedException")) throw error;
      if (Date.now() + delay > deadline) {
        throw new Error(
          `another containment is writing the revocation of role ${roleName}; the step is retried`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  let writtenVersion: number | undefined;
  try {
    const done = await write(state);
    writtenVersion = done.writtenVersion;
    return done.result;
  } finally {
    await releaseLease(deps, account, roleName, me, writtenVersion);
  }
}

async function releaseLease(
  deps: PhoenixDeps,
  account: string,
  roleName: string,
  me: string,
  writtenVersion: number | undefined,
): Promise<void> {
  try {
    await deps.clients.dynamo.send(
      new UpdateCommand({
        TableName: deps.resources.stateTable,
        Key: itemKey(account, roleName),
        UpdateExpression:
          writtenVersion === undefined
            ? "REMOVE writer, writerUntil"
            : "REMOVE writer, writerUntil SET writtenVersion = :version",
        ConditionExpression: "writer = :me",
        ExpressionAttributeValues: {
          ":me": me,
          ...(writtenVersion === undefined ? {} : { ":version": writtenVersion }),
        },
      }),
    );
  } catch (error) {
    // Held past its lease and taken over: the new holder writes the set as it found it.
    if (!isAwsError(error, "ConditionalCheckFailedException")) throw error;
    if (writtenVersion !== undefined) throw new LeaseLost(`the revocation lease of role ${roleName} expired`);
  }
}

/**
 * The role's policy rendered from the set (under the lease). An empty set (only after a release)
 * calls `whenEmpty`, kept apart so that the revoke step's code, and so its role, has no
 * DeleteRolePolicy.
 */
async function writePolicy(
  deps: PhoenixDeps,
  roleName: string,
  state: Stored,
  whenEmpty?: (policyName: string) => Promise<void>,
): Promise<{ listed: number; characters: number }> {
  const PolicyName = revocationPolicyName(deps.resources.stateTable);
  if (state.revocations.length === 0) {
    if (!whenEmpty) throw new Error(`the revocation set of role ${roleName} is empty`);
    await whenEmpty(PolicyName);
    return { listed: 0, characters: 0 };
  }
  const document = revocationDocument(state.revocations);
  const characters = policyCharacters(document);
  if (characters > INLINE_POLICY_BUDGET) {
    throw new RevocationRefusedError(
      `the revocation policy on role ${roleName} would list ${state.revocations.length} instances ` +
        `(${characters} characters, more than the ${INLINE_POLICY_BUDGET} a role's inline policies may hold)`,
    );
  }
  await deps.clients.iam.send(
    new PutRolePolicyCommand({ RoleName: roleName, PolicyName, PolicyDocument: document }),
  );
  return { listed: new Set(state.revocations.map((r) => r.instanceArn)).size, characters };
}

/**
 * Adds the instance to its role's revocation (or finds it there, from an earlier attempt of the
 * same containment), prunes entries whose credentials have all expired, and writes the policy
 * unless a policy listing it is already on the role. Returns the time before which the instance's
 * sessions are denied.
 */
export async function revokeOnRole(
  deps: PhoenixDeps,
  target: { account: string; roleName: string; instanceArn: string; issuedBefore: string },
): Promise<{ policyName: string; issuedBefore: string; listed: number; characters: number }> {
  const { account, roleName, instanceArn } = target;
  const now = deps.now().getTime();
  const live = (r: Revocation) => Date.parse(r.issuedBefore) + CREDENTIAL_LIFETIME_MS > now;
  const policyName = revocationPolicyName(deps.resources.stateTable);
  const found = (await read(deps, account, roleName)).revocations.find(
    (r) => r.instanceArn === instanceArn && live(r),
  );
  const own = found ?? { instanceArn, issuedBefore: target.issuedBefore };
  if (!found) await update(deps, account, roleName, { add: [own] });
  return withLease(deps, account, roleName, async (leased) => {
    let state = leased;
    const expired = state.revocations.filter((r) => !live(r));
    if (expired.length > 0) state = await update(deps, account, roleName, { remove: expired });
    const summary = {
      listed: new Set(state.revocations.map((r) => r.instanceArn)).size,
      characters: policyCharacters(revocationDocument(state.revocations)),
    };
    // Entries leave only by expiry or release: a policy written at this version lists this one.
    if (expired.length === 0 && state.writtenVersion >= state.version) {
      return {
        result: { policyName, issuedBefore: own.issuedBefore, ...summary },
        writtenVersion: state.version,
      };
    }
    const written = await writePolicy(deps, roleName, state);
    return {
      result: { policyName, issuedBefore: own.issuedBefore, ...written },
      writtenVersion: state.version,
    };
  });
}

/** Takes the instance off its role's revocation (a release): its role works for it again. */
export async function withdrawFromRole(
  deps: PhoenixDeps,
  target: { account: string; roleName: string; instanceArn: string },
): Promise<boolean> {
  const own = (await read(deps, target.account, target.roleName)).revocations.filter(
    (r) => r.instanceArn === target.instanceArn,
  );
  if (own.length === 0) return false;
  await update(deps, target.account, target.roleName, { remove: own });
  await withLease(deps, target.account, target.roleName, async (state) => {
    await writePolicy(deps, target.roleName, state, (PolicyName) =>
      deletePolicy(deps, target.roleName, PolicyName),
    );
    return { result: undefined, writtenVersion: state.version };
  });
  return true;
}

async function deletePolicy(deps: PhoenixDeps, roleName: string, PolicyName: string): Promise<void> {
  try {
    await deps.clients.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName }));
  } catch (error) {
    if (!isAwsError(error, "NoSuchEntityException", "NoSuchEntity")) throw error;
  }
}
