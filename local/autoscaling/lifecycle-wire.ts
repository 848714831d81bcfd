import { randomUUID } from "node:crypto";
import type { LocalCloudContext } from "../core/context.js";
import { type AwsRequest, queryList } from "../gateway/request.js";
import { type AwsResponse, awsError } from "../gateway/response.js";
import type { ServiceHandler } from "../gateway/server.js";
import type { LifecycleManager } from "./lifecycle.js";
import { type LifecycleHook, nullParameter, type PutHookRequest } from "./lifecycle-model.js";
import type { MotoFleet } from "./moto-fleet.js";
import { RefreshApiError } from "./refresh-model.js";
import { element, emptyResult, field, integer, result, time } from "./wire.js";

/**
 * Lifecycle hooks on the Query protocol. The hook operations (Put/Describe/Delete, which moto
 * keeps without metadata, target, role or validation; DescribeLifecycleHookTypes) and the
 * lifecycle actions (CompleteLifecycleAction, RecordLifecycleActionHeartbeat, which moto lacks)
 * are served here. Calls after which Auto Scaling terminates instances
 * (TerminateInstanceInAutoScalingGroup, SetDesiredCapacity/UpdateAutoScalingGroup scaling in)
 * put those instances through the group's terminate hooks first; CreateAutoScalingGroup takes
 * LifecycleHookSpecificationList, so the first instances already wait for them. Everything else
 * goes on to `passOn` (moto, then the launch tracking).
 */

const HOOK_ACTIONS = new Set([
  "PutLifecycleHook",
  "DescribeLifecycleHooks",
  "DeleteLifecycleHook",
  "DescribeLifecycleHookTypes",
  "CompleteLifecycleAction",
  "RecordLifecycleActionHeartbeat",
]);
const TERMINATING_ACTIONS = new Set([
  "TerminateInstanceInAutoScalingGroup",
  "SetDesiredCapacity",
  "UpdateAutoScalingGroup",
  "CreateAutoScalingGroup",
  "DeleteAutoScalingGroup",
]);

const validation = (message: string) => new RefreshApiError("ValidationError", message);

export function lifecycleHandler(
  lifecycle: LifecycleManager,
  fleet: MotoFleet,
  passOn: ServiceHandler,
  context: Pick<LocalCloudContext, "clock">,
): ServiceHandler {
  return {
    name: "autoscaling-lifecycle",
    handles: (request) =>
      request.service === "autoscaling" &&
      request.protocol === "query" &&
      (HOOK_ACTIONS.has(request.action) || TERMINATING_ACTIONS.has(request.action)),
    handle: async (request) => {
      try {
        if (HOOK_ACTIONS.has(request.action)) return await serveHooks(lifecycle, fleet, request);
        return await serveTerminating(lifecycle, fleet, passOn, context, request);
      } catch (error) {
        if (error instanceof RefreshApiError) {
          return awsError(request.protocol, "autoscaling", error.status, error.code, error.message);
        }
        throw error;
      }
    },
  };
}

async function requireGroup(fleet: MotoFleet, name: string | undefined) {
  if (!name) throw validation(nullParameter("autoScalingGroupName"));
  const group = await fleet.describeGroup(name);
  if (!group) throw validation(`AutoScalingGroup name not found - AutoScalingGroup '${name}' not found`);
  return group;
}

