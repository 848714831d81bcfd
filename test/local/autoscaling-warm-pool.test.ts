import {
  DeleteWarmPoolCommand,
  DescribeWarmPoolCommand,
  type DescribeWarmPoolCommandOutput,
  type InstanceRefresh,
  PutWarmPoolCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import { CreateTagsCommand, RegisterImageCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNHEALTHY_IMAGE_TAG } from "../../local/autoscaling/index.js";
import { awsCli } from "../support/cloud.js";
import {
  createGroup,
  createTemplate,
  describeRefresh,
  ended,
  group,
  type Harness,
  imagesOf,
  sleep,
  startHarness,
  until,
  waitForRefresh,
} from "./autoscaling-helpers.js";

/** Warm pools, and instance refresh of groups that have one, at 200× (boot 60 s simulated = 0.3 s). */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ speed: 200, bootSeconds: 60, observedGroups: ["wp-refresh"] });
});
afterAll(async () => h?.stop());

async function warmPool(name: string): Promise<DescribeWarmPoolCommandOutput> {
  return h.asg.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: name }));
}

/** The pool once it has `count` instances, every one in `state`. */
async function settledPool(name: string, count: number, state = "Warmed:Stopped") {
  return until(
    `${count} instances ${state} in the warm pool of ${name}`,
    () => warmPool(name),
    (p) => p.Instances?.length === count && p.Instances.every((i) => i.LifecycleState === state),
  );
}

const idsOf = (instances: { InstanceId?: string }[] | undefined) =>
  (instances ?? []).map((i) => i.InstanceId!);

