import { CreateInstanceProfileCommand, GetInstanceProfileCommand } from "@aws-sdk/client-iam";
import { isAwsError } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import { TAG_ROLE } from "../../tags.js";
import { ACTOR, type ContainmentInput } from "../core/types.js";

/**
 * The quarantine instance profile: an instance profile with no role, so an instance wearing it
 * gets no credentials at all. The deployed stack creates it; if it is missing (a new account, a
 * person deleted it) the step creates it rather than leave the compromised instance with its
 * role. That needs iam:CreateInstanceProfile on this one profile's ARN only.
 */
export async function ensureQuarantineProfile(deps: PhoenixDeps, input: ContainmentInput): Promise<string> {
  const name = deps.policy.containment.quarantineInstanceProfile;
  try {
    const { InstanceProfile } = await deps.clients.iam.send(
      new GetInstanceProfileCommand({ InstanceProfileName: name }),
    );
    return InstanceProfile!.Arn!;
  } catch (error) {
    if (!isAwsError(error, "NoSuchEntityException", "NoSuchEntity")) throw error;
  }
  try {
    const { InstanceProfile } = await deps.clients.iam.send(
      new CreateInstanceProfileCommand({
        InstanceProfileName: name,
        Tags: [{ Key: TAG_ROLE, Value: "quarantine" }],
      }),
    );
    await deps.audit.write(
      {
        subject: `instance-profile/${name}`,
        action: "create-quarantine-profile",
        outcome: "ok",
        actor: ACTOR,
        execution: input.containmentId,
        findingId: input.findingId,
        reason: "the quarantine instance profile was missing",
      },
      "create",
    );
    return InstanceProfile!.Arn!;
  } catch (error) {
    if (!isAwsError(error, "EntityAlreadyExistsException", "EntityAlreadyExists")) throw error;
    const { InstanceProfile } = await deps.clients.iam.send(
      new GetInstanceProfileCommand({ InstanceProfileName: name }),
    );
    return InstanceProfile!.Arn!;
  }
}

/** The name of an instance profile from its ARN (`…:instance-profile/path/name`). */
export function profileNameOf(arn: string): string {
  return arn.slice(arn.lastIndexOf("/") + 1);
}
