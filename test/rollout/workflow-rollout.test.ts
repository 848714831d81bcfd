import { DescribeInstanceRefreshesCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { StartExecutionCommand } from "@aws-sdk/client-sfn";
import { beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { familyCompleted, getRollout } from "../../src/rollout/aws/rollout-records.js";
import { startedExecution, useRolloutEnvironment, waitForExecution } from "./support.js";

const env = useRolloutEnvironment({ speed: 600 });
let v1: { web: string; api: string };
beforeAll(() => {
  v1 = { web: env.fleet.images.web!, api: env.fleet.images.api! };
});

async function refreshesOf(group: string) {
  const { InstanceRefreshes } = await env.autoScaling.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group }),
  );
  return InstanceRefreshes ?? [];
}

describe("rollout workflow, end to end on the local cloud", () => {
  let v2: string;

  it("rolls a new web image over both web groups in two waves; api and the unmanaged group are untouched", async () => {
    v2 = await registerImage(env.ec2, { family: "web", name: "golden-web-v2" });
    await env.drainNotifications();
    const execution = startedExecution(await env.onImage(env.amiAvailable(v2)));
    const result = await waitForExecution(env.deps.clients.sfn, execution);
    expect(result.status, result.cause).toBe("SUCCEEDED");

    expect(await env.groupState("web-frontend")).toEqual({ version: "2", images: [v2] });
    expect(await env.groupState("web-backend")).toEqual({ version: "2", images: [v2] });
    expect(await env.groupState("api")).toEqual({ version: "1", images: [v1.api] });
    expect(await env.groupState("web-legacy")).toEqual({ version: "1", images: [v1.web] });
    expect(await refreshesOf("api")).toEqual([]);
    expect(await refreshesOf("web-legacy")).toEqual([]);

    // Wave 2 started only after wave 1's refresh ended and the wave baked.
    const [frontend] = await refreshesOf("web-frontend");
    const [backend] = await refreshesOf("web-backend");
    const bakeMs = 10 * 60 * 1000;
    expect(backend!.StartTime!.getTime() - frontend!.EndTime!.getTime()).toBeGreaterThanOrEqual(bakeMs * 0.9);

    const record = await getRollout(env.deps, "web", v2);
    expect(record).toMatchObject({ status: "succeeded", waves: [1, 2], wavesStarted: [1, 2] });
    expect((await familyCompleted(env.deps, "web"))?.imageId).toBe(v2);

    const notes = await env.drainNotifications();
    expect(notes.map((n) => n.subject)).toEqual([
      expect.stringContaining(`Rollout started: ${v2} to web (2 groups, 2 waves)`),
      expect.stringContaining(`Rollout succeeded: ${v2} to web`),
    ]);
    const imageTrail = (await env.deps.audit.history(`image/${v2}`)).map((r) => `${r.action}:${r.outcome}`);
    expect(imageTrail).toEqual(
      expect.arrayContaining([
        "start-rollout:ok",
        "plan:ok",
        "start-wave:ok",
        "end-wave:ok",
        "end-rollout:ok",
      ]),
    );
  });

  it("stops a failing image in wave 1: rolled back, wave 2 never starts, image rejected, everyone on the old image", async () => {
    const bad = await registerImage(env.ec2, {
      family: "web",
      name: "golden-web-v3-unhealthy",
      tags: { "phoenix-local:health": "unhealthy" },
    });
    const backendRefreshes = (await refreshesOf("web-backend")).length;
    await env.drainNotifications();
    const execution = startedExecution(await env.onImage(env.amiAvailable(bad)));
    const result = await waitForExecution(env.deps.clients.sfn, execution);
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutFailed");
    expect(result.cause).toMatch(/web-frontend rolled-back/);
    expect(result.cause).toMatch(/ Wave 2 not started/);

    const [frontendRefresh] = await refreshesOf("web-frontend");
    expect(frontendRefresh?.Status).toBe("RollbackSuccessful");
    expect(await refreshesOf("web-backend")).toHaveLength(backendRefreshes);
    expect((await env.groupState("web-frontend")).images).toEqual([v2]);
    expect(await env.groupState("web-backend")).toEqual({ version: "2", images: [v2] });

    const { Images } = await env.ec2.send(new DescribeImagesCommand({ ImageIds: [bad] }));
    const tags = Object.fromEntries((Images?.[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags["phoenix:image-status"]).toBe("rejected");
    expect(tags["phoenix:image-status-reason"]).toMatch(/web-frontend/);
    expect((await getRollout(env.deps, "web", bad))?.status).toBe("failed");

    const notes = await env.drainNotifications();
    const failure = notes.find((n) => n.severity === "critical");
    expect(failure?.subject).toMatch(/Rollout FAILED: .* web-frontend rolled-back/);
    expect(failure?.message).toMatch(/failed health checks/);

    // The rejected image never rolls again, whoever asks.
    const again = await env.onImage(env.amiAvailable(bad));
    expect(again).toMatchObject({
      images: [{ action: "refused", reason: expect.stringContaining("rejected") }],
    });
  });

  it("rolls named groups by hand ({groups, imageId}) and leaves the others", async () => {
    const v4 = await registerImage(env.ec2, { family: "web", name: "golden-web-v4" });
    const { executionArn } = await env.deps.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: env.stateMachineArn,
        name: "manual-backend-v4",
        input: JSON.stringify({ groups: ["web-backend", "api"], imageId: v4, requestedBy: "user:oncall" }),
      }),
    );
    const result = await waitForExecution(env.deps.clients.sfn, executionArn!);
    // A named group the rollout could not roll (api is not of the image's family) makes it
    // incomplete, never SUCCEEDED (issue 11, item 4); the groups it could roll are rolled.
    expect(result.status, result.cause).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutIncomplete");
    expect(result.cause).toMatch(/could not be rolled: api \(image family is api, not web\)/);
    expect((await env.groupState("web-backend")).images).toEqual([v4]);
    expect((await env.groupState("web-frontend")).images).toEqual([v2]);
    expect((await env.groupState("api")).images).toEqual([v1.api]);
    const plan = (await env.deps.audit.history(`image/${v4}`)).find((r) => r.action === "plan");
    expect(plan).toMatchObject({ actor: "user:oncall", reason: expect.stringContaining("1 excluded") });
  });

  it("fails a manual start that names no image, without touching anything", async () => {
    const { executionArn } = await env.deps.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: env.stateMachineArn,
        input: JSON.stringify({ family: "web" }),
      }),
    );
    const result = await waitForExecution(env.deps.clients.sfn, executionArn!);
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutError");
    expect(result.cause).toMatch(/imageId/);
  });
});
