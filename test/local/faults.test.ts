import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { FaultInjector, validateFaultPlan } from "../../local/gateway/faults.js";
import { awsCli, clientConfig, startTestCloud } from "../support/cloud.js";

let cloud: LocalCloud;
beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [] });
});
afterAll(async () => {
  await cloud?.stop();
});
beforeEach(() => cloud.context.faults.configure({ seed: 1, rules: [] }));

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e,
  );

describe("fault injection", () => {
  it("throttles Auto Scaling with its real error code, which the SDK reads as throttling", async () => {
    cloud.context.faults.configure({ seed: 7, rules: [{ service: "autoscaling", throttleRate: 1 }] });
    const error = await errorOf(
      new AutoScalingClient(clientConfig(cloud, 1)).send(new DescribeAutoScalingGroupsCommand({})),
    );
    expect(error?.name).toBe("Throttling");
    expect(error?.$metadata?.httpStatusCode).toBe(400);
  });

  it("throttles EC2 with RequestLimitExceeded, and leaves other services alone", async () => {
    cloud.context.faults.configure({ seed: 7, rules: [{ service: "ec2", throttleRate: 1 }] });
    const error = await errorOf(new EC2Client(clientConfig(cloud, 1)).send(new DescribeVpcsCommand({})));
    expect(error?.name).toBe("RequestLimitExceeded");
    await expect(
      new DynamoDBClient(clientConfig(cloud, 1)).send(new ListTablesCommand({})),
    ).resolves.toBeDefined();
  });

  it("answers 5xx for a share of calls, reproducibly from the seed", async () => {
    const plan = { seed: 42, rules: [{ service: "ec2", action: "DescribeVpcs", errorRate: 0.5 }] };
    const outcomes = async () => {
      cloud.context.faults.configure(plan);
      const ec2 = new EC2Client(clientConfig(cloud, 1));
      const seen: string[] = [];
      for (let i = 0; i < 12; i++)
        seen.push((await errorOf(ec2.send(new DescribeVpcsCommand({}))))?.name ?? "ok");
      return seen;
    };
    const first = await outcomes();
    expect(first).toContain("InternalError");
    expect(first).toContain("ok");
    expect(await outcomes()).toEqual(first);
  });

  it("adds latency", async () => {
    cloud.context.faults.configure({ seed: 1, rules: [{ service: "dynamodb", latencyMs: 300 }] });
    const started = Date.now();
    await new DynamoDBClient(clientConfig(cloud)).send(new ListTablesCommand({}));
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it("is configured through its control route, and the AWS CLI sees the throttling code", async () => {
    const put = await fetch(`${cloud.endpoint}/_phoenix/faults`, {
      method: "PUT",
      body: JSON.stringify({ seed: 3, rules: [{ service: "autoscaling", throttleRate: 1 }] }),
    });
    expect(put.status).toBe(200);
    const error = await awsCli(cloud, [
      "autoscaling",
      "describe-auto-scaling-groups",
      "--cli-read-timeout",
      "5",
    ]).then(
      () => undefined,
      (e: { stderr?: string }) => e,
    );
    expect(error?.stderr).toMatch(/Throttling|Rate exceeded/);
    expect(cloud.context.faults.injected.throttle).toBeGreaterThan(0);
  });

  it("rejects a bad plan with the field named", async () => {
    const response = await fetch(`${cloud.endpoint}/_phoenix/faults`, {
      method: "PUT",
      body: JSON.stringify({ seed: 1, rules: [{ service: "ec2", throttleRate: 2 }] }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("rules[0].throttleRate must be 0..1");
    expect(() => validateFaultPlan({ rules: [{}] })).toThrow("rules[0].service");
  });

  it("matches the first rule for the service and action", () => {
    const faults = new FaultInjector();
    faults.configure({
      seed: 1,
      rules: [
        { service: "ec2", action: "RunInstances", throttleRate: 1 },
        { service: "*", errorRate: 1 },
      ],
    });
    expect(faults.decide({ service: "ec2", action: "RunInstances", protocol: "query" }).kind).toBe(
      "throttle",
    );
    expect(faults.decide({ service: "ec2", action: "DescribeVpcs", protocol: "query" }).kind).toBe("5xx");
    expect(faults.decide({ service: "sqs", action: "SendMessage", protocol: "json" }).kind).toBe("5xx");
  });
});
