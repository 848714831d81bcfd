import type { AuditRecord } from "../../../src/audit/audit.js";
import type { RecordedCall } from "./recorder.js";

/**
 * What counts for audit completeness:
 * - the calls: every successful mutating call the gateway served signed as Phoenix (its
 *   functions and its state machines' service integrations), except writes to Phoenix's own
 *   DynamoDB tables (they are the audit trail and its bookkeeping) and publications to its own
 *   SNS topic (notifications report actions, they change nothing);
 * - the resources a call touched: the AWS ids in its parameters (instance, interface, security
 *   group, image, launch template, snapshot, volume, association) and the names of groups, roles
 *   and instance profiles, and for StartExecution the execution name;
 * - covered: some audit record written since the run began names one of those resources in
 *   its subject, execution or details. A call that touched nothing identifiable is reported.
 */
const AWS_ID = /^(i|eni|sg|ami|lt|snap|vol|iip-assoc|eipassoc|eipalloc)-[0-9a-f]{8,}$/;
const NAME_PARAMS = [
  "AutoScalingGroupName",
  "RoleName",
  "InstanceProfileName",
  "LaunchTemplateName",
  "GroupName",
];

export function touchedResources(call: RecordedCall): string[] {
  const found = new Set<string>();
  for (const [key, value] of Object.entries(call.params)) {
    if (AWS_ID.test(value)) found.add(value);
    if (NAME_PARAMS.some((name) => key === name || key.endsWith(`.${name}`))) found.add(value);
  }
  const visit = (value: unknown, key = ""): void => {
    if (typeof value === "string") {
      if (AWS_ID.test(value) || NAME_PARAMS.includes(key) || key === "name") found.add(value);
    } else if (Array.isArray(value)) {
      for (const v of value) visit(v, key);
    } else if (value && typeof value === "object")
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) visit(v, k);
  };
  visit(call.json);
  return [...found];
}

export interface CoverageReport {
  checked: number;
  missing: string[];
}

export function auditCoverage(
  calls: readonly RecordedCall[],
  records: readonly AuditRecord[],
): CoverageReport {
  const trail = records.map((r) => JSON.stringify(r));
  const missing: string[] = [];
  const relevant = calls.filter(
    (c) => c.service !== "dynamodb" && !(c.service === "sns" && c.action === "Publish"),
  );
  for (const call of relevant) {
    const resources = touchedResources(call);
    const covered = resources.some((id) => trail.some((text) => text.includes(id)));
    if (!covered)
      missing.push(
        `${call.service}:${call.action} ${resources.join(",") || JSON.stringify(call.params).slice(0, 200)}`,
      );
  }
  return { checked: relevant.length, missing };
}
