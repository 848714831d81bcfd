import { describe, expect, it } from "vitest";
import { auditCoverage } from "./support/audit-coverage.js";
import { useWorkflowEnv } from "./support/workflows.js";

/** Definitions: test/reliability/support/audit-coverage.ts. */
const env = useWorkflowEnv();

describe("audit completeness", () => {
  it("every change Phoenix made to the cloud (containment, rollout) has an audit record: zero missing", async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const mark = env.recorder.mark();
    const victim = env.fleet.groups.find((g) => g.name === "api")!.instanceIds[0]!;
    const [contained, rolled] = await Promise.all([env.contain(victim), env.rollout("web", "web-audited")]);
    expect(contained.status).toBe("SUCCEEDED");
    expect(rolled.status).toBe("SUCCEEDED");
    const records = await env.phoenix.deps.audit.since(since);
    const report = auditCoverage(env.recorder.phoenixMutations(mark), records);
    expect(report.checked).toBeGreaterThan(10);
    expect(report.missing).toEqual([]);
  }, 85_000);
});
