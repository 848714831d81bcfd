import { familyRefresh } from "../../policy/family.js";
import type { Policy } from "../../policy/index.js";
import { TAG_IMAGE_FAMILY, TAG_MANAGED } from "../../tags.js";
import {
  type GroupDescription,
  groupFamily,
  groupWave,
  isManaged,
  isOnImage,
  type LaunchTemplateInUse,
  managedTagProblem,
  protectionReason,
} from "./group.js";
import type { ImageFacts } from "./image.js";
import { groupKey, placeFields, placeKey, placeOf } from "./place.js";
import { buildRefreshPreferences, type RefreshPreferences } from "./preferences.js";

export interface PlanInput {
  image: Pick<ImageFacts, "ImageId">;
  family: string;
  groups: readonly GroupDescription[];
  policy: Pick<Policy, "rollout">;
  /** A manual rollout of named groups only; each that cannot be rolled is reported with why. */
  explicitGroups?: readonly string[];
  /**
   * Replace every instance, even those already on the image (the drift sweep enforcing age or a
   * session's taint): the group is planned although it is on the image, and refreshed with
   * SkipMatching off.
   */
  replaceAll?: boolean;
  /**
   * The account Phoenix runs in, and the wave each account's groups start at (the policy's
   * `accounts[].firstWave`, by account id, Phoenix's own included): a group's wave is its account's
   * first wave plus its `phoenix:wave`, so waves can span accounts (staging accounts first).
   */
  homeAccountId?: string;
  firstWaves?: Readonly<Record<string, number>>;
  /**
   * Places where the image cannot be launched, keyed `<account>/<region>` (not shared with the
   * member, say): their groups are problems, named with why.
   */
  imageProblems?: Readonly<Record<string, string>>;
}

export interface PlannedGroup {
  /** The group's name in its own account (its key, with the place, is groupKey(group)). */
  name: string;
  accountId?: string;
  region?: string;
  wave: number;
  launchTemplate: LaunchTemplateInUse;
  /** The image of the template version in use: what new instances would get today. */
  currentImageId: string | undefined;
  /** Distinct images the instances run, sorted. */
  instanceImageIds: string[];
  desiredCapacity: number;
  preferences: RefreshPreferences;
  /** Every instance is replaced, those already on the image too (PlanInput.replaceAll). */
  replaceAll?: boolean;
  /** Things the operator should know (a refresh to wait for, a $Latest template). */
  notes: string[];
}

export interface GroupReason {
  /** The group's key (place.ts): its name at home, `<account>/<region>/<name>` in a member. */
  name: string;
  reason: string;
  accountId?: string;
  region?: string;
}

export interface RolloutPlan {
  family: string;
  imageId: string;
  /** Ascending by wave; groups by name within a wave. */
  waves: { wave: number; groups: PlannedGroup[] }[];
  /** Nothing to do, or the policy says to leave the group alone this time. */
  skipped: GroupReason[];
  /** Never touched automatically. */
  protected: GroupReason[];
  /** Named explicitly but not a managed group of this family (or not found). */
  excluded: GroupReason[];
  /** Managed groups of the family that cannot be rolled until someone fixes them. */
  problems: GroupReason[];
}

/**
 * Plans a rollout of one image over the groups of its family. Every managed group of the
 * family ends up in exactly one place: a wave, skipped, protected or problems. Pure: the
 * groups are described by the caller, and nothing here talks to AWS.
 */
export function planRollout(input: PlanInput): RolloutPlan {
  const plan: RolloutPlan = {
    family: input.family,
    imageId: input.image.ImageId,
    waves: [],
    skipped: [],
    protected: [],
    excluded: [],
    problems: [],
  };
  const planned: PlannedGroup[] = [];
  for (const group of candidateGroups(input, plan.excluded, plan.problems)) {
    const outcome = placeGroup(group, input);
    if (outcome.kind === "planned") planned.push(outcome.group);
    else plan[outcome.kind].push(reasonFor(group, outcome.reason));
  }
  plan.waves = groupIntoWaves(planned);
  for (const list of [plan.skipped, plan.protected, plan.excluded, plan.problems]) list.sort(byName);
  return plan;
}

/**
 * Groups that belong to the rollout; with explicit names, the rest are reported as excluded. A
 * group tagged `phoenix:managed` with a yes IAM would not match ("True") is a problem, named so
 * it can be retagged, rather than a group Phoenix plans and then may not refresh.
 */
function candidateGroups(
  input: PlanInput,
  excluded: GroupReason[],
  problems: GroupReason[],
): GroupDescription[] {
  const ofFamily = (group: GroupDescription) => groupFamily(group) === input.family;
  const belongs = (group: GroupDescription) => isManaged(group) && ofFamily(group);
  if (input.explicitGroups === undefined) {
    for (const group of input.groups) {
      const problem = managedTagProblem(group);
      if (problem !== undefined && ofFamily(group)) problems.push(reasonFor(group, problem));
    }
    return input.groups.filter(belongs);
  }

  const described = new Map(input.groups.map((group) => [groupKey(group), group]));
  const candidates: GroupDescription[] = [];
  for (const name of new Set(input.explicitGroups)) {
    const group = described.get(name);
    const misspelled = group === undefined ? undefined : managedTagProblem(group);
    if (group === undefined) excluded.push({ name, reason: "no such Auto Scaling group" });
    else if (misspelled !== undefined) problems.push(reasonFor(group, misspelled));
    else if (!isManaged(group)) excluded.push(reasonFor(group, `not tagged ${TAG_MANAGED}=true`));
    else if (!belongs(group)) excluded.push(reasonFor(group, familyMismatch(group, input.family)));
    else candidates.push(group);
  }
  return candidates;
}

