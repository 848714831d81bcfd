import { UsageError } from "../../ops/io.js";
import { findExecution } from "../aws/executions.js";
import { openConnection } from "../aws/session.js";
import * as flags from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { followExecution } from "../progress/follow.js";

export const WATCH_FLAGS = { interval: { type: "string" }, timeout: { type: "string" } } as const;

export function watchTimings(parsed: Parameters<typeof flags.stringFlag>[0]): {
  intervalMs: number;
  timeoutMs?: number;
} {
  const interval = flags.stringFlag(parsed, "interval");
  const timeout = flags.stringFlag(parsed, "timeout");
  const intervalMs = interval !== undefined ? flags.parseDuration(interval, "--interval") : 2_000;
  return {
    intervalMs,
    ...(timeout !== undefined ? { timeoutMs: flags.parseDuration(timeout, "--timeout") } : {}),
  };
}

export const watchCommand: Command = {
  name: "watch",
  usage: `phoenix watch <execution name or ARN> [--interval 2s] [--timeout 30m] [--json] ${flags.CONNECTION_USAGE}`,
  example: "phoenix watch rollout-web-ami-0123456789abcdef0 --local",
  async run(args, io) {
    const parsed = flags.parseCommandArgs(
      args,
      { ...flags.CONNECTION_FLAGS, ...flags.JSON_FLAG, ...WATCH_FLAGS },
      1,
    );
    const [execution] = parsed.positionals;
    if (!execution)
      throw new UsageError("give the execution to watch (its name or ARN; `phoenix status` lists them)");
    const timings = watchTimings(parsed);
    const connection = await openConnection(parsed, io);
    const found = await findExecution(connection, execution);
    const json = flags.booleanFlag(parsed, "json");
    if (!json) io.out(`Watching ${found.workflow} ${found.arn}`);
    return followExecution(connection, found.arn, io, { ...timings, json });
  },
};
