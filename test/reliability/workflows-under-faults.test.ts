import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { repeatedActions } from "./support/recorder.js";
import { useWorkflowEnv, type WorkflowEnv } from "./support/workflows.js";

/**
 * Both workflows, end to end on the local cloud (real handlers, real state machines), with 30%
 * of calls throttled, 5% answered with a 5xx and up to 30 ms of jitter on every service Phoenix
 * calls. Short form: one seed; PHOENIX_LONG=1: five; PHOENIX_FAULT_SEEDS=23,41 picks seeds.
 */
const SEEDS = process.env.PHOENIX_FAULT_SEEDS
  ? process.env.PHOENIX_FAULT_SEEDS.split(",").map(Number)
  : process.env.PHOENIX_LONG === "1"
    ? [11, 23, 37, 41, 59]
    : [11];

// At the default clock (×200): task timeouts stay in real seconds (local/stepfunctions), so a
// step slowed by injected faults is not timed out and run twice while it still works.
const env = useWorkflowEnv();

describe.each(SEEDS)("seed %i: throttling 30%, 5xx 5%, jitter", (seed) => {
  it("a containment and a rollout both end correct, no action done twice", async () => {
    const mark = env.recorder.mark();
    // A new victim each round (the group's replacement of the last one, once it is in service)
    // and a new image; the rollout's family (web) is not the victim's.
    const victim = (await groupInstances(env, "api"))[0]!;
    env.cloud.context.faults.configure({
      seed,
      rules: [{ service: "*", throttleRate: 0.3, errorRate: 0.05, jitterMs: 30 }],
    });
    let contained: { status: string };
    let rolled: { status: string; imageId: string };
    try {
      [contained, rolled] = await Promise.all([
        env.contain(victim),
        env.rollout("web", `web-faults-${seed}`),
      ]);
    } finally {
      env.cloud.context.faults.configure({ seed: 1, rules: [] });
    }
    expect(env.cloud.context.faults.injected.throttle).toBeGreaterThan(20);
    expect(contained.status).toBe("SUCCEEDED");
    expect(rolled.status).toBe("SUCCEEDED");
    const ec2 = new EC2Client(env.cloud.context.internalClientConfig);
    const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [victim] }));
    expect(Reservations[0]?.Instances?.[0]?.State?.Name).toBe("terminated");
    for (const group of ["web-frontend", "web-backend"]) {
      const ids = await groupInstances(env, group);
      const { Reservations: rs = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
      expect(
        rs.flatMap((r) => r.Instances ?? []).map((i) => i.ImageId),
        group,
      ).toEqual(ids.map(() => rolled.imageId));
    }
    // Phoenix's own bookkeeping (DynamoDB conditional writes) may be re-sent by design; every
    // change to the fleet, every notification and every start is made exactly once.
    const changes = env.recorder.phoenixMutations(mark).filter((c) => c.service !== "dynamodb");
    expect(changes.length).toBeGreaterThan(10);
    expect(repeatedActions(changes)).toEqual([]);
  }, 85_000);
});

async function groupInstances(env: WorkflowEnv, group: string): Promise<string[]> {
  const { AutoScalingClient, DescribeAutoScalingGroupsCommand } = await import(
    "@aws-sdk/client-auto-scaling"
  );
  const { AutoScalingGroups = [] } = await new AutoScalingClient(env.cloud.context.internalClientConfig).send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
  );
  return (AutoScalingGroups[0]?.Instances ?? []).map((i) => i.InstanceId!);
}
