import { CLUSTER_RESOURCE_TYPES, CREDENTIAL_EXFILTRATION_PREFIX } from "../findings/guardduty.js";
import { AMI_STATE_CHANGE, IMAGE_BUILDER_STATE_CHANGE, PARAMETER_STORE_CHANGE } from "../images/triggers.js";
import type { Policy } from "../policy/index.js";
import { CLOUDTRAIL_API_CALL, SESSION_CALLS } from "../sessions/core/session-event.js";
import type { EventTargetName } from "./targets.js";

/**
 * Phoenix's EventBridge rules as data: the deployed stack declares exactly these, and the local
 * cloud deploys them from the stack's graph into moto, so a pattern is tested once and means the
 * same in both.
 *
 * Patterns filter as much as EventBridge allows, so that handlers are not invoked (and not
 * billed) for events they would only drop; the handlers still check everything themselves.
 */

/** One value test in a pattern: an exact value or a named filter (`prefix`, `numeric`, …). */
export type PatternMatcher =
  | string
  | number
  | boolean
  | null
  | { prefix: string }
  | { numeric: (string | number)[] }
  | { exists: boolean }
  | { "anything-but": string | number | (string | number)[] | { prefix: string } };

/** An EventBridge event pattern: field → list of matchers, or → nested pattern; `$or` → alternatives. */
export interface EventPattern {
  [field: string]: PatternMatcher[] | EventPattern | EventPattern[];
}

export interface EventRule {
  /** Base name; the deployed stack qualifies it with app and stage. */
  name: string;
  description: string;
  /** What events the rule matches; a scheduled rule has none. */
  pattern?: EventPattern;
  /** A schedule rule's expression (rate(…)): it fires on its own, with a Scheduled Event. */
  schedule?: string;
  target: EventTargetName;
}

export const GUARDDUTY_FINDING = "GuardDuty Finding";
export const INSTANCE_REFRESH_DETAIL_TYPE_PREFIX = "EC2 Auto Scaling Instance Refresh";

type RulePolicy = {
  drift: Pick<Policy["drift"], "schedule">;
  containment: Pick<
    Policy["containment"],
    "notifyAtSeverity" | "containAtSeverity" | "typeOverrides" | "containClusterNodes"
  >;
  rollout: Pick<Policy["rollout"], "imageParameters">;
};

/**
 * The lowest severity at which the finding handler does more than log: below it, nothing
 * needs the handler, so the rule does not deliver.
 */
export function findingSeverityThreshold(containment: RulePolicy["containment"]): number {
  return Math.min(containment.notifyAtSeverity, containment.containAtSeverity);
}

/**
 * Finding types the policy contains or notifies whatever their severity (type overrides win
 * over severity in routing). Without them in the pattern, e.g. an SSH brute force against an
 * instance (severity 2) would never reach the handler although the policy says notify.
 */
export function findingOverridePrefixes(containment: RulePolicy["containment"]): string[] {
  const acting = containment.typeOverrides.filter((o) => o.action === "contain" || o.action === "notify");
  return [...new Set(acting.map((o) => o.typePrefix))].sort();
}

export function guardDutyFindingPattern(containment: RulePolicy["containment"]): EventPattern {
  const bySeverity: EventPattern = { severity: [{ numeric: [">=", findingSeverityThreshold(containment)] }] };
  const prefixes = findingOverridePrefixes(containment);
  const detail: EventPattern = {
    // Only an EC2 instance can be contained; S3, IAM, RDS… findings never need Phoenix. A
    // cluster's Runtime Monitoring findings name its EC2 node, and are wanted once opted in.
    resource: { resourceType: findingResourceTypes(containment) },
    ...(prefixes.length === 0
      ? bySeverity
      : { $or: [bySeverity, { type: prefixes.map((prefix) => ({ prefix })) }] }),
  };
  return { source: ["aws.guardduty"], "detail-type": [GUARDDUTY_FINDING], detail };
}

/** The resource types of the findings the instance-finding rule delivers. */
export function findingResourceTypes(containment: RulePolicy["containment"]): string[] {
  return ["Instance", ...(containment.containClusterNodes ? CLUSTER_RESOURCE_TYPES : [])];
}

/**
 * Findings that an instance's role credentials were used elsewhere: the resource is the leaked
 * AccessKey, the instance is named by its session. A rule of their own, so that no other IAM
 * finding reaches on-finding. No severity filter: GuardDuty rates them High, and the handler's
 * routing applies the policy's thresholds and overrides as for any finding.
 */
