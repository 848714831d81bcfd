import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  type InstanceRefresh,
  type RefreshPreferences,
  SetInstanceProtectionCommand,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeInstancesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoScalingPlugin, markInstancesBooted } from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import { clientConfig, startTestCloud } from "../support/cloud.js";

/**
 * ScaleInProtectedInstances and StandbyInstances, every value, on the local cloud. Wait (AWS's
 * default for both) waits one hour of simulated time, so this file runs at 1000×: an hour is
 * 3.6 s; instances boot in 300 simulated seconds (0.3 s), as refresh.test.ts's do in 60 at 200×.
 */
const SPEED = 1000;
const BOOT_SECONDS = 300;
const HOUR_MS = 3600 * 1000;

let cloud: LocalCloud;
let asg: AutoScalingClient;
let ec2: EC2Client;

beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [autoScalingPlugin({ bootSeconds: BOOT_SECONDS })], speed: SPEED });
  asg = new AutoScalingClient(clientConfig(cloud));
  ec2 = new EC2Client(clientConfig(cloud));
});
afterAll(async () => {
  await cloud?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OLD_IMAGE = "ami-11111111111111111";
const NEW_IMAGE = "ami-22222222222222222";

interface Fleet {
  templateId: string;
  /** InService, protected from scale in. */
  protectedId: string;
  /** In Standby (entered with a decrement, so desired capacity is 2). */
  standbyId: string;
  /** InService, unprotected. */
  plainId: string;
}

/** Three instances on version 1 (old image): one protected, one in Standby, one plain. */
async function createFleet(name: string): Promise<Fleet> {
  const { LaunchTemplate } = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${name}-template`,
      LaunchTemplateData: { ImageId: OLD_IMAGE, InstanceType: "t3.micro" },
    }),
  );
  const templateId = LaunchTemplate!.LaunchTemplateId!;
  await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: { ImageId: NEW_IMAGE, InstanceType: "t3.micro" },
    }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: "1" },
      MinSize: 0,
      MaxSize: 6,
      DesiredCapacity: 3,
      AvailabilityZones: ["us-east-1a"],
      HealthCheckGracePeriod: 30,
    }),
  );
  await markInstancesBooted(cloud.endpoint, { autoScalingGroupNames: [name] });
  const [protectedId, standbyId, plainId] = (await instancesOf(name)).map((i) => i.InstanceId!);
  await asg.send(
    new SetInstanceProtectionCommand({
      AutoScalingGroupName: name,
      InstanceIds: [protectedId!],
      ProtectedFromScaleIn: true,
    }),
  );
  await asg.send(
    new EnterStandbyCommand({
      AutoScalingGroupName: name,
      InstanceIds: [standbyId!],
      ShouldDecrementDesiredCapacity: true,
    }),
  );
  return { templateId, protectedId: protectedId!, standbyId: standbyId!, plainId: plainId! };
}

async function instancesOf(name: string) {
  const { AutoScalingGroups = [] } = await asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return [...(AutoScalingGroups[0]?.Instances ?? [])].sort((a, b) =>
    (a.InstanceId ?? "").localeCompare(b.InstanceId ?? ""),
  );
}

async function imageOf(instanceId: string): Promise<{ image?: string; state?: string }> {
  const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = Reservations[0]?.Instances?.[0];
  return { image: instance?.ImageId, state: instance?.State?.Name };
}

async function start(name: string, fleet: Fleet, preferences: RefreshPreferences = {}): Promise<string> {
  const { InstanceRefreshId } = await asg.send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: name,
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: fleet.templateId, Version: "2" } },
      Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 10, ...preferences },
    }),
  );
  return InstanceRefreshId!;
}

async function waitForRefresh(
  name: string,
  id: string,
  until: (r: InstanceRefresh) => boolean,
  timeoutMs = 20_000,
): Promise<InstanceRefresh> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { InstanceRefreshes = [] } = await asg.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: name, InstanceRefreshIds: [id] }),
    );
    const refresh = InstanceRefreshes[0]!;
    if (until(refresh)) return refresh;
    if (Date.now() > deadline)
      throw new Error(`refresh ${id} stuck in ${refresh.Status} (${refresh.StatusReason})`);
    await sleep(20);
  }
}

const ended = (r: InstanceRefresh) =>
  !["Pending", "InProgress", "Baking", "Cancelling"].includes(r.Status ?? "");

describe("instance refresh with protected and Standby instances", () => {
  it("waits for them by default, and replaces them once they are unprotected and back in service", async () => {
    const fleet = await createFleet("wait-released");
    const id = await start("wait-released", fleet);
    const waiting = await waitForRefresh("wait-released", id, (r) =>
      /^Waiting up to/.test(r.StatusReason ?? ""),
    );
    expect(waiting.Status).toBe("InProgress");
    expect(waiting.Preferences).toMatchObject({
      ScaleInProtectedInstances: "Wait",
      StandbyInstances: "Wait",
    });
    expect(waiting.StatusReason).toContain(`${fleet.protectedId} (protected from scale in)`);
    expect(waiting.StatusReason).toContain(`${fleet.standbyId} (in Standby)`);
    expect(waiting.InstancesToUpdate).toBe(2);
    // The plain one was replaced meanwhile.
    expect((await imageOf(fleet.plainId)).state).toMatch(/terminated|shutting-down/);

    await asg.send(
      new SetInstanceProtectionCommand({
        AutoScalingGroupName: "wait-released",
        InstanceIds: [fleet.protectedId],
        ProtectedFromScaleIn: false,
      }),
    );
    await asg.send(
      new ExitStandbyCommand({ AutoScalingGroupName: "wait-released", InstanceIds: [fleet.standbyId] }),
    );
    const done = await waitForRefresh("wait-released", id, ended);
    expect(done.Status, done.StatusReason).toBe("Successful");
    expect(done.PercentageComplete).toBe(100);
    const instances = await instancesOf("wait-released");
    expect(instances).toHaveLength(3);
    for (const instance of instances) {
      expect([fleet.protectedId, fleet.standbyId, fleet.plainId]).not.toContain(instance.InstanceId);
      expect((await imageOf(instance.InstanceId!)).image).toBe(NEW_IMAGE);
    }
  });

  it("fails after an hour of simulated time, naming the instances it waited for", async () => {
    const fleet = await createFleet("wait-in-vain");
    const realStart = Date.now();
    const id = await start("wait-in-vain", fleet);
    const failed = await waitForRefresh("wait-in-vain", id, ended);
    expect(failed.Status).toBe("Failed");
    expect(failed.StatusReason).toContain("waited 3600 seconds");
    expect(failed.StatusReason).toContain(`${fleet.protectedId} still protected from scale in`);
    expect(failed.StatusReason).toContain(`${fleet.standbyId} still in Standby`);
    // An hour of the simulated clock, not of the real one.
    expect(failed.EndTime!.getTime() - failed.StartTime!.getTime()).toBeGreaterThanOrEqual(HOUR_MS);
    expect(Date.now() - realStart).toBeLessThan(HOUR_MS / SPEED + 10_000);
    // They were left as they were; the group is back on its configuration.
    expect((await imageOf(fleet.protectedId)).image).toBe(OLD_IMAGE);
    const instances = await instancesOf("wait-in-vain");
    expect(instances.find((i) => i.InstanceId === fleet.standbyId)?.LifecycleState).toBe("Standby");
    const { AutoScalingGroups = [] } = await asg.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["wait-in-vain"] }),
    );
    expect(AutoScalingGroups[0]?.LaunchTemplate?.Version).toBe("1");
  });

  it("replaces protected instances with Refresh, and terminates Standby ones with Terminate", async () => {
    const fleet = await createFleet("refresh-terminate");
    const id = await start("refresh-terminate", fleet, {
      ScaleInProtectedInstances: "Refresh",
      StandbyInstances: "Terminate",
    });
    const done = await waitForRefresh("refresh-terminate", id, ended);
    expect(done.Status, done.StatusReason).toBe("Successful");
    expect(done.Preferences).toMatchObject({
      ScaleInProtectedInstances: "Refresh",
      StandbyInstances: "Terminate",
    });
    const instances = await instancesOf("refresh-terminate");
    // Desired capacity 2 (the Standby instance did not count): two InService instances on the new image.
    expect(instances).toHaveLength(2);
    for (const instance of instances) {
      expect(instance.LifecycleState).toBe("InService");
      expect([fleet.protectedId, fleet.standbyId, fleet.plainId]).not.toContain(instance.InstanceId);
      expect((await imageOf(instance.InstanceId!)).image).toBe(NEW_IMAGE);
    }
    expect((await imageOf(fleet.standbyId)).state).toMatch(/terminated|shutting-down/);
    expect((await imageOf(fleet.protectedId)).state).toMatch(/terminated|shutting-down/);
  });

  it("leaves them on the old configuration with Ignore, and still succeeds", async () => {
    const fleet = await createFleet("ignore");
    const id = await start("ignore", fleet, {
      ScaleInProtectedInstances: "Ignore",
      StandbyInstances: "Ignore",
    });
    const done = await waitForRefresh("ignore", id, ended);
    expect(done.Status, done.StatusReason).toBe("Successful");
    expect(done.PercentageComplete).toBe(100);
    const instances = await instancesOf("ignore");
    const byId = new Map(instances.map((i) => [i.InstanceId, i]));
    expect(byId.get(fleet.protectedId)).toMatchObject({
      LifecycleState: "InService",
      ProtectedFromScaleIn: true,
    });
    expect(byId.get(fleet.standbyId)?.LifecycleState).toBe("Standby");
    expect(byId.has(fleet.plainId)).toBe(false);
    expect((await imageOf(fleet.protectedId)).image).toBe(OLD_IMAGE);
    expect((await imageOf(fleet.standbyId)).image).toBe(OLD_IMAGE);
    const replacement = instances.find((i) => ![fleet.protectedId, fleet.standbyId].includes(i.InstanceId!));
    expect((await imageOf(replacement!.InstanceId!)).image).toBe(NEW_IMAGE);
  });
});
