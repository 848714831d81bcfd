import { type AwsRequest, queryList } from "../gateway/request.js";
import { type AwsResponse, awsError, queryResult, xmlEscape } from "../gateway/response.js";
import type { ServiceHandler } from "../gateway/server.js";
import type { InstanceRefreshApi, StartRefreshRequest } from "./refresh-api.js";
import {
  type DesiredConfiguration,
  type InstanceRefresh,
  type LaunchTemplateSpec,
  type MixedInstancesPolicy,
  type PoolProgress,
  RefreshApiError,
  type RefreshPreferences,
} from "./refresh-model.js";

/**
 * The instance refresh operations on the Query protocol: form parameters in, XML out, in the
 * shapes AWS uses (https://autoscaling.amazonaws.com/doc/2011-01-01/), errors with AWS's codes.
 */

export const AUTOSCALING_NAMESPACE = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

const ACTIONS = new Set([
  "StartInstanceRefresh",
  "DescribeInstanceRefreshes",
  "CancelInstanceRefresh",
  "RollbackInstanceRefresh",
]);

export function instanceRefreshHandler(api: InstanceRefreshApi): ServiceHandler {
  return {
    name: "autoscaling-instance-refresh",
    handles: (request) => request.service === "autoscaling" && ACTIONS.has(request.action),
    handle: async (request) => {
      try {
        return await serve(api, request);
      } catch (error) {
        if (error instanceof RefreshApiError) {
          return awsError(request.protocol, "autoscaling", error.status, error.code, error.message);
        }
        throw error;
      }
    },
  };
}

async function serve(api: InstanceRefreshApi, request: AwsRequest): Promise<AwsResponse> {
  const params = request.params;
  const groupName = params.get("AutoScalingGroupName") ?? undefined;
  switch (request.action) {
    case "StartInstanceRefresh": {
      const id = await api.start(parseStart(params));
      return result("StartInstanceRefresh", element("InstanceRefreshId", id));
    }
    case "CancelInstanceRefresh":
      return result("CancelInstanceRefresh", element("InstanceRefreshId", await api.cancel(groupName)));
    case "RollbackInstanceRefresh":
      return result("RollbackInstanceRefresh", element("InstanceRefreshId", await api.rollback(groupName)));
    default: {
      const maxRecords = integer(params, "MaxRecords");
      const nextToken = params.get("NextToken") ?? undefined;
      const page = await api.describe({
        groupName,
        instanceRefreshIds: queryList(params, "InstanceRefreshIds"),
        ...(maxRecords !== undefined ? { maxRecords } : {}),
        ...(nextToken ? { nextToken } : {}),
      });
      return result(
        "DescribeInstanceRefreshes",
        element("InstanceRefreshes", page.refreshes.map((r) => element("member", refreshXml(r))).join("")) +
          (page.nextToken ? element("NextToken", page.nextToken) : ""),
      );
    }
  }
}

// ── parsing ───────────────────────────────────────────────────────────────────────────────────

export function parseStart(params: URLSearchParams): StartRefreshRequest {
  const launchTemplate: LaunchTemplateSpec = {};
  for (const key of ["LaunchTemplateId", "LaunchTemplateName", "Version"] as const) {
    const value = params.get(`DesiredConfiguration.LaunchTemplate.${key}`);
    if (value) launchTemplate[key] = value;
  }
  const mixed = queryStructure(params, "DesiredConfiguration.MixedInstancesPolicy") as
    | MixedInstancesPolicy
    | undefined;
  const desired: DesiredConfiguration = {
    ...(Object.keys(launchTemplate).length ? { LaunchTemplate: launchTemplate } : {}),
    ...(mixed ? { MixedInstancesPolicy: mixed } : {}),
  };
  const strategy = params.get("Strategy") ?? undefined;
  return {
    ...(params.get("AutoScalingGroupName") ? { groupName: params.get("AutoScalingGroupName")! } : {}),
    ...(strategy ? { strategy } : {}),
    ...(Object.keys(desired).length ? { desiredConfiguration: desired } : {}),
    preferences: parsePreferences(params),
  };
}

