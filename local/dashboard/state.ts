import { type AutoScalingGroup, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand, DescribeInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import { GetExecutionHistoryCommand, type HistoryEvent } from "@aws-sdk/client-sfn";
import type { Connection } from "../../ops/connect.js";
import { type ExecutionSummary, listWorkflows, managedGroupRefreshes } from "../../ops/fleet.js";
import { listHolds } from "../../ops/holds.js";
import { skippedBecause } from "../../ops/progress/skipped.js";
import type { AuditRecord } from "../../src/audit/audit.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { SWEEPS_SUBJECT } from "../../src/drift/workflow/sweep.js";
import { asPerson, fleetDeps } from "../../src/member-access.js";
import { listPauses } from "../../src/rollout/aws/pauses.js";
import { isManaged } from "../../src/rollout/core/group.js";
import { resumeCommand } from "../../src/rollout/core/pause.js";
import { managedScope } from "../../src/scope.js";
import { ORGANIZATION_ACCESS_ROLE } from "../core/account-ids.js";
import type { LocalNotification } from "../core/notifications.js";

/** Everything the dashboard shows, in one JSON document (`/_phoenix/dashboard/state`). */
export interface DashboardState {
  /** The local cloud's time (its clock may run faster than the wall clock), ISO. */
  at: string;
  /** The clock multiplier. */
  speed?: number;
  endpoint: string;
  /** The accounts and regions shown; the page names them once there are several. */
  scope: { accounts: string[]; regions: string[] };
  groups: DashboardGroup[];
  standalone: DashboardInstance[];
  /** Every image an instance runs, with its colour on the page (stable while the cloud runs). */
  images: Record<string, DashboardImage>;
  workflows: DashboardWorkflow[];
  /** Containments waiting for a person, with the command that approves each. */
  holds: DashboardHold[];
  /** The latest messages Phoenix published to its topic, newest first. */
  notifications: LocalNotification[];
  audit: Pick<AuditRecord, "at" | "subject" | "action" | "outcome" | "actor" | "reason">[];
  /** The last drift sweep (scheduled or `phoenix sweep`), or null before the first. */
  drift: {
    sweepId: string;
    at: string;
    by: string;
    findings: number;
    shown: { kind: string; subject: string; family: string; reason: string }[];
  } | null;
  /** Rollouts paused by a person (`phoenix pause`): the page shows a banner for each. */
  paused: { subject: string; since: string; by: string; reason?: string; resumeCommand: string }[];
}

export interface DashboardGroup {
  name: string;
  /** A member account's group: its account and region (absent: the local cloud's own). */
  accountId?: string;
  region?: string;
  family?: string;
  /** Absent for an unmanaged group: Phoenix never rolls it, so it has no wave. */
  wave?: number;
  managed: boolean;
  protected: boolean;
  desired: number;
  instances: DashboardInstance[];
  refresh?: { status: string; percentComplete: number; instancesToUpdate?: number };
}

export interface DashboardInstance {
  id: string;
  /** A member account's instance: its account and region (absent: the local cloud's own). */
  accountId?: string;
  region?: string;
  imageId?: string;
  state: string;
  quarantined?: string;
  protected: boolean;
  /** The pending hold of its containment. */
  held?: string;
  name?: string;
}

export interface DashboardImage {
  family?: string;
  name?: string;
  colour: string;
}

export interface DashboardStep {
  name: string;
  /** "skipped": the step ran and changed nothing for this instance (a standalone one is not replaced). */
  outcome: "done" | "skipped";
  at?: string;
  note?: string;
}

export type DashboardWorkflow = ExecutionSummary & { steps: DashboardStep[] };

export interface DashboardHold {
  holdId: string;
  instanceId: string;
  accountId: string;
  kind: string;
  reason: string;
  createdAt: string;
  approveCommand: string;
}

/**
 * Colours a person can tell apart on the dark page (Tableau 10 without its red, which marks
 * quarantine), given to images in the order they are first seen and kept while the cloud runs,
 * so an instance does not change colour between two looks.
 */
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#edc948",
  "#76b7b2",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

export class ImageColours {
  private readonly assigned = new Map<string, string>();
  colourOf(imageId: string): string {
    let colour = this.assigned.get(imageId);
    if (!colour) {
      const n = this.assigned.size;
      // Past the palette: the same hues, lighter, then darker.
      const base = PALETTE[n % PALETTE.length]!;
      const round = Math.floor(n / PALETTE.length);
      colour =
        round === 0
          ? base
          : `color-mix(in srgb, ${base} ${round % 2 ? 60 : 70}%, ${round % 2 ? "white" : "black"})`;
      this.assigned.set(imageId, colour);
    }
    return colour;
  }
}

const STEP_EXITS = new Set(["TaskStateExited", "WaitStateExited"]);

/** Reads the fleet, the workflows (with the steps each has completed), holds, notifications and the latest audit records. */
export async function dashboardState(
  connection: Connection,
  options: {
    workflows: number;
    audit: number;
    colours: ImageColours;
    now: () => Date;
    speed?: number;
    endpoint: string;
    notifications?: () => Promise<LocalNotification[]>;
  },
): Promise<DashboardState> {
  const { clients, audit } = connection.deps;
  const [groups, instances, refreshes, workflows, records, holds, notifications, pauses, sweeps] =
    await Promise.all([
      allGroups(connection.deps),
      allInstances(connection.deps),
      managedGroupRefreshes(connection),
      listWorkflows(connection, options.workflows),
      audit.since(new Date(options.now().getTime() - 86_400_000).toISOString()),
      listHolds(connection),
      options.notifications?.().catch(() => []) ?? Promise.resolve([]),
      listPauses(connection.deps),
      audit.history(SWEEPS_SUBJECT).catch(() => []),
    ]);
  const lastSweep = sweeps.filter((r) => r.action === "sweep").at(-1);
  const heldByInstance = new Map(holds.map((h) => [h.instanceId, h.holdId]));
  const own = fleetView(groups, instances, refreshes, heldByInstance);
  // The member accounts' fleets, read as their administrator would (the local cloud's
  // OrganizationAccountAccessRole): one that cannot be read is left out, not fatal to the page.
  const elsewhere = await Promise.all(
    memberPlaces(connection).map(async (where) => {
      try {
        const deps = fleetDeps(asPerson(connection.deps, ORGANIZATION_ACCESS_ROLE), where);
        const [memberGroups, memberInstances] = await Promise.all([allGroups(deps), allInstances(deps)]);
        return fleetView(memberGroups, memberInstances, [], heldByInstance, where);
      } catch {
        return { groups: [], standalone: [] };
      }
    }),
  );
  const dashboardGroups = [...own.groups, ...elsewhere.flatMap((view) => view.groups)];
  const standalone = [...own.standalone, ...elsewhere.flatMap((view) => view.standalone)];
  const withSteps = await Promise.all(
    workflows.slice(0, options.workflows).map(async (workflow): Promise<DashboardWorkflow> => {
      const { events = [] } = await clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: workflow.arn, maxResults: 1000 }),
      );
      return { ...workflow, steps: stepsOf(events) };
    }),
  );
  const images = await imagesOf(
    connection,
    [...dashboardGroups.flatMap((g) => g.instances), ...standalone],
    options.colours,
  );
  const port = new URL(options.endpoint).port;
  return {
    at: options.now().toISOString(),
    ...(options.speed !== undefined ? { speed: options.speed } : {}),
    endpoint: options.endpoint,
    scope: {
      accounts: [
        ...new Set([
          connection.accountId,
          ...memberPlaces(connection).map((m) => m.accountId),
          ...holds.map((h) => h.accountId),
        ]),
      ].sort(),
      regions: [...new Set([connection.region, ...memberPlaces(connection).map((m) => m.region)])].sort(),
    },
    groups: dashboardGroups.sort(
      (a, b) =>
        (a.family ?? "~").localeCompare(b.family ?? "~") ||
        Number(b.managed) - Number(a.managed) ||
        (a.wave ?? 0) - (b.wave ?? 0) ||
        a.name.localeCompare(b.name),
    ),
    standalone,
    images,
    workflows: withSteps,
    holds: holds.map((hold) => ({
      holdId: hold.holdId,
      instanceId: hold.instanceId,
      accountId: hold.accountId,
      kind: hold.kind,
      reason: hold.reason,
      createdAt: hold.createdAt,
      approveCommand: `npx phoenix approve ${hold.holdId} --port ${port}`,
    })),
    notifications: notifications.slice(-8).reverse(),
    drift: lastSweep
      ? {
          sweepId: lastSweep.execution ?? "",
          at: lastSweep.at,
          by: lastSweep.actor,
          findings: Number(lastSweep.details?.["findings"] ?? 0),
          shown:
            (lastSweep.details?.["shown"] as NonNullable<DashboardState["drift"]>["shown"] | undefined) ?? [],
        }
      : null,
    paused: pauses.map((pause) => ({
      subject: pause.family === undefined ? "rollouts of every family" : `rollouts of family ${pause.family}`,
      since: pause.at,
      by: pause.by,
      reason: pause.reason,
      resumeCommand: `npx ${resumeCommand(pause)} --port ${port}`,
    })),
    audit: records
      .slice(-options.audit)
      .reverse()
      .map(({ at, subject, action, outcome, actor, reason }) => ({
        at,
        subject,
        action,
        outcome,
        actor,
        ...(reason ? { reason } : {}),
      })),
  };
}

