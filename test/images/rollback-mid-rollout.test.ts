import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { markImage } from "../../src/rollout/aws/image-marks.js";
import { familyCompleted, getRollout } from "../../src/rollout/aws/rollout-records.js";
import { rollBackFamily } from "../../src/rollout/workflow/rollback.js";
import { IMAGE_STATUS_COMPROMISED } from "../../src/tags.js";
import {
  type RolloutEnvironment,
  startedExecution,
  startRolloutEnvironment,
  waitForExecution,
} from "../rollout/support.js";
import { waitForExecution as waitForNamed } from "../support/executions.js";
import { until } from "../support/poll.js";

/**
 * Issue 16, "A poisoned image", while that image is still rolling out: the family's last good
 * image is the one it rolled out before. The rollback must not be taken for "already rolled
 * out", the compromised rollout must stop before its next wave, and its end must not make it
 * the family's last good image.
 */
let env: RolloutEnvironment;

beforeAll(async () => {
  env = await startRolloutEnvironment({
    speed: 600,
    // A long bake between the waves: the compromise is found while wave 1 bakes.
    policy: { rollout: { waveBakeMinutes: 60, refresh: { instanceWarmup: 10 } } },
    groups: [
      { name: "web-a", family: "web", wave: 1, managed: true, desired: 1 },
      { name: "web-b", family: "web", wave: 2, managed: true, desired: 1 },
    ],
  });
});
afterAll(async () => {
  await env?.stop();
});

describe("a compromise found while its image rolls out", () => {
  it("stops that rollout and rolls the groups it reached back onto the last good image", async () => {
    const good = await registerImage(env.ec2, { family: "web", name: "golden-web-good" });
    const first = await waitForExecution(
      env.deps.clients.sfn,
      startedExecution(await env.onImage(env.amiAvailable(good))),
      120_000,
    );
    expect(first.status).toBe("SUCCEEDED");
    expect((await familyCompleted(env.deps, "web"))?.imageId).toBe(good);

    const bad = await registerImage(env.ec2, { family: "web", name: "golden-web-bad" });
    const badExecution = startedExecution(await env.onImage(env.amiAvailable(bad)));
    await until(
      "wave 1 on the bad image",
      async () => ((await env.groupState("web-a")).images.join() === bad ? true : undefined),
      60_000,
    );

    // What the poisoned-image trace does once containments point at the image.
    const reason = "2 instances launched from it were contained within 24 h (findings f-1, f-2)";
    await markImage(env.deps, {
      imageId: bad,
      family: "web",
      status: IMAGE_STATUS_COMPROMISED,
      reason,
      execution: `poisoned-${bad}`,
      actor: "phoenix:poisoned-image",
    });
    const rollback = await rollBackFamily(env.deps, {
      family: "web",
      from: bad,
      reason,
      actor: "phoenix:poisoned-image",
    });
    expect(rollback).toMatchObject({ kind: "started", imageId: good });

    const back = await waitForNamed(
      env.deps.clients.sfn,
      env.stateMachineArn,
      rollback.kind === "started" ? rollback.execution : "none",
      180_000,
    );
    expect(back.status).toBe("SUCCEEDED");
    const stopped = await waitForExecution(env.deps.clients.sfn, badExecution, 60_000);
    expect(stopped.status).not.toBe("SUCCEEDED");

    expect((await env.groupState("web-a")).images).toEqual([good]);
    expect((await env.groupState("web-b")).images).toEqual([good]);
    expect((await env.groupState("web-b")).images).not.toContain(bad);
    expect((await familyCompleted(env.deps, "web"))?.imageId).toBe(good);
    const record = await getRollout(env.deps, "web", bad);
    expect(record).toMatchObject({ blocked: true });
    expect(record?.status).not.toBe("succeeded");
  }, 600_000);
});
