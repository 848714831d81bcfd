import { describe, expect, it } from "vitest";
import { groupMembers, windowBuckets } from "../../src/containment/aws/budget-counters.js";
import { getHold } from "../../src/containment/aws/hold-records.js";
import {
  type ContainmentItem,
  finishContainment,
  getContainment,
} from "../../src/containment/aws/records.js";
import { approveHold } from "../../src/containment/workflow/holds.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { ACCOUNT, findingDelivery, guardDutyEvent, TOR_CLIENT, useHarness } from "./support/fixtures.js";

const h = useHarness();

const instancesOf = (group: string) => h.fleet.groups.find((g) => g.name === group)!.instanceIds;

/** Findings on every instance, three copies each, shuffled into batches delivered all at once. */
async function flood(deps: PhoenixDeps, instanceIds: string[], tag: string) {
  const deliver = findingDelivery(deps);
  const events = instanceIds
    .flatMap((instanceId, i) =>
      [1, 2, 3].map((count) =>
        guardDutyEvent(TOR_CLIENT, {
          instanceId,
          findingId: `${tag}${String(i).padStart(8, "0")}`,
          count: count + 1,
        }),
      ),
    )
    .sort(() => Math.random() - 0.5);
  const batches = Array.from({ length: Math.ceil(events.length / 4) }, (_, i) =>
    events.slice(i * 4, i * 4 + 4),
  );
  const results = await Promise.all(batches.map(deliver));
  expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
  return Promise.all(instanceIds.map((id) => getContainment(deps, ACCOUNT, id))) as Promise<
    ContainmentItem[]
  >;
}

const policy = (budgets: Record<string, number>) => ({
  containment: {
    allowSampleFindings: true,
    budgets: {
      perGroupMaxCount: 5,
      perGroupMaxPercent: 34,
      perAccountMaxCount: 100,
      windowMinutes: 60,
      ...budgets,
    },
  },
});

describe("blast-radius budgets under concurrency", () => {
  it("contains at most the group's share at once; the rest are held for a person", async () => {
    const deps = h.withPolicy(policy({}));
    const mark = h.tap.mark();
    const targets = [...instancesOf("web-frontend"), ...instancesOf("web-backend")];
    const records = await flood(deps, targets, "grp");

    // 34% of 3 and of 2 both allow one instance of each group at a time.
    for (const group of ["web-frontend", "web-backend"]) {
      const inGroup = records.filter((r) => r.groupName === group);
      expect(
        inGroup.filter((r) => r.status === "running"),
        group,
      ).toHaveLength(1);
      expect(
        inGroup.filter((r) => r.status === "held"),
        group,
      ).toHaveLength(inGroup.length - 1);
      expect(await groupMembers(h.deps, ACCOUNT, group)).toEqual(
        inGroup.filter((r) => r.status === "running").map((r) => r.instanceId),
      );
    }
    expect(h.tap.since(mark, { action: "StartExecution" })).toHaveLength(2);
    for (const held of records.filter((r) => r.status === "held")) {
      expect(held.hold?.limit).toBe("perGroupPercent");
      expect(held.hold?.reason).toMatch(/34% of its capacity allows 1 at a time/);
      expect((await getHold(h.deps, held.hold!.id))?.status).toBe("pending");
    }
    const notes = await h.drainNotifications();
    expect(notes.filter((n) => n.kind === "hold")).toHaveLength(3);
    // Nothing was done to any instance by the intake.
    expect(h.tap.since(mark, { service: "ec2" }).filter((c) => !c.action.startsWith("Describe"))).toEqual([]);
  });

  it("never starts more than the account's window allows, counting the starts already made", async () => {
    const deps = h.withPolicy(policy({ perAccountMaxCount: 3 }));
    const mark = h.tap.mark();
    const targets = [...instancesOf("api"), ...instancesOf("web-legacy"), h.fleet.standaloneInstanceId];
    const records = await flood(deps, targets, "acct");
    // Two started in the previous test; the window allows three.
    expect(records.filter((r) => r.status === "running")).toHaveLength(1);
    expect(h.tap.since(mark, { action: "StartExecution" })).toHaveLength(1);
    const held = records.filter((r) => r.status === "held");
    expect(held).toHaveLength(3);
    expect(held.some((r) => r.hold?.limit === "perAccountWindow")).toBe(true);
    for (const r of held) expect(["perAccountWindow", "perGroupPercent"]).toContain(r.hold?.limit);
    expect(held.find((r) => r.hold?.limit === "perAccountWindow")?.hold?.reason).toMatch(
      /the per-account limit is 3 \(containment\.budgets\.perAccountMaxCount\)/,
    );
    const { current } = windowBuckets(new Date(), 60);
    const { Item } = await h.deps.clients.dynamo.send(
      new (await import("@aws-sdk/lib-dynamodb")).GetCommand({
        TableName: h.resources.stateTable,
        Key: { pk: `budget#account#${ACCOUNT}`, sk: `window#${current}` },
      }),
    );
    expect(Item?.["starts"]).toBe(3);
  });

  it("frees a group's slot when its containment succeeds, but starts nothing held until a person approves", async () => {
    const deps = h.withPolicy(policy({}));
    const frontend = await Promise.all(
      instancesOf("web-frontend").map((id) => getContainment(deps, ACCOUNT, id)),
    );
    const running = frontend.find((r) => r?.status === "running")!;
    const held = frontend.find((r) => r?.status === "held")!;
    await finishContainment(deps, running.executionInput, "succeeded");
    expect(await groupMembers(h.deps, ACCOUNT, "web-frontend")).toEqual([]);
    expect((await getContainment(deps, ACCOUNT, held.instanceId))?.status).toBe("held");

    const mark = h.tap.mark();
    const approved = await approveHold(deps, held.hold!.id, "user:erin");
    expect(approved.executionName).toBe(held.executionName);
    expect(h.tap.since(mark, { action: "StartExecution" })).toHaveLength(1);
    expect(await groupMembers(h.deps, ACCOUNT, "web-frontend")).toEqual([held.instanceId]);
    const history = await h.deps.audit.history(`instance/${held.instanceId}`);
    expect(history.find((r) => r.action === "approve-hold")).toMatchObject({
      actor: "user:erin",
      outcome: "ok",
    });
  });
});
