import {
  type AutoScalingClient,
  DescribeInstanceRefreshesCommand,
  type DesiredConfiguration,
  type InstanceRefresh,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { awsErrorCode } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import { epochSeconds, groupPartition, REFRESH_SK_PREFIX } from "../../state-keys.js";
import type { RefreshPreferences } from "../core/preferences.js";
import { isActiveRefreshStatus } from "../core/refresh-outcome.js";
import { RefreshInProgressError } from "./errors.js";
import { withTemplate } from "./launch-template.js";

/** How long the record of a Phoenix refresh is kept: long enough to outlive any refresh. */
const RECORD_DAYS = 30;

/** What Phoenix remembers about a refresh it started, so it can tell its own from others'. */
export interface PhoenixRefreshRecord {
  group: string;
  refreshId: string;
  imageId: string;
  execution: string;
  launchTemplateId: string;
  version: string;
  startedAt: string;
}

type RecordDeps = Pick<PhoenixDeps, "clients" | "resources" | "now">;

/** The group's refresh that still holds it (AWS allows one), if any. */
export async function activeRefresh(
  autoScaling: AutoScalingClient,
  group: string,
): Promise<InstanceRefresh | undefined> {
  // Newest first; the active one, if any, is among the most recent.
  const { InstanceRefreshes } = await autoScaling.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, MaxRecords: 20 }),
  );
  return InstanceRefreshes?.find((refresh) => isActiveRefreshStatus(refresh.Status));
}

export async function describeRefresh(
  autoScaling: AutoScalingClient,
  group: string,
  refreshId: string,
): Promise<InstanceRefresh> {
  const { InstanceRefreshes } = await autoScaling.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, InstanceRefreshIds: [refreshId] }),
  );
  const refresh = InstanceRefreshes?.find((candidate) => candidate.InstanceRefreshId === refreshId);
  if (refresh === undefined) throw new Error(`instance refresh ${refreshId} of ${group} not found`);
  return refresh;
}

/** True when the refresh is rolling the group to exactly this numbered template version. */
export function targetsVersion(refresh: InstanceRefresh, launchTemplateId: string, version: string): boolean {
  const desired =
    refresh.DesiredConfiguration?.LaunchTemplate ??
    refresh.DesiredConfiguration?.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  return desired?.LaunchTemplateId === launchTemplateId && desired.Version === version;
}

export interface StartRefreshRequest {
  group: string;
  launchTemplateId: string;
  version: string;
  preferences: RefreshPreferences;
  /** The group's mixed instances policy (as described), when it has one. */
  mixedInstancesPolicy?: Record<string, unknown>;
}

/** What the group is refreshed to: for a mixed group, its policy with the new version (see withTemplate). */
export function desiredConfiguration(
  request: Pick<StartRefreshRequest, "launchTemplateId" | "version" | "mixedInstancesPolicy">,
): DesiredConfiguration {
  const template = { LaunchTemplateId: request.launchTemplateId, Version: request.version };
  return request.mixedInstancesPolicy === undefined
    ? { LaunchTemplate: template }
    : { MixedInstancesPolicy: withTemplate(request.mixedInstancesPolicy, template) };
}

/**
 * StartInstanceRefresh to a numbered template version, so AutoRollback can work. There is no
 * ClientToken: a retry first looks for an active refresh already rolling to that version (this
 * step's own earlier attempt) and adopts it. Any other active refresh is reported with
 * RefreshInProgressError: the caller decides whether to wait.
 */
export async function startOrAdoptRefresh(
  autoScaling: AutoScalingClient,
  request: StartRefreshRequest,
): Promise<{ refreshId: string; adopted: boolean }> {
  const adoptable = async () => {
    const active = await activeRefresh(autoScaling, request.group);
    if (active === undefined) return undefined;
    if (targetsVersion(active, request.launchTemplateId, request.version) && active.InstanceRefreshId) {
      return { refreshId: active.InstanceRefreshId, adopted: true };
    }
    throw new RefreshInProgressError(
      `instance refresh ${active.InstanceRefreshId} (${active.Status}) is already running on ${request.group}`,
    );
  };
  const existing = await adoptable();
  if (existing !== undefined) return existing;
  try {
    const { InstanceRefreshId } = await autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: request.group,
        Strategy: "Rolling",
        DesiredConfiguration: desiredConfiguration(request),
        Preferences: request.preferences,
      }),
    );
    if (!InstanceRefreshId) throw new Error(`StartInstanceRefresh on ${request.group} returned no id`);
    return { refreshId: InstanceRefreshId, adopted: false };
  } catch (error) {
    if (!isRefreshInProgress(error)) throw error;
    // Someone started one between our look and our call: it may even be ours (a racing retry).
    const raced = await adoptable();
    if (raced !== undefined) return raced;
    throw new RefreshInProgressError(`an instance refresh started on ${request.group} meanwhile`);
  }
}

export function isRefreshInProgress(error: unknown): boolean {
  const code = awsErrorCode(error);
  return code === "InstanceRefreshInProgress" || code === "InstanceRefreshInProgressFault";
}

export async function recordPhoenixRefresh(deps: RecordDeps, record: PhoenixRefreshRecord): Promise<void> {
  await deps.clients.dynamo.send(
    new PutCommand({
      TableName: deps.resources.stateTable,
      Item: {
        pk: groupPartition(record.group),
        sk: `${REFRESH_SK_PREFIX}${record.refreshId}`,
        kind: "phoenix-refresh",
        ...record,
        expiresAt: epochSeconds(deps.now()) + RECORD_DAYS * 86_400,
      },
    }),
  );
}

/** The record of a refresh Phoenix started; undefined for a refresh someone else started. */
export async function findPhoenixRefresh(
  deps: RecordDeps,
  group: string,
  refreshId: string,
): Promise<PhoenixRefreshRecord | undefined> {
  const { Item } = await deps.clients.dynamo.send(
    new GetCommand({
      TableName: deps.resources.stateTable,
      Key: { pk: groupPartition(group), sk: `${REFRESH_SK_PREFIX}${refreshId}` },
      ConsistentRead: true,
    }),
  );
  if (Item === undefined) return undefined;
  return {
    group,
    refreshId,
    imageId: String(Item.imageId),
    execution: String(Item.execution),
    launchTemplateId: String(Item.launchTemplateId),
    version: String(Item.version),
    startedAt: String(Item.startedAt),
  };
}

/** StatusReason plus the rollback's reason, which is where AWS says why instances were unhealthy. */
export function refreshReason(refresh: InstanceRefresh): string {
  const parts = [refresh.StatusReason, refresh.RollbackDetails?.RollbackReason].filter(
    (part): part is string => typeof part === "string" && part !== "",
  );
  return [...new Set(parts)].join("; ");
}
