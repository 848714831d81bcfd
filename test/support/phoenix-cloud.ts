import { type LocalCloud, startLocalCloud } from "../../local/cloud.js";
import type { LocalCloudPlugin } from "../../local/core/context.js";
import { type DemoGroupSpec, type SeededFleet, seedDemoFleet } from "../../local/core/seed.js";
import type { FunctionWrapper, LocalDeployment } from "../../local/deployment/index.js";
import { builtinPlugins } from "../../local/plugins.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { parsePolicy } from "../../src/policy/index.js";
import { withQuietSweep } from "./policy.js";

// Handlers log JSON through Powertools; benchmarks print figures, not logs.
process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

/** Phoenix as deployed on the local cloud (from its graph), with the deps of its on-finding function. */
export interface DeployedPhoenix {
  deployment: LocalDeployment;
  /** The deployed on-finding function's deps (its environment), with every AWS client. */
  deps: PhoenixDeps;
  stateMachineArns: LocalDeployment["stateMachineArns"];
}

export interface PhoenixCloud {
  cloud: LocalCloud;
  phoenix: DeployedPhoenix;
  fleet: SeededFleet;
  stop(): Promise<void>;
}

/**
 * The local cloud exactly as `phoenix local` runs it (every built-in part, Phoenix deployed from
 * its resource graph: real handlers, real state machines), with extra parts in front (timers,
 * throttles), and a fleet seeded and booted.
 */
export async function startPhoenixCloud(
  options: {
    speed?: number;
    policy?: unknown;
    groups?: DemoGroupSpec[];
    /** Parts that must see calls before the built-in ones do. */
    before?: LocalCloudPlugin[];
    bootSeconds?: number;
    /** Stage to deploy (default "local", as `phoenix local`). */
    stage?: string;
    wrap?: FunctionWrapper;
    /** Member accounts of the local cloud (the policy's accounts are deployed into as well). */
    accounts?: string[];
  } = {},
): Promise<PhoenixCloud> {
  let deployment: LocalDeployment | undefined;
  const cloud = await startLocalCloud({
    port: 0,
    speed: options.speed ?? 50,
    ...(options.accounts ? { accounts: options.accounts } : {}),
    plugins: [
      ...(options.before ?? []),
      ...builtinPlugins({
        policy: parsePolicy(withQuietSweep(options.policy)),
        bootSeconds: options.bootSeconds ?? 20,
        stage: options.stage ?? "local",
        ...(options.wrap ? { wrap: options.wrap } : {}),
        onDeployed: (deployed) => {
          deployment = deployed;
        },
      }),
    ],
  });
  try {
    const fleet = await seedDemoFleet(cloud.context.internalClientConfig, options.groups);
    await fetch(`${cloud.endpoint}/_phoenix/instances/booted`, { method: "POST", body: "{}" });
    if (!deployment) throw new Error("Phoenix was not deployed on the local cloud");
    const phoenix: DeployedPhoenix = {
      deployment,
      deps: deployment.depsOf("on-finding", { clients: "all" }),
      stateMachineArns: deployment.stateMachineArns,
    };
    return { cloud, phoenix, fleet, stop: () => cloud.stop() };
  } catch (error) {
    await cloud.stop();
    throw error;
  }
}
