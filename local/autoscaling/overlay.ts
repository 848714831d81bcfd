import {
  applyEdits,
  child,
  children,
  type Edit,
  type ElementSpan,
  elementAt,
  replaceContent,
  replaceElement,
  textOf,
} from "../core/xml-patch.js";
import { forwardToMoto } from "../gateway/forward.js";
import { queryList } from "../gateway/request.js";
import { xmlEscape } from "../gateway/response.js";
import type { ServiceHandler } from "../gateway/server.js";
import type { LaunchedFrom, SimulatedHealth } from "./health.js";
import type { HeldInstance } from "./lifecycle.js";
import type { LaunchTemplateSpec, MixedInstancesPolicy } from "./refresh-model.js";
import type { InstanceTracker } from "./tracker.js";
import type { WarmPoolConfiguration } from "./warm-pool-model.js";
import { warmPoolConfigurationXml } from "./warm-pool-wire.js";
import { structureXml } from "./wire.js";

/**
 * DescribeAutoScalingGroups and DescribeAutoScalingInstances are answered by moto, then rewritten
 * so they show the simulated state: each instance's LifecycleState (Pending until booted) and
 * HealthStatus, the launch template version it was launched from, and, while a refresh runs,
 * the group as AWS shows it (its launch template unchanged until the refresh succeeds, desired
 * capacity without the instances a refresh launched above it).
 */

/** How a group must look while a refresh works on it. */
export interface GroupPresentation {
  launchTemplate?: LaunchTemplateSpec;
  /**
   * While a refresh launches replacements above desired capacity (moto needs a higher desired
   * capacity for that), the desired capacity AWS would still show.
   */
  desiredCapacity?: number;
  /** A mixed group's policy as AWS still shows it while the refresh runs. */
  mixedInstancesPolicy?: MixedInstancesPolicy;
}

export interface OverlaySources {
  health: SimulatedHealth;
  tracker: Pick<InstanceTracker, "sync">;
  presentGroup(groupName: string): GroupPresentation | undefined;
  /** Instances moto no longer has in the group that AWS would still show (Terminating:Wait). */
  held?(groupName?: string): HeldInstance[];
  /** The group's warm pool (moto keeps none): shown as WarmPoolConfiguration and WarmPoolSize. */
  warmPool?(groupName: string): { configuration: WarmPoolConfiguration; size: number } | undefined;
}

const OVERLAID = new Set(["DescribeAutoScalingGroups", "DescribeAutoScalingInstances"]);

export function healthOverlayHandler(motoUrl: string, sources: OverlaySources): ServiceHandler {
  return {
    name: "autoscaling-health",
    handles: (request) =>
      request.service === "autoscaling" && request.protocol === "query" && OVERLAID.has(request.action),
    handle: async (request) => {
      const response = await forwardToMoto(motoUrl, request);
      if (response.status !== 200) return response;
      const xml = response.body.toString();
      const body =
        request.action === "DescribeAutoScalingGroups"
          ? await overlayGroups(xml, sources)
          : await overlayInstances(xml, sources, queryList(request.params, "InstanceIds"));
      return { ...response, body };
    },
  };
}

export async function overlayGroups(xml: string, sources: OverlaySources): Promise<string> {
  const list = elementAt(xml, [
    "DescribeAutoScalingGroupsResponse",
    "DescribeAutoScalingGroupsResult",
    "AutoScalingGroups",
  ]);
  if (!list) return xml;
  const groups = children(xml, list, "member").map((member) => ({
    member,
    name: textOf(xml, child(xml, member, "AutoScalingGroupName")) ?? "",
    instances: instanceMembers(xml, child(xml, member, "Instances")),
  }));
  const unseen = groups.filter((g) => g.instances.some((i) => !sources.health.has(instanceIdOf(xml, i))));
  if (unseen.length) await sources.tracker.sync(unseen.map((g) => g.name));

  const edits: Edit[] = [];
  for (const group of groups) {
    const presentation = sources.presentGroup(group.name);
    const launchTemplate = child(xml, group.member, "LaunchTemplate");
    if (presentation?.launchTemplate && launchTemplate) {
      edits.push(replaceElement(launchTemplate, launchTemplateXml(presentation.launchTemplate)));
    }
    const mixed = child(xml, group.member, "MixedInstancesPolicy");
    if (presentation?.mixedInstancesPolicy && mixed) {
      edits.push(replaceContent(mixed, structureXml(presentation.mixedInstancesPolicy)));
    }
    const desired = child(xml, group.member, "DesiredCapacity");
    if (presentation?.desiredCapacity !== undefined && desired) {
      edits.push(replaceContent(desired, String(presentation.desiredCapacity)));
    }
    for (const instance of group.instances) edits.push(...instanceEdits(xml, instance, sources.health));
    const held = heldAsLaunched(sources, sources.held?.(group.name) ?? []);
    const instances = child(xml, group.member, "Instances");
    if (held.length && instances) edits.push(appendMembers(xml, instances, held, false));
    const warm = sources.warmPool?.(group.name);
    if (warm) {
      for (const name of ["WarmPoolConfiguration", "WarmPoolSize"]) {
        const shown = child(xml, group.member, name);
        if (shown) edits.push(replaceElement(shown, ""));
      }
      edits.push({
        start: group.member.contentEnd,
        end: group.member.contentEnd,
        text: `${warmPoolConfigurationXml(warm.configuration)}<WarmPoolSize>${warm.size}</WarmPoolSize>`,
      });
    }
  }
  return applyEdits(xml, edits);
}

