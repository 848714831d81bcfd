import { protectionHold } from "../../containment/core/protection.js";
import { describeScope, isManaged, type ManagedScope } from "../../containment/core/route.js";
import type { Tags } from "../../findings/guardduty.js";
import type { Policy } from "../../policy/index.js";
import { isGrantingTrue, TAG_BREAK_GLASS, TAG_MANAGED, TAG_TAINTED } from "../../tags.js";
import { SESSION_HOWS, type SessionEvent, type SessionHow } from "./session-event.js";

/**
 * What Phoenix does when somebody opened an interactive session on an instance: one pure
 * decision with its reason, taken by the handler that acts (src/sessions/workflow/intake.ts) and
 * by `phoenix plan --event`. Not a containment: nobody attacked the instance, it was changed by
 * hand, so it is replaced through its group (which launches a clean one from its template) and
 * nothing else is done to it: no isolation, no evidence.
 */

export interface SessionFacts {
  /** undefined: EC2 does not know the instance. */
  instance?: { state: string; tags: Tags };
  /** The instance's place in its Auto Scaling group; undefined: it is in none. */
  membership?: { groupName: string; lifecycleState: string };
  /** The group, when the instance is in one and the group could be read. */
  group?: { name: string; tags: Tags; desired: number; inServiceHealthy: number };
}

export type SessionAction =
  /** Not Phoenix's to act on (another account or region, an instance EC2 does not know). */
  | "refuse"
  /** Nothing to do: the instance is gone or already on its way out. */
  | "ignore"
  /** People are told; the instance is not replaced (no managed group, protected, or the policy says so). */
  | "notify"
  /** A valid break-glass tag: tainted and audited, not replaced now. */
  | "exempt"
  /** The group is not at full healthy capacity: replacing now would take it lower. Try again later. */
  | "defer"
  | "replace";

export interface SessionDecision {
  action: SessionAction;
  reason: string;
  /** Whether the instance gets (or keeps) its phoenix:tainted tag. */
  taint: boolean;
  group?: string;
  /** For "exempt": until when. */
  exemptUntil?: string;
}

type SessionPolicy = Pick<Policy["sessions"], "action" | "breakGlassMaxHours">;

const HOUR_MS = 3600_000;

export function decideSession(
  session: SessionEvent,
  facts: SessionFacts,
  policy: SessionPolicy,
  scope: ManagedScope,
  now: Date,
): SessionDecision {
  const foreign = foreignSessionReason(session, scope);
  if (foreign) return { action: "refuse", taint: false, reason: foreign };
  const { instance, membership, group } = facts;
  if (!instance) {
    return { action: "refuse", taint: false, reason: `EC2 does not know instance ${session.instanceId}` };
  }
  if (instance.state === "terminated" || instance.state === "shutting-down") {
    return {
      action: "ignore",
      taint: false,
      reason: `the instance is ${instance.state}: nothing to replace`,
    };
  }
  if (!membership) {
    return {
      action: "notify",
      taint: false,
      reason:
        "the instance is in no Auto Scaling group: Phoenix cannot replace it (replace it by hand, or put it in a group)",
    };
  }
  if (membership.lifecycleState.startsWith("Terminating")) {
    return {
      action: "ignore",
      taint: false,
      group: membership.groupName,
      reason: `its group ${membership.groupName} is already terminating it (${membership.lifecycleState})`,
    };
  }
  if (!group || !isGrantingTrue(group.tags[TAG_MANAGED])) {
    return {
      action: "notify",
      taint: false,
      group: membership.groupName,
      reason: `its group ${membership.groupName} is not tagged ${TAG_MANAGED}=true: Phoenix may not replace its instances`,
    };
  }
  // Every session on an instance of a managed group leaves the mark, whatever happens next.
  const taint = true;
  const protectedWhy = protectionHold(instance.tags, group.tags);
  if (protectedWhy) {
    return {
      action: "notify",
      taint,
      group: group.name,
      reason: `${protectedWhy.split(";")[0]}: it is tainted but not replaced automatically (replace it by hand once done)`,
    };
  }
  const breakGlass = breakGlassWindow(
    instance.tags[TAG_BREAK_GLASS],
    windowStart(session, instance.tags[TAG_TAINTED]),
    policy,
    now,
  );
  if (breakGlass.exempt) {
    return {
      action: "exempt",
      taint,
      group: group.name,
      exemptUntil: breakGlass.until,
      reason: breakGlass.reason,
    };
  }
  if (policy.action === "notify") {
    return {
      action: "notify",
      taint,
      group: group.name,
      reason: `sessions.action is "notify": the instance is tainted, not replaced${breakGlass.reason ? ` (${breakGlass.reason})` : ""}`,
    };
  }
  if (membership.lifecycleState !== "InService" || group.inServiceHealthy < group.desired) {
    return {
      action: "defer",
      taint,
      group: group.name,
      reason:
        membership.lifecycleState !== "InService"
          ? `the instance is ${membership.lifecycleState} in ${group.name}, not InService: replaced once it is`
          : `${group.name} has ${group.inServiceHealthy} healthy instances in service of ${group.desired} desired: replacing one now would take it lower (another replacement is under way); tried again shortly`,
    };
  }
  const why = `${session.who} opened a session (${session.how}) at ${session.when}`;
  return {
    action: "replace",
    taint,
    group: group.name,
    reason: `${why}: replaced through its group ${group.name}, which launches a clean instance from its launch template${breakGlass.reason ? ` (${breakGlass.reason})` : ""}`,
  };
}

