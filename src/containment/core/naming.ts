import { createHash } from "node:crypto";
import { instancePartition } from "../../state-keys.js";

export interface ContainmentIdentity {
  accountId: string;
  instanceId: string;
  /** The id of the finding that opened the containment record. */
  epoch: string;
  /**
   * The instance's containment count: 1 for its first record, one more for each record opened
   * after a release. Bumping it only when the same finding id reopens would not do: after
   * A, release, B, release, A again, the third record would get the first one's name, and Step
   * Functions would answer ExecutionAlreadyExists instead of starting it. Defaults to 1.
   */
  generation?: number;
}

export const EXECUTION_NAME_MAX_LENGTH = 80;

// Parts may use "-" (instance ids do) but never "_", which separates them: no two identities
// can then render to the same readable name.
const CLEAN_PART = /^[A-Za-z0-9-]+$/;

/**
 * The Step Functions execution name of a containment. Step Functions refuses a second execution
 * with the same name, so every repeat of the finding that opened it maps here and cannot start a
 * second one. Readable when the parts are clean and short enough; otherwise a digest of them.
 */
export function containmentExecutionName(identity: ContainmentIdentity): string {
  const generation = identity.generation ?? 1;
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new RangeError(`generation must be a positive integer, got ${generation}`);
  }
  const parts = [identity.accountId, identity.instanceId, identity.epoch];
  const suffix = generation === 1 ? "" : `_g${generation}`;
  const readable = `contain_${parts.join("_")}${suffix}`;
  if (parts.every((part) => CLEAN_PART.test(part)) && readable.length <= EXECUTION_NAME_MAX_LENGTH) {
    return readable;
  }
  // One underscore only, so a digest name never equals a readable one (which has three or four).
  return `contain-digest_${digest([...parts, String(generation)]).slice(0, 64)}`;
}

/** The key under which an instance has at most one open containment record. */
export function instanceDedupeKey(accountId: string, instanceId: string): string {
  return instancePartition(accountId, instanceId);
}

function digest(parts: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}
