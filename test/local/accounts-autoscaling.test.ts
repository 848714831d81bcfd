import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autoScalingPlugin, HEALTH_ROUTE, UNHEALTHY_IMAGE_TAG } from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import { memberAdministrator } from "../../local/core/accounts.js";
import { clientConfig, startTestCloud } from "../support/cloud.js";

/**
 * Issue 17: the local Auto Scaling model keeps one runtime per account and region, as AWS keeps the
 * service. A member's group of the same name as one in the own account refreshes in the member,
 * in its region, and the own account's group is not touched.
 */
const MEMBER = "222222222222";
const MEMBER_REGION = "eu-west-1";
const SPEED = 50;

let cloud: LocalCloud;
type Config = ReturnType<typeof clientConfig>;
let central: Config;

/** The member administrator's settings, asked afresh (the fast clock ends sessions early). */
const member = async (): Promise<Config> => ({
  ...(await memberAdministrator(
    { endpoint: cloud.endpoint, internalClientConfig: clientConfig(cloud) },
    MEMBER,
    MEMBER_REGION,
  )),
  maxAttempts: 3,
});

/** A group "web" of two instances on version 1, its template's version 2 another image. */
async function seedGroup(config: Config, zone: string): Promise<{ templateId: string; images: string[] }> {
  const ec2 = new EC2Client(config);
  const images: string[] = [];
  for (const name of ["v1", "v2"])
    images.push(
      (await ec2.send(new RegisterImageCommand({ Name: name, RootDeviceName: "/dev/sda1" }))).ImageId!,
    );
  const { LaunchTemplate } = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: "web",
      LaunchTemplateData: { ImageId: images[0] },
    }),
  );
  const templateId = LaunchTemplate!.LaunchTemplateId!;
  await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: { ImageId: images[1] },
    }),
  );
  await new AutoScalingClient(config).send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: "web",
      LaunchTemplate: { LaunchTemplateId: templateId, Version: "1" },
      MinSize: 0,
      MaxSize: 4,
      DesiredCapacity: 2,
      AvailabilityZones: [zone],
    }),
  );
  return { templateId, images };
}

async function imagesOf(config: Config): Promise<string[]> {
  const { AutoScalingGroups = [] } = await new AutoScalingClient(config).send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] }),
  );
  const ids = (AutoScalingGroups[0]?.Instances ?? []).map((i) => i.InstanceId!);
  const { Reservations = [] } = await new EC2Client(config).send(
    new DescribeInstancesCommand({ InstanceIds: ids }),
  );
  return Reservations.flatMap((r) => r.Instances ?? []).map((i) => i.ImageId!);
}

/** An image of the own account in the member's region (an AMI is regional), with tags. */
async function centralImage(name: string, tags: Record<string, string> = {}): Promise<string> {
  const ec2 = new EC2Client({ ...central, region: MEMBER_REGION });
  const { ImageId } = await ec2.send(new RegisterImageCommand({ Name: name, RootDeviceName: "/dev/sda1" }));
  if (Object.keys(tags).length > 0)
    await ec2.send(
      new CreateTagsCommand({
        Resources: [ImageId!],
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  return ImageId!;
}

/** Refreshes the member's group onto a new template version with the image; its end. */
async function refreshMemberOnto(imageId: string): Promise<{ Status?: string; StatusReason?: string }> {
  const { LaunchTemplateVersion } = await new EC2Client(await member()).send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: memberGroup.templateId,
      LaunchTemplateData: { ImageId: imageId },
    }),
  );
  const { InstanceRefreshId } = await new AutoScalingClient(await member()).send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: "web",
      DesiredConfiguration: {
        LaunchTemplate: {
          LaunchTemplateId: memberGroup.templateId,
          Version: String(LaunchTemplateVersion!.VersionNumber),
        },
      },
      Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 0, SkipMatching: true },
    }),
  );
  let refresh: { Status?: string; StatusReason?: string } | undefined;
  for (let i = 0; i < 120 && !["Failed", "Successful", "Cancelled"].includes(refresh?.Status ?? ""); i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { InstanceRefreshes = [] } = await new AutoScalingClient(await member()).send(
      new DescribeInstanceRefreshesCommand({
        AutoScalingGroupName: "web",
        InstanceRefreshIds: [InstanceRefreshId!],
      }),
    );
    refresh = InstanceRefreshes[0];
  }
  return refresh ?? {};
}

