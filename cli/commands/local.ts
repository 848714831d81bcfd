import { parseArgs } from "node:util";
import type { LocalCloud } from "../../local/cloud.js";
import { memberAccounts } from "../../local/core/account-ids.js";
import type { LocalDeployment } from "../../local/deployment/index.js";
import type { BuiltinOptions } from "../../local/plugins.js";
import { CliError, type CommandIO, EXIT, UsageError } from "../../ops/io.js";
import { DEFAULT_LOCAL_PORT, LOCAL_ACCOUNT_ID, LOCAL_REGION } from "../../ops/local-defaults.js";
import { describeRecord, liveLocalClouds, recordLocalCloud } from "../../ops/registry.js";
import { DEFAULT_MEMBER_ROLE, loadPolicy, type Policy, PolicyError } from "../../src/policy/index.js";
import { stageProblem } from "../../src/resources.js";
import { readPolicyFile } from "../aws/session.js";
import { parseErrorMessage } from "../lib/args.js";
import { type Command, parsePort, parsePositiveNumber } from "../lib/command.js";
import { closest } from "../lib/suggest.js";

export interface LocalFlags {
  port: number;
  speed: number;
  policy: Policy;
  /** The stage Phoenix is synthesized and deployed as (its resource names: phoenix-<stage>-…). */
  stage: string;
  /** A resource graph file (`npm run synth` output) to deploy instead of synthesizing one. */
  graph?: string;
  /** IAM enforcement (local/iam): "on" unless `--iam off` (debugging only). */
  iam: "on" | "off";
  /** Member accounts the local cloud keeps beside its own (`--accounts 222222222222,333333333333`). */
  accounts: string[];
  /** Boolean flags of the calling command beyond the local cloud's own. */
  booleans: Record<string, boolean>;
}

export function parseLocalFlags(
  args: string[],
  defaults: { speed: number } = { speed: 1 },
  booleans: string[] = [],
): LocalFlags {
  const options = {
    port: { type: "string" as const },
    speed: { type: "string" as const },
    policy: { type: "string" as const },
    stage: { type: "string" as const },
    graph: { type: "string" as const },
    iam: { type: "string" as const },
    accounts: { type: "string" as const },
    ...Object.fromEntries(booleans.map((name) => [name, { type: "boolean" as const }])),
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options, strict: true }));
  } catch (error) {
    throw new UsageError(parseErrorMessage(error, options));
  }
  const text = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  let port: number;
  let speed: number;
  try {
    port = parsePort(text("port"), DEFAULT_LOCAL_PORT);
    speed = parsePositiveNumber(text("speed"), "--speed", defaults.speed);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const stage = text("stage") ?? "local";
  const badStage = stageProblem(stage);
  if (badStage) throw new UsageError(`--stage: ${badStage}`);
  const graph = text("graph");
  const iam = text("iam") ?? "on";
  if (iam !== "on" && iam !== "off")
    throw new UsageError(`--iam takes on or off, not ${JSON.stringify(iam)}`);
  let accounts: string[];
  try {
    const listed = (text("accounts") ?? "")
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);
    accounts = memberAccounts(LOCAL_ACCOUNT_ID, listed);
  } catch (error) {
    throw new UsageError(`--accounts: ${(error as Error).message.replace(/^member accounts: /, "")}`);
  }
  const policyFile = text("policy");
  let policy: Policy;
  try {
    policy = policyFile ? readPolicyFile(policyFile, "--policy") : loadPolicy();
  } catch (error) {
    if (error instanceof PolicyError || error instanceof CliError)
      throw new UsageError((error as Error).message);
    throw error;
  }
  // A member account of the local cloud is one Phoenix manages: in the local region, unless the
  // policy lists it (with its own regions and role name).
  for (const accountId of accounts)
    if (!policy.accounts.some((member) => member.accountId === accountId))
      policy.accounts.push({
        accountId,
        regions: [LOCAL_REGION],
        roleName: DEFAULT_MEMBER_ROLE,
        firstWave: 0,
      });
  return {
    port,
    speed,
    policy,
    stage,
    ...(graph ? { graph } : {}),
    iam,
    accounts,
    booleans: Object.fromEntries(booleans.map((name) => [name, values[name] === true])),
  };
}

/**
 * Starts the local cloud with Phoenix deployed on it, or says clearly why it could not. While it
 * runs it is recorded (local/registry.ts), so that `phoenix … --local` finds it on its port.
 */
