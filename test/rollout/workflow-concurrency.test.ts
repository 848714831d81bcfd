import { DescribeInstanceRefreshesCommand } from "@aws-sdk/client-auto-scaling";
import { StartExecutionCommand } from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { markImageRejected } from "../../src/rollout/aws/image-marks.js";
import { startedExecution, useRolloutEnvironment, waitForExecution } from "./support.js";

const GROUPS = ["batch-a", "batch-b", "batch-c"];
const env = useRolloutEnvironment({
  speed: 400,
  policy: { rollout: { maxConcurrentGroups: 2 } },
  groups: [
    ...GROUPS.map((name) => ({ name, family: "batch", wave: 1, managed: true, desired: 2 })),
    { name: "batch-guarded", family: "batch", wave: 1, managed: true, protected: true, desired: 1 },
  ],
});

/** The most refreshes that ran at the same instant, from their start and end times. */
function maxOverlap(intervals: { start: number; end: number }[]): number {
  const edges = intervals.flatMap(({ start, end }) => [
    { at: start, delta: 1 },
    { at: end, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let most = 0;
  for (const edge of edges) {
    running += edge.delta;
    most = Math.max(most, running);
  }
  return most;
}

describe("groups of one wave", () => {
  it("are refreshed in parallel, never more than policy.rollout.maxConcurrentGroups at once; a protected one is left alone", async () => {
    const image = await registerImage(env.ec2, { family: "batch", name: "batch-v2" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(image)));
    const result = await waitForExecution(env.deps.clients.sfn, execution);
    expect(result.status, result.cause).toBe("SUCCEEDED");

    const intervals = [];
    for (const group of GROUPS) {
      expect((await env.groupState(group)).images, group).toEqual([image]);
      const { InstanceRefreshes } = await env.autoScaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group }),
      );
      const refresh = InstanceRefreshes![0]!;
      intervals.push({ start: refresh.StartTime!.getTime(), end: refresh.EndTime!.getTime() });
    }
    expect(maxOverlap(intervals)).toBe(2);
    expect((await env.groupState("batch-guarded")).images).toEqual([env.fleet.images.batch]);
    const plan = (await env.deps.audit.history(`image/${image}`)).find((r) => r.action === "plan");
    expect(plan?.reason).toContain("1 protected");
  });

  it("a manual start of an image rejected since is refused by the workflow's own gate", async () => {
    const image = await registerImage(env.ec2, { family: "batch", name: "batch-v3" });
    await markImageRejected(env.deps, {
      imageId: image,
      family: "batch",
      reason: "found bad by hand",
      execution: "test",
    });
    await env.drainNotifications();
    const { executionArn } = await env.deps.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: env.stateMachineArn,
        name: "manual-rejected",
        input: JSON.stringify({ family: "batch", imageId: image }),
      }),
    );
    const result = await waitForExecution(env.deps.clients.sfn, executionArn!);
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("Phoenix.ImageRefused");
    expect(result.cause).toContain("found bad by hand");
    const notes = await env.drainNotifications();
    expect(notes).toContainEqual(expect.objectContaining({ kind: "image-refused" }));
    for (const group of GROUPS) expect((await env.groupState(group)).images).not.toContain(image);
  });
});
