import type { Connection } from "../../ops/connect.js";
import { CliError, EXIT, UsageError } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { findInstance, isGone } from "../../src/containment/aws/instance.js";
import { getContainment } from "../../src/containment/aws/state.js";
import { instanceSubject } from "../../src/containment/core/types.js";
import { approveHold } from "../../src/containment/workflow/holds.js";
import { type IntakeOutcome, takeFinding } from "../../src/containment/workflow/intake.js";
import type { Finding } from "../../src/findings/guardduty.js";
import { actorOf, openConnection } from "../aws/session.js";
import {
  booleanFlag,
  CONNECTION_FLAGS,
  CONNECTION_USAGE,
  JSON_FLAG,
  parseCommandArgs,
  requireInstanceId,
  stringFlag,
} from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { followExecution } from "../progress/follow.js";
import { WATCH_FLAGS, watchTimings } from "./watch.js";

/** The finding type of a containment a person asked for; policy typeOverrides may match it. */
export const MANUAL_FINDING_TYPE = "Phoenix:Manual/Contain";

/**
 * A person's request as the finding intake sees one: highest severity (a person decided), never
 * a sample. One finding id per instance, so asking twice joins the open containment instead of
 * starting a second; after a release the record's generation gives the next one a new name.
 */
export function manualFinding(
  connection: Connection,
  instanceId: string,
  reason: string,
  now: Date,
): Finding {
  return {
    eventId: `cli-${now.getTime()}`,
    findingId: `manual-${instanceId}`,
    type: MANUAL_FINDING_TYPE,
    severity: 10,
    title: reason,
    accountId: connection.accountId,
    region: connection.region,
    resourceType: "Instance",
    instanceId,
    count: 1,
    updatedAt: now.toISOString(),
    sample: false,
    archived: false,
  };
}

export const containCommand: Command = {
  name: "contain",
  usage: `phoenix contain i-… --reason "…" [--force] [--watch] [--json] ${CONNECTION_USAGE}`,
  example: 'phoenix contain i-0123456789abcdef0 --reason "crypto miner seen by on-call" --local',
  async run(args, io) {
    const parsed = parseCommandArgs(
      args,
      {
        ...CONNECTION_FLAGS,
        ...JSON_FLAG,
        ...WATCH_FLAGS,
        reason: { type: "string" },
        force: { type: "boolean" },
        watch: { type: "boolean" },
      },
      1,
    );
    const instanceId = requireInstanceId(parsed.positionals[0]);
    const reason = stringFlag(parsed, "reason")?.trim();
    if (!reason) throw new UsageError('say why with --reason "…" (it goes into the audit trail)');
    const force = booleanFlag(parsed, "force");
    const json = booleanFlag(parsed, "json");
    const timings = watchTimings(parsed);
    const connection = await openConnection(parsed, io);
    const { deps } = connection;
    const actor = await actorOf(io.env, connection);

    const instance = await findInstance(deps, instanceId);
    if (!instance)
      throw new CliError(
        `Instance ${instanceId} does not exist in ${connection.region}/${connection.accountId}: check the id, --region and --profile.`,
        EXIT.usage,
      );
    if (isGone(instance))
      throw new CliError(
        `Instance ${instanceId} is ${instance.State?.Name}: there is nothing left to contain.`,
        EXIT.failed,
      );

    const now = deps.now();
    await deps.audit.write({
      subject: instanceSubject(instanceId),
      action: "request-containment",
      outcome: "ok",
      actor,
      reason,
      details: { force },
    });
    const outcome = await takeFinding(deps, manualFinding(connection, instanceId, reason, now), {
      id: `cli:${actor}:${now.getTime()}`,
      receivedAt: now.toISOString(),
    });
    const result = await settle(connection, outcome, { force, actor, reason, instanceId });
    if (json) printJson(io, result);
    else io.out(result.message);
    if (booleanFlag(parsed, "watch") && result.executionArn)
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

/** What the intake decided, in words and an exit code; --force approves a hold at once, audited. */
async function settle(
  connection: Connection,
  outcome: IntakeOutcome,
  request: { force: boolean; actor: string; reason: string; instanceId: string },
): Promise<ContainResult> {
  const { instanceId } = request;
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
    case "joined": {
      // Asked again with --force while an earlier request waits on its hold: force that hold.
      const existing = await getContainment(connection.deps, connection.accountId, instanceId);
      if (request.force && outcome.status === "held" && existing?.hold)
        return settle(
          connection,
          { kind: "held", holdId: existing.hold.id, reason: existing.hold.reason },
          request,
        );
      return {
        instanceId,
        outcome: outcome.kind,
        execution: outcome.executionName,
        message: `${instanceId} is already in containment (${outcome.status}): ${outcome.executionName}. Nothing new started.`,
        exitCode: outcome.status === "held" ? EXIT.held : EXIT.ok,
      };
    }
    case "held": {
      if (!request.force)
        return {
          instanceId,
          outcome: outcome.kind,
          holdId: outcome.holdId,
          message: `Held for approval, nothing done: ${outcome.reason}\n  approve it: phoenix approve ${outcome.holdId}   (or rerun with --force)`,
          exitCode: EXIT.held,
        };
      const approved = await approveHold(connection.deps, outcome.holdId, `${request.actor} (--force)`);
      await connection.deps.audit.write(
        {
          subject: instanceSubject(instanceId),
          action: "force-containment",
          outcome: "ok",
          actor: request.actor,
          execution: approved.executionName,
          reason: `--force over a hold (${outcome.reason}); requested because: ${request.reason}`,
          details: { holdId: outcome.holdId },
        },
        `force#${outcome.holdId}`,
      );
      return {
        instanceId,
        outcome: "forced",
        holdId: outcome.holdId,
        execution: approved.executionName,
        executionArn: approved.executionArn,
        message: `Forced past the hold (${outcome.reason}); containment started: ${approved.executionName}\n  follow it: phoenix watch ${approved.executionName}`,
        exitCode: EXIT.ok,
      };
    }
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
