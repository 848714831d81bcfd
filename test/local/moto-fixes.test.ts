import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  RegisterImageCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { launchTemplateSourceVersion } from "../../local/moto-fixes/launch-template-source.js";
import { registerImageTags } from "../../local/moto-fixes/register-image-tags.js";
import { awsCli, clientConfig, startTestCloud } from "../support/cloud.js";

let cloud: LocalCloud;
let ec2: EC2Client;
beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [launchTemplateSourceVersion(), registerImageTags()] });
  ec2 = new EC2Client(clientConfig(cloud));
});
afterAll(async () => {
  await cloud?.stop();
});

describe("CreateLaunchTemplateVersion from a source version", () => {
  it("copies the source version's data and overrides the image, as EC2 does", async () => {
    const { LaunchTemplate } = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "copy-source",
        LaunchTemplateData: {
          ImageId: "ami-11111111111111111",
          InstanceType: "t3.small",
          SecurityGroupIds: ["sg-0123456789abcdef0"],
          IamInstanceProfile: { Name: "app-profile" },
        },
      }),
    );
    const { LaunchTemplateVersion } = await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: LaunchTemplate!.LaunchTemplateId,
        SourceVersion: "1",
        VersionDescription: "new image",
        LaunchTemplateData: { ImageId: "ami-22222222222222222" },
      }),
    );
    expect(LaunchTemplateVersion?.VersionNumber).toBe(2);
    const { LaunchTemplateVersions = [] } = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: LaunchTemplate!.LaunchTemplateId,
        Versions: ["2"],
      }),
    );
    const data = LaunchTemplateVersions[0]?.LaunchTemplateData;
    expect(data?.ImageId).toBe("ami-22222222222222222");
    expect(data?.InstanceType).toBe("t3.small");
    expect(data?.SecurityGroupIds).toEqual(["sg-0123456789abcdef0"]);
    expect(data?.IamInstanceProfile?.Name).toBe("app-profile");
    expect(LaunchTemplateVersions[0]?.VersionDescription).toBe("new image");
  });

  it("answers a repeated ClientToken with the version it already made", async () => {
    const { LaunchTemplate } = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "token",
        LaunchTemplateData: { ImageId: "ami-11111111111111111", InstanceType: "t3.micro" },
      }),
    );
    const create = () =>
      ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: LaunchTemplate!.LaunchTemplateId,
          SourceVersion: "1",
          ClientToken: "same-token",
          LaunchTemplateData: { ImageId: "ami-33333333333333333" },
        }),
      );
    const first = await create();
    const second = await create();
    expect(second.LaunchTemplateVersion?.VersionNumber).toBe(first.LaunchTemplateVersion?.VersionNumber);
    const { LaunchTemplateVersions = [] } = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: LaunchTemplate!.LaunchTemplateId }),
    );
    expect(LaunchTemplateVersions).toHaveLength(2);
  });

  it("names an unknown source version", async () => {
    const { LaunchTemplate } = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "missing",
        LaunchTemplateData: { ImageId: "ami-11111111111111111" },
      }),
    );
    await expect(
      ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: LaunchTemplate!.LaunchTemplateId,
          SourceVersion: "9",
          LaunchTemplateData: { ImageId: "ami-22222222222222222" },
        }),
      ),
    ).rejects.toThrow();
  });
});

describe("RegisterImage with tag specifications", () => {
  type Described = { Images: { ImageId: string; Name: string; Tags?: { Key: string; Value: string }[] }[] };

  it("tags the image it registers, from the AWS CLI, as EC2 does", async () => {
    const registered = (await awsCli(cloud, [
      "ec2",
      "register-image",
      "--name",
      "golden-web-42",
      "--root-device-name",
      "/dev/xvda",
      "--tag-specifications",
      "ResourceType=image,Tags=[{Key=phoenix:family,Value=web},{Key=phoenix:version,Value=42}]",
    ])) as { ImageId: string };
    expect(registered.ImageId).toMatch(/^ami-[0-9a-f]+$/);
    const described = (await awsCli(cloud, [
      "ec2",
      "describe-images",
      "--image-ids",
      registered.ImageId,
    ])) as Described;
    const tags = Object.fromEntries((described.Images[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toEqual({ "phoenix:family": "web", "phoenix:version": "42" });
    // The tag index agrees: the image is found by its tag.
    const byTag = (await awsCli(cloud, [
      "ec2",
      "describe-images",
      "--filters",
      "Name=tag:phoenix:family,Values=web",
    ])) as Described;
    expect(byTag.Images.map((i) => i.ImageId)).toEqual([registered.ImageId]);
  });

  it("tags from the SDK too, ignores snapshot specifications, and refuses other resource types", async () => {
    const { ImageId } = await ec2.send(
      new RegisterImageCommand({
        Name: "golden-api-7",
        RootDeviceName: "/dev/xvda",
        TagSpecifications: [
          { ResourceType: "snapshot", Tags: [{ Key: "kind", Value: "root" }] },
          { ResourceType: "image", Tags: [{ Key: "phoenix:family", Value: "api" }] },
        ],
      }),
    );
    const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }));
    expect(Images[0]?.Tags).toEqual([{ Key: "phoenix:family", Value: "api" }]);
    await expect(
      ec2.send(
        new RegisterImageCommand({
          Name: "golden-bad",
          TagSpecifications: [{ ResourceType: "volume", Tags: [{ Key: "k", Value: "v" }] }],
        }),
      ),
    ).rejects.toThrow(/not a valid taggable resource type/);
    const { Images: bad = [] } = await ec2.send(
      new DescribeImagesCommand({ Filters: [{ Name: "name", Values: ["golden-bad"] }] }),
    );
    expect(bad).toEqual([]);
  });
});
