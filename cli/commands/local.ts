import { parseArgs } from "node:util";
import { DEFAULT_LOCAL_PORT, type LocalCloud, startLocalCloud } from "../../local/cloud.js";
import { PortInUseError } from "../../local/gateway/server.js";
import { MotoUnavailableError } from "../../local/moto.js";
import { type Command, parsePort, parsePositiveNumber } from "../command.js";
import { type CommandIO, EXIT, UsageError } from "../io.js";

export interface LocalFlags {
  port: number;
  speed: number;
}

export function parseLocalFlags(args: string[]): LocalFlags {
  let values: { port?: string; speed?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: { port: { type: "string" }, speed: { type: "string" } },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  try {
    return {
      port: parsePort(values.port, DEFAULT_LOCAL_PORT),
      speed: parsePositiveNumber(values.speed, "--speed", 1),
    };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Starts the local cloud, or says clearly why it could not. */
export async function startCloudForCommand(
  flags: LocalFlags,
  io: CommandIO,
): Promise<{ cloud?: LocalCloud; code: number }> {
  try {
    const cloud = await startLocalCloud({
      port: flags.port,
      speed: flags.speed,
      log: (m) => io.err(`[local] ${m}`),
    });
    return { cloud, code: EXIT.ok };
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
    "Point any AWS client at it:",
    `  export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`,
    "  aws ec2 describe-instances",
    "  aws autoscaling describe-auto-scaling-groups",
    "  aws stepfunctions list-state-machines",
  ].join("\n");
}

export const localCommand: Command = {
  name: "local",
  summary: "Run the local cloud (moto + Phoenix's runtime) until Ctrl-C",
  usage: "phoenix local [--port 4566] [--speed 1]",
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
