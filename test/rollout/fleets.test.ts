import {
  CompleteLifecycleActionCommand,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeWarmPoolCommand,
  PutLifecycleHookCommand,
  PutWarmPoolCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markInstancesBooted, UNHEALTHY_IMAGE_TAG } from "../../local/autoscaling/index.js";
import { registerImage } from "../../local/core/seed.js";
import { phoenix } from "../cli/support.js";
import { putAlarm, setAlarmState } from "../support/cloud.js";
import { until } from "../support/poll.js";
import {
  type RolloutEnvironment,
  startedExecution,
  startRolloutEnvironment,
  waitForExecution,
} from "./support.js";

/**
 * Issue 15: Phoenix rolls the fleets people run, on a local cloud that emulates them as the
 * Auto Scaling documentation describes: mixed instances policies, lifecycle hooks (a refresh and
 * a containment's replacement wait in Pending:Wait), and rollback alarms.
 */
const SPEED = 200;
let env: RolloutEnvironment;
let where: string[];

beforeAll(async () => {
  env = await startRolloutEnvironment({
    speed: SPEED,
    policy: {
      rollout: {
        waveBakeMinutes: 0,
        refresh: { instanceWarmup: 10 },
        families: {
          web: { refresh: { alarms: ["web-5xx"], checkpointPercentages: [50, 100], checkpointDelay: 600 } },
        },
      },
      containment: { replacementTimeoutMinutes: 1 },
    },
    groups: [
      { name: "web-a", family: "web", wave: 1, managed: true, desired: 2 },
      { name: "hooked", family: "hooked", wave: 1, managed: true, desired: 3 },
      { name: "pooled", family: "pooled", wave: 1, managed: true, desired: 2 },
    ],
  });
  where = ["--endpoint", env.cloud.endpoint, "--stage", "test"];
  await putAlarm(env.cloud, "web-5xx");
});
afterAll(async () => {
  await env?.stop();
});

const setAlarm = (state: "OK" | "ALARM") => setAlarmState(env.cloud, "web-5xx", state);

async function describe1(name: string) {
  const { AutoScalingGroups } = await env.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return AutoScalingGroups![0]!;
}

const simulatedNow = () => env.cloud.context.clock.now();

describe("a group with a mixed instances policy", () => {
  beforeAll(async () => {
    const template = env.fleet.groups[0]!.launchTemplateId;
    await env.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: "batch-mixed",
        MinSize: 1,
        MaxSize: 4,
        DesiredCapacity: 2,
        VPCZoneIdentifier: env.fleet.subnetIds.join(","),
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateId: template, Version: "1" },
            Overrides: [{ InstanceType: "t3.micro" }, { InstanceType: "t3a.micro" }],
          },
          InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 50 },
        },
        Tags: [
          { Key: "phoenix:managed", Value: "true", PropagateAtLaunch: false },
          { Key: "phoenix:image-family", Value: "batch", PropagateAtLaunch: false },
        ],
      }),
    );
    await markInstancesBooted(env.cloud.endpoint, { autoScalingGroupNames: ["batch-mixed"] });
  });

  it("is planned and rolled with its policy: new template version, overrides and distribution kept", async () => {
    const v2 = await registerImage(env.ec2, { family: "batch", name: "golden-batch-v2" });
    const plan = await phoenix(["plan", "--image", v2, ...where], {});
    expect(plan.stdout).toMatch(
      /batch-mixed: .*\n.*\n\s+note: mixed instances policy \(2 instance type override\(s\)\)/,
    );
    const result = await waitForExecution(
      env.deps.clients.sfn,
      startedExecution(await env.onImage(env.amiAvailable(v2))),
      90_000,
    );
    expect(result.status, result.cause).toBe("SUCCEEDED");
    const group = await describe1("batch-mixed");
    const policy = group.MixedInstancesPolicy!;
    expect(policy.LaunchTemplate?.LaunchTemplateSpecification?.Version).not.toBe("1");
    expect(policy.LaunchTemplate?.Overrides?.map((o) => o.InstanceType)).toEqual(["t3.micro", "t3a.micro"]);
    expect(policy.InstancesDistribution?.OnDemandPercentageAboveBaseCapacity).toBe(50);
    expect((await env.groupState("batch-mixed")).images).toEqual([v2]);
  });

  it("rolls back a bad image: the group's policy is restored, its instances stay on the good image", async () => {
    const before = await describe1("batch-mixed");
    const good = (await env.groupState("batch-mixed")).images;
    const bad = await registerImage(env.ec2, {
      family: "batch",
      name: "golden-batch-v3-unhealthy",
      tags: { [UNHEALTHY_IMAGE_TAG.key]: UNHEALTHY_IMAGE_TAG.value },
    });
    const result = await waitForExecution(
      env.deps.clients.sfn,
      startedExecution(await env.onImage(env.amiAvailable(bad))),
      120_000,
    );
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutFailed");
    expect(result.cause).toMatch(/batch-mixed rolled-back/);
    const after = await describe1("batch-mixed");
    expect(after.MixedInstancesPolicy).toEqual(before.MixedInstancesPolicy);
    expect((await env.groupState("batch-mixed")).images).toEqual(good);
  });
});

