import {
  StartInstanceRefreshCommand,
  type StartInstanceRefreshCommandInput,
} from "@aws-sdk/client-auto-scaling";
import { CreateTagsCommand, RegisterImageCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNHEALTHY_IMAGE_TAG } from "../../local/autoscaling/index.js";
import { awsCli } from "../support/cloud.js";
import {
  createGroup,
  createTemplate,
  group,
  type Harness,
  imagesOf,
  startHarness,
  until,
  waitForRefresh,
} from "./autoscaling-helpers.js";

/** Instance refresh of groups with a MixedInstancesPolicy, at 200× (boot 60 s simulated = 0.3 s). */
let h: Harness;
let bad = "";

beforeAll(async () => {
  h = await startHarness({ speed: 200, bootSeconds: 60, observedGroups: ["mx-ok"] });
  bad = (await h.ec2.send(new RegisterImageCommand({ Name: "phoenix-bad", RootDeviceName: "/dev/sda1" })))
    .ImageId!;
  await h.ec2.send(
    new CreateTagsCommand({
      Resources: [bad],
      Tags: [{ Key: UNHEALTHY_IMAGE_TAG.key, Value: UNHEALTHY_IMAGE_TAG.value }],
    }),
  );
});
afterAll(async () => h?.stop());

const OVERRIDES = [{ InstanceType: "t3.micro" }, { InstanceType: "t3.small", WeightedCapacity: "1" }];
const DISTRIBUTION = {
  OnDemandAllocationStrategy: "prioritized",
  OnDemandBaseCapacity: 1,
  OnDemandPercentageAboveBaseCapacity: 100,
  SpotAllocationStrategy: "lowest-price",
  SpotInstancePools: 2,
};

async function mixedGroup(name: string, desired: number, v2?: string): Promise<string> {
  const templateId = await createTemplate(h, name, h.images.old, v2 ?? h.images.new);
  await createGroup(h, `${name}`, desired, {
    MixedInstancesPolicy: {
      LaunchTemplate: {
        LaunchTemplateSpecification: { LaunchTemplateId: templateId, Version: "1" },
        Overrides: OVERRIDES,
      },
      InstancesDistribution: DISTRIBUTION,
    },
  });
  return templateId;
}

const toVersion = (
  templateId: string,
  version: string,
): StartInstanceRefreshCommandInput["DesiredConfiguration"] => ({
  MixedInstancesPolicy: {
    LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: templateId, Version: version } },
  },
});

