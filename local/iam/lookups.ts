import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient, ListTagsOfResourceCommand } from "@aws-sdk/client-dynamodb";
import {
  DescribeAddressesCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  EC2Client,
  type ResponseLaunchTemplateData,
} from "@aws-sdk/client-ec2";
import {
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from "@aws-sdk/client-iam";
import {
  DescribeKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListResourceTagsCommand,
} from "@aws-sdk/client-kms";
import { ListTagsForResourceCommand, SNSClient } from "@aws-sdk/client-sns";
import { inAccount } from "../gateway/moto-account.js";

/**
 * What the request-context builders need to know about resources at the time of a call, asked of
 * moto with its own describe calls (straight to moto, with the local cloud's own credentials: no
 * faults, not in the call log, not evaluated). Each returns undefined when the resource does not
 * exist: AWS authorizes a call before it looks for the resource, so the builder then names the
 * resource from the request, with no tags.
 */

export type Tags = Record<string, string>;

export interface ClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
}

export interface GroupFacts {
  arn: string;
  tags: Tags;
  launchTemplate?: { id?: string; name?: string; version?: string };
  subnetIds: string[];
}

export interface RoleFacts {
  arn: string;
  name: string;
  tags: Tags;
  trustPolicy?: unknown;
  permissionsBoundaryArn?: string;
}

export interface ProfileFacts {
  arn: string;
  tags: Tags;
  roleNames: string[];
}

export interface AddressFacts {
  allocationId?: string;
  networkInterfaceId?: string;
  instanceId?: string;
}

export interface KeyFacts {
  arn: string;
  aliases: string[];
  tags: Tags;
}

export interface RolePolicies {
  role: RoleFacts;
  /** Inline policies by name, then attached managed policies by ARN. */
  identity: { name: string; policy: unknown }[];
  boundary?: { name: string; policy: unknown };
}

const tagsOf = (list: { Key?: string; Value?: string }[] | undefined): Tags =>
  Object.fromEntries((list ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key!, t.Value ?? ""]));

/** IAM's query API returns policy documents URL-encoded. */
function policyJson(text: string | undefined): unknown {
  if (!text) return undefined;
  const decoded = text.trimStart().startsWith("{") ? text : decodeURIComponent(text);
  return JSON.parse(decoded);
}

function notFound(error: unknown): boolean {
  const name = (error as { name?: string; Code?: string })?.name ?? "";
  return /NotFound|NoSuchEntity|ValidationError|InvalidParameterValue|Malformed/i.test(name);
}

async function orUndefined<T>(work: Promise<T>): Promise<T | undefined> {
  try {
    return await work;
  } catch (error) {
    if (notFound(error)) return undefined;
    throw error;
  }
}

export class MotoLookups {
  private readonly ec2: EC2Client;
  private readonly autoscaling: AutoScalingClient;
  private readonly iam: IAMClient;
  private readonly kms: KMSClient;
  private readonly dynamodb: DynamoDBClient;
  private readonly sns: SNSClient;

  /** `account`: whose moto state is asked (the local cloud's own when not given). */
  constructor(config: ClientConfig, account?: string) {
    this.ec2 = inAccount(new EC2Client(config), account);
    this.autoscaling = inAccount(new AutoScalingClient(config), account);
    this.iam = inAccount(new IAMClient(config), account);
    this.kms = inAccount(new KMSClient(config), account);
    this.dynamodb = inAccount(new DynamoDBClient(config), account);
    this.sns = inAccount(new SNSClient(config), account);
  }

