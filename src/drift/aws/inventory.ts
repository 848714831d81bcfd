import { DescribeInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import { tagsOf } from "../../containment/aws/instance.js";
import { protectionHold } from "../../containment/core/protection.js";
import type { PhoenixDeps } from "../../deps.js";
import { describeGroups } from "../../rollout/aws/groups.js";
import { familyCompleted, familyRollouts, inFlightRollouts } from "../../rollout/aws/rollout-records.js";
import { groupFamily, isManaged } from "../../rollout/core/group.js";
import { ASG_NAME_TAG, TAG_IMAGE_FAMILY, TAG_QUARANTINE, TAG_TAINTED } from "../../tags.js";
import type { Inventory, InventoryInstance } from "../core/drift.js";

export interface LiveInstance extends InventoryInstance {
  vpcIds: string[];
  tags: Record<string, string>;
}

/**
 * What the sweep looks at, read and never changed: every live instance (one paged
 * DescribeInstances), the managed groups with their launch templates' images (as the planner
 * reads them), and each family's last completed rollout from Phoenix's state table.
 */
export async function readInventory(
  deps: PhoenixDeps,
): Promise<{ inventory: Inventory; live: LiveInstance[] }> {
  const [live, groups] = await Promise.all([liveInstances(deps), describeGroups(deps, { managed: true })]);
  const byId = new Map(live.map((instance) => [instance.instanceId, instance]));
  const managed = groups.flatMap((group) => {
    const family = groupFamily(group);
    return family !== undefined && isManaged(group) ? [{ group, family }] : [];
  });
  const families = [
    ...new Set([
      ...managed.map((m) => m.family),
      ...live.flatMap((i) => (i.tags[TAG_IMAGE_FAMILY] ? [i.tags[TAG_IMAGE_FAMILY]] : [])),
    ]),
  ].sort();
  const [completed, inFlight, records] = await Promise.all([
    Promise.all(families.map((family) => familyCompleted(deps, family))),
    Promise.all(families.map((family) => inFlightRollouts(deps, family))),
    Promise.all(families.map((family) => familyRollouts(deps, family))),
  ]);
  const inventory: Inventory = {
    currentImages: Object.fromEntries(families.map((family, i) => [family, completed[i]?.imageId])),
    // Rolled where it could be, newer than the last completed image, and not blocked since.
    aheadImages: Object.fromEntries(
      families.map((family, i) => [
        family,
        (records[i] ?? [])
          .filter(
            (record) =>
              record.status === "incomplete" &&
              !record.blocked &&
              (completed[i] === undefined || record.creationDate > completed[i]!.creationDate),
          )
          .map((record) => record.imageId),
      ]),
    ),
    rollingOut: families.filter((_, i) => (inFlight[i]?.length ?? 0) > 0),
    refreshing: managed
      .filter(({ group }) => group.activeRefresh !== undefined)
      .map(({ group }) => group.name),
    groups: managed.map(({ group, family }) => ({
      name: group.name,
      family,
      ...(group.launchTemplate?.imageId ? { templateImageId: group.launchTemplate.imageId } : {}),
      instances: group.instances
        .filter((instance) => byId.has(instance.instanceId))
        .map((instance) => ({ instanceId: instance.instanceId, ...pick(byId.get(instance.instanceId)!) })),
    })),
    standalone: live.flatMap((instance) => {
      const family = instance.tags[TAG_IMAGE_FAMILY]?.trim();
      // A contained instance left its group on purpose (DetachInstances drops the group tag) and
      // is kept, isolated, for the evidence or a person: it is not drift.
      if (!family || instance.tags[ASG_NAME_TAG] !== undefined || instance.tags[TAG_QUARANTINE] !== undefined)
        return [];
      return [{ instanceId: instance.instanceId, family, ...pick(instance) }];
    }),
  };
  return { inventory, live };
}

/**
 * The VPCs of the live instances Phoenix may contain: a protected instance is never isolated
 * (the containment's own decision, read as leniently as it reads it).
 */
export function containableVpcs(live: readonly LiveInstance[]): string[] {
  return [
    ...new Set(
      live.filter((i) => protectionHold(i.tags) === undefined).flatMap((instance) => instance.vpcIds),
    ),
  ].sort();
}

function pick(instance: InventoryInstance): Omit<InventoryInstance, "instanceId"> {
  return {
    ...(instance.imageId ? { imageId: instance.imageId } : {}),
    ...(instance.launchTime ? { launchTime: instance.launchTime } : {}),
    ...(instance.tainted ? { tainted: instance.tainted } : {}),
  };
}

async function liveInstances(deps: PhoenixDeps): Promise<LiveInstance[]> {
  const found: LiveInstance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await deps.clients.ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] }],
        MaxResults: 1000,
        NextToken,
      }),
    );
    for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      if (instance.InstanceId) found.push(live(instance));
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return found;
}

function live(instance: Instance): LiveInstance {
  const vpcIds = [
    ...new Set(
      [instance.VpcId, ...(instance.NetworkInterfaces ?? []).map((eni) => eni.VpcId)].filter(
        (id): id is string => id !== undefined,
      ),
    ),
  ];
  return {
    instanceId: instance.InstanceId!,
    ...(instance.ImageId ? { imageId: instance.ImageId } : {}),
    ...(instance.LaunchTime ? { launchTime: instance.LaunchTime.toISOString() } : {}),
    ...(tagsOf(instance.Tags)[TAG_TAINTED] ? { tainted: tagsOf(instance.Tags)[TAG_TAINTED] } : {}),
    vpcIds,
    tags: { ...tagsOf(instance.Tags) },
  };
}
