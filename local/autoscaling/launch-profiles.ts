import type { LaunchedFrom } from "./health.js";
import type { InstanceProfileSpec, MotoFleet } from "./moto-fleet.js";

/**
 * moto launches a group's instances from its launch template's image, type and groups, but not
 * its IamInstanceProfile: they come up with no instance-profile association, so the credentials
 * a containment must revoke do not exist. EC2 Auto Scaling launches them with the version's
 * profile. The tracker hands every group instance it sees for the first time (after a launching
 * Auto Scaling call, in a Describe answer, when a refresh launches replacements) to `apply`,
 * which associates the profile of the version it was launched from, as AWS would have at
 * launch. Instances that already have a profile, and instances that were attached to the group
 * (AttachInstances: launched elsewhere, they keep what they had), are left alone.
 */

export interface LaunchedInstance {
  instanceId: string;
  launchedFrom?: LaunchedFrom;
  /** Its current association's profile, if any. */
  instanceProfileArn?: string;
}

export class LaunchProfiles {
  private readonly attached = new Set<string>();
  /** Launch template versions never change: their profile is looked up once. */
  private readonly byVersion = new Map<string, Promise<InstanceProfileSpec | undefined>>();
  /** Per instance, so two sightings at once associate once. */
  private readonly applied = new Map<string, Promise<void>>();

  constructor(
    private readonly fleet: Pick<MotoFleet, "launchTemplateProfile" | "associateInstanceProfile">,
    private readonly log: (message: string) => void,
  ) {}

  /** AttachInstances: these were not launched by the group and get no profile from it. */
  noteAttached(instanceIds: string[]): void {
    for (const id of instanceIds) this.attached.add(id);
  }

  async apply(instances: LaunchedInstance[]): Promise<void> {
    await Promise.all(
      instances.map((instance) => {
        const known = this.applied.get(instance.instanceId);
        if (known) return known;
        const applying = this.associate(instance);
        this.applied.set(instance.instanceId, applying);
        return applying;
      }),
    );
  }

  private async associate(instance: LaunchedInstance): Promise<void> {
    const from = instance.launchedFrom;
    if (!from || instance.instanceProfileArn || this.attached.has(instance.instanceId)) return;
    try {
      const profile = await this.profileOf(from);
      if (!profile) return;
      await this.fleet.associateInstanceProfile(instance.instanceId, profile);
    } catch (error) {
      // AWS would fail the launch (e.g. no such profile); the local cloud keeps the instance and says why.
      this.log(
        `autoscaling: could not give ${instance.instanceId} the instance profile of ${from.LaunchTemplateId} ` +
          `version ${from.Version}: ${(error as Error).message}`,
      );
    }
  }

  private profileOf(from: LaunchedFrom): Promise<InstanceProfileSpec | undefined> {
    const key = `${from.LaunchTemplateId}#${from.Version}`;
    let profile = this.byVersion.get(key);
    if (!profile) {
      profile = this.fleet.launchTemplateProfile(from);
      this.byVersion.set(key, profile);
      profile.catch(() => this.byVersion.delete(key));
    }
    return profile;
  }
}