async function serveHooks(
  lifecycle: LifecycleManager,
  fleet: MotoFleet,
  request: AwsRequest,
): Promise<AwsResponse> {
  const params = request.params;
  const groupName = params.get("AutoScalingGroupName") ?? undefined;
  switch (request.action) {
    case "DescribeLifecycleHookTypes":
      return result(
        "DescribeLifecycleHookTypes",
        element(
          "LifecycleHookTypes",
          field("member", "autoscaling:EC2_INSTANCE_LAUNCHING") +
            field("member", "autoscaling:EC2_INSTANCE_TERMINATING"),
        ),
      );
    case "PutLifecycleHook": {
      const group = await requireGroup(fleet, groupName);
      lifecycle.hooks.put({ ...hookParams(params, ""), AutoScalingGroupName: group.name });
      return emptyResult("PutLifecycleHook");
    }
    case "DescribeLifecycleHooks": {
      const group = await requireGroup(fleet, groupName);
      const hooks = lifecycle.hooks.list(group.name, queryList(params, "LifecycleHookNames"));
      return result(
        "DescribeLifecycleHooks",
        element("LifecycleHooks", hooks.map((h) => element("member", hookXml(h))).join("")),
      );
    }
    case "DeleteLifecycleHook": {
      const group = await requireGroup(fleet, groupName);
      lifecycle.hooks.delete(group.name, params.get("LifecycleHookName") ?? "");
      return emptyResult("DeleteLifecycleHook");
    }
    case "CompleteLifecycleAction": {
      const outcome = params.get("LifecycleActionResult");
      if (!outcome) throw validation(nullParameter("lifecycleActionResult"));
      if (outcome !== "CONTINUE" && outcome !== "ABANDON") {
        throw validation(
          `Invalid value for LifecycleActionResult: ${outcome}. Valid values are CONTINUE and ABANDON.`,
        );
      }
      lifecycle.complete({ ...actionTarget(params, groupName), result: outcome });
      return emptyResult("CompleteLifecycleAction");
    }
    default: {
      lifecycle.heartbeat(actionTarget(params, groupName));
      return emptyResult("RecordLifecycleActionHeartbeat");
    }
  }
}

function actionTarget(params: URLSearchParams, groupName: string | undefined) {
  if (!groupName) throw validation(nullParameter("autoScalingGroupName"));
  const hookName = params.get("LifecycleHookName");
  if (!hookName) throw validation(nullParameter("lifecycleHookName"));
  const token = params.get("LifecycleActionToken") ?? undefined;
  const instanceId = params.get("InstanceId") ?? undefined;
  return { groupName, hookName, ...(token ? { token } : {}), ...(instanceId ? { instanceId } : {}) };
}

/** A hook's parameters under `prefix` (PutLifecycleHook: none; a specification list: `…member.N.`). */
function hookParams(params: URLSearchParams, prefix: string): PutHookRequest {
  const text = (name: string) => params.get(`${prefix}${name}`) ?? undefined;
  const heartbeat = integer(params, `${prefix}HeartbeatTimeout`);
  const request: PutHookRequest = {};
  for (const name of [
    "LifecycleHookName",
    "LifecycleTransition",
    "NotificationTargetARN",
    "RoleARN",
    "NotificationMetadata",
    "DefaultResult",
  ] as const) {
    const value = text(name);
    if (value !== undefined) request[name] = value;
  }
  if (heartbeat !== undefined) request.HeartbeatTimeout = heartbeat;
  return request;
}

function hookXml(h: LifecycleHook): string {
  return (
    field("LifecycleHookName", h.LifecycleHookName) +
    field("AutoScalingGroupName", h.AutoScalingGroupName) +
    field("LifecycleTransition", h.LifecycleTransition) +
    field("NotificationTargetARN", h.NotificationTargetARN) +
    field("RoleARN", h.RoleARN) +
    field("NotificationMetadata", h.NotificationMetadata) +
    field("HeartbeatTimeout", h.HeartbeatTimeout) +
    field("GlobalTimeout", h.GlobalTimeout) +
    field("DefaultResult", h.DefaultResult)
  );
}

// ── calls after which Auto Scaling terminates or launches ──────────────────────────────────────

async function serveTerminating(
  lifecycle: LifecycleManager,
  fleet: MotoFleet,
  passOn: ServiceHandler,
  context: Pick<LocalCloudContext, "clock">,
  request: AwsRequest,
): Promise<AwsResponse> {
  const params = request.params;
  const groupName = params.get("AutoScalingGroupName") ?? "";
  switch (request.action) {
    case "CreateAutoScalingGroup":
      return createWithHooks(lifecycle, passOn, request);
    case "DeleteAutoScalingGroup": {
      const response = await passOn.handle(request);
      if (response.status < 300) lifecycle.hooks.forgetGroup(groupName);
      return response;
    }
    case "TerminateInstanceInAutoScalingGroup": {
      const instanceId = params.get("InstanceId") ?? "";
      const [membership] = instanceId ? await fleet.memberships([instanceId]) : [];
      if (
        !membership ||
        lifecycle.hooks.forTransition(membership.groupName, "autoscaling:EC2_INSTANCE_TERMINATING").length ===
          0
      ) {
        if (instanceId && lifecycle.isHeld(instanceId)) {
          throw validation(`The instance ${instanceId} is already terminating.`);
        }
        return passOn.handle(request);
      }
      const decrement = params.get("ShouldDecrementDesiredCapacity") === "true";
      const group = await fleet.describeGroup(membership.groupName);
      const before = group?.desiredCapacity ?? 0;
      await lifecycle.hold([membership], decrement);
      return result(
        "TerminateInstanceInAutoScalingGroup",
        element(
          "Activity",
          terminateActivityXml(
            membership.groupName,
            instanceId,
            context.clock.now(),
            decrement ? [before, before - 1] : undefined,
          ),
        ),
      );
    }
    default: {
      // SetDesiredCapacity / UpdateAutoScalingGroup: a scale-in goes through the terminate hooks.
      const hooked =
        lifecycle.hooks.forTransition(groupName, "autoscaling:EC2_INSTANCE_TERMINATING").length > 0;
      if (hooked) await scaleInThroughHooks(lifecycle, fleet, request);
      return passOn.handle(request);
    }
  }
}

