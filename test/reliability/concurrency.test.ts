import { EC2Client } from "@aws-sdk/client-ec2";
import { DescribeExecutionCommand, ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { createOnFindingHandler } from "../../functions/on-finding.js";
import { registerImage } from "../../local/core/seed.js";
import { getContainment } from "../../src/containment/aws/records.js";
import { findingEnvelope, lambdaContext, sqsBatch } from "../support/lambda-events.js";
import { useWorkflowEnv, type WorkflowEnv } from "./support/workflows.js";

/**
 * Findings on every instance of the web groups and on api, each delivered several times in
 * parallel Lambda invocations, while a rollout of the web family runs on the same groups.
 * Budgets (default policy: one containment per group at a time, five per account per hour) and
 * the one-execution-per-instance rule must hold; everything that was started must end.
 */
const env = useWorkflowEnv();

describe("concurrency on overlapping groups", () => {
  it("locks and budgets hold with many findings and a rollout at once", async () => {
    const groups = ["web-frontend", "web-backend", "api"];
    const victims = env.fleet.groups.filter((g) => groups.includes(g.name)).flatMap((g) => g.instanceIds);
    const groupOf = new Map(
      env.fleet.groups.flatMap((g) => g.instanceIds.map((id) => [id, g.name] as const)),
    );
    const onFinding = createOnFindingHandler(env.phoenix.deps);
    const findings = victims.map((instanceId) => findingEnvelope({ instanceId }));
    // Three copies of each finding, in different batches, all invocations at once.
    const batches = [0, 1, 2].map((copy) => sqsBatch(findings.map((f, i) => ({ ...f, id: `${copy}-${i}` }))));
    const gateway = { ...env.cloud.context.internalClientConfig, endpoint: env.cloud.endpoint };
    const [image, ...results] = await Promise.all([
      registerImage(new EC2Client(gateway), { family: "web", name: "web-concurrent" }),
      ...batches.map((b) => onFinding(b, lambdaContext("on-finding"))),
    ]);
    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);

    // Everything started ends.
    const deadline = Date.now() + 70_000;
    let executions = await listAll(env);
    while (executions.some((e) => e.status === "RUNNING") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      executions = await listAll(env);
    }
    expect(executions.filter((e) => e.status === "RUNNING").map((e) => e.name)).toEqual([]);
    const rollout = executions.find((e) => e.machine === "rollout" && e.name.includes(image));
    // The rollout succeeds although containments detach instances of its groups mid-refresh.
    const described = await env.sfn.send(new DescribeExecutionCommand({ executionArn: rollout!.arn }));
    expect([rollout?.status, described.cause]).toEqual(["SUCCEEDED", undefined]);

    const contains = executions.filter((e) => e.machine === "contain");
    // One execution per instance at most, however many copies arrived.
    const perInstance = new Map<string, number>();
    for (const e of contains) {
      const id = victims.find((v) => e.name.includes(v))!;
      perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
    }
    expect([...perInstance.values()].every((n) => n === 1)).toBe(true);
    // Account budget: at most five started in the window.
    expect(contains.length).toBeLessThanOrEqual(5);
    // Group budget: never two containments of one group running at the same time.
    for (const group of groups) {
      const spans = contains
        .filter((e) => groupOf.get(victims.find((v) => e.name.includes(v))!) === group)
        .map((e) => [e.start, e.stop] as const)
        .sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++)
        expect(spans[i]![0], group).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    }
    // Nothing is lost: every victim is contained, or held for a person.
    const statuses = await Promise.all(
      victims.map(
        async (id) => (await getContainment(env.phoenix.deps, env.cloud.context.accountId, id))?.status,
      ),
    );
    expect(statuses.filter((s) => s === undefined)).toEqual([]);
    expect(statuses.filter((s) => s === "held").length + contains.length).toBe(victims.length);
  }, 88_000);
});

async function listAll(env: WorkflowEnv) {
  const out: { machine: string; arn: string; name: string; status: string; start: number; stop: number }[] =
    [];
  for (const [machine, arn] of Object.entries(env.phoenix.stateMachineArns)) {
    const { executions = [] } = await env.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 1000 }),
    );
    for (const e of executions)
      out.push({
        machine,
        arn: e.executionArn!,
        name: e.name!,
        status: e.status!,
        start: e.startDate?.getTime() ?? 0,
        stop: e.stopDate?.getTime() ?? Number.POSITIVE_INFINITY,
      });
  }
  return out;
}
