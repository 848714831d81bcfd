import { CliError, EXIT, UsageError } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { findInstance, isGone } from "../../src/containment/aws/instance.js";
import type { IntakeOutcome } from "../../src/containment/workflow/intake.js";
import {
  MANUAL_FINDING_TYPE,
  type ManualOutcome,
  requestContainment,
} from "../../src/containment/workflow/manual.js";
import { asPerson, fleetDeps, MemberAccessError } from "../../src/member-access.js";
import { actorOf, instancePlace, openConnection } from "../aws/session.js";
import * as flags from "../lib/args.js";
import { memberRoleFlag } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { followExecution } from "../progress/follow.js";
import { WATCH_FLAGS, watchTimings } from "./watch.js";

export const containCommand: Command = {
  name: "contain",
  usage: `phoenix contain i-… --reason "…" [--account <member id> [--region <its region>]] [--member-role <role>] [--force] [--watch] [--json] ${flags.CONNECTION_USAGE}`,
  example: 'phoenix contain i-0123456789abcdef0 --reason "crypto miner seen by on-call" --local',
  async run(args, io) {
    const parsed = flags.parseCommandArgs(
      args,
      {
        ...flags.CONNECTION_FLAGS,
        ...flags.JSON_FLAG,
        ...WATCH_FLAGS,
        reason: { type: "string" },
        force: { type: "boolean" },
        watch: { type: "boolean" },
        account: { type: "string" },
        "member-role": { type: "string" },
      },
      1,
    );
    const place = instancePlace(parsed);
    const instanceId = flags.requireInstanceId(parsed.positionals[0]);
    const reason = flags.stringFlag(parsed, "reason")?.trim();
    if (!reason) throw new UsageError('say why with --reason "…" (it goes into the audit trail)');
    const force = flags.booleanFlag(parsed, "force");
    const json = flags.booleanFlag(parsed, "json");
    const timings = watchTimings(parsed);
    const connection = await openConnection(place.connection, io);
    const deps = asPerson(connection.deps, memberRoleFlag(parsed, io.env));
    const actor = await actorOf(io.env, connection);
    const accountId = place.accountId ?? connection.accountId;
    const region = place.region ?? connection.region;

    // Looked up where it runs, as the person may (a member: through --member-role); the
    // containment itself goes through the intake's routing, which refuses an unlisted account.
    let instance: Awaited<ReturnType<typeof findInstance>>;
    try {
      instance = await findInstance(fleetDeps(deps, { accountId, region }), instanceId);
    } catch (error) {
      if (error instanceof MemberAccessError)
        throw new CliError(`Not contained: ${error.message}`, EXIT.failed);
      throw error;
    }
    if (!instance)
      throw new CliError(
        `Instance ${instanceId} does not exist in ${region}/${accountId}: check the id, --account, --region and --profile.`,
        EXIT.usage,
      );
    if (isGone(instance))
      throw new CliError(
        `Instance ${instanceId} is ${instance.State?.Name}: there is nothing left to contain.`,
        EXIT.failed,
      );

    let outcome: ManualOutcome;
    try {
      outcome = await requestContainment(deps, { accountId, region, instanceId, reason, actor, force });
    } catch (error) {
      if (error instanceof MemberAccessError)
        throw new CliError(`Not contained: ${error.message}`, EXIT.failed);
      throw error;
    }
    const result = settle(outcome, instanceId);
    if (json) printJson(io, result);
    else io.out(result.message);
    if (flags.booleanFlag(parsed, "watch") && result.executionArn)
      return followExecution(connection, result.executionArn, io, { ...timings, json });
    return result.exitCode;
  },
};

interface ContainResult {
  instanceId: string;
  outcome: IntakeOutcome["kind"] | "forced";
  execution?: string;
  executionArn?: string;
  holdId?: string;
  message: string;
  exitCode: number;
}

/** What the intake decided (forced past a hold, with --force), in words and an exit code. */
function settle(outcome: ManualOutcome, instanceId: string): ContainResult {
  switch (outcome.kind) {
    case "started":
      return {
        instanceId,
        outcome: outcome.kind,
        execution: outcome.executionName,
        executionArn: outcome.executionArn,
        message: `Containment of ${instanceId} started: ${outcome.executionName}\n  follow it: phoenix watch ${outcome.executionName}`,
        exitCode: EXIT.ok,
      };
    case "joined":
      return {
        instanceId,
        outcome: outcome.kind,
        execution: outcome.executionName,
        message: `${instanceId} is already in containment (${outcome.status}): ${outcome.executionName}. Nothing new started.`,
        exitCode: outcome.status === "held" ? EXIT.held : EXIT.ok,
      };
    case "held":
      return {
        instanceId,
        outcome: outcome.kind,
        holdId: outcome.holdId,
        message: `Held for approval, nothing done: ${outcome.reason}\n  approve it: phoenix approve ${outcome.holdId}   (or rerun with --force)`,
        exitCode: EXIT.held,
      };
    case "forced":
      return {
        instanceId,
        outcome: "forced",
        holdId: outcome.holdId,
        execution: outcome.executionName,
        executionArn: outcome.executionArn,
        message: `Forced past the hold (${outcome.reason}); containment started: ${outcome.executionName}\n  follow it: phoenix watch ${outcome.executionName}`,
        exitCode: EXIT.ok,
      };
    case "refused":
      return {
        instanceId,
        outcome: outcome.kind,
        message: `Refused: ${outcome.reason}`,
        exitCode: EXIT.failed,
      };
    default:
      return {
        instanceId,
        outcome: outcome.kind,
        message: `Not contained: the policy routes manual requests (${MANUAL_FINDING_TYPE}) to "${outcome.kind}": ${outcome.reason}`,
        exitCode: EXIT.failed,
      };
  }
}
