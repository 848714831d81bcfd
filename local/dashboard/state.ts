import { type AutoScalingGroup, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import { GetExecutionHistoryCommand } from "@aws-sdk/client-sfn";
import type { Connection } from "../../cli/aws/connect.js";
import { type ExecutionSummary, listWorkflows, managedGroupRefreshes } from "../../cli/aws/fleet.js";
import type { AuditRecord } from "../../src/audit/audit.js";

/** Everything the dashboard shows, in one JSON document the page polls. */
export interface DashboardState {
  at: string;
  groups: DashboardGroup[];
  standalone: DashboardInstance[];
  workflows: (ExecutionSummary & { steps: string[] })[];
  audit: Pick<AuditRecord, "at" | "subject" | "action" | "outcome" | "actor" | "reason">[];
}

export interface DashboardGroup {
  name: string;
  family?: string;
  wave: number;
  managed: boolean;
  protected: boolean;
  desired: number;
  instances: DashboardInstance[];
  refresh?: { status: string; percentComplete: number; instancesToUpdate?: number };
}

export interface DashboardInstance {
  id: string;
  imageId?: string;
  state: string;
  quarantined?: string;
  protected: boolean;
}

const STEP_EXITS = new Set(["TaskStateExited", "WaitStateExited"]);

/** Reads the fleet, the workflows (with the steps each has completed) and the latest audit records. */
export async function dashboardState(
  connection: Connection,
  options: { workflows: number; audit: number },
): Promise<DashboardState> {
  const { clients, audit } = connection.deps;
  const [groups, instances, refreshes, workflows, records] = await Promise.all([
    allGroups(connection),
    allInstances(connection),
    managedGroupRefreshes(connection),
    listWorkflows(connection, options.workflows),
    audit.since(new Date(Date.now() - 86_400_000).toISOString()),
  ]);
  const byId = new Map(instances.map((i) => [i.InstanceId ?? "", i]));
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
    return {
      name: group.AutoScalingGroupName ?? "",
      ...(tags["phoenix:image-family"] ? { family: tags["phoenix:image-family"] } : {}),
      wave: Number(tags["phoenix:wave"] ?? 1) || 1,
      managed: tags["phoenix:managed"]?.trim().toLowerCase() === "true",
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
  const shown = workflows.slice(0, options.workflows);
  const withSteps = await Promise.all(
    shown.map(async (workflow) => {
      const { events = [] } = await clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: workflow.arn, maxResults: 1000 }),
      );
      const steps = events
        .filter((e) => e.type && STEP_EXITS.has(e.type) && e.stateExitedEventDetails?.name)
        .map((e) => e.stateExitedEventDetails!.name!);
      return { ...workflow, steps };
    }),
  );
  return {
    at: new Date().toISOString(),
    groups: dashboardGroups.sort(
      (a, b) =>
        (a.family ?? "~").localeCompare(b.family ?? "~") || a.wave - b.wave || a.name.localeCompare(b.name),
    ),
    standalone,
    workflows: withSteps,
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

async function allGroups(connection: Connection): Promise<AutoScalingGroup[]> {
  const groups: AutoScalingGroup[] = [];
  let NextToken: string | undefined;
  do {
    const page = await connection.deps.clients.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ NextToken }),
    );
    groups.push(...(page.AutoScalingGroups ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return groups;
}

async function allInstances(connection: Connection): Promise<Instance[]> {
  const instances: Instance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await connection.deps.clients.ec2.send(
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

function view(instance: Instance): DashboardInstance {
  const tags = tagMap(instance.Tags);
  return {
    id: instance.InstanceId ?? "",
    ...(instance.ImageId ? { imageId: instance.ImageId } : {}),
    state: instance.State?.Name ?? "unknown",
    ...(tags["phoenix:quarantine"] ? { quarantined: tags["phoenix:quarantine"] } : {}),
    protected: tags["phoenix:protected"]?.trim().toLowerCase() === "true",
  };
}

function tagMap(tags: readonly { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
}
