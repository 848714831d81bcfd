import { randomUUID } from "node:crypto";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { type LocalNotification, NOTIFICATIONS_PATH } from "../../local/core/notifications.js";
import {
  DEFAULT_FINDING_SEVERITY,
  DEFAULT_FINDING_TYPE,
  guardDutyFinding,
} from "../../local/demo/finding.js";
import { connect } from "../../ops/connect.js";
import { notRunning } from "../../ops/failures.js";
import { CliError, type CommandIO, EXIT, UsageError } from "../../ops/io.js";
import { plural, printJson } from "../../ops/output.js";
import { resolveTarget, type Target } from "../../ops/target.js";
import { findInstance, tagsOf } from "../../src/containment/aws/instance.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { asPerson, fleetDeps, MemberAccessError } from "../../src/member-access.js";
import { policyFrom, whereFlags } from "../aws/session.js";
import {
  booleanFlag,
  instanceRegionFlag,
  JSON_FLAG,
  MEMBER_ACCESS_ROLE,
  memberAccountFlag,
  type ParsedArgs,
  parseCommandArgs,
  parseDuration,
  requireInstanceId,
  stringFlag,
} from "../lib/args.js";
import { type EventPlan, planEvent } from "../plan/event-plan.js";
import { envLine } from "./local.js";

/** The flags that say which running local cloud: found by itself, else --port or --endpoint. */
const WHERE = {
  local: { type: "boolean" },
  port: { type: "string" },
  endpoint: { type: "string" },
  stage: { type: "string" },
} as const;

function localTarget(parsed: ParsedArgs, env: NodeJS.ProcessEnv): Target {
  const target = resolveTarget(
    {
      local: true,
      ...(stringFlag(parsed, "port") !== undefined ? { port: stringFlag(parsed, "port")! } : {}),
      ...(stringFlag(parsed, "endpoint") !== undefined ? { endpoint: stringFlag(parsed, "endpoint")! } : {}),
      ...(stringFlag(parsed, "stage") !== undefined ? { stage: stringFlag(parsed, "stage")! } : {}),
    },
    env,
  );
  if (!target.local || !target.endpoint)
    throw new CliError(
      `phoenix local works with a local cloud, and ${target.endpoint ?? "AWS"} is not one (a loopback address).`,
      EXIT.usage,
    );
  return target;
}

/** GET a control route of the local cloud, or say it is not running there. */
async function control<T>(target: Target, path: string): Promise<T> {
  const endpoint = target.endpoint!;
  let response: Response;
  try {
    response = await fetch(`${endpoint}${path}`, { signal: AbortSignal.timeout(10_000) });
  } catch {
    throw new CliError(notRunning(endpoint, target.via), EXIT.environment);
  }
  if (response.status === 404)
    throw new CliError(
      `${endpoint} answers, but has no ${path}: it is not a Phoenix local cloud of this version (restart it with \`npx phoenix local\`).`,
      EXIT.environment,
    );
  if (!response.ok) throw new CliError(`${endpoint}${path} answered ${response.status}`, EXIT.environment);
  return (await response.json()) as T;
}

/** `phoenix local env`: the export line for the running local cloud. */
export async function localEnv(args: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(args, { ...WHERE });
  const target = localTarget(parsed, io.env);
  const health = await control<{ region?: string; status?: string }>(target, "/_phoenix/health");
  io.out(envLine(target.endpoint!, health.region ?? "us-east-1"));
  return EXIT.ok;
}

const FINDING_TYPE = /^[A-Za-z]+:[A-Za-z0-9]+\/[^\s]+$/;

/**
 * `phoenix local finding <instance-id>`: a GuardDuty finding as GuardDuty puts it on the bus
 * (the demo's shape: not a sample, so Phoenix acts on it), naming an instance of the local cloud,
 * with what Phoenix will do with it (`plan --event`'s verdict). Printed as an
 * `aws events put-events --entries` file, or put on the local bus with --put.
 */
