import type { RefreshPreferences } from "./refresh-model.js";

/**
 * The arithmetic of an instance refresh, as pure functions: preference defaults and validation,
 * which instances it replaces, how many a batch may replace, progress and checkpoints.
 */

/** AWS's default when MinHealthyPercentage is not given. */
export const DEFAULT_MIN_HEALTHY_PERCENTAGE = 90;
/** AWS's default when CheckpointPercentages is given without CheckpointDelay (one hour). */
export const DEFAULT_CHECKPOINT_DELAY_SECONDS = 3600;
const MAX_DELAY_SECONDS = 172_800;
/** AlarmSpecification.Alarms: "You can specify up to 10 alarms" (API reference). */
const MAX_ALARMS = 10;
/**
 * ScaleInProtectedInstances/StandbyInstances Wait (AWS's default for both): how long a refresh
 * waits for protected instances to lose their protection and Standby instances to return to
 * service before it fails (one hour).
 */
export const WAIT_FOR_INSTANCES_SECONDS = 3600;

/** Why the preferences are invalid (a ValidationError message), or undefined. */
export function preferencesProblem(p: RefreshPreferences): string | undefined {
  const min = p.MinHealthyPercentage;
  const max = p.MaxHealthyPercentage;
  if (min !== undefined && (min < 0 || min > 100)) return "MinHealthyPercentage must be between 0 and 100.";
  if (max !== undefined) {
    if (max < 100 || max > 200) return "MaxHealthyPercentage must be between 100 and 200.";
    if (min === undefined)
      return "MinHealthyPercentage must be specified when MaxHealthyPercentage is specified.";
    if (max - min > 100) {
      return "The difference between MaxHealthyPercentage and MinHealthyPercentage cannot be greater than 100.";
    }
  }
  if (p.InstanceWarmup !== undefined && p.InstanceWarmup < 0) return "InstanceWarmup must not be negative.";
  if (p.BakeTime !== undefined && (p.BakeTime < 0 || p.BakeTime > MAX_DELAY_SECONDS)) {
    return `BakeTime must be between 0 and ${MAX_DELAY_SECONDS} seconds.`;
  }
  if (p.CheckpointDelay !== undefined) {
    if (!p.CheckpointPercentages?.length) return "CheckpointDelay requires CheckpointPercentages.";
    if (p.CheckpointDelay < 0 || p.CheckpointDelay > MAX_DELAY_SECONDS) {
      return `CheckpointDelay must be between 0 and ${MAX_DELAY_SECONDS} seconds.`;
    }
  }
  const alarms = p.AlarmSpecification?.Alarms ?? [];
  if (alarms.length > MAX_ALARMS) return `AlarmSpecification can include at most ${MAX_ALARMS} alarms.`;
  if (alarms.some((a) => a.length < 1 || a.length > 255))
    return "Alarm names must be 1 to 255 characters long.";
  const checkpoints = p.CheckpointPercentages ?? [];
  for (const [i, value] of checkpoints.entries()) {
    if (!Number.isInteger(value) || value < 1 || value > 100)
      return "CheckpointPercentages must be between 1 and 100.";
    if (i > 0 && value <= (checkpoints[i - 1] ?? 0)) {
      return "CheckpointPercentages must be unique and in ascending order.";
    }
  }
  return undefined;
}

/** The preferences as DescribeInstanceRefreshes shows them: what was asked, with AWS's defaults. */
export function withDefaults(p: RefreshPreferences): RefreshPreferences {
  return {
    MinHealthyPercentage: p.MinHealthyPercentage ?? DEFAULT_MIN_HEALTHY_PERCENTAGE,
    ...(p.MaxHealthyPercentage !== undefined ? { MaxHealthyPercentage: p.MaxHealthyPercentage } : {}),
    ...(p.InstanceWarmup !== undefined ? { InstanceWarmup: p.InstanceWarmup } : {}),
    ...(p.CheckpointPercentages?.length
      ? {
          CheckpointPercentages: p.CheckpointPercentages,
          CheckpointDelay: p.CheckpointDelay ?? DEFAULT_CHECKPOINT_DELAY_SECONDS,
        }
      : {}),
    SkipMatching: p.SkipMatching ?? false,
    AutoRollback: p.AutoRollback ?? false,
    ScaleInProtectedInstances: p.ScaleInProtectedInstances ?? "Wait",
    StandbyInstances: p.StandbyInstances ?? "Wait",
    ...(p.AlarmSpecification ? { AlarmSpecification: p.AlarmSpecification } : {}),
    ...(p.BakeTime !== undefined ? { BakeTime: p.BakeTime } : {}),
  };
}

/**
 * What a refresh does with one instance of its group: replace it; wait for it (then replace
 * it, or fail after WAIT_FOR_INSTANCES_SECONDS); terminate it (Standby, with Terminate: not
 * counted in desired capacity, it is not replaced); or leave it on its configuration (Ignore,
 * and instances neither InService nor Standby, e.g. Terminating).
 */
export type Disposition =
  | { action: "replace" }
  | { action: "wait"; why: "protected" | "standby" }
  | { action: "terminate" }
  | { action: "leave" };

