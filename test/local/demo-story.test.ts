import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { seedDemoFleet } from "../../local/core/seed.js";
import { runStory } from "../../local/demo/story.js";
import type { LocalDeployment } from "../../local/deployment/index.js";
import { parsePolicy } from "../../src/policy/index.js";
import { startTestCloud } from "../support/cloud.js";

// The whole system, end to end, through the doors a user has: EC2 announces an image on the
// bus, GuardDuty's finding is put on the bus, the real handlers and state machines do the rest.
let cloud: LocalCloud;
let phoenix: LocalDeployment | undefined;
beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";
  cloud = await startTestCloud({
    speed: 40,
    builtin: {
      bootSeconds: 20,
      policy: parsePolicy({ rollout: { waveBakeMinutes: 1, refresh: { instanceWarmup: 15 } } }),
      onDeployed: (deployed) => {
        phoenix = deployed;
      },
    },
  });
});
afterAll(async () => {
  await cloud?.stop();
});

describe("npm start's story", () => {
  it("rolls out a new image, contains a compromised instance, and rolls back a bad image", async () => {
    expect(phoenix).toBeDefined();
    const fleet = await seedDemoFleet(cloud.context.internalClientConfig);
    await fetch(`${cloud.endpoint}/_phoenix/instances/booted`, { method: "POST", body: "{}" });
    const lines: string[] = [];
    const results = await runStory({ cloud, phoenix: phoenix!, fleet, say: (line) => lines.push(line) });
    expect(results.map((r) => [r.act, r.ok, r.summary])).toEqual([
      ["rollout", true, expect.stringContaining("on ami-")],
      ["containment", true, expect.stringContaining("is terminated")],
      ["rollback", true, expect.stringContaining("FAILED; every web group still on")],
    ]);
    // Progress was shown: refresh bars and completed steps, not only the outcome.
    expect(lines.some((l) => l.includes("100% Successful"))).toBe(true);
    expect(lines.some((l) => l.includes(": Isolate"))).toBe(true);
  });
});
