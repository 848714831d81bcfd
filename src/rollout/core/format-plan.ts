import { groupKey } from "./place.js";
import type { GroupReason, PlannedGroup, RolloutPlan } from "./plan.js";
import type { RefreshPreferences } from "./preferences.js";

/** The plan as text for the CLI's dry-run: one line per group, sections only when not empty. */
export function formatPlan(plan: RolloutPlan): string {
  const count = plan.waves.reduce((sum, wave) => sum + wave.groups.length, 0);
  const lines = [
    `Rollout of ${plan.imageId} to family ${plan.family}: ` +
      `${count} group${count === 1 ? "" : "s"} in ${plan.waves.length} wave${plan.waves.length === 1 ? "" : "s"}`,
  ];
  for (const wave of plan.waves) {
    lines.push(`Wave ${wave.wave}`);
    for (const group of wave.groups) lines.push(...formatGroup(group));
  }
  if (count === 0) lines.push("Nothing to refresh.");
  section(lines, "Skipped", plan.skipped);
  section(lines, "Protected (not touched)", plan.protected);
  section(lines, "Excluded", plan.excluded);
  section(lines, "Problems (not rolled until fixed)", plan.problems);
  return lines.join("\n");
}

function formatGroup(group: PlannedGroup): string[] {
  const template = group.launchTemplate;
  const templateName = template.name ?? template.id ?? "launch template";
  const lines = [
    `  - ${groupKey(group)}: ${group.currentImageId ?? "unknown image"} (${templateName} version ${template.version}), ` +
      `${group.desiredCapacity} desired, instances on ${group.instanceImageIds.join(", ") || "none"}`,
    `      ${formatPreferences(group.preferences)}`,
  ];
  for (const note of group.notes) lines.push(`      note: ${note}`);
  return lines;
}

export function formatPreferences(p: RefreshPreferences): string {
  const parts = [
    `healthy ${p.MinHealthyPercentage}-${p.MaxHealthyPercentage}%`,
    `warmup ${p.InstanceWarmup === undefined ? "group default" : `${p.InstanceWarmup}s`}`,
    `skip matching ${p.SkipMatching ? "on" : "off"}`,
    `auto rollback ${p.AutoRollback ? "on" : "off"}`,
  ];
  if (p.CheckpointPercentages !== undefined) {
    parts.push(`checkpoints ${p.CheckpointPercentages.join("/")}% every ${p.CheckpointDelay ?? 3600}s`);
  }
  if (p.BakeTime !== undefined) parts.push(`bake ${p.BakeTime}s`);
  if (p.AlarmSpecification !== undefined)
    parts.push(`rolls back on alarm ${p.AlarmSpecification.Alarms.join(", ")}`);
  return parts.join(", ");
}

function section(lines: string[], title: string, entries: GroupReason[]): void {
  if (entries.length === 0) return;
  lines.push(title);
  for (const entry of entries) lines.push(`  - ${entry.name}: ${entry.reason}`);
}
