import {
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  SetInstanceProtectionCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { afterEach, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import {
  type RolloutEnvironment,
  startedExecution,
  startRolloutEnvironment,
  waitForExecution,
} from "./support.js";

/**
 * Issue 11, item 3: scale-in protected (and Standby) instances. Phoenix sets the refresh
 * preferences for them explicitly (default: replace them) and checks, when a refresh says
 * Successful, that every serving instance runs the image; a group that does not is not rolled.
 * Before, AWS's leniency (or the old emulator's Ignore default) left a protected instance on the
 * old image and the rollout said "rolled out to 1 group(s)".
 */
let env: RolloutEnvironment | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

async function start(policy?: unknown) {
  env = await startRolloutEnvironment({
    speed: 600,
    ...(policy !== undefined ? { policy } : {}),
    groups: [{ name: "web-a", family: "web", wave: 1, managed: true, desired: 2 }],
  });
  const [protectedId] = env.fleet.groups[0]!.instanceIds;
  await env.autoScaling.send(
    new SetInstanceProtectionCommand({
      AutoScalingGroupName: "web-a",
      InstanceIds: [protectedId!],
      ProtectedFromScaleIn: true,
    }),
  );
  return { env, protectedId: protectedId! };
}

describe("scale-in protected instances in a rollout", () => {
  it("by default are replaced like the others: the refresh asks for it, and every instance ends on the image", async () => {
    const { env, protectedId } = await start();
    const v2 = await registerImage(env.ec2, { family: "web", name: "golden-web-v2" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(v2)));
    const result = await waitForExecution(env.deps.clients.sfn, execution, 90_000);
    expect(result.status, result.cause).toBe("SUCCEEDED");
    const { InstanceRefreshes } = await env.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "web-a" }),
    );
    expect(InstanceRefreshes?.[0]?.Preferences).toMatchObject({
      ScaleInProtectedInstances: "Refresh",
      StandbyInstances: "Terminate",
    });
    expect((await env.groupState("web-a")).images).toEqual([v2]);
    const { AutoScalingGroups } = await env.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web-a"] }),
    );
    expect(AutoScalingGroups?.[0]?.Instances?.map((i) => i.InstanceId)).not.toContain(protectedId);
  });

  it("left alone by policy (Ignore): the group is reported as not rolled, the rollout fails, the image is not blamed", async () => {
    const { env, protectedId } = await start({
      rollout: { refresh: { scaleInProtectedInstances: "Ignore" } },
    });
    const v2 = await registerImage(env.ec2, { family: "web", name: "golden-web-v2" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(v2)));
    const result = await waitForExecution(env.deps.clients.sfn, execution, 90_000);
    expect(result.status).toBe("FAILED");
    expect(result.cause).toMatch(/web-a incomplete/);
    expect(result.cause).toContain(protectedId);
    expect(result.cause).toMatch(/scale-in protected/);
    expect(result.cause).not.toMatch(/rolled out to/);
    const { Images } = await env.ec2.send(new DescribeImagesCommand({ ImageIds: [v2] }));
    expect(Images?.[0]?.Tags?.find((t) => t.Key === "phoenix:image-status")).toBeUndefined();
  });
});
