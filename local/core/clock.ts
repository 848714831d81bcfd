/**
 * Simulated time for the local cloud. Everything that waits (instance boot, refresh warmup,
 * Step Functions Wait states) asks this clock, so `--speed N` makes every wait N times shorter
 * while timestamps keep moving forward consistently.
 */
export interface Clock {
  readonly speed: number;
  /** Simulated epoch milliseconds. */
  now(): number;
  /** Resolves after `simulatedMs` of simulated time. */
  sleep(simulatedMs: number, signal?: AbortSignal): Promise<void>;
  /** Real milliseconds that `simulatedMs` of simulated time takes. */
  toRealMs(simulatedMs: number): number;
}

export function createClock(speed = 1, realNow: () => number = Date.now): Clock {
  if (!Number.isFinite(speed) || speed <= 0)
    throw new Error(`clock speed must be a positive number, got ${speed}`);
  const origin = realNow();
  return {
    speed,
    now: () => origin + (realNow() - origin) * speed,
    toRealMs: (simulatedMs) => Math.max(0, simulatedMs / speed),
    sleep: (simulatedMs, signal) => sleepReal(Math.max(0, simulatedMs / speed), signal),
  };
}

/** setTimeout fires at once for a delay over 2^31 − 1 ms (24.8 days): longer waits are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

async function sleepReal(realMs: number, signal?: AbortSignal): Promise<void> {
  for (let left = realMs; ; left -= MAX_TIMEOUT_MS) {
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(
        () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.min(left, MAX_TIMEOUT_MS),
      );
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    if (left <= MAX_TIMEOUT_MS) return;
  }
}
