import {
  AssociateIamInstanceProfileCommand,
  DescribeAddressesCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DisassociateAddressCommand,
  ReplaceIamInstanceProfileAssociationCommand,
} from "@aws-sdk/client-ec2";
import { GetInstanceProfileCommand, GetRolePolicyCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import type { PhoenixDeps } from "../../deps.js";
import { isAwsError } from "./errors.js";
import { instanceArn } from "./instance.js";
import { ensureQuarantineProfile, profileNameOf } from "./quarantine-profile.js";
import { ACTOR, type ContainState, instanceSubject, type RevokeResult } from "./types.js";

/** One inline policy per instance, so containing one instance never touches another's. */
export const denyPolicyName = (instanceId: string): string => `phoenix-revoke-${instanceId}`;

/**
 * The deny that invalidates credentials already handed to this instance: every action, for
 * sessions whose source instance is this one and that were issued before now. Other instances
 * using the same role are not affected; the instance gets no new credentials of the role because
 * its profile was swapped first.
 */
export function denyPolicyDocument(arn: string, issuedBefore: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "PhoenixRevokeInstanceCredentials",
        Effect: "Deny",
        Action: "*",
        Resource: "*",
        Condition: {
          StringEquals: { "ec2:SourceInstanceARN": arn },
          DateLessThan: { "aws:TokenIssueTime": issuedBefore },
        },
      },
    ],
  });
}

/**
 * Step 4: swap the instance profile for the quarantine profile, deny the credentials the
 * instance already holds, and take its Elastic IPs away. Each part checks before it acts.
 */
export async function revokeCredentials(deps: PhoenixDeps, state: ContainState): Promise<RevokeResult> {
  const input = state.containment;
  const isolation = state.results.isolate;
  const quarantineProfileArn = await ensureQuarantineProfile(deps, input);
  const profile = await swapProfile(deps, input.instanceId, quarantineProfileArn);
  // The original profile was recorded before anything changed; the association may already show quarantine.
  const originalProfileArn = isolation?.originalProfileArn ?? profile.replaced;

  let roleName: string | undefined;
  let tokensIssuedBefore: string | undefined;
  let denyWritten = false;
  if (originalProfileArn && originalProfileArn !== quarantineProfileArn) {
    roleName = await roleOfProfile(deps, originalProfileArn);
    if (roleName) {
      const deny = await denyExistingCredentials(
        deps,
        roleName,
        input.instanceId,
        isolation?.ownerId ?? input.accountId,
      );
      tokensIssuedBefore = deny.issuedBefore;
      denyWritten = deny.written;
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
    ...(roleName ? { roleName, denyPolicyName: denyPolicyName(input.instanceId) } : {}),
    ...(tokensIssuedBefore ? { tokensIssuedBefore } : {}),
    disassociatedAddresses: disassociatedAddresses.map((a) => a.publicIp),
    revokedAt,
  };
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "revoke-credentials",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: {
        profile: { from: originalProfileArn ?? null, to: quarantineProfileArn, swapped: profile.swapped },
        deny: roleName
          ? {
              role: roleName,
              policy: denyPolicyName(input.instanceId),
              tokensIssuedBefore,
              written: denyWritten,
            }
          : null,
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
  const { IamInstanceProfileAssociations = [] } = await deps.clients.ec2.send(
    new DescribeIamInstanceProfileAssociationsCommand({
      Filters: [
        { Name: "instance-id", Values: [instanceId] },
        { Name: "state", Values: ["associating", "associated"] },
      ],
    }),
  );
  const association = IamInstanceProfileAssociations.find(
    (a) => a.State === "associated" || a.State === "associating",
  );
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

async function denyExistingCredentials(
  deps: PhoenixDeps,
  roleName: string,
  instanceId: string,
  ownerId: string,
): Promise<{ issuedBefore: string; written: boolean }> {
  const PolicyName = denyPolicyName(instanceId);
  try {
    const existing = await deps.clients.iam.send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName }),
    );
    const issuedBefore = issuedBeforeIn(existing.PolicyDocument);
    if (issuedBefore) return { issuedBefore, written: false };
  } catch (error) {
    if (!isAwsError(error, "NoSuchEntityException", "NoSuchEntity")) throw error;
  }
  // "Now" is after the profile swap: every credential of the role this instance holds predates it.
  const issuedBefore = deps.now().toISOString();
  await deps.clients.iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName,
      PolicyName,
      PolicyDocument: denyPolicyDocument(instanceArn(deps.region, ownerId, instanceId), issuedBefore),
    }),
  );
  return { issuedBefore, written: true };
}

/** IAM returns policy documents URL-encoded. */
function issuedBeforeIn(document: string | undefined): string | undefined {
  if (!document) return undefined;
  try {
    const text = document.trimStart().startsWith("{") ? document : decodeURIComponent(document);
    const parsed = JSON.parse(text) as {
      Statement?: { Condition?: { DateLessThan?: Record<string, string> } }[];
    };
    return parsed.Statement?.[0]?.Condition?.DateLessThan?.["aws:TokenIssueTime"];
  } catch {
    return undefined;
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
