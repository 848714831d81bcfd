import type { DriftPolicy } from "../../policy/schema.js";
import type { DriftFinding, DriftKind, Inventory } from "./drift.js";

/**
 * What an enforcing sweep does about the drift it found: pure. A managed group with drift is
 * replaced through the rollout workflow (the only way Phoenix replaces a group's instances):
 * onto its family's current image when the group is behind, else onto its own template's image,
 * replacing every instance when some are too old (SkipMatching would keep them). The first
 * `maxGroupsPerSweep` groups start; the rest are held for a person's approval. A tainted instance
 * is not its group's drift: it is the session decision's to replace, one instance through its
 * group (src/sessions), with its break-glass, protection and capacity checks. Standalone
 * instances, groups in report mode, groups whose family is rolling out or with a refresh under way,
 * and groups whose image cannot be read are only reported, each with why.
 */
export interface GroupEnforcement {
  group: string;
  family: string;
  imageId: string;
  replaceAll: boolean;
  kinds: DriftKind[];
  reasons: string[];
}

export interface EnforcementPlan {
  start: GroupEnforcement[];
  held: GroupEnforcement[];
  /** Tainted instances in groups: each goes to the session decision (replaced through its group, or not, and why). */
  tainted: { instanceId: string; group: string; family: string; taint: string }[];
  /** Findings the sweep only reports, with why (report mode is not listed: nothing to say). */
  notEnforced: { subject: string; reason: string }[];
}

export type DriftModePolicy = Pick<DriftPolicy, "mode" | "families" | "maxGroupsPerSweep">;

export const driftModeOf = (policy: Pick<DriftPolicy, "mode" | "families">, family: string) =>
  policy.families[family]?.mode ?? policy.mode;

const REPLACE_ALL: readonly DriftKind[] = ["instance-age"];

export function enforcementPlan(
  findings: readonly DriftFinding[],
  inventory: Pick<Inventory, "groups" | "currentImages" | "rollingOut">,
  policy: DriftModePolicy,
  refreshing: ReadonlySet<string> = new Set(),
): EnforcementPlan {
  const byGroup = new Map<string, DriftFinding[]>();
  const notEnforced: EnforcementPlan["notEnforced"] = [];
  const tainted: EnforcementPlan["tainted"] = [];
  for (const finding of findings) {
    if (driftModeOf(policy, finding.family) !== "enforce") continue;
    if (finding.group === undefined) {
      notEnforced.push({ subject: finding.subject, reason: "in no Auto Scaling group: replace it by hand" });
      continue;
    }
    if (finding.kind === "tainted" && finding.instanceId !== undefined) {
      tainted.push({
        instanceId: finding.instanceId,
        group: finding.group,
        family: finding.family,
        taint: finding.taint ?? "",
      });
      continue;
    }
    byGroup.set(finding.group, [...(byGroup.get(finding.group) ?? []), finding]);
  }
  const wanted: GroupEnforcement[] = [];
  for (const [name, found] of [...byGroup.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const group = inventory.groups.find((g) => g.name === name);
    const family = found[0]!.family;
    const behind = found.find((f) => f.kind === "group-behind");
    const imageId = behind?.expectedImageId ?? group?.templateImageId;
    // A rollout of the family moves its groups itself; one started here onto the image the sweep
    // read could undo it (or race it for the group's lock).
    if (inventory.rollingOut.includes(family)) {
      notEnforced.push({
        subject: `group/${name}`,
        reason: `a rollout of family ${family} is under way: the next sweep looks again`,
      });
      continue;
    }
    if (refreshing.has(name)) {
      notEnforced.push({
        subject: `group/${name}`,
        reason: "an instance refresh is under way on it: the next sweep looks again",
      });
      continue;
    }
    if (imageId === undefined) {
      notEnforced.push({
        subject: `group/${name}`,
        reason: "the image its launch template names cannot be read",
      });
      continue;
    }
    const kinds = [...new Set(found.map((f) => f.kind))].sort();
    wanted.push({
      group: name,
      family,
      imageId,
      replaceAll: kinds.some((kind) => REPLACE_ALL.includes(kind)),
      kinds,
      reasons: found.map((f) => `${f.subject}: ${f.reason}`),
    });
  }
  const room = Math.max(0, policy.maxGroupsPerSweep);
  return { start: wanted.slice(0, room), held: wanted.slice(room), tainted, notEnforced };
}
