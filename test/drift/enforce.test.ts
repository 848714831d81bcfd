import {
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { CreateTagsCommand } from "@aws-sdk/client-ec2";
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
 * `phoenix sweep` in enforce mode on the local cloud: family web enforces (one group per sweep),
 * family api only reports. The drifted web groups are replaced through the rollout workflow, one
 * now and one after a person approves its hold; api's drift is left as it is.
 */
let env: RolloutEnvironment;
let where: string[];
const POLICY = {
  rollout: { waveBakeMinutes: 0, refresh: { instanceWarmup: 10 } },
  drift: { mode: "enforce", maxGroupsPerSweep: 1, families: { api: { mode: "report" } } },
};
// The CLI decides with the policy it is given, as the deployed sweep does with its own.
const cli = (...argv: string[]) =>
  phoenix([...argv, ...where], { PHOENIX_ACTOR: "oncall", PHOENIX_POLICY: JSON.stringify(POLICY) });

beforeAll(async () => {
  env = await startRolloutEnvironment({
    speed: 600,
    policy: POLICY,
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

async function group(name: string) {
  const { AutoScalingGroups } = await env.deps.clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const found = AutoScalingGroups![0]!;
  return { found, instances: (found.Instances ?? []).map((i) => i.InstanceId!).sort() };
}

const taint = (instanceId: string) =>
  env.ec2.send(
    new CreateTagsCommand({
      Resources: [instanceId],
      Tags: [
        {
          Key: "phoenix:tainted",
          Value: "arn:aws:iam::123456789012:user/bob, 2026-12-01T10:00:00.000Z, ssm:StartSession",
        },
      ],
    }),
  );

describe("phoenix sweep, enforce mode", () => {
  it("replaces drifted groups within its budget, holds the rest for approval, and leaves report-mode families alone", async () => {
    const v2 = await registerImage(env.ec2, { family: "web", name: "golden-web-v2" });
    const rollout = await waitForExecution(
      env.deps.clients.sfn,
      startedExecution(await env.onImage(env.amiAvailable(v2))),
      90_000,
    );
    expect(rollout.status).toBe("SUCCEEDED");

    // web-a: on v2, but someone logged in to its instance; web-b: put back on its old template by hand.
    const webA = await group("web-a");
    await taint(webA.instances[0]!);
    const webB = await group("web-b");
    await env.deps.clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: "web-b",
        LaunchTemplate: { LaunchTemplateId: webB.found.LaunchTemplate!.LaunchTemplateId, Version: "1" },
      }),
    );
    // api-a: tainted too, in a family that only reports.
    const apiA = await group("api-a");
    await taint(apiA.instances[0]!);

    const run = await cli("sweep", "--json");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as SweepReport;
    expect([report.mode, report.modes]).toEqual(["enforce", { api: "report" }]);
    expect(report.enforcement.enforced).toEqual([
      expect.objectContaining({
        group: "web-a",
        imageId: v2,
        replaceAll: true,
        kinds: ["tainted"],
        started: true,
      }),
    ]);
    expect(report.enforcement.held).toEqual([
      expect.objectContaining({
        group: "web-b",
        imageId: v2,
        replaceAll: false,
        kinds: ["group-behind", "instance-image"],
      }),
    ]);
    expect(report.findings.map((f) => f.subject)).toContain(`instance/${apiA.instances[0]}`);

    // web-a: its instance replaced through a rollout of its own image, every instance (SkipMatching off).
    const enforced = report.enforcement.enforced[0]!;
    const replaced = await waitForExecution(env.deps.clients.sfn, enforced.executionArn, 120_000);
    expect(replaced.status).toBe("SUCCEEDED");
    const webAAfter = await group("web-a");
    expect(webAAfter.instances).toHaveLength(1);
    expect(webAAfter.instances).not.toContain(webA.instances[0]);
    expect((await env.groupState("web-a")).images).toEqual([v2]);

    // web-b waits for a person.
    expect((await env.groupState("web-b")).version).toBe("1");
    const holdId = report.enforcement.held[0]!.holdId;
    const approved = await cli("approve", holdId);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`Approved ${holdId}: replacing group web-b onto ${v2}`);
    const { executionArn } = JSON.parse((await cli("approve", holdId, "--json")).stdout) as {
      executionArn: string;
    };
    expect((await waitForExecution(env.deps.clients.sfn, executionArn, 120_000)).status).toBe("SUCCEEDED");
    const webBAfter = await env.groupState("web-b");
    expect(webBAfter.version).not.toBe("1");
    expect(webBAfter.images).toEqual([v2]);
    const again = await cli("approve", holdId);
    expect(again.stdout).toContain("was already approved");

    // api-a was only reported.
    expect((await group("api-a")).instances).toEqual(apiA.instances);
    const trail = await env.deps.audit.history("group/web-b");
    expect(trail.map((r) => `${r.action}:${r.outcome}`)).toEqual(
      expect.arrayContaining(["drift-enforce:held", "drift-enforce:ok"]),
    );

    expect((await cli("approve", "drift-hold-000000000000")).code).toBe(2);
  }, 300_000);
});
