import type { ResponseLaunchTemplateData } from "@aws-sdk/client-ec2";
import { queryList } from "../gateway/request.js";
import type { MotoLookups, Tags } from "./lookups.js";
import { type ArnScope, arnFormat, sarAction, sarArn } from "./sar.js";

/**
 * The request context AWS builds to authorize one API call, for every call Phoenix's code and
 * workflows make (and a few more): which IAM action(s) it checks, on which resources (the SAR's
 * resource types for the action, named by the request's parameters, ARNs in the SAR's format),
 * with the tags those resources carry at the time of the call (asked of moto), the tags the
 * request writes (`aws:RequestTag/…`, `aws:TagKeys`), and the checks AWS makes on the caller's
 * behalf (`ec2:CreateTags` with `ec2:CreateAction` for tags given at creation, `iam:PassRole` when
 * an instance is given a role, the launch permissions Auto Scaling checks for a launch template).
 *
 * A call with no builder here, made by a Phoenix principal, is denied with that reason: the local
 * cloud never allows a call it cannot describe as AWS would.
 */

export interface CheckResource {
  /** As AWS names it; `…/*` for a resource the call creates. */
  arn: string;
  /** Its tags at the time of the call (`aws:ResourceTag/…`), when they were looked up. */
  tags?: Tags;
  /** Keys of this resource only (`kms:ResourceAliases`, `ec2:LaunchTemplate`…). */
  context?: Record<string, string | string[]>;
}

/** One authorization AWS performs for a call: an action on every one of its resources. */
export interface Check {
  action: string;
  resources: CheckResource[];
  /** Request-wide keys: iam:PassedToService, ec2:CreateAction, kms:RequestAlias… */
  context?: Record<string, string | string[]>;
  /** What the request writes: aws:RequestTag/<key> and aws:TagKeys. */
  requestTags?: Tags;
  /** Tag keys a request removes (aws:TagKeys without values, e.g. DeleteTags). */
  tagKeys?: string[];
}

/** The parts of a decoded call a builder reads, whatever its protocol. */
export interface CallView {
  /** IAM service prefix (the SigV4 signing name): ec2, autoscaling, dynamodb… */
  service: string;
  /** The API operation: StartInstanceRefresh. */
  action: string;
  protocol: "query" | "json" | "rest";
  params: URLSearchParams;
  json: Record<string, unknown>;
  path: string;
}

export interface BuildContext {
  scope: ArnScope;
  lookups: MotoLookups;
  /**
   * Whether resource tags can change the decision for an action of this service (a statement of
   * the caller's policies that may apply to it conditions on them): if not, they are not looked up.
   */
  tagsMatter: (service: string) => boolean;
}

type Builder = (call: CallView, ctx: BuildContext) => Promise<Check[]>;

export class ContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContextError";
  }
}

/**
 * The resource the call names does not exist, so the call cannot succeed: the service's own
 * answer (InvalidAssociationID.NotFound…) is what the caller gets, as from AWS.
 */
export class MissingResource extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingResource";
  }
}

// --- reading requests -------------------------------------------------------------------------

const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** A scalar parameter: a form field (Query) or a top-level JSON member. */
function param(call: CallView, name: string): string | undefined {
  return call.protocol === "query" ? (call.params.get(name) ?? undefined) : str(call.json[name]);
}

function required(call: CallView, name: string): string {
  const value = param(call, name);
  if (!value) throw new ContextError(`${call.service}:${call.action} without ${name}`);
  return value;
}

