import { describe, expect, it } from "vitest";
import type { DriftFinding } from "../../../src/drift/core/drift.js";
import { enforcementPlan } from "../../../src/drift/core/enforce.js";

const groups = [
  { name: "web-a", family: "web", templateImageId: "ami-new", instances: [] },
  { name: "web-b", family: "web", templateImageId: "ami-old", instances: [] },
  { name: "web-c", family: "web", templateImageId: "ami-new", instances: [] },
  { name: "api-a", family: "api", templateImageId: "ami-api", instances: [] },
];
const inventory = { groups, currentImages: { web: "ami-new", api: "ami-api" } };
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
  f("tainted", "web", "instance/i-c1", "web-c"),
  f("standalone", "web", "instance/i-s1"),
  f("tainted", "api", "instance/i-p1", "api-a"),
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
    expect(plan.held.map((g) => [g.group, g.replaceAll])).toEqual([["web-c", true]]);
    // The standalone instance cannot be replaced by a group; api only reports.
    expect(plan.notEnforced).toEqual([
      { subject: "instance/i-s1", reason: expect.stringMatching(/in no Auto Scaling group/) },
    ]);
  });

  it("enforces nothing in report mode, holds everything with a zero budget, and leaves refreshing groups be", () => {
    expect(enforcementPlan(findings, inventory, { ...policy, mode: "report" })).toEqual({
      start: [],
      held: [],
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
});
