import { describe, expect, it } from "vitest";
import { detectDrift, type Inventory } from "../../../src/drift/core/drift.js";

const NOW = new Date("2026-12-01T12:00:00Z");
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

const inventory: Inventory = {
  currentImages: { web: "ami-new", api: "ami-api", batch: undefined },
  rollingOut: [],
  groups: [
    // On the current image, every instance too: no drift.
    {
      name: "web-a",
      family: "web",
      templateImageId: "ami-new",
      instances: [{ instanceId: "i-a1", imageId: "ami-new", launchTime: daysAgo(1) }],
    },
    // Behind, and one instance launched by hand from another image.
    {
      name: "web-b",
      family: "web",
      templateImageId: "ami-old",
      instances: [
        { instanceId: "i-b1", imageId: "ami-old", launchTime: daysAgo(2) },
        { instanceId: "i-b2", imageId: "ami-hand", launchTime: daysAgo(2) },
      ],
    },
    // Current, but an instance is too old.
    {
      name: "api-a",
      family: "api",
      templateImageId: "ami-api",
      instances: [{ instanceId: "i-c1", imageId: "ami-api", launchTime: daysAgo(45) }],
    },
    // No rollout completed yet: nothing to be behind.
    { name: "batch-a", family: "batch", templateImageId: "ami-batch", instances: [] },
  ],
  standalone: [{ instanceId: "i-s1", family: "web", imageId: "ami-old", launchTime: daysAgo(3) }],
};

describe("detectDrift", () => {
  it("finds each kind, and only what drifted", () => {
    const found = detectDrift(inventory, { maxInstanceAgeDays: 30, now: NOW });
    expect(found.map((f) => [f.kind, f.subject])).toEqual([
      ["group-behind", "group/web-b"],
      ["instance-image", "instance/i-b2"],
      ["instance-age", "instance/i-c1"],
      ["standalone", "instance/i-s1"],
    ]);
    expect(found[0]).toMatchObject({
      imageId: "ami-old",
      expectedImageId: "ami-new",
      reason: expect.stringMatching(/not ami-new/),
    });
    expect(found[1]).toMatchObject({ group: "web-b", imageId: "ami-hand", expectedImageId: "ami-old" });
    expect(found[2]).toMatchObject({
      ageDays: 45,
      reason: expect.stringMatching(/maxInstanceAgeDays \(30\)/),
    });
  });

  it("does not call a group behind that an incomplete, newer rollout put on its image", () => {
    // ami-newer rolled web-b, but the rollout ended incomplete (another group, say a member's the
    // image was not shared with, could not be rolled): web-b is ahead of ami-new, not behind it.
    const ahead = {
      ...inventory,
      aheadImages: { web: ["ami-newer"] },
      groups: inventory.groups.map((g) =>
        g.name === "web-b" ? { ...g, templateImageId: "ami-newer", instances: [] } : g,
      ),
    };
    const found = detectDrift(ahead, { maxInstanceAgeDays: 30, now: NOW });
    expect(found.map((f) => f.subject)).not.toContain("group/web-b");
    // Another image than those is behind as before.
    const other = { ...ahead, aheadImages: { web: ["ami-other"] } };
    expect(detectDrift(other, { maxInstanceAgeDays: 30, now: NOW }).map((f) => f.subject)).toContain(
      "group/web-b",
    );
  });

  it("does not call a family's groups behind while it is being rolled out; age still counts", () => {
    const found = detectDrift(
      { ...inventory, rollingOut: ["web", "api"] },
      { maxInstanceAgeDays: 30, now: NOW },
    );
    expect(found.map((f) => [f.kind, f.subject])).toEqual([
      ["instance-age", "instance/i-c1"],
      ["standalone", "instance/i-s1"],
    ]);
  });

  it("reports an instance someone logged in to that still runs (its phoenix:tainted mark)", () => {
    const marked: Inventory = {
      ...inventory,
      groups: [
        {
          name: "web-a",
          family: "web",
          templateImageId: "ami-new",
          instances: [
            {
              instanceId: "i-t1",
              imageId: "ami-new",
              launchTime: daysAgo(1),
              tainted: "user/bob, 2026-12-01T10:00:00Z, ssm:StartSession",
            },
          ],
        },
      ],
      standalone: [],
    };
    const found = detectDrift(marked, { maxInstanceAgeDays: 30, now: NOW });
    expect(found).toEqual([
      expect.objectContaining({
        kind: "tainted",
        subject: "instance/i-t1",
        group: "web-a",
        reason: expect.stringMatching(/phoenix:tainted=user\/bob, .*ssm:StartSession\) and it still runs/),
      }),
    ]);
  });

  it("keeps to one family when asked", () => {
    const found = detectDrift(inventory, { maxInstanceAgeDays: 30, now: NOW, family: "api" });
    expect(found.map((f) => f.subject)).toEqual(["instance/i-c1"]);
  });

  it("counts age against the policy's limit, and an unknown launch time as young", () => {
    const strict = detectDrift(inventory, { maxInstanceAgeDays: 1, now: NOW });
    expect(strict.filter((f) => f.kind === "instance-age").map((f) => f.instanceId)).toEqual([
      "i-b1",
      "i-b2",
      "i-c1",
      "i-s1",
    ]);
    const noTime = detectDrift(
      {
        currentImages: {},
        rollingOut: [],
        groups: [
          {
            name: "g",
            family: "f",
            templateImageId: "ami-x",
            instances: [{ instanceId: "i-x", imageId: "ami-x" }],
          },
        ],
        standalone: [],
      },
      { maxInstanceAgeDays: 1, now: NOW },
    );
    expect(noTime).toEqual([]);
  });
});
