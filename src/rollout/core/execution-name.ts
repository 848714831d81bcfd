import { createHash } from "node:crypto";

/**
 * The rollout execution's name for an image of a family. Deterministic, so a second trigger for
 * the same image (the AMI event and the parameter update, a redelivered event) is the same
 * StartExecution, which Step Functions refuses to run twice. Names allow 1–80 characters of
 * letters, digits, "-" and "_" (the safe subset of what Step Functions accepts); anything else in
 * a family becomes "-", and a long or rewritten family keeps a short hash so two families never
 * share a name.
 */
export function rolloutExecutionName(family: string, imageId: string): string {
  const safeFamily = family.replace(/[^A-Za-z0-9_-]/g, "-");
  const rewritten = safeFamily !== family;
  const base = `rollout-${safeFamily}-${imageId}`;
  if (!rewritten && base.length <= 80) return base;
  const hash = createHash("sha256").update(family).digest("hex").slice(0, 8);
  const room = 80 - `rollout--${hash}-${imageId}`.length;
  return `rollout-${safeFamily.slice(0, Math.max(0, room))}-${hash}-${imageId}`;
}

/**
 * The name of the n-th retry of a rollout that ended without success (n ≥ 1). Step Functions never
 * runs a name twice, so a retry is a new, equally deterministic name: asking twice for retry n
 * starts one execution.
 */
export function retryExecutionName(name: string, attempt: number): string {
  if (!Number.isSafeInteger(attempt) || attempt < 1)
    throw new RangeError(`retry attempt must be ≥ 1, got ${attempt}`);
  const suffix = `-retry${attempt}`;
  return `${name.slice(0, 80 - suffix.length)}${suffix}`;
}

/**
 * The name of a manual rollout. By family it is the very name on-image uses, so a person and an
 * event asking for the same image start one execution. Named groups get a name of their own (a
 * digest of the sorted set), as deterministic, so repeating the command cannot start a second.
 */
export function manualRolloutName(
  imageId: string,
  selector: { family: string } | { groups: string[] },
): string {
  if ("family" in selector) return rolloutExecutionName(selector.family, imageId);
  const digest = createHash("sha256")
    .update(JSON.stringify([...selector.groups].sort()))
    .digest("hex");
  return rolloutExecutionName(`groups-${digest.slice(0, 12)}`, imageId);
}

/**
 * The name of the rollout that takes a family back onto `imageId` from the compromised `from`:
 * not the image's own rollout name (that execution ran when the image first rolled out, and Step
 * Functions never runs a name twice), and the same for every containment that asks for it.
 */
export function rollbackExecutionName(family: string, imageId: string, from: string): string {
  const digest = createHash("sha256").update(`${family}\n${from}`).digest("hex").slice(0, 10);
  return rolloutExecutionName(`rollback-${digest}`, imageId);
}
