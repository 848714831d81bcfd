import {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import { CreateLaunchTemplateVersionCommand, DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRolloutGroupHandler } from "../../functions/rollout-group.js";
import { type AutoScalingPart, autoScalingPlugin } from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import { registerImage, type SeededFleet, seedDemoFleet } from "../../local/core/seed.js";
import { deploymentOf } from "../../local/deployment/index.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { describeGroup } from "../../src/rollout/aws/groups.js";
import { acquireGroupLock, readGroupLock, releaseGroupLock } from "../../src/rollout/aws/lock.js";
import { buildRefreshPreferences } from "../../src/rollout/core/preferences.js";
import type { GroupResult, GroupTask } from "../../src/rollout/workflow/contract.js";
import { clientConfig } from "../support/cloud.js";
import { startDeployedCloud } from "../support/phoenix.js";
import { lambdaContext, quietLogger } from "./support.js";

const SPEED = 400;
let cloud: LocalCloud;
let deps: PhoenixDeps;
let fleet: SeededFleet;
let ec2: EC2Client;
let autoScaling: AutoScalingClient;
let groupHandler: ReturnType<typeof createRolloutGroupHandler>;

beforeAll(async () => {
  ({ cloud, deps } = await startDeployedCloud({
    parts: [autoScalingPlugin({ bootSeconds: 30 })],
    speed: SPEED,
  }));
  fleet = await seedDemoFleet(clientConfig(cloud));
  await (cloud.parts.find((part) => part.name === "autoscaling") as AutoScalingPart).markBooted();
  ec2 = new EC2Client(clientConfig(cloud));
  autoScaling = new AutoScalingClient(clientConfig(cloud));
  groupHandler = createRolloutGroupHandler(deploymentOf(cloud).depsOf("rollout-group"), {
    logger: quietLogger(),
  });
});
afterAll(async () => {
  await cloud?.stop();
});

const step = <T>(name: string, task: GroupTask) =>
  groupHandler({ step: name as never, task }, lambdaContext("rollout-group")) as Promise<T>;

/** A group's branch input, as BeginWave would make it from the plan. */
async function taskFor(
  group: string,
  imageId: string,
  overrides: Partial<GroupTask> = {},
): Promise<GroupTask> {
  const description = await describeGroup(deps, group);
  const preferences = buildRefreshPreferences(deps.policy.rollout.refresh, description!);
  if (!preferences.ok) throw new Error(preferences.problems.join("; "));
  return {
    execution: `arn:aws:states:us-east-1:123456789012:execution:phoenix-test-rollout:${group}-${imageId}`,
    family: "web",
    imageId,
    wave: 1,
    group: {
      name: group,
      key: group,
      wave: 1,
      launchTemplate: description!.launchTemplate!,
      preferences: preferences.preferences,
    },
    pollSeconds: 30,
    foreignRefresh: "wait",
    foreignWaitSeconds: 600,
    lockTtlSeconds: 3600,
    ...overrides,
  };
}

/** Drives the branch as the state machine would: lock, prepare, version, start, poll until done, release. */
async function runBranch(initial: GroupTask): Promise<{ result: GroupResult; task: GroupTask }> {
  let task = await step<GroupTask>("lock", initial);
  task = await step<GroupTask>("prepare", task);
  if (task.prep?.action === "refresh") {
    task = await step<GroupTask>("version", task);
    task = await step<GroupTask>("start", task);
  } else if (task.prep?.action === "adopt") {
    task = { ...task, refresh: { refreshId: task.prep.refresh!.refreshId, adopted: true } };
  }
  if (task.refresh !== undefined) {
    for (let polls = 0; ; polls++) {
      if (polls > 400) throw new Error("refresh did not end");
      await new Promise((resolve) => setTimeout(resolve, (task.pollSeconds * 1000) / SPEED));
      task = await step<GroupTask>("poll", task);
      if (task.status?.terminal) break;
    }
  }
  return { result: await step<GroupResult>("release", task), task };
}

async function groupState(name: string) {
  const { AutoScalingGroups } = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = AutoScalingGroups![0]!;
  const ids = (group.Instances ?? []).map((i) => i.InstanceId!);
  const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  const images = (Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.ImageId);
  return { launchTemplate: group.LaunchTemplate, images: [...new Set(images)], count: ids.length };
}

const templateOf = (group: string) => fleet.groups.find((g) => g.name === group)!.launchTemplateId;

describe("a group's branch against a real (local) instance refresh", () => {
  it("rolls a group onto a healthy image: numbered version, refresh succeeds, lock released, all audited", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "steps-good" });
    const before = await groupState("web-frontend");
    const { result, task } = await runBranch(await taskFor("web-frontend", imageId));
    expect(result).toMatchObject({ group: "web-frontend", outcome: "succeeded" });
    expect(task.version).toMatchObject({
      launchTemplateId: templateOf("web-frontend"),
      version: "2",
      created: true,
    });
    const after = await groupState("web-frontend");
    expect(after.launchTemplate?.Version).toBe("2");
    expect(after.images).toEqual([imageId]);
    expect(after.count).toBe(before.count);
    expect(await readGroupLock(deps, "web-frontend")).toBeUndefined();
    // The group steps' own records (the deployed on-refresh-event also audits the refresh's
    // lifecycle events, which reach it asynchronously through its rule).
    const actions = (await deps.audit.history("group/web-frontend"))
      .map((r) => `${r.action}:${r.outcome}`)
      .filter((action) => !action.startsWith("refresh-event:"));
    expect(actions).toEqual([
      "lock:ok",
      "create-template-version:ok",
      "start-refresh:ok",
      "refresh-ended:ok",
      "unlock:ok",
    ]);

    // Run again (a retried branch): nothing left to do, nothing created.
    const creates = cloud.context.callLog.count({ action: "CreateLaunchTemplateVersion" });
    const again = await runBranch(await taskFor("web-frontend", imageId, { execution: "another-execution" }));
    expect(again.result).toMatchObject({ outcome: "skipped", reason: `already on ${imageId}` });
    expect(cloud.context.callLog.count({ action: "CreateLaunchTemplateVersion" })).toBe(creates);
  });

  it("reports a refresh that rolls back on an unhealthy image and leaves the group on its old image", async () => {
    const old = (await groupState("web-backend")).images;
    const imageId = await registerImage(ec2, {
      family: "web",
      name: "steps-unhealthy",
      tags: { "phoenix-local:health": "unhealthy" },
    });
    const { result } = await runBranch(await taskFor("web-backend", imageId));
    expect(result.outcome).toBe("rolled-back");
    expect(result.reason).toMatch(/failed health checks/);
    const after = await groupState("web-backend");
    expect(after.launchTemplate?.Version).toBe("1");
    expect(after.images).toEqual(old);
    expect(await readGroupLock(deps, "web-backend")).toBeUndefined();
    const ended = (await deps.audit.history("group/web-backend")).find((r) => r.action === "refresh-ended");
    expect(ended).toMatchObject({ outcome: "failed", reason: expect.stringContaining("RollbackSuccessful") });
  });

  it("adopts the refresh it already started for the image instead of starting a second one", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "steps-adopt" });
    let task = await step<GroupTask>("lock", await taskFor("web-backend", imageId));
    task = await step<GroupTask>("prepare", task);
    task = await step<GroupTask>("version", task);
    const starts = () => cloud.context.callLog.count({ action: "StartInstanceRefresh" });
    const before = starts();
    task = await step<GroupTask>("start", task);
    // The step retried (its first attempt's answer was lost): the same refresh, not another.
    const retried = await step<GroupTask>("start", { ...task, refresh: undefined });
    expect(retried.refresh).toEqual({ refreshId: task.refresh!.refreshId, adopted: true });
    expect(starts()).toBe(before + 1);
    // A later execution for the same image finds it too (prepare), and would poll it.
    const other = await step<GroupTask>("prepare", {
      ...task,
      execution: "a-retry-of-the-rollout",
      prep: undefined,
    });
    expect(other.prep).toMatchObject({ action: "adopt", refresh: { refreshId: task.refresh!.refreshId } });
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, (task.pollSeconds * 1000) / SPEED));
      task = await step<GroupTask>("poll", task);
      if (task.status?.terminal) break;
    }
    expect(await step<GroupResult>("release", task)).toMatchObject({ outcome: "succeeded" });
  });

  it("refuses the lock another workflow holds, and reports the group blocked after giving up", async () => {
    await acquireGroupLock(deps, {
      group: "api",
      owner: "containment-x",
      purpose: "contain i-1",
      ttlSeconds: 600,
    });
    const task = await taskFor("api", "ami-0aaaaaaaaaaaaaaaa");
    await expect(step("lock", task)).rejects.toMatchObject({
      name: "Phoenix.LockHeld",
      message: expect.stringContaining("containment-x"),
    });
    const result = await step<GroupResult>("abandon", {
      ...task,
      error: {
        Error: "Phoenix.LockHeld",
        Cause: JSON.stringify({ errorMessage: "group api is locked: held by containment-x" }),
      },
    });
    expect(result).toMatchObject({ outcome: "blocked", reason: expect.stringContaining("containment-x") });
    // Abandoning did not release someone else's lock.
    expect((await readGroupLock(deps, "api"))?.owner).toBe("containment-x");
    await releaseGroupLock(deps, "api", "containment-x");
  });
});

