import {
  AssociateIamInstanceProfileCommand,
  DescribeAddressesCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DisassociateAddressCommand,
  type IamInstanceProfileAssociation,
  ReplaceIamInstanceProfileAssociationCommand,
} from "@aws-sdk/client-ec2";
import { GetInstanceProfileCommand } from "@aws-sdk/client-iam";
import { awsErrorCode, isAwsError } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import { instanceArn } from "../aws/instance.js";
import { ensureQuarantineProfile, profileNameOf } from "../aws/quarantine-profile.js";
import { REVOCATION_MARGIN_MS, RevocationRefusedError, revokeOnRole } from "../aws/revocation.js";
import { ACTOR, type ContainState, instanceSubject, type RevokeResult } from "../core/types.js";

/** How long the step waits, in real time, for EC2 to confirm the profile swap before it is retried. */
export const ASSOCIATION_WAIT_MS = 30_000;

/**
 * Step 4: swap the instance profile for the quarantine profile, wait until EC2 confirms the
 * swap, deny the credentials the instance already holds (src/containment/aws/revocation.ts), and
 * take its Elastic IPs away. Each part checks before it acts.
 */
export async function revokeCredentials(deps: PhoenixDeps, state: ContainState): Promise<RevokeResult> {
  const input = state.containment;
  const isolation = state.results.isolate;
  const quarantineProfileArn = await ensureQuarantineProfile(deps, input);
  const profile = await swapProfile(deps, input.instanceId, quarantineProfileArn);
  // The swap is asynchronous: until the association is confirmed, the instance may still be
  // handed credentials of its old role. The revocation time is taken after it, with a margin.
  const swapConfirmedAt = await confirmSwap(deps, input.instanceId, quarantineProfileArn);
  // The original profile was recorded before anything changed; the association may already show quarantine.
  const originalProfileArn = isolation?.originalProfileArn ?? profile.replaced;

  let roleName: string | undefined;
  let deny: DenyOutcome | undefined;
  if (originalProfileArn && originalProfileArn !== quarantineProfileArn) {
    roleName = await roleOfProfile(deps, originalProfileArn);
    if (roleName) {
      deny = await denyExistingCredentials(deps, {
        account: isolation?.ownerId ?? input.accountId,
        roleName,
        instanceArn: instanceArn(deps.region, isolation?.ownerId ?? input.accountId, input.instanceId),
        issuedBefore: new Date(swapConfirmedAt.getTime() + REVOCATION_MARGIN_MS).toISOString(),
      });
    }
  }
  const disassociatedAddresses = await disassociateAddresses(
    deps,
    isolation?.interfaces.map((eni) => eni.networkInterfaceId) ?? [],
    input.instanceId,
  );

  const revokedAt = deps.now().toISOString();
  const result: RevokeResult = {
    quarantineProfileArn,
    swapConfirmedAt: swapConfirmedAt.toISOString(),
    ...(roleName ? { roleName } : {}),
    ...(deny?.written ? { denyPolicyName: deny.policy, tokensIssuedBefore: deny.tokensIssuedBefore } : {}),
    ...(deny && !deny.written ? { credentialsNotRevoked: deny.refused } : {}),
    disassociatedAddresses: disassociatedAddresses.map((a) => a.publicIp),
    revokedAt,
  };
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "revoke-credentials",
      // The profile is swapped either way; a deny Phoenix may not write is a failure to see.
      outcome: deny && !deny.written ? "failed" : "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      ...(deny && !deny.written ? { reason: deny.refused } : {}),
      details: {
        profile: {
          from: originalProfileArn ?? null,
          to: quarantineProfileArn,
          swapped: profile.swapped,
          confirmedAt: swapConfirmedAt.toISOString(),
        },
        deny: roleName && deny ? { role: roleName, ...deny } : null,
        addresses: disassociatedAddresses,
        revokedAt,
      },
    },
    `${input.containmentId}#revoke`,
  );
  return result;
}

async function swapProfile(
  deps: PhoenixDeps,
  instanceId: string,
  quarantineProfileArn: string,
): Promise<{ swapped: boolean; replaced?: string }> {
  const association = current(await associationsOf(deps, instanceId));
  const quarantineName = profileNameOf(quarantineProfileArn);
  if (
    association?.IamInstanceProfile?.Arn &&
    profileNameOf(association.IamInstanceProfile.Arn) === quarantineName
  ) {
    return { swapped: false };
  }
  if (association?.AssociationId) {
    await deps.clients.ec2.send(
      new ReplaceIamInstanceProfileAssociationCommand({
        AssociationId: association.AssociationId,
        IamInstanceProfile: { Arn: quarantineProfileArn },
      }),
    );
    return {
      swapped: true,
      ...(association.IamInstanceProfile?.Arn ? { replaced: association.IamInstanceProfile.Arn } : {}),
    };
  }
  // No profile: no credentials to swap away; the quarantine profile makes that explicit.
  await deps.clients.ec2.send(
    new AssociateIamInstanceProfileCommand({
      InstanceId: instanceId,
      IamInstanceProfile: { Arn: quarantineProfileArn },
    }),
  );
  return { swapped: true };
}

async function associationsOf(
  deps: PhoenixDeps,
  instanceId: string,
): Promise<IamInstanceProfileAssociation[]> {
  const { IamInstanceProfileAssociations = [] } = await deps.clients.ec2.send(
    new DescribeIamInstanceProfileAssociationsCommand({
      Filters: [
        { Name: "instance-id", Values: [instanceId] },
        { Name: "state", Values: ["associating", "associated", "disassociating"] },
      ],
    }),
  );
  return IamInstanceProfileAssociations;
}

