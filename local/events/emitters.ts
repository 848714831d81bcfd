import type { BusEvent, LocalCloudContext } from "../core/context.js";
import type { ResponseObserver } from "../gateway/server.js";
import { AmiStateEmitter } from "./ami-state.js";
import { InstanceStateWatcher } from "./instance-state.js";

/**
 * The events EC2 emits, produced by the local cloud: AMI state changes and instance state
 * changes. (The Auto Scaling events, instance refresh lifecycle and instance launch/terminate,
 * come from the refresh engine, which knows when they happen.)
 */
export interface EmitterOptions {
  /** Simulated ms from CreateImage/RegisterImage/CopyImage to the `available` event. */
  amiAvailableAfterMs?: number;
  /** Real ms between two looks at moto's instances; calls through the gateway also trigger one. */
  instanceWatchIntervalMs?: number;
  /** Turn an emitter off, e.g. in a test about something else. */
  amiEvents?: boolean;
  instanceEvents?: boolean;
}

export interface Emitters {
  observers: ResponseObserver[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createEmitters(
  context: LocalCloudContext,
  emit: (events: BusEvent[]) => Promise<void>,
  options: EmitterOptions = {},
): Emitters {
  const ami =
    options.amiEvents === false
      ? undefined
      : new AmiStateEmitter(context, { availableAfterMs: options.amiAvailableAfterMs ?? 30_000, emit });
  const instances =
    options.instanceEvents === false
      ? undefined
      : new InstanceStateWatcher(context, { intervalMs: options.instanceWatchIntervalMs ?? 1_000, emit });
  return {
    observers: [ami?.observe, instances?.observe].filter((o): o is ResponseObserver => o !== undefined),
    start: async () => {
      await instances?.start();
    },
    stop: async () => {
      await Promise.all([ami?.stop(), instances?.stop()]);
    },
  };
}
