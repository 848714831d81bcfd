import {
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { CreateTagsCommand, DescribeSecurityGroupsCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import type { SweepReport } from "../../src/drift/workflow/sweep.js";
import { phoenix } from "../cli/support.js";
import {
  type RolloutEnvironment,
  startedExecution,
  startRolloutEnvironment,
  waitForExecution,
} from "../rollout/support.js";

/**
 * `phoenix sweep` on the local cloud (report mode): the drift of a seeded fleet after a rollout
 * and two changes made by hand, exactly, and nothing changed but the isolation groups.
 */
let env: RolloutEnvironment;
let where: string[];
const sweep = (...argv: string[]) => phoenix(["sweep", ...argv, ...where], { PHOENIX_ACTOR: "oncall" });

beforeAll(async () => {
  env = await startRolloutEnvironment({
    speed: 600,
    policy: { rollout: { waveBakeMinutes: 0, refresh: { instanceWarmup: 10 } } },
    groups: [
      { name: "web-a", family: "web", wave: 1, managed: true, desired: 1 },
      { name: "web-b", family: "web", wave: 1, managed: true, desired: 1 },
      { name: "api-a", family: "api", wave: 1, managed: true, desired: 1 },
    ],
  });
  where = ["--endpoint", env.cloud.endpoint, "--stage", "test"];
}, 60_000);
afterAll(async () => {
  await env?.stop();
});

async function groupsNow() {
  const { AutoScalingGroups = [] } = await env.deps.clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({}),
  );
  return AutoScalingGroups.map((g) => ({
    name: g.AutoScalingGroupName,
    template: g.LaunchTemplate?.Version,
    instances: (g.Instances ?? []).map((i) => i.InstanceId).sort(),
  }));
}

describe("phoenix sweep", () => {
  it("reports no drift on a fleet fresh from its templates, and makes the VPC's isolation groups", async () => {
    const before = await env.ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: "tag-key", Values: ["phoenix:role"] }] }),
    );
    expect(before.SecurityGroups ?? []).toEqual([]);
    const run = await sweep("--json");
    expect(run.stderr).toBe("");
    const report = JSON.parse(run.stdout) as SweepReport;
    expect([run.code, report.mode, report.findings]).toEqual([0, "report", []]);
    expect(report.isolationGroups).toEqual({ vpcs: [env.fleet.vpcId], ensured: true });
    const after = await env.ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: "tag-key", Values: ["phoenix:role"] }] }),
    );
    expect((after.SecurityGroups ?? []).map((g) => g.VpcId)).toEqual([env.fleet.vpcId, env.fleet.vpcId]);
  });

  it("lists exactly the drifted group and instances after a rollout and changes by hand, and changes nothing", async () => {
    const v2 = await registerImage(env.ec2, { family: "web", name: "golden-web-v2" });
    const rollout = await waitForExecution(
      env.deps.clients.sfn,
      startedExecution(await env.onImage(env.amiAvailable(v2))),
      90_000,
    );
    expect(rollout.status).toBe("SUCCEEDED");
    // By hand: web-b back to its first template version (the old image); the standalone
    // instance claims the web family.
    const templateId = (await env.groupState("web-b")).version;
    expect(templateId).toBeDefined();
    const [webB] = (
      await env.deps.clients.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web-b"] }),
      )
    ).AutoScalingGroups!;
    await env.deps.clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: "web-b",
        LaunchTemplate: { LaunchTemplateId: webB!.LaunchTemplate!.LaunchTemplateId, Version: "1" },
      }),
    );
    await env.ec2.send(
      new CreateTagsCommand({
        Resources: [env.fleet.standaloneInstanceId],
        Tags: [{ Key: "phoenix:image-family", Value: "web" }],
      }),
    );
    const webBInstance = webB!.Instances![0]!.InstanceId!;
    const unchanged = await groupsNow();

    const run = await sweep("--json");
    const report = JSON.parse(run.stdout) as SweepReport;
    expect(run.code).toBe(1);
    expect(report.currentImages["web"]).toBe(v2);
    expect(report.findings.map((f) => [f.kind, f.subject]).sort()).toEqual(
      [
        ["group-behind", "group/web-b"],
        ["instance-image", `instance/${webBInstance}`],
        ["standalone", `instance/${env.fleet.standaloneInstanceId}`],
      ].sort(),
    );
    expect(report.findings.find((f) => f.kind === "group-behind")).toMatchObject({ expectedImageId: v2 });
    expect(await groupsNow()).toEqual(unchanged);

    // In the trail, by subject; people told once.
    const trail = await env.deps.audit.history("group/web-b");
    expect(trail.find((r) => r.action === "drift" && r.execution === report.sweepId)?.reason).toMatch(
      new RegExp(`not ${v2}`),
    );

    const api = await sweep("--family", "api");
    expect(api.code).toBe(0);
    expect(api.stdout).toMatch(/family api\): 0 finding/);
    const text = await sweep("--family", "web");
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/group\/web-b \[group-behind, web\]: launches ami-\w+, not /);
    expect(text.stdout).toContain("Nothing was changed.");
  }, 120_000);
});
