import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import type { ContainState } from "../../src/containment/core/types.js";
import { traceImage } from "../../src/containment/workflow/trace-image.js";
import { markImage } from "../../src/rollout/aws/image-marks.js";
import { familyCompleted } from "../../src/rollout/aws/rollout-records.js";
import { rollBackFamily } from "../../src/rollout/workflow/rollback.js";
import { IMAGE_STATUS_COMPROMISED, IMAGE_STATUS_REJECTED } from "../../src/tags.js";
import {
  type RolloutEnvironment,
  startedExecution,
  startRolloutEnvironment,
  waitForExecution,
} from "../rollout/support.js";
import { waitForExecution as waitForNamed } from "../support/executions.js";

/**
 * Issue 16, "A poisoned image": the family rolls back to the last image that rolled out
 * successfully *and that the gate lets through now*. An image rejected since it rolled out is
 * passed over, with a reason, for the one before it; when none passes, nothing starts (a rollback
 * onto a refused image would be stopped by the workflow's gate and leave the family on the bad
 * image while reporting a rollback).
 */
let env: RolloutEnvironment;

beforeAll(async () => {
  env = await startRolloutEnvironment({
    speed: 600,
    policy: { rollout: { waveBakeMinutes: 0, refresh: { instanceWarmup: 10 } } },
    groups: [
      { name: "web-a", family: "web", wave: 1, managed: true, desired: 1 },
      { name: "api-a", family: "api", wave: 1, managed: true, desired: 1 },
      { name: "db-a", family: "db", wave: 1, managed: true, desired: 2 },
    ],
  });
});
afterAll(async () => {
  await env?.stop();
});

async function rollOut(family: string, name: string): Promise<string> {
  // Images are ordered by CreationDate, to the second: each one of a later second than the last,
  // as a pipeline's are (two in one second would be ordered by id, at random).
  await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
  const imageId = await registerImage(env.ec2, { family, name });
  const ended = await waitForExecution(
    env.deps.clients.sfn,
    startedExecution(await env.onImage(env.amiAvailable(imageId))),
    120_000,
  );
  expect(ended.status).toBe("SUCCEEDED");
  expect((await familyCompleted(env.deps, family))?.imageId).toBe(imageId);
  return imageId;
}

const mark = (
  imageId: string,
  family: string,
  status: typeof IMAGE_STATUS_REJECTED | typeof IMAGE_STATUS_COMPROMISED,
  reason: string,
) => markImage(env.deps, { imageId, family, status, reason, execution: `test-${imageId}`, actor: "test" });

describe("a rollback's target", () => {
  it("passes over an earlier image the gate refuses now, for the good one before it", async () => {
    const v1 = await rollOut("web", "golden-web-v1");
    const v2 = await rollOut("web", "golden-web-v2");
    const v3 = await rollOut("web", "golden-web-v3");
    await mark(v2, "web", IMAGE_STATUS_REJECTED, "CVE found after it rolled out");
    await mark(v3, "web", IMAGE_STATUS_COMPROMISED, "2 containments");

    const rollback = await rollBackFamily(env.deps, {
      family: "web",
      from: v3,
      reason: "2 containments",
      actor: "phoenix:poisoned-image",
    });
    expect(rollback).toMatchObject({ kind: "started", imageId: v1 });
    expect(rollback.reason).toContain(`passed over, refused by the gate now: ${v2}`);
    expect(rollback.reason).toMatch(/rejected/);
    const back = await waitForNamed(
      env.deps.clients.sfn,
      env.stateMachineArn,
      rollback.kind === "started" ? rollback.execution : "none",
      180_000,
    );
    expect(back.status).toBe("SUCCEEDED");
    expect((await env.groupState("web-a")).images).toEqual([v1]);
    const audited = (await env.deps.audit.history(`image/${v1}`)).find((r) => r.action === "request-rollout");
    expect(audited).toMatchObject({ outcome: "ok", details: { rollbackFrom: v3 } });
    expect(audited?.reason).toContain(v2);
  }, 600_000);

  it("starts nothing when no earlier image passes the gate, and says which were refused", async () => {
    const a1 = await rollOut("api", "golden-api-a1");
    const a2 = await rollOut("api", "golden-api-a2");
    await mark(a1, "api", IMAGE_STATUS_REJECTED, "CVE");
    await mark(a2, "api", IMAGE_STATUS_COMPROMISED, "2 containments");
    const rollback = await rollBackFamily(env.deps, {
      family: "api",
      from: a2,
      reason: "2 containments",
      actor: "phoenix:poisoned-image",
    });
    expect(rollback.kind).toBe("no-good-image");
    expect(rollback.reason).toContain(a1);
    expect(rollback.reason).toMatch(/stay on/);
    expect((await env.groupState("api-a")).images).toEqual([a2]);
    const requested = (await env.deps.audit.history(`image/${a1}`)).filter(
      (r) => r.action === "request-rollout",
    );
    expect(requested).toEqual([]);
  }, 600_000);

  it("when the rollback cannot start, still marks the image, tells people, and audits the failure", async () => {
    // d1 is the last good image the rollback would go to.
    await rollOut("db", "golden-db-d1");
    const d2 = await rollOut("db", "golden-db-d2");
    const { AutoScalingGroups } = await env.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["db-a"] }),
    );
    const [first, second] = (AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId!);
    const state = (instanceId: string, findingId: string): ContainState => ({
      containment: {
        containmentId: `contain_test_${instanceId}`,
        instanceId,
        accountId: env.deps.accountId,
        findingId,
        findingType: "Backdoor:EC2/C&CActivity.B",
        severity: 8,
        findingReceivedAt: new Date().toISOString(),
        generation: 1,
        groupName: "db-a",
      },
      results: {},
    });
    expect(await traceImage(env.deps, state(first!, "f-db-1"))).toMatchObject({ compromised: false });
    env.drainNotifications();
    // The rollout workflow cannot be started (as if Step Functions refused it).
    const broken = {
      ...env.deps,
      resources: {
        ...env.deps.resources,
        rolloutStateMachineArn: `arn:aws:states:us-east-1:${env.deps.accountId}:stateMachine:no-such-machine`,
      },
    };
    const traced = await traceImage(broken, state(second!, "f-db-2"));
    expect(traced).toMatchObject({ compromised: true, imageId: d2, rollback: "failed" });

    const { Images = [] } = await env.ec2.send(new DescribeImagesCommand({ ImageIds: [d2] }));
    expect(Images[0]?.Tags).toContainEqual({ Key: "phoenix:image-status", Value: "compromised" });
    const failed = (await env.deps.audit.history(`image/${d2}`)).find((r) => r.action === "rollback");
    expect(failed).toMatchObject({ outcome: "failed" });
    expect(failed?.reason).toContain("could not be started");
    const told = env.drainNotifications().find((n) => n.subject === `Image ${d2} marked compromised`);
    expect(told?.message).toContain("could not be started");
    expect(told?.message).toContain("phoenix rollout");
    // Nothing rolled back: the groups stay on d2 until a person acts.
    expect((await env.groupState("db-a")).images).toEqual([d2]);
  }, 600_000);
});