export async function localFinding(args: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      ...WHERE,
      ...JSON_FLAG,
      type: { type: "string" },
      severity: { type: "string" },
      role: { type: "string" },
      put: { type: "boolean" },
      sample: { type: "boolean" },
      policy: { type: "string" },
      account: { type: "string" },
      region: { type: "string" },
    },
    1,
  );
  const accountFlag = memberAccountFlag(parsed);
  const regionFlag = instanceRegionFlag(parsed);
  const instanceId = requireInstanceId(parsed.positionals[0]);
  const type = stringFlag(parsed, "type") ?? DEFAULT_FINDING_TYPE;
  if (!FINDING_TYPE.test(type))
    throw new UsageError(
      `--type must be a GuardDuty finding type (ThreatPurpose:ResourceType/ThreatFamily…), e.g. ${DEFAULT_FINDING_TYPE}; got "${type}"`,
    );
  const severityText = stringFlag(parsed, "severity");
  const severity = severityText === undefined ? DEFAULT_FINDING_SEVERITY : Number(severityText);
  if (!Number.isFinite(severity) || severity < 0 || severity > 10 || severityText?.trim() === "")
    throw new UsageError(
      `--severity must be a number from 0 to 10 (GuardDuty: 7–8.9 High, 9–10 Critical), got "${severityText}"`,
    );
  const roleText = (stringFlag(parsed, "role") ?? "ACTOR").toUpperCase();
  if (roleText !== "ACTOR" && roleText !== "TARGET")
    throw new UsageError(
      `--role must be ACTOR (the instance attacked) or TARGET (it was attacked), got "${roleText}"`,
    );
  const role = roleText;
  const json = booleanFlag(parsed, "json");
  const put = booleanFlag(parsed, "put");

  const target = localTarget(parsed, io.env);
  const connection = await connect(target, policyFrom(parsed, io.env, target));
  // The finding's account and region: a member's (as the GuardDuty administrator receives it),
  // or the local cloud's own. The instance is looked up there, as a person of that account would
  // (OrganizationAccountAccessRole); in an account the policy does not list, it is not looked up
  // at all (Phoenix will refuse the finding, and says so below).
  const accountId = accountFlag ?? connection.accountId;
  const region = regionFlag ?? connection.region;
  let inAccount: PhoenixDeps | undefined;
  try {
    inAccount = fleetDeps(asPerson(connection.deps, MEMBER_ACCESS_ROLE), { accountId, region });
  } catch (error) {
    if (!(error instanceof MemberAccessError)) throw error;
  }
  const instance = inAccount ? await findInstance(inAccount, instanceId) : undefined;
  if (inAccount && !instance)
    throw new CliError(
      `No instance ${instanceId} in account ${accountId} region ${region} of the local cloud on ${target.endpoint}: \`aws ec2 describe-instances\` or \`phoenix status --local\` show its instances.`,
      EXIT.usage,
    );
  const finding = guardDutyFinding({
    instanceId,
    accountId,
    region,
    type,
    severity,
    role,
    sample: booleanFlag(parsed, "sample"),
    tags: tagsOf(instance?.Tags),
    ...(type === DEFAULT_FINDING_TYPE
      ? {}
      : {
          title: `${type} on EC2 instance ${instanceId}.`,
          description: `A GuardDuty finding of type ${type} on ${instanceId}, made by \`phoenix local finding\` for the local cloud.`,
        }),
  });
  const entry = {
    Source: finding.source,
    DetailType: finding.detailType,
    Detail: JSON.stringify(finding.detail),
    // GuardDuty's events carry an empty resources list; the instance is in the detail.
    Resources: [] as string[],
  };
  // What on-finding will do with it: the same routing, protection and budgets as `plan --event`.
  const plan = await planEvent(connection, {
    version: "0",
    id: randomUUID(),
    source: finding.source,
    "detail-type": finding.detailType,
    account: connection.accountId,
    region: connection.region,
    time: new Date().toISOString(),
    resources: entry.Resources,
    detail: finding.detail,
  });
  const findingId = String(finding.detail.id);
  const where = whereFlags(parsed) || "--local";
  const summary = `${booleanFlag(parsed, "sample") ? "Sample " : ""}GuardDuty finding ${type}, severity ${severity}, on ${instanceId} (the ${role}), id ${findingId}`;

  if (!put) {
    if (json) printJson(io, { entries: [entry], findingId, verdict: plan.verdict });
    else io.out(JSON.stringify([entry], null, 2));
    io.err(`# ${summary}`);
    io.err(`# Phoenix will ${willDo(plan)}`);
    io.err(
      `# Put it on the bus: save this as finding.json, then \`aws events put-events --entries file://finding.json\` (after eval "$(npx phoenix local env)"), or rerun with --put.`,
    );
    return EXIT.ok;
  }
  const result = await connection.deps.clients.events.send(new PutEventsCommand({ Entries: [entry] }));
  const failed = result.Entries?.find((e) => e.ErrorCode);
  if (result.FailedEntryCount || failed)
    throw new CliError(
      `The local bus refused the finding: ${failed?.ErrorCode} ${failed?.ErrorMessage ?? ""}`.trim(),
      EXIT.failed,
    );
  const eventId = result.Entries?.[0]?.EventId;
  if (json) {
    printJson(io, { put: true, eventId, findingId, entry, verdict: plan.verdict });
    return EXIT.ok;
  }
  io.out(`Put ${summary} on the bus of ${target.endpoint} (event ${eventId}).`);
  io.out(`  Phoenix will ${willDo(plan)}`);
  io.out(`  see what it did: phoenix status ${where}   phoenix audit --instance ${instanceId} ${where}`);
  return EXIT.ok;
}