export async function overlayInstances(
  xml: string,
  sources: OverlaySources,
  instanceIds: string[] = [],
): Promise<string> {
  const list = elementAt(xml, [
    "DescribeAutoScalingInstancesResponse",
    "DescribeAutoScalingInstancesResult",
    "AutoScalingInstances",
  ]);
  if (!list) return xml;
  const members = children(xml, list, "member");
  const unseenGroups = new Set(
    members
      .filter((m) => !sources.health.has(instanceIdOf(xml, m)))
      .map((m) => textOf(xml, child(xml, m, "AutoScalingGroupName")) ?? ""),
  );
  if (unseenGroups.size) await sources.tracker.sync([...unseenGroups]);
  const edits = members.flatMap((member) => instanceEdits(xml, member, sources.health));
  const held = heldAsLaunched(
    sources,
    (sources.held?.() ?? []).filter((h) => instanceIds.length === 0 || instanceIds.includes(h.instanceId)),
  );
  if (held.length) edits.push(appendMembers(xml, list, held, true));
  return applyEdits(xml, edits);
}

/** Held instances with the launch template version they were launched from, as for any member. */
function heldAsLaunched(sources: OverlaySources, held: HeldInstance[]): HeldInstance[] {
  return held.map((h) => {
    const launchedFrom = sources.health.get(h.instanceId)?.launchTemplate;
    return launchedFrom ? { ...h, launchTemplate: launchedFrom } : h;
  });
}

/** Adds members after a list's last one (a `<List/>` becomes `<List>…</List>`). */
function appendMembers(xml: string, list: ElementSpan, held: HeldInstance[], withGroup: boolean): Edit {
  const members = held.map((h) => heldMemberXml(h, withGroup)).join("");
  if (list.contentStart === list.contentEnd && xml.slice(list.start, list.end).endsWith("/>")) {
    return replaceElement(list, `<${list.name}>${members}</${list.name}>`);
  }
  return { start: list.contentEnd, end: list.contentEnd, text: members };
}

/** A held instance as AWS lists it: in DescribeAutoScalingInstances with its group's name. */
function heldMemberXml(h: HeldInstance, withGroup: boolean): string {
  const field = (name: string, value: string | undefined) =>
    value === undefined ? "" : `<${name}>${xmlEscape(value)}</${name}>`;
  return (
    "<member>" +
    field("InstanceId", h.instanceId) +
    field("InstanceType", h.instanceType) +
    (withGroup ? field("AutoScalingGroupName", h.groupName) : "") +
    field("AvailabilityZone", h.availabilityZone) +
    field("LifecycleState", h.lifecycleState) +
    field("HealthStatus", h.healthStatus) +
    (h.launchTemplate ? launchTemplateXml(h.launchTemplate) : "") +
    field("ProtectedFromScaleIn", String(h.protectedFromScaleIn)) +
    "</member>"
  );
}

function instanceMembers(xml: string, instances: ElementSpan | undefined): ElementSpan[] {
  return instances ? children(xml, instances, "member") : [];
}

function instanceIdOf(xml: string, member: ElementSpan): string {
  return textOf(xml, child(xml, member, "InstanceId")) ?? "";
}

function instanceEdits(xml: string, member: ElementSpan, health: SimulatedHealth): Edit[] {
  const id = instanceIdOf(xml, member);
  const lifecycle = child(xml, member, "LifecycleState");
  const status = child(xml, member, "HealthStatus");
  const view = health.view(id, {
    lifecycleState: textOf(xml, lifecycle) ?? "InService",
    healthStatus: textOf(xml, status) ?? "Healthy",
  });
  const edits: Edit[] = [];
  if (lifecycle) edits.push(replaceContent(lifecycle, view.lifecycleState));
  if (status) edits.push(replaceContent(status, view.healthStatus));
  const launchedFrom = health.get(id)?.launchTemplate;
  const launchTemplate = child(xml, member, "LaunchTemplate");
  if (launchedFrom && launchTemplate)
    edits.push(replaceElement(launchTemplate, launchTemplateXml(launchedFrom)));
  return edits;
}

function launchTemplateXml(spec: LaunchTemplateSpec | LaunchedFrom): string {
  const field = (name: string, value: string | undefined) =>
    value === undefined ? "" : `<${name}>${xmlEscape(value)}</${name}>`;
  return (
    "<LaunchTemplate>" +
    field("LaunchTemplateId", spec.LaunchTemplateId) +
    field("LaunchTemplateName", spec.LaunchTemplateName) +
    field("Version", spec.Version) +
    "</LaunchTemplate>"
  );
}
