import {
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { ModifyInstanceAttributeCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createGroup,
  group,
  type Harness,
  imagesOf,
  startHarness,
  until,
  waitForRefresh,
} from "./autoscaling-helpers.js";

/**
 * EC2 termination protection (DisableApiTermination) binds the EC2 API only: AWS documents that
 * it "does not prevent Amazon EC2 Auto Scaling from terminating an instance". The local cloud
 * must agree, or a refresh that meets a protected instance fails here and succeeds in AWS.
 */
const GROUPS = ["tp-refresh", "tp-terminate", "tp-scale-in", "tp-api"];
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ speed: 200, bootSeconds: 60, observedGroups: GROUPS });
});
afterAll(async () => h?.stop());

async function protect(instanceId: string) {
  await h.ec2.send(
    new ModifyInstanceAttributeCommand({ InstanceId: instanceId, DisableApiTermination: { Value: true } }),
  );
}

async function instancesOf(name: string): Promise<string[]> {
  return ((await group(h, name)).Instances ?? []).map((i) => i.InstanceId!);
}

async function stateOf(instanceId: string): Promise<string | undefined> {
  return (await imagesOf(h, [instanceId])).get(instanceId)?.state;
}

describe("termination protection and Auto Scaling", () => {
  it("an instance refresh replaces a protected instance, as in AWS", async () => {
    const { templateId } = await createGroup(h, "tp-refresh", 2);
    const [first, second] = await instancesOf("tp-refresh");
    await protect(first!);
    const { InstanceRefreshId } = await h.asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "tp-refresh",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 0 },
      }),
    );
    const refresh = await waitForRefresh(h, "tp-refresh", InstanceRefreshId!);
    expect([refresh.Status, refresh.StatusReason]).toEqual(["Successful", undefined]);
    const now = await imagesOf(h, [first!, second!, ...(await instancesOf("tp-refresh"))]);
    expect(now.get(first!)?.state).toBe("terminated");
    expect(now.get(second!)?.state).toBe("terminated");
    const current = [...now.entries()].filter(([id]) => id !== first && id !== second);
    expect(current.map(([, i]) => i.image)).toEqual([h.images.new, h.images.new]);
  });

  it("TerminateInstanceInAutoScalingGroup and a scale-in terminate protected instances", async () => {
    await createGroup(h, "tp-terminate", 1);
    const [target] = await instancesOf("tp-terminate");
    await protect(target!);
    await h.asg.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: target!,
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    await until(
      "terminated",
      () => stateOf(target!),
      (s) => s === "terminated" || s === "shutting-down",
    );

    await createGroup(h, "tp-scale-in", 2);
    const both = await instancesOf("tp-scale-in");
    for (const id of both) await protect(id);
    await h.asg.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: "tp-scale-in", DesiredCapacity: 0 }),
    );
    await until(
      "scaled in",
      () => imagesOf(h, both),
      (m) => [...m.values()].every((i) => i.state === "terminated" || i.state === "shutting-down"),
    );
  });

  it("EC2 TerminateInstances still refuses a protected instance, whatever headers the caller sends", async () => {
    await createGroup(h, "tp-api", 1);
    const [target] = await instancesOf("tp-api");
    await protect(target!);
    await expect(h.ec2.send(new TerminateInstancesCommand({ InstanceIds: [target!] }))).rejects.toMatchObject(
      {
        name: "OperationNotPermitted",
      },
    );
    // The mark the local Auto Scaling engine puts on its own EC2 calls is not honoured from a caller.
    const command = new TerminateInstancesCommand({ InstanceIds: [target!] });
    command.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers["x-phoenix-local-service"] =
          "autoscaling";
        return next(args);
      },
      { step: "build" },
    );
    await expect(h.ec2.send(command)).rejects.toMatchObject({ name: "OperationNotPermitted" });
    expect(await stateOf(target!)).toBe("running");
  });
});
