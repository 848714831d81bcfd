import type { Clock } from "../clock.js";

/**
 * Simulated instance boot and health. moto reports every instance InService and Healthy the
 * moment it exists; here an instance is Pending for `bootSeconds` of simulated time after the
 * local cloud first saw it, then InService. It is Healthy unless its image is tagged
 * `phoenix-local:health=unhealthy` (then, once booted, it is Unhealthy for good) or someone
 * marked it Unhealthy through SetInstanceHealth (which moto records).
 */

export const UNHEALTHY_IMAGE_TAG = { key: "phoenix-local:health", value: "unhealthy" } as const;

/** The launch template an instance was launched from, with the version as a number. */
export interface LaunchedFrom {
  LaunchTemplateId: string;
  LaunchTemplateName: string;
  Version: string;
}

export interface TrackedInstance {
  instanceId: string;
  groupName: string;
  /** Simulated epoch milliseconds. */
  firstSeenAt: number;
  bootedAt: number;
  imageId?: string;
  availabilityZone?: string;
  subnetId?: string;
  unhealthyImage: boolean;
  launchTemplate?: LaunchedFrom;
}

export interface InstanceHealthView {
  lifecycleState: string;
  healthStatus: "Healthy" | "Unhealthy";
  booted: boolean;
}

/** What moto says about an instance in its group. */
export interface MotoInstanceState {
  lifecycleState: string;
  healthStatus: string;
}

export class SimulatedHealth {
  private readonly instances = new Map<string, TrackedInstance>();

  constructor(
    private readonly clock: Pick<Clock, "now">,
    readonly bootMs: number,
  ) {}

  has(instanceId: string): boolean {
    return this.instances.has(instanceId);
  }

  get(instanceId: string): TrackedInstance | undefined {
    return this.instances.get(instanceId);
  }

  all(): TrackedInstance[] {
    return [...this.instances.values()];
  }

  /** Starts the boot clock of an instance seen for the first time (a second sighting changes nothing). */
  record(instance: Omit<TrackedInstance, "bootedAt">): TrackedInstance {
    const known = this.instances.get(instance.instanceId);
    if (known) return known;
    const tracked = { ...instance, bootedAt: instance.firstSeenAt + this.bootMs };
    this.instances.set(instance.instanceId, tracked);
    return tracked;
  }

  /** Seeds and tests: these instances have finished booting already. Returns the ids it knew. */
  markBooted(instanceIds: string[]): string[] {
    const now = this.clock.now();
    const marked: string[] = [];
    for (const id of instanceIds) {
      const tracked = this.instances.get(id);
      if (!tracked) continue;
      tracked.bootedAt = Math.min(tracked.bootedAt, now);
      marked.push(id);
    }
    return marked;
  }

  view(instanceId: string, moto: MotoInstanceState): InstanceHealthView {
    const tracked = this.instances.get(instanceId);
    const motoHealth = moto.healthStatus === "Unhealthy" ? "Unhealthy" : "Healthy";
    if (!tracked) return { lifecycleState: moto.lifecycleState, healthStatus: motoHealth, booted: true };
    const booted = this.clock.now() >= tracked.bootedAt;
    // Standby, Terminating, Detaching…: moto's own lifecycle wins; only InService is simulated.
    if (moto.lifecycleState !== "InService") {
      return { lifecycleState: moto.lifecycleState, healthStatus: motoHealth, booted };
    }
    const unhealthy = motoHealth === "Unhealthy" || (booted && tracked.unhealthyImage);
    return {
      lifecycleState: booted ? "InService" : "Pending",
      healthStatus: unhealthy ? "Unhealthy" : "Healthy",
      booted,
    };
  }

  isHealthy(instanceId: string, moto: MotoInstanceState): boolean {
    const view = this.view(instanceId, moto);
    return view.lifecycleState === "InService" && view.healthStatus === "Healthy";
  }

  /** Simulated time at which the instance is (or was) booted, if tracked. */
  bootedAt(instanceId: string): number | undefined {
    return this.instances.get(instanceId)?.bootedAt;
  }

  forget(instanceIds: string[]): void {
    for (const id of instanceIds) this.instances.delete(id);
  }
}
