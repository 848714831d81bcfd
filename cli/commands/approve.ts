import { CliError, EXIT, UsageError } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { approveHold, HoldNotFoundError, HoldNotPendingError } from "../../src/containment/workflow/holds.js";
import { DRIFT_HOLD_PREFIX } from "../../src/drift/aws/holds.js";
import { approveDriftHold, DriftHoldError } from "../../src/drift/workflow/enforce.js";
import { actorOf, instancePlace, openConnection } from "../aws/session.js";
import { booleanFlag, CONNECTION_FLAGS, CONNECTION_USAGE, JSON_FLAG, parseCommandArgs } from "../lib/args.js";
import type { Command } from "../lib/command.js";

export const approveCommand: Command = {
  name: "approve",
  usage: `phoenix approve <hold-id | drift-hold-id> [--account <member id> [--region <its region>]] [--json] ${CONNECTION_USAGE}`,
  example: "phoenix approve hold-0123456789ab --local",
  async run(args, io) {
    const parsed = parseCommandArgs(
      args,
      { ...CONNECTION_FLAGS, ...JSON_FLAG, account: { type: "string" } },
      1,
    );
    // A hold names its account and region; --account (--region) only make sure it is the one meant.
    const place = instancePlace(parsed);
    const holdId = parsed.positionals[0];
    if (!holdId)
      throw new UsageError(
        "give the hold id (hold-… for a containment: `phoenix holds` lists them; drift-hold-… for a group an enforcing sweep held)",
      );
    const connection = await openConnection(place.connection, io);
    if (holdId.startsWith(DRIFT_HOLD_PREFIX)) {
      let drift: Awaited<ReturnType<typeof approveDriftHold>>;
      try {
        drift = await approveDriftHold(connection.deps, holdId, await actorOf(io.env, connection));
      } catch (error) {
        // Not found: a mistyped id. Otherwise the hold expired or its plan no longer holds.
        if (error instanceof DriftHoldError)
          throw new CliError(error.message, error.notFound ? EXIT.usage : EXIT.failed);
        throw error;
      }
      if (booleanFlag(parsed, "json"))
        printJson(io, {
          holdId,
          executionName: drift.executionName,
          executionArn: drift.executionArn,
          alreadyApproved: drift.alreadyApproved,
          group: drift.hold.group,
          imageId: drift.hold.imageId,
        });
      else
        io.out(
          drift.alreadyApproved
            ? `Hold ${holdId} was already approved: the replacement of ${drift.hold.group} is rollout ${drift.executionName}.`
            : `Approved ${holdId}: replacing group ${drift.hold.group} onto ${drift.hold.imageId}, rollout ${drift.executionName}\n  follow it: phoenix watch ${drift.executionName}`,
        );
      return EXIT.ok;
    }
    let approved: Awaited<ReturnType<typeof approveHold>>;
    try {
      approved = await approveHold(connection.deps, holdId, await actorOf(io.env, connection), {
        ...(place.accountId ? { accountId: place.accountId } : {}),
        ...(place.region ? { region: place.region } : {}),
      });
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
