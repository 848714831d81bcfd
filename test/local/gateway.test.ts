import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { awsCli, clientConfig, startTestCloud } from "../support/cloud.js";

let cloud: LocalCloud;
beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [] });
});
afterAll(async () => {
  await cloud?.stop();
});

describe("gateway", () => {
  it("answers health with JSON once ready", async () => {
    const response = await fetch(`${cloud.endpoint}/_phoenix/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; accountId: string };
    expect(body.status).toBe("ok");
    expect(body.accountId).toBe("123456789012");
  });

  it("forwards what moto serves, to the SDK and to the AWS CLI alike", async () => {
    const ec2 = new EC2Client(clientConfig(cloud));
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-12c6146b",
        MinCount: 1,
        MaxCount: 1,
        InstanceType: "t3.micro",
      }),
    );
    const id = run.Instances?.[0]?.InstanceId;
    expect(id).toMatch(/^i-[0-9a-f]+$/);
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id!] }));
    expect(described.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(id);
    const cli = (await awsCli(cloud, ["ec2", "describe-instances", "--instance-ids", id!])) as {
      Reservations: { Instances: { InstanceId: string }[] }[];
    };
    expect(cli.Reservations[0]?.Instances[0]?.InstanceId).toBe(id);
  });

  it("records every call it served in its call log", async () => {
    const before = cloud.context.callLog.count({ service: "autoscaling" });
    await new AutoScalingClient(clientConfig(cloud)).send(new DescribeAutoScalingGroupsCommand({}));
    expect(cloud.context.callLog.count({ service: "autoscaling", action: "DescribeAutoScalingGroups" })).toBe(
      before + 1,
    );
  });

  it("names an unknown control route", async () => {
    const response = await fetch(`${cloud.endpoint}/_phoenix/nope`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("/_phoenix/nope");
  });
});
