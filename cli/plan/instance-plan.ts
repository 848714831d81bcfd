import type { Connection } from "../../ops/connect.js";
import { CliError, EXIT } from "../../ops/io.js";
import { groupMembers, readAccountStarts } from "../../src/containment/aws/budget-counters.js";
import { findInstance, isGone, tagsOf } from "../../src/containment/aws/instance.js";
import { getContainment, isOpen } from "../../src/containment/aws/records.js";
import { bucketWindow, decideBudget, groupLimit } from "../../src/containment/core/budget.js";
import { containCourse, type PlannedStep } from "../../src/containment/core/course.js";
import { protectionHold } from "../../src/containment/core/protection.js";
import { type RouteDecision, unmanagedNodeReason } from "../../src/containment/core/route.js";
import { groupOf as describeInstanceGroup } from "../../src/containment/workflow/intake.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { asPerson, fleetDeps } from "../../src/member-access.js";
import type { Policy } from "../../src/policy/index.js";
import { MEMBER_ACCESS_ROLE } from "../lib/args.js";

/** What containing one instance would do now, computed with reads only. */
export interface InstancePlan {
  kind: "instance";
  instanceId: string;
  route?: RouteDecision;
  instance?: { state: string; imageId?: string; tags: Record<string, string> };
  group?: { name: string; desiredCapacity: number; inContainment: string[]; limit: number; limitBy: string };
  account: { startsInWindow: number; limit: number; windowMinutes: number };
  /** An open containment the request would join instead of starting another. */
  joins?: { execution: string; status: string };
  decision: "start" | "join" | "hold" | "refuse" | "no-action";
  reason: string;
  /** "State: what it does", as formatted from `course`. */
  steps: string[];
  /** The workflow's states and what each does for this instance (src/containment/core/course.ts). */
  course: PlannedStep[];
}

/**
 * The containment intake's decision without its writes: the same protection rule, the same
 * budget counters (the group's members, the account's starts in the current and previous window
 * buckets), and the open record a new request would join.
 */
export async function planInstance(
  connection: Connection,
  instanceId: string,
  route?: RouteDecision,
  /** The finding's region (a member's instance may run in another). */
  where?: { region: string },
): Promise<InstancePlan> {
  const home = connection.deps;
  const budgets = home.policy.containment.budgets;
  // A member's instance (a routed finding says where) is read as a person of that account
  // would (MEMBER_ACCESS_ROLE); counts and records stay Phoenix's own.
  const accountId = route?.action === "contain" ? route.accountId : connection.accountId;
  const region = where?.region ?? connection.region;
  const deps =
    accountId === connection.accountId && region === connection.region
      ? home
      : fleetDeps(asPerson(home, MEMBER_ACCESS_ROLE), { accountId, region });
  const instance = await findInstance(deps, instanceId);
  if (!instance)
    throw new CliError(
      `Instance ${instanceId} does not exist in ${region}/${accountId}: check the id, --region and --profile.`,
      EXIT.usage,
    );
  const tags = { ...tagsOf(instance.Tags) };
  const facts = {
    state: instance.State?.Name ?? "unknown",
    ...(instance.ImageId ? { imageId: instance.ImageId } : {}),
    tags,
  };
  const account = {
    startsInWindow: await readAccountStarts(deps, accountId),
    limit: budgets.perAccountMaxCount,
    windowMinutes: budgets.windowMinutes,
  };
  const base = {
    kind: "instance" as const,
    instanceId,
    ...(route ? { route } : {}),
    instance: facts,
    account,
  };
  if (route && route.action !== "contain")
    return {
      ...base,
      decision: "no-action",
      reason: `${route.action}: ${route.reason}`,
      steps: [],
      course: [],
    };
  if (isGone(instance))
    return {
      ...base,
      decision: "refuse",
      reason: `the instance is ${facts.state}: nothing to contain`,
      steps: [],
      course: [],
    };

  const group = await groupOf(deps, accountId, instanceId);
  const current = await getContainment(deps, accountId, instanceId);
  const { steps, course } = containSteps(deps.policy, group?.name);
  if (isOpen(current)) {
    return {
      ...base,
      ...(group ? { group: withoutTags(group) } : {}),
      joins: { execution: current.executionName, status: current.status },
      decision: "join",
      reason: `already in containment (${current.status}): the request joins ${current.executionName}`,
      steps: [],
      course: [],
    };
  }
  const withGroup = { ...base, ...(group ? { group: withoutTags(group) } : {}) };
  // The intake's check for a cluster node, on the same group facts.
  const unmanaged = route ? unmanagedNodeReason(route, group) : undefined;
  if (unmanaged)
    return { ...withGroup, decision: "no-action", reason: `notify: ${unmanaged}`, steps: [], course: [] };
  const protectedReason = protectionHold(tags, group?.tags);
  if (protectedReason) return { ...withGroup, decision: "hold", reason: protectedReason, steps, course };
  // The intake's own decision, from the counters it would increment.
  const budget = decideBudget(
    budgets,
    { instanceId, accountId },
    {
      ...(group
        ? {
            group: { name: group.name, desiredCapacity: group.desiredCapacity, members: group.inContainment },
          }
        : {}),
      accountStarts: account.startsInWindow,
      window: bucketWindow(budgets.windowMinutes),
    },
  );
  if (!budget.allowed) return { ...withGroup, decision: "hold", reason: budget.reason, steps, course };
  return { ...withGroup, decision: "start", reason: "within budget and not protected", steps, course };
}