describe("warm pools", () => {
  it("fills the pool with stopped instances of the group's version, outside the group, and scales out into it", async () => {
    await createGroup(h, "wp-basic", 2, { MaxSize: 4 });
    await h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-basic", MinSize: 1 }));

    const first = await warmPool("wp-basic");
    expect(first.WarmPoolConfiguration).toEqual({ MinSize: 1, PoolState: "Stopped" });
    // MaxSize 4 − desired 2: two warm instances, initializing until stopped.
    expect(first.Instances).toHaveLength(2);
    const pool = await settledPool("wp-basic", 2);
    for (const instance of pool.Instances ?? []) {
      expect(instance).toMatchObject({
        HealthStatus: "Healthy",
        AvailabilityZone: "us-east-1a",
        InstanceType: "t3.micro",
        LaunchTemplate: { LaunchTemplateName: "wp-basic-template", Version: "1" },
      });
    }
    const warmIds = idsOf(pool.Instances);
    const ec2 = await imagesOf(h, warmIds);
    expect([...ec2.values()]).toEqual([
      { image: h.images.old, state: "stopped" },
      { image: h.images.old, state: "stopped" },
    ]);

    const described = await group(h, "wp-basic");
    expect(described.WarmPoolSize).toBe(2);
    expect(described.WarmPoolConfiguration).toEqual({ MinSize: 1, PoolState: "Stopped" });
    expect(idsOf(described.Instances)).toHaveLength(2);
    expect(idsOf(described.Instances).some((id) => warmIds.includes(id))).toBe(false);

    // A scale-out takes a warm instance first; the pool shrinks to MaxSize − desired = 1.
    await h.asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "wp-basic", DesiredCapacity: 3 }));
    const scaled = await group(h, "wp-basic");
    const joined = idsOf(scaled.Instances).filter((id) => warmIds.includes(id));
    expect(joined).toHaveLength(1);
    const member = scaled.Instances?.find((i) => i.InstanceId === joined[0]);
    expect(member?.LaunchTemplate?.Version).toBe("1");
    expect((await imagesOf(h, joined)).get(joined[0]!)?.state).toBe("running");
    const after = await settledPool("wp-basic", 1);
    expect(idsOf(after.Instances)[0]).not.toBe(joined[0]);
    expect((await group(h, "wp-basic")).WarmPoolSize).toBe(1);
  });

  it("refuses what AWS refuses", async () => {
    const templateId = await createTemplate(h, "wp-mixed");
    await createGroup(h, "wp-mixed", 1, {
      MixedInstancesPolicy: {
        LaunchTemplate: {
          LaunchTemplateSpecification: { LaunchTemplateId: templateId, Version: "1" },
          Overrides: [{ InstanceType: "t3.micro" }],
        },
      },
    });
    await expect(
      h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-mixed" })),
    ).rejects.toMatchObject({
      name: "ValidationError",
      message: expect.stringContaining("mixed instances policy"),
    });

    const { templateId: plain } = await createGroup(h, "wp-refuse", 1);
    const put = (input: Record<string, unknown>) =>
      h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-refuse", ...input }));
    await expect(put({ PoolState: "Frozen" })).rejects.toMatchObject({ name: "ValidationError" });
    await expect(put({ MinSize: -1 })).rejects.toMatchObject({ name: "ValidationError" });
    await expect(put({ MaxGroupPreparedCapacity: -2 })).rejects.toMatchObject({ name: "ValidationError" });
    await expect(
      h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-nowhere" })),
    ).rejects.toMatchObject({ name: "ValidationError", message: expect.stringContaining("not found") });
    await expect(
      h.asg.send(new DeleteWarmPoolCommand({ AutoScalingGroupName: "wp-refuse" })),
    ).rejects.toMatchObject({ name: "ValidationError" });
    // Nothing half done: the refused calls left no pool.
    expect((await warmPool("wp-refuse")).WarmPoolConfiguration).toBeUndefined();

    // A pooled group cannot be given a mixed instances policy either.
    await put({ MaxGroupPreparedCapacity: 2 });
    await expect(
      h.asg.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: "wp-refuse",
          DesiredConfiguration: {
            MixedInstancesPolicy: {
              LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: plain, Version: "2" } },
            },
          },
        }),
      ),
    ).rejects.toMatchObject({ name: "ValidationError", message: expect.stringContaining("warm pool") });
  });

  it("keeps the size AWS computes: MaxGroupPreparedCapacity − desired, at least MinSize", async () => {
    await createGroup(h, "wp-size", 3, { MaxSize: 6 });
    await h.asg.send(
      new PutWarmPoolCommand({ AutoScalingGroupName: "wp-size", MaxGroupPreparedCapacity: 4, MinSize: 0 }),
    );
    expect((await warmPool("wp-size")).Instances).toHaveLength(1);
    // Prepared capacity below desired: the pool holds MinSize.
    await h.asg.send(
      new PutWarmPoolCommand({ AutoScalingGroupName: "wp-size", MaxGroupPreparedCapacity: 2, MinSize: 2 }),
    );
    const pool = await warmPool("wp-size");
    expect(pool.WarmPoolConfiguration).toEqual({
      MaxGroupPreparedCapacity: 2,
      MinSize: 2,
      PoolState: "Stopped",
    });
    expect(pool.Instances).toHaveLength(2);
    // -1 removes the value: the group's MaxSize counts again (6 − 3); what is left out is kept.
    await h.asg.send(
      new PutWarmPoolCommand({ AutoScalingGroupName: "wp-size", MaxGroupPreparedCapacity: -1 }),
    );
    const back = await warmPool("wp-size");
    expect(back.WarmPoolConfiguration).toEqual({ MinSize: 2, PoolState: "Stopped" });
    expect(back.Instances).toHaveLength(3);
  });
});