let centralGroup: { templateId: string; images: string[] };
let memberGroup: { templateId: string; images: string[] };

beforeAll(async () => {
  cloud = await startTestCloud({
    plugins: [autoScalingPlugin({ bootSeconds: 30 })],
    accounts: [MEMBER],
    speed: SPEED,
  });
  central = clientConfig(cloud);
  centralGroup = await seedGroup(central, "us-east-1a");
  memberGroup = await seedGroup(await member(), `${MEMBER_REGION}a`);
}, 60_000);
afterAll(async () => cloud?.stop());

describe("Auto Scaling in a member account and region", () => {
  it("refreshes the member's group there, and leaves the own account's group of that name alone", async () => {
    const started = await new AutoScalingClient(await member()).send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "web",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: memberGroup.templateId, Version: "2" } },
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 0 },
      }),
    );
    expect(started.InstanceRefreshId).toBeTruthy();

    let status: string | undefined;
    for (let i = 0; i < 120 && status !== "Successful" && status !== "Failed"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const { InstanceRefreshes = [] } = await new AutoScalingClient(await member()).send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "web" }),
      );
      status = InstanceRefreshes[0]?.Status;
    }
    expect(status).toBe("Successful");
    expect(await imagesOf(await member())).toEqual([memberGroup.images[1], memberGroup.images[1]]);

    // The own account's "web": no refresh, still on its first image.
    const { InstanceRefreshes: own = [] } = await new AutoScalingClient(central).send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "web" }),
    );
    expect(own).toEqual([]);
    expect(await imagesOf(central)).toEqual([centralGroup.images[0], centralGroup.images[0]]);
  }, 90_000);

  it("boots an image shared from the own account as that image boots: one tagged unhealthy fails the member's refresh", async () => {
    const bad = await centralImage("bad", { [UNHEALTHY_IMAGE_TAG.key]: UNHEALTHY_IMAGE_TAG.value });
    // The member sees the image without its tags (as EC2 shows a shared one); it boots as badly.
    await new EC2Client({ ...central, region: MEMBER_REGION }).send(
      new ModifyImageAttributeCommand({ ImageId: bad, LaunchPermission: { Add: [{ UserId: MEMBER }] } }),
    );
    const refresh = await refreshMemberOnto(bad);
    expect(refresh.Status).toBe("Failed");
    expect(refresh.StatusReason).not.toMatch(/does not exist/);
  }, 90_000);

  it("fails the member's refresh, launching nothing, onto an image not shared with it (as EC2 refuses the launch)", async () => {
    const before = await imagesOf(await member());
    const unshared = await centralImage("unshared");
    const refresh = await refreshMemberOnto(unshared);
    expect(refresh.Status).toBe("Failed");
    expect(refresh.StatusReason).toContain(`The image id '[${unshared}]' does not exist`);
    expect(await imagesOf(await member())).toEqual(before);
  }, 90_000);

  it("names the member's instances' account and region in the health route, and the places in health", async () => {
    const listed = (await (await fetch(`${cloud.endpoint}${HEALTH_ROUTE}`)).json()) as {
      instances: { instanceId: string; accountId?: string; region?: string; groupName?: string }[];
    };
    const inMember = listed.instances.filter((i) => i.accountId === MEMBER);
    expect(inMember.length).toBeGreaterThanOrEqual(2);
    expect(new Set(inMember.map((i) => i.region))).toEqual(new Set([MEMBER_REGION]));
    expect(listed.instances.some((i) => i.accountId === undefined)).toBe(true);

    const health = (await (await fetch(`${cloud.endpoint}/_phoenix/health`)).json()) as {
      parts: { autoscaling: { places: string[] } };
    };
    expect(health.parts.autoscaling.places).toEqual(
      expect.arrayContaining([`123456789012/us-east-1`, `${MEMBER}/${MEMBER_REGION}`]),
    );
  });
});
