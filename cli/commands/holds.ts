import { listHolds } from "../../ops/holds.js";
import { EXIT } from "../../ops/io.js";
import { plural, printJson } from "../../ops/output.js";
import { openConnection, whereFlags } from "../aws/session.js";
import { booleanFlag, CONNECTION_FLAGS, CONNECTION_USAGE, JSON_FLAG, parseCommandArgs } from "../lib/args.js";
import type { Command } from "../lib/command.js";

export const holdsCommand: Command = {
  name: "holds",
  usage: `phoenix holds [--all] [--json] ${CONNECTION_USAGE}`,
  example: "phoenix holds --local",
  details: `A containment is held, and nothing is done to the instance, when the instance or its group is
tagged phoenix:protected=true or when containing it would exceed a blast-radius budget. Each hold
is listed with why, since when, and the command that approves it (\`phoenix approve <hold-id>\`).
--all also lists the holds already approved or dismissed (by \`phoenix release\`).`,
  async run(args, io) {
    const parsed = parseCommandArgs(args, { ...CONNECTION_FLAGS, ...JSON_FLAG, all: { type: "boolean" } });
    const all = booleanFlag(parsed, "all");
    const connection = await openConnection(parsed, io);
    const holds = await listHolds(connection, { all });
    const where = whereFlags(parsed);
    const approve = (holdId: string) => `phoenix approve ${holdId}${where ? ` ${where}` : ""}`;
    if (booleanFlag(parsed, "json")) {
      printJson(io, {
        holds: holds.map((hold) => ({
          ...hold,
          ...(hold.status === "pending" ? { approveCommand: approve(hold.holdId) } : {}),
        })),
      });
      return EXIT.ok;
    }
    const pending = holds.filter((hold) => hold.status === "pending");
    io.out(
      pending.length === 0
        ? `No containment is held for approval by Phoenix in ${connection.region}/${connection.accountId}.`
        : `${plural(pending.length, "containment")} held for approval by Phoenix in ${connection.region}/${connection.accountId}:`,
    );
    for (const hold of holds) {
      const since = hold.createdAt.slice(0, 19).replace("T", " ");
      io.out("");
      io.out(
        `  ${hold.holdId}  ${hold.instanceId}${hold.accountId !== connection.accountId ? ` (account ${hold.accountId})` : ""}  ${hold.status}${hold.status === "pending" ? "" : hold.approvedBy ? ` by ${hold.approvedBy}` : ""}  (${hold.kind === "protected" ? "protected" : `over budget: ${hold.limit ?? "budget"}`}, since ${since} UTC)`,
      );
      io.out(`    ${hold.reason}`);
      if (hold.status === "pending") io.out(`    approve: ${approve(hold.holdId)}`);
    }
    return EXIT.ok;
  },
};
