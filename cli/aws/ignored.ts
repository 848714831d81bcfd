import type { AuditRecord } from "../../src/audit/audit.js";
import { IGNORE_IMAGE_EVENT } from "../../src/images/event-records.js";

/**
 * Events Phoenix received and did not act on, from the audit trail: findings it routed to
 * ignore/log or refused (another account, a sample, an unknown instance), events that failed
 * validation, image events that do not apply. PutEvents accepts them all, so without this a
 * person who put one on the bus sees nothing happen and no reason.
 */
export interface IgnoredEvent {
  at: string;
  /** "finding", "image event", "event". */
  kind: string;
  subject: string;
  outcome: string;
  reason: string;
  instanceId?: string;
  findingType?: string;
  severity?: number;
  /** For a finding: the policy's action ("ignore", "log"). */
  action?: string;
}

export function isIgnoredEvent(record: AuditRecord): boolean {
  if (record.action === "route") return record.outcome === "skipped" || record.outcome === "refused";
  if (record.action === "validate") return record.outcome === "refused";
  return record.action === IGNORE_IMAGE_EVENT;
}

export function ignoredEvents(records: AuditRecord[]): IgnoredEvent[] {
  return records.filter(isIgnoredEvent).map((record) => {
    const details = record.details ?? {};
    const instanceId = typeof details["instanceId"] === "string" ? details["instanceId"] : undefined;
    const findingType = typeof details["type"] === "string" ? details["type"] : undefined;
    const severity = typeof details["severity"] === "number" ? details["severity"] : undefined;
    const action = typeof details["action"] === "string" ? details["action"] : undefined;
    return {
      at: record.at,
      kind: record.action === "route" ? "finding" : record.action === "validate" ? "event" : "image event",
      subject: record.subject,
      outcome: record.outcome,
      reason: record.reason ?? "",
      ...(instanceId ? { instanceId } : {}),
      ...(findingType ? { findingType } : {}),
      ...(severity !== undefined ? { severity } : {}),
      ...(action ? { action } : {}),
    };
  });
}

/** One line: when, what, and why it was not acted on. */
export function formatIgnored(event: IgnoredEvent): string {
  const what =
    event.kind === "finding"
      ? `finding ${event.findingType ?? event.subject}${event.severity !== undefined ? ` (severity ${event.severity})` : ""}${event.instanceId ? ` on ${event.instanceId}` : ""}`
      : `${event.kind} ${event.subject}`;
  const verb = event.outcome === "refused" ? "refused" : event.action === "log" ? "logged only" : "ignored";
  return `${event.at.replace("T", " ").slice(0, 19)}  ${what}: ${verb}. ${event.reason}`.trimEnd();
}
