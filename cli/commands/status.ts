import { listWorkflows, managedGroupRefreshes } from "../../ops/fleet.js";
import { listHolds } from "../../ops/holds.js";
import { EXIT, UsageError } from "../../ops/io.js";
import { plural, printJson, table } from "../../ops/output.js";
import { progressBar } from "../../ops/progress/bar.js";
import { listPauses } from "../../src/rollout/aws/pauses.js";
import { describePause, type Pause, resumeCommand } from "../../src/rollout/core/pause.js";
import { isActiveRefreshStatus } from "../../src/rollout/core/refresh-outcome.js";
import { formatIgnored, ignoredEvents } from "../aws/ignored.js";
import { openConnection, whereFlags } from "../aws/session.js";
import * as flags from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { parsePositiveNumber } from "../lib/command.js";

/**
 * `paused` in `status --json`: false when nothing is paused, else what is (every family, or which
 * families), with the reason of the pause of every family first.
 */
function pausedView(pauses: Pause[]) {
  if (pauses.length === 0) return false;
  const all = pauses.find((pause) => pause.family === undefined);
  const first = all ?? (pauses[0] as Pause);
  return {
    all: all !== undefined,
    families: pauses.flatMap((pause) => (pause.family !== undefined ? [pause.family] : [])),
    reason: first.reason,
    by: first.by,
    since: first.at,
    pauses,
  };
}

export const statusCommand: Command = {
  name: "status",
  usage: `phoenix status [--recent 10] [--since 24h] [--json] ${flags.CONNECTION_USAGE}`,
  example: "phoenix status --local",
  details: `Shows the running and recent workflows of both state machines, each managed group's latest
instance refresh, the containments held for approval (with the command that approves each), and
the events Phoenix received but did not act on since --since (default 24h): findings it ignored
or refused (a sample, a low severity, another account) and image events that do not apply.`,
  async run(args, io) {
    const parsed = flags.parseCommandArgs(args, {
      ...flags.CONNECTION_FLAGS,
      ...flags.JSON_FLAG,
      recent: { type: "string" },
      since: { type: "string" },
    });
    let recent: number;
    try {
      recent = Math.round(parsePositiveNumber(flags.stringFlag(parsed, "recent"), "--recent", 10));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const sinceText = flags.stringFlag(parsed, "since");
    const sinceMs = sinceText !== undefined ? flags.parseDuration(sinceText, "--since") : 86_400_000;
    const connection = await openConnection(parsed, io);
    const since = new Date(connection.deps.now().getTime() - sinceMs).toISOString();
    const [workflows, groups, holds, records, pauses] = await Promise.all([
      listWorkflows(connection, recent),
      managedGroupRefreshes(connection),
      listHolds(connection),
      connection.deps.audit.since(since),
      listPauses(connection.deps),
    ]);
    const ignored = ignoredEvents(records).reverse();
    const where = whereFlags(parsed);
    const approve = (holdId: string) => `phoenix approve ${holdId}${where ? ` ${where}` : ""}`;
    if (flags.booleanFlag(parsed, "json")) {
      printJson(io, {
        region: connection.region,
        accountId: connection.accountId,
        stage: connection.stage,
        ...(connection.target.endpoint ? { endpoint: connection.target.endpoint } : {}),
        paused: pausedView(pauses),
        workflows,
        groups,
        holds: holds.map((hold) => ({ ...hold, approveCommand: approve(hold.holdId) })),
        ignored: { since, events: ignored },
      });
      return EXIT.ok;
    }
    io.out(
      `Phoenix ${connection.stage} in ${connection.region}/${connection.accountId}${connection.target.endpoint ? ` (${connection.target.endpoint})` : ""}`,
    );
    io.out("");
    for (const pause of pauses) {
      io.out(`PAUSED: ${describePause(pause)}`);
      io.out(
        `  no rollout starts until: ${resumeCommand(pause)}${where ? ` ${where}` : ""} (containment is not paused)`,
      );
    }
    if (pauses.length > 0) io.out("");
    const running = workflows.filter((w) => w.status === "RUNNING");
    io.out(`Workflows: ${running.length} running, ${workflows.length - running.length} recent`);
    if (workflows.length === 0) io.out("  none yet");
    else
      for (const line of table(
        workflows.map((w) => [
          `  ${w.status === "RUNNING" ? "▶" : w.status === "SUCCEEDED" ? "✔" : "✘"}`,
          w.workflow,
          w.status,
          w.startedAt ? w.startedAt.replace("T", " ").slice(0, 19) : "-",
          w.name,
        ]),
      ))
        io.out(line);
    io.out("");
    io.out(`Managed groups: ${groups.length}`);
    for (const line of table(
      groups.map((g) => [
        `  ${g.group}`,
        `${g.family ?? "-"}/wave ${g.wave}`,
        g.refresh ? progressBar(g.refresh.percentComplete) : "",
        g.refresh
          ? `${g.refresh.status}${g.refresh.instancesToUpdate !== undefined ? `, ${g.refresh.instancesToUpdate} left` : ""}${g.refresh.reason && isActiveRefreshStatus(g.refresh.status) ? ` — ${g.refresh.reason}` : ""}`
          : "no refresh yet",
      ]),
    ))
      io.out(line);
    io.out("");
    io.out(`Held for approval: ${holds.length === 0 ? "none" : plural(holds.length, "containment")}`);
    for (const hold of holds) {
      io.out(
        `  ${hold.holdId}  ${hold.instanceId}  ${hold.kind}, since ${hold.createdAt.slice(0, 19).replace("T", " ")}`,
      );
      io.out(`    ${hold.reason}`);
      io.out(`    approve: ${approve(hold.holdId)}`);
    }
    io.out("");
    const shown = ignored.slice(0, recent);
    io.out(
      `Not acted on since ${since.slice(0, 19).replace("T", " ")}: ${ignored.length === 0 ? "nothing" : plural(ignored.length, "event")}${shown.length < ignored.length ? ` (latest ${shown.length}; phoenix audit --since … has all)` : ""}`,
    );
    for (const event of shown) io.out(`  ${formatIgnored(event)}`);
    return EXIT.ok;
  },
};
