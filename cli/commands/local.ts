import { parseArgs } from "node:util";
import { DEFAULT_LOCAL_PORT, type LocalCloud, startLocalCloud } from "../../local/cloud.js";
import { PortInUseError } from "../../local/gateway/server.js";
import { MotoUnavailableError } from "../../local/moto.js";
import type { LocalPhoenix } from "../../local/phoenix/stack.js";
import type { BuiltinOptions } from "../../local/plugins.js";
import { loadPolicy, loadPolicyFile, type Policy } from "../../src/policy/index.js";
import { type Command, parsePort, parsePositiveNumber } from "../command.js";
import { type CommandIO, EXIT, UsageError } from "../io.js";

export interface LocalFlags {
  port: number;
  speed: number;
  policy: Policy;
  /** Boolean flags of the calling command beyond the local cloud's own. */
  booleans: Record<string, boolean>;
}

export function parseLocalFlags(
  args: string[],
  defaults: { speed: number } = { speed: 1 },
  booleans: string[] = [],
): LocalFlags {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string" },
        speed: { type: "string" },
        policy: { type: "string" },
        ...Object.fromEntries(booleans.map((name) => [name, { type: "boolean" as const }])),
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const text = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  let port: number;
  let speed: number;
  try {
    port = parsePort(text("port"), DEFAULT_LOCAL_PORT);
    speed = parsePositiveNumber(text("speed"), "--speed", defaults.speed);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const policyFile = text("policy");
  return {
    port,
    speed,
    policy: policyFile ? loadPolicyFile(policyFile) : loadPolicy(),
    booleans: Object.fromEntries(booleans.map((name) => [name, values[name] === true])),
  };
}

/** Starts the local cloud with Phoenix deployed on it, or says clearly why it could not. */
export async function startCloudForCommand(
  flags: LocalFlags,
  io: CommandIO,
  builtin: Omit<BuiltinOptions, "policy" | "onDeployed"> = {},
  verbose = true,
): Promise<{ cloud?: LocalCloud; phoenix?: LocalPhoenix; code: number }> {
  try {
    let phoenix: LocalPhoenix | undefined;
    const cloud = await startLocalCloud({
      port: flags.port,
      speed: flags.speed,
      log: verbose ? (m) => io.err(`[local] ${m}`) : () => {},
      builtin: {
        ...builtin,
        policy: flags.policy,
        onDeployed: (deployed) => {
          phoenix = deployed;
        },
      },
    });
    return { cloud, phoenix, code: EXIT.ok };
  } catch (error) {
    if (error instanceof PortInUseError || error instanceof MotoUnavailableError) {
      io.err(`phoenix: ${error.message}`);
      return { code: EXIT.environment };
    }
    throw error;
  }
}

export function endpointHelp(endpoint: string): string {
  return [
    `Local cloud: ${endpoint}  (health: ${endpoint}/_phoenix/health)`,
    `Dashboard:   ${endpoint}/_phoenix/dashboard`,
    "Point any AWS client at it:",
    `  export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`,
    "  aws ec2 describe-instances",
    "  aws autoscaling describe-auto-scaling-groups",
    "  aws stepfunctions list-state-machines",
  ].join("\n");
}

export const localCommand: Command = {
  name: "local",
  usage: "phoenix local [--port 4566] [--speed 1] [--policy policy.json]",
  example: "phoenix local --port 4566 --speed 10",
  async run(args, io) {
    const flags = parseLocalFlags(args);
    const { cloud, code } = await startCloudForCommand(flags, io);
    if (!cloud) return code;
    io.out(endpointHelp(cloud.endpoint));
    io.out("Press Ctrl-C to stop.");
    await io.interrupted();
    io.err("stopping the local cloud…");
    await cloud.stop();
    return EXIT.ok;
  },
};
