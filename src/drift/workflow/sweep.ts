import { createHash, randomUUID } from "node:crypto";
import { isolationGroupsFor } from "../../containment/aws/isolation-groups.js";
import type { PhoenixDeps } from "../../deps.js";
import type { DriftPolicy } from "../../policy/schema.js";
import { containableVpcs, readInventory } from "../aws/inventory.js";
import { type DriftFinding, detectDrift } from "../core/drift.js";
import { driftModeOf, type EnforcementPlan, enforcementPlan } from "../core/enforce.js";
import { type EnforcedGroup, enforceDrift, type HeldGroup, type TaintedOutcome } from "./enforce.js";

export const SWEEPS_SUBJECT = "drift/sweeps";
/** The findings a sweep's summary record carries (each is also a record of its own). */
const SHOWN_FINDINGS = 100;

export interface SweepReport {
  sweepId: string;
  at: string;
  /** drift.mode; a family may differ (drift.families.<f>.mode, in `modes`). */
  mode: DriftPolicy["mode"];
  /** The families whose mode differs from `mode`. */
  modes: Record<string, DriftPolicy["mode"]>;
  family: string | null;
  maxInstanceAgeDays: number;
  /** Families being rolled out now: not reported as behind (their groups are between images). */
  rollingOut: string[];
  /** Per family, the image of its last completed rollout (null: none completed yet). */
  currentImages: Record<string, string | null>;
  findings: DriftFinding[];
  /** The VPCs whose isolation groups the sweep made sure of (created when missing). */
  isolationGroups: { vpcs: string[]; ensured: boolean; error?: string };
  /** What an enforcing sweep did: groups whose replacement it started, held for approval, or left. */
  enforcement: {
    enforced: EnforcedGroup[];
    held: HeldGroup[];
    /** Tainted instances of enforce-mode families, each decided again as its session. */
    tainted: TaintedOutcome[];
    notEnforced: EnforcementPlan["notEnforced"];
  };
}

/**
 * One drift sweep: what drifted, per family (src/drift/core/drift.ts), each finding in the audit
 * trail and people told once. In report mode nothing is replaced; for families in enforce mode
 * the drifted groups are replaced through the rollout workflow within the sweep's budget, and
 * the rest held for approval (src/drift/core/enforce.ts, src/drift/workflow/enforce.ts). It also makes sure every VPC
 * with instances Phoenix may contain has its isolation groups, so that the first containment in
 * a VPC cuts the network as fast as any other (four sequential calls at intake, not ten).
 */
/**
 * The sweep id of a scheduled event: the same for every delivery of one event (EventBridge
 * retries a failed invocation with the same id), so a retried sweep names the same replacements,
 * holds and audit records as the first try and starts nothing twice. Undefined when the event has
 * no id and time (an invocation by hand): that sweep gets a fresh id.
 */
export function sweepIdOfEvent(event: unknown): string | undefined {
  if (typeof event !== "object" || event === null) return undefined;
  const { id, time } = event as { id?: unknown; time?: unknown };
  if (typeof id !== "string" || id === "" || typeof time !== "string" || Number.isNaN(Date.parse(time)))
    return undefined;
  const at = new Date(Date.parse(time)).toISOString().replace(/[:.]/g, "-");
  return `sweep-${at}-${createHash("sha256").update(id).digest("hex").slice(0, 8)}`;
}

