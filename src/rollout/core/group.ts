import {
  GRANTING_TAG_VALUE,
  isGrantingTrue,
  isMisspelledTrue,
  isTrueTag,
  TAG_IMAGE_FAMILY,
  TAG_MANAGED,
  TAG_PROTECTED,
  TAG_WAVE,
} from "../../tags.js";

/**
 * An Auto Scaling group as the planner sees it: plain data the shell assembles from
 * DescribeAutoScalingGroups, DescribeLaunchTemplateVersions and DescribeInstanceRefreshes.
 */
export interface GroupDescription {
  name: string;
  /** The member account and region the group is in; absent in Phoenix's own (see place.ts). */
  accountId?: string;
  region?: string;
  tags: Readonly<Record<string, string>>;
  /** Absent when the group uses a launch configuration: instance refresh to an image needs a template. */
  launchTemplate?: LaunchTemplateInUse;
  /** The group launches through a mixed instances policy: `launchTemplate` is the one inside it. */
  mixedInstances?: MixedInstancesInUse;
  desiredCapacity: number;
  healthCheckGracePeriod?: number;
  defaultInstanceWarmup?: number;
  instances: readonly GroupInstance[];
  /** A refresh that has not reached a terminal status. */
  activeRefresh?: { refreshId?: string; status?: string; startedByPhoenix: boolean };
}

export interface LaunchTemplateInUse {
  id?: string;
  name?: string;
  /** As the group names it: a number, or $Latest / $Default. */
  version: string;
  /** The ImageId of that version, when it names one directly (not resolve:ssm:). */
  imageId?: string;
  /** The number $Latest / $Default stood for when the group was described. */
  resolvedVersion?: string;
}

export interface MixedInstancesInUse {
  /**
   * The policy as Auto Scaling returns it (plain JSON). A refresh sends it back whole as its
   * DesiredConfiguration, only the template version changed: a bare LaunchTemplate there would
   * replace the instance types and the spot/on-demand mix with the template's single type.
   */
  policy: Record<string, unknown>;
  /** How many instance-type overrides it has (for the plan). */
  overrides: number;
  /** Launch templates that overrides name instead of the group's: each would need its own version. */
  overrideTemplates: string[];
}

export interface GroupInstance {
  instanceId: string;
  imageId?: string;
  tags?: Readonly<Record<string, string>>;
  /** Auto Scaling's LifecycleState (InService, Standby, Pending, Terminating, …). */
  lifecycleState?: string;
  protectedFromScaleIn?: boolean;
}

export const DEFAULT_WAVE = 1;

export type WaveResult = { ok: true; wave: number } | { ok: false; problem: string };

/**
 * The group's wave: absent means 1; otherwise a whole number (0 allowed, so canaries can go
 * before the default). A malformed tag is a problem, never a silent default: "3 " meant late,
 * and defaulting it to 1 would roll that group first.
 */
export function groupWave(group: Pick<GroupDescription, "tags">): WaveResult {
  const raw = group.tags[TAG_WAVE];
  if (raw === undefined) return { ok: true, wave: DEFAULT_WAVE };
  const text = raw.trim();
  if (!/^\d{1,6}$/.test(text)) {
    return { ok: false, problem: `${TAG_WAVE}=${JSON.stringify(raw)} is not a whole number` };
  }
  return { ok: true, wave: Number(text) };
}

/**
 * Whether the group opted in: `phoenix:managed` exactly "true", the value the IAM condition on
 * StartInstanceRefresh and UpdateAutoScalingGroup matches (build/iam/scopes.ts). A group the
 * planner took for managed but IAM does not would fail at the refresh, half way through a wave.
 */
export function isManaged(group: Pick<GroupDescription, "tags">): boolean {
  return isGrantingTrue(group.tags[TAG_MANAGED]);
}

/** Why a group tagged as a yes IAM does not match ("True", " true ") is not managed, or undefined. */
export function managedTagProblem(group: Pick<GroupDescription, "tags">): string | undefined {
  const value = group.tags[TAG_MANAGED];
  if (!isMisspelledTrue(value)) return undefined;
  return (
    `tagged ${TAG_MANAGED}=${JSON.stringify(value)}: only the exact value "${GRANTING_TAG_VALUE}" opts a group in ` +
    `(AWS compares tag values case-sensitively, so Phoenix may not refresh it); retag it ${TAG_MANAGED}=${GRANTING_TAG_VALUE}`
  );
}

export function groupFamily(group: Pick<GroupDescription, "tags">): string | undefined {
  const family = group.tags[TAG_IMAGE_FAMILY]?.trim();
  return family === undefined || family === "" ? undefined : family;
}

/** Why the group must not be touched, or undefined. Protected instances count: a refresh would terminate them. */
export function protectionReason(group: GroupDescription): string | undefined {
  if (isTrueTag(group.tags[TAG_PROTECTED])) return `group is tagged ${TAG_PROTECTED}=true`;
  const instances = group.instances.filter((instance) => isTrueTag(instance.tags?.[TAG_PROTECTED]));
  if (instances.length === 0) return undefined;
  const ids = instances.map((instance) => instance.instanceId).join(", ");
  return `instance${instances.length > 1 ? "s" : ""} ${ids} tagged ${TAG_PROTECTED}=true (a refresh would terminate them)`;
}

/** Both the template and every instance already run the image: nothing to refresh. */
export function isOnImage(group: GroupDescription, imageId: string): boolean {
  return (
    group.launchTemplate?.imageId === imageId &&
    group.instances.every((instance) => instance.imageId === imageId)
  );
}

/** Lifecycle states of an instance that serves, or will serve again (Standby returns to InService). */
const SERVING = new Set([
  "InService",
  "Standby",
  "EnteringStandby",
  "Pending",
  "Pending:Wait",
  "Pending:Proceed",
]);

/**
 * The group's serving instances that do not run `imageId`, after a refresh to it said Successful:
 * instances the refresh left alone (scale-in protected or in Standby with "Ignore", launched
 * meanwhile from an old version) are why a group is not rolled although its refresh succeeded.
 */
export function instancesNotOn(group: GroupDescription, imageId: string): GroupInstance[] {
  return group.instances.filter(
    (instance) => SERVING.has(instance.lifecycleState ?? "InService") && instance.imageId !== imageId,
  );
}

/** "i-1 (ami-old, scale-in protected), i-2 (ami-old, Standby)": why each one was left. */
export function describeStragglers(instances: readonly GroupInstance[]): string {
  return instances
    .map((instance) => {
      const why = [
        instance.imageId ?? "image unknown",
        ...(instance.protectedFromScaleIn ? ["scale-in protected"] : []),
        ...(instance.lifecycleState && instance.lifecycleState !== "InService"
          ? [instance.lifecycleState]
          : []),
      ];
      return `${instance.instanceId} (${why.join(", ")})`;
    })
    .join(", ");
}