/** Why Phoenix does not act on a session in this account and region, or undefined: it manages them. */
export function foreignSessionReason(session: SessionEvent, scope: ManagedScope): string | undefined {
  const accounts = [
    ...new Set([session.accountId, session.eventAccount].filter((a): a is string => a !== undefined)),
  ];
  const regions = [
    ...new Set([session.region, session.eventRegion].filter((r): r is string => r !== undefined)),
  ];
  if (accounts.every((a) => regions.every((r) => isManaged(scope, a, r)))) return undefined;
  return `the session was opened in account ${accounts.join("/")} region ${regions.join("/")}, which Phoenix does not manage (it manages ${describeScope(scope)})`;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * When the hands-on time began: the first session on the instance (its phoenix:tainted mark
 * names it), not this one. A break-glass window is bounded from there, so neither a later session
 * nor a re-set break-glass tag stretches it past breakGlassMaxHours. Whoever may delete or rewrite
 * phoenix:tainted can still restart the window: that is why docs/DEPLOY.md has those tags denied
 * to everyone but the on-call role and Phoenix.
 */
function windowStart(session: SessionEvent, taint: string | undefined): number {
  const current = Date.parse(session.when);
  const first = taint !== undefined ? parseTaint(taint)?.when : undefined;
  const firstMs = first !== undefined ? Date.parse(first) : Number.NaN;
  return Number.isNaN(firstMs) ? current : Math.min(current, firstMs);
}

/** Whether a break-glass tag exempts the instance: an ISO time, in the future, not too far from the first session. */
function breakGlassWindow(
  value: string | undefined,
  startMs: number,
  policy: SessionPolicy,
  now: Date,
): { exempt: true; until: string; reason: string } | { exempt: false; reason?: string } {
  if (value === undefined) return { exempt: false };
  const trimmed = value.trim();
  // Only a full ISO 8601 date-time with a zone: Date.parse also accepts "2027", "Dec 3" or a
  // local time, whose meaning depends on where it is read.
  const until = ISO_INSTANT.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(until)) {
    return {
      exempt: false,
      reason: `${TAG_BREAK_GLASS}=${JSON.stringify(value.slice(0, 64))} is not an ISO 8601 time with a zone (e.g. 2026-12-03T18:00:00Z), so it exempts nothing`,
    };
  }
  const untilIso = new Date(until).toISOString();
  if (until <= now.getTime()) return { exempt: false, reason: `${TAG_BREAK_GLASS} ended at ${untilIso}` };
  const limit = startMs + policy.breakGlassMaxHours * HOUR_MS;
  if (until > limit) {
    return {
      exempt: false,
      reason: `${TAG_BREAK_GLASS} until ${untilIso} is more than sessions.breakGlassMaxHours (${policy.breakGlassMaxHours}) after the first session (${new Date(startMs).toISOString()}), so it is not honoured`,
    };
  }
  return {
    exempt: true,
    until: untilIso,
    reason: `${TAG_BREAK_GLASS} exempts it until ${untilIso}: tainted, not replaced now (once it ends, the drift sweep reports it, and in enforce mode replaces it)`,
  };
}

/** A phoenix:tainted value read back (`<who>, <when>, <how>`); undefined when it is not one Phoenix wrote. */
export function parseTaint(value: string): { who: string; when: string; how: SessionHow } | undefined {
  const parts = value.split(", ");
  if (parts.length < 3) return undefined;
  const how = parts.at(-1) as SessionHow;
  const when = parts.at(-2) ?? "";
  if (!(SESSION_HOWS as readonly string[]).includes(how) || !ISO_INSTANT.test(when)) return undefined;
  return { who: parts.slice(0, -2).join(", "), when, how };
}

/** The phoenix:tainted value, `<who>, <when>, <how>`, within EC2's 256 characters. */
export function taintValue(session: SessionEvent): string {
  const tail = `, ${session.when}, ${session.how}`;
  const who =
    session.who.length + tail.length > 256 ? `${session.who.slice(0, 256 - tail.length - 1)}…` : session.who;
  return `${who}${tail}`;
}
