import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from "@smithy/types";

/**
 * Retry with full-jitter exponential backoff on throttling, transient and 5xx errors, with no
 * client-side retry quota: the SDK's standard strategy stops retrying once its token bucket is
 * drained, which is exactly what happens when Auto Scaling throttles a whole account. Phoenix
 * would rather wait than fail a containment.
 */
export interface BackoffOptions {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 10_000 };

export function backoffDelayMs(retry: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

class Token implements RetryToken {
  constructor(
    private readonly count: number,
    private readonly delay: number,
  ) {}
  getRetryCount(): number {
    return this.count;
  }
  getRetryDelay(): number {
    return this.delay;
  }
}

const RETRYABLE = new Set(["THROTTLING", "TRANSIENT", "SERVER_ERROR"]);

export class JitteredRetryStrategy implements RetryStrategyV2 {
  readonly mode = "phoenix-jittered";
  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return new Token(0, 0);
  }

  async refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    const retry = token.getRetryCount() + 1;
    if (!RETRYABLE.has(errorInfo.errorType) || retry >= this.options.maxAttempts) {
      throw errorInfo.error ?? new Error(`not retried: ${errorInfo.errorType}`);
    }
    const hinted = errorInfo.retryAfterHint ? errorInfo.retryAfterHint.getTime() - Date.now() : 0;
    return new Token(retry, Math.max(hinted, backoffDelayMs(retry, this.options)));
  }

  recordSuccess(): void {}
}

/** The same policy for work that is not an SDK call (e.g. a conditional write that lost a race). */
export async function withBackoff<T>(
  work: (attempt: number) => Promise<T>,
  isRetryable: (error: unknown) => boolean,
  options: BackoffOptions = DEFAULT_BACKOFF,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt + 1 >= options.maxAttempts || !isRetryable(error)) throw error;
      await new Promise((r) => setTimeout(r, backoffDelayMs(attempt + 1, options)));
    }
  }
}
