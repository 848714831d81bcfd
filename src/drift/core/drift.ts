/**
 * Drift: what does not match immutable infrastructure's promise that every server runs its
 * family's current image, was launched from its group's template, and is young. Pure: the
 * inventory (src/drift/aws/inventory.ts) gathers the facts, this decides what drifted and why.
 */

export type DriftKind = "group-behind" | "instance-image" | "instance-age" | "standalone" | "tainted";

export interface DriftFinding {
  kind: DriftKind;
  family: string;
  /** The audit subject: group/<name> or instance/<id>. */
  subject: string;
  group?: string;
  instanceId?: string;
  /** What it runs, and what it should run (when known). */
  imageId?: string;
  expectedImageId?: string;
  ageDays?: number;
  /** For "tainted": the phoenix:tainted mark (`<who>, <when>, <how>`). */
  taint?: string;
  reason: string;
}

export interface InventoryInstance {
  instanceId: string;
  imageId?: string;
  /** ISO time EC2 reports as LaunchTime. */
  launchTime?: string;
  /** Its phoenix:tainted mark: someone logged in to it (`<who>, <when>, <how>`). */
  tainted?: string;
}

export interface InventoryGroup {
  name: string;
  family: string;
  /** The image of the launch-template version the group launches from, when it names one. */
  templateImageId?: string;
  instances: readonly InventoryInstance[];
}

export interface Inventory {
  /** Per family, the image its last completed rollout put on every group (none yet: undefined). */
  currentImages: Readonly<Record<string, string | undefined>>;
  /**
   * Families a rollout is rolling now: their groups and instances are between images on purpose,
   * so they are not reported as behind or off their template (age and strays still are).
   */
  rollingOut: readonly string[];
  /**
   * Per family, newer images a rollout put on the groups it could roll though it ended incomplete
   * (some other group could not be rolled): a group launching one is ahead of the family's last
   * completed image, not behind it, and is never "caught up" back onto the older image.
   */
  aheadImages?: Readonly<Record<string, readonly string[]>>;
  /** Groups Phoenix manages (phoenix:managed=true) that belong to a family. */
  groups: readonly InventoryGroup[];
  /** Groups with an instance refresh under way (anyone's): an enforcing sweep leaves them be. */
  refreshing?: readonly string[];
  /** Running instances in no Auto Scaling group, tagged with a family of their own, not in containment. */
  standalone: readonly (InventoryInstance & { family: string })[];
}

const DAY_MS = 24 * 3600 * 1000;

export function detectDrift(
  inventory: Inventory,
  options: { maxInstanceAgeDays: number; now: Date; family?: string },
): DriftFinding[] {
  const wanted = (family: string) => options.family === undefined || options.family === family;
  const findings: DriftFinding[] = [];
  const age = (instance: InventoryInstance): number | undefined => {
    const launched = instance.launchTime ? Date.parse(instance.launchTime) : Number.NaN;
    return Number.isNaN(launched) ? undefined : (options.now.getTime() - launched) / DAY_MS;
  };
  const tooOld = (instance: InventoryInstance, family: string, group?: string) => {
    const days = age(instance);
    if (days === undefined || days <= options.maxInstanceAgeDays) return;
    findings.push({
      kind: "instance-age",
      family,
      subject: `instance/${instance.instanceId}`,
      ...(group ? { group } : {}),
      instanceId: instance.instanceId,
      ...(instance.imageId ? { imageId: instance.imageId } : {}),
      ageDays: Math.floor(days),
      reason: `launched ${Math.floor(days)} days ago, more than drift.maxInstanceAgeDays (${options.maxInstanceAgeDays})`,
    });
  };

  // A session's replacement was deferred, exempted by break-glass, or left to a person: it is
  // still running, changed by hand.
  const tainted = (instance: InventoryInstance, family: string, group?: string) => {
    if (instance.tainted === undefined) return;
    findings.push({
      kind: "tainted",
      family,
      subject: `instance/${instance.instanceId}`,
      ...(group ? { group } : {}),
      instanceId: instance.instanceId,
      ...(instance.imageId ? { imageId: instance.imageId } : {}),
      taint: instance.tainted,
      reason: `someone logged in to it (phoenix:tainted=${instance.tainted}) and it still runs`,
    });
  };

  for (const group of inventory.groups) {
    if (!wanted(group.family)) continue;
    if (inventory.rollingOut.includes(group.family)) {
      for (const instance of group.instances) {
        tooOld(instance, group.family, group.name);
        tainted(instance, group.family, group.name);
      }
      continue;
    }
    const current = inventory.currentImages[group.family];
    const ahead =
      group.templateImageId !== undefined &&
      (inventory.aheadImages?.[group.family] ?? []).includes(group.templateImageId);
    if (current !== undefined && group.templateImageId !== current && !ahead) {
      findings.push({
        kind: "group-behind",
        family: group.family,
        subject: `group/${group.name}`,
        group: group.name,
        ...(group.templateImageId ? { imageId: group.templateImageId } : {}),
        expectedImageId: current,
        reason: `launches ${group.templateImageId ?? "an image Phoenix cannot read"}, not ${current}, the image family ${group.family} last rolled out`,
      });
    }
    for (const instance of group.instances) {
      if (group.templateImageId !== undefined && instance.imageId !== group.templateImageId) {
        findings.push({
          kind: "instance-image",
          family: group.family,
          subject: `instance/${instance.instanceId}`,
          group: group.name,
          instanceId: instance.instanceId,
          ...(instance.imageId ? { imageId: instance.imageId } : {}),
          expectedImageId: group.templateImageId,
          reason: `runs ${instance.imageId ?? "an unknown image"}, not ${group.templateImageId} its group ${group.name} launches (launched before the last refresh, or by hand)`,
        });
      }
      tooOld(instance, group.family, group.name);
      tainted(instance, group.family, group.name);
    }
  }
  for (const instance of inventory.standalone) {
    if (!wanted(instance.family)) continue;
    findings.push({
      kind: "standalone",
      family: instance.family,
      subject: `instance/${instance.instanceId}`,
      instanceId: instance.instanceId,
      ...(instance.imageId ? { imageId: instance.imageId } : {}),
      reason: `tagged with family ${instance.family} but in no Auto Scaling group: no rollout replaces it`,
    });
    tooOld(instance, instance.family);
    tainted(instance, instance.family);
  }
  return findings;
}
