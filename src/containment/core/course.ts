import type { ContainmentPolicy } from "../../policy/schema.js";

/**
 * The course a containment takes for one instance, decided once: the dry-run plan shows it, and
 * the workflow's Replace and Dispose steps follow it. Pure.
 */
export type Disposition = "terminate" | "stop" | "keep";

export interface PlannedStep {
  /** The contain workflow's state. */
  state:
    | "Isolate"
    | "Harden"
    | "RevokeCredentials"
    | "Replace"
    | "TraceImage"
    | "CollectEvidence"
    | "Dispose"
    | "Report";
  /** What it does here; "skip" when it runs but changes nothing for this instance. */
  action: string;
  text: string;
}

/**
 * What becomes of the instance once its evidence is complete. A standalone instance is kept
 * (isolated): nothing replaced it, and a person decides what happens to the service it ran.
 * An instance that was replaced in its group is terminated or stopped, as the policy says.
 */
export function dispositionFor(policy: Pick<ContainmentPolicy, "dispose">, replaced: boolean): Disposition {
  if (!replaced) return "keep";
  return policy.dispose === "terminate" ? "terminate" : "stop";
}

export function containCourse(
  policy: Pick<
    ContainmentPolicy,
    | "dispose"
    | "isolationSecurityGroupName"
    | "quarantineSecurityGroupName"
    | "quarantineInstanceProfile"
    | "memoryCaptureDocument"
    | "replacementTimeoutMinutes"
  >,
  group: string | undefined,
): PlannedStep[] {
  const disposition = dispositionFor(policy, group !== undefined);
  return [
    {
      state: "Isolate",
      action: "isolate",
      text: `every network interface to ${policy.isolationSecurityGroupName} (allow-all, untracks flows), then ${policy.quarantineSecurityGroupName} (no rules); tag phoenix:quarantine`,
    },
    {
      state: "Harden",
      action: "harden",
      text: "termination protection on, DeleteOnTermination=false on every volume",
    },
    {
      state: "RevokeCredentials",
      action: "revoke",
      text: `instance profile swapped to ${policy.quarantineInstanceProfile}, inline deny on the role for this instance's earlier sessions; Elastic IPs disassociated`,
    },
    group !== undefined
      ? {
          state: "Replace",
          action: "detach",
          text: `detach from ${group} without decrement, before the evidence steps (a replacement launches from its current launch template; no refresh or scale-in of the group can terminate the instance after that); once the evidence is complete, wait up to ${policy.replacementTimeoutMinutes} min for full healthy capacity (longer while a launch lifecycle hook holds the replacement, by its heartbeat timeout)`,
        }
      : {
          state: "Replace",
          action: "skip",
          text: "skipped: not in an Auto Scaling group, nothing replaces it",
        },
    {
      state: "TraceImage",
      action: "trace",
      text: "record the containment under the instance's image; a poisoned image (enough of its instances contained in containment.poisonedImage's window) is marked compromised and its family rolled back",
    },
    {
      state: "CollectEvidence",
      action: "snapshot",
      text: `snapshot every EBS volume${policy.memoryCaptureDocument ? `, memory capture with ${policy.memoryCaptureDocument}` : ""}; wait for snapshots`,
    },
    disposition === "keep"
      ? {
          state: "Dispose",
          action: "keep",
          text: "skipped: a standalone instance is kept, isolated, for a person to decide",
        }
      : {
          state: "Dispose",
          action: disposition,
          text: `${disposition} the instance once evidence is complete`,
        },
    { state: "Report", action: "report", text: "audit trail and notification" },
  ];
}
