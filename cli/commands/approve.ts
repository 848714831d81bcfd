import { CliError, EXIT, UsageError } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { approveHold, HoldNotFoundError, HoldNotPendingError } from "../../src/containment/workflow/holds.js";
import { actorOf, openConnection } from "../aws/session.js";
import { booleanFlag, CONNECTION_FLAGS, CONNECTION_USAGE, JSON_FLAG, parseCommandArgs } from "../lib/args.js";
import type { Command } from "../lib/command.js";

export const approveCommand: Command = {
  name: "approve",
  usage: `phoenix approve <hold-id> [--json] ${CONNECTION_USAGE}`,
  example: "phoenix approve hold-0123456789ab --local",
  async run(args, io) {
    const parsed = parseCommandArgs(args, { ...CONNECTION_FLAGS, ...JSON_FLAG }, 1);
    const holdId = parsed.positionals[0];
    if (!holdId)
      throw new UsageError("give the hold id (hold-…): `phoenix holds` lists the held containments");
    const connection = await openConnection(parsed, io);
    let approved: Awaited<ReturnType<typeof approveHold>>;
    try {
      approved = await approveHold(connection.deps, holdId, await actorOf(io.env, connection));
    } catch (error) {
      if (error instanceof HoldNotFoundError)
        throw new CliError(`${error.message} \`phoenix holds\` lists the pending ones.`, EXIT.usage);
      if (error instanceof HoldNotPendingError) throw new CliError(error.message, EXIT.failed);
      throw error;
    }
    if (booleanFlag(parsed, "json")) printJson(io, { holdId, ...approved });
    else if (approved.alreadyApproved)
      io.out(`Hold ${holdId} was already approved: containment ${approved.executionName} is under way.`);
    else
      io.out(
        `Approved ${holdId}: containment started, ${approved.executionName}\n  follow it: phoenix watch ${approved.executionName}`,
      );
    return EXIT.ok;
  },
};
