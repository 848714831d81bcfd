/**
 * What containment needs to exist before the first finding: the quarantine instance profile
 * (contain-revoke swaps a compromised instance's profile for it). It has no role, so an
 * instance wearing it gets no credentials at all, and Phoenix needs no iam:PassRole to attach it.
 */
import type { Policy } from "../src/policy/index";

export function quarantineProfile(policy: Policy): aws.iam.InstanceProfile {
  return new aws.iam.InstanceProfile("QuarantineProfile", {
    name: policy.containment.quarantineInstanceProfile,
    tags: { "phoenix:role": "quarantine" },
  });
}