/** Members the API types as integers (InstancesDistribution, Overrides' WeightedCapacity is a string). */
const INTEGER_MEMBERS = new Set([
  "OnDemandBaseCapacity",
  "OnDemandPercentageAboveBaseCapacity",
  "SpotInstancePools",
]);

/**
 * A Query-protocol structure under `prefix` as a plain object: `A.B` nests, `A.member.N` is the
 * Nth element of list A; undefined when no parameter has the prefix.
 */
export function queryStructure(params: URLSearchParams, prefix: string): Record<string, unknown> | undefined {
  let root: Record<string, unknown> | undefined;
  for (const [key, value] of params) {
    if (!key.startsWith(`${prefix}.`)) continue;
    root ??= {};
    const path = key.slice(prefix.length + 1).split(".");
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < path.length; i++) {
      const name = path[i]!;
      const last = i === path.length - 1;
      if (name === "member" && Array.isArray(node)) {
        const index = Number(path[++i]) - 1;
        if (i === path.length - 1) {
          node[index] = value;
          break;
        }
        if (node[index] === undefined) node[index] = {};
        node = node[index] as Record<string, unknown>;
        continue;
      }
      const record = node as Record<string, unknown>;
      if (last) {
        record[name] = INTEGER_MEMBERS.has(name) && /^\d+$/.test(value) ? Number(value) : value;
        break;
      }
      if (record[name] === undefined) record[name] = path[i + 1] === "member" ? [] : {};
      node = record[name] as Record<string, unknown> | unknown[];
    }
  }
  return root;
}

/** A plain object as Query-protocol XML: lists as `member` elements, in the order given. */
export function structureXml(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => element("member", structureXml(v))).join("");
  if (value !== null && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => element(k, structureXml(v)))
      .join("");
  }
  return xmlEscape(String(value));
}

function parsePreferences(params: URLSearchParams): RefreshPreferences {
  const p = (name: string) => `Preferences.${name}`;
  const preferences: RefreshPreferences = {};
  const numbers = [
    "MinHealthyPercentage",
    "MaxHealthyPercentage",
    "InstanceWarmup",
    "CheckpointDelay",
    "BakeTime",
  ] as const;
  for (const name of numbers) {
    const value = integer(params, p(name));
    if (value !== undefined) preferences[name] = value;
  }
  for (const name of ["SkipMatching", "AutoRollback"] as const) {
    const value = boolean(params, p(name));
    if (value !== undefined) preferences[name] = value;
  }
  const checkpoints = queryList(params, p("CheckpointPercentages"));
  if (checkpoints.length)
    preferences.CheckpointPercentages = checkpoints.map((v) => toInteger(v, p("CheckpointPercentages")));
  const scaleIn = params.get(p("ScaleInProtectedInstances"));
  if (scaleIn)
    preferences.ScaleInProtectedInstances = oneOf(
      scaleIn,
      ["Refresh", "Ignore", "Wait"] as const,
      p("ScaleInProtectedInstances"),
    );
  const standby = params.get(p("StandbyInstances"));
  if (standby)
    preferences.StandbyInstances = oneOf(
      standby,
      ["Terminate", "Ignore", "Wait"] as const,
      p("StandbyInstances"),
    );
  const alarms = queryList(params, p("AlarmSpecification.Alarms"));
  if (alarms.length) preferences.AlarmSpecification = { Alarms: alarms };
  return preferences;
}

export function integer(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  return value === null || value === "" ? undefined : toInteger(value, name);
}

function toInteger(value: string, name: string): number {
  if (!/^-?\d+$/.test(value))
    throw new RefreshApiError("ValidationError", `Value ${value} for ${name} is not an integer.`);
  return Number(value);
}

export function boolean(params: URLSearchParams, name: string): boolean | undefined {
  const value = params.get(name);
  if (value === null || value === "") return undefined;
  if (value !== "true" && value !== "false") {
    throw new RefreshApiError("ValidationError", `Value ${value} for ${name} is not a boolean.`);
  }
  return value === "true";
}

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new RefreshApiError(
      "ValidationError",
      `Value ${value} for ${name} failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(", ")}]`,
    );
  }
  return value as T;
}

// ── rendering ─────────────────────────────────────────────────────────────────────────────────

