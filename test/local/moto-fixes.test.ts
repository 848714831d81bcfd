import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { launchTemplateSourceVersion } from "../../local/moto-fixes/launch-template-source.js";
import { clientConfig, startTestCloud } from "../support/cloud.js";

let cloud: LocalCloud;
let ec2: EC2Client;
beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [launchTemplateSourceVersion()] });
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
