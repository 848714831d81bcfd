import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import type { PhoenixDeps } from "../../src/deps.js";
import {
  acquireGroupLock,
  readGroupLock,
  releaseGroupLock,
  renewGroupLock,
} from "../../src/rollout/aws/lock.js";
import { startDeployedCloud } from "../support/phoenix.js";

let cloud: LocalCloud;
let deps: PhoenixDeps;
beforeAll(async () => {
  // moto does not apply concurrent conditional writes atomically (AWS does): the local cloud's
  // fix serves DynamoDB calls one at a time, which the race below depends on.
  ({ cloud, deps } = await startDeployedCloud({}));
});
afterAll(async () => {
  await cloud?.stop();
});

const T0 = Date.parse("2030-01-01T00:00:00Z");
/** The same deps at another instant: the lock judges expiry by deps.now(). */
const at = (ms: number): PhoenixDeps => ({ ...deps, now: () => new Date(ms) });
const request = (group: string, owner: string, ttlSeconds = 60) => ({
  group,
  owner,
  purpose: `test by ${owner}`,
  ttlSeconds,
});

describe("group lock (DynamoDB conditional write)", () => {
  it("lets one owner in, refuses the other and names the holder", async () => {
    const first = await acquireGroupLock(at(T0), request("g-two", "exec-A"));
    expect(first.acquired).toBe(true);
    const second = await acquireGroupLock(at(T0 + 1_000), request("g-two", "exec-B"));
    expect(second.acquired).toBe(false);
    if (!second.acquired) expect(second.holder?.owner).toBe("exec-A");
    // The holder re-acquiring (a retried step) succeeds.
    expect((await acquireGroupLock(at(T0 + 2_000), request("g-two", "exec-A"))).acquired).toBe(true);
  });

  it("is released only by its owner", async () => {
    await acquireGroupLock(at(T0), request("g-release", "exec-A"));
    expect(await releaseGroupLock(at(T0), "g-release", "exec-B")).toBe(false);
    expect((await readGroupLock(deps, "g-release"))?.owner).toBe("exec-A");
    expect(await releaseGroupLock(at(T0), "g-release", "exec-A")).toBe(true);
    expect(await readGroupLock(deps, "g-release")).toBeUndefined();
    // Releasing again is harmless.
    expect(await releaseGroupLock(at(T0), "g-release", "exec-A")).toBe(false);
    expect((await acquireGroupLock(at(T0), request("g-release", "exec-B"))).acquired).toBe(true);
  });

  it("can be taken over once expired, not before", async () => {
    await acquireGroupLock(at(T0), request("g-expiry", "exec-A", 60));
    expect((await acquireGroupLock(at(T0 + 59_000), request("g-expiry", "exec-B"))).acquired).toBe(false);
    expect((await acquireGroupLock(at(T0 + 60_000), request("g-expiry", "exec-B"))).acquired).toBe(true);
    // The old owner can no longer release or renew what is now B's.
    expect(await releaseGroupLock(at(T0 + 61_000), "g-expiry", "exec-A")).toBe(false);
    expect(await renewGroupLock(at(T0 + 61_000), "g-expiry", "exec-A", 60)).toBe(false);
    expect((await readGroupLock(deps, "g-expiry"))?.owner).toBe("exec-B");
  });

  it("is renewed by its owner while held, pushing the expiry out", async () => {
    await acquireGroupLock(at(T0), request("g-renew", "exec-A", 60));
    expect(await renewGroupLock(at(T0 + 50_000), "g-renew", "exec-A", 60)).toBe(true);
    expect((await readGroupLock(deps, "g-renew"))?.expiresAt).toBe(T0 / 1000 + 110);
    // Past the old expiry but within the renewed one: still held.
    expect((await acquireGroupLock(at(T0 + 90_000), request("g-renew", "exec-B"))).acquired).toBe(false);
    // A lock that already expired is not revived by a late renewal.
    expect(await renewGroupLock(at(T0 + 200_000), "g-renew", "exec-A", 60)).toBe(false);
  });

  it("admits exactly one of many owners racing for a free lock", async () => {
    const owners = Array.from({ length: 8 }, (_, i) => `racer-${i}`);
    const attempts = await Promise.all(
      owners.map((owner) => acquireGroupLock(at(T0), request("g-race", owner))),
    );
    expect(attempts.filter((attempt) => attempt.acquired)).toHaveLength(1);
  });
});
