import {
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  type Filter,
  type MixedInstancesPolicy,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import type { PhoenixDeps } from "../../deps.js";
import { GRANTING_TAG_VALUE, TAG_IMAGE_FAMILY, TAG_MANAGED } from "../../tags.js";
import type {
  GroupDescription,
  GroupInstance,
  LaunchTemplateInUse,
  MixedInstancesInUse,
} from "../core/group.js";
import { groupKey, type Place } from "../core/place.js";
import { describeVersion } from "./launch-template.js";
import { activeRefresh, findPhoenixRefresh } from "./refresh.js";

export type GroupSelector = { family: string } | { names: readonly string[] } | { managed: true };

type GroupDeps = Pick<PhoenixDeps, "clients" | "resources" | "now">;

/**
 * The groups a rollout considers, as the pure planner wants them: tags, the launch template in
 * use and its image, the instances and their images and tags, and any refresh still running
 * (with whether Phoenix started it). By family: every group tagged with the family, managed or
 * not (the planner decides, and says why it leaves one out). By names: those groups. With a
 * `place` (a member's, whose account the deps' fleet clients act in: member-access.ts fleetDeps),
 * the descriptions say so, and Phoenix's records of the groups are found under their keys.
 */
export async function describeGroups(
  deps: GroupDeps,
  selector: GroupSelector,
  place?: Place,
): Promise<GroupDescription[]> {
  const groups = await listGroups(deps, selector);
  const versions = new Map<string, Promise<ResolvedVersion>>();
  return Promise.all(groups.map((group) => describeOne(deps, group, versions, place)));
}

/** One group by name, or undefined when it no longer exists. */
export async function describeGroup(
  deps: GroupDeps,
  name: string,
  place?: Place,
): Promise<GroupDescription | undefined> {
  return (await describeGroups(deps, { names: [name] }, place))[0];
}

async function listGroups(deps: GroupDeps, selector: GroupSelector): Promise<AutoScalingGroup[]> {
  const groups: AutoScalingGroup[] = [];
  if ("names" in selector) {
    // DescribeAutoScalingGroups takes at most 100 names per call.
    for (let i = 0; i < selector.names.length; i += 100) {
      groups.push(...(await pages(deps, { AutoScalingGroupNames: selector.names.slice(i, i + 100) })));
    }
    return groups;
  }
  const filters: Filter[] =
    "family" in selector
      ? [{ Name: `tag:${TAG_IMAGE_FAMILY}`, Values: [selector.family] }]
      : [{ Name: `tag:${TAG_MANAGED}`, Values: [GRANTING_TAG_VALUE] }];
  return pages(deps, { Filters: filters });
}

async function pages(
  deps: GroupDeps,
  request: { AutoScalingGroupNames?: string[]; Filters?: Filter[] },
): Promise<AutoScalingGroup[]> {
  const groups: AutoScalingGroup[] = [];
  let NextToken: string | undefined;
  do {
    const page = await deps.clients.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ ...request, MaxRecords: 100, NextToken }),
    );
    groups.push(...(page.AutoScalingGroups ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return groups;
}

async function describeOne(
  deps: GroupDeps,
  group: AutoScalingGroup,
  versions: Map<string, Promise<ResolvedVersion>>,
  place: Place | undefined,
): Promise<GroupDescription> {
  const name = group.AutoScalingGroupName ?? "";
  const key = groupKey({ name, ...place });
  const [launchTemplate, instances, refresh] = await Promise.all([
    templateInUse(deps.clients.ec2, group, versions),
    describeInstances(deps.clients.ec2, group),
    activeRefresh(deps.clients.autoScaling, name),
  ]);
  const description: GroupDescription = {
    name,
    ...(place !== undefined ? { accountId: place.accountId, region: place.region } : {}),
    tags: Object.fromEntries(
      (group.Tags ?? []).flatMap((tag) => (tag.Key !== undefined ? [[tag.Key, tag.Value ?? ""]] : [])),
    ),
    desiredCapacity: group.DesiredCapacity ?? 0,
    instances,
  };
  if (launchTemplate !== undefined) description.launchTemplate = launchTemplate;
  if (group.MixedInstancesPolicy !== undefined)
    description.mixedInstances = mixedInUse(group.MixedInstancesPolicy);
  if (group.HealthCheckGracePeriod !== undefined)
    description.healthCheckGracePeriod = group.HealthCheckGracePeriod;
  if (group.DefaultInstanceWarmup !== undefined)
    description.defaultInstanceWarmup = group.DefaultInstanceWarmup;
  if (refresh !== undefined) {
    const ours = refresh.InstanceRefreshId
      ? await findPhoenixRefresh(deps, key, refresh.InstanceRefreshId)
      : undefined;
    description.activeRefresh = {
      ...(refresh.InstanceRefreshId !== undefined ? { refreshId: refresh.InstanceRefreshId } : {}),
      ...(refresh.Status !== undefined ? { status: refresh.Status } : {}),
      startedByPhoenix: ours !== undefined,
    };
  }
  return description;
}

function mixedInUse(policy: MixedInstancesPolicy): MixedInstancesInUse {
  const overrides = policy.LaunchTemplate?.Overrides ?? [];
  const own = overrides.flatMap((override) => {
    const spec = override.LaunchTemplateSpecification;
    return spec ? [spec.LaunchTemplateId ?? spec.LaunchTemplateName ?? "?"] : [];
  });
  return {
    policy: JSON.parse(JSON.stringify(policy)) as Record<string, unknown>,
    overrides: overrides.length,
    overrideTemplates: [...new Set(own)],
  };
}

/**
 * The group's launch template (for a mixed instances policy, the one inside it) and the image
 * of the version it names.
 */
async function templateInUse(
  ec2: EC2Client,
  group: AutoScalingGroup,
  versions: Map<string, Promise<ResolvedVersion>>,
): Promise<LaunchTemplateInUse | undefined> {
  const spec =
    group.LaunchTemplate ?? group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  if (spec === undefined) return undefined;
  const template: LaunchTemplateInUse = {
    ...(spec.LaunchTemplateId !== undefined ? { id: spec.LaunchTemplateId } : {}),
    ...(spec.LaunchTemplateName !== undefined ? { name: spec.LaunchTemplateName } : {}),
    version: spec.Version ?? "$Default",
  };
  const cacheKey = `${template.id ?? template.name}@${template.version}`;
  let resolved = versions.get(cacheKey);
  if (resolved === undefined) {
    resolved = describeVersion(ec2, template, template.version).then((version) => {
      const imageId = version.LaunchTemplateData?.ImageId;
      return {
        // `resolve:ssm:` names a parameter, not an image: the planner treats it as unknown.
        ...(imageId?.startsWith("ami-") ? { imageId } : {}),
        ...(version.VersionNumber !== undefined ? { number: String(version.VersionNumber) } : {}),
      };
    });
    versions.set(cacheKey, resolved);
  }
  const { imageId, number } = await resolved;
  if (imageId !== undefined) template.imageId = imageId;
  if (number !== undefined && number !== template.version) template.resolvedVersion = number;
  return template;
}

interface ResolvedVersion {
  imageId?: string;
  number?: string;
}

async function describeInstances(ec2: EC2Client, group: AutoScalingGroup): Promise<GroupInstance[]> {
  const members = new Map(
    (group.Instances ?? []).flatMap((instance) =>
      instance.InstanceId ? [[instance.InstanceId, instance]] : [],
    ),
  );
  const ids = [...members.keys()];
  if (ids.length === 0) return [];
  const membership = (instanceId: string) => {
    const member = members.get(instanceId);
    return {
      ...(member?.LifecycleState !== undefined ? { lifecycleState: member.LifecycleState } : {}),
      ...(member?.ProtectedFromScaleIn !== undefined
        ? { protectedFromScaleIn: member.ProtectedFromScaleIn }
        : {}),
    };
  };
  const described = new Map<string, GroupInstance>();
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids, NextToken }));
    for (const instance of (page.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? [])) {
      if (instance.InstanceId === undefined) continue;
      described.set(instance.InstanceId, {
        instanceId: instance.InstanceId,
        ...(instance.ImageId !== undefined ? { imageId: instance.ImageId } : {}),
        tags: Object.fromEntries(
          (instance.Tags ?? []).flatMap((tag) => (tag.Key !== undefined ? [[tag.Key, tag.Value ?? ""]] : [])),
        ),
        ...membership(instance.InstanceId),
      });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  // An instance the group lists but EC2 no longer shows (terminating) is kept, image unknown.
  return ids.map((instanceId) => described.get(instanceId) ?? { instanceId, ...membership(instanceId) });
}