/** The contain workflow's steps as they would apply to this instance under this policy. */
export function containSteps(
  policy: Policy,
  group: string | undefined,
): { steps: string[]; course: PlannedStep[] } {
  const course = containCourse(policy.containment, group);
  return { steps: course.map((step) => `${step.state}: ${step.text}`), course };
}

interface GroupFacts {
  name: string;
  desiredCapacity: number;
  inContainment: string[];
  limit: number;
  limitBy: string;
  tags: Record<string, string>;
}

async function groupOf(
  deps: PhoenixDeps,
  accountId: string,
  instanceId: string,
): Promise<GroupFacts | undefined> {
  const group = await describeInstanceGroup(deps, instanceId);
  if (!group) return undefined;
  const limit = groupLimit(deps.policy.containment.budgets, group.desiredCapacity);
  return {
    name: group.name,
    desiredCapacity: group.desiredCapacity,
    inContainment: await groupMembers(deps, accountId, group.name),
    limit: limit.limit,
    limitBy: limit.by,
    tags: { ...group.tags },
  };
}

function withoutTags(group: GroupFacts): NonNullable<InstancePlan["group"]> {
  const { tags: _tags, ...rest } = group;
  return rest;
}

export function formatInstancePlan(plan: InstancePlan): string[] {
  const lines = [`Plan for containing ${plan.instanceId} (dry run: nothing changed)`];
  if (plan.route) lines.push(`Routing: ${plan.route.action} (${plan.route.reason})`);
  if (plan.instance)
    lines.push(`Instance: ${plan.instance.state}, image ${plan.instance.imageId ?? "unknown"}`);
  if (plan.group)
    lines.push(
      `Group: ${plan.group.name} (desired ${plan.group.desiredCapacity}), ${plan.group.inContainment.length} of ${plan.group.limit} containment slot(s) in use (${plan.group.limitBy})`,
    );
  else if (plan.instance) lines.push("Group: none (standalone instance: no group budget, no replacement)");
  lines.push(
    `Account budget: ${plan.account.startsInWindow} of ${plan.account.limit} start(s) in the ${plan.account.windowMinutes}-min window`,
  );
  const verdict = {
    start: "would START the contain workflow",
    join: "would JOIN the open containment",
    hold: "would be HELD for approval (phoenix approve <hold-id>, or contain --force)",
    refuse: "would be REFUSED",
    "no-action": "would NOT contain",
  }[plan.decision];
  lines.push(`Decision: ${verdict}: ${plan.reason}`);
  if (plan.steps.length > 0) {
    lines.push(plan.decision === "hold" ? "Steps once approved:" : "Steps:");
    for (const [i, step] of plan.steps.entries()) lines.push(`  ${i + 1}. ${step}`);
  }
  return lines;
}
