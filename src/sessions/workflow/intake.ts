import { once } from "../../containment/aws/once.js";
import { ownScope } from "../../containment/core/route.js";
import { instanceSubject } from "../../containment/core/types.js";
import type { PhoenixDeps } from "../../deps.js";
import { acquireGroupLock, describeHolder, releaseGroupLock } from "../../rollout/aws/lock.js";
import { TAG_TAINTED } from "../../tags.js";
import { markTainted, readSessionFacts, replaceThroughGroup } from "../aws/facts.js";
import {
  decideSession,
  foreignSessionReason,
  parseTaint,
  type SessionDecision,
  type SessionFacts,
  taintValue,
} from "../core/decide.js";
import type { SessionEvent } from "../core/session-event.js";

export const SESSION_ACTOR = "phoenix:on-session";
export const SESSION_ACTION = "session";
/** The group was asked to replace the instance (after the decision record, which comes first). */
export const SESSION_REPLACED_ACTION = "replace-through-group";
/**
 * How long a session replacement keeps its group's lock (the rollouts' lock, src/rollout/aws/lock.ts)
 * after the terminate: long enough for the group to show the instance leaving, so a concurrent
 * session on another of its instances defers instead of taking the group lower. Rollouts wait
 * for it (they retry a held lock).
 */
export const SESSION_LOCK_SECONDS = 120;

/** What Phoenix did with one session event; each is audited under the instance. */
export type SessionOutcome =
  | { kind: "refused" | "ignored" | "notified" | "exempt"; reason: string; tainted: boolean }
  | { kind: "deferred"; reason: string; tainted: boolean }
  | { kind: "replaced"; reason: string; tainted: boolean; group: string };

export interface SessionPlan {
  session: SessionEvent;
  facts: SessionFacts;
  decision: SessionDecision;
}

/** The decision alone, from live reads: what `phoenix plan --event` shows, and what the handler acts on. */
export async function planSession(deps: PhoenixDeps, session: SessionEvent): Promise<SessionPlan> {
  // Sessions are handled in Phoenix's own account and region only: a session in a member account
  // is refused (member access is built for containment, not yet for sessions).
  const scope = ownScope(deps);
  // Nothing is read for an account Phoenix does not manage.
  const facts = foreignSessionReason(session, scope) ? {} : await readSessionFacts(deps, session.instanceId);
  return { session, facts, decision: decideSession(session, facts, deps.policy.sessions, scope, deps.now()) };
}

/**
 * One session event: decide, mark the instance tainted (when it is a managed group's), then
 * replace it through its group, or tell people why not. Redeliveries are harmless: the mark is
 * written once, an instance already terminating is left alone, and the audit record and the
 * notification are keyed by the CloudTrail event.
 *
 * "defer" throws DeferSession: the handler reports the record for redelivery, and the next
 * delivery decides again. On the last delivery a deferral is audited as failed and notified
 * (the drift sweep still reports the tainted instance).
 */