/**
 * The states an execution has completed, in order, each done or skipped: a step is skipped when
 * its own result says it changed nothing (Replace of a standalone instance: `replaced: false`;
 * Dispose of one: `disposition: "kept"`; any step's `skipped: true`).
 */
export function stepsOf(events: HistoryEvent[]): DashboardStep[] {
  const steps: DashboardStep[] = [];
  for (const event of events) {
    const exited = event.stateExitedEventDetails;
    if (!event.type || !STEP_EXITS.has(event.type) || !exited?.name) continue;
    const skip = skippedBecause(exited.name, exited.output);
    steps.push({
      name: exited.name,
      outcome: skip ? "skipped" : "done",
      ...(event.timestamp ? { at: new Date(event.timestamp).toISOString() } : {}),
      ...(skip ? { note: skip } : {}),
    });
  }
  return steps;
}

async function imagesOf(
  connection: Connection,
  instances: DashboardInstance[],
  colours: ImageColours,
): Promise<Record<string, DashboardImage>> {
  const ids = [...new Set(instances.map((i) => i.imageId).filter((id): id is string => Boolean(id)))];
  if (ids.length === 0) return {};
  const { Images = [] } = await connection.deps.clients.ec2
    .send(new DescribeImagesCommand({ Filters: [{ Name: "image-id", Values: ids }] }))
    .catch(() => ({ Images: [] }));
  const facts = new Map(Images.map((image) => [image.ImageId ?? "", image]));
  // New images get their colour in the order they were made, so the first look is stable too.
  const ordered = [...ids].sort(
    (a, b) =>
      (facts.get(a)?.CreationDate ?? "").localeCompare(facts.get(b)?.CreationDate ?? "") ||
      a.localeCompare(b),
  );
  const out: Record<string, DashboardImage> = {};
  for (const id of ordered) {
    const image = facts.get(id);
    const family = image?.Tags?.find((t) => t.Key === "phoenix:image-family")?.Value;
    out[id] = {
      ...(family ? { family } : {}),
      ...(image?.Name ? { name: image.Name } : {}),
      colour: colours.colourOf(id),
    };
  }
  return out;
}