describe("rollback alarms", () => {
  it("an alarm of the family going to ALARM during the refresh rolls it back, and the image is rejected", async () => {
    const good = (await env.groupState("web-a")).images;
    const v2 = await registerImage(env.ec2, { family: "web", name: "golden-web-v2" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(v2)));
    // The refresh pauses at its 50 % checkpoint (600 simulated s): the alarm fires there.
    await until("the checkpoint", async () => {
      const history = await env.deps.audit.history("group/web-a");
      return history.some((r) => r.action === "refresh-event" && /Checkpoint Reached/.test(r.reason ?? ""))
        ? true
        : (await describe1("web-a")).Instances?.some((i) => i.LaunchTemplate?.Version !== "1")
          ? true
          : undefined;
    });
    await setAlarm("ALARM");
    const result = await waitForExecution(env.deps.clients.sfn, execution, 120_000);
    await setAlarm("OK");
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutFailed");
    expect(result.cause).toMatch(/web-a rolled-back.*web-5xx/);
    expect(result.cause).toMatch(/is marked rejected/);
    const start = (await env.deps.audit.history("group/web-a")).find((r) => r.action === "start-refresh");
    expect(start?.details?.preferences).toMatchObject({ AlarmSpecification: { Alarms: ["web-5xx"] } });
    expect((await env.groupState("web-a")).images).toEqual(good);
  });
});

