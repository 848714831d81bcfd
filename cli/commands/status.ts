import {
  booleanFlag,
  CONNECTION_FLAGS,
  CONNECTION_USAGE,
  JSON_FLAG,
  parseCommandArgs,
  stringFlag,
} from "../args.js";
import { listWorkflows, managedGroupRefreshes } from "../aws/fleet.js";
import { openConnection } from "../aws/session.js";
import type { Command } from "../command.js";
import { parsePositiveNumber } from "../command.js";
import { EXIT, UsageError } from "../io.js";
import { printJson, table } from "../output.js";
import { progressBar } from "../progress/bar.js";

export const statusCommand: Command = {
  name: "status",
  usage: `phoenix status [--recent 10] [--json] ${CONNECTION_USAGE}`,
  example: "phoenix status --local",
  async run(args, io) {
    const parsed = parseCommandArgs(args, { ...CONNECTION_FLAGS, ...JSON_FLAG, recent: { type: "string" } });
    let recent: number;
    try {
      recent = Math.round(parsePositiveNumber(stringFlag(parsed, "recent"), "--recent", 10));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const connection = await openConnection(parsed, io);
    const [workflows, groups] = await Promise.all([
      listWorkflows(connection, recent),
      managedGroupRefreshes(connection),
    ]);
    if (booleanFlag(parsed, "json")) {
      printJson(io, {
        region: connection.region,
        accountId: connection.accountId,
        stage: connection.stage,
        workflows,
        groups,
      });
      return EXIT.ok;
    }
    io.out(`Phoenix ${connection.stage} in ${connection.region}/${connection.accountId}`);
    io.out("");
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
          ? `${g.refresh.status}${g.refresh.instancesToUpdate !== undefined ? `, ${g.refresh.instancesToUpdate} left` : ""}`
          : "no refresh yet",
      ]),
    ))
      io.out(line);
    return EXIT.ok;
  },
};
