/**
 * What Phoenix asks of an AWS SDK error, in one place: its code, whether a later attempt can get
 * past it, and the one error a step throws for that (the state machines retry it by name).
 */

/** The AWS error code of an SDK error (its name, or the wire Code when the SDK kept one). */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown };
  if (typeof e.Code === "string") return e.Code;
  return typeof e.name === "string" ? e.name : undefined;
}

/** True when the error's AWS code is one of `codes`. */
export function isAwsError(error: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(error);
  return code !== undefined && codes.includes(code);
}

/**
 * Throttling or a 5xx that outlasted the SDK's own retries. Every Phoenix step rethrows such an
 * error as this one (src/lambda/handler.ts), the name both state machines retry with backoff.
 */
export class TransientAwsError extends Error {
  override readonly name = "Phoenix.Transient";
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
