import { readFileSync } from "node:fs";
import type { Connection } from "../../ops/connect.js";
import { CliError, EXIT } from "../../ops/io.js";
import { managedScope, routeFinding } from "../../src/containment/core/route.js";
import {
  findingOverridePrefixes,
  findingResourceTypes,
  findingSeverityThreshold,
} from "../../src/events/rules.js";
import {
  CLUSTER_RESOURCE_TYPES,
  CREDENTIAL_EXFILTRATION_PREFIX,
  type Finding,
  parseGuardDutyEvent,
} from "../../src/findings/guardduty.js";
import { familyFromParameterName } from "../../src/images/parameters.js";
import { parseImageTrigger } from "../../src/images/triggers.js";
import type { Policy } from "../../src/policy/index.js";
import { amiOfParameter, amisOfImageBuild } from "../../src/rollout/aws/image-sources.js";
import type { SessionAction } from "../../src/sessions/core/decide.js";
import { CLOUDTRAIL_API_CALL, parseSessionEvent } from "../../src/sessions/core/session-event.js";
import { planSession } from "../../src/sessions/workflow/intake.js";
import { type ImagePlan, planImage } from "./image-plan.js";
import { type InstancePlan, planInstance } from "./instance-plan.js";

export type EventPlan =
  | {
      kind: "event";
      event: "guardduty";
      findingId: string;
      findingType: string;
      severity: number;
      /** False when Phoenix's EventBridge rule does not deliver it: on-finding never sees it. */
      delivered: boolean;
      instance?: InstancePlan;
      verdict: string;
    }
  | { kind: "event"; event: "image"; images: ImagePlan[]; verdict: string }
  | {
      kind: "event";
      event: "session";
      /** What on-session would do: src/sessions/core/decide.ts, from the same reads. */
      decision: SessionAction | "ignore";
      instanceId?: string;
      who?: string;
      how?: string;
      group?: string;
      tainted?: boolean;
      verdict: string;
    };

/** Reads an EventBridge event from a file (as `aws events put-events` would carry it). */
export function readEventFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, EXIT.usage);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    // `aws events put-events --entries file://…` shape: the first entry, with Detail as text.
    if (Array.isArray(parsed) && parsed[0] && typeof parsed[0] === "object" && "Detail" in parsed[0]) {
      const entry = parsed[0] as { Source?: string; DetailType?: string; Detail?: string };
      return {
        source: entry.Source,
        "detail-type": entry.DetailType,
        detail: JSON.parse(entry.Detail ?? "{}"),
      };
    }
    return parsed;
  } catch (error) {
    throw new CliError(`${path} is not valid JSON: ${(error as Error).message}`, EXIT.usage);
  }
}

/**
 * Why Phoenix's finding rule (src/events/rules.ts) does not deliver this finding to on-finding,
 * or undefined when it does. PutEvents accepts such a finding, and nothing records it: the rule
 * only delivers what the handler would do more than log.
 */
export function notDelivered(
  finding: Pick<Finding, "type" | "severity" | "resourceType">,
  containment: Policy["containment"],
): string | undefined {
  if (finding.resourceType === "AccessKey" && finding.type.startsWith(CREDENTIAL_EXFILTRATION_PREFIX))
    return undefined; // its own rule, unfiltered by severity (credentialExfiltrationPattern)
  const types = findingResourceTypes(containment);
  if (!types.includes(finding.resourceType))
    return `Phoenix's EventBridge rule delivers only findings on ${types.join(", ")} (not ${finding.resourceType})${CLUSTER_RESOURCE_TYPES.some((t) => t === finding.resourceType) ? ", as containment.containClusterNodes is false" : ""}; nothing records this one.`;
  const threshold = findingSeverityThreshold(containment);
  const prefixes = findingOverridePrefixes(containment);
  if (finding.severity >= threshold || prefixes.some((prefix) => finding.type.startsWith(prefix)))
    return undefined;
  return `Phoenix's EventBridge rule delivers GuardDuty findings of severity ${threshold} or more, or of the types the policy names (${prefixes.join(", ") || "none"}); ${finding.type} at severity ${finding.severity} is neither, so on-finding never sees it and nothing records it.`;
}

/** What Phoenix's handlers would do with the event: on-finding's routing, or on-image's gate and plan. */
export async function planEvent(connection: Connection, event: unknown): Promise<EventPlan> {
  const source = (event as { source?: unknown } | null)?.source;
  if ((event as Record<string, unknown> | null)?.["detail-type"] === CLOUDTRAIL_API_CALL) {
    const parsed = parseSessionEvent(event);
    if (!parsed.ok && !parsed.ignore)
      throw new CliError(
        `the session event is malformed (on-session would reject it): ${parsed.error}`,
        EXIT.usage,
      );
    if (!parsed.ok)
      return { kind: "event", event: "session", decision: "ignore", verdict: `ignore: ${parsed.reason}` };
    const { session, decision } = await planSession(connection.deps, parsed.session);
    return {
      kind: "event",
      event: "session",
      decision: decision.action,
      instanceId: session.instanceId,
      who: session.who,
      how: session.how,
      ...(decision.group ? { group: decision.group } : {}),
      tainted: decision.taint,
      verdict: `${decision.action}: ${decision.reason}`,
    };
  }
  if (source === "aws.guardduty") {
    const parsed = parseGuardDutyEvent(event);
    if (!parsed.ok)
      throw new CliError(
        `the finding is malformed (on-finding would reject it): ${parsed.error}`,
        EXIT.usage,
      );
    const finding = parsed.finding;
    const route = routeFinding(finding, connection.deps.policy.containment, managedScope(connection.deps));
    const base = {
      kind: "event" as const,
      event: "guardduty" as const,
      findingId: finding.findingId,
      findingType: finding.type,
      severity: finding.severity,
      delivered: true,
    };
    const undelivered = notDelivered(finding, connection.deps.policy.containment);
    if (undelivered) return { ...base, delivered: false, verdict: `not delivered: ${undelivered}` };
    // A finding for another account or region names an instance Phoenix must not even look up.
    if (!finding.instanceId || route.action === "refuse")
      return { ...base, verdict: `${route.action}: ${route.reason}` };
    const instance = await planInstance(connection, finding.instanceId, route, { region: finding.region });
    return { ...base, instance, verdict: `${instance.decision}: ${instance.reason}` };
  }
  const trigger = parseImageTrigger(event, connection.deps.policy);
  if (trigger.kind === "invalid") throw new CliError(`the event is malformed: ${trigger.error}`, EXIT.usage);
  if (trigger.kind === "ignored")
    return { kind: "event", event: "image", images: [], verdict: `ignored: ${trigger.reason}` };
  let imageIds: string[];
  let family: string | undefined;
  if (trigger.kind === "ami") imageIds = [trigger.imageId];
  else {
    const lookup =
      trigger.kind === "imagebuilder"
        ? await amisOfImageBuild(connection.deps, trigger.imageBuildVersionArn)
        : await amiOfParameter(connection.deps, trigger.name);
    if (!lookup.ok)
      return { kind: "event", event: "image", images: [], verdict: `ignored: ${lookup.reason}` };
    imageIds = lookup.imageIds;
    if (trigger.kind === "parameter") family = familyFromParameterName(trigger.name, connection.deps.policy);
  }
  const images: ImagePlan[] = [];
  for (const imageId of imageIds) images.push(await planImage(connection, imageId, family ? { family } : {}));
  return {
    kind: "event",
    event: "image",
    images,
    verdict: images.map((i) => `${i.imageId}: ${i.verdict}`).join("; "),
  };
}
