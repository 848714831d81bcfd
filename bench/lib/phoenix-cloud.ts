import { type LocalCloud, startLocalCloud } from "../../local/cloud.js";
import type { LocalCloudPlugin } from "../../local/context.js";
import type { LocalPhoenix } from "../../local/phoenix/stack.js";
import { builtinPlugins } from "../../local/plugins.js";
import { type DemoGroupSpec, type SeededFleet, seedDemoFleet } from "../../local/seed.js";
import { parsePolicy } from "../../src/policy/index.js";

// Handlers log JSON through Powertools; benchmarks print figures, not logs.
process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

export interface PhoenixCloud {
  cloud: LocalCloud;
  phoenix: LocalPhoenix;
  fleet: SeededFleet;
  stop(): Promise<void>;
}

/**
 * The local cloud exactly as `phoenix local` runs it (every built-in part, Phoenix deployed:
 * real handlers, real state machines), with extra parts in front (timers, throttles), and a
 * fleet seeded and booted.
 */
export async function startPhoenixCloud(
  options: {
    speed?: number;
    policy?: unknown;
    groups?: DemoGroupSpec[];
    /** Parts that must see calls before the built-in ones do. */
    before?: LocalCloudPlugin[];
    bootSeconds?: number;
  } = {},
): Promise<PhoenixCloud> {
  let phoenix: LocalPhoenix | undefined;
  const cloud = await startLocalCloud({
    port: 0,
    speed: options.speed ?? 50,
    plugins: [
      ...(options.before ?? []),
      ...builtinPlugins({
        policy: parsePolicy(options.policy ?? {}),
        bootSeconds: options.bootSeconds ?? 20,
        onDeployed: (deployed) => {
          phoenix = deployed;
        },
      }),
    ],
  });
  try {
    const fleet = await seedDemoFleet(cloud.context.internalClientConfig, options.groups);
    await fetch(`${cloud.endpoint}/_phoenix/instances/booted`, { method: "POST", body: "{}" });
    if (!phoenix) throw new Error("Phoenix was not deployed on the local cloud");
    return { cloud, phoenix, fleet, stop: () => cloud.stop() };
  } catch (error) {
    await cloud.stop();
    throw error;
  }
}
