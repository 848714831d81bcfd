import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import type { Connection } from "../../ops/connect.js";
import { CliError, EXIT, UsageError } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { executionArnOf } from "../../src/aws/executions.js";
import { describeImage } from "../../src/rollout/aws/images.js";
import { listPauses } from "../../src/rollout/aws/pauses.js";
import { manualRolloutName, retryExecutionName } from "../../src/rollout/core/execution-name.js";
import { imageFamily } from "../../src/rollout/core/gate.js";
import { describePause, pauseOf, resumeCommand } from "../../src/rollout/core/pause.js";
import type { RolloutRequest } from "../../src/rollout/workflow/contract.js";
import { startManualRollout } from "../../src/rollout/workflow/manual-rollout.js";
import { actorOf, openConnection } from "../aws/session.js";
import * as flags from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { followExecution } from "../progress/follow.js";
import { WATCH_FLAGS, watchTimings } from "./watch.js";

export const rolloutCommand: Command = {
  name: "rollout",
  usage: `phoenix rollout --image ami-… [--family f | --group name …] [--retry] [--watch] [--json] ${flags.CONNECTION_USAGE}`,
  example: "phoenix rollout --image ami-0123456789abcdef0 --family web --watch --local",
  details: `A rollout has one execution name per image and family (or set of groups), so asking twice
starts it once. To retry a rollout that ended FAILED, TIMED_OUT or ABORTED (an AWS error, a
group that was locked, a policy since fixed), add --retry: Phoenix starts a new execution named
<name>-retry<N> that plans again from the groups as they are now. An image whose refresh failed
health checks is marked rejected and the gate refuses it on retry too: publish a fixed image.
A rollout that succeeded, or one still running, is not retried.`,
  async run(args, io) {
    const parsed = flags.parseCommandArgs(args, {
      ...flags.CONNECTION_FLAGS,
      ...flags.JSON_FLAG,
      ...WATCH_FLAGS,
      image: { type: "string" },
      family: { type: "string" },
      group: { type: "string", multiple: true },
      watch: { type: "boolean" },
      retry: { type: "boolean" },
    });
    const imageId = flags.requireImageId(flags.stringFlag(parsed, "image"));
    const groups = [...new Set(flags.listFlag(parsed, "group"))];
    const familyFlag = flags.stringFlag(parsed, "family");
    if (familyFlag !== undefined && groups.length > 0)
      throw new UsageError(
        "give --family or --group, not both (named groups are rolled whatever their family)",
      );
    const json = flags.booleanFlag(parsed, "json");
    const timings = watchTimings(parsed);
    const connection = await openConnection(parsed, io);
    const family = groups.length > 0 ? undefined : (familyFlag ?? (await familyOfImage(connection, imageId)));
    // The workflow refuses it too (every entry point does); said here before anything starts.
    const pause = pauseOf(await listPauses(connection.deps), family ?? "");
    if (pause !== undefined)
      throw new CliError(
        `Not started: ${describePause(pause)}. Lift it first: ${resumeCommand(pause)}`,
        EXIT.failed,
      );
    const actor = await actorOf(io.env, connection);
    const request: RolloutRequest = {
      imageId,
      ...(family !== undefined ? { family } : { groups }),
      requestedBy: actor,
    };
    const baseName = manualRolloutName(imageId, family !== undefined ? { family } : { groups });
    const retry = flags.booleanFlag(parsed, "retry");
    const started = retry
      ? await startRetry(connection, baseName, request)
      : await start(connection, baseName, request);
    const name = started.name;
    if (json)
      printJson(io, {
        execution: name,
        executionArn: started.arn,
        created: started.created,
        status: started.status,
        request,
      });
    else if (started.created)
      io.out(
        `Started rollout ${name}${retry ? ` (retry of ${baseName})` : ""}\n  follow it: phoenix watch ${name}`,
      );
    else io.out(alreadyExists(name, started, { imageId, family, groups, retry }));
    if (flags.booleanFlag(parsed, "watch"))
      return followExecution(connection, started.arn, io, { ...timings, json });
    return started.created || started.status === "RUNNING" || started.status === "SUCCEEDED"
      ? EXIT.ok
      : EXIT.failed;
  },
};