/**
 * The instances a scale-in takes, held in Terminating:Wait before the call reaches moto (which
 * then has nothing left to terminate): as many as the group has above the new desired capacity
 * (or a lowered MaxSize), unprotected ones only, in moto's own order.
 */
async function scaleInThroughHooks(
  lifecycle: LifecycleManager,
  fleet: MotoFleet,
  request: AwsRequest,
): Promise<void> {
  const params = request.params;
  const group = await fleet.describeGroup(params.get("AutoScalingGroupName") ?? "");
  if (!group) return;
  const inService = group.instances.filter((i) => i.lifecycleState === "InService");
  const desired = integer(params, "DesiredCapacity");
  const max = integer(params, "MaxSize");
  const target = desired ?? (max !== undefined && max < inService.length ? max : undefined);
  if (target === undefined || target >= inService.length) return;
  const victims = inService.filter((i) => !i.protectedFromScaleIn).slice(0, inService.length - target);
  if (victims.length === 0) return;
  const memberships = await fleet.memberships(victims.map((v) => v.instanceId));
  await lifecycle.hold(memberships, true);
}

/** CreateAutoScalingGroup with LifecycleHookSpecificationList: hooks in place before the first launch. */
async function createWithHooks(
  lifecycle: LifecycleManager,
  passOn: ServiceHandler,
  request: AwsRequest,
): Promise<AwsResponse> {
  const params = request.params;
  const groupName = params.get("AutoScalingGroupName") ?? "";
  const specs: PutHookRequest[] = [];
  for (let i = 1; params.has(`LifecycleHookSpecificationList.member.${i}.LifecycleHookName`); i++) {
    specs.push(hookParams(params, `LifecycleHookSpecificationList.member.${i}.`));
  }
  if (specs.length === 0 || !groupName) return passOn.handle(request);
  const existing = lifecycle.hooks.list(groupName);
  if (existing.length > 0) return passOn.handle(request); // the group exists: moto says AlreadyExists
  // Every specification is checked before anything is created, as AWS refuses the whole call.
  try {
    for (const spec of specs) {
      if (!spec.LifecycleTransition)
        throw validation("LifecycleTransition is required when creating a lifecycle hook.");
      lifecycle.hooks.put({ ...spec, AutoScalingGroupName: groupName });
    }
  } catch (error) {
    lifecycle.hooks.forgetGroup(groupName);
    throw error;
  }
  const response = await passOn.handle(request).catch((error: unknown) => {
    lifecycle.hooks.forgetGroup(groupName);
    throw error;
  });
  if (response.status >= 300) lifecycle.hooks.forgetGroup(groupName);
  return response;
}

function terminateActivityXml(
  groupName: string,
  instanceId: string,
  now: number,
  shrink: [number, number] | undefined,
): string {
  const at = time(now);
  return (
    field("ActivityId", randomUUID()) +
    field("AutoScalingGroupName", groupName) +
    field("Description", `Terminating EC2 instance: ${instanceId}`) +
    field(
      "Cause",
      `At ${at} instance ${instanceId} was taken out of service in response to a user request` +
        (shrink ? `, shrinking the capacity from ${shrink[0]} to ${shrink[1]}.` : "."),
    ) +
    field("StartTime", at) +
    field("StatusCode", "InProgress") +
    field("Progress", 0) +
    field("Details", "{}")
  );
}
