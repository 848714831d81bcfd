import {
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, DescribeLaunchTemplateVersionsCommand } from "@aws-sdk/client-ec2";
import { beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { describeGroups } from "../../src/rollout/aws/groups.js";
import { plannedGroups, planRollout } from "../../src/rollout/core/plan.js";
import { startedExecution, useRolloutEnvironment, waitForExecution } from "./support.js";

/**
 * Issue 11, item 1: a group on $Latest (or $Default) must never launch a new image except through
 * a refresh that can roll back. Before the fix, the new version moved $Latest, the refresh was
 * refused (AutoRollback needs a numbered version) and every later launch ran the untested image.
 */
const env = useRolloutEnvironment({
  speed: 600,
  groups: [
    { name: "web-latest", family: "web", wave: 1, managed: true, desired: 2 },
    { name: "web-default", family: "web", wave: 1, managed: true, desired: 1 },
  ],
});
let v1: string;
beforeAll(() => {
  v1 = env.fleet.images.web!;
});

async function useVersion(group: string, version: string) {
  await env.autoScaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: group,
      LaunchTemplate: { LaunchTemplateId: templateOf(group), Version: version },
    }),
  );
}

function templateOf(group: string): string {
  const found = env.fleet.groups.find((g) => g.name === group);
  if (!found) throw new Error(`no seeded group ${group}`);
  return found.launchTemplateId;
}

async function versionOf(group: string) {
  const { AutoScalingGroups } = await env.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
  );
  return AutoScalingGroups?.[0]?.LaunchTemplate?.Version;
}

describe("groups on $Latest or $Default", () => {
  let v2: string;

  it("the plan says the group is pinned to the number it runs before the refresh", async () => {
    await useVersion("web-latest", "$Latest");
    await useVersion("web-default", "$Default");
    v2 = await registerImage(env.ec2, { family: "web", name: "golden-web-v2" });
    const groups = await describeGroups(env.deps, { family: "web" });
    const plan = planRollout({ image: { ImageId: v2 }, family: "web", groups, policy: env.deps.policy });
    expect(plan.problems).toEqual([]);
    const notes = Object.fromEntries(plannedGroups(plan).map((g) => [g.name, g.notes.join(" ")]));
    expect(notes["web-latest"]).toMatch(
      /uses \$Latest \(version 1 today\): Phoenix first pins the group to version 1/,
    );
    expect(notes["web-default"]).toMatch(/uses \$Default \(version 1 today\)/);
  });

  it("rolls both: each pinned to version 1, then refreshed to a new numbered version with AutoRollback", async () => {
    const execution = startedExecution(await env.onImage(env.amiAvailable(v2)));
    const result = await waitForExecution(env.deps.clients.sfn, execution, 90_000);
    expect(result.status, result.cause).toBe("SUCCEEDED");
    expect(await env.groupState("web-latest")).toEqual({ version: "2", images: [v2] });
    expect((await env.groupState("web-default")).images).toEqual([v2]);
    expect(await versionOf("web-default")).toMatch(/^\d+$/);

    const trail = await env.deps.audit.history("group/web-latest");
    const pin = trail.find((record) => record.action === "pin-template-version");
    expect(pin?.reason).toMatch(/pinned web-latest from \$Latest to lt-\w+ version 1/);
    const order = trail.map((record) => record.action);
    expect(order.indexOf("pin-template-version")).toBeLessThan(order.indexOf("create-template-version"));
  });

  it("a failed refresh leaves the group on the pinned version: later launches get the old image, not the failed one", async () => {
    await useVersion("web-latest", "$Latest");
    const bad = await registerImage(env.ec2, {
      family: "web",
      name: "golden-web-v3-unhealthy",
      tags: { "phoenix-local:health": "unhealthy" },
    });
    const execution = startedExecution(await env.onImage(env.amiAvailable(bad)));
    const result = await waitForExecution(env.deps.clients.sfn, execution, 90_000);
    expect(result.status).toBe("FAILED");
    expect(result.cause).toMatch(/web-latest rolled-back/);

    // $Latest of the template is now the failed image's version; the group does not follow it.
    const { LaunchTemplateVersions } = await env.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: templateOf("web-latest"),
        Versions: ["$Latest"],
      }),
    );
    expect(LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId).toBe(bad);
    expect(await versionOf("web-latest")).toBe("2");

    // A scale-out launches from the pinned version.
    await env.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: "web-latest", DesiredCapacity: 3 }),
    );
    const deadline = Date.now() + 20_000;
    let images: string[] = [];
    while (Date.now() < deadline) {
      const { AutoScalingGroups } = await env.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web-latest"] }),
      );
      const ids = (AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId!);
      if (ids.length >= 3) {
        const { Reservations } = await env.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
        images = (Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.ImageId!);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(images).toHaveLength(3);
    expect(images).not.toContain(bad);
    expect(new Set(images)).toEqual(new Set([v2]));
    expect(v1).not.toBe(v2);
  });
});
