import type { Clock } from "../core/clock.js";

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

/**
 * Launch lifecycle hooks (lifecycle.ts): whether an instance still waits in Pending:Wait, or when
 * its hooks said CONTINUE; undefined when it never waited.
 */
export interface LaunchGate {
  launchState(instanceId: string): { waiting: true } | { waiting: false; decidedAt: number } | undefined;
}

/** Simulated milliseconds an instance shows Pending:Proceed after its launch hooks completed. */
const PROCEED_MS = 5_000;

export class SimulatedHealth {
  private readonly instances = new Map<string, TrackedInstance>();

  constructor(
    private readonly clock: Pick<Clock, "now">,
    readonly bootMs: number,
    private readonly gate?: LaunchGate,
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
    const now = this.clock.now();
    const booted = now >= tracked.bootedAt;
    // Standby, Terminating, Detaching…: moto's own lifecycle wins; only InService is simulated.
    if (moto.lifecycleState !== "InService") {
      return { lifecycleState: moto.lifecycleState, healthStatus: motoHealth, booted };
    }
    // A launch hook holds the instance in Pending:Wait (booted or not: it runs meanwhile), then
    // Pending:Proceed; its health checks only count from InService, after the hooks (user guide,
    // "health check grace period": it starts once lifecycle hooks complete).
    const gate = this.gate?.launchState(instanceId);
    let state = booted ? "InService" : "Pending";
    if (gate?.waiting) state = "Pending:Wait";
    else if (gate && now < Math.max(tracked.bootedAt, gate.decidedAt + PROCEED_MS)) state = "Pending:Proceed";
    const inService = state === "InService";
    const unhealthy = motoHealth === "Unhealthy" || (inService && tracked.unhealthyImage);
    return { lifecycleState: state, healthStatus: unhealthy ? "Unhealthy" : "Healthy", booted };
  }

  /**
   * When the instance's health checks start to count: at launch, or once its launch hooks
   * completed; undefined while it waits for them (a refresh's health timeout runs from then).
   */
  healthClockStart(instanceId: string): number | undefined {
    const tracked = this.instances.get(instanceId);
    const gate = this.gate?.launchState(instanceId);
    if (gate?.waiting) return undefined;
    return gate ? gate.decidedAt : tracked?.firstSeenAt;
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
