import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultPolicy, type Policy, parsePolicy } from "../../../src/policy/index.js";
import { formatPlan } from "../../../src/rollout/core/format-plan.js";
import type { GroupDescription } from "../../../src/rollout/core/group.js";
import {
  type PlanInput,
  plannedGroups,
  planRollout,
  type RolloutPlan,
} from "../../../src/rollout/core/plan.js";

const NEW_IMAGE = "ami-0000000000000ccc0";
const OLD_IMAGE = "ami-00000000000000aaa";

function group(
  name: string,
  tags: Record<string, string> = {},
  overrides: Partial<GroupDescription> = {},
): GroupDescription {
  return {
    name,
    tags: { "phoenix:managed": "true", "phoenix:image-family": "web", ...tags },
    launchTemplate: { id: `lt-${name}`, name: `${name}-lt`, version: "3", imageId: OLD_IMAGE },
    desiredCapacity: 2,
    healthCheckGracePeriod: 300,
    instances: [
      { instanceId: `i-${name}-1`, imageId: OLD_IMAGE },
      { instanceId: `i-${name}-2`, imageId: OLD_IMAGE },
    ],
    ...overrides,
  };
}

function plan(groups: GroupDescription[], extra: Partial<PlanInput> = {}): RolloutPlan {
  return planRollout({
    image: { ImageId: NEW_IMAGE },
    family: "web",
    groups,
    policy: defaultPolicy(),
    ...extra,
  });
}

const names = (plan: RolloutPlan) => plannedGroups(plan).map((g) => g.name);

