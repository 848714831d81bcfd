import type { Clock } from "../core/clock.js";
import type { LaunchedFrom } from "./health.js";
import type { GroupSnapshot } from "./moto-fleet.js";
import type { InstanceRefresh, LaunchTemplateSpec, MixedInstancesPolicy } from "./refresh-model.js";

/** What the engine and the batch replacer share about one refresh while it runs. */

/** Why a run was interrupted: by request, by shutdown, or by one of its CloudWatch alarms. */
export type Intent = "cancel" | "rollback" | "shutdown" | "alarm";

export interface Run {
  refresh: InstanceRefresh;
  groupArn: string;
  gracePeriodSeconds: number;
  /** Replaced by a fresh one when a rollback phase starts, so that phase can be cancelled too. */
  controller: AbortController;
  intent?: Intent;
  /** With intent "alarm": the StatusReason naming the alarms in ALARM. */
  alarmReason?: string;
  /** Old instances whose replacements were launched first: above desired capacity until they go. */
  surplus: Set<string>;
  /** The group's desired capacity while a launch-first batch has raised moto's. */
  shownDesiredCapacity?: number;
  /** What the group shows as its launch template while the refresh runs (AWS changes it only on success). */
  shownLaunchTemplate?: LaunchTemplateSpec;
  /** Likewise a mixed group's policy. */
  shownMixedPolicy?: MixedInstancesPolicy;
  finished?: Promise<void>;
  /** The version the forward pass replaces instances with (resolved when it starts). */
  target?: LaunchedFrom;
  /** The forward pass stopped at a last checkpoint below 100%: the rest (warm pool too) stays. */
  stoppedShort?: boolean;
}

/** Why a pass stopped short: the instance that failed and a StatusReason naming it. */
export interface PassFailure {
  instanceId: string;
  reason: string;
}

/** One sweep over a group: the forward refresh, or its rollback. */
export interface Pass {
  /** The group as just read from moto. */
  group: GroupSnapshot;
  candidates: string[];
  /** Replacements allowed before the next pause, given how many instances remain to replace. */
  room(remaining: number): number;
  /** Called after every batch (and once before the first); "stop" ends the pass early. */
  afterBatch(remaining: number): Promise<"continue" | "stop">;
}

/** Thrown out of any wait when a refresh is cancelled, rolled back by hand, or shut down. */
export class Interrupted extends Error {
  constructor() {
    super("instance refresh interrupted");
  }
}

export function throwIfInterrupted(run: Run): void {
  if (run.controller.signal.aborted) throw new Interrupted();
}

/** Sleeps simulated time; an interruption ends the sleep with Interrupted. */
export async function sleepIn(run: Run, clock: Pick<Clock, "sleep">, simulatedMs: number): Promise<void> {
  if (simulatedMs <= 0) return throwIfInterrupted(run);
  try {
    await clock.sleep(simulatedMs, run.controller.signal);
  } catch {
    throw new Interrupted();
  }
}
