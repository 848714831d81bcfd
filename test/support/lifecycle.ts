import { afterAll, beforeAll } from "vitest";

/**
 * What a test file runs against (a local cloud, a harness), started in beforeAll and stopped in
 * afterAll. The handle returned stands for it in the tests (`h.cloud`, `env.onImage(…)`): read
 * before beforeAll has started it (at collection time), it throws and says so.
 */
export function startedForFile<T extends { stop(): Promise<void> }>(
  start: () => Promise<T>,
  timeoutMs?: number,
): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  }, timeoutMs);
  afterAll(async () => {
    await started?.stop();
  });
  const current = (): T => {
    if (!started) throw new Error("used before beforeAll started it: read it inside a hook or a test");
    return started;
  };
  return new Proxy({} as T, {
    get: (_, key) => {
      const value = Reflect.get(current(), key);
      return typeof value === "function" ? value.bind(current()) : value;
    },
    has: (_, key) => Reflect.has(current(), key),
  });
}
