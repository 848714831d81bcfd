import { CliError, EXIT, UsageError } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { asPerson } from "../../src/member-access.js";
import { describePause, resumeCommand } from "../../src/rollout/core/pause.js";
import {
  PauseRequestError,
  pauseRollouts,
  resumeRollouts,
} from "../../src/rollout/workflow/pause-control.js";
import { actorOf, openConnection, whereFlags } from "../aws/session.js";
import {
  booleanFlag,
  CONNECTION_FLAGS,
  CONNECTION_USAGE,
  JSON_FLAG,
  memberRoleFlag,
  parseCommandArgs,
  stringFlag,
} from "../lib/args.js";
import type { Command } from "../lib/command.js";

export const pauseCommand: Command = {
  name: "pause",
  usage: `phoenix pause [--family f] --reason "…" [--cancel-refreshes [--member-role <role>]] [--json] ${CONNECTION_USAGE}`,
  example: 'phoenix pause --reason "incident 4711: freeze all changes" --local',
  details: `Stops every rollout (of one family with --family) at its next safe point: no rollout plans, no
wave begins and no group starts a refresh until \`phoenix resume\`. A refresh already running is
left to finish; with --cancel-refreshes Phoenix cancels its own running refreshes, in member
accounts too, reached through --member-role (OrganizationAccountAccessRole unless given; AWS rolls
back the instances already replaced when the refresh has AutoRollback). A stopped rollout ends FAILED
(Phoenix.RolloutPaused) and says how to run it again after resume. Containment is never paused.
The pause lives in Phoenix's state table: it survives restarts and redeployments, and is shown by
\`phoenix status\`, the dashboard and a notification. Pausing again replaces the reason.`,
  async run(args, io) {
    const parsed = parseCommandArgs(args, {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      family: { type: "string" },
      reason: { type: "string" },
      "cancel-refreshes": { type: "boolean" },
      "member-role": { type: "string" },
    });
    const reason = stringFlag(parsed, "reason");
    if (reason === undefined || reason.trim() === "")
      throw new UsageError('give the reason: --reason "…" (it is shown to everyone the pause stops)');
    const family = stringFlag(parsed, "family");
    const connection = await openConnection(parsed, io);
    let result: Awaited<ReturnType<typeof pauseRollouts>>;
    try {
      result = await pauseRollouts(asPerson(connection.deps, memberRoleFlag(parsed, io.env)), {
        ...(family !== undefined ? { family } : {}),
        reason,
        by: await actorOf(io.env, connection),
        cancelRefreshes: booleanFlag(parsed, "cancel-refreshes"),
      });
    } catch (error) {
      if (error instanceof PauseRequestError) throw new UsageError(error.message);
      throw error;
    }
    if (booleanFlag(parsed, "json")) {
      printJson(io, result);
      return EXIT.ok;
    }
    const where = whereFlags(parsed);
    io.out(`Paused: ${describePause(result.pause)}`);
    if (result.replaced) io.out(`  (replaces the pause of ${result.replaced.at}: ${result.replaced.reason})`);
    io.out("  No new rollout, wave or group refresh starts. Containment is not paused.");
    for (const refresh of result.refreshes) {
      const what =
        refresh.cancelled === true
          ? "cancelled"
          : refresh.cancelled === false
            ? `not cancelled (${refresh.error})`
            : "left to finish";
      io.out(`  ${refresh.group}: instance refresh ${refresh.refreshId} (${refresh.status}) ${what}`);
    }
    io.out(`  lift it: ${resumeCommand(result.pause)}${where ? ` ${where}` : ""}`);
    return EXIT.ok;
  },
};

export const resumeRolloutsCommand: Command = {
  name: "resume",
  usage: `phoenix resume [--family f] [--json] ${CONNECTION_USAGE}`,
  example: "phoenix resume --local",
  details: `Lifts the pause \`phoenix pause\` set (of one family with --family: each pause is lifted by the
same scope it was set with). New rollouts run again; rollouts the pause stopped are listed with
the command that runs each again (they do not restart by themselves).`,
  async run(args, io) {
    const parsed = parseCommandArgs(args, { ...CONNECTION_FLAGS, ...JSON_FLAG, family: { type: "string" } });
    const family = stringFlag(parsed, "family");
    const connection = await openConnection(parsed, io);
    const result = await resumeRollouts(connection.deps, {
      ...(family !== undefined ? { family } : {}),
      by: await actorOf(io.env, connection),
    });
    if (booleanFlag(parsed, "json")) {
      printJson(io, {
        resumed: result.resumed ?? null,
        stillPaused: result.stillPaused,
        stopped: result.stopped,
      });
      return result.resumed ? EXIT.ok : EXIT.failed;
    }
    const where = whereFlags(parsed);
    if (result.resumed === undefined) {
      const others = result.stillPaused.map(
        (p) => `  ${describePause(p)}: ${resumeCommand(p)}${where ? ` ${where}` : ""}`,
      );
      throw new CliError(
        `Nothing to resume: ${family !== undefined ? `rollouts of family ${family} are` : "rollouts are"} not paused by that scope.` +
          (others.length > 0 ? `\nIn force:\n${others.join("\n")}` : ""),
        EXIT.failed,
      );
    }
    io.out(
      `Resumed: lifted the pause of ${result.resumed.at} by ${result.resumed.by} (${result.resumed.reason}).`,
    );
    for (const pause of result.stillPaused)
      io.out(`  still in force: ${describePause(pause)}: ${resumeCommand(pause)}${where ? ` ${where}` : ""}`);
    if (result.stopped.length > 0) {
      io.out("  Rollouts the pause stopped (run each again):");
      for (const stopped of result.stopped) io.out(`    ${stopped.rerun}${where ? ` ${where}` : ""}`);
    }
    return EXIT.ok;
  },
};
