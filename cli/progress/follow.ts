import type { Connection } from "../../ops/connect.js";
import { type CommandIO, EXIT } from "../../ops/io.js";
import { ExecutionFollower, type FollowResult } from "./execution.js";

export interface FollowOptions {
  intervalMs: number;
  /** Stop watching (the workflow goes on) after this long. */
  timeoutMs?: number;
  /** JSON lines instead of text: one object per event. */
  json: boolean;
}

/**
 * Prints one execution's progress until it ends; the exit code says how it ended: 0 succeeded,
 * 1 failed (or timed out, or was aborted, or watching stopped before the end).
 */
export async function followExecution(
  connection: Connection,
  executionArn: string,
  io: CommandIO,
  options: FollowOptions,
): Promise<number> {
  const follower = new ExecutionFollower(connection.deps.clients, executionArn, (event) =>
    io.out(options.json ? JSON.stringify(event) : event.text),
  );
  const deadline =
    options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
  let stop = false;
  void io.interrupted().then(() => {
    stop = true;
  });
  let result: FollowResult | undefined;
  for (;;) {
    result = await follower.poll();
    if (result || stop || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
  if (!result) {
    const why = stop ? "interrupted" : "timed out";
    io.err(`stopped watching (${why}); the workflow goes on: \`phoenix watch ${executionArn}\` to resume`);
    return EXIT.failed;
  }
  return result.status === "SUCCEEDED" ? EXIT.ok : EXIT.failed;
}