export async function takeSession(
  deps: PhoenixDeps,
  session: SessionEvent,
  delivery: { attempt: number; last: boolean },
  /** The drift sweep acts on a tainted instance as its session would: its own actor, and no notification (the sweep tells). */
  options: { actor?: string; quiet?: boolean } = {},
): Promise<SessionOutcome> {
  const actor = options.actor ?? SESSION_ACTOR;
  const lockOwner = `session/${session.eventId}`;
  let { facts, decision } = await planSession(deps, session);
  let locked: string | undefined;
  if (decision.action === "replace") {
    // One replacement per group at a time: two sessions on two of its instances, handled at
    // once, would each see the group at full capacity and take it down by two. Under the lock
    // the facts are read again, so the second one sees the first one's instance leaving.
    const group = decision.group ?? "";
    const attempt = await acquireGroupLock(deps, {
      group,
      owner: lockOwner,
      purpose: `replacing ${session.instanceId} after a session`,
      ttlSeconds: SESSION_LOCK_SECONDS,
    });
    if (attempt.acquired) {
      locked = group;
      ({ facts, decision } = await planSession(deps, session));
    } else {
      decision = {
        action: "defer",
        taint: true,
        group,
        reason: `its group ${group} is locked (${describeHolder(attempt.holder)}): replaced once the lock is free`,
      };
    }
  }
  // Released under the group that was locked: a re-plan that is no longer a replacement (the
  // instance left its group meanwhile, say) may name no group, or another.
  if (locked !== undefined && (decision.action !== "replace" || decision.group !== locked)) {
    await releaseGroupLock(deps, locked, lockOwner);
    if (decision.action === "replace") {
      decision = {
        action: "defer",
        taint: true,
        group: decision.group,
        reason: `it moved from group ${locked} to ${decision.group} while its replacement was planned: tried again`,
      };
    }
  }
  const subject = instanceSubject(session.instanceId);
  const tainted =
    decision.taint && facts.instance !== undefined
      ? await markTainted(deps, session.instanceId, facts.instance.tags[TAG_TAINTED], taintValue(session))
      : false;
  const isTainted = tainted || facts.instance?.tags[TAG_TAINTED] !== undefined;
  const record = (outcome: "ok" | "refused" | "skipped" | "notified" | "held" | "failed", extra = {}) =>
    deps.audit.write(
      {
        subject: decision.action === "refuse" && !facts.instance ? `session/${session.eventId}` : subject,
        action: SESSION_ACTION,
        outcome,
        actor,
        reason: decision.reason,
        details: {
          decision: decision.action,
          session: { ...session },
          group: decision.group ?? null,
          tainted: isTainted,
          ...(decision.exemptUntil ? { exemptUntil: decision.exemptUntil } : {}),
          ...extra,
        },
      },
      `${SESSION_ACTION}#${session.eventId}#${decision.action}${decision.action === "defer" ? `#${delivery.attempt}` : ""}`,
    );
  const tell = async (severity: "info" | "warning", title: string, extra = "") => {
    if (options.quiet) return;
    await once(deps, `session-notified#${session.eventId}`, () =>
      deps.notifier.notify({
        kind: "session",
        severity,
        subject: title.slice(0, 100),
        message: `${session.who} opened a session on ${session.instanceId} (${session.how}) at ${session.when}.\n\n${decision.reason}.${extra}`,
        data: {
          instanceId: session.instanceId,
          eventId: session.eventId,
          decision: decision.action,
          group: decision.group ?? null,
        },
      }),
    );
  };

  switch (decision.action) {
    case "refuse":
      await record("refused");
      return { kind: "refused", reason: decision.reason, tainted: false };
    case "ignore":
      await record("skipped");
      return { kind: "ignored", reason: decision.reason, tainted: isTainted };
    case "notify":
      await record("notified");
      await tell("warning", `Session on ${session.instanceId}: not replaced`);
      return { kind: "notified", reason: decision.reason, tainted: isTainted };
    case "exempt":
      await record("held");
      await tell("warning", `Break-glass session on ${session.instanceId}`);
      return { kind: "exempt", reason: decision.reason, tainted: isTainted };
    case "defer":
      if (!delivery.last) {
        await record("held", { attempt: delivery.attempt });
        throw new DeferSession(decision.reason);
      }
      await record("failed", { attempt: delivery.attempt, last: true });
      await tell(
        "warning",
        `Session on ${session.instanceId}: replacement not started`,
        " Phoenix gave up waiting for its group; the drift sweep reports it until it is replaced.",
      );
      return { kind: "deferred", reason: decision.reason, tainted: isTainted };
    case "replace": {
      const group = decision.group ?? "";
      // The decision is in the trail before the instance goes: a terminate is never made without
      // its record (a crash in between leaves the intent, and the redelivery carries it out).
      await record("ok");
      const result = await replaceThroughGroup(deps, session.instanceId);
      await deps.audit.write(
        {
          subject,
          action: SESSION_REPLACED_ACTION,
          outcome: result === "terminating" ? "ok" : "skipped",
          actor,
          reason:
            result === "terminating"
              ? `terminated in ${group} without lowering its desired capacity: the group launches a clean instance`
              : `already leaving ${group} (terminating or no longer a member)`,
          details: { group, replacement: result, eventId: session.eventId },
        },
        `${SESSION_REPLACED_ACTION}#${session.eventId}`,
      );
      await tell("info", `Replacing ${session.instanceId}: someone logged in`);
      return { kind: "replaced", reason: decision.reason, tainted: isTainted, group };
    }
  }
}

/** The group cannot take a replacement now: SQS delivers the event again later. */
export class DeferSession extends Error {
  constructor(reason: string) {
    super(`session replacement deferred: ${reason}`);
    this.name = "DeferSession";
  }
}

/**
 * The drift sweep (enforce mode) found an instance still tainted: its session's replacement was
 * deferred until SQS gave up, exempted by a break-glass window since ended, or the session came
 * before Phoenix was deployed. It is decided again, by the session decision, as the session
 * its mark names: replaced through its group when that decision says so now, with the same
 * break-glass, protection, capacity and lock checks. The sweep's id makes it repeatable.
 */
export async function retakeTaintedInstance(
  deps: PhoenixDeps,
  request: { instanceId: string; taint: string; sweepId: string; actor: string },
): Promise<SessionOutcome> {
  const first = parseTaint(request.taint);
  const session: SessionEvent = {
    eventId: `${request.sweepId}#${request.instanceId}`,
    instanceId: request.instanceId,
    // A mark Phoenix did not write (set by hand) still counts as a session now, by nobody known.
    who: first?.who ?? `unknown (phoenix:tainted=${request.taint.slice(0, 64)})`,
    when: first?.when ?? deps.now().toISOString(),
    how: first?.how ?? "ssm:StartSession",
    accountId: deps.accountId,
    region: deps.region,
  };
  try {
    return await takeSession(
      deps,
      session,
      { attempt: 1, last: false },
      { actor: request.actor, quiet: true },
    );
  } catch (error) {
    if (error instanceof DeferSession)
      return {
        kind: "deferred",
        reason: error.message.replace(/^session replacement deferred: /, ""),
        tainted: true,
      };
    throw error;
  }
}