async function allGroups(deps: PhoenixDeps): Promise<AutoScalingGroup[]> {
  const groups: AutoScalingGroup[] = [];
  let NextToken: string | undefined;
  do {
    const page = await deps.clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ NextToken }));
    groups.push(...(page.AutoScalingGroups ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return groups;
}

async function allInstances(deps: PhoenixDeps): Promise<Instance[]> {
  const instances: Instance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await deps.clients.ec2.send(
      new DescribeInstancesCommand({
        NextToken,
        Filters: [{ Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] }],
      }),
    );
    for (const reservation of page.Reservations ?? []) instances.push(...(reservation.Instances ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return instances;
}

function instanceView(instance: Instance, held: Map<string, string>): DashboardInstance {
  const tags = tagMap(instance.Tags);
  const id = instance.InstanceId ?? "";
  const hold = held.get(id);
  return {
    id,
    ...(instance.ImageId ? { imageId: instance.ImageId } : {}),
    state: instance.State?.Name ?? "unknown",
    ...(tags["phoenix:quarantine"] ? { quarantined: tags["phoenix:quarantine"] } : {}),
    protected: tags["phoenix:protected"]?.trim().toLowerCase() === "true",
    ...(hold ? { held: hold } : {}),
    ...(tags["Name"] ? { name: tags["Name"] } : {}),
  };
}

function tagMap(tags: readonly { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
}

/** Every member account and region Phoenix manages beside its own (the policy's accounts). */
function memberPlaces(connection: Connection): { accountId: string; region: string }[] {
  return managedScope(connection.deps).members.flatMap((member) =>
    member.regions
      .filter((region) => member.accountId !== connection.accountId || region !== connection.region)
      .map((region) => ({ accountId: member.accountId, region })),
  );
}

/** The groups (with their members) and the instances in none, of one account and region. */
function fleetView(
  groups: AutoScalingGroup[],
  instances: Instance[],
  refreshes: Awaited<ReturnType<typeof managedGroupRefreshes>>,
  heldByInstance: Map<string, string>,
  where?: { accountId: string; region: string },
): { groups: DashboardGroup[]; standalone: DashboardInstance[] } {
  const byId = new Map(instances.map((i) => [i.InstanceId ?? "", i]));
  const view = (instance: Instance): DashboardInstance => ({
    ...instanceView(instance, heldByInstance),
    ...where,
  });
  const inGroups = new Set<string>();
  const dashboardGroups = groups.map((group): DashboardGroup => {
    const tags = tagMap(group.Tags);
    const members = (group.Instances ?? []).map((member) => {
      inGroups.add(member.InstanceId ?? "");
      const instance = byId.get(member.InstanceId ?? "");
      return instance
        ? view(instance)
        : { id: member.InstanceId ?? "", state: member.LifecycleState ?? "unknown", protected: false };
    });
    const refresh = refreshes.find((r) => r.group === group.AutoScalingGroupName)?.refresh;
    const managed = isManaged({ tags });
    return {
      name: group.AutoScalingGroupName ?? "",
      ...where,
      ...(tags["phoenix:image-family"] ? { family: tags["phoenix:image-family"] } : {}),
      ...(managed ? { wave: Number(tags["phoenix:wave"] ?? 1) || 1 } : {}),
      managed,
      protected: tags["phoenix:protected"]?.trim().toLowerCase() === "true",
      desired: group.DesiredCapacity ?? 0,
      instances: members,
      ...(refresh
        ? {
            refresh: {
              status: refresh.status,
              percentComplete: refresh.percentComplete,
              ...(refresh.instancesToUpdate !== undefined
                ? { instancesToUpdate: refresh.instancesToUpdate }
                : {}),
            },
          }
        : {}),
    };
  });
  // Contained instances leave their group (detached) but stay worth seeing until disposed.
  const standalone = instances.filter((i) => !inGroups.has(i.InstanceId ?? "")).map(view);
  return { groups: dashboardGroups, standalone };
}