async function familyOfImage(connection: Connection, imageId: string): Promise<string> {
  const image = await describeImage(connection.deps.clients.ec2, imageId);
  if (!image)
    throw new CliError(
      `Image ${imageId} does not exist in ${connection.region} (DescribeImages): check the id and --region.`,
      EXIT.usage,
    );
  const family = imageFamily(image);
  if (!family)
    throw new CliError(
      `Image ${imageId} has no phoenix:image-family tag: say which groups with --family f or --group name.`,
      EXIT.usage,
    );
  return family;
}

interface Started {
  name: string;
  arn: string;
  created: boolean;
  status: string;
  /** Why an existing execution ended, when it did not succeed. */
  cause?: string;
}

const ENDED_BADLY = new Set(["FAILED", "TIMED_OUT", "ABORTED"]);

/** What to tell a person whose rollout was not started, true to what that execution did. */
function alreadyExists(
  name: string,
  started: Started,
  asked: { imageId: string; family: string | undefined; groups: string[]; retry: boolean },
): string {
  const target = asked.family !== undefined ? ` to ${asked.family}` : " to these groups";
  const again = `phoenix rollout --image ${asked.imageId} ${asked.family !== undefined ? `--family ${asked.family}` : asked.groups.map((g) => `--group ${g}`).join(" ")} --retry`;
  if (started.status === "RUNNING")
    return `Rollout ${name} is already running${target}: Step Functions runs one execution per name.\n  follow it: phoenix watch ${name}`;
  if (started.status === "SUCCEEDED")
    return `Rollout ${name} already succeeded: ${asked.imageId} was rolled out${target}${asked.retry ? "; there is nothing to retry" : ""}.\n  see it: phoenix watch ${name}`;
  if (ENDED_BADLY.has(started.status))
    return `Rollout ${name} already ran and ended ${started.status}${started.cause ? `: ${started.cause}` : ""}.\nStep Functions runs one execution per name; to try again: ${again}\n  see it: phoenix watch ${name}`;
  return `Rollout ${name} already exists (${started.status}).\n  see it: phoenix watch ${name}`;
}

/**
 * A retry: the first of <name>, <name>-retry1, <name>-retry2, … that has not ended badly. One that
 * is running or succeeded is reported as it is; the next free name is started.
 */
async function startRetry(
  connection: Connection,
  baseName: string,
  request: RolloutRequest,
): Promise<Started> {
  const original = await describe(connection, baseName);
  if (original === undefined) return start(connection, baseName, request);
  if (!ENDED_BADLY.has(original.status)) return original;
  for (let attempt = 1; attempt <= 100; attempt++) {
    const name = retryExecutionName(baseName, attempt);
    const existing = await describe(connection, name);
    if (existing === undefined) return start(connection, name, request);
    if (!ENDED_BADLY.has(existing.status)) return existing;
  }
  throw new CliError(
    `Rollout ${baseName} was retried 100 times already: look at why (phoenix watch ${baseName}).`,
    EXIT.failed,
  );
}

async function describe(connection: Connection, name: string): Promise<Started | undefined> {
  const arn = executionArnOf(connection.stateMachines.rollout, name);
  try {
    const described = await connection.deps.clients.sfn.send(
      new DescribeExecutionCommand({ executionArn: arn }),
    );
    return {
      name,
      arn,
      created: false,
      status: described.status ?? "UNKNOWN",
      ...(described.cause ? { cause: described.cause } : {}),
    };
  } catch (error) {
    if ((error as Error).name === "ExecutionDoesNotExist") return undefined;
    throw error;
  }
}

async function start(connection: Connection, name: string, request: RolloutRequest): Promise<Started> {
  const started = await startManualRollout(connection.deps, {
    stateMachineArn: connection.stateMachines.rollout,
    name,
    request: { ...request, requestedBy: request.requestedBy ?? "user:unknown" },
  });
  if (started.created) return { name, arn: started.executionArn, created: true, status: "RUNNING" };
  const existing = await describe(connection, name);
  if (existing === undefined)
    throw new CliError(`Step Functions says ${name} exists, but cannot describe it: try again.`, EXIT.failed);
  return existing;
}