describe("lifecycle hooks", () => {
  beforeAll(async () => {
    await env.autoScaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: "hooked",
        LifecycleHookName: "bootstrap",
        LifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout: 600,
        DefaultResult: "CONTINUE",
      }),
    );
  });

  const waiting = async () =>
    (await describe1("hooked")).Instances?.filter((i) => i.LifecycleState === "Pending:Wait").map(
      (i) => i.InstanceId!,
    ) ?? [];

  it("a refresh waits for the launch hook of each replacement, until it is completed", async () => {
    const v2 = await registerImage(env.ec2, { family: "hooked", name: "golden-hooked-v2" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(v2)));
    const held = await until("a replacement in Pending:Wait", async () => {
      const ids = await waiting();
      return ids.length > 0 ? ids : undefined;
    });
    // Held there: 5 simulated minutes later the rollout still runs, the replacement still waits.
    const since = simulatedNow();
    await until("5 simulated minutes", async () => (simulatedNow() - since > 300_000 ? true : undefined));
    expect(
      (await env.deps.clients.sfn.send(new DescribeExecutionCommand({ executionArn: execution }))).status,
    ).toBe("RUNNING");
    expect(await waiting()).toEqual(expect.arrayContaining(held));
    // Completing each hook as a bootstrap would lets the refresh go on to the end.
    const completer = setInterval(() => {
      void waiting().then((ids) =>
        Promise.all(
          ids.map((id) =>
            env.autoScaling
              .send(
                new CompleteLifecycleActionCommand({
                  AutoScalingGroupName: "hooked",
                  LifecycleHookName: "bootstrap",
                  InstanceId: id,
                  LifecycleActionResult: "CONTINUE",
                }),
              )
              .catch(() => undefined),
          ),
        ),
      );
    }, 100);
    try {
      const result = await waitForExecution(env.deps.clients.sfn, execution, 120_000);
      expect(result.status, result.cause).toBe("SUCCEEDED");
    } finally {
      clearInterval(completer);
    }
    expect((await env.groupState("hooked")).images).toEqual([v2]);
  });

  it("a containment's replacement waits for the launch hook, past the replacement timeout, and the heartbeat timeout applies the default result", async () => {
    const victim = (await describe1("hooked")).Instances!.find((i) => i.LifecycleState === "InService")!
      .InstanceId!;
    const contained = await phoenix(["contain", victim, "--reason", "hook test", "--json", ...where], {
      PHOENIX_ACTOR: "test",
    });
    expect(contained.code, contained.stderr).toBe(0);
    const executionArn = contained.json<{ executionArn: string }>().executionArn;
    const replacement = await until("the replacement in Pending:Wait", async () => {
      const ids = (await waiting()).filter((id) => id !== victim);
      return ids[0];
    });
    const since = simulatedNow();
    // Past containment.replacementTimeoutMinutes (1): still waiting, not failed.
    await until("3 simulated minutes", async () => (simulatedNow() - since > 180_000 ? true : undefined));
    expect((await env.deps.clients.sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe(
      "RUNNING",
    );
    // Nobody completes it: after its 600 s heartbeat the hook's CONTINUE lets it in service.
    const result = await waitForExecution(env.deps.clients.sfn, executionArn, 120_000);
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(simulatedNow() - since).toBeGreaterThanOrEqual(500_000);
    const serving = (await describe1("hooked")).Instances!.find((i) => i.InstanceId === replacement);
    expect(serving?.LifecycleState).toBe("InService");
  });
});

describe("a group with a warm pool", () => {
  const warmInstances = async () =>
    (await env.autoScaling.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: "pooled" }))).Instances ??
    [];
  const imagesOf = async (ids: string[]) => {
    if (ids.length === 0) return [];
    const { Reservations = [] } = await env.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    return [...new Set(Reservations.flatMap((r) => r.Instances ?? []).map((i) => i.ImageId))].sort();
  };

  it("ends with every instance, warm ones included, on the new image", async () => {
    await env.autoScaling.send(
      new PutWarmPoolCommand({ AutoScalingGroupName: "pooled", MinSize: 2, PoolState: "Stopped" }),
    );
    const old = (await env.groupState("pooled")).images;
    const warm = await until("a stopped warm pool of 2", async () => {
      const instances = await warmInstances();
      return instances.length >= 2 && instances.every((i) => i.LifecycleState === "Warmed:Stopped")
        ? instances
        : undefined;
    });
    expect(await imagesOf(warm.map((i) => i.InstanceId!))).toEqual(old);

    const v2 = await registerImage(env.ec2, { family: "pooled", name: "golden-pooled-v2" });
    const result = await waitForExecution(
      env.deps.clients.sfn,
      startedExecution(await env.onImage(env.amiAvailable(v2))),
      120_000,
    );
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect((await env.groupState("pooled")).images).toEqual([v2]);
    const after = await until("the warm pool refilled", async () => {
      const instances = await warmInstances();
      return instances.length >= 2 && instances.every((i) => i.LifecycleState === "Warmed:Stopped")
        ? instances
        : undefined;
    });
    expect(await imagesOf(after.map((i) => i.InstanceId!))).toEqual([v2]);
  });
});
