import {
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
} from "@aws-sdk/client-auto-scaling";
import { type ExecutionListItem, ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { isManaged } from "../src/rollout/core/group.js";
import type { Connection } from "./connect.js";

/** Read-only views of Phoenix's workflows and the groups it manages, for status and the dashboard. */

export interface ExecutionSummary {
  workflow: "rollout" | "contain";
  name: string;
  arn: string;
  status: string;
  startedAt?: string;
  stoppedAt?: string;
}

export interface GroupRefresh {
  group: string;
  family?: string;
  wave: number;
  desired: number;
  refresh?: {
    id: string;
    status: string;
    percentComplete: number;
    instancesToUpdate?: number;
    startedAt?: string;
    endedAt?: string;
    reason?: string;
  };
}

/** Every running execution, plus the most recent `recent` of each workflow, newest first. */
export async function listWorkflows(connection: Connection, recent: number): Promise<ExecutionSummary[]> {
  const { sfn } = connection.deps.clients;
  const byArn = new Map<string, ExecutionSummary>();
  for (const [workflow, stateMachineArn] of Object.entries(connection.stateMachines) as [
    ExecutionSummary["workflow"],
    string,
  ][]) {
    const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING" }));
    const latest = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: recent }));
    for (const item of [...(running.executions ?? []), ...(latest.executions ?? [])]) {
      if (item.executionArn && !byArn.has(item.executionArn))
        byArn.set(item.executionArn, summary(workflow, item));
    }
  }
  return [...byArn.values()].sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? ""));
}

function summary(workflow: ExecutionSummary["workflow"], item: ExecutionListItem): ExecutionSummary {
  return {
    workflow,
    name: item.name ?? "",
    arn: item.executionArn ?? "",
    status: item.status ?? "UNKNOWN",
    ...(item.startDate ? { startedAt: new Date(item.startDate).toISOString() } : {}),
    ...(item.stopDate ? { stoppedAt: new Date(item.stopDate).toISOString() } : {}),
  };
}

/** The groups tagged phoenix:managed=true with their latest instance refresh, by family and wave. */
export async function managedGroupRefreshes(connection: Connection): Promise<GroupRefresh[]> {
  const { autoScaling } = connection.deps.clients;
  const groups: AutoScalingGroup[] = [];
  let NextToken: string | undefined;
  do {
    const page = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ NextToken }));
    groups.push(...(page.AutoScalingGroups ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  // The planner's rule (src/rollout/core/group.ts), so status shows what a rollout would refresh.
  const managed = groups.filter((g) =>
    isManaged({ tags: { "phoenix:managed": tag(g, "phoenix:managed") ?? "" } }),
  );
  const rows = await Promise.all(
    managed.map(async (group): Promise<GroupRefresh> => {
      const name = group.AutoScalingGroupName ?? "";
      const { InstanceRefreshes = [] } = await autoScaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: name, MaxRecords: 1 }),
      );
      const family = tag(group, "phoenix:image-family");
      return {
        group: name,
        ...(family ? { family } : {}),
        wave: Number(tag(group, "phoenix:wave") ?? 1) || 1,
        desired: group.DesiredCapacity ?? 0,
        ...(InstanceRefreshes[0] ? { refresh: refreshOf(InstanceRefreshes[0]) } : {}),
      };
    }),
  );
  return rows.sort(
    (a, b) =>
      (a.family ?? "").localeCompare(b.family ?? "") || a.wave - b.wave || a.group.localeCompare(b.group),
  );
}

function refreshOf(refresh: InstanceRefresh): NonNullable<GroupRefresh["refresh"]> {
  return {
    id: refresh.InstanceRefreshId ?? "",
    status: refresh.Status ?? "Unknown",
    percentComplete: refresh.PercentageComplete ?? 0,
    ...(refresh.InstancesToUpdate !== undefined ? { instancesToUpdate: refresh.InstancesToUpdate } : {}),
    ...(refresh.StartTime ? { startedAt: new Date(refresh.StartTime).toISOString() } : {}),
    ...(refresh.EndTime ? { endedAt: new Date(refresh.EndTime).toISOString() } : {}),
    ...(refresh.StatusReason ? { reason: refresh.StatusReason } : {}),
  };
}

function tag(group: AutoScalingGroup, key: string): string | undefined {
  return group.Tags?.find((t) => t.Key === key)?.Value;
}
