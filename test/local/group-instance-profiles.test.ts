import {
  AttachInstancesCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  DetachInstancesCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { CreateInstanceProfileCommand, IAMClient } from "@aws-sdk/client-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoScalingPlugin, markInstancesBooted } from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import { launchTemplateSourceVersion } from "../../local/moto-fixes/launch-template-source.js";
import { awsCli, clientConfig, startTestCloud } from "../support/cloud.js";

/**
 * Instances an Auto Scaling group launches carry its launch template version's instance profile,
 * wherever the local cloud launches them: as AWS shows them, in DescribeInstances and in
 * DescribeIamInstanceProfileAssociations (what a containment reads to revoke credentials).
 */
let cloud: LocalCloud;
let asg: AutoScalingClient;
let ec2: EC2Client;
const arns = { v1: "", v2: "" };
let templateId = "";

beforeAll(async () => {
  cloud = await startTestCloud({
    plugins: [launchTemplateSourceVersion(), autoScalingPlugin({ bootSeconds: 60 })],
    speed: 200,
  });
  asg = new AutoScalingClient(clientConfig(cloud));
  ec2 = new EC2Client(clientConfig(cloud));
  const iam = new IAMClient(clientConfig(cloud));
  for (const version of ["v1", "v2"] as const) {
    const { InstanceProfile } = await iam.send(
      new CreateInstanceProfileCommand({ InstanceProfileName: `app-${version}` }),
    );
    arns[version] = InstanceProfile!.Arn!;
  }
  // Version 1 names its profile, version 2 (made from version 1, as Phoenix does) gives an ARN.
  const { LaunchTemplate } = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: "app",
      LaunchTemplateData: {
        ImageId: "ami-11111111111111111",
        InstanceType: "t3.micro",
        IamInstanceProfile: { Name: "app-v1" },
      },
    }),
  );
  templateId = LaunchTemplate!.LaunchTemplateId!;
  await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: {
        ImageId: "ami-22222222222222222",
        InstanceType: "t3.micro",
        IamInstanceProfile: { Arn: arns.v2 },
      },
    }),
  );
});
afterAll(async () => {
  await cloud?.stop();
});

async function createGroup(name: string, desired: number): Promise<void> {
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: "1" },
      MinSize: 0,
      MaxSize: 10,
      DesiredCapacity: desired,
      AvailabilityZones: ["us-east-1a"],
      HealthCheckGracePeriod: 30,
    }),
  );
}

async function instanceIds(name: string): Promise<string[]> {
  const { AutoScalingGroups = [] } = await asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return (AutoScalingGroups[0]?.Instances ?? []).map((i) => i.InstanceId!).sort();
}

/** Each instance's associated profile ARN, as the AWS CLI reads the associations. */
async function associations(ids: string[]): Promise<Record<string, string | undefined>> {
  const answer = (await awsCli(cloud, [
    "ec2",
    "describe-iam-instance-profile-associations",
    "--filters",
    `Name=instance-id,Values=${ids.join(",")}`,
  ])) as {
    IamInstanceProfileAssociations: {
      InstanceId: string;
      State: string;
      IamInstanceProfile: { Arn: string };
    }[];
  };
  const byInstance: Record<string, string | undefined> = Object.fromEntries(ids.map((id) => [id, undefined]));
  for (const a of answer.IamInstanceProfileAssociations) {
    if (a.State === "associated") byInstance[a.InstanceId] = a.IamInstanceProfile.Arn;
  }
  return byInstance;
}

/** Each instance's IamInstanceProfile as DescribeInstances shows it. */
async function describedProfiles(ids: string[]): Promise<Record<string, string | undefined>> {
  const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return Object.fromEntries(
    Reservations.flatMap((r) => r.Instances ?? []).map((i) => [i.InstanceId!, i.IamInstanceProfile?.Arn]),
  );
}

const all = (ids: string[], arn: string) => Object.fromEntries(ids.map((id) => [id, arn]));

describe("instances launched by an Auto Scaling group", () => {
  it("carry the launch template version's profile from their first launch, and on scale-out", async () => {
    await createGroup("profiles-launch", 2);
    // Straight after CreateAutoScalingGroup, before anything else looked at the group.
    const { Reservations = [] } = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: "tag:aws:autoscaling:groupName", Values: ["profiles-launch"] }],
      }),
    );
    const launched = Reservations.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!);
    expect(launched).toHaveLength(2);
    expect(await associations(launched)).toEqual(all(launched, arns.v1));
    expect(await describedProfiles(launched)).toEqual(all(launched, arns.v1));

    await asg.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: "profiles-launch", DesiredCapacity: 3 }),
    );
    const ids = await instanceIds("profiles-launch");
    expect(ids).toHaveLength(3);
    expect(await associations(ids)).toEqual(all(ids, arns.v1));
  });

  it("carry it on the replacements of detached and terminated instances", async () => {
    await createGroup("profiles-replace", 2);
    const [detached, terminated] = await instanceIds("profiles-replace");
    await asg.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: "profiles-replace",
        InstanceIds: [detached!],
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [terminated!] }));
    const ids = await instanceIds("profiles-replace");
    expect(ids).toHaveLength(2);
    expect(ids).not.toContain(detached);
    expect(ids).not.toContain(terminated);
    expect(await associations(ids)).toEqual(all(ids, arns.v1));
    // The detached instance keeps the profile it was launched with.
    expect(await associations([detached!])).toEqual({ [detached!]: arns.v1 });
  });

  it("leave an attached instance's profile (none here) as it was", async () => {
    await createGroup("profiles-attach", 1);
    const { Instances = [] } = await ec2.send(
      new RunInstancesCommand({ ImageId: "ami-11111111111111111", MinCount: 1, MaxCount: 1 }),
    );
    const outsider = Instances[0]!.InstanceId!;
    await asg.send(
      new AttachInstancesCommand({ AutoScalingGroupName: "profiles-attach", InstanceIds: [outsider] }),
    );
    const ids = await instanceIds("profiles-attach");
    expect(ids).toContain(outsider);
    const profiles = await associations(ids);
    expect(profiles[outsider]).toBeUndefined();
    expect(Object.values(profiles).filter((arn) => arn === arns.v1)).toHaveLength(1);
  });

  it("carry the new version's profile after an instance refresh", async () => {
    await createGroup("profiles-refresh", 2);
    await markInstancesBooted(cloud.endpoint, { autoScalingGroupNames: ["profiles-refresh"] });
    const before = await instanceIds("profiles-refresh");
    const { InstanceRefreshId } = await asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "profiles-refresh",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 10 },
      }),
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { InstanceRefreshes = [] } = await asg.send(
        new DescribeInstanceRefreshesCommand({
          AutoScalingGroupName: "profiles-refresh",
          InstanceRefreshIds: [InstanceRefreshId!],
        }),
      );
      const status = InstanceRefreshes[0]?.Status;
      if (status === "Successful") break;
      if (status === "Failed" || Date.now() > deadline)
        throw new Error(`refresh ${status}: ${InstanceRefreshes[0]?.StatusReason}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = await instanceIds("profiles-refresh");
    expect(after.some((id) => before.includes(id))).toBe(false);
    expect(await associations(after)).toEqual(all(after, arns.v2));
    expect(await describedProfiles(after)).toEqual(all(after, arns.v2));
  });
});
