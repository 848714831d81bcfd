import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand, DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { SFNClient } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { familyCompleted } from "../../src/rollout/aws/rollout-records.js";
import { rollbackExecutionName, rolloutExecutionName } from "../../src/rollout/core/execution-name.js";
import { awsCli } from "../support/cloud.js";
import { waitForExecution } from "../support/executions.js";
import { findingEnvelope } from "../support/lambda-events.js";
import { type PhoenixCloud, startPhoenixCloud } from "../support/phoenix-cloud.js";
import { until } from "../support/poll.js";

/**
 * A poisoned image, end to end on the local cloud: family svc rolls out v2, then v3; instances
 * of v3 in two groups are contained (one per group: the group budget allows one each); the
 * second containment marks v3 compromised and rolls the family back onto v2, a rollout like any
 * other. Every event goes on the bus with the AWS CLI.
 */
let pc: PhoenixCloud;
let ec2: EC2Client;
let autoScaling: AutoScalingClient;
let sfn: SFNClient;

beforeAll(async () => {
  pc = await startPhoenixCloud({
    speed: 300,
    groups: [
      { name: "svc-a", family: "svc", wave: 1, managed: true, desired: 3 },
      { name: "svc-b", family: "svc", wave: 1, managed: true, desired: 3 },
    ],
  });
  const config = { ...pc.cloud.context.internalClientConfig, endpoint: pc.cloud.endpoint };
  ec2 = new EC2Client(config);
  autoScaling = new AutoScalingClient(config);
  sfn = new SFNClient(config);
}, 60_000);
afterAll(async () => pc?.stop());

async function putEvents(name: string, entries: Record<string, unknown>[]) {
  const at = path.join(tmpdir(), `phoenix-${process.pid}-${name}.json`);
  writeFileSync(at, JSON.stringify(entries));
  const put = (await awsCli(pc.cloud, ["events", "put-events", "--entries", `file://${at}`])) as {
    FailedEntryCount: number;
  };
  expect(put.FailedEntryCount).toBe(0);
}

const amiAvailable = (imageId: string) => ({
  Source: "aws.ec2",
  DetailType: "EC2 AMI State Change",
  Detail: JSON.stringify({ ImageId: imageId, State: "available", RequestId: "r", ErrorMessage: "" }),
  Resources: [`arn:aws:ec2:us-east-1::image/${imageId}`],
});

async function rollOut(imageId: string, name = rolloutExecutionName("svc", imageId)) {
  await putEvents(imageId, [amiAvailable(imageId)]);
  const ended = await waitForExecution(sfn, pc.phoenix.stateMachineArns.rollout, name, 120_000);
  expect(ended.status).toBe("SUCCEEDED");
}

async function imagesOf(group: string): Promise<string[]> {
  const { AutoScalingGroups } = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
  );
  const ids = (AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId!);
  const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return [...new Set((Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.ImageId!))];
}

async function memberOf(group: string): Promise<string> {
  const { AutoScalingGroups } = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
  );
  return AutoScalingGroups![0]!.Instances!.find((i) => i.LifecycleState === "InService")!.InstanceId!;
}

async function statusOf(imageId: string) {
  const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  return Object.fromEntries((Images?.[0]?.Tags ?? []).map((t) => [t.Key, t.Value]))["phoenix:image-status"];
}

describe("a poisoned image", () => {
  it("is marked compromised after two containments, and its family rolls back to the last good image", async () => {
    const v2 = await registerImage(ec2, { family: "svc", name: "golden-svc-v2" });
    await rollOut(v2);
    const v3 = await registerImage(ec2, { family: "svc", name: "golden-svc-v3" });
    await rollOut(v3);
    expect(await imagesOf("svc-a")).toEqual([v3]);
    expect((await familyCompleted(pc.phoenix.deps, "svc"))?.imageId).toBe(v3);

    // One containment of a v3 instance: not yet a pattern.
    const first = await memberOf("svc-a");
    await putEvents("finding-1", [finding(first, "f-poison-1")]);
    expect((await waitForExecution(sfn, pc.phoenix.stateMachineArns.contain, first, 120_000)).status).toBe(
      "SUCCEEDED",
    );
    expect(await statusOf(v3)).toBeUndefined();

    // A second, in the other group: the image is the common cause.
    const second = await memberOf("svc-b");
    await putEvents("finding-2", [finding(second, "f-poison-2")]);
    expect((await waitForExecution(sfn, pc.phoenix.stateMachineArns.contain, second, 120_000)).status).toBe(
      "SUCCEEDED",
    );
    expect(await statusOf(v3)).toBe("compromised");
    const mark = (await pc.phoenix.deps.audit.history(`image/${v3}`)).find((r) => r.action === "mark-image");
    expect(mark).toMatchObject({
      outcome: "ok",
      actor: "phoenix:poisoned-image",
      details: {
        status: "compromised",
        family: "svc",
        instances: [first, second].sort(),
        findings: ["f-poison-1", "f-poison-2"],
      },
    });

    // The rollback is a rollout of v2 like any other, through the same workflow.
    const rollback = await waitForExecution(
      sfn,
      pc.phoenix.stateMachineArns.rollout,
      rollbackExecutionName("svc", v2, v3),
      150_000,
    );
    expect(rollback.status).toBe("SUCCEEDED");
    expect(await imagesOf("svc-a")).toEqual([v2]);
    expect(await imagesOf("svc-b")).toEqual([v2]);
    expect((await familyCompleted(pc.phoenix.deps, "svc"))?.imageId).toBe(v2);

    // v3 is refused from now on, by hand as by event.
    await putEvents("v3-again", [amiAvailable(v3)]);
    const refused = await until(
      "v3 refused",
      async () => (await pc.phoenix.deps.audit.history(`image/${v3}`)).find((r) => r.outcome === "refused"),
      30_000,
    );
    expect(refused.reason).toMatch(/compromised/);
  }, 600_000);
});

function finding(instanceId: string, findingId: string) {
  const event = findingEnvelope({ instanceId, findingId, type: "Backdoor:EC2/C&CActivity.B", severity: 8 });
  return {
    Source: event.source,
    DetailType: event["detail-type"],
    Detail: JSON.stringify(event.detail),
    Resources: [],
  };
}
