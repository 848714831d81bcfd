import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { getRollout } from "../../src/rollout/aws/rollout-records.js";
import { phoenix } from "../cli/support.js";
import { until } from "../support/poll.js";
import {
  type RolloutEnvironment,
  startedExecution,
  startRolloutEnvironment,
  waitForExecution,
} from "./support.js";

/**
 * Issue 15, "A global stop": `phoenix pause` stops running rollouts at their next safe point and
 * refuses new ones, from every entry point, until `phoenix resume`; the pause is in the table.
 */
let env: RolloutEnvironment;
let where: string[];
const cli = (...argv: string[]) => phoenix([...argv, ...where], { PHOENIX_ACTOR: "oncall" });

beforeAll(async () => {
  env = await startRolloutEnvironment({
    speed: 600,
    // A long bake between the waves: the pause lands while wave 1 bakes.
    policy: { rollout: { waveBakeMinutes: 60, refresh: { instanceWarmup: 10 } } },
    groups: [
      { name: "web-a", family: "web", wave: 1, managed: true, desired: 1 },
      { name: "web-b", family: "web", wave: 2, managed: true, desired: 1 },
      { name: "api-a", family: "api", wave: 1, managed: true, desired: 1 },
    ],
  });
  where = ["--endpoint", env.cloud.endpoint, "--stage", "test"];
});
afterAll(async () => {
  await env?.stop();
});

describe("phoenix pause / resume", () => {
  it("stops a two-wave rollout before wave 2; refuses new rollouts from events and the CLI; resume lets the next run", async () => {
    const v2 = await registerImage(env.ec2, { family: "web", name: "golden-web-v2" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(v2)));
    await until(
      "wave 1 on v2",
      async () => ((await env.groupState("web-a")).images.join() === v2 ? true : undefined),
      60_000,
    );

    const paused = await cli("pause", "--reason", "incident 4711: change freeze");
    expect(paused.stderr).toBe("");
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(
      /Paused: rollouts of every family are paused since .* by user:oncall: incident 4711/,
    );

    const result = await waitForExecution(env.deps.clients.sfn, execution, 60_000);
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutPaused");
    expect(result.cause).toMatch(/stopped before wave 2: rollouts of every family are paused/);
    expect(result.cause).toContain(`phoenix rollout --image ${v2} --family web --retry`);
    expect((await env.groupState("web-b")).images).not.toContain(v2);
    expect((await getRollout(env.deps, "web", v2))?.status).toBe("paused");

    const status = await cli("status", "--json");
    expect(status.code).toBe(0);
    expect(status.json().paused).toMatchObject({
      all: true,
      reason: "incident 4711: change freeze",
      by: "user:oncall",
    });
    expect((await cli("status")).stdout).toMatch(/PAUSED: rollouts of every family .*\n.*phoenix resume/);

    // A new image while paused: the event's execution plans nothing.
    const v3 = await registerImage(env.ec2, { family: "api", name: "golden-api-v3" });
    const refused = await waitForExecution(
      env.deps.clients.sfn,
      startedExecution(await env.onImage(env.amiAvailable(v3))),
      30_000,
    );
    expect(refused.status).toBe("FAILED");
    expect(refused.error).toBe("Phoenix.RolloutPaused");
    expect(refused.cause).toMatch(/not started: rollouts of every family are paused/);
    expect((await env.groupState("api-a")).images).not.toContain(v3);
    // The CLI says so before starting anything.
    const byHand = await cli("rollout", "--image", v3, "--family", "api");
    expect(byHand.code).not.toBe(0);
    expect(byHand.stderr).toMatch(
      /Not started: rollouts of every family are paused .*Lift it first: phoenix resume/,
    );

    const notes = env.drainNotifications().map((n) => n.subject);
    expect(notes).toContainEqual(expect.stringMatching(/^Rollouts PAUSED: incident 4711/));
    expect(notes).toContainEqual(expect.stringMatching(/^Rollout paused: .* to web/));

    const resumed = await cli("resume");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/Resumed: lifted the pause .* by user:oncall/);
    expect(resumed.stdout).toContain(`phoenix rollout --image ${v2} --family web --retry`);
    expect((await cli("status", "--json")).json().paused).toBe(false);

    const again = await cli("rollout", "--image", v3, "--family", "api", "--retry", "--json");
    expect(again.code).toBe(0);
    const rolled = await waitForExecution(
      env.deps.clients.sfn,
      again.json<{ executionArn: string }>().executionArn,
      60_000,
    );
    expect(rolled.status).toBe("SUCCEEDED");
    expect((await env.groupState("api-a")).images).toEqual([v3]);

    const trail = await env.deps.audit.history("rollouts/*");
    expect(trail.map((r) => `${r.action} ${r.actor}`)).toEqual([
      "pause-rollouts user:oncall",
      "resume-rollouts user:oncall",
    ]);
  });

  it("resume with nothing paused says so and fails; a pause needs a reason", async () => {
    const nothing = await cli("resume", "--family", "web");
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toMatch(/Nothing to resume: rollouts of family web are not paused/);
    const noReason = await cli("pause", "--family", "web");
    expect(noReason.code).not.toBe(0);
    expect(noReason.stderr).toMatch(/give the reason: --reason/);
    expect((await cli("status", "--json")).json().paused).toBe(false);
  });
});
