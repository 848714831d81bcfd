import { describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { startedExecution, useRolloutEnvironment, waitForExecution } from "./support.js";

// Two SDK attempts only: about one Auto Scaling call in eleven still fails after them, so the
// workflow's own Retry (Phoenix.Transient, jittered backoff) is exercised, not just the SDK's.
const env = useRolloutEnvironment({
  speed: 400,
  backoff: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 50 },
});

describe("rollout under throttling", () => {
  it("ends correctly with 30% of Auto Scaling calls throttled and 10% of EC2 calls failing", async () => {
    const image = await registerImage(env.ec2, { family: "web", name: "web-throttled" });
    const execution = startedExecution(await env.onImage(env.amiAvailable(image)));
    // From the plan step on, every step of the workflow runs through the faults.
    env.cloud.context.faults.configure({
      seed: 7,
      rules: [
        { service: "autoscaling", throttleRate: 0.3 },
        { service: "ec2", errorRate: 0.1 },
      ],
    });
    try {
      const result = await waitForExecution(env.deps.clients.sfn, execution, 50_000);
      expect(result.status, result.cause).toBe("SUCCEEDED");
    } finally {
      env.cloud.context.faults.configure({ seed: 1, rules: [] });
    }
    expect((await env.groupState("web-frontend")).images).toEqual([image]);
    expect((await env.groupState("web-backend")).images).toEqual([image]);
    expect(env.cloud.context.faults.injected.throttle).toBeGreaterThan(10);
    const throttled = new Set(
      env.cloud.context.callLog
        .since(0)
        .filter((call) => call.fault === "throttle")
        .map((call) => call.action),
    );
    expect(throttled).toContain("DescribeInstanceRefreshes");
    expect(throttled).toContain("DescribeAutoScalingGroups");
    // Some steps failed even after the SDK's attempts, and the state machine's Retry took them over.
    expect(env.stepErrors.filter((error) => error.name === "Phoenix.Transient").length).toBeGreaterThan(0);
    // Exactly one refresh per group despite retries: StartInstanceRefresh retried after a throttle
    // must not start a second one, and no launch template version is made twice.
    for (const group of ["web-frontend", "web-backend"]) {
      const starts = (await env.deps.audit.history(`group/${group}`)).filter(
        (r) => r.action === "start-refresh",
      );
      expect(new Set(starts.map((r) => r.details?.refreshId)).size, group).toBe(1);
      expect((await env.groupState(group)).version, group).toBe("2");
    }
  });
});
