import type { Clock } from "../core/clock.js";
import type { LaunchedFrom, SimulatedHealth } from "./health.js";
import type { LaunchProfiles } from "./launch-profiles.js";
import type { GroupSnapshot, MotoFleet } from "./moto-fleet.js";
import { isNumberedVersion, type LaunchTemplateSpec } from "./refresh-model.js";

/** Real milliseconds the set of images tagged unhealthy is trusted without a tag change seen. */
const IMAGE_TAGS_TTL_MS = 2_000;

/**
 * Notices Auto Scaling instances the first time the local cloud sees them (after an Auto Scaling
 * call, in a Describe answer, or when the refresh engine launches them) and starts their
 * simulated boot. It also records what each was launched from: moto only knows the group's
 * current launch template, while SkipMatching and rollbacks need the version of each instance;
 * and gives it that version's instance profile, which moto does not (launch-profiles.ts).
 */
export class InstanceTracker {
  private unhealthyImages?: { ids: Promise<Set<string>>; at: number };
  /** Instances leaving a warm pool for the group: launched earlier, from the version noted here. */
  private readonly warmStarts = new Map<string, LaunchedFrom>();

  constructor(
    private readonly fleet: MotoFleet,
    private readonly health: SimulatedHealth,
    private readonly clock: Pick<Clock, "now">,
    private readonly profiles?: Pick<LaunchProfiles, "apply">,
    /** Launch lifecycle hooks: a new instance may have to wait for them (lifecycle.ts). */
    private readonly launches?: {
      onLaunch(group: { name: string; arn: string }, instanceId: string, origin?: "EC2" | "WarmPool"): void;
    },
  ) {}

  /**
   * The instance joins its group from the warm pool (warm-pool.ts): when next seen in the group
   * it counts as launched from `from`, not the group's current version, and its launch hooks
   * see it come from the WarmPool.
   */
  noteWarmStart(instanceId: string, from: LaunchedFrom): void {
    this.warmStarts.set(instanceId, from);
  }

  /**
   * Reads the groups (all when no names are given) from moto and tracks instances new to us.
   * Every call reads afresh: a read that started before the caller's own change would miss it.
   */
  async sync(groupNames: string[] = []): Promise<GroupSnapshot[]> {
    // The boot clock starts when the call that revealed the instance was made, not when moto answered.
    const seenAt = this.clock.now();
    const groups = await this.fleet.describeGroups(groupNames);
    await this.track(groups, seenAt);
    return groups;
  }

  /** Image tags changed (CreateTags/DeleteTags went through the gateway): look them up again. */
  forgetImageTags(): void {
    this.unhealthyImages = undefined;
  }

  async track(groups: GroupSnapshot[], seenAt: number): Promise<void> {
    const unseen = groups.flatMap((group) =>
      group.instances.filter((i) => !this.health.has(i.instanceId)).map((instance) => ({ group, instance })),
    );
    if (unseen.length === 0) return;
    const [facts, unhealthyImages] = await Promise.all([
      this.fleet.describeInstances(unseen.map((u) => u.instance.instanceId)),
      this.unhealthyImageIds(),
    ]);
    const factsById = new Map(facts.map((f) => [f.instanceId, f]));
    const launchedFrom = new Map<string, LaunchedFrom | undefined>();
    for (const { group } of unseen) {
      if (!launchedFrom.has(group.name))
        launchedFrom.set(group.name, await this.resolve(group.launchTemplate));
    }
    // Before they count as seen: whoever sees them next sees them with their profile.
    await this.profiles?.apply(
      unseen
        .filter(({ instance }) => factsById.has(instance.instanceId))
        .map(({ group, instance }) => {
          const from = this.warmStarts.get(instance.instanceId) ?? launchedFrom.get(group.name);
          const profileArn = factsById.get(instance.instanceId)?.instanceProfileArn;
          return {
            instanceId: instance.instanceId,
            ...(from ? { launchedFrom: from } : {}),
            ...(profileArn ? { instanceProfileArn: profileArn } : {}),
          };
        }),
    );
    for (const { group, instance } of unseen) {
      if (this.health.has(instance.instanceId)) continue; // a concurrent sync got there first
      const warm = this.warmStarts.get(instance.instanceId);
      this.warmStarts.delete(instance.instanceId);
      this.launches?.onLaunch(group, instance.instanceId, warm ? "WarmPool" : "EC2");
      const fact = factsById.get(instance.instanceId);
      const from = warm ?? launchedFrom.get(group.name);
      this.health.record({
        instanceId: instance.instanceId,
        groupName: group.name,
        firstSeenAt: seenAt,
        unhealthyImage: fact?.imageId !== undefined && unhealthyImages.has(fact.imageId),
        ...(fact?.imageId ? { imageId: fact.imageId } : {}),
        ...(fact?.availabilityZone ? { availabilityZone: fact.availabilityZone } : {}),
        ...(fact?.subnetId ? { subnetId: fact.subnetId } : {}),
        ...(from ? { launchTemplate: from } : {}),
      });
    }
  }

  /**
   * Cached between tag changes seen by the gateway; the short lifetime covers tags written
   * straight to moto, which the gateway never sees.
   */
  private unhealthyImageIds(): Promise<Set<string>> {
    const now = Date.now();
    if (!this.unhealthyImages || now - this.unhealthyImages.at > IMAGE_TAGS_TTL_MS) {
      const ids = this.fleet.unhealthyImageIds();
      this.unhealthyImages = { ids, at: now };
      ids.catch(() => this.forgetImageTags());
    }
    return this.unhealthyImages.ids;
  }

  /** A group's launch template with `$Latest`/`$Default`/no version turned into the number it means now. */
  async resolve(spec: LaunchTemplateSpec | undefined): Promise<LaunchedFrom | undefined> {
    if (!spec) return undefined;
    if (isNumberedVersion(spec.Version) && spec.LaunchTemplateId && spec.LaunchTemplateName) {
      return {
        LaunchTemplateId: spec.LaunchTemplateId,
        LaunchTemplateName: spec.LaunchTemplateName,
        Version: spec.Version!,
      };
    }
    const template = await this.fleet.describeLaunchTemplate(spec);
    if (!template) return undefined;
    const version = isNumberedVersion(spec.Version)
      ? spec.Version!
      : String(spec.Version?.toLowerCase() === "$latest" ? template.latestVersion : template.defaultVersion);
    return { LaunchTemplateId: template.id, LaunchTemplateName: template.name, Version: version };
  }
}

export function sameLaunchTemplate(a: LaunchedFrom | undefined, b: LaunchedFrom | undefined): boolean {
  return (
    a !== undefined && b !== undefined && a.LaunchTemplateId === b.LaunchTemplateId && a.Version === b.Version
  );
}
