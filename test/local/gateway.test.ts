import { request as httpRequest } from "node:http";
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

/** A raw HTTP call to the gateway, with headers fetch() would not let a test set (Host). */
function raw(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { port } = new URL(cloud.endpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("gateway refuses what web pages send", () => {
  const describeInstances = "Action=DescribeInstances&Version=2016-11-15";
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const own = () => `http://127.0.0.1:${new URL(cloud.endpoint).port}`;

  it("refuses a request from another origin, and grants no origin cross-origin reads", async () => {
    const refused = await raw("/", {
      method: "POST",
      headers: { ...form, origin: "http://evil.example" },
      body: describeInstances,
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain("cross-origin request refused (Origin http://evil.example)");
    expect(refused.headers["access-control-allow-origin"]).toBeUndefined();

    // Its own origin (a page the gateway served) is served, still without CORS headers.
    const served = await raw("/", {
      method: "POST",
      headers: { ...form, origin: own() },
      body: describeInstances,
    });
    expect(served.status).toBe(200);
    expect(served.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refuses CORS preflights from other origins, and the null origin", async () => {
    const preflight = await raw("/", {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-amz-target",
      },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    const sandboxed = await raw("/", {
      method: "POST",
      headers: { ...form, origin: "null" },
      body: describeInstances,
    });
    expect(sandboxed.status).toBe(403);
  });

  it("refuses a Host that is not loopback (DNS rebinding), serves every loopback name", async () => {
    const { port } = new URL(cloud.endpoint);
    const rebound = await raw(`/?${describeInstances}`, { headers: { host: `evil.example:${port}` } });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toContain("addressed to evil.example:");
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, "localhost"]) {
      expect((await raw(`/?${describeInstances}`, { headers: { host } })).status, host).toBe(200);
    }
  });

  it("refuses cross-site requests without an Origin, but lets a link open the local pages", async () => {
    const csrf = await raw(`/?${describeInstances}`, {
      headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image" },
    });
    expect(csrf.status).toBe(403);
    const navigation = await raw("/_phoenix/health", {
      headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" },
    });
    expect(navigation.status).toBe(200);
    const typed = await raw("/_phoenix/health", { headers: { "sec-fetch-site": "none" } });
    expect(typed.status).toBe(200);
  });

  it("guards the control routes too: no web page changes the fault plan", async () => {
    const before = await (await fetch(`${cloud.endpoint}/_phoenix/faults`)).json();
    const refused = await raw("/_phoenix/faults", {
      method: "PUT",
      headers: { "content-type": "text/plain", origin: "http://evil.example" },
      body: JSON.stringify({ seed: 1, rules: [{ service: "ec2", errorRate: 1 }] }),
    });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error).toContain("cross-origin request refused");
    expect(await (await fetch(`${cloud.endpoint}/_phoenix/faults`)).json()).toEqual(before);
  });
});
