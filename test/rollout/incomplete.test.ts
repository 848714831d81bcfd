import { CreateAutoScalingGroupCommand, CreateOrUpdateTagsCommand } from "@aws-sdk/client-auto-scaling";
import { describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { familyCompleted, getRollout } from "../../src/rollout/aws/rollout-records.js";
import { startedExecution, useRolloutEnvironment, waitForExecution } from "./support.js";

/**
 * Issue 11, item 4: a rollout that left groups of its family unrolled (problems the plan names)
 * ends failed with Phoenix.RolloutIncomplete and says which and why; before, it ended SUCCEEDED
 * ("0 group(s) in 0 wave(s), 1 with problems").
 */
const env = useRolloutEnvironment({
  speed: 600,
  groups: [
    { name: "api-a", family: "api", wave: 1, managed: true, desired: 1 },
    { name: "api-b", family: "api", wave: 1, managed: true, desired: 1 },
  ],
});

async function tagWave(group: string, value: string) {
  await env.autoScaling.send(
    new CreateOrUpdateTagsCommand({
      Tags: [
        {
          ResourceId: group,
          ResourceType: "auto-scaling-group",
          Key: "phoenix:wave",
          Value: value,
          PropagateAtLaunch: false,
        },
      ],
    }),
  );
}

describe("a rollout that cannot roll every group of its family", () => {
  it("rolls what it can, then ends incomplete (not succeeded), naming the group and the problem", async () => {
    await tagWave("api-b", "first");
    const v2 = await registerImage(env.ec2, { family: "api", name: "golden-api-v2" });
    await env.drainNotifications();
    const execution = startedExecution(await env.onImage(env.amiAvailable(v2)));
    const result = await waitForExecution(env.deps.clients.sfn, execution, 90_000);
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutIncomplete");
    expect(result.cause).toMatch(
      /rolled out to 1 group\(s\) of api .* 1 group\(s\) could not be rolled: api-b \(phoenix:wave="first" is not a whole number\)/,
    );
    expect((await env.groupState("api-a")).images).toEqual([v2]);
    expect((await env.groupState("api-b")).images).not.toContain(v2);

    expect((await getRollout(env.deps, "api", v2))?.status).toBe("incomplete");
    expect((await familyCompleted(env.deps, "api"))?.imageId).not.toBe(v2);
    const notes = await env.drainNotifications();
    expect(notes.map((n) => n.subject)).toContainEqual(
      expect.stringMatching(/^Rollout INCOMPLETE: .* 1 group\(s\) not rolled/),
    );
    const end = (await env.deps.audit.history(`image/${v2}`)).find((r) => r.action === "end-rollout");
    expect(end).toMatchObject({ outcome: "failed", reason: expect.stringContaining("api-b") });
  });

  it("a family none of whose groups can be rolled ends incomplete too, having changed nothing", async () => {
    await tagWave("api-a", "1.5");
    const before = await env.groupState("api-a");
    const v3 = await registerImage(env.ec2, { family: "api", name: "golden-api-v3" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(v3)));
    const result = await waitForExecution(env.deps.clients.sfn, execution, 60_000);
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutIncomplete");
    expect(result.cause).toMatch(
      /rolled out to 0 group\(s\) .* 2 group\(s\) could not be rolled: api-a .*; api-b/,
    );
    expect(await env.groupState("api-a")).toEqual(before);
  });

  it("a family whose only group's mixed instances policy gives overrides templates of their own ends incomplete, saying why", async () => {
    const template = env.fleet.groups[0]!.launchTemplateId;
    await env.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: "batch-mixed",
        MinSize: 1,
        MaxSize: 2,
        DesiredCapacity: 1,
        VPCZoneIdentifier: env.fleet.subnetIds.join(","),
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateId: template, Version: "1" },
            // An override with a template of its own: Phoenix rolls one template per group.
            Overrides: [
              { InstanceType: "t3.micro" },
              {
                InstanceType: "c6g.medium",
                LaunchTemplateSpecification: { LaunchTemplateId: template, Version: "1" },
              },
            ],
          },
          InstancesDistribution: { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 50 },
        },
        Tags: [
          { Key: "phoenix:managed", Value: "true", PropagateAtLaunch: false },
          { Key: "phoenix:image-family", Value: "batch", PropagateAtLaunch: false },
        ],
      }),
    );
    const image = await registerImage(env.ec2, { family: "batch", name: "golden-batch-v2" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(image)));
    const result = await waitForExecution(env.deps.clients.sfn, execution, 60_000);
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.RolloutIncomplete");
    expect(result.cause).toMatch(
      /batch-mixed \(uses a mixed instances policy whose overrides name launch templates of their own/,
    );
  });
});
