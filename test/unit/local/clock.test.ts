import { afterEach, describe, expect, it, vi } from "vitest";
import { createClock } from "../../../local/core/clock.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("the simulated clock", () => {
  it("sleeps longer than setTimeout's 24.8-day limit without firing early", async () => {
    vi.useFakeTimers();
    const clock = createClock(1);
    let done = false;
    const sleeping = clock.sleep(30 * 86_400_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(2 ** 31 - 1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(30 * 86_400_000 - (2 ** 31 - 1));
    await sleeping;
    expect(done).toBe(true);
  });

  it("stops sleeping when aborted", async () => {
    const controller = new AbortController();
    const sleeping = createClock(1).sleep(60_000, controller.signal);
    controller.abort(new Error("stopped"));
    await expect(sleeping).rejects.toThrow("stopped");
  });
});