const current = (associations: IamInstanceProfileAssociation[]) =>
  associations.find((a) => a.State === "associated" || a.State === "associating");

/**
 * Waits until the instance's only association is the quarantine profile, associated: from then
 * on EC2 hands it no credentials of its old role. Returns when that was seen; if EC2 has not
 * confirmed within ASSOCIATION_WAIT_MS, throws so that the workflow retries the step (which
 * finds the swap requested and waits again).
 */
async function confirmSwap(
  deps: PhoenixDeps,
  instanceId: string,
  quarantineProfileArn: string,
): Promise<Date> {
  const quarantineName = profileNameOf(quarantineProfileArn);
  const deadline = Date.now() + ASSOCIATION_WAIT_MS;
  let delay = 250;
  for (;;) {
    const associations = await associationsOf(deps, instanceId);
    const confirmed =
      associations.length === 1 &&
      associations[0]?.State === "associated" &&
      associations[0].IamInstanceProfile?.Arn !== undefined &&
      profileNameOf(associations[0].IamInstanceProfile.Arn) === quarantineName;
    if (confirmed) return deps.now();
    if (Date.now() + delay > deadline) {
      const states = associations.map((a) => `${a.IamInstanceProfile?.Arn ?? "?"} ${a.State}`).join(", ");
      throw new Error(
        `EC2 has not confirmed the quarantine profile on ${instanceId} yet (${states || "no association"}); the step is retried`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 2_000);
  }
}

async function roleOfProfile(deps: PhoenixDeps, profileArn: string): Promise<string | undefined> {
  try {
    const { InstanceProfile } = await deps.clients.iam.send(
      new GetInstanceProfileCommand({ InstanceProfileName: profileNameOf(profileArn) }),
    );
    return InstanceProfile?.Roles?.[0]?.RoleName;
  } catch (error) {
    // The profile was deleted since: its role's sessions can no longer be renewed anyway.
    if (isAwsError(error, "NoSuchEntityException", "NoSuchEntity")) return undefined;
    throw error;
  }
}

type DenyOutcome =
  | {
      written: true;
      /** The role's revocation policy (release reads it from the audit record). */
      policy: string;
      instanceArn: string;
      tokensIssuedBefore: string;
      /** How many instances the policy lists, and its size against the role's budget. */
      listed: number;
      characters: number;
    }
  | { written: false; instanceArn: string; refused: string };

/**
 * The deny on the role, for this instance's sessions issued before the swap was confirmed (plus
 * the margin). Phoenix may write it only on a fleet role (tagged `phoenix:fleet-role=true`, or
 * listed at deploy): on any other role IAM refuses, and the containment goes on with the
 * instance's credentials not revoked, said so in the audit trail and the report, rather than
 * stopping before evidence and replacement.
 */
async function denyExistingCredentials(
  deps: PhoenixDeps,
  target: { account: string; roleName: string; instanceArn: string; issuedBefore: string },
): Promise<DenyOutcome> {
  try {
    const written = await revokeOnRole(deps, target);
    return {
      written: true,
      policy: written.policyName,
      instanceArn: target.instanceArn,
      tokensIssuedBefore: written.issuedBefore,
      listed: written.listed,
      characters: written.characters,
    };
  } catch (error) {
    if (isAwsError(error, "AccessDenied", "AccessDeniedException")) {
      return {
        written: false,
        instanceArn: target.instanceArn,
        refused:
          `credentials not revoked: role ${target.roleName} is not a fleet role (tag it phoenix:fleet-role=true, ` +
          "or list it in PHOENIX_FLEET_ROLE_ARNS), so Phoenix may not write its deny on it; the credentials the " +
          "instance already holds stay valid until they expire",
      };
    }
    if (
      error instanceof RevocationRefusedError ||
      isAwsError(error, "LimitExceeded", "LimitExceededException")
    ) {
      return {
        written: false,
        instanceArn: target.instanceArn,
        refused: `credentials not revoked: ${error instanceof RevocationRefusedError ? error.message : `IAM refused the policy (${awsErrorCode(error)}: ${(error as Error).message})`}`,
      };
    }
    throw error;
  }
}

async function disassociateAddresses(
  deps: PhoenixDeps,
  networkInterfaceIds: readonly string[],
  instanceId: string,
): Promise<{ publicIp: string; allocationId?: string; networkInterfaceId?: string }[]> {
  const filters =
    networkInterfaceIds.length > 0
      ? [{ Name: "network-interface-id", Values: [...networkInterfaceIds] }]
      : [{ Name: "instance-id", Values: [instanceId] }];
  const { Addresses = [] } = await deps.clients.ec2.send(new DescribeAddressesCommand({ Filters: filters }));
  const associated = Addresses.filter((address) => address.AssociationId);
  await Promise.all(
    associated.map(async (address) => {
      try {
        await deps.clients.ec2.send(new DisassociateAddressCommand({ AssociationId: address.AssociationId }));
      } catch (error) {
        // Disassociated by an earlier attempt whose answer was lost.
        if (!isAwsError(error, "InvalidAssociationID.NotFound")) throw error;
      }
    }),
  );
  return associated.map((address) => ({
    publicIp: address.PublicIp ?? "",
    ...(address.AllocationId ? { allocationId: address.AllocationId } : {}),
    ...(address.NetworkInterfaceId ? { networkInterfaceId: address.NetworkInterfaceId } : {}),
  }));
}