function reasonFor(group: GroupDescription, reason: string): GroupReason {
  return { name: groupKey(group), reason, ...placeFields(group) };
}

function familyMismatch(group: GroupDescription, family: string): string {
  const actual = groupFamily(group);
  if (actual === undefined) return `no ${TAG_IMAGE_FAMILY} tag (image family is ${family})`;
  return `image family is ${actual}, not ${family}`;
}

type Placement =
  | { kind: "planned"; group: PlannedGroup }
  | { kind: "skipped" | "protected" | "problems"; reason: string };

/** Order matters: protection first (never touched), then what blocks, then what makes work unnecessary. */
function placeGroup(group: GroupDescription, input: PlanInput): Placement {
  const protection = protectionReason(group);
  if (protection !== undefined) return { kind: "protected", reason: protection };

  const wave = groupWave(group);
  if (!wave.ok) return { kind: "problems", reason: wave.problem };
  const place = placeOf(group);
  const imageProblem = place !== undefined ? input.imageProblems?.[placeKey(place)] : undefined;
  if (imageProblem !== undefined) return { kind: "problems", reason: imageProblem };
  const account = group.accountId ?? input.homeAccountId;
  const firstWave = (account !== undefined ? input.firstWaves?.[account] : undefined) ?? 0;
  const mixed = group.mixedInstances;
  if (mixed !== undefined && mixed.overrideTemplates.length > 0) {
    return {
      kind: "problems",
      reason:
        `uses a mixed instances policy whose overrides name launch templates of their own (${mixed.overrideTemplates.join(", ")}): ` +
        "Phoenix rolls one template per group, and would leave those instance types on the old image",
    };
  }
  if (group.launchTemplate === undefined) {
    return {
      kind: "problems",
      reason: "uses no launch template (a launch configuration cannot take a new image)",
    };
  }
  const preferences = buildRefreshPreferences(familyRefresh(input.policy.rollout, input.family), group);
  if (!preferences.ok)
    return { kind: "problems", reason: `refresh preferences: ${preferences.problems.join("; ")}` };

  const imageId = input.image.ImageId;
  if (!input.replaceAll && isOnImage(group, imageId))
    return { kind: "skipped", reason: `already on ${imageId}` };

  const notes: string[] = [];
  const refresh = group.activeRefresh;
  if (refresh !== undefined && !refresh.startedByPhoenix) {
    if (input.policy.rollout.foreignRefresh === "skip") {
      return {
        kind: "skipped",
        reason: "a refresh not started by Phoenix is in progress (foreignRefresh: skip)",
      };
    }
    notes.push(
      `waits up to ${input.policy.rollout.foreignRefreshMaxWaitMinutes} min for a refresh not started by Phoenix`,
    );
  } else if (refresh !== undefined) {
    notes.push("waits for the Phoenix refresh already in progress");
  }
  if (mixed !== undefined) {
    notes.push(
      `mixed instances policy (${mixed.overrides} instance type override(s)): refreshed with the policy as it is, ` +
        "only its template version changed (overrides and the on-demand/spot distribution kept)",
    );
  }
  if (group.launchTemplate.version.startsWith("$")) {
    const number = group.launchTemplate.resolvedVersion;
    notes.push(
      `uses ${group.launchTemplate.version}${number !== undefined ? ` (version ${number} today)` : ""}: ` +
        `Phoenix first pins the group to ${number !== undefined ? `version ${number}` : "that numbered version"} ` +
        "(same content, so what it launches does not change), then refreshes it to a new numbered version " +
        "(AutoRollback needs a number; a new version under $Latest would reach new instances outside the refresh)",
    );
  }

  return {
    kind: "planned",
    group: {
      name: group.name,
      ...placeFields(group),
      wave: firstWave + wave.wave,
      launchTemplate: { ...group.launchTemplate },
      currentImageId: group.launchTemplate.imageId,
      instanceImageIds: distinctImages(group),
      desiredCapacity: group.desiredCapacity,
      preferences: input.replaceAll
        ? { ...preferences.preferences, SkipMatching: false }
        : preferences.preferences,
      ...(input.replaceAll ? { replaceAll: true } : {}),
      notes: input.replaceAll
        ? [...notes, "every instance is replaced (SkipMatching off), those already on the image too"]
        : notes,
    },
  };
}

function distinctImages(group: GroupDescription): string[] {
  const ids = new Set(group.instances.map((instance) => instance.imageId ?? "unknown"));
  return [...ids].sort();
}

function groupIntoWaves(groups: PlannedGroup[]): RolloutPlan["waves"] {
  const waves = new Map<number, PlannedGroup[]>();
  for (const group of groups) waves.set(group.wave, [...(waves.get(group.wave) ?? []), group]);
  return [...waves.entries()]
    .sort(([a], [b]) => a - b)
    .map(([wave, members]) => ({ wave, groups: members.sort(byKey) }));
}

/** Reasons by name (a reason's name is the group's key). */
export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Planned groups by key: a wave's groups at home first (bare names), then each member's. */
function byKey(a: PlannedGroup, b: PlannedGroup): number {
  const [homeA, homeB] = [a.accountId === undefined, b.accountId === undefined];
  if (homeA !== homeB) return homeA ? -1 : 1;
  return byName({ name: groupKey(a) }, { name: groupKey(b) });
}

/** Groups the plan will refresh, in order. */
export function plannedGroups(plan: RolloutPlan): PlannedGroup[] {
  return plan.waves.flatMap((wave) => wave.groups);
}
