import { afterAll, describe, expect, it } from "vitest";
import { type MotoServer, MotoUnavailableError, startMoto } from "../../local/core/moto.js";

/** The local cloud's moto is its own: a port another moto already serves is never taken for it. */
const started: MotoServer[] = [];
afterAll(async () => {
  await Promise.all(started.map((m) => m.stop()));
});

describe("startMoto", () => {
  it("signs its answers, and refuses a port where another moto answers instead of sharing it", async () => {
    const first = await startMoto();
    started.push(first);
    const response = await fetch(`${first.url}/moto-api/`);
    expect(response.headers.get("x-phoenix-moto-token")).toMatch(/^[0-9a-f-]{36}$/);
    const second = startMoto({ port: first.port });
    await expect(second).rejects.toBeInstanceOf(MotoUnavailableError);
    await expect(second).rejects.toThrow(/port \d+ was taken by another server/);
    // The first is untouched.
    expect((await fetch(`${first.url}/moto-api/`)).ok).toBe(true);
  }, 60_000);
});