/** `phoenix local notifications`: what Phoenix's SNS topic received on the local cloud. */
export async function localNotifications(args: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(args, {
    ...WHERE,
    ...JSON_FLAG,
    since: { type: "string" },
    all: { type: "boolean" },
  });
  const sinceText = stringFlag(parsed, "since");
  const sinceMs = sinceText !== undefined ? parseDuration(sinceText, "--since") : undefined;
  const target = localTarget(parsed, io.env);
  const health = await control<{ now?: string }>(target, "/_phoenix/health");
  // The local cloud's clock may run faster than the wall clock: --since counts on its clock.
  const now = health.now ? Date.parse(health.now) : Date.now();
  const since = sinceMs !== undefined ? new Date(now - sinceMs).toISOString() : "";
  const { notifications } = await control<{ notifications: LocalNotification[] }>(
    target,
    `${NOTIFICATIONS_PATH}${since ? `?since=${encodeURIComponent(since)}` : ""}`,
  );
  // Phoenix's own topic (phoenix-<stage>-notifications) unless --all.
  const mine = booleanFlag(parsed, "all")
    ? notifications
    : notifications.filter((n) => /:phoenix-[^:]*notifications$/.test(n.topicArn));
  if (booleanFlag(parsed, "json")) {
    printJson(io, { endpoint: target.endpoint, since: since || undefined, notifications: mine });
    return EXIT.ok;
  }
  io.out(
    `${mine.length === 0 ? "No notifications" : plural(mine.length, "notification")} published to Phoenix's topic on ${target.endpoint}${since ? ` since ${since.slice(0, 19).replace("T", " ")} (local cloud time)` : ""}${mine.length === 0 ? "." : ":"}`,
  );
  for (const notification of mine) {
    const { kind, severity } = notification.attributes;
    io.out("");
    io.out(
      `${notification.at.slice(0, 19).replace("T", " ")}  ${severity ? `[${severity}] ` : ""}${kind ? `${kind}: ` : ""}${notification.subject ?? "(no subject)"}`,
    );
    for (const line of humanPart(notification.message).split("\n")) io.out(`    ${line}`.trimEnd());
  }
  return EXIT.ok;
}

/** What on-finding will do with the finding, in words. */
export function willDo(plan: EventPlan): string {
  if (plan.event !== "guardduty") return plan.verdict;
  if (!plan.delivered) return `never see it. ${plan.verdict.replace(/^not delivered: /, "")}`;
  const instance = plan.instance;
  if (!instance) return `not act on it (${plan.verdict})`;
  const why = instance.route?.reason;
  switch (instance.decision) {
    case "start":
      return `contain it: ${why ?? "the policy says contain"} (${instance.reason})`;
    case "join":
      return `add it to the instance's open containment: ${instance.reason}`;
    case "hold":
      return `hold the containment for a person's approval (\`phoenix holds\`): ${instance.reason}`;
    case "refuse":
      return `refuse it: ${instance.reason}`;
    default:
      return `not contain the instance: ${instance.reason}`;
  }
}

/** Phoenix's messages end with their data as JSON, for machines: people read the text before it. */
function humanPart(message: string): string {
  const cut = message.lastIndexOf("\n\n{");
  return (cut > 0 ? message.slice(0, cut) : message).trim();
}
