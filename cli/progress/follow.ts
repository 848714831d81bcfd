import type { Connection } from "../../ops/connect.js";
import { type CommandIO, EXIT } from "../../ops/io.js";
import { asPerson, fleetDeps } from "../../src/member-access.js";
import { MEMBER_ACCESS_ROLE } from "../lib/args.js";
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
  // A member's refreshes are read as the person may read them there (PHOENIX_MEMBER_ACCESS_ROLE).
  const person = asPerson(connection.deps, io.env.PHOENIX_MEMBER_ACCESS_ROLE ?? MEMBER_ACCESS_ROLE);
  const follower = new ExecutionFollower(
    connection.deps.clients,
    executionArn,
    (event) => io.out(options.json ? JSON.stringify(event) : event.text),
    (place) => fleetDeps(person, place).clients.autoScaling,
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
