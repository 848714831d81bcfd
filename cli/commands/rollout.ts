import { createHash } from "node:crypto";
import { DescribeExecutionCommand, ExecutionAlreadyExists, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { executionArnOf } from "../../src/containment/execution.js";
import { imageSubject } from "../../src/rollout/aws/image-marks.js";
import { describeImage } from "../../src/rollout/aws/images.js";
import { imageFamily } from "../../src/rollout/gate.js";
import type { RolloutRequest } from "../../src/rollout/workflow/contract.js";
import { rolloutExecutionName } from "../../src/rollout/workflow/execution-name.js";
import {
  booleanFlag,
  CONNECTION_FLAGS,
  CONNECTION_USAGE,
  JSON_FLAG,
  listFlag,
  parseCommandArgs,
  requireImageId,
  stringFlag,
} from "../args.js";
import type { Connection } from "../aws/connect.js";
import { actorOf, openConnection } from "../aws/session.js";
import type { Command } from "../command.js";
import { CliError, EXIT, UsageError } from "../io.js";
import { printJson } from "../output.js";
import { followExecution } from "../progress/follow.js";
import { WATCH_FLAGS, watchTimings } from "./watch.js";

/**
 * The name of a manual rollout. By family it is the very name on-image uses, so a person and an
 * event asking for the same image start one execution. Named groups get a name of their own (a
 * digest of the sorted set), as deterministic, so repeating the command cannot start a second.
 */
export function manualRolloutName(
  imageId: string,
  selector: { family: string } | { groups: string[] },
): string {
  if ("family" in selector) return rolloutExecutionName(selector.family, imageId);
  const digest = createHash("sha256")
    .update(JSON.stringify([...selector.groups].sort()))
    .digest("hex");
  return rolloutExecutionName(`groups-${digest.slice(0, 12)}`, imageId);
}

export const rolloutCommand: Command = {
  name: "rollout",
  usage: `phoenix rollout --image ami-… [--family f | --group name …] [--watch] [--json] ${CONNECTION_USAGE}`,
  example: "phoenix rollout --image ami-0123456789abcdef0 --family web --watch --local",
  async run(args, io) {
    const parsed = parseCommandArgs(args, {
      ...CONNECTION_FLAGS,
      ...JSON_FLAG,
      ...WATCH_FLAGS,
      image: { type: "string" },
      family: { type: "string" },
      group: { type: "string", multiple: true },
      watch: { type: "boolean" },
    });
    const imageId = requireImageId(stringFlag(parsed, "image"));
    const groups = [...new Set(listFlag(parsed, "group"))];
    const familyFlag = stringFlag(parsed, "family");
    if (familyFlag !== undefined && groups.length > 0)
      throw new UsageError(
        "give --family or --group, not both (named groups are rolled whatever their family)",
      );
    const json = booleanFlag(parsed, "json");
    const timings = watchTimings(parsed);
    const connection = await openConnection(parsed, io);
    const family = groups.length > 0 ? undefined : (familyFlag ?? (await familyOfImage(connection, imageId)));
    const actor = actorOf(io.env);
    const request: RolloutRequest = {
      imageId,
      ...(family !== undefined ? { family } : { groups }),
      requestedBy: actor,
    };
    const name = manualRolloutName(imageId, family !== undefined ? { family } : { groups });
    const started = await start(connection, name, request);
    await connection.deps.audit.write(
      {
        subject: imageSubject(imageId),
        action: "request-rollout",
        outcome: started.created ? "ok" : "skipped",
        actor,
        imageId,
        execution: name,
        reason: started.created
          ? `started by hand (${family !== undefined ? `family ${family}` : `groups ${groups.join(", ")}`})`
          : `execution ${name} already exists (${started.status})`,
        details: { ...request },
      },
      `request-rollout#${name}#${actor}#${started.created ? "start" : Date.now()}`,
    );
    if (json)
      printJson(io, {
        execution: name,
        executionArn: started.arn,
        created: started.created,
        status: started.status,
        request,
      });
    else if (started.created) io.out(`Started rollout ${name}\n  follow it: phoenix watch ${name}`);
    else
      io.out(
        `Rollout ${name} already exists (${started.status}): Step Functions runs one execution per name, so this image was already rolled out${family !== undefined ? ` to ${family}` : " to these groups"}.\n  see it: phoenix watch ${name}`,
      );
    if (booleanFlag(parsed, "watch"))
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

async function start(
  connection: Connection,
  name: string,
  request: RolloutRequest,
): Promise<{ arn: string; created: boolean; status: string }> {
  const { sfn } = connection.deps.clients;
  const stateMachineArn = connection.stateMachines.rollout;
  try {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(request) }),
    );
    return { arn: executionArn ?? executionArnOf(stateMachineArn, name), created: true, status: "RUNNING" };
  } catch (error) {
    if (!(error instanceof ExecutionAlreadyExists) && (error as Error).name !== "ExecutionAlreadyExists")
      throw error;
    const arn = executionArnOf(stateMachineArn, name);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    return { arn, created: false, status: described.status ?? "UNKNOWN" };
  }
}
