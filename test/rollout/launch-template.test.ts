import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { registerImage, type SeededFleet, seedDemoFleet } from "../../local/core/seed.js";
import {
  ensureTemplateVersion,
  launchTemplateClientToken,
  phoenixVersionDescription,
} from "../../src/rollout/aws/launch-template.js";
import { clientConfig, startTestCloud } from "../support/cloud.js";

let cloud: LocalCloud;
let ec2: EC2Client;
let fleet: SeededFleet;
beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [] });
  fleet = await seedDemoFleet(clientConfig(cloud));
  ec2 = new EC2Client(clientConfig(cloud));
});
afterAll(async () => {
  await cloud?.stop();
});

const templateOf = (group: string) => {
  const id = fleet.groups.find((g) => g.name === group)?.launchTemplateId;
  if (!id) throw new Error(`no group ${group}`);
  return id;
};
const creates = () => cloud.context.callLog.count({ service: "ec2", action: "CreateLaunchTemplateVersion" });

async function versions(templateId: string) {
  const { LaunchTemplateVersions } = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId }),
  );
  return LaunchTemplateVersions ?? [];
}

describe("launch template version for an image", () => {
  it("creates a numbered version from the one in use, with the image", async () => {
    const templateId = templateOf("web-frontend");
    const image = await registerImage(ec2, { family: "web", name: "lt-test-1" });
    const before = creates();
    const version = await ensureTemplateVersion(ec2, { id: templateId, version: "1" }, image);
    expect(version).toMatchObject({
      launchTemplateId: templateId,
      version: "2",
      sourceVersion: "1",
      created: true,
    });
    expect(creates()).toBe(before + 1);
    const created = (await versions(templateId)).find((v) => v.VersionNumber === 2);
    expect(created?.LaunchTemplateData?.ImageId).toBe(image);
    expect(created?.VersionDescription).toBe(phoenixVersionDescription(image, "1"));
  });

  it("is idempotent: a retry reuses the version instead of making another", async () => {
    const templateId = templateOf("web-backend");
    const image = await registerImage(ec2, { family: "web", name: "lt-test-2" });
    const first = await ensureTemplateVersion(ec2, { id: templateId, version: "1" }, image);
    const before = creates();
    const again = await ensureTemplateVersion(ec2, { id: templateId, version: "1" }, image);
    expect(again).toEqual({ ...first, created: false });
    expect(creates()).toBe(before);
    expect((await versions(templateId)).filter((v) => v.LaunchTemplateData?.ImageId === image)).toHaveLength(
      1,
    );
  });

  it("resolves $Latest to a number and reuses a source that already runs the image", async () => {
    const templateId = templateOf("api");
    const image = await registerImage(ec2, { family: "api", name: "lt-test-3" });
    const made = await ensureTemplateVersion(ec2, { id: templateId, version: "$Latest" }, image);
    expect(made).toMatchObject({ version: "2", sourceVersion: "1", created: true });
    // Now $Latest is the version with the image: nothing to create.
    const before = creates();
    const reused = await ensureTemplateVersion(ec2, { id: templateId, version: "$Latest" }, image);
    expect(reused).toMatchObject({ version: "2", sourceVersion: "2", created: false });
    expect(creates()).toBe(before);
  });

  it("does not take a version someone else made with the image for its own", async () => {
    const templateId = templateOf("web-legacy");
    const image = await registerImage(ec2, { family: "web", name: "lt-test-4" });
    // A hand-made version with the image but other settings: not what the group runs plus the image.
    await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: templateId,
        SourceVersion: "1",
        LaunchTemplateData: { ImageId: image, InstanceType: "m5.24xlarge" },
      }),
    );
    const version = await ensureTemplateVersion(ec2, { id: templateId, version: "1" }, image);
    expect(version).toMatchObject({ version: "3", created: true });
  });

  it("derives the ClientToken from template, source version and image", () => {
    const token = launchTemplateClientToken("lt-1", "1", "ami-1");
    expect(token).toBe(launchTemplateClientToken("lt-1", "1", "ami-1"));
    expect(token).not.toBe(launchTemplateClientToken("lt-1", "2", "ami-1"));
    expect(token).not.toBe(launchTemplateClientToken("lt-1", "1", "ami-2"));
    expect(token).not.toBe(launchTemplateClientToken("lt-2", "1", "ami-1"));
    expect(token.length).toBeLessThanOrEqual(64);
  });
});
