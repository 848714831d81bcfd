import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetInstanceHealthCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  EC2Client,
  RegisterImageCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AutoScalingPart,
  autoScalingPlugin,
  BOOTED_ROUTE,
  HEALTH_ROUTE,
  UNHEALTHY_IMAGE_TAG,
} from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import { awsCli, clientConfig, startTestCloud } from "../support/cloud.js";

/**
 * Simulated boot and health as clients see them through DescribeAutoScalingGroups and
 * DescribeAutoScalingInstances. Speed 20 and a 60 s boot: instances stay Pending for 3 real
 * seconds, long enough to be seen Pending even on a busy machine.
 */
const SPEED = 20;
const BOOT_SECONDS = 60;

let cloud: LocalCloud;
let asg: AutoScalingClient;
let ec2: EC2Client;
let goodImage: string;
let badImage: string;

beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [autoScalingPlugin({ bootSeconds: BOOT_SECONDS })], speed: SPEED });
  asg = new AutoScalingClient(clientConfig(cloud));
  ec2 = new EC2Client(clientConfig(cloud));
  goodImage = (await ec2.send(new RegisterImageCommand({ Name: "good", RootDeviceName: "/dev/sda1" })))
    .ImageId!;
  badImage = (await ec2.send(new RegisterImageCommand({ Name: "bad", RootDeviceName: "/dev/sda1" })))
    .ImageId!;
  await ec2.send(
    new CreateTagsCommand({
      Resources: [badImage],
      Tags: [{ Key: UNHEALTHY_IMAGE_TAG.key, Value: UNHEALTHY_IMAGE_TAG.value }],
    }),
  );
});

afterAll(async () => {
  await cloud?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A group on a template whose version 1 is the good image and version 2 the given one. */
async function createGroup(name: string, desired: number, version: "1" | "2" = "1", v2Image = goodImage) {
  const { LaunchTemplate } = await ec2.send(
    new CreateLaunchTemplateCommand({ LaunchTemplateName: name, LaunchTemplateData: { ImageId: goodImage } }),
  );
  await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: LaunchTemplate!.LaunchTemplateId!,
      LaunchTemplateData: { ImageId: v2Image },
    }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateId: LaunchTemplate!.LaunchTemplateId!, Version: version },
      MinSize: 0,
      MaxSize: desired,
      DesiredCapacity: desired,
      AvailabilityZones: ["us-east-1a"],
    }),
  );
}

async function instances(name: string) {
  const { AutoScalingGroups = [] } = await asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return AutoScalingGroups[0]?.Instances ?? [];
}

const states = async (name: string) =>
  (await instances(name)).map((i) => `${i.LifecycleState}/${i.HealthStatus}`);

describe("simulated instance boot and health", () => {
  it("shows instances Pending until they boot, then InService; an unhealthy image never becomes Healthy", async () => {
    await createGroup("boot-good", 2);
    await createGroup("boot-bad", 1, "2", badImage);
    expect(await states("boot-good")).toEqual(["Pending/Healthy", "Pending/Healthy"]);
    const { AutoScalingInstances = [] } = await asg.send(new DescribeAutoScalingInstancesCommand({}));
    expect(
      AutoScalingInstances.filter((i) => i.AutoScalingGroupName === "boot-bad").map((i) => i.LifecycleState),
    ).toEqual(["Pending"]);

    const deadline = Date.now() + 15_000;
    while ((await states("boot-good")).some((s) => s.startsWith("Pending")) && Date.now() < deadline)
      await sleep(100);
    expect(await states("boot-good")).toEqual(["InService/Healthy", "InService/Healthy"]);
    while ((await states("boot-bad")).some((s) => s.startsWith("Pending")) && Date.now() < deadline)
      await sleep(100);
    expect(await states("boot-bad")).toEqual(["InService/Unhealthy"]);

    // The AWS CLI parses the rewritten answers too.
    const [bad] = await instances("boot-bad");
    const cli = (await awsCli(cloud, [
      "autoscaling",
      "describe-auto-scaling-instances",
      "--instance-ids",
      bad!.InstanceId!,
    ])) as {
      AutoScalingInstances: {
        HealthStatus: string;
        LifecycleState: string;
        LaunchTemplate: { Version: string };
      }[];
    };
    expect(cli.AutoScalingInstances[0]).toMatchObject({
      HealthStatus: "Unhealthy",
      LifecycleState: "InService",
      LaunchTemplate: { Version: "2" },
    });
    const cliGroups = (await awsCli(cloud, [
      "autoscaling",
      "describe-auto-scaling-groups",
      "--auto-scaling-group-names",
      "boot-good",
    ])) as {
      AutoScalingGroups: { Instances: { LifecycleState: string }[] }[];
    };
    expect(cliGroups.AutoScalingGroups[0]!.Instances.map((i) => i.LifecycleState)).toEqual([
      "InService",
      "InService",
    ]);
  });

  it("shows the launch template version each instance was launched from", async () => {
    // moto reports the template's default version for every instance; AWS reports the one it used.
    await createGroup("launched-v2", 1, "2");
    const [instance] = await instances("launched-v2");
    expect(instance?.LaunchTemplate?.Version).toBe("2");
  });

  it("lets seeds mark instances booted, by control route or through the part", async () => {
    await createGroup("seeded", 2);
    expect(await states("seeded")).toEqual(["Pending/Healthy", "Pending/Healthy"]);
    const [first, second] = (await instances("seeded")).map((i) => i.InstanceId!);
    const response = await fetch(`${cloud.endpoint}${BOOTED_ROUTE}`, {
      method: "POST",
      body: JSON.stringify({ instanceIds: [first] }),
    });
    expect(await response.json()).toEqual({ booted: [first] });
    expect(await states("seeded")).toEqual(["InService/Healthy", "Pending/Healthy"]);

    const part = cloud.parts.find((p) => p.name === "autoscaling") as AutoScalingPart;
    expect(await part.markBooted({ autoScalingGroupNames: ["seeded"] })).toEqual([first, second]);
    expect(await states("seeded")).toEqual(["InService/Healthy", "InService/Healthy"]);

    const listed = (await (await fetch(`${cloud.endpoint}${HEALTH_ROUTE}`)).json()) as {
      instances: { instanceId: string; booted: boolean; groupName: string }[];
    };
    expect(listed.instances.filter((i) => i.groupName === "seeded")).toEqual([
      expect.objectContaining({ instanceId: first, booted: true }),
      expect.objectContaining({ instanceId: second, booted: true }),
    ]);

    expect((await fetch(`${cloud.endpoint}${BOOTED_ROUTE}`)).status).toBe(405);
    const bad = await fetch(`${cloud.endpoint}${BOOTED_ROUTE}`, {
      method: "POST",
      body: '{"instanceIds": "i-1"}',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("instanceIds must be an array of strings");
  });

  it("keeps what SetInstanceHealth recorded in moto", async () => {
    await createGroup("marked", 1);
    await fetch(`${cloud.endpoint}${BOOTED_ROUTE}`, {
      method: "POST",
      body: JSON.stringify({ autoScalingGroupNames: ["marked"] }),
    });
    const [instance] = await instances("marked");
    await asg.send(
      new SetInstanceHealthCommand({ InstanceId: instance!.InstanceId!, HealthStatus: "Unhealthy" }),
    );
    expect(await states("marked")).toEqual(["InService/Unhealthy"]);
  });
});