export async function runSweep(
  deps: PhoenixDeps,
  request: { family?: string; by: string; sweepId?: string },
): Promise<SweepReport> {
  const sweepId =
    request.sweepId ?? `sweep-${deps.now().toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 8)}`;
  const at = deps.now().toISOString();
  const policy = deps.policy.drift;
  const { inventory, live } = await readInventory(deps);
  const findings = detectDrift(inventory, {
    maxInstanceAgeDays: policy.maxInstanceAgeDays,
    now: deps.now(),
    ...(request.family !== undefined ? { family: request.family } : {}),
  });

  const vpcs = containableVpcs(live);
  let isolationGroups: SweepReport["isolationGroups"] = { vpcs, ensured: true };
  try {
    if (vpcs.length > 0) await isolationGroupsFor(deps, vpcs, { execution: sweepId });
  } catch (error) {
    // A sweep that cannot make the groups still reports; the first containment makes them.
    isolationGroups = { vpcs, ensured: false, error: (error as Error).message };
  }

  const actor = request.by;
  const byKind = countBy(findings);
  const plan = enforcementPlan(findings, inventory, policy, new Set(inventory.refreshing ?? []));
  // Each under its own subject: independent writes.
  await Promise.all(
    findings.map((finding) =>
      deps.audit.write(
        {
          subject: finding.subject,
          action: "drift",
          outcome: "notified",
          actor,
          execution: sweepId,
          reason: finding.reason,
          details: { ...finding },
        },
        `${sweepId}#${finding.kind}`,
      ),
    ),
  );
  const currentImages = Object.fromEntries(
    Object.entries(inventory.currentImages)
      .filter(([family]) => request.family === undefined || family === request.family)
      .map(([family, image]) => [family, image ?? null]),
  );
  const { enforced, held, tainted } = await enforceDrift(deps, sweepId, plan, actor);
  const replacedTainted = tainted.filter((t) => t.outcome === "replaced");
  const families = [...new Set([...Object.keys(inventory.currentImages), ...Object.keys(policy.families)])];
  const report: SweepReport = {
    sweepId,
    at,
    mode: policy.mode,
    modes: Object.fromEntries(
      families.filter((f) => driftModeOf(policy, f) !== policy.mode).map((f) => [f, driftModeOf(policy, f)]),
    ),
    family: request.family ?? null,
    maxInstanceAgeDays: policy.maxInstanceAgeDays,
    rollingOut: inventory.rollingOut.filter((f) => request.family === undefined || f === request.family),
    currentImages,
    findings,
    isolationGroups,
    enforcement: { enforced, held, tainted, notEnforced: plan.notEnforced },
  };
  await deps.audit.write(
    {
      // One subject for every sweep, so their history is one query (phoenix audit drift/sweeps).
      subject: SWEEPS_SUBJECT,
      action: "sweep",
      outcome: "ok",
      actor,
      execution: sweepId,
      details: {
        mode: report.mode,
        modes: report.modes,
        family: report.family,
        enforced: enforced.map(({ group, imageId, execution, replaceAll }) => ({
          group,
          imageId,
          execution,
          replaceAll,
        })),
        held: held.map(({ group, imageId, holdId }) => ({ group, imageId, holdId })),
        tainted: tainted.map(({ instanceId, group, outcome }) => ({ instanceId, group, outcome })),
        findings: findings.length,
        byKind,
        isolationGroups,
        // What the dashboard and `phoenix audit drift/sweeps` show of the last sweep.
        shown: findings.slice(0, SHOWN_FINDINGS).map(({ kind, subject, family, reason }) => ({
          kind,
          subject,
          family,
          reason,
        })),
      },
    },
    sweepId,
  );
  if (findings.length > 0) {
    await deps.notifier.notify({
      kind: "drift",
      severity: "warning",
      subject: `Drift: ${findings.length} finding${findings.length === 1 ? "" : "s"}${request.family ? ` in family ${request.family}` : ""}`,
      message: [
        `The drift sweep ${sweepId} found${enforced.length + held.length + replacedTainted.length === 0 ? " (nothing was changed)" : ""}:`,
        ...findings.slice(0, 50).map((f) => `- ${f.subject} (${f.family}, ${f.kind}): ${f.reason}`),
        ...(findings.length > 50 ? [`… and ${findings.length - 50} more (phoenix sweep --json)`] : []),
        ...(enforced.length > 0
          ? [
              "",
              "Replacing (enforce mode):",
              ...enforced.map((e) => `- group ${e.group} onto ${e.imageId}: rollout ${e.execution}`),
            ]
          : []),
        ...(tainted.length > 0
          ? [
              "",
              "Tainted instances (enforce mode, decided as their sessions):",
              ...tainted.map((t) => `- ${t.instanceId} in ${t.group}: ${t.outcome}, ${t.reason}`),
            ]
          : []),
        ...(held.length > 0
          ? [
              "",
              `Held for approval (over drift.maxGroupsPerSweep, ${policy.maxGroupsPerSweep}):`,
              ...held.map((h) => `- group ${h.group} onto ${h.imageId}: phoenix approve ${h.holdId}`),
            ]
          : []),
      ].join("\n"),
      data: {
        sweepId,
        byKind,
        enforced: enforced.length,
        held: held.map((h) => h.holdId),
        taintedReplaced: replacedTainted.map((t) => t.instanceId),
      },
    });
  }
  return report;
}

function countBy(findings: readonly DriftFinding[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  return counts;
}