  /** Tags of EC2 resources by id (instances, security groups, images, snapshots, volumes…). */
  async ec2Tags(ids: string[]): Promise<Map<string, Tags>> {
    const unique = [...new Set(ids.filter(Boolean))];
    const tags = new Map<string, Tags>(unique.map((id) => [id, {}]));
    if (unique.length === 0) return tags;
    let NextToken: string | undefined;
    do {
      const page = await this.ec2.send(
        new DescribeTagsCommand({ Filters: [{ Name: "resource-id", Values: unique }], NextToken }),
      );
      for (const tag of page.Tags ?? []) {
        if (!tag.ResourceId || tag.Key === undefined) continue;
        const of = tags.get(tag.ResourceId) ?? {};
        of[tag.Key] = tag.Value ?? "";
        tags.set(tag.ResourceId, of);
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return tags;
  }

  async group(name: string): Promise<GroupFacts | undefined> {
    const { AutoScalingGroups = [] } = await this.autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
    );
    const group = AutoScalingGroups[0];
    if (!group?.AutoScalingGroupARN) return undefined;
    const template =
      group.LaunchTemplate ?? group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
    return {
      arn: group.AutoScalingGroupARN,
      tags: tagsOf(group.Tags),
      ...(template
        ? {
            launchTemplate: {
              ...(template.LaunchTemplateId ? { id: template.LaunchTemplateId } : {}),
              ...(template.LaunchTemplateName ? { name: template.LaunchTemplateName } : {}),
              ...(template.Version ? { version: template.Version } : {}),
            },
          }
        : {}),
      subnetIds: (group.VPCZoneIdentifier ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    };
  }

  /** The group an instance is in (what calls naming only the instance are authorized on). */
  async groupOfInstance(instanceId: string): Promise<string | undefined> {
    const found = await orUndefined(
      this.autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] })),
    );
    return found?.AutoScalingInstances?.[0]?.AutoScalingGroupName;
  }

  async launchTemplateId(name: string): Promise<string | undefined> {
    const found = await orUndefined(
      this.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [name] })),
    );
    return found?.LaunchTemplates?.[0]?.LaunchTemplateId;
  }

  async templateVersion(
    template: { id?: string; name?: string },
    version = "$Default",
  ): Promise<{ id: string; data: ResponseLaunchTemplateData } | undefined> {
    const found = await orUndefined(
      this.ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          ...(template.id ? { LaunchTemplateId: template.id } : { LaunchTemplateName: template.name }),
          Versions: [version],
        }),
      ),
    );
    const entry = found?.LaunchTemplateVersions?.[0];
    if (!entry?.LaunchTemplateId) return undefined;
    return { id: entry.LaunchTemplateId, data: entry.LaunchTemplateData ?? {} };
  }

  async subnetOwners(ids: string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    if (ids.length === 0) return owners;
    const found = await orUndefined(this.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids })));
    for (const subnet of found?.Subnets ?? []) {
      if (subnet.SubnetId && subnet.OwnerId) owners.set(subnet.SubnetId, subnet.OwnerId);
    }
    return owners;
  }

  async instanceOfAssociation(associationId: string): Promise<string | undefined> {
    const found = await orUndefined(
      this.ec2.send(new DescribeIamInstanceProfileAssociationsCommand({ AssociationIds: [associationId] })),
    );
    return found?.IamInstanceProfileAssociations?.[0]?.InstanceId;
  }

  /** The instance profile currently associated with an instance (what IMDS hands credentials for). */
  async profileOfInstance(instanceId: string): Promise<string | undefined> {
    const found = await orUndefined(
      this.ec2.send(
        new DescribeIamInstanceProfileAssociationsCommand({
          Filters: [{ Name: "instance-id", Values: [instanceId] }],
        }),
      ),
    );
    const association = (found?.IamInstanceProfileAssociations ?? []).find(
      (a) => a.State === "associated" || a.State === "associating",
    );
    return association?.IamInstanceProfile?.Arn;
  }

  async address(query: { associationId?: string; publicIp?: string }): Promise<AddressFacts | undefined> {
    const found = await orUndefined(
      this.ec2.send(
        new DescribeAddressesCommand(
          query.publicIp
            ? { PublicIps: [query.publicIp] }
            : { Filters: [{ Name: "association-id", Values: [query.associationId ?? ""] }] },
        ),
      ),
    );
    const address = found?.Addresses?.[0];
    if (!address) return undefined;
    return {
      ...(address.AllocationId ? { allocationId: address.AllocationId } : {}),
      ...(address.NetworkInterfaceId ? { networkInterfaceId: address.NetworkInterfaceId } : {}),
      ...(address.InstanceId ? { instanceId: address.InstanceId } : {}),
    };
  }

  async role(name: string): Promise<RoleFacts | undefined> {
    const found = await orUndefined(this.iam.send(new GetRoleCommand({ RoleName: name })));
    const role = found?.Role;
    if (!role?.Arn || !role.RoleName) return undefined;
    return {
      arn: role.Arn,
      name: role.RoleName,
      tags: tagsOf(role.Tags),
      ...(role.AssumeRolePolicyDocument ? { trustPolicy: policyJson(role.AssumeRolePolicyDocument) } : {}),
      ...(role.PermissionsBoundary?.PermissionsBoundaryArn
        ? { permissionsBoundaryArn: role.PermissionsBoundary.PermissionsBoundaryArn }
        : {}),
    };
  }

  async instanceProfile(name: string): Promise<ProfileFacts | undefined> {
    const found = await orUndefined(
      this.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name })),
    );
    const profile = found?.InstanceProfile;
    if (!profile?.Arn) return undefined;
    return {
      arn: profile.Arn,
      tags: tagsOf(profile.Tags),
      roleNames: (profile.Roles ?? []).map((r) => r.RoleName!).filter(Boolean),
    };
  }

  /** A role's identity policies as IAM holds them now: inline ones, attached managed ones, its boundary. */
  async rolePolicies(roleName: string): Promise<RolePolicies | undefined> {
    const [role, inline, attached] = await Promise.all([
      this.role(roleName),
      this.pages(async (Marker) => {
        const page = await this.iam.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker }));
        return { items: page.PolicyNames ?? [], next: page.IsTruncated ? page.Marker : undefined };
      }).catch((error: unknown) => (notFound(error) ? [] : Promise.reject(error))),
      this.pages(async (Marker) => {
        const page = await this.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker }));
        return {
          items: (page.AttachedPolicies ?? []).map((p) => p.PolicyArn!).filter(Boolean),
          next: page.IsTruncated ? page.Marker : undefined,
        };
      }).catch((error: unknown) => (notFound(error) ? [] : Promise.reject(error))),
    ]);
    if (!role) return undefined;
    const [documents, managed, boundaryPolicy] = await Promise.all([
      Promise.all(
        inline.map((name) =>
          this.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name })),
        ),
      ),
      Promise.all(attached.map((arn) => this.managedPolicy(arn))),
      role.permissionsBoundaryArn
        ? this.managedPolicy(role.permissionsBoundaryArn)
        : Promise.resolve(undefined),
    ]);
    const identity: RolePolicies["identity"] = [
      ...inline.map((name, i) => ({
        name: `inline:${name}`,
        policy: policyJson(documents[i]?.PolicyDocument),
      })),
      ...attached.flatMap((arn, i) => (managed[i] !== undefined ? [{ name: arn, policy: managed[i] }] : [])),
    ];
    return {
      role,
      identity,
      ...(boundaryPolicy !== undefined
        ? { boundary: { name: `boundary:${role.permissionsBoundaryArn}`, policy: boundaryPolicy } }
        : {}),
    };
  }

  private async pages<T>(page: (marker?: string) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
    const all: T[] = [];
    let marker: string | undefined;
    do {
      const { items, next } = await page(marker);
      all.push(...items);
      marker = next;
    } while (marker);
    return all;
  }

  private async managedPolicy(arn: string): Promise<unknown> {
    const found = await orUndefined(this.iam.send(new GetPolicyCommand({ PolicyArn: arn })));
    const versionId = found?.Policy?.DefaultVersionId;
    if (!versionId) return undefined;
    const { PolicyVersion } = await this.iam.send(
      new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: versionId }),
    );
    return policyJson(PolicyVersion?.Document);
  }

  async kmsKey(keyId: string): Promise<KeyFacts | undefined> {
    const found = await orUndefined(this.kms.send(new DescribeKeyCommand({ KeyId: keyId })));
    const key = found?.KeyMetadata;
    if (!key?.Arn || !key.KeyId) return undefined;
    const [aliases, tags] = await Promise.all([
      orUndefined(this.kms.send(new ListAliasesCommand({ KeyId: key.KeyId }))),
      orUndefined(this.kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))),
    ]);
    return {
      arn: key.Arn,
      aliases: (aliases?.Aliases ?? []).map((a) => a.AliasName!).filter(Boolean),
      tags: Object.fromEntries((tags?.Tags ?? []).map((t) => [t.TagKey ?? "", t.TagValue ?? ""])),
    };
  }

  async dynamoTags(arn: string): Promise<Tags> {
    const found = await orUndefined(this.dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn: arn })));
    return tagsOf(found?.Tags);
  }

  async snsTags(arn: string): Promise<Tags> {
    const found = await orUndefined(this.sns.send(new ListTagsForResourceCommand({ ResourceArn: arn })));
    return tagsOf(found?.Tags);
  }
}