describe("instance refresh of a mixed instances group", () => {
  it("replaces every instance from the new version, then names it in the policy, overrides kept", async () => {
    const templateId = await mixedGroup("mx-ok", 3);
    const before = await group(h, "mx-ok");
    expect(before.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.Version).toBe("1");
    expect(before.Instances?.every((i) => i.LaunchTemplate?.Version === "1")).toBe(true);

    const { InstanceRefreshId: id } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "mx-ok",
        DesiredConfiguration: toVersion(templateId, "2"),
        Preferences: { MinHealthyPercentage: 66, InstanceWarmup: 0, AutoRollback: true },
      }),
    );
    const during = await until(
      "a replacement",
      () => group(h, "mx-ok"),
      (g) => (g.Instances ?? []).some((i) => i.LaunchTemplate?.Version === "2"),
    );
    // AWS shows the old policy until the refresh succeeds.
    expect(during.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.Version).toBe("1");

    const done = await waitForRefresh(h, "mx-ok", id!);
    expect(done.Status).toBe("Successful");
    expect(done.DesiredConfiguration).toEqual(toVersion(templateId, "2"));
    const after = await group(h, "mx-ok");
    expect(after.MixedInstancesPolicy).toEqual({
      LaunchTemplate: {
        LaunchTemplateSpecification: {
          LaunchTemplateId: templateId,
          LaunchTemplateName: "mx-ok-template",
          Version: "2",
        },
        Overrides: OVERRIDES,
      },
      InstancesDistribution: DISTRIBUTION,
    });
    const ids = (after.Instances ?? []).map((i) => i.InstanceId!);
    expect(ids).toHaveLength(3);
    expect(after.Instances?.every((i) => i.LaunchTemplate?.Version === "2")).toBe(true);
    expect([...(await imagesOf(h, ids)).values()].map((i) => i.image)).toEqual(Array(3).fill(h.images.new));
  });

  it("restores the previous policy on rollback", async () => {
    const templateId = await mixedGroup("mx-back", 2, bad);
    const { InstanceRefreshId: id } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "mx-back",
        DesiredConfiguration: toVersion(templateId, "2"),
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 0, AutoRollback: true },
      }),
    );
    const done = await waitForRefresh(h, "mx-back", id!);
    expect(done.Status).toBe("RollbackSuccessful");
    const after = await group(h, "mx-back");
    expect(after.MixedInstancesPolicy?.LaunchTemplate).toEqual({
      LaunchTemplateSpecification: {
        LaunchTemplateId: templateId,
        LaunchTemplateName: "mx-back-template",
        Version: "1",
      },
      Overrides: OVERRIDES,
    });
    const ids = (after.Instances ?? []).map((i) => i.InstanceId!);
    expect([...(await imagesOf(h, ids)).values()].map((i) => i.image)).toEqual([h.images.old, h.images.old]);
  });

  it("refuses what AWS refuses", async () => {
    const templateId = await mixedGroup("mx-refuse", 1);
    const start = (input: Partial<StartInstanceRefreshCommandInput>) =>
      h.asg.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: "mx-refuse", ...input }));
    await expect(
      start({ DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } } }),
    ).rejects.toMatchObject({
      name: "ValidationError",
      message: expect.stringContaining("mixed instances policy"),
    });
    await expect(
      start({ DesiredConfiguration: toVersion(templateId, "$Latest"), Preferences: { AutoRollback: true } }),
    ).rejects.toMatchObject({ name: "ValidationError", message: expect.stringContaining("$Latest") });
    await expect(
      start({
        DesiredConfiguration: {
          ...toVersion(templateId, "2"),
          LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" },
        },
      }),
    ).rejects.toMatchObject({ name: "ValidationError", message: expect.stringContaining("either") });
    await expect(start({ DesiredConfiguration: toVersion(templateId, "9") })).rejects.toMatchObject({
      name: "ValidationError",
      message: expect.stringContaining("has no version 9"),
    });
  });

  it("works from the AWS CLI, adding a mixed instances policy to a launch-template group", async () => {
    const { templateId } = await createGroup(h, "mx-cli", 1);
    const desired = {
      MixedInstancesPolicy: {
        LaunchTemplate: {
          LaunchTemplateSpecification: { LaunchTemplateId: templateId, Version: "2" },
          Overrides: [{ InstanceType: "t3.micro" }],
        },
      },
    };
    const { InstanceRefreshId } = (await awsCli(h.cloud, [
      "autoscaling",
      "start-instance-refresh",
      "--auto-scaling-group-name",
      "mx-cli",
      "--desired-configuration",
      JSON.stringify(desired),
      "--preferences",
      JSON.stringify({ MinHealthyPercentage: 0, InstanceWarmup: 0 }),
    ])) as { InstanceRefreshId: string };
    const done = await waitForRefresh(h, "mx-cli", InstanceRefreshId);
    expect(done.Status).toBe("Successful");
    const described = (await awsCli(h.cloud, [
      "autoscaling",
      "describe-instance-refreshes",
      "--auto-scaling-group-name",
      "mx-cli",
    ])) as { InstanceRefreshes: { DesiredConfiguration: unknown }[] };
    expect(described.InstanceRefreshes[0]?.DesiredConfiguration).toEqual(desired);
    const after = await group(h, "mx-cli");
    expect(after.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.Version).toBe("2");
    expect(after.MixedInstancesPolicy?.LaunchTemplate?.Overrides).toEqual([{ InstanceType: "t3.micro" }]);
  });
});
