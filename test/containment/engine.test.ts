import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetInstanceHealthCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { DescribeExecutionCommand, SFNClient } from "@aws-sdk/client-sfn";
import { beforeAll, describe, expect, it } from "vitest";
import { groupMembers } from "../../src/containment/aws/budget-counters.js";
import { getContainment } from "../../src/containment/aws/records.js";
import type { ContainState } from "../../src/containment/core/types.js";
import { clientConfig } from "../support/cloud.js";
import { ACCOUNT, findingDelivery, guardDutyEvent, TOR_CLIENT, useHarness } from "./support/fixtures.js";

// Every Wait of the workflow (snapshots, replacement) and the replacement timeout, this many times shorter.
const SPEED = 300;
/** Runs after the deployed Replace step returns (a test makes the replacement never healthy). */
let afterReplace: (() => Promise<void>) | undefined;
const h = useHarness({
  policy: { containment: { allowSampleFindings: true, replacementTimeoutMinutes: 1 } },
  workflow: "run",
  speed: SPEED,
  wrap: (fn, handler) =>
    fn.handler === "functions/contain-replace.handler"
      ? async (event, context) => {
          const result = await handler(event, context);
          await afterReplace?.();
          return result;
        }
      : handler,
});
let ec2: EC2Client;
let autoScaling: AutoScalingClient;
let sfn: SFNClient;
beforeAll(() => {
  ec2 = new EC2Client(h.cloud.context.internalClientConfig);
  autoScaling = new AutoScalingClient(h.cloud.context.internalClientConfig);
  sfn = new SFNClient(clientConfig(h.cloud, 10));
});

/**
 * The intake takes the finding and starts the deployed contain workflow (the graph's state
 * machine on the local Step Functions engine, its Tasks the deployed functions); this waits for
 * that execution to end.
 */
async function containThroughTheWorkflow(instanceId: string, findingId: string) {
  const deliver = findingDelivery(
    h.deployment.depsOf("on-finding"),
    h.deployment.functionOf("on-finding").name,
  );
  const result = await deliver([guardDutyEvent(TOR_CLIENT, { instanceId, findingId })]);
  expect(result.batchItemFailures).toEqual([]);
  const record = await getContainment(h.deps, ACCOUNT, instanceId);
  expect(record?.executionName).toBeDefined();
  const executionArn = `${h.deployment.stateMachineArns.contain.replace(":stateMachine:", ":execution:")}:${record!.executionName}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== "RUNNING") return execution;
    if (Date.now() > deadline) throw new Error(`${executionArn} still RUNNING after 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a finding contained end to end: intake, then the ASL run with the real handlers", () => {
  it("isolates, keeps evidence, replaces, terminates, reports, and closes the record", async () => {
    const instanceId = h.fleet.groups.find((g) => g.name === "web-backend")!.instanceIds[0]!;
    await h.drainNotifications();
    const execution = await containThroughTheWorkflow(instanceId, "e2e00000000000000000000000000001");
    expect(execution.status, execution.cause).toBe("SUCCEEDED");
    const output = JSON.parse(execution.output ?? "{}") as ContainState;
    expect(output.results.dispose?.disposition).toBe("terminated");
    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    expect(Reservations?.[0]?.Instances?.[0]?.State?.Name).toBe("terminated");

    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.status).toBe("succeeded");
    expect(await groupMembers(h.deps, ACCOUNT, "web-backend")).toEqual([]);
    const outcome = (await h.deps.audit.history(`instance/${instanceId}`)).find(
      (r) => r.action === "contain",
    );
    expect(outcome?.outcome).toBe("ok");
    expect((outcome?.details?.["timeline"] as { entries: unknown[] } | undefined)?.entries).toHaveLength(5);
    const notes = await h.drainNotifications();
    expect(
      notes.some((n) => n.subject === `Contained ${instanceId} (UnauthorizedAccess:EC2/TorClient)`),
    ).toBe(true);
  });

  it("fails loudly and leaves the instance isolated when the group does not recover in time", async () => {
    const group = "web-frontend";
    const instanceId = h.fleet.groups.find((g) => g.name === group)!.instanceIds[1]!;
    await h.drainNotifications();
    // The replacement never becomes healthy; the replacement timeout (1 simulated minute) passes.
    afterReplace = async () => {
      const { AutoScalingGroups = [] } = await autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
      );
      for (const instance of AutoScalingGroups[0]?.Instances ?? []) {
        await autoScaling.send(
          new SetInstanceHealthCommand({ InstanceId: instance.InstanceId, HealthStatus: "Unhealthy" }),
        );
      }
    };
    const execution = await containThroughTheWorkflow(instanceId, "e2e00000000000000000000000000002").finally(
      () => {
        afterReplace = undefined;
      },
    );
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("Phoenix.ContainmentFailed");
    expect(execution.cause).toMatch(/waiting for the group to be back at full healthy capacity/);
    expect(execution.cause).toMatch(/Phoenix\.Timeout/);
    expect(execution.cause).toMatch(/stays isolated/);

    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations![0]!.Instances![0]!;
    expect(instance.State?.Name).toBe("running");
    const quarantine = (await h.deps.audit.history(`instance/${instanceId}`)).find(
      (r) => r.action === "isolate",
    )?.details?.["quarantineGroupIds"] as Record<string, string>;
    expect(instance.NetworkInterfaces![0]!.Groups!.map((g) => g.GroupId)).toEqual([
      quarantine[instance.VpcId!],
    ]);

    expect((await getContainment(h.deps, ACCOUNT, instanceId))?.status).toBe("failed");
    // A failed containment keeps its group slot until a person looks.
    expect(await groupMembers(h.deps, ACCOUNT, group)).toEqual([instanceId]);
    const notes = await h.drainNotifications();
    const failure = notes.find((n) => n.subject.startsWith(`Containment FAILED: ${instanceId}`));
    expect(failure?.message).toMatch(/failed while waiting for the group/);
    expect(failure?.kind).toBe("error");
  });
});
