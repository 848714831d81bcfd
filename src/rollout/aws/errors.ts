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

/** A step got input it cannot act on (a bug or a bad manual start): never retried. */
export class InvalidStepInputError extends Error {
  override readonly name = "Phoenix.InvalidInput";
}

/** Waiting for a lock or for someone else's refresh: the workflow working as designed. */
export function isWaiting(error: unknown): boolean {
  return error instanceof LockHeldError || error instanceof RefreshInProgressError;
}