describe("instance refresh of a group with a warm pool", () => {
  it("replaces the InService instances, then the warm pool, and reports both pools' progress", async () => {
    const { templateId } = await createGroup(h, "wp-refresh", 2, { MaxSize: 4 });
    await h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-refresh" }));
    const oldWarm = idsOf((await settledPool("wp-refresh", 2)).Instances);

    const { InstanceRefreshId: id } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "wp-refresh",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 0 },
      }),
    );
    const started = await describeRefresh(h, "wp-refresh", id!);
    expect(started.InstancesToUpdate).toBe(4);
    expect(started.ProgressDetails?.WarmPoolProgress).toEqual({
      PercentageComplete: 0,
      InstancesToUpdate: 2,
    });

    // Sampled while it runs: the warm pool only moves once the live pool is done.
    const samples: InstanceRefresh[] = [];
    const done = await until(
      "the refresh to end",
      async () => {
        const r = await describeRefresh(h, "wp-refresh", id!);
        samples.push(r);
        return r;
      },
      ended,
      30_000,
    );
    expect(done.Status).toBe("Successful");
    expect(done.PercentageComplete).toBe(100);
    expect(done.InstancesToUpdate).toBe(0);
    expect(done.ProgressDetails).toEqual({
      LivePoolProgress: { PercentageComplete: 100, InstancesToUpdate: 0 },
      WarmPoolProgress: { PercentageComplete: 100, InstancesToUpdate: 0 },
    });
    for (const s of samples) {
      if ((s.ProgressDetails?.WarmPoolProgress?.PercentageComplete ?? 0) > 0) {
        expect(s.ProgressDetails?.LivePoolProgress?.PercentageComplete).toBe(100);
      }
    }
    expect(samples.some((s) => (s.PercentageComplete ?? 0) > 0 && (s.PercentageComplete ?? 0) < 100)).toBe(
      true,
    );

    const after = await group(h, "wp-refresh");
    const live = idsOf(after.Instances);
    expect(live).toHaveLength(2);
    expect(after.Instances?.every((i) => i.LaunchTemplate?.Version === "2")).toBe(true);
    const pool = await settledPool("wp-refresh", 2);
    const warm = idsOf(pool.Instances);
    expect(warm.some((i) => oldWarm.includes(i))).toBe(false);
    expect(pool.Instances?.every((i) => i.LaunchTemplate?.Version === "2")).toBe(true);
    const ec2 = await imagesOf(h, [...live, ...warm]);
    expect(live.map((i) => ec2.get(i)?.image)).toEqual([h.images.new, h.images.new]);
    expect(warm.map((i) => ec2.get(i))).toEqual([
      { image: h.images.new, state: "stopped" },
      { image: h.images.new, state: "stopped" },
    ]);
    expect((await imagesOf(h, oldWarm)).get(oldWarm[0]!)?.state).toBe("terminated");
  });

  it("with SkipMatching, leaves warm instances already on the desired version", async () => {
    const { templateId } = await createGroup(h, "wp-skip", 1, { MaxSize: 3 });
    await h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-skip" }));
    const warm = idsOf((await settledPool("wp-skip", 2)).Instances);
    const { InstanceRefreshId: id } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "wp-skip",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "1" } },
        Preferences: { SkipMatching: true, InstanceWarmup: 0 },
      }),
    );
    const done = await waitForRefresh(h, "wp-skip", id!);
    expect(done.Status).toBe("Successful");
    expect(done.ProgressDetails?.WarmPoolProgress).toEqual({ PercentageComplete: 100, InstancesToUpdate: 0 });
    expect(idsOf((await warmPool("wp-skip")).Instances)).toEqual(warm);
  });

  it("rolls the warm pool back with the group when the refresh fails (AutoRollback)", async () => {
    const bad = (
      await h.ec2.send(new RegisterImageCommand({ Name: "phoenix-wp-bad", RootDeviceName: "/dev/sda1" }))
    ).ImageId!;
    await h.ec2.send(
      new CreateTagsCommand({
        Resources: [bad],
        Tags: [{ Key: UNHEALTHY_IMAGE_TAG.key, Value: UNHEALTHY_IMAGE_TAG.value }],
      }),
    );
    const { templateId } = await createGroup(h, "wp-back", 2, { MaxSize: 4, v2: bad });
    await h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-back" }));
    await settledPool("wp-back", 2);

    const { InstanceRefreshId: id } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "wp-back",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 0, AutoRollback: true },
      }),
    );
    const done = await waitForRefresh(h, "wp-back", id!);
    expect(done.Status).toBe("RollbackSuccessful");
    expect(done.ProgressDetails?.WarmPoolProgress).toBeDefined();

    const after = await group(h, "wp-back");
    expect(after.LaunchTemplate?.Version).toBe("1");
    const pool = await settledPool("wp-back", 2);
    expect(pool.Instances?.every((i) => i.LaunchTemplate?.Version === "1")).toBe(true);
    const ids = [...idsOf(after.Instances), ...idsOf(pool.Instances)];
    const ec2 = await imagesOf(h, ids);
    expect(ids.map((i) => ec2.get(i)?.image)).toEqual(Array(4).fill(h.images.old));
  });
});

