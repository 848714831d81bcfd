import { describe, expect, it } from "vitest";
import { getContainment } from "../../src/containment/aws/records.js";
import { ACCOUNT, guardDutyEvent, TOR_CLIENT, useHarness } from "./support/fixtures.js";

const h = useHarness({ policy: { containment: { allowSampleFindings: true } } });

const mark = () => h.tap.mark();
const mutationsSince = (m: number) => h.tap.mutationsSince(m).map((c) => c.action);
const deliver = (bodies: unknown[]) => h.onFinding(bodies);
const startedExecutions = () => h.containExecutions();

describe("dedupe: one containment per instance at a time", () => {
  it("starts exactly one containment for 100 copies of a finding and 20 other findings on the same instance", async () => {
    const instanceId = h.fleet.groups[0]!.instanceIds[0]!;
    const copies = Array.from({ length: 100 }, (_, i) =>
      guardDutyEvent(TOR_CLIENT, {
        instanceId,
        findingId: "flood000000000000000000000000001",
        count: 2 + (i % 7),
        updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 7)).toISOString(),
      }),
    );
    const others = Array.from({ length: 20 }, (_, i) =>
      guardDutyEvent("trojan-ec2-dnsdataexfiltration-actor.json", {
        instanceId,
        findingId: `other${String(i).padStart(27, "0")}`,
      }),
    );
    const all = [...copies, ...others].sort(() => Math.random() - 0.5);
    const m = mark();
    const before = (await startedExecutions()).length;
    // Twelve Lambda invocations at once, as SQS would with a full queue.
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => deliver(all.slice(i * 10, i * 10 + 10))),
    );
    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
    expect(h.tap.since(m, { action: "StartExecution" })).toHaveLength(1);
    expect((await startedExecutions()).length).toBe(before + 1);
    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.status).toBe("running");
    expect(record?.deliveries).toBe(120);
    expect(Object.keys(record!.findings)).toHaveLength(21);
    // The newest copy is what the record keeps.
    expect(record!.findings["flood000000000000000000000000001"]?.count).toBe(8);
    expect(mutationsSince(m)).toEqual(["StartExecution"]);
  });
});
