/**
 * Errors the rollout's steps throw on purpose. Their `name` is what the state machine's Retry and
 * Catch match on (Lambda reports a thrown error's name as the error type), so names are stable.
 */

/** Another workflow holds the group's lock: retried with backoff by the state machine, then given up. */
export class LockHeldError extends Error {
  override readonly name = "Phoenix.LockHeld";
}

/** A refresh Phoenix did not start (for this image) is running on the group: wait, then look again. */
export class RefreshInProgressError extends Error {
  override readonly name = "Phoenix.RefreshInProgress";
}

/** Throttling or a 5xx that outlasted the SDK's own retries: the state machine retries the step. */
export class TransientAwsError extends Error {
  override readonly name = "Phoenix.Transient";
}

/** A step got input it cannot act on (a bug or a bad manual start): never retried. */
export class InvalidStepInputError extends Error {
  override readonly name = "Phoenix.InvalidInput";
}

const THROTTLING_CODES = new Set([
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "RequestThrottled",
  "SlowDown",
]);

/** True for throttling, 5xx and network errors: the kinds a later attempt can get past. */
export function isTransientAwsError(error: unknown): boolean {
  if (error instanceof TransientAwsError) return true;
  if (typeof error !== "object" || error === null) return false;
  const e = error as {
    name?: string;
    code?: string;
    $retryable?: unknown;
    $fault?: string;
    $metadata?: { httpStatusCode?: number };
  };
  if (e.name !== undefined && THROTTLING_CODES.has(e.name)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  return e.code === "ECONNRESET" || e.code === "ECONNREFUSED" || e.code === "ETIMEDOUT";
}

/** The AWS error code of an SDK error (its name, or the wire Code when the SDK kept one). */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { name?: string; Code?: string };
  return e.Code ?? e.name;
}