describe("deleting a warm pool", () => {
  it("works from the AWS CLI: put, describe, force-delete", async () => {
    await createGroup(h, "wp-cli", 1, { MaxSize: 2 });
    await awsCli(h.cloud, [
      "autoscaling",
      "put-warm-pool",
      "--auto-scaling-group-name",
      "wp-cli",
      "--pool-state",
      "Running",
    ]);
    await settledPool("wp-cli", 1, "Warmed:Running");
    const described = (await awsCli(h.cloud, [
      "autoscaling",
      "describe-warm-pool",
      "--auto-scaling-group-name",
      "wp-cli",
    ])) as { WarmPoolConfiguration: unknown; Instances: { InstanceId: string; LifecycleState: string }[] };
    expect(described.WarmPoolConfiguration).toEqual({ MinSize: 0, PoolState: "Running" });
    expect(described.Instances.map((i) => i.LifecycleState)).toEqual(["Warmed:Running"]);
    const warm = described.Instances.map((i) => i.InstanceId);
    expect((await imagesOf(h, warm)).get(warm[0]!)?.state).toBe("running");

    await awsCli(h.cloud, [
      "autoscaling",
      "delete-warm-pool",
      "--auto-scaling-group-name",
      "wp-cli",
      "--force-delete",
    ]);
    const gone = (await awsCli(h.cloud, [
      "autoscaling",
      "describe-warm-pool",
      "--auto-scaling-group-name",
      "wp-cli",
    ])) as { WarmPoolConfiguration?: unknown; Instances: unknown[] };
    // The answer has no WarmPoolConfiguration: the CLI prints it as null.
    expect(gone.WarmPoolConfiguration ?? null).toBeNull();
    expect(gone.Instances).toEqual([]);
    expect((await imagesOf(h, warm)).get(warm[0]!)?.state).toBe("terminated");
  });

  it("without ForceDelete, is PendingDelete until its instances are terminated", async () => {
    await createGroup(h, "wp-delete", 1, { MaxSize: 3 });
    await h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-delete" }));
    const warm = idsOf((await settledPool("wp-delete", 2)).Instances);
    await h.asg.send(new DeleteWarmPoolCommand({ AutoScalingGroupName: "wp-delete" }));
    const deleting = await warmPool("wp-delete");
    expect(deleting.WarmPoolConfiguration?.Status).toBe("PendingDelete");
    expect(deleting.Instances?.map((i) => i.LifecycleState)).toEqual([
      "Warmed:Terminating",
      "Warmed:Terminating",
    ]);
    const gone = await until(
      "the pool to go",
      () => warmPool("wp-delete"),
      (p) => p.WarmPoolConfiguration === undefined,
    );
    expect(gone.Instances).toEqual([]);
    expect([...(await imagesOf(h, warm)).values()].map((i) => i.state)).toEqual(["terminated", "terminated"]);
    const described = await group(h, "wp-delete");
    expect(described.WarmPoolConfiguration).toBeUndefined();
    expect(described.WarmPoolSize).toBeUndefined();
  });

  it("with ForceDelete, removes the pool and terminates its instances at once", async () => {
    await createGroup(h, "wp-force", 1, { MaxSize: 3 });
    await h.asg.send(new PutWarmPoolCommand({ AutoScalingGroupName: "wp-force" }));
    const warm = idsOf((await warmPool("wp-force")).Instances);
    expect(warm).toHaveLength(2);
    await h.asg.send(new DeleteWarmPoolCommand({ AutoScalingGroupName: "wp-force", ForceDelete: true }));
    const pool = await warmPool("wp-force");
    expect(pool.WarmPoolConfiguration).toBeUndefined();
    expect(pool.Instances).toEqual([]);
    expect([...(await imagesOf(h, warm)).values()].map((i) => i.state)).toEqual(["terminated", "terminated"]);
    // No pending initialization comes back to a deleted pool.
    await sleep(400);
    expect((await warmPool("wp-force")).Instances).toEqual([]);
  });
});