export function result(action: string, xml: string): AwsResponse {
  return queryResult(action, xml, AUTOSCALING_NAMESPACE);
}

/**
 * A call whose output shape has no members still answers `<ActionResult/>`: the AWS CLI
 * (botocore) fails without it, where the SDK does not care.
 */
export function emptyResult(action: string): AwsResponse {
  return queryResult(action, " ", AUTOSCALING_NAMESPACE);
}

export function element(name: string, content: string): string {
  return `<${name}>${content}</${name}>`;
}

/** An element holding escaped text; nothing when the value is absent. */
export function field(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? "" : element(name, xmlEscape(String(value)));
}

export function time(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

export function refreshXml(r: InstanceRefresh): string {
  return (
    field("InstanceRefreshId", r.InstanceRefreshId) +
    field("AutoScalingGroupName", r.AutoScalingGroupName) +
    field("Status", r.Status) +
    field("StatusReason", r.StatusReason || undefined) +
    field("StartTime", time(r.StartTime)) +
    field("EndTime", time(r.EndTime)) +
    field("PercentageComplete", r.PercentageComplete) +
    field("InstancesToUpdate", r.InstancesToUpdate) +
    element(
      "ProgressDetails",
      poolProgressXml(
        "LivePoolProgress",
        r.LivePoolProgress ?? {
          PercentageComplete: r.PercentageComplete,
          InstancesToUpdate: r.InstancesToUpdate,
        },
      ) + (r.WarmPoolProgress ? poolProgressXml("WarmPoolProgress", r.WarmPoolProgress) : ""),
    ) +
    element("Preferences", preferencesXml(r.Preferences)) +
    (r.DesiredConfiguration
      ? element(
          "DesiredConfiguration",
          (r.DesiredConfiguration.LaunchTemplate
            ? element("LaunchTemplate", launchTemplateXml(r.DesiredConfiguration.LaunchTemplate))
            : "") +
            (r.DesiredConfiguration.MixedInstancesPolicy
              ? element("MixedInstancesPolicy", structureXml(r.DesiredConfiguration.MixedInstancesPolicy))
              : ""),
        )
      : "") +
    (r.RollbackDetails
      ? element(
          "RollbackDetails",
          field("RollbackReason", r.RollbackDetails.RollbackReason) +
            field("RollbackStartTime", time(r.RollbackDetails.RollbackStartTime)) +
            field("PercentageCompleteOnRollback", r.RollbackDetails.PercentageCompleteOnRollback) +
            field("InstancesToUpdateOnRollback", r.RollbackDetails.InstancesToUpdateOnRollback),
        )
      : "") +
    field("Strategy", r.Strategy)
  );
}

function poolProgressXml(name: string, p: PoolProgress): string {
  return element(
    name,
    field("PercentageComplete", p.PercentageComplete) + field("InstancesToUpdate", p.InstancesToUpdate),
  );
}

function preferencesXml(p: RefreshPreferences): string {
  return (
    field("MinHealthyPercentage", p.MinHealthyPercentage) +
    field("InstanceWarmup", p.InstanceWarmup) +
    (p.CheckpointPercentages
      ? element("CheckpointPercentages", p.CheckpointPercentages.map((v) => field("member", v)).join(""))
      : "") +
    field("CheckpointDelay", p.CheckpointDelay) +
    field("SkipMatching", p.SkipMatching) +
    field("AutoRollback", p.AutoRollback) +
    field("ScaleInProtectedInstances", p.ScaleInProtectedInstances) +
    field("StandbyInstances", p.StandbyInstances) +
    (p.AlarmSpecification
      ? element(
          "AlarmSpecification",
          element("Alarms", p.AlarmSpecification.Alarms.map((a) => field("member", a)).join("")),
        )
      : "") +
    field("MaxHealthyPercentage", p.MaxHealthyPercentage) +
    field("BakeTime", p.BakeTime)
  );
}

function launchTemplateXml(spec: LaunchTemplateSpec): string {
  return (
    field("LaunchTemplateId", spec.LaunchTemplateId) +
    field("LaunchTemplateName", spec.LaunchTemplateName) +
    field("Version", spec.Version)
  );
}