/** A list parameter: `Name.N` / `Name.member.N` (Query) or a JSON array of strings. */
function list(call: CallView, name: string): string[] {
  if (call.protocol === "query") return queryList(call.params, name);
  const value = call.json[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** EC2 TagSpecification.N: the tags the request gives each resource type it creates. */
function ec2TagSpecifications(call: CallView): Map<string, Tags> {
  const specs = new Map<string, Tags>();
  for (let i = 1; ; i++) {
    const type = call.params.get(`TagSpecification.${i}.ResourceType`);
    if (type === null) return specs;
    const tags = specs.get(type) ?? {};
    for (let j = 1; ; j++) {
      const key = call.params.get(`TagSpecification.${i}.Tag.${j}.Key`);
      if (key === null) break;
      tags[key] = call.params.get(`TagSpecification.${i}.Tag.${j}.Value`) ?? "";
    }
    specs.set(type, tags);
  }
}

/** `Prefix.N.Key`/`Prefix.N.Value` (EC2 `Tag`) or `Prefix.member.N.Key` (IAM `Tags`). */
function queryTags(call: CallView, prefix: string): Tags {
  const tags: Tags = {};
  for (let i = 1; ; i++) {
    const key = call.params.get(`${prefix}.${i}.Key`) ?? call.params.get(`${prefix}.member.${i}.Key`);
    if (key === null) return tags;
    tags[key] =
      call.params.get(`${prefix}.${i}.Value`) ?? call.params.get(`${prefix}.member.${i}.Value`) ?? "";
  }
}

// --- naming resources -------------------------------------------------------------------------

/** EC2 resource types by id prefix. */
const EC2_ID_TYPES: [prefix: string, type: string][] = [
  ["i-", "instance"],
  ["sg-", "security-group"],
  ["eni-", "network-interface"],
  ["vol-", "volume"],
  ["snap-", "snapshot"],
  ["ami-", "image"],
  ["vpc-", "vpc"],
  ["subnet-", "subnet"],
  ["lt-", "launch-template"],
  ["eipalloc-", "elastic-ip"],
  ["igw-", "internet-gateway"],
  ["rtb-", "route-table"],
  ["acl-", "network-acl"],
  ["key-", "key-pair"],
  ["natgw-", "natgateway"],
  ["vpce-", "vpc-endpoint"],
  ["dopt-", "dhcp-options"],
];

export function ec2TypeOfId(id: string): string | undefined {
  return EC2_ID_TYPES.find(([prefix]) => id.startsWith(prefix))?.[1];
}

/** The single resource-specific variable of a SAR ARN format filled with `id`. */
async function idArn(service: string, type: string, scope: ArnScope, id: string): Promise<string> {
  const format = await arnFormat(service, type);
  const names = [...format.matchAll(/\$\{(\w+)\}/g)]
    .map((m) => m[1]!)
    .filter((n) => n !== "Partition" && n !== "Region" && n !== "Account");
  if (names.length !== 1) throw new ContextError(`${service} ${type}: ARN ${format} needs more than an id`);
  return sarArn(service, type, scope, { [names[0]!]: id });
}

const ec2Arn = (ctx: BuildContext, type: string, id: string, account?: string) =>
  idArn("ec2", type, account ? { ...ctx.scope, account } : ctx.scope, id);

/** EC2 resources by id, with their tags when tags matter. */
async function ec2Resources(ctx: BuildContext, ids: string[], type?: string): Promise<CheckResource[]> {
  const tags = ctx.tagsMatter("ec2") ? await ctx.lookups.ec2Tags(ids) : undefined;
  const resources: CheckResource[] = [];
  for (const id of ids) {
    const of = type ?? ec2TypeOfId(id);
    if (!of) throw new ContextError(`no EC2 resource type for id ${id}`);
    resources.push({ arn: await ec2Arn(ctx, of, id), ...(tags ? { tags: tags.get(id) ?? {} } : {}) });
  }
  return resources;
}

/** A resource the call creates: AWS authorizes it as `…/<type>/*`, with the request's tags only. */
const created = async (ctx: BuildContext, type: string) => ({ arn: await ec2Arn(ctx, type, "*") });

async function roleResource(ctx: BuildContext, roleName: string): Promise<CheckResource> {
  const role = await ctx.lookups.role(roleName);
  if (role) return { arn: role.arn, tags: role.tags };
  return { arn: await sarArn("iam", "role", ctx.scope, { RoleNameWithPath: roleName }), tags: {} };
}

async function profileResource(
  ctx: BuildContext,
  name: string,
  path = "/",
): Promise<{ resource: CheckResource; roleNames: string[] }> {
  const profile = await ctx.lookups.instanceProfile(name);
  if (profile) return { resource: { arn: profile.arn, tags: profile.tags }, roleNames: profile.roleNames };
  const withPath = `${path.replace(/^\//, "")}${name}`;
  return {
    resource: {
      arn: await sarArn("iam", "instance-profile", ctx.scope, { InstanceProfileNameWithPath: withPath }),
      tags: {},
    },
    roleNames: [],
  };
}

const nameOfProfileArn = (arn: string) => arn.slice(arn.lastIndexOf("/") + 1);

/** iam:PassRole, as EC2 and Auto Scaling check it against the caller when an instance gets a role. */
async function passRoles(ctx: BuildContext, roleNames: string[]): Promise<Check[]> {
  if (roleNames.length === 0) return [];
  return [
    {
      action: "iam:PassRole",
      resources: await Promise.all(roleNames.map((name) => roleResource(ctx, name))),
      context: { "iam:PassedToService": "ec2.amazonaws.com" },
    },
  ];
}

async function passProfileRole(
  ctx: BuildContext,
  profile: { arn?: string; name?: string },
): Promise<Check[]> {
  const name = profile.name ?? (profile.arn ? nameOfProfileArn(profile.arn) : undefined);
  if (!name) return [];
  const found = await ctx.lookups.instanceProfile(name);
  return passRoles(ctx, found?.roleNames ?? []);
}

// --- builders ---------------------------------------------------------------------------------

const ec2Single =
  (
    action: string,
    parameter: string,
    extra?: (call: CallView, ctx: BuildContext) => Promise<Check[]>,
  ): Builder =>
  async (call, ctx) => [
    { action, resources: await ec2Resources(ctx, [required(call, parameter)]) },
    ...(extra ? await extra(call, ctx) : []),
  ];

const ec2Many =
  (action: string, parameter: string): Builder =>
  async (call, ctx) => {
    const ids = list(call, parameter);
    if (ids.length === 0) throw new ContextError(`${action} without ${parameter}`);
    return [{ action, resources: await ec2Resources(ctx, ids) }];
  };

/** Tags given at creation: the resource created, and ec2:CreateTags with ec2:CreateAction. */
async function createWithTags(
  call: CallView,
  ctx: BuildContext,
  createdType: string,
  others: CheckResource[],
): Promise<Check[]> {
  const tags = ec2TagSpecifications(call).get(createdType);
  const resource = await created(ctx, createdType);
  const checks: Check[] = [
    {
      action: `ec2:${call.action}`,
      resources: [...others, resource],
      ...(tags ? { requestTags: tags } : {}),
    },
  ];
  if (tags && Object.keys(tags).length > 0) {
    checks.push({
      action: "ec2:CreateTags",
      resources: [resource],
      requestTags: tags,
      context: { "ec2:CreateAction": call.action },
    });
  }
  return checks;
}

/** The launch permissions Auto Scaling checks against the caller for a launch template version. */
async function launchChecks(
  ctx: BuildContext,
  template: { id?: string; name?: string; version?: string },
  subnetIds: string[],
): Promise<Check[]> {
  const version = await ctx.lookups.templateVersion(template, template.version);
  if (!version) {
    throw new MissingResource(
      `launch template ${template.id ?? template.name} version ${template.version ?? "$Default"} not found`,
    );
  }
  const data: ResponseLaunchTemplateData = version.data;
  const templateArn = await ec2Arn(ctx, "launch-template", version.id);
  const groupIds = [
    ...(data.SecurityGroupIds ?? []),
    ...(data.NetworkInterfaces ?? []).flatMap((n) => n.Groups ?? []),
  ];
  const subnets = [
    ...new Set([...subnetIds, ...(data.NetworkInterfaces ?? []).map((n) => n.SubnetId!).filter(Boolean)]),
  ];
  const image = data.ImageId?.startsWith("ami-") ? [data.ImageId] : [];
  const profile = data.IamInstanceProfile;
  const [owners, known, passing] = await Promise.all([
    ctx.lookups.subnetOwners(subnets),
    ctx.tagsMatter("ec2") ? ctx.lookups.ec2Tags([...groupIds, ...image, version.id]) : undefined,
    profile?.Arn || profile?.Name
      ? passProfileRole(ctx, {
          ...(profile.Arn ? { arn: profile.Arn } : {}),
          ...(profile.Name ? { name: profile.Name } : {}),
        })
      : [],
  ]);
  const tagged = (id: string) => (known ? { tags: known.get(id) ?? {} } : {});
  const resources: CheckResource[] = [
    await created(ctx, "instance"),
    await created(ctx, "network-interface"),
    await created(ctx, "volume"),
    ...(await Promise.all(
      groupIds.map(async (id) => ({ arn: await ec2Arn(ctx, "security-group", id), ...tagged(id) })),
    )),
    ...(await Promise.all(
      subnets.map(async (id) => ({ arn: await ec2Arn(ctx, "subnet", id, owners.get(id)), tags: {} })),
    )),
    ...(await Promise.all(image.map(async (id) => ({ arn: await ec2Arn(ctx, "image", id), ...tagged(id) })))),
    { arn: templateArn, ...tagged(version.id) },
  ];
  const checks: Check[] = [
    { action: "ec2:RunInstances", resources, context: { "ec2:LaunchTemplate": templateArn } },
  ];
  const specifications = new Map<string, Tags>();
  for (const spec of data.TagSpecifications ?? []) {
    if (!spec.ResourceType) continue;
    const tags = specifications.get(spec.ResourceType) ?? {};
    for (const tag of spec.Tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? "";
    specifications.set(spec.ResourceType, tags);
  }
  for (const [type, tags] of specifications) {
    if (type !== "instance" && type !== "volume" && type !== "network-interface") continue;
    checks.push({
      action: "ec2:CreateTags",
      resources: [await created(ctx, type)],
      requestTags: tags,
      context: { "ec2:CreateAction": "RunInstances" },
    });
  }
  checks.push(...passing);
  return checks;
}

async function groupResource(call: CallView, ctx: BuildContext) {
  const name = required(call, "AutoScalingGroupName");
  const group = await ctx.lookups.group(name);
  if (!group) {
    // AWS authorizes a group it does not know by its name (any id).
    const arn = await sarArn("autoscaling", "autoScalingGroup", ctx.scope, {
      GroupId: "*",
      GroupFriendlyName: name,
    });
    return { group: undefined, resource: { arn, tags: {} } };
  }
  return { group, resource: { arn: group.arn, tags: group.tags } };
}

function templateParam(call: CallView, prefix: string) {
  const id = call.params.get(`${prefix}.LaunchTemplateId`) ?? undefined;
  const name = call.params.get(`${prefix}.LaunchTemplateName`) ?? undefined;
  if (!id && !name) return undefined;
  const version = call.params.get(`${prefix}.Version`) ?? undefined;
  return { ...(id ? { id } : {}), ...(name ? { name } : {}), ...(version ? { version } : {}) };
}

/** A group action, plus the launch checks when the call points the group at a launch template. */
const groupAction =
  (templatePrefixes: string[] = []): Builder =>
  async (call, ctx) => {
    const { group, resource } = await groupResource(call, ctx);
    const checks: Check[] = [{ action: `autoscaling:${call.action}`, resources: [resource] }];
    for (const prefix of templatePrefixes) {
      const template = templateParam(call, prefix);
      if (!template) continue;
      const subnets =
        call.params.get("VPCZoneIdentifier")?.split(",").filter(Boolean) ?? group?.subnetIds ?? [];
      try {
        checks.push(...(await launchChecks(ctx, template, subnets)));
      } catch (error) {
        // Auto Scaling refuses a template that does not exist (ValidationError) after the group's check.
        if (!(error instanceof MissingResource)) throw error;
      }
      break;
    }
    return checks;
  };

const tableArn = async (ctx: BuildContext, table: string, index?: string) => {
  if (table.startsWith("arn:")) return index ? `${table}/index/${index}` : table;
  return index
    ? sarArn("dynamodb", "index", ctx.scope, { TableName: table, IndexName: index })
    : sarArn("dynamodb", "table", ctx.scope, { TableName: table });
};

async function tableResource(ctx: BuildContext, table: string, index?: string): Promise<CheckResource> {
  const arn = await tableArn(ctx, table, index);
  if (!ctx.tagsMatter("dynamodb")) return { arn };
  return { arn, tags: await ctx.lookups.dynamoTags(await tableArn(ctx, table)) };
}

const dynamoTable =
  (withIndex = false): Builder =>
  async (call, ctx) => {
    const index = withIndex ? param(call, "IndexName") : undefined;
    return [
      {
        action: `dynamodb:${call.action}`,
        resources: [await tableResource(ctx, required(call, "TableName"), index)],
      },
    ];
  };

const TRANSACT_WRITE: Record<string, string> = {
  Put: "dynamodb:PutItem",
  Update: "dynamodb:UpdateItem",
  Delete: "dynamodb:DeleteItem",
  ConditionCheck: "dynamodb:ConditionCheckItem",
};

/** No IAM action for a transaction: DynamoDB authorizes each item as its single-item operation. */
const transact =
  (kinds: Record<string, string>): Builder =>
  async (call, ctx) => {
    const items = Array.isArray(call.json.TransactItems) ? (call.json.TransactItems as unknown[]) : [];
    const checks: Check[] = [];
    for (const item of items) {
      for (const [kind, action] of Object.entries(kinds)) {
        const table = str(((item as Record<string, unknown>)?.[kind] as Record<string, unknown>)?.TableName);
        if (table) checks.push({ action, resources: [await tableResource(ctx, table)] });
      }
    }
    if (checks.length === 0) throw new ContextError(`${call.action} without items`);
    return checks;
  };

const batch =
  (action: string): Builder =>
  async (call, ctx) => {
    const tables = Object.keys((call.json.RequestItems as Record<string, unknown>) ?? {});
    if (tables.length === 0) throw new ContextError(`${call.action} without RequestItems`);
    return [{ action, resources: await Promise.all(tables.map((t) => tableResource(ctx, t))) }];
  };

function queueArnOf(ctx: BuildContext, queueUrl: string): Promise<string> {
  const [account, name] = new URL(queueUrl, "http://x").pathname.split("/").filter(Boolean).slice(-2);
  if (!name) throw new ContextError(`not a queue URL: ${queueUrl}`);
  return sarArn("sqs", "queue", { ...ctx.scope, account: account ?? ctx.scope.account }, { QueueName: name });
}

const sqsQueue =
  (action: string): Builder =>
  async (call, ctx) => [{ action, resources: [{ arn: await queueArnOf(ctx, required(call, "QueueUrl")) }] }];

async function parameterArn(ctx: BuildContext, name: string): Promise<string> {
  if (name.startsWith("arn:")) return name;
  return sarArn("ssm", "parameter", ctx.scope, { ParameterNameWithoutLeadingSlash: name.replace(/^\//, "") });
}

async function documentArn(ctx: BuildContext, name: string): Promise<string> {
  if (name.startsWith("arn:")) return name;
  // AWS-owned documents have no account in their ARN.
  const owned =
    name.startsWith("AWS-") || name.startsWith("AWSSupport-") || name.startsWith("AmazonCloudWatch-");
  return sarArn("ssm", "document", owned ? { ...ctx.scope, account: "" } : ctx.scope, { DocumentName: name });
}

const kmsKey =
  (action: string): Builder =>
  async (call, ctx) => {
    const keyId = required(call, "KeyId");
    const key = await ctx.lookups.kmsKey(keyId);
    const alias = keyId.includes("alias/") ? keyId.slice(keyId.indexOf("alias/")) : undefined;
    const arn =
      key?.arn ??
      (keyId.startsWith("arn:")
        ? keyId
        : await sarArn("kms", "key", ctx.scope, { KeyId: keyId.replace(/^alias\//, "") }));
    return [
      {
        action,
        resources: [
          {
            arn,
            tags: key?.tags ?? {},
            ...(key && key.aliases.length > 0 ? { context: { "kms:ResourceAliases": key.aliases } } : {}),
          },
        ],
        context: { "kms:CallerAccount": ctx.scope.account, ...(alias ? { "kms:RequestAlias": alias } : {}) },
      },
    ];
  };

const stateMachine =
  (action: string, parameter: string): Builder =>
  async (call) => [{ action, resources: [{ arn: required(call, parameter) }] }];

const iamRole =
  (withTags?: "TagRole"): Builder =>
  async (call, ctx) => [
    {
      action: `iam:${call.action}`,
      resources: [await roleResource(ctx, required(call, "RoleName"))],
      ...(withTags ? { requestTags: queryTags(call, "Tags") } : {}),
    },
  ];

const iamProfile: Builder = async (call, ctx) => {
  const { resource } = await profileResource(ctx, required(call, "InstanceProfileName"), param(call, "Path"));
  const checks: Check[] = [{ action: `iam:${call.action}`, resources: [resource] }];
  const tags = queryTags(call, "Tags");
  if (call.action === "CreateInstanceProfile" || call.action === "TagInstanceProfile") {
    checks[0]!.requestTags = tags;
    if (call.action === "CreateInstanceProfile" && Object.keys(tags).length > 0) {
      // Tags given at creation are also authorized as TagInstanceProfile.
      checks.push({ action: "iam:TagInstanceProfile", resources: [resource], requestTags: tags });
    }
  }
  if (call.action === "AddRoleToInstanceProfile")
    checks.push(...(await passRoles(ctx, [required(call, "RoleName")])));
  return checks;
};

/** Wildcard-only actions (Describe*, List*): authorized on "*", as the SAR says. */
const wildcard: Builder = async (call) => [
  { action: `${call.service}:${call.action}`, resources: [{ arn: "*" }] },
];

export const CONTEXT_BUILDERS: Record<string, Builder> = {
  // --- EC2
  "ec2:DescribeInstanceAttribute": ec2Single("ec2:DescribeInstanceAttribute", "InstanceId"),
  "ec2:ModifyNetworkInterfaceAttribute": async (call, ctx) => [
    {
      action: "ec2:ModifyNetworkInterfaceAttribute",
      // The interface, and every security group it is moved to.
      resources: await ec2Resources(ctx, [
        required(call, "NetworkInterfaceId"),
        ...list(call, "SecurityGroupId"),
      ]),
    },
  ],
  "ec2:ModifyInstanceAttribute": async (call, ctx) => [
    {
      action: "ec2:ModifyInstanceAttribute",
      // The instance, and the security groups given (Groups). A BlockDeviceMapping names volumes by
      // device, not id: whether EC2 also authorizes the volume then, only a real account can tell.
      resources: await ec2Resources(ctx, [required(call, "InstanceId"), ...list(call, "GroupId")]),
    },
  ],
  "ec2:StopInstances": ec2Many("ec2:StopInstances", "InstanceId"),
  "ec2:StartInstances": ec2Many("ec2:StartInstances", "InstanceId"),
  "ec2:TerminateInstances": ec2Many("ec2:TerminateInstances", "InstanceId"),
  "ec2:AssociateIamInstanceProfile": ec2Single("ec2:AssociateIamInstanceProfile", "InstanceId", (call, ctx) =>
    passProfileRole(ctx, {
      ...(param(call, "IamInstanceProfile.Arn") ? { arn: param(call, "IamInstanceProfile.Arn") } : {}),
      ...(param(call, "IamInstanceProfile.Name") ? { name: param(call, "IamInstanceProfile.Name") } : {}),
    }),
  ),
  "ec2:ReplaceIamInstanceProfileAssociation": async (call, ctx) => {
    const instanceId = await ctx.lookups.instanceOfAssociation(required(call, "AssociationId"));
    if (!instanceId) throw new MissingResource(`no instance has association ${param(call, "AssociationId")}`);
    return [
      {
        action: "ec2:ReplaceIamInstanceProfileAssociation",
        resources: await ec2Resources(ctx, [instanceId]),
      },
      ...(await passProfileRole(ctx, {
        ...(param(call, "IamInstanceProfile.Arn") ? { arn: param(call, "IamInstanceProfile.Arn") } : {}),
        ...(param(call, "IamInstanceProfile.Name") ? { name: param(call, "IamInstanceProfile.Name") } : {}),
      })),
    ];
  },
  "ec2:DisassociateIamInstanceProfile": async (call, ctx) => {
    const instanceId = await ctx.lookups.instanceOfAssociation(required(call, "AssociationId"));
    if (!instanceId) throw new MissingResource(`no instance has association ${param(call, "AssociationId")}`);
    return [
      { action: "ec2:DisassociateIamInstanceProfile", resources: await ec2Resources(ctx, [instanceId]) },
    ];
  },
  "ec2:CreateSecurityGroup": async (call, ctx) => {
    const vpcId = param(call, "VpcId");
    const others = vpcId ? await ec2Resources(ctx, [vpcId], "vpc") : [];
    return createWithTags(call, ctx, "security-group", others);
  },
  "ec2:AuthorizeSecurityGroupIngress": ec2Single("ec2:AuthorizeSecurityGroupIngress", "GroupId"),
  "ec2:AuthorizeSecurityGroupEgress": ec2Single("ec2:AuthorizeSecurityGroupEgress", "GroupId"),
  "ec2:RevokeSecurityGroupIngress": ec2Single("ec2:RevokeSecurityGroupIngress", "GroupId"),
  "ec2:RevokeSecurityGroupEgress": ec2Single("ec2:RevokeSecurityGroupEgress", "GroupId"),
  "ec2:CreateSnapshot": async (call, ctx) =>
    createWithTags(call, ctx, "snapshot", await ec2Resources(ctx, [required(call, "VolumeId")], "volume")),
  "ec2:CreateTags": async (call, ctx) => {
    const ids = list(call, "ResourceId");
    if (ids.length === 0) throw new ContextError("CreateTags without ResourceId");
    return [
      {
        action: "ec2:CreateTags",
        resources: await ec2Resources(ctx, ids),
        requestTags: queryTags(call, "Tag"),
      },
    ];
  },
  "ec2:DeleteTags": async (call, ctx) => {
    const ids = list(call, "ResourceId");
    if (ids.length === 0) throw new ContextError("DeleteTags without ResourceId");
    return [
      {
        action: "ec2:DeleteTags",
        resources: await ec2Resources(ctx, ids),
        tagKeys: Object.keys(queryTags(call, "Tag")),
      },
    ];
  },
  "ec2:DisassociateAddress": async (call, ctx) => {
    const associationId = param(call, "AssociationId");
    const publicIp = param(call, "PublicIp");
    const address = await ctx.lookups.address({
      ...(associationId ? { associationId } : {}),
      ...(publicIp ? { publicIp } : {}),
    });
    const ids = [address?.allocationId, address?.networkInterfaceId].filter((id): id is string => !!id);
    if (ids.length === 0) throw new MissingResource(`no Elastic IP for ${associationId ?? publicIp}`);
    return [{ action: "ec2:DisassociateAddress", resources: await ec2Resources(ctx, ids) }];
  },
  "ec2:CreateLaunchTemplateVersion": async (call, ctx) => {
    const id =
      param(call, "LaunchTemplateId") ??
      (await ctx.lookups.launchTemplateId(required(call, "LaunchTemplateName")));
    if (!id) throw new MissingResource(`no launch template ${param(call, "LaunchTemplateName")}`);
    return [
      {
        action: "ec2:CreateLaunchTemplateVersion",
        resources: await ec2Resources(ctx, [id], "launch-template"),
      },
    ];
  },

  // --- Auto Scaling
  "autoscaling:DetachInstances": groupAction(),
  // Names only the instance: authorized on the group it is in (resource autoScalingGroup).
  "autoscaling:TerminateInstanceInAutoScalingGroup": async (call, ctx) => {
    const name = await ctx.lookups.groupOfInstance(required(call, "InstanceId"));
    const group = name ? await ctx.lookups.group(name) : undefined;
    const arn =
      group?.arn ??
      (await sarArn("autoscaling", "autoScalingGroup", ctx.scope, {
        GroupId: "*",
        GroupFriendlyName: name ?? "*",
      }));
    return [
      {
        action: "autoscaling:TerminateInstanceInAutoScalingGroup",
        resources: [{ arn, tags: group?.tags ?? {} }],
      },
    ];
  },
  "autoscaling:CancelInstanceRefresh": groupAction(),
  "autoscaling:RollbackInstanceRefresh": groupAction(),
  "autoscaling:SetDesiredCapacity": groupAction(),
  "autoscaling:StartInstanceRefresh": groupAction(["DesiredConfiguration.LaunchTemplate"]),
  "autoscaling:UpdateAutoScalingGroup": groupAction([
    "LaunchTemplate",
    "MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification",
  ]),

  // --- IAM
  "iam:GetRole": iamRole(),
  "iam:GetRolePolicy": iamRole(),
  "iam:PutRolePolicy": iamRole(),
  "iam:DeleteRolePolicy": iamRole(),
  "iam:ListRolePolicies": iamRole(),
  "iam:ListAttachedRolePolicies": iamRole(),
  "iam:AttachRolePolicy": iamRole(),
  "iam:DetachRolePolicy": iamRole(),
  "iam:UpdateAssumeRolePolicy": iamRole(),
  "iam:TagRole": iamRole("TagRole"),
  "iam:GetInstanceProfile": iamProfile,
  "iam:CreateInstanceProfile": iamProfile,
  "iam:TagInstanceProfile": iamProfile,
  "iam:AddRoleToInstanceProfile": iamProfile,
  "iam:DeleteInstanceProfile": iamProfile,

  // --- DynamoDB
  "dynamodb:GetItem": dynamoTable(),
  "dynamodb:PutItem": dynamoTable(),
  "dynamodb:UpdateItem": dynamoTable(),
  "dynamodb:DeleteItem": dynamoTable(),
  "dynamodb:DescribeTable": dynamoTable(),
  "dynamodb:Query": dynamoTable(true),
  "dynamodb:Scan": dynamoTable(true),
  "dynamodb:TransactWriteItems": transact(TRANSACT_WRITE),
  "dynamodb:TransactGetItems": transact({ Get: "dynamodb:GetItem" }),
  "dynamodb:BatchGetItem": batch("dynamodb:BatchGetItem"),
  "dynamodb:BatchWriteItem": batch("dynamodb:BatchWriteItem"),

  // --- SNS, SQS, EventBridge
  "sns:Publish": async (call, ctx) => {
    const arn = param(call, "TopicArn") ?? param(call, "TargetArn");
    if (!arn) throw new ContextError("Publish without TopicArn or TargetArn");
    return [
      {
        action: "sns:Publish",
        resources: [{ arn, ...(ctx.tagsMatter("sns") ? { tags: await ctx.lookups.snsTags(arn) } : {}) }],
      },
    ];
  },
  "sqs:SendMessage": sqsQueue("sqs:SendMessage"),
  "sqs:SendMessageBatch": sqsQueue("sqs:SendMessage"),
  "sqs:ReceiveMessage": sqsQueue("sqs:ReceiveMessage"),
  "sqs:DeleteMessage": sqsQueue("sqs:DeleteMessage"),
  "sqs:DeleteMessageBatch": sqsQueue("sqs:DeleteMessage"),
  "sqs:ChangeMessageVisibility": sqsQueue("sqs:ChangeMessageVisibility"),
  "sqs:ChangeMessageVisibilityBatch": sqsQueue("sqs:ChangeMessageVisibility"),
  "sqs:GetQueueAttributes": sqsQueue("sqs:GetQueueAttributes"),
  "sqs:GetQueueUrl": async (call, ctx) => [
    {
      action: "sqs:GetQueueUrl",
      resources: [
        {
          arn: await sarArn(
            "sqs",
            "queue",
            { ...ctx.scope, account: param(call, "QueueOwnerAWSAccountId") ?? ctx.scope.account },
            { QueueName: required(call, "QueueName") },
          ),
        },
      ],
    },
  ],
  "events:PutEvents": async (call, ctx) => {
    const entries = Array.isArray(call.json.Entries) ? (call.json.Entries as Record<string, unknown>[]) : [];
    const buses = [...new Set(entries.map((e) => str(e.EventBusName) ?? "default"))];
    return [
      {
        action: "events:PutEvents",
        resources: await Promise.all(
          buses.map(async (bus) => ({
            arn: bus.startsWith("arn:")
              ? bus
              : await sarArn("events", "event-bus", ctx.scope, { EventBusName: bus }),
          })),
        ),
      },
    ];
  },

  // --- SSM, KMS, Image Builder
  "ssm:GetParameter": async (call, ctx) => [
    { action: "ssm:GetParameter", resources: [{ arn: await parameterArn(ctx, required(call, "Name")) }] },
  ],
  "ssm:GetParameters": async (call, ctx) => [
    {
      action: "ssm:GetParameters",
      resources: await Promise.all(
        list(call, "Names").map(async (n) => ({ arn: await parameterArn(ctx, n) })),
      ),
    },
  ],
  "ssm:SendCommand": async (call, ctx) => {
    const instances = list(call, "InstanceIds");
    const tags = ctx.tagsMatter("ssm") ? await ctx.lookups.ec2Tags(instances) : undefined;
    return [
      {
        action: "ssm:SendCommand",
        resources: [
          { arn: await documentArn(ctx, required(call, "DocumentName")) },
          ...(await Promise.all(
            instances.map(async (id) => ({
              arn: await ec2Arn(ctx, "instance", id),
              ...(tags ? { tags: tags.get(id) ?? {} } : {}),
            })),
          )),
        ],
      },
    ];
  },
  "kms:Verify": kmsKey("kms:Verify"),
  "kms:Sign": kmsKey("kms:Sign"),
  "kms:DescribeKey": kmsKey("kms:DescribeKey"),
  "kms:GetPublicKey": kmsKey("kms:GetPublicKey"),
  "imagebuilder:GetImage": async (call) => {
    const arn = call.params.get("imageBuildVersionArn") ?? str(call.json.imageBuildVersionArn);
    if (!arn) throw new ContextError("GetImage without imageBuildVersionArn");
    return [{ action: "imagebuilder:GetImage", resources: [{ arn }] }];
  },

  // --- Step Functions, Lambda
  "states:StartExecution": stateMachine("states:StartExecution", "stateMachineArn"),
  "states:DescribeStateMachine": stateMachine("states:DescribeStateMachine", "stateMachineArn"),
  "states:ListExecutions": stateMachine("states:ListExecutions", "stateMachineArn"),
  "states:DescribeExecution": stateMachine("states:DescribeExecution", "executionArn"),
  "states:StopExecution": stateMachine("states:StopExecution", "executionArn"),
  "states:GetExecutionHistory": stateMachine("states:GetExecutionHistory", "executionArn"),
  "lambda:Invoke": async (call, ctx) => {
    const name = decodeURIComponent(/\/functions\/([^/]+)\/invocations/.exec(call.path)?.[1] ?? "");
    if (!name) throw new ContextError(`not a Lambda Invoke path: ${call.path}`);
    return [{ action: "lambda:InvokeFunction", resources: [{ arn: await functionArn(ctx.scope, name) }] }];
  },
};

/** A function's ARN from any name Lambda accepts (name, name:qualifier, partial or full ARN). */
export async function functionArn(scope: ArnScope, reference: string): Promise<string> {
  if (reference.startsWith("arn:")) return reference;
  const partial = /^(\d{12}):function:(.+)$/.exec(reference);
  if (partial)
    return sarArn("lambda", "function", { ...scope, account: partial[1]! }, { FunctionName: partial[2]! });
  return sarArn("lambda", "function", scope, { FunctionName: reference });
}

/** The API operation as IAM knows the call (Lambda's REST paths name no operation). */
export function apiOperation(call: Pick<CallView, "service" | "action" | "path" | "protocol">): string {
  if (call.service === "lambda" && /\/functions\/[^/]+\/invocations$/.test(call.path)) return "lambda:Invoke";
  return `${call.service}:${call.action}`;
}

/**
 * The checks AWS makes for a call, or why the local cloud cannot say (no builder: the call is then
 * denied). Wildcard-only actions (the SAR's Describe*, List*) need no builder.
 */
export async function checksFor(
  call: CallView,
  ctx: BuildContext,
): Promise<{ checks: Check[]; missing?: string } | { problem: string; unbuilt?: string }> {
  const operation = apiOperation(call);
  const builder = CONTEXT_BUILDERS[operation];
  if (builder) {
    try {
      return { checks: await builder(call, ctx) };
    } catch (error) {
      if (error instanceof ContextError) return { problem: error.message };
      if (error instanceof MissingResource) return { checks: [], missing: error.message };
      throw error;
    }
  }
  const sar = await sarAction(operation);
  if (sar?.isWildcardOnly) return { checks: await wildcard(call, ctx) };
  return sar
    ? {
        problem: `the local cloud has no request-context builder for ${operation} (local/iam/contexts.ts): it cannot say which resources AWS would authorize`,
        // The action, for the one decision that needs no resource (./unconditional.ts).
        unbuilt: operation,
      }
    : { problem: `${operation} is not an action of the Service Authorization Reference` };
}
