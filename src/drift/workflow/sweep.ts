import { randomUUID } from "node:crypto";
import { isolationGroupsFor } from "../../containment/aws/isolation-groups.js";
import type { PhoenixDeps } from "../../deps.js";
import { containableVpcs, readInventory } from "../aws/inventory.js";
import { type DriftFinding, detectDrift } from "../core/drift.js";

export const SWEEPS_SUBJECT = "drift/sweeps";
/** The findings a sweep's summary record carries (each is also a record of its own). */
const SHOWN_FINDINGS = 100;

export interface SweepReport {
  sweepId: string;
  at: string;
  mode: "report";
  family: string | null;
  maxInstanceAgeDays: number;
  /** Families being rolled out now: not reported as behind (their groups are between images). */
  rollingOut: string[];
  /** Per family, the image of its last completed rollout (null: none completed yet). */
  currentImages: Record<string, string | null>;
  findings: DriftFinding[];
  /** The VPCs whose isolation groups the sweep made sure of (created when missing). */
  isolationGroups: { vpcs: string[]; ensured: boolean; error?: string };
}

/**
 * One drift sweep: what drifted, per family (src/drift/core/drift.ts), each finding in the audit
 * trail and people told once; nothing is replaced (report mode). It also makes sure every VPC
 * with instances Phoenix may contain has its isolation groups, so that the first containment in
 * a VPC cuts the network as fast as any other (four sequential calls at intake, not ten).
 */
export async function runSweep(
  deps: PhoenixDeps,
  request: { family?: string; by: string },
): Promise<SweepReport> {
  const sweepId = `sweep-${deps.now().toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 8)}`;
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
  const report: SweepReport = {
    sweepId,
    at,
    mode: "report",
    family: request.family ?? null,
    maxInstanceAgeDays: policy.maxInstanceAgeDays,
    rollingOut: inventory.rollingOut.filter((f) => request.family === undefined || f === request.family),
    currentImages,
    findings,
    isolationGroups,
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
        family: report.family,
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
        `The drift sweep ${sweepId} found (report mode: nothing was changed):`,
        ...findings.slice(0, 50).map((f) => `- ${f.subject} (${f.family}, ${f.kind}): ${f.reason}`),
        ...(findings.length > 50 ? [`… and ${findings.length - 50} more (phoenix sweep --json)`] : []),
      ].join("\n"),
      data: { sweepId, byKind },
    });
  }
  return report;
}

function countBy(findings: readonly DriftFinding[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  return counts;
}
