import { CliError, EXIT } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { ReleaseRefusedError, releaseInstance } from "../../src/containment/workflow/release.js";
import { asPerson, MemberAccessError } from "../../src/member-access.js";
import { actorOf, instancePlace, openConnection } from "../aws/session.js";
import * as flags from "../lib/args.js";
import { memberRoleFlag } from "../lib/args.js";
import type { Command } from "../lib/command.js";

export const releaseCommand: Command = {
  name: "release",
  usage: `phoenix release i-… [--account <member id> [--region <its region>]] [--member-role <role>] [--json] ${flags.CONNECTION_USAGE}`,
  example: "phoenix release i-0123456789abcdef0 --local",
  async run(args, io) {
    const parsed = flags.parseCommandArgs(
      args,
      {
        ...flags.CONNECTION_FLAGS,
        ...flags.JSON_FLAG,
        account: { type: "string" },
        "member-role": { type: "string" },
      },
      1,
    );
    const instanceId = flags.requireInstanceId(parsed.positionals[0]);
    const place = instancePlace(parsed);
    const memberRole = memberRoleFlag(parsed, io.env);
    const connection = await openConnection(place.connection, io);
    let result: Awaited<ReturnType<typeof releaseInstance>>;
    try {
      result = await releaseInstance(
        asPerson(connection.deps, memberRole),
        instanceId,
        await actorOf(io.env, connection),
        {
          ...(place.accountId ? { accountId: place.accountId } : {}),
          ...(place.region ? { region: place.region } : {}),
        },
      );
    } catch (error) {
      // A member account the person's credentials cannot reach (--member-role) changed nothing.
      if (error instanceof ReleaseRefusedError || error instanceof MemberAccessError)
        throw new CliError(`Not released: ${error.message}`, EXIT.failed);
      throw error;
    }
    if (flags.booleanFlag(parsed, "json")) printJson(io, result);
    else {
      io.out(`Released ${instanceId} (containment ${result.containmentId}).`);
      io.out(`  ${restoredLine(result)}`);
      io.out("  New findings on it will open a new containment.");
    }
    return EXIT.ok;
  },
};

/** What the release put back, or why there was nothing to put back. */
export function restoredLine(result: Awaited<ReturnType<typeof releaseInstance>>): string {
  if (result.restored.length > 0) return `restored: ${result.restored.join(", ")}`;
  if (!result.instanceExists) return "nothing to restore (the instance no longer exists)";
  if (result.previousStatus === "held")
    return "nothing to restore (the containment was held: Phoenix had not changed the instance; the hold is dismissed)";
  return "nothing to restore (the instance is as it was before the containment)";
}