describe("a refresh Phoenix did not start", () => {
  /** Someone else's refresh, kept active for `bakeSeconds` of simulated time after its last replacement. */
  async function startForeignRefresh(group: string, bakeSeconds: number) {
    const imageId = await registerImage(ec2, { family: "api", name: `foreign-${Date.now()}` });
    const { LaunchTemplateVersion } = await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: templateOf(group),
        SourceVersion: "1",
        LaunchTemplateData: { ImageId: imageId },
      }),
    );
    const { InstanceRefreshId } = await autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: group,
        DesiredConfiguration: {
          LaunchTemplate: {
            LaunchTemplateId: templateOf(group),
            Version: String(LaunchTemplateVersion!.VersionNumber),
          },
        },
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 60, BakeTime: bakeSeconds },
      }),
    );
    return InstanceRefreshId!;
  }

  it("is waited for (bounded), skipped per policy, never adopted, and blocks StartInstanceRefresh", async () => {
    const foreign = await startForeignRefresh("api", 86_400);
    const imageId = await registerImage(ec2, { family: "api", name: "foreign-target" });
    const task = await step<GroupTask>("lock", await taskFor("api", imageId, { family: "api" }));

    const waiting = await step<GroupTask>("prepare", task);
    expect(waiting.prep).toMatchObject({ action: "wait", reason: expect.stringContaining(`${foreign}`) });
    expect(waiting.prep?.reason).toContain("not started by Phoenix");

    const skipping = await step<GroupTask>("prepare", { ...task, foreignRefresh: "skip" });
    expect(skipping.prep).toMatchObject({
      action: "skip",
      reason: expect.stringContaining("foreignRefresh: skip"),
    });

    // Waited as long as the policy allows: give up (the group is blocked, not the image).
    const exhausted = await step<GroupTask>("prepare", {
      ...task,
      foreignWaitSeconds: 60,
      prep: { action: "wait", reason: "", waitedSeconds: 30 },
    });
    expect(exhausted.prep).toMatchObject({ action: "give-up", waitedSeconds: 60 });
    const blocked = await step<GroupResult>("release", exhausted);
    expect(blocked).toMatchObject({ outcome: "blocked" });

    // Had prepare been skipped, start would refuse rather than adopt someone else's refresh.
    const relocked = await step<GroupTask>("lock", task);
    const versioned = await step<GroupTask>("version", relocked);
    await expect(step("start", versioned)).rejects.toMatchObject({ name: "Phoenix.RefreshInProgress" });
    await step("release", { ...versioned, prep: { action: "skip", reason: "test", waitedSeconds: 0 } });
    await autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "api" }));
  });

  it("is waited out, then the group is rolled", async () => {
    // web-legacy is the demo's unmanaged group: IAM refuses rollout-group's refresh of it (the
    // policy's phoenix:managed condition, as in AWS). Managed from here on, for this test.
    await autoScaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          {
            ResourceId: "web-legacy",
            ResourceType: "auto-scaling-group",
            Key: "phoenix:managed",
            Value: "true",
            PropagateAtLaunch: false,
          },
        ],
      }),
    );
    const foreign = await startForeignRefresh("web-legacy", 900);
    const imageId = await registerImage(ec2, { family: "web", name: "after-foreign" });
    // The wait is counted in polls (pollSeconds each), the foreign refresh in simulated time
    // (900 s of warm-up): allow far more polls than it needs, so a fast machine does not give up.
    let task = await step<GroupTask>(
      "lock",
      await taskFor("web-legacy", imageId, { foreignWaitSeconds: 6 * 3600 }),
    );
    let waits = 0;
    for (;;) {
      task = await step<GroupTask>("prepare", task);
      if (task.prep?.action !== "wait") break;
      waits++;
      await new Promise((resolve) => setTimeout(resolve, (task.pollSeconds * 1000) / SPEED));
    }
    expect(waits).toBeGreaterThan(0);
    expect(task.prep?.action).toBe("refresh");
    await step("release", { ...task, prep: { action: "skip", reason: "handing over", waitedSeconds: 0 } });
    const { result } = await runBranch(await taskFor("web-legacy", imageId));
    expect(result).toMatchObject({ outcome: "succeeded" });
    expect(result.refreshId).not.toBe(foreign);
    expect((await groupState("web-legacy")).images).toEqual([imageId]);
  });
});