export function credentialExfiltrationPattern(): EventPattern {
  return {
    source: ["aws.guardduty"],
    "detail-type": [GUARDDUTY_FINDING],
    detail: { resource: { resourceType: ["AccessKey"] }, type: [{ prefix: CREDENTIAL_EXFILTRATION_PREFIX }] },
  };
}

export function amiAvailablePattern(): EventPattern {
  return { source: ["aws.ec2"], "detail-type": [AMI_STATE_CHANGE], detail: { State: ["available"] } };
}

export function imageBuilderAvailablePattern(): EventPattern {
  return {
    source: ["aws.imagebuilder"],
    "detail-type": [IMAGE_BUILDER_STATE_CHANGE],
    detail: { state: { status: ["AVAILABLE"] } },
  };
}

/**
 * Image parameters as configured: an entry ending in "/" is a prefix, any other an exact name.
 * Undefined when none are configured (EventBridge refuses an empty list, and nothing to watch).
 */
export function imageParameterPattern(rollout: RulePolicy["rollout"]): EventPattern | undefined {
  const names: PatternMatcher[] = rollout.imageParameters.map((entry) =>
    entry.endsWith("/") ? { prefix: entry } : entry,
  );
  if (names.length === 0) return undefined;
  return {
    source: ["aws.ssm"],
    "detail-type": [PARAMETER_STORE_CHANGE],
    detail: {
      name: names,
      operation: ["Create", "Update"],
      // Parameter Store reports a value that failed aws:ec2:image validation with `exception`.
      exception: [{ exists: false }],
    },
  };
}

/**
 * Somebody opened (or was let open) an interactive session on an instance: CloudTrail's record of
 * the call, on the default bus. A failed call opened nothing, so it is not delivered.
 */
export function interactiveSessionPattern(): EventPattern {
  const calls = Object.entries(SESSION_CALLS);
  return {
    source: calls.map(([source]) => source),
    "detail-type": [CLOUDTRAIL_API_CALL],
    detail: {
      eventSource: calls.map(([, call]) => call.eventSource),
      eventName: calls.flatMap(([, call]) => [...call.eventNames]),
      errorCode: [{ exists: false }],
    },
  };
}

export function instanceRefreshPattern(): EventPattern {
  return { source: ["aws.autoscaling"], "detail-type": [{ prefix: INSTANCE_REFRESH_DETAIL_TYPE_PREFIX }] };
}

/** Every rule Phoenix deploys, for this policy. */
export function phoenixEventRules(policy: RulePolicy): EventRule[] {
  const rules: EventRule[] = [
    {
      name: "phoenix-guardduty-instance-finding",
      description: `GuardDuty findings on EC2 instances, severity >= ${findingSeverityThreshold(policy.containment)} or a policy type override`,
      pattern: guardDutyFindingPattern(policy.containment),
      target: "on-finding",
    },
    {
      name: "phoenix-guardduty-credential-leak",
      description:
        "GuardDuty findings that an EC2 instance's role credentials were used outside AWS or from another account",
      pattern: credentialExfiltrationPattern(),
      target: "on-finding",
    },
    {
      name: "phoenix-ami-available",
      description: "An AMI became available (CreateImage, RegisterImage, CopyImage)",
      pattern: amiAvailablePattern(),
      target: "on-image",
    },
    {
      name: "phoenix-imagebuilder-image-available",
      description: "An EC2 Image Builder image became AVAILABLE",
      pattern: imageBuilderAvailablePattern(),
      target: "on-image",
    },
  ];
  const parameters = imageParameterPattern(policy.rollout);
  if (parameters) {
    rules.push({
      name: "phoenix-image-parameter-change",
      description: "An image parameter in Parameter Store was created or updated",
      pattern: parameters,
      target: "on-image",
    });
  }
  rules.push({
    name: "phoenix-interactive-session",
    description:
      "Interactive sessions on instances (SSM StartSession, EC2 Instance Connect and serial console SSH keys)",
    pattern: interactiveSessionPattern(),
    target: "on-session",
  });
  rules.push({
    name: "phoenix-drift-sweep",
    description: `The drift sweep, ${policy.drift.schedule} (drift.schedule)`,
    schedule: policy.drift.schedule,
    target: "sweep",
  });
  rules.push({
    name: "phoenix-instance-refresh-lifecycle",
    description:
      "Instance refresh lifecycle events (started, checkpoint, succeeded, failed, cancelled, rollback)",
    pattern: instanceRefreshPattern(),
    target: "on-refresh-event",
  });
  return rules;
}