describe("planRollout", () => {
  it("orders waves ascending, wave 1 by default, groups by name within a wave", () => {
    const result = plan([
      group("web-late", { "phoenix:wave": "3" }),
      group("web-b"),
      group("web-canary", { "phoenix:wave": "0" }),
      group("web-a", { "phoenix:wave": "1" }),
      group("web-mid", { "phoenix:wave": " 2 " }),
    ]);
    expect(result.waves.map((w) => [w.wave, w.groups.map((g) => g.name)])).toEqual([
      [0, ["web-canary"]],
      [1, ["web-a", "web-b"]],
      [2, ["web-mid"]],
      [3, ["web-late"]],
    ]);
  });

  it("describes each planned group: images, template version, wave and preferences", () => {
    const result = plan([
      group("web-a", {}, { instances: [{ instanceId: "i-1", imageId: OLD_IMAGE }, { instanceId: "i-2" }] }),
    ]);
    expect(plannedGroups(result)).toEqual([
      {
        name: "web-a",
        wave: 1,
        launchTemplate: { id: "lt-web-a", name: "web-a-lt", version: "3", imageId: OLD_IMAGE },
        currentImageId: OLD_IMAGE,
        instanceImageIds: [OLD_IMAGE, "unknown"],
        desiredCapacity: 2,
        preferences: {
          MinHealthyPercentage: 90,
          MaxHealthyPercentage: 100,
          InstanceWarmup: 300,
          SkipMatching: true,
          AutoRollback: true,
          ScaleInProtectedInstances: "Refresh",
          StandbyInstances: "Terminate",
        },
        notes: [],
      },
    ]);
  });

  it("reports an invalid wave tag as a problem and does not roll that group", () => {
    const result = plan([
      group("web-a"),
      group("web-x", { "phoenix:wave": "two" }),
      group("web-y", { "phoenix:wave": "-1" }),
    ]);
    expect(names(result)).toEqual(["web-a"]);
    expect(result.problems).toEqual([
      { name: "web-x", reason: 'phoenix:wave="two" is not a whole number' },
      { name: "web-y", reason: 'phoenix:wave="-1" is not a whole number' },
    ]);
  });

  it("skips a group only when both its template and all its instances are on the image", () => {
    const onImage = { launchTemplate: { id: "lt-1", version: "4", imageId: NEW_IMAGE } };
    const instancesOnImage = [{ instanceId: "i-1", imageId: NEW_IMAGE }];
    const result = plan([
      group("web-done", {}, { ...onImage, instances: instancesOnImage }),
      group("web-empty", {}, { ...onImage, instances: [], desiredCapacity: 0 }),
      group("web-template-only", {}, onImage),
      group("web-instances-only", {}, { instances: instancesOnImage }),
    ]);
    expect(result.skipped).toEqual([
      { name: "web-done", reason: `already on ${NEW_IMAGE}` },
      { name: "web-empty", reason: `already on ${NEW_IMAGE}` },
    ]);
    expect(names(result)).toEqual(["web-instances-only", "web-template-only"]);
  });

  it("lists protected groups and groups with protected instances, and does not roll them", () => {
    const result = plan([
      group("web-a"),
      group("web-p", { "phoenix:protected": "true" }),
      group(
        "web-q",
        {},
        { instances: [{ instanceId: "i-q", imageId: OLD_IMAGE, tags: { "phoenix:protected": "TRUE" } }] },
      ),
      group("web-r", { "phoenix:protected": "false" }),
    ]);
    expect(names(result)).toEqual(["web-a", "web-r"]);
    expect(result.protected).toEqual([
      { name: "web-p", reason: "group is tagged phoenix:protected=true" },
      {
        name: "web-q",
        reason: "instance i-q tagged phoenix:protected=true (a refresh would terminate them)",
      },
    ]);
  });

  it("leaves out unmanaged and other-family groups without mentioning them", () => {
    const result = plan([
      group("web-a"),
      group("web-unmanaged", { "phoenix:managed": "false" }),
      group("web-untagged", {}, { tags: { "phoenix:image-family": "web" } }),
      group("api-a", { "phoenix:image-family": "api" }),
      group("no-family", {}, { tags: { "phoenix:managed": "true" } }),
    ]);
    expect(names(result)).toEqual(["web-a"]);
    expect([...result.skipped, ...result.protected, ...result.excluded, ...result.problems]).toEqual([]);
  });

  it("names a group tagged phoenix:managed with a yes IAM would not match as a problem, not a managed group", () => {
    // IAM's condition on StartInstanceRefresh is StringEquals "true": "True" would plan a group
    // that the refresh is then denied on.
    const result = plan([
      group("web-a"),
      group("web-caps", { "phoenix:managed": "True" }),
      group("web-spaced", { "phoenix:managed": " true " }),
    ]);
    expect(names(result)).toEqual(["web-a"]);
    expect(result.problems).toEqual([
      {
        name: "web-caps",
        reason: expect.stringContaining('tagged phoenix:managed="True": only the exact value "true"'),
      },
      { name: "web-spaced", reason: expect.stringContaining('tagged phoenix:managed=" true "') },
    ]);
    const explicit = plan([group("web-caps", { "phoenix:managed": "TRUE" })], {
      explicitGroups: ["web-caps"],
    });
    expect(explicit.problems).toEqual([
      { name: "web-caps", reason: expect.stringContaining("case-sensitively") },
    ]);
    expect(explicit.excluded).toEqual([]);
  });

  it("with explicit groups, rolls only those and says why the others cannot be rolled", () => {
    const result = plan(
      [
        group("web-a"),
        group("web-b"),
        group("web-unmanaged", { "phoenix:managed": "no" }),
        group("api-a", { "phoenix:image-family": "api" }),
        group("bare", {}, { tags: { "phoenix:managed": "true" } }),
      ],
      { explicitGroups: ["web-b", "web-unmanaged", "api-a", "bare", "ghost", "web-b"] },
    );
    expect(names(result)).toEqual(["web-b"]);
    expect(result.excluded).toEqual([
      { name: "api-a", reason: "image family is api, not web" },
      { name: "bare", reason: "no phoenix:image-family tag (image family is web)" },
      { name: "ghost", reason: "no such Auto Scaling group" },
      { name: "web-unmanaged", reason: "not tagged phoenix:managed=true" },
    ]);
  });

  it("reports a group without a launch template as a problem", () => {
    const result = plan([group("web-lc", {}, { launchTemplate: undefined })]);
    expect(result.problems).toEqual([
      { name: "web-lc", reason: expect.stringContaining("launch configuration") },
    ]);
  });

  it("waits for a refresh someone else started, or skips the group, per policy", () => {
    const busy = group("web-busy", {}, { activeRefresh: { startedByPhoenix: false, status: "InProgress" } });
    expect(plannedGroups(plan([busy]))[0]?.notes).toEqual([
      "waits up to 60 min for a refresh not started by Phoenix",
    ]);
    const skip = parsePolicy({ rollout: { foreignRefresh: "skip" } });
    expect(plan([busy], { policy: skip }).skipped).toEqual([
      { name: "web-busy", reason: "a refresh not started by Phoenix is in progress (foreignRefresh: skip)" },
    ]);
    const ours = group("web-ours", {}, { activeRefresh: { startedByPhoenix: true } });
    expect(plannedGroups(plan([ours], { policy: skip }))[0]?.notes).toEqual([
      "waits for the Phoenix refresh already in progress",
    ]);
  });

  it("notes a group that follows $Latest", () => {
    const latest = group(
      "web-a",
      {},
      { launchTemplate: { id: "lt-1", version: "$Latest", imageId: OLD_IMAGE, resolvedVersion: "3" } },
    );
    expect(plannedGroups(plan([latest]))[0]?.notes).toEqual([
      expect.stringMatching(
        /^uses \$Latest \(version 3 today\): Phoenix first pins the group to version 3 \(same content/,
      ),
    ]);
  });

  it("gives each group its own warmup and the policy's preferences", () => {
    const policy = parsePolicy({
      rollout: { refresh: { minHealthyPercentage: 50, checkpointPercentages: [50, 100] } },
    });
    const result = plan([group("web-a"), group("web-b", {}, { defaultInstanceWarmup: 60 })], { policy });
    expect(
      plannedGroups(result).map((g) => [
        g.name,
        g.preferences.InstanceWarmup,
        g.preferences.MinHealthyPercentage,
      ]),
    ).toEqual([
      ["web-a", 300, 50],
      ["web-b", 60, 50],
    ]);
    expect(plannedGroups(result)[0]?.preferences.CheckpointPercentages).toEqual([50, 100]);
  });

  it("turns invalid refresh preferences into problems instead of a plan (and the policy is refused first)", () => {
    expect(() => parsePolicy({ rollout: { refresh: { checkpointPercentages: [50] } } })).toThrow(
      "policy.rollout.refresh.checkpointPercentages: the last checkpoint must be 100",
    );
    const valid = parsePolicy({});
    const policy = {
      ...valid,
      rollout: { ...valid.rollout, refresh: { ...valid.rollout.refresh, checkpointPercentages: [50] } },
    };
    const result = plan([group("web-a")], { policy });
    expect(result.waves).toEqual([]);
    expect(result.problems).toEqual([{ name: "web-a", reason: expect.stringContaining("must be 100") }]);
  });
});

describe("formatPlan", () => {
  it("renders waves, preferences and every section", () => {
    const text = formatPlan(
      plan(
        [
          group("web-a"),
          group("web-b", { "phoenix:wave": "2" }),
          group("web-p", { "phoenix:protected": "true" }),
          group("web-x", { "phoenix:wave": "x" }),
          group(
            "web-done",
            {},
            { launchTemplate: { id: "lt", version: "1", imageId: NEW_IMAGE }, instances: [] },
          ),
          group("api-a", { "phoenix:image-family": "api" }),
        ],
        { explicitGroups: ["web-a", "web-b", "web-p", "web-x", "web-done", "api-a"] },
      ),
    );
    expect(text).toBe(
      [
        `Rollout of ${NEW_IMAGE} to family web: 2 groups in 2 waves`,
        "Wave 1",
        `  - web-a: ${OLD_IMAGE} (web-a-lt version 3), 2 desired, instances on ${OLD_IMAGE}`,
        "      healthy 90-100%, warmup 300s, skip matching on, auto rollback on",
        "Wave 2",
        `  - web-b: ${OLD_IMAGE} (web-b-lt version 3), 2 desired, instances on ${OLD_IMAGE}`,
        "      healthy 90-100%, warmup 300s, skip matching on, auto rollback on",
        "Skipped",
        `  - web-done: already on ${NEW_IMAGE}`,
        "Protected (not touched)",
        "  - web-p: group is tagged phoenix:protected=true",
        "Excluded",
        "  - api-a: image family is api, not web",
        "Problems (not rolled until fixed)",
        '  - web-x: phoenix:wave="x" is not a whole number',
      ].join("\n"),
    );
  });

  it("says when there is nothing to refresh", () => {
    expect(formatPlan(plan([]))).toBe(
      `Rollout of ${NEW_IMAGE} to family web: 0 groups in 0 waves\nNothing to refresh.`,
    );
  });

  it("shows checkpoints, bake time and notes", () => {
    const policy = parsePolicy({ rollout: { refresh: { checkpointPercentages: [50, 100], bakeTime: 600 } } });
    const busy = group("web-a", {}, { activeRefresh: { startedByPhoenix: true } });
    const text = formatPlan(plan([busy], { policy }));
    expect(text).toContain("checkpoints 50/100% every 3600s, bake 600s");
    expect(text).toContain("note: waits for the Phoenix refresh already in progress");
  });
});

describe("plan invariants", () => {
  const families = ["web", "api"];
  const tagValue = fc.constantFrom(undefined, "true", "false", "TRUE", "");
  const arbitraryGroup = fc.record({
    managed: tagValue,
    family: fc.constantFrom(undefined, ...families, " web "),
    wave: fc.constantFrom(undefined, "0", "1", "2", "10", "x", "-3", ""),
    protectedTag: tagValue,
    hasTemplate: fc.boolean(),
    templateOnImage: fc.boolean(),
    instancesOnImage: fc.array(fc.boolean(), { maxLength: 4 }),
    refresh: fc.constantFrom(undefined, true, false),
  });
  const arbitraryGroups = fc.array(arbitraryGroup, { maxLength: 12 }).map((specs) =>
    specs.map((spec, index): GroupDescription => {
      const tags: Record<string, string> = {};
      if (spec.managed !== undefined) tags["phoenix:managed"] = spec.managed;
      if (spec.family !== undefined) tags["phoenix:image-family"] = spec.family;
      if (spec.wave !== undefined) tags["phoenix:wave"] = spec.wave;
      if (spec.protectedTag !== undefined) tags["phoenix:protected"] = spec.protectedTag;
      const imageFor = (on: boolean) => (on ? NEW_IMAGE : OLD_IMAGE);
      return {
        name: `g${index}`,
        tags,
        ...(spec.hasTemplate
          ? { launchTemplate: { id: `lt-${index}`, version: "1", imageId: imageFor(spec.templateOnImage) } }
          : {}),
        desiredCapacity: spec.instancesOnImage.length,
        instances: spec.instancesOnImage.map((on, i) => ({
          instanceId: `i-${index}-${i}`,
          imageId: imageFor(on),
        })),
        ...(spec.refresh !== undefined ? { activeRefresh: { startedByPhoenix: spec.refresh } } : {}),
      };
    }),
  );
  const policies: Policy[] = [defaultPolicy(), parsePolicy({ rollout: { foreignRefresh: "skip" } })];

  const placements = (result: RolloutPlan) => [
    ...names(result),
    ...[...result.skipped, ...result.protected, ...result.problems].map((entry) => entry.name),
  ];
  const belongs = (g: GroupDescription) =>
    g.tags["phoenix:managed"]?.toLowerCase() === "true" && g.tags["phoenix:image-family"]?.trim() === "web";

  it("places every managed group of the family exactly once, and no other group", () => {
    fc.assert(
      fc.property(arbitraryGroups, fc.constantFrom(...policies), (groups, policy) => {
        const result = plan(groups, { policy });
        const expected = groups.filter(belongs).map((g) => g.name);
        expect(placements(result).sort()).toEqual(expected.sort());
        expect(result.excluded).toEqual([]);
      }),
    );
  });

  it("with explicit groups, accounts for every named group exactly once", () => {
    fc.assert(
      fc.property(
        arbitraryGroups,
        fc.array(fc.constantFrom("g0", "g1", "g2", "g3", "nope"), { maxLength: 6 }),
        (groups, explicit) => {
          const result = plan(groups, { explicitGroups: explicit });
          const all = [...placements(result), ...result.excluded.map((entry) => entry.name)];
          expect(all.sort()).toEqual([...new Set(explicit)].sort());
        },
      ),
    );
  });

  it("never plans a protected group or one already on the image, and keeps waves ascending", () => {
    fc.assert(
      fc.property(arbitraryGroups, (groups) => {
        const result = plan(groups);
        const byName = new Map(groups.map((g) => [g.name, g]));
        for (const planned of plannedGroups(result)) {
          const source = byName.get(planned.name)!;
          expect(source.tags["phoenix:protected"]?.toLowerCase()).not.toBe("true");
          const onImage =
            source.launchTemplate?.imageId === NEW_IMAGE &&
            source.instances.every((i) => i.imageId === NEW_IMAGE);
          expect(onImage).toBe(false);
        }
        const waves = result.waves.map((w) => w.wave);
        expect(waves).toEqual([...waves].sort((a, b) => a - b));
        expect(new Set(waves).size).toBe(waves.length);
        for (const wave of result.waves) expect(wave.groups.every((g) => g.wave === wave.wave)).toBe(true);
      }),
    );
  });
});
