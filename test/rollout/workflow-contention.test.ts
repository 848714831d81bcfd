import { DescribeInstanceRefreshesCommand, StartInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
import { CreateLaunchTemplateVersionCommand } from "@aws-sdk/client-ec2";
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { acquireGroupLock, readGroupLock, releaseGroupLock } from "../../src/rollout/aws/lock.js";
import { getRollout } from "../../src/rollout/aws/rollout-records.js";
import { until } from "../support/poll.js";
import { startedExecution, useRolloutEnvironment, waitForExecution } from "./support.js";

const SPEED = 600;
const env = useRolloutEnvironment({ speed: SPEED });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("rollouts that meet other work", () => {
  it("two images in quick succession: the older is stopped at once (StopExecution), its locks released, the groups end on the newer", async () => {
    const older = await registerImage(env.ec2, { family: "web", name: "web-older" });
    // moto's CreationDate has one-second resolution: make "newer" unambiguous.
    await sleep(1_100);
    const newer = await registerImage(env.ec2, { family: "web", name: "web-newer" });

    const first = startedExecution(await env.onImage(env.amiAvailable(older)));
    await until("the older rollout's wave 1", async () =>
      (await getRollout(env.deps, "web", older))?.wavesStarted.includes(1) ? true : undefined,
    );
    const second = startedExecution(await env.onImage(env.amiAvailable(newer)));

    // Stopped while its wave 1 still ran: not at its next wave, within one look at its refresh.
    const a = await waitForExecution(env.deps.clients.sfn, first);
    expect(a.status, a.cause).toBe("ABORTED");
    expect(a.error).toBe("Phoenix.Superseded");
    const supersede = (await env.deps.audit.history(`image/${older}`)).find((r) => r.action === "supersede");
    expect(supersede?.details).toMatchObject({ supersededExecution: first });
    // The stop is audited once StopExecution answered (the execution may show ABORTED a moment before).
    const stopped = await until("the stop's audit record", async () =>
      (await env.deps.audit.history(`image/${older}`)).find((r) => r.action === "stop-superseded"),
    );
    expect(stopped.details).toMatchObject({ supersededExecution: first, executionStopped: true });
    const b = await waitForExecution(env.deps.clients.sfn, second);
    expect(b.status, b.cause).toBe("SUCCEEDED");
    expect(await getRollout(env.deps, "web", older)).toMatchObject({
      status: "superseded",
      wavesStarted: [1],
    });
    expect(await getRollout(env.deps, "web", newer)).toMatchObject({
      status: "succeeded",
      wavesStarted: [1, 2],
    });
    expect((await env.groupState("web-frontend")).images).toEqual([newer]);
    expect((await env.groupState("web-backend")).images).toEqual([newer]);

    // An older image arriving late does not roll the family back.
    const late = await env.onImage(env.amiAvailable(older));
    expect(late).toMatchObject({
      images: [{ action: "ignored", reason: expect.stringContaining("older than") }],
    });
  });

  it("waits for a group held by another workflow's lock, then rolls it", async () => {
    const image = await registerImage(env.ec2, { family: "api", name: "api-after-lock" });
    await acquireGroupLock(env.deps, {
      group: "api",
      owner: "contain-i-123",
      purpose: "containment",
      ttlSeconds: 3600,
    });
    const seq = env.cloud.context.callLog.since(0).at(-1)?.seq ?? 0;
    const execution = startedExecution(await env.onImage(env.amiAvailable(image)));
    // The lock step keeps being refused (a conditional write answered 400) while the lock is held.
    await until("refused lock attempts", async () => {
      const refused = env.cloud.context.callLog
        .since(seq)
        .filter((c) => c.action === "PutItem" && c.status === 400);
      return refused.length >= 3 ? true : undefined;
    });
    const running = await env.deps.clients.sfn.send(
      new DescribeExecutionCommand({ executionArn: execution }),
    );
    expect(running.status).toBe("RUNNING");
    expect((await readGroupLock(env.deps, "api"))?.owner).toBe("contain-i-123");
    const releasedAt = new Date().toISOString();
    await releaseGroupLock(env.deps, "api", "contain-i-123");

    const result = await waitForExecution(env.deps.clients.sfn, execution);
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect((await env.groupState("api")).images).toEqual([image]);
    expect(await readGroupLock(env.deps, "api")).toBeUndefined();
    const locked = (await env.deps.audit.history("group/api")).find(
      (r) => r.action === "lock" && r.execution === execution,
    );
    expect(locked!.at >= releasedAt).toBe(true);
  });

  it("waits for a refresh someone else started, then rolls the group onto the image", async () => {
    const lt = env.fleet.groups.find((g) => g.name === "api")!.launchTemplateId;
    const theirs = await registerImage(env.ec2, { family: "api", name: "api-theirs" });
    const { LaunchTemplateVersion } = await env.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: lt,
        SourceVersion: "1",
        LaunchTemplateData: { ImageId: theirs },
      }),
    );
    const { InstanceRefreshId: foreign } = await env.autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "api",
        DesiredConfiguration: {
          LaunchTemplate: { LaunchTemplateId: lt, Version: String(LaunchTemplateVersion!.VersionNumber) },
        },
        // Baking keeps it active for a while (40 simulated minutes).
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 60, BakeTime: 2400 },
      }),
    );
    const ours = await registerImage(env.ec2, { family: "api", name: "api-ours" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(ours)));
    const result = await waitForExecution(env.deps.clients.sfn, execution);
    expect(result.status, result.cause).toBe("SUCCEEDED");

    const { InstanceRefreshes } = await env.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "api" }),
    );
    const foreignRefresh = InstanceRefreshes!.find((r) => r.InstanceRefreshId === foreign)!;
    const ourRefresh = InstanceRefreshes!.find(
      (r) => r.InstanceRefreshId !== foreign && r.StartTime! > foreignRefresh.StartTime!,
    )!;
    expect(foreignRefresh.Status).toBe("Successful");
    // The rollout began while theirs ran, and ours started only after theirs ended: Phoenix
    // waited instead of failing, skipping or cancelling it (times on the simulated clock).
    expect(result.startDate!.getTime()).toBeLessThan(foreignRefresh.EndTime!.getTime());
    expect(ourRefresh.StartTime!.getTime()).toBeGreaterThanOrEqual(foreignRefresh.EndTime!.getTime());
    expect((await env.groupState("api")).images).toEqual([ours]);
    const prepared = (await env.deps.audit.history("group/api")).filter((r) => r.execution === execution);
    expect(prepared.map((r) => r.action)).toEqual(
      expect.arrayContaining(["lock", "start-refresh", "unlock"]),
    );
  });
});
