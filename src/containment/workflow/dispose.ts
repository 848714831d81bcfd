import {
  DescribeInstanceAttributeCommand,
  ModifyInstanceAttributeCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { PhoenixDeps } from "../../deps.js";
import { findInstance } from "../aws/instance.js";
import { dispositionFor } from "../core/course.js";
import { ContainmentStepError } from "../core/errors.js";
import { ACTOR, type ContainState, type DisposeResult, instanceSubject } from "../core/types.js";

/**
 * Step 7: dispose per policy, only once the evidence is complete (fail closed: terminate is the
 * one irreversible action). Terminate lifts termination protection just before; stop keeps the
 * instance, isolated, for a person. A standalone instance is kept running and isolated: nothing
 * replaced it, and a person decides what happens to the service it ran.
 */
export async function dispose(deps: PhoenixDeps, state: ContainState): Promise<DisposeResult> {
  const input = state.containment;
  const { evidenceStatus, replace, replacementStatus } = state.results;
  if (evidenceStatus?.complete !== true) {
    throw new ContainmentStepError(
      "Phoenix.Refused",
      "The evidence is not complete: Phoenix does not dispose of the instance.",
    );
  }
  if (replace?.replaced && replacementStatus?.healthy !== true) {
    throw new ContainmentStepError(
      "Phoenix.Refused",
      "The replacement is not healthy yet: Phoenix does not dispose of the instance.",
    );
  }

  let result: DisposeResult;
  const disposition = dispositionFor(deps.policy.containment, replace?.replaced === true);
  if (disposition === "keep") {
    result = {
      disposition: "kept",
      reason: "standalone instance: kept isolated for a person to decide",
      disposedAt: deps.now().toISOString(),
    };
  } else if (disposition === "terminate") {
    result = await terminate(deps, input.instanceId);
  } else {
    result = await stop(deps, input.instanceId);
  }
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "dispose",
      outcome: result.disposition === "kept" ? "skipped" : "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      reason: result.reason,
      details: { disposition: result.disposition, disposedAt: result.disposedAt },
    },
    `${input.containmentId}#dispose`,
  );
  return result;
}

async function terminate(deps: PhoenixDeps, instanceId: string): Promise<DisposeResult> {
  const instance = await findInstance(deps, instanceId);
  const state = instance?.State?.Name;
  if (!instance || state === "terminated" || state === "shutting-down") {
    return { disposition: "terminated", reason: "already terminated", disposedAt: deps.now().toISOString() };
  }
  const ec2 = deps.clients.ec2;
  const protection = await ec2.send(
    new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: "disableApiTermination" }),
  );
  if (protection.DisableApiTermination?.Value === true) {
    await ec2.send(
      new ModifyInstanceAttributeCommand({ InstanceId: instanceId, DisableApiTermination: { Value: false } }),
    );
  }
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  return {
    disposition: "terminated",
    reason: "policy containment.dispose is terminate; evidence complete and replacement healthy",
    disposedAt: deps.now().toISOString(),
  };
}

async function stop(deps: PhoenixDeps, instanceId: string): Promise<DisposeResult> {
  const instance = await findInstance(deps, instanceId);
  const state = instance?.State?.Name;
  if (!instance || state === "terminated" || state === "shutting-down") {
    throw new ContainmentStepError(
      "Phoenix.InstanceGone",
      `Instance ${instanceId} is ${state ?? "gone"}: it cannot be stopped and kept.`,
    );
  }
  if (state !== "stopped" && state !== "stopping") {
    await deps.clients.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  }
  return {
    disposition: "stopped",
    reason: "policy containment.dispose is stop: kept, isolated and stopped",
    disposedAt: deps.now().toISOString(),
  };
}
