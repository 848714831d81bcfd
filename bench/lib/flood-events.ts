import { seededRandom } from "../../local/gateway/faults.js";
import { findingEnvelope } from "../../test/support/lambda-events.js";

/** Severities GuardDuty uses: low, medium, high, critical. Only ≥ 7 is contained by default. */
const SEVERITIES = [2, 5, 8, 9.5];

export interface Flood {
  events: Record<string, unknown>[];
  /** Instances with at least one finding Phoenix's default policy contains. */
  qualifying: Set<string>;
  distinctFindings: number;
}

/**
 * `total` GuardDuty events over the given instances: one in ten is a new finding (a random
 * instance, a random severity), the rest repeats of earlier findings with a higher count and a
 * newer updatedAt, as GuardDuty re-publishes them. Shuffled, as a backlog arrives.
 */
export function generateFlood(instanceIds: readonly string[], total: number, seed = 7): Flood {
  // Deterministic: the same flood on every run.
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const distinct = Math.max(1, Math.round(total / 10));
  const findings = Array.from({ length: distinct }, (_, i) => ({
    // Every instance gets at least one finding, so all of them are in the flood.
    instanceId: i < instanceIds.length ? instanceIds[i]! : pick(instanceIds),
    findingId: `flood${i.toString(16).padStart(27, "0")}`,
    severity: pick(SEVERITIES),
    count: 1,
  }));
  const events: Record<string, unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const finding = i < distinct ? findings[i]! : pick(findings);
    if (i >= distinct) finding.count++;
    events.push(
      findingEnvelope({
        instanceId: finding.instanceId,
        findingId: finding.findingId,
        severity: finding.severity,
        type: "UnauthorizedAccess:EC2/TorClient",
        count: finding.count,
        updatedAt: new Date(Date.UTC(2026, 10, 1, 0, 0, 0, finding.count)).toISOString(),
      }),
    );
  }
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  const qualifying = new Set(findings.filter((f) => f.severity >= 7).map((f) => f.instanceId));
  return { events, qualifying, distinctFindings: distinct };
}