export function dispositionOf(
  instance: { lifecycleState: string; protectedFromScaleIn: boolean },
  preferences: Pick<RefreshPreferences, "ScaleInProtectedInstances" | "StandbyInstances">,
): Disposition {
  if (instance.lifecycleState === "Standby") {
    switch (preferences.StandbyInstances ?? "Wait") {
      case "Terminate":
        return { action: "terminate" };
      case "Ignore":
        return { action: "leave" };
      default:
        return { action: "wait", why: "standby" };
    }
  }
  if (instance.lifecycleState !== "InService") return { action: "leave" };
  if (!instance.protectedFromScaleIn) return { action: "replace" };
  switch (preferences.ScaleInProtectedInstances ?? "Wait") {
    case "Refresh":
      return { action: "replace" };
    case "Ignore":
      return { action: "leave" };
    default:
      return { action: "wait", why: "protected" };
  }
}

/** The instances a refresh is to update: those it replaces now and those it waits for. */
export function countsForUpdate(disposition: Disposition): boolean {
  return disposition.action === "replace" || disposition.action === "wait";
}

const waitingFor = (why: "protected" | "standby") =>
  why === "protected" ? "protected from scale in" : "in Standby";

/** StatusReason while a refresh waits for protected or Standby instances. */
export function waitingReason(waiting: Map<string, "protected" | "standby">, seconds: number): string {
  const list = [...waiting].map(([id, why]) => `${id} (${waitingFor(why)})`).join(", ");
  return `Waiting up to ${seconds} seconds for instances to become replaceable: ${list}.`;
}

/** StatusReason of a refresh that waited WAIT_FOR_INSTANCES_SECONDS in vain, naming the instances. */
export function waitedInVainReason(waiting: Map<string, "protected" | "standby">, seconds: number): string {
  const ids = (why: "protected" | "standby") => [...waiting].filter(([, w]) => w === why).map(([id]) => id);
  const parts: string[] = [];
  const protectedIds = ids("protected");
  if (protectedIds.length) {
    parts.push(
      `${protectedIds.join(", ")} still protected from scale in (remove the protection, or set ScaleInProtectedInstances to Refresh or Ignore)`,
    );
  }
  const standbyIds = ids("standby");
  if (standbyIds.length) {
    parts.push(
      `${standbyIds.join(", ")} still in Standby (return them to service, or set StandbyInstances to Terminate or Ignore)`,
    );
  }
  return `The instance refresh waited ${seconds} seconds for instances it must replace: ${parts.join("; ")}.`;
}

/** Instances that must stay healthy: MinHealthyPercentage of desired capacity, rounded up. */
export function minHealthyCount(desiredCapacity: number, minHealthyPercentage: number): number {
  return Math.ceil((desiredCapacity * minHealthyPercentage) / 100);
}

export interface BatchCandidate {
  instanceId: string;
  /** InService and Healthy now: replacing it costs healthy capacity. */
  healthy: boolean;
}

export interface BatchInput {
  desiredCapacity: number;
  /** Healthy instances in the group now, candidates or not. */
  healthyCount: number;
  /** Instances still to replace, in replacement order. */
  candidates: BatchCandidate[];
  minHealthyPercentage: number;
  /** Only when the caller set it: explicit MaxHealthyPercentage changes the replacement order. */
  maxHealthyPercentage?: number;
  /** Replacements allowed before the next checkpoint. */
  room: number;
}

export interface Batch {
  /** Terminated at once; their replacements launch at the same time. */
  terminateFirst: string[];
  /** Replacements launch first (above desired capacity); these terminate once those are healthy. */
  launchFirst: string[];
}

/**
 * The next batch, as AWS sizes it: instances that are not healthy cost nothing to replace;
 * healthy ones may be taken down while the group stays at or above MinHealthyPercentage; with
 * MaxHealthyPercentage above 100, more may be replaced by launching first. When neither bound
 * allows any replacement, AWS still replaces one instance at a time: launch-first when
 * MaxHealthyPercentage was given, terminate-and-launch together when it was omitted.
 */
export function nextBatch(input: BatchInput): Batch {
  const limit = Math.max(0, Math.min(input.room, input.candidates.length));
  const terminateFirst: string[] = [];
  const launchFirst: string[] = [];
  const chosen = () => terminateFirst.length + launchFirst.length;

  for (const candidate of input.candidates) {
    if (chosen() >= limit) break;
    if (!candidate.healthy) terminateFirst.push(candidate.instanceId);
  }
  const healthy = input.candidates.filter((c) => c.healthy).map((c) => c.instanceId);
  let downBudget = Math.max(
    0,
    input.healthyCount - minHealthyCount(input.desiredCapacity, input.minHealthyPercentage),
  );
  let surgeBudget =
    input.maxHealthyPercentage === undefined
      ? 0
      : Math.max(
          0,
          Math.floor((input.desiredCapacity * input.maxHealthyPercentage) / 100) - input.desiredCapacity,
        );
  for (const id of healthy) {
    if (chosen() >= limit) break;
    if (downBudget > 0) {
      terminateFirst.push(id);
      downBudget--;
    } else if (surgeBudget > 0) {
      launchFirst.push(id);
      surgeBudget--;
    }
  }
  const first = healthy[0];
  if (chosen() === 0 && limit > 0 && first !== undefined) {
    if (input.maxHealthyPercentage === undefined) terminateFirst.push(first);
    else launchFirst.push(first);
  }
  return { terminateFirst, launchFirst };
}

/** Instances that must be on the new configuration for a checkpoint to be reached. */
export function checkpointCount(total: number, percentage: number): number {
  return Math.ceil((total * percentage) / 100);
}

export function percentageOf(part: number, total: number): number {
  return total <= 0 ? 100 : Math.floor((100 * part) / total);
}
