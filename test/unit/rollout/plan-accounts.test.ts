import { describe, expect, it } from "vitest";
import { defaultPolicy } from "../../../src/policy/index.js";
import { formatPlan } from "../../../src/rollout/core/format-plan.js";
import type { GroupDescription } from "../../../src/rollout/core/group.js";
import { groupKey, normalGroupKey, parseGroupKey } from "../../../src/rollout/core/place.js";
import { type PlanInput, planRollout } from "../../../src/rollout/core/plan.js";

/** Issue 17: the pure planner over groups of several accounts (their keys, waves, image problems). */
const NEW = "ami-0000000000000ccc0";
const OLD = "ami-00000000000000aaa";
const HOME = "123456789012";
const STAGING = "222222222222";
const PROD = "333333333333";

function group(name: string, accountId?: string, wave?: number): GroupDescription {
  return {
    name,
    ...(accountId !== undefined ? { accountId, region: "us-east-1" } : {}),
    tags: {
      "phoenix:managed": "true",
      "phoenix:image-family": "web",
      ...(wave !== undefined ? { "phoenix:wave": String(wave) } : {}),
    },
    launchTemplate: { id: `lt-${name}`, version: "3", imageId: OLD },
    desiredCapacity: 2,
    instances: [{ instanceId: `i-${name}-${accountId ?? "home"}`, imageId: OLD }],
  };
}

const plan = (groups: GroupDescription[], extra: Partial<PlanInput> = {}) =>
  planRollout({
    image: { ImageId: NEW },
    family: "web",
    groups,
    policy: defaultPolicy(),
    homeAccountId: HOME,
    ...extra,
  });

const waves = (p: ReturnType<typeof plan>) =>
  p.waves.map((w) => [w.wave, w.groups.map((g) => groupKey(g))] as const);

describe("group keys", () => {
  it("name a member's group by account, region and name, and a home group by its name", () => {
    expect(groupKey({ name: "web", accountId: STAGING, region: "eu-west-1" })).toBe(
      `${STAGING}/eu-west-1/web`,
    );
    expect(groupKey({ name: "web" })).toBe("web");
    expect(parseGroupKey(`${STAGING}/eu-west-1/web/blue`)).toEqual({
      accountId: STAGING,
      region: "eu-west-1",
      name: "web/blue",
    });
    // Not an account and a region: a name of the home account, slashes and all.
    expect(parseGroupKey("team/web")).toEqual({ name: "team/web" });
    expect(parseGroupKey("12345/us-east-1/web")).toEqual({ name: "12345/us-east-1/web" });
    expect(normalGroupKey(`${HOME}/us-east-1/web`, { accountId: HOME, region: "us-east-1" })).toBe("web");
    expect(normalGroupKey(`${HOME}/eu-west-1/web`, { accountId: HOME, region: "us-east-1" })).toBe(
      `${HOME}/eu-west-1/web`,
    );
  });
});

describe("planning across accounts", () => {
  it("puts groups of one wave number in one wave whatever their account, home groups first", () => {
    const p = plan([group("web", PROD), group("web"), group("web", STAGING), group("api", STAGING, 2)]);
    expect(waves(p)).toEqual([
      [1, ["web", `${STAGING}/us-east-1/web`, `${PROD}/us-east-1/web`]],
      [2, [`${STAGING}/us-east-1/api`]],
    ]);
    expect(p.waves[0]!.groups[1]).toMatchObject({ name: "web", accountId: STAGING, region: "us-east-1" });
  });

  it("starts each account's groups at its firstWave (staging first, production later)", () => {
    const p = plan([group("web", PROD), group("web"), group("web", STAGING, 0), group("api", PROD, 2)], {
      firstWaves: { [STAGING]: 0, [HOME]: 5, [PROD]: 10 },
    });
    expect(waves(p)).toEqual([
      [0, [`${STAGING}/us-east-1/web`]],
      [6, ["web"]],
      [11, [`${PROD}/us-east-1/web`]],
      [12, [`${PROD}/us-east-1/api`]],
    ]);
  });

  it("names a member's groups as problems where the image cannot be launched, and rolls the rest", () => {
    const p = plan([group("web"), group("web", STAGING), group("web", PROD)], {
      imageProblems: { [`${PROD}/us-east-1`]: `image ${NEW} is not shared with account ${PROD}` },
    });
    expect(waves(p)).toEqual([[1, ["web", `${STAGING}/us-east-1/web`]]]);
    expect(p.problems).toEqual([
      {
        name: `${PROD}/us-east-1/web`,
        accountId: PROD,
        region: "us-east-1",
        reason: `image ${NEW} is not shared with account ${PROD}`,
      },
    ]);
    expect(formatPlan(p)).toContain(`  - ${STAGING}/us-east-1/web: ${OLD}`);
  });

  it("finds named groups by key, and tells a member's group from a home group of the same name", () => {
    const p = plan([group("web"), group("web", STAGING)], {
      explicitGroups: [`${STAGING}/us-east-1/web`, `${PROD}/us-east-1/web`],
    });
    expect(waves(p)).toEqual([[1, [`${STAGING}/us-east-1/web`]]]);
    expect(p.excluded).toEqual([{ name: `${PROD}/us-east-1/web`, reason: "no such Auto Scaling group" }]);
  });
});
