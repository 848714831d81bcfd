import type { AwsRequest } from "../gateway/request.js";
import { type AwsResponse, awsError } from "../gateway/response.js";
import type { ServiceHandler } from "../gateway/server.js";
import { RefreshApiError } from "./refresh-model.js";
import type { WarmPools } from "./warm-pool.js";
import { type WarmInstance, type WarmPoolConfiguration, warmLifecycleState } from "./warm-pool-model.js";
import { boolean, element, emptyResult, field, integer, result } from "./wire.js";

/**
 * Warm pools on the Query protocol: PutWarmPool, DescribeWarmPool and DeleteWarmPool are served
 * here (moto would only keep the configuration). Calls that change a pooled group's capacity
 * (SetDesiredCapacity, UpdateAutoScalingGroup) take warm instances first and fill the pool
 * again after; DeleteAutoScalingGroup takes the pool with the group. Those go on to `next`.
 */

const POOL_ACTIONS = new Set(["PutWarmPool", "DescribeWarmPool", "DeleteWarmPool"]);
const GROUP_ACTIONS = new Set(["SetDesiredCapacity", "UpdateAutoScalingGroup", "DeleteAutoScalingGroup"]);
/** DescribeWarmPool's MaxRecords: "The maximum value is 50" (API reference). */
const MAX_RECORDS = 50;

const validation = (message: string) => new RefreshApiError("ValidationError", message);

export function warmPoolHandler(pools: WarmPools, next: ServiceHandler): ServiceHandler {
  return {
    name: "autoscaling-warm-pools",
    handles: (request) =>
      request.service === "autoscaling" &&
      request.protocol === "query" &&
      (POOL_ACTIONS.has(request.action) ||
        (GROUP_ACTIONS.has(request.action) &&
          pools.book.has(request.params.get("AutoScalingGroupName") ?? ""))),
    handle: async (request) => {
      try {
        if (POOL_ACTIONS.has(request.action)) return await servePool(pools, request);
        return await serveGroup(pools, next, request);
      } catch (error) {
        if (error instanceof RefreshApiError) {
          return awsError(request.protocol, "autoscaling", error.status, error.code, error.message);
        }
        throw error;
      }
    },
  };
}

async function servePool(pools: WarmPools, request: AwsRequest): Promise<AwsResponse> {
  const params = request.params;
  const groupName = params.get("AutoScalingGroupName") ?? "";
  switch (request.action) {
    case "PutWarmPool": {
      const max = integer(params, "MaxGroupPreparedCapacity");
      const min = integer(params, "MinSize");
      const state = params.get("PoolState") || undefined;
      const reuse = boolean(params, "InstanceReusePolicy.ReuseOnScaleIn");
      await pools.put(groupName, {
        ...(max !== undefined ? { MaxGroupPreparedCapacity: max } : {}),
        ...(min !== undefined ? { MinSize: min } : {}),
        ...(state !== undefined ? { PoolState: state } : {}),
        ...(reuse !== undefined ? { ReuseOnScaleIn: reuse } : {}),
      });
      return emptyResult("PutWarmPool");
    }
    case "DeleteWarmPool":
      await pools.delete(groupName, boolean(params, "ForceDelete") === true);
      return emptyResult("DeleteWarmPool");
    default: {
      if (!groupName) {
        throw validation(
          "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null",
        );
      }
      const max = integer(params, "MaxRecords") ?? MAX_RECORDS;
      if (max < 1 || max > MAX_RECORDS) throw validation(`MaxRecords must be between 1 and ${MAX_RECORDS}.`);
      const offset = decodeToken(params.get("NextToken") ?? undefined);
      const { config, instances } = pools.describe(groupName);
      // A group without a pool answers an empty pool; no such group, an error.
      if (!config) await pools.requireGroup(groupName);
      const page = instances.slice(offset, offset + max);
      const next = offset + max < instances.length ? encodeToken(offset + max) : undefined;
      return result(
        "DescribeWarmPool",
        (config ? element("WarmPoolConfiguration", configurationXml(config)) : "") +
          element("Instances", page.map((i) => element("member", instanceXml(i))).join("")) +
          field("NextToken", next),
      );
    }
  }
}

async function serveGroup(pools: WarmPools, next: ServiceHandler, request: AwsRequest): Promise<AwsResponse> {
  const params = request.params;
  const groupName = params.get("AutoScalingGroupName") ?? "";
  if (request.action === "DeleteAutoScalingGroup") {
    const response = await next.handle(request);
    if (response.status < 300) await pools.drop(groupName);
    return response;
  }
  if (
    request.action === "UpdateAutoScalingGroup" &&
    [...params.keys()].some((k) => k.startsWith("MixedInstancesPolicy."))
  ) {
    // The warm pool limitation holds both ways: a pooled group cannot take a mixed policy.
    throw validation(
      "You cannot use a mixed instances policy with an Auto Scaling group that has a warm pool.",
    );
  }
  const desired = integer(params, "DesiredCapacity");
  const maxSize = integer(params, "MaxSize");
  if (desired !== undefined) await pools.beforeScaleOut(groupName, desired, maxSize);
  const response = await next.handle(request);
  if (response.status < 300) await pools.fill(groupName);
  return response;
}

function configurationXml(c: WarmPoolConfiguration): string {
  return (
    field("MaxGroupPreparedCapacity", c.MaxGroupPreparedCapacity) +
    field("MinSize", c.MinSize) +
    field("PoolState", c.PoolState) +
    field("Status", c.Status) +
    (c.InstanceReusePolicy
      ? element("InstanceReusePolicy", field("ReuseOnScaleIn", c.InstanceReusePolicy.ReuseOnScaleIn))
      : "")
  );
}

/** Rendered into DescribeAutoScalingGroups too (overlay.ts). */
export function warmPoolConfigurationXml(c: WarmPoolConfiguration): string {
  return element("WarmPoolConfiguration", configurationXml(c));
}

function instanceXml(i: WarmInstance): string {
  return (
    field("InstanceId", i.instanceId) +
    field("InstanceType", i.instanceType) +
    field("AvailabilityZone", i.availabilityZone) +
    field("LifecycleState", warmLifecycleState(i)) +
    field("HealthStatus", "Healthy") +
    element(
      "LaunchTemplate",
      field("LaunchTemplateId", i.launchTemplate.LaunchTemplateId) +
        field("LaunchTemplateName", i.launchTemplate.LaunchTemplateName) +
        field("Version", i.launchTemplate.Version),
    ) +
    field("ProtectedFromScaleIn", false)
  );
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString("base64url");
}

function decodeToken(token: string | undefined): number {
  if (token === undefined || token === "") return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { offset?: unknown };
    if (typeof offset === "number" && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through
  }
  throw new RefreshApiError("InvalidNextToken", "The token provided is not valid.");
}
