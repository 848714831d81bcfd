import {
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { CreateTagsCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { putDriftHold } from "../../src/drift/aws/holds.js";
import type { SweepReport } from "../../src/drift/workflow/sweep.js";
import { phoenix } from "../cli/support.js";
import {
  type RolloutEnvironment,
  startedExecution,
  startRolloutEnvironment,
  waitForExecution,
} from "../rollout/support.js";
import { until } from "../support/poll.js";

/**
 * `phoenix sweep` in enforce mode on the local cloud: family web enforces (one group per sweep),
 * family api only reports. The drifted web groups are replaced through the rollout workflow, one
 * now and one after a person approves its hold; a tainted web instance is replaced alone through
 * its group, as its session would have; api's drift is left as it is.
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
      { name: "web-c", family: "web", wave: 1, managed: true, desired: 1 },
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

    // web-a: on v2, but someone logged in to its instance; web-b and web-c: put back on their
    // old template by hand.
    const webA = await group("web-a");
    await taint(webA.instances[0]!);
    for (const name of ["web-b", "web-c"]) {
      const { found } = await group(name);
      await env.deps.clients.autoScaling.send(
        new UpdateAutoScalingGroupCommand({
          AutoScalingGroupName: name,
          LaunchTemplate: { LaunchTemplateId: found.LaunchTemplate!.LaunchTemplateId, Version: "1" },
        }),
      );
    }
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
        group: "web-b",
        imageId: v2,
        replaceAll: false,
        kinds: ["group-behind", "instance-image"],
        started: true,
      }),
    ]);
    expect(report.enforcement.held).toEqual([
      expect.objectContaining({ group: "web-c", imageId: v2, kinds: ["group-behind", "instance-image"] }),
    ]);
    // The tainted instance is not its group's drift: the session decision replaces it alone.
    expect(report.enforcement.tainted).toEqual([
      {
        instanceId: webA.instances[0],
        group: "web-a",
        family: "web",
        outcome: "replaced",
        reason: expect.stringMatching(
          /user\/bob opened a session \(ssm:StartSession\).*replaced through its group web-a/,
        ),
      },
    ]);
    expect(report.findings.map((f) => f.subject)).toContain(`instance/${apiA.instances[0]}`);

    // web-a: its instance terminated through the group, which launched a clean one from v2.
    const webAAfter = await until(
      "web-a replaced its tainted instance",
      async () => {
        const now = await group("web-a");
        return now.instances.length === 1 && !now.instances.includes(webA.instances[0]!) ? now : undefined;
      },
      60_000,
    );
    expect(webAAfter.found.DesiredCapacity).toBe(1);
    expect((await env.groupState("web-a")).images).toEqual([v2]);
    expect((await env.deps.audit.history(`instance/${webA.instances[0]}`)).map((r) => r.action)).toEqual(
      expect.arrayContaining(["drift", "session", "replace-through-group"]),
    );

    // web-b: onto v2 through a rollout.
    const enforced = report.enforcement.enforced[0]!;
    expect((await waitForExecution(env.deps.clients.sfn, enforced.executionArn, 120_000)).status).toBe(
      "SUCCEEDED",
    );
    expect((await env.groupState("web-b")).images).toEqual([v2]);

    // web-c waits for a person; approving plans it again from the fleet as it is now.
    expect((await env.groupState("web-c")).version).toBe("1");
    const holdId = report.enforcement.held[0]!.holdId;
    const approved = await cli("approve", holdId);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`Approved ${holdId}: replacing group web-c onto ${v2}`);
    const { executionArn } = JSON.parse((await cli("approve", holdId, "--json")).stdout) as {
      executionArn: string;
    };
    expect((await waitForExecution(env.deps.clients.sfn, executionArn, 120_000)).status).toBe("SUCCEEDED");
    const webCAfter = await env.groupState("web-c");
    expect(webCAfter.version).not.toBe("1");
    expect(webCAfter.images).toEqual([v2]);
    const again = await cli("approve", holdId);
    expect(again.stdout).toContain("was already approved");

    // A hold whose group no longer drifts starts nothing; one older than two sweep periods is refused.
    const stale = {
      group: "web-b",
      family: "web",
      imageId: v2,
      replaceAll: false,
      kinds: ["group-behind" as const],
      reasons: ["group/web-b: behind"],
    };
    await putDriftHold(env.deps, { ...stale, holdId: "drift-hold-0000000000aa", sweepId: "sweep-fixed" });
    const resolved = await cli("approve", "drift-hold-0000000000aa");
    expect(resolved.code).toBe(1);
    expect(resolved.stderr).toMatch(/not approved: group web-b no longer drifts.*Nothing was started/);
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000);
    await putDriftHold(
      { ...env.deps, now: () => threeDaysAgo },
      { ...stale, group: "web-c", holdId: "drift-hold-0000000000bb", sweepId: "sweep-old" },
    );
    const expired = await cli("approve", "drift-hold-0000000000bb");
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(
      /expired at .*two sweep periods \(drift.schedule rate\(1 day\)\).*phoenix sweep/,
    );
    expect(await env.deps.audit.history("group/web-c")).not.toContainEqual(
      expect.objectContaining({ execution: "drift-hold-0000000000bb" }),
    );

    // api-a was only reported.
    expect((await group("api-a")).instances).toEqual(apiA.instances);
    const trail = await env.deps.audit.history("group/web-c");
    expect(trail.map((r) => `${r.action}:${r.outcome}`)).toEqual(
      expect.arrayContaining(["drift-enforce:held", "drift-enforce:ok"]),
    );

    expect((await cli("approve", "drift-hold-000000000000")).code).toBe(2);
  }, 300_000);
});
