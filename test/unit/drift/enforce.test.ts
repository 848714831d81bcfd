import { describe, expect, it } from "vitest";
import type { DriftFinding } from "../../../src/drift/core/drift.js";
import { enforcementPlan } from "../../../src/drift/core/enforce.js";
import { sweepIdOfEvent } from "../../../src/drift/workflow/sweep.js";

const groups = [
  { name: "web-a", family: "web", templateImageId: "ami-new", instances: [] },
  { name: "web-b", family: "web", templateImageId: "ami-old", instances: [] },
  { name: "web-c", family: "web", templateImageId: "ami-new", instances: [] },
  { name: "api-a", family: "api", templateImageId: "ami-api", instances: [] },
];
const inventory = { groups, currentImages: { web: "ami-new", api: "ami-api" }, rollingOut: [] as string[] };
const f = (
  kind: DriftFinding["kind"],
  family: string,
  subject: string,
  group?: string,
  extra: Partial<DriftFinding> = {},
): DriftFinding => ({
  kind,
  family,
  subject,
  ...(group ? { group } : {}),
  reason: kind,
  ...extra,
});
const findings: DriftFinding[] = [
  f("group-behind", "web", "group/web-b", "web-b", { expectedImageId: "ami-new" }),
  f("instance-image", "web", "instance/i-b1", "web-b"),
  f("instance-age", "web", "instance/i-a1", "web-a"),
  f("instance-image", "web", "instance/i-c1", "web-c"),
  f("tainted", "web", "instance/i-c2", "web-c", {
    instanceId: "i-c2",
    taint: "bob, 2026-12-01T10:00:00Z, ssm:StartSession",
  }),
  f("standalone", "web", "instance/i-s1"),
  f("tainted", "api", "instance/i-p1", "api-a", {
    instanceId: "i-p1",
    taint: "eve, 2026-12-01T10:00:00Z, ssm:StartSession",
  }),
];
const policy = {
  mode: "enforce" as const,
  families: { api: { mode: "report" as const } },
  maxGroupsPerSweep: 2,
};

describe("enforcementPlan", () => {
  it("replaces drifted groups by name order within the budget and holds the rest", () => {
    const plan = enforcementPlan(findings, inventory, policy);
    expect(plan.start.map((g) => [g.group, g.imageId, g.replaceAll, g.kinds])).toEqual([
      ["web-a", "ami-new", true, ["instance-age"]],
      ["web-b", "ami-new", false, ["group-behind", "instance-image"]],
    ]);
    expect(plan.held.map((g) => [g.group, g.replaceAll, g.kinds])).toEqual([
      ["web-c", false, ["instance-image"]],
    ]);
    // A tainted instance is its session's to replace (one instance through its group), not its
    // group's drift; api only reports, so its tainted instance is not even that.
    expect(plan.tainted).toEqual([
      {
        instanceId: "i-c2",
        group: "web-c",
        family: "web",
        taint: "bob, 2026-12-01T10:00:00Z, ssm:StartSession",
      },
    ]);
    // The standalone instance cannot be replaced by a group; api only reports.
    expect(plan.notEnforced).toEqual([
      { subject: "instance/i-s1", reason: expect.stringMatching(/in no Auto Scaling group/) },
    ]);
  });

  it("enforces nothing in report mode, holds everything with a zero budget, and leaves refreshing groups be", () => {
    expect(enforcementPlan(findings, inventory, { ...policy, mode: "report" })).toEqual({
      start: [],
      held: [],
      tainted: [],
      notEnforced: [],
    });
    expect(enforcementPlan(findings, inventory, { ...policy, maxGroupsPerSweep: 0 }).held).toHaveLength(3);
    const busy = enforcementPlan(findings, inventory, policy, new Set(["web-a"]));
    expect(busy.start.map((g) => g.group)).toEqual(["web-b", "web-c"]);
    expect(busy.notEnforced).toContainEqual({
      subject: "group/web-a",
      reason: expect.stringMatching(/refresh is under way/),
    });
  });

  it("leaves a family that is rolling out to its rollout (one started here could undo it)", () => {
    const plan = enforcementPlan(findings, { ...inventory, rollingOut: ["web"] }, policy);
    expect(plan.start).toEqual([]);
    expect(plan.held).toEqual([]);
    expect(plan.notEnforced.map((n) => n.subject)).toEqual([
      "instance/i-s1",
      "group/web-a",
      "group/web-b",
      "group/web-c",
    ]);
    expect(plan.notEnforced[1]?.reason).toMatch(/a rollout of family web is under way/);
  });
});

describe("sweepIdOfEvent", () => {
  // The Scheduled Event shape EventBridge delivers (documented fields; no sample in shared/events).
  const scheduled = {
    version: "0",
    id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "123456789012",
    time: "2026-12-02T03:00:00Z",
    region: "eu-west-1",
    resources: ["arn:aws:events:eu-west-1:123456789012:rule/phoenix-drift-sweep"],
    detail: {},
  };

  it("names a retried delivery's sweep like the first, and another event's differently", () => {
    const first = sweepIdOfEvent(scheduled);
    expect(first).toMatch(/^sweep-2026-12-02T03-00-00-000Z-[0-9a-f]{8}$/);
    expect(sweepIdOfEvent({ ...scheduled })).toBe(first);
    expect(sweepIdOfEvent({ ...scheduled, id: "another" })).not.toBe(first);
  });

  it("gives no id for what is not an event (the sweep then makes a fresh one)", () => {
    for (const event of [
      undefined,
      null,
      "x",
      {},
      { id: "a" },
      { ...scheduled, time: "soon" },
      { ...scheduled, id: "" },
    ]) {
      expect(sweepIdOfEvent(event)).toBeUndefined();
    }
  });
});