export async function startCloudForCommand(
  flags: LocalFlags,
  io: CommandIO,
  builtin: Omit<BuiltinOptions, "policy" | "onDeployed" | "stage" | "graph"> = {},
  verbose = true,
  command = "phoenix local",
): Promise<{ cloud?: LocalCloud; phoenix?: LocalDeployment; code: number }> {
  // Loaded here: `phoenix local finding` and the other subcommands do not need the runtime.
  const { startLocalCloud } = await import("../../local/cloud.js");
  try {
    let phoenix: LocalDeployment | undefined;
    const cloud = await startLocalCloud({
      port: flags.port,
      speed: flags.speed,
      iam: flags.iam,
      ...(flags.accounts.length > 0 ? { accounts: flags.accounts } : {}),
      log: verbose ? (m) => io.err(`[local] ${m}`) : () => {},
      builtin: {
        ...builtin,
        policy: flags.policy,
        stage: flags.stage,
        ...(flags.graph ? { graph: flags.graph } : {}),
        // As `npm run synth` does: .phoenix/synth/<stage>.json is the graph of that stage.
        writeStageGraph: true,
        onDeployed: (deployed) => {
          phoenix = deployed;
        },
      },
    });
    const unrecord = recordLocalCloud(
      {
        endpoint: cloud.endpoint,
        port: cloud.port,
        command,
        speed: flags.speed,
        stage: phoenix?.stage ?? flags.stage,
        policy: flags.policy,
      },
      io.env,
    );
    const stop = cloud.stop;
    cloud.stop = async () => {
      unrecord();
      await stop();
    };
    return { cloud, phoenix, code: EXIT.ok };
  } catch (error) {
    const name = (error as Error).name;
    if (name === "PortInUseError" || name === "MotoUnavailableError") {
      const mine =
        name === "PortInUseError" ? liveLocalClouds(io.env).find((r) => r.port === flags.port) : undefined;
      io.err(
        `phoenix: ${(error as Error).message}${mine ? `\n  It is the local cloud started from this checkout: ${describeRecord(mine)}; \`npx phoenix status --port ${mine.port}\` uses it.` : ""}`,
      );
      return { code: EXIT.environment };
    }
    throw error;
  }
}

export function endpointHelp(endpoint: string): string {
  const port = Number(new URL(endpoint).port);
  return [
    `Local cloud: ${endpoint}  (health: ${endpoint}/_phoenix/health)`,
    `Dashboard:   ${endpoint}/_phoenix/dashboard`,
    `The phoenix CLI finds it with --local (it is recorded while it runs), or --port ${port}:`,
    "  npx phoenix status --local",
    "  npx phoenix local finding <instance-id> --put   (a GuardDuty finding that Phoenix contains)",
    'Point any AWS client at it (eval "$(npx phoenix local env)" sets the same):',
    `  ${envLine(endpoint)}`,
    "  aws ec2 describe-instances",
    "  aws autoscaling describe-auto-scaling-groups",
    "  aws stepfunctions list-state-machines",
  ].join("\n");
}

/**
 * The environment both AWS CLIs and the SDKs read: AWS_REGION (CLI v2, SDKs) and
 * AWS_DEFAULT_REGION (CLI v1, which ignores AWS_REGION), and keys (the local cloud takes any).
 */
export function envLine(endpoint: string, region = "us-east-1"): string {
  return `export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=${region} AWS_DEFAULT_REGION=${region} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`;
}

/** What a person is told when the local cloud stops, by Ctrl-C or at the end of the demo. */
export function stoppingText(endpoint: string, prefix = ""): string {
  const stopping = `stopping the local cloud on ${endpoint}. Its state (instances, groups, workflows, audit trail) lived in memory and is discarded; the next start begins afresh.`;
  return prefix ? `${prefix}${stopping}` : `${stopping[0]!.toUpperCase()}${stopping.slice(1)}`;
}

const SUBCOMMANDS = ["finding", "notifications", "env"] as const;

export const localCommand: Command = {
  name: "local",
  usage: [
    "phoenix local [--port 4566] [--speed 1] [--policy policy.json] [--stage local] [--graph graph.json] [--iam on|off] [--accounts 222222222222,...]",
    "       phoenix local finding <instance-id> [--type T] [--severity N] [--role ACTOR|TARGET] [--account A] [--region R] [--sample] [--put] [--json] [--port N | --endpoint URL]",
    "       phoenix local notifications [--since 1h] [--all] [--json] [--port N | --endpoint URL]",
    "       phoenix local env [--port N | --endpoint URL]",
  ].join("\n"),
  example: "phoenix local --port 4640 --speed 10",
  details: `\`phoenix local\` runs the local cloud until Ctrl-C (its state is in memory and discarded then).
Phoenix is deployed on it from its resource graph: the SST program (sst.config.ts, stacks/) run
offline for --stage (default local) and the policy, as \`npm run synth\` does (cached in
.phoenix/synth/cache; the graph is also written to .phoenix/synth/<stage>.json), or the graph
file --graph names. GET /_phoenix/deployment answers the graph it deployed.
Each Phoenix function and state machine calls it with its own role's credentials, and every such
call is evaluated against the role's policies as AWS would (local/iam; the default credentials, a
person's, are the account's administrator); a denial answers with the service's own error, and
GET /_phoenix/iam/decisions lists the decisions. --iam off turns the evaluation off (debugging only).
--accounts adds member accounts beside the local cloud's own (123456789012), which Phoenix then manages
(in us-east-1, unless --policy lists them with their regions in "accounts"): moto keeps each one's
state apart, and each has OrganizationAccountAccessRole (administrator, trusting 123456789012), so
\`aws sts assume-role --role-arn arn:aws:iam::<member>:role/OrganizationAccountAccessRole\` acts there;
an image shared with a member (modify-image-attribute --launch-permission) shows in its DescribeImages.
The policy's accounts are added to them, and the member stack (role phoenix-member, trusting only
Phoenix's functions) is deployed into each: Phoenix contains a member's instances there through it
(\`phoenix local finding i-… --account <member> --region <region> --put\`), and rolls an image of
its own account, shared with a member, onto the member's managed groups of the family in us-east-1.
While it runs it records its endpoint in .phoenix/run/ (PHOENIX_RUN_DIR), so that the other
commands find it with --local, whatever its port.

The subcommands use the running local cloud (found the same way; --port or --endpoint name one):
- finding <instance-id>: prints an \`aws events put-events --entries\` file holding a GuardDuty
  finding (real-shaped, not a sample) on that instance: by default Backdoor:EC2/C&CActivity.B!DNS,
  severity 8, the instance the ACTOR: one Phoenix contains. It says what Phoenix will do with it
  (the rule's filter, routing, protection and budgets, as \`plan --event\`). --put puts it on the
  local bus at once. --sample flags it as GuardDuty's sample findings are (Phoenix ignores those).
  --account and --region make it a member account's finding, as the GuardDuty administrator's bus
  receives it (detail.accountId and detail.region; the instance is looked up there).
- notifications: the messages Phoenix published to its SNS topic (containments, holds with the
  hold id to approve, rollouts), what email or chat would receive in AWS.
- env: the export line that points the AWS CLI (v1 and v2) and the SDKs at the local cloud:
  eval "$(npx phoenix local env)".`,
  async run(args, io) {
    const [first] = args;
    if (first !== undefined && !first.startsWith("-")) {
      if ((SUBCOMMANDS as readonly string[]).includes(first)) {
        const tools = await import("./local-tools.js");
        if (first === "finding") return tools.localFinding(args.slice(1), io);
        if (first === "notifications") return tools.localNotifications(args.slice(1), io);
        return tools.localEnv(args.slice(1), io);
      }
      const suggestion = closest(first, SUBCOMMANDS);
      throw new UsageError(
        `unknown subcommand "${first}"${suggestion ? `: did you mean "${suggestion}"?` : ""} (phoenix local takes ${SUBCOMMANDS.join(", ")}, or flags to start the local cloud)`,
      );
    }
    const flags = parseLocalFlags(args);
    let up = false;
    let interrupted = false;
    const interrupt = io.interrupted().then(() => {
      interrupted = true;
      if (!up) io.err("\nCtrl-C: stopping the local cloud while it starts (there is no state to keep yet).");
    });
    const { cloud, code } = await startCloudForCommand(flags, io);
    if (!cloud) return code;
    up = true;
    if (interrupted) {
      await cloud.stop();
      return EXIT.interrupted;
    }
    io.out(endpointHelp(cloud.endpoint));
    io.out("Press Ctrl-C to stop.");
    await interrupt;
    io.err(`\n${stoppingText(cloud.endpoint, "Ctrl-C: ")}`);
    await cloud.stop();
    return EXIT.ok;
  },
};
