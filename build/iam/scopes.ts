/**
 * Where each IAM action Phoenix uses may act: resources, and the conditions that narrow a
 * mutating EC2 or Auto Scaling action to what Phoenix owns or has quarantined. Every action the
 * code can use must have an entry here: an unreviewed action is an error, not a `*` grant.
 *
 * Condition keys used (AWS service authorization reference):
 * - `aws:ResourceTag/<key>` on EC2 instance and security-group resources (ModifyInstanceAttribute,
 *   StopInstances, TerminateInstances, Associate/Replace/DisassociateIamInstanceProfile,
 *   Authorize/RevokeSecurityGroup*), and on SSM SendCommand's instance resource.
 * - `aws:RequestTag/<key>` on resources created with tags (CreateSecurityGroup's security group,
 *   CreateSnapshot's snapshot).
 * - `aws:TagKeys` and `ec2:CreateAction` on ec2:CreateTags: each function may write only the keys
 *   its code declares (src/iam/tag-writes.ts), on the resource types it tags.
 * - `autoscaling:ResourceTag/<key>` on the Auto Scaling group of StartInstanceRefresh and
 *   UpdateAutoScalingGroup (`phoenix:managed` exactly "true", as src/rollout/core/group.ts decides).
 * - `ec2:LaunchTemplate` on RunInstances (only launches through a launch template).
 * - `aws:ResourceTag/phoenix:fleet-role` on IAM roles (PassRole, PutRolePolicy): the fleet roles;
 *   `iam:PassedToService` on iam:PassRole; `kms:ResourceAliases` for a key named by alias.
 * Where no condition applies, the scope says why (`reason`); the least-privilege test requires
 * one or the other on every mutating EC2 and Auto Scaling statement. A scope may also be an
 * explicit Deny (`effect`), which no Allow can override: never a Phoenix or administrative role.
 */

import { PROTECTED_ROLE_NAMES } from "../../src/iam/protected-roles.js";
import type { TaggedResourceType, TagWrite } from "../../src/iam/tag-writes.js";
import {
  TAG_CONTAINMENT as CONTAINMENT_TAG,
  TAG_FLEET_ROLE as FLEET_ROLE_TAG,
  GRANTING_TAG_VALUE,
  TAG_MANAGED as MANAGED_TAG,
  TAG_QUARANTINE as QUARANTINE_TAG,
  TAG_ROLE as ROLE_TAG,
} from "../../src/tags.js";
import type { PolicyContext } from "./context.js";

export interface IamCondition {
  test: string;
  variable: string;
  values: string[];
}

export interface Scope {
  /** Names the statement (Sid); actions with the same scope share one statement. */
  id: string;
  resources: string[];
  conditions?: IamCondition[];
  /** Why no condition narrows this scope further (required on unconditioned mutations). */
  reason?: string;
  /** An explicit Deny: it overrides every Allow, so it holds even if a grant above is too wide. */
  effect?: "Deny";
}

/** What a function's (or state machine's) code uses, as far as scopes depend on it. */
export interface ScopeUses {
  actions: ReadonlySet<string>;
  /** The tag writes its code declares (src/iam/tag-writes.ts). */
  tagWrites: readonly TagWrite[];
}

type ScopeRule = (ctx: PolicyContext, uses: ScopeUses) => Scope[];

const ec2Arn = (ctx: PolicyContext, resource: string) =>
  `arn:${ctx.partition}:ec2:${ctx.region}:${ctx.account}:${resource}`;
/** AMIs and snapshots have no account in their ARN. */
const ec2SharedArn = (ctx: PolicyContext, resource: string) =>
  `arn:${ctx.partition}:ec2:${ctx.region}::${resource}`;
const tagPresent = (variable: string): IamCondition => ({ test: "Null", variable, values: ["false"] });

const noResourceLevel: ScopeRule = () => [
  {
    id: "ReadOnlyAnyResource",
    resources: ["*"],
    reason: "Describe/List actions support no resource-level permissions in EC2, Auto Scaling and SSM",
  },
];

const tables: ScopeRule = (ctx) => [
  { id: "PhoenixTables", resources: [ctx.tableArns.audit, ctx.tableArns.state] },
];

const quarantinedInstance: ScopeRule = (ctx) => [
  {
    id: "QuarantinedInstances",
    resources: [ec2Arn(ctx, "instance/*")],
    // Isolate tags the instance before any later step runs (workflows/contain.asl.json order).
    conditions: [tagPresent(`aws:ResourceTag/${QUARANTINE_TAG}`)],
  },
];

const phoenixSecurityGroups: ScopeRule = (ctx) => [
  {
    id: "PhoenixSecurityGroups",
    resources: [ec2Arn(ctx, "security-group/*")],
    conditions: [tagPresent(`aws:ResourceTag/${ROLE_TAG}`)],
  },
];

const autoScalingGroups = (ctx: PolicyContext) =>
  `arn:${ctx.partition}:autoscaling:${ctx.region}:${ctx.account}:autoScalingGroup:*:autoScalingGroupName/*`;

/** Groups tagged `phoenix:managed` with the one value the planner counts (src/rollout/core/group.ts). */
const managedGroups: ScopeRule = (ctx) => [
  {
    id: "RefreshManagedGroups",
    resources: [autoScalingGroups(ctx)],
    conditions: [
      {
        test: "StringEquals",
        variable: `autoscaling:ResourceTag/${MANAGED_TAG}`,
        values: [GRANTING_TAG_VALUE],
      },
    ],
  },
];

/** The ARN pattern of a tagged resource type (AMIs and snapshots have no account in theirs). */
function taggedResourceArn(ctx: PolicyContext, type: TaggedResourceType): string {
  return type === "image" || type === "snapshot" ? ec2SharedArn(ctx, `${type}/*`) : ec2Arn(ctx, `${type}/*`);
}

/**
 * ec2:CreateTags for exactly the tag writes the code declares: per resource type (and creating
 * call, for tags given at creation), only the declared keys (`ForAllValues:StringEquals` on
 * aws:TagKeys, with `Null` so that a request must name keys at all). A launch from a template
 * (Auto Scaling's check at refresh) tags with the template's own tags: any key but the one that
 * unlocks containment actions.
 */
const tagWrites: ScopeRule = (ctx, uses) => {
  const merged = new Map<string, { write: TagWrite; keys: Set<string> }>();
  for (const write of uses.tagWrites) {
    const key = `${write.resource}#${write.atCreation ?? ""}`;
    const entry = merged.get(key) ?? { write, keys: new Set<string>() };
    for (const k of write.keys) entry.keys.add(k);
    merged.set(key, entry);
  }
  const scopes: Scope[] = [...merged.values()]
    .sort((a, b) =>
      `${a.write.resource}${a.write.atCreation}`.localeCompare(`${b.write.resource}${b.write.atCreation}`),
    )
    .map(({ write, keys }) => ({
      id: write.atCreation ? `TagAt${write.atCreation}` : `Tag${pascal(write.resource)}`,
      resources: [taggedResourceArn(ctx, write.resource)],
      conditions: [
        { test: "ForAllValues:StringEquals", variable: "aws:TagKeys", values: [...keys].sort() },
        tagPresent("aws:TagKeys"),
        ...(write.atCreation
          ? [{ test: "StringEquals", variable: "ec2:CreateAction", values: [write.atCreation] }]
          : []),
      ],
    }));
  if (uses.actions.has("ec2:RunInstances")) {
    scopes.push({
      id: "TagLaunchesAtCreation",
      resources: [ec2Arn(ctx, "*")],
      conditions: [
        { test: "StringEquals", variable: "ec2:CreateAction", values: ["RunInstances"] },
        { test: "ForAllValues:StringNotEquals", variable: "aws:TagKeys", values: [QUARANTINE_TAG] },
      ],
    });
  }
  if (scopes.length === 0) {
    throw new Error(
      "ec2:CreateTags is used but no tag write is declared (src/iam/tag-writes.ts) and no launch needs it",
    );
  }
  return scopes;
};

const pascal = (text: string) => text.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());

export { PROTECTED_ROLE_NAMES };

/**
 * The fleet roles (DESIGN.md, tag `phoenix:fleet-role=true`, exactly "true" as IAM matches it),
 * plus the role ARNs the deployer lists (PHOENIX_FLEET_ROLE_ARNS), never a protected role.
 */
function fleetRoles(
  ctx: PolicyContext,
  ids: { tagged: string; listed: string; never: string },
  conditions: IamCondition[] = [],
): Scope[] {
  const roles = (name: string) => `arn:${ctx.partition}:iam::${ctx.account}:role/${name}`;
  return [
    {
      id: ids.tagged,
      resources: [roles("*")],
      conditions: [
        { test: "StringEquals", variable: `aws:ResourceTag/${FLEET_ROLE_TAG}`, values: [GRANTING_TAG_VALUE] },
        ...conditions,
      ],
    },
    ...(ctx.fleetRoleArns.length > 0
      ? [
          {
            id: ids.listed,
            resources: [...ctx.fleetRoleArns].sort(),
            ...(conditions.length > 0 ? { conditions } : {}),
          },
        ]
      : []),
    { id: ids.never, resources: PROTECTED_ROLE_NAMES.map(roles), effect: "Deny" },
  ];
}

const passedToEc2: IamCondition = {
  test: "StringEquals",
  variable: "iam:PassedToService",
  values: ["ec2.amazonaws.com"],
};

export const SCOPE_RULES: Record<string, ScopeRule> = {
  // --- read-only, no resource-level permissions
  "autoscaling:DescribeAutoScalingGroups": noResourceLevel,
  "autoscaling:DescribeAutoScalingInstances": noResourceLevel,
  "autoscaling:DescribeInstanceRefreshes": noResourceLevel,
  "autoscaling:DescribeLifecycleHooks": noResourceLevel,
  "ec2:DescribeAddresses": noResourceLevel,
  "ec2:DescribeIamInstanceProfileAssociations": noResourceLevel,
  "ec2:DescribeImages": noResourceLevel,
  "ec2:DescribeInstanceAttribute": noResourceLevel,
  "ec2:DescribeInstances": noResourceLevel,
  "ec2:DescribeLaunchTemplateVersions": noResourceLevel,
  "ec2:DescribeNetworkInterfaces": noResourceLevel,
  "ec2:DescribeSecurityGroups": noResourceLevel,
  "ec2:DescribeSnapshots": noResourceLevel,
  "ssm:ListCommands": noResourceLevel,

  // --- Phoenix's own resources
  "dynamodb:GetItem": tables,
  "dynamodb:PutItem": tables,
  "dynamodb:UpdateItem": tables,
  "dynamodb:DeleteItem": tables,
  "dynamodb:ConditionCheckItem": tables,
  "dynamodb:Query": tables,
  "dynamodb:Scan": tables,
  "dynamodb:BatchGetItem": tables,
  "dynamodb:BatchWriteItem": tables,
  "sns:Publish": (ctx) => [{ id: "NotificationsTopic", resources: [ctx.topicArn] }],
  "states:StartExecution": (ctx) => [
    { id: "PhoenixStateMachines", resources: Object.values(ctx.stateMachineArns).sort() },
  ],
  "states:DescribeExecution": (ctx) => [
    {
      id: "PhoenixExecutions",
      resources: Object.values(ctx.stateMachineArns)
        .sort()
        .map((arn) => `${arn.replace(":stateMachine:", ":execution:")}:*`),
    },
  ],
  // A superseded rollout is stopped: only executions of the rollout state machine.
  "states:StopExecution": (ctx) => [
    {
      id: "RolloutExecutions",
      resources: [`${ctx.stateMachineArns.rollout.replace(":stateMachine:", ":execution:")}:*`],
    },
  ],

  // --- image sources (read-only)
  "ssm:GetParameter": (ctx) => [{ id: "ImageParameters", resources: ctx.imageParameterArns }],
  "imagebuilder:GetImage": (ctx) => [
    {
      id: "ImageBuilderImages",
      // Golden images may come from a pipeline in another account that shares them.
      resources: [`arn:${ctx.partition}:imagebuilder:${ctx.region}:*:image/*`],
    },
  ],
  "kms:Verify": signingKey,
  "kms:DescribeKey": signingKey,

  // --- containment: instances, once quarantined
  "ec2:ModifyInstanceAttribute": (ctx, uses) => [
    ...quarantinedInstance(ctx, uses),
    {
      id: "QuarantinedInstanceVolumes",
      resources: [ec2Arn(ctx, "volume/*")],
      // The instance (the required resource) is held to quarantined instances above.
      reason:
        "the Service Authorization Reference lists the volume as a resource of ModifyInstanceAttribute (Harden " +
        "changes DeleteOnTermination through BlockDeviceMappings); volumes carry no Phoenix tag, and the call is " +
        "only allowed at all on a quarantined instance",
    },
  ],
  "ec2:StopInstances": quarantinedInstance,
  "ec2:TerminateInstances": quarantinedInstance,
  "ec2:AssociateIamInstanceProfile": quarantinedInstance,
  "ec2:ReplaceIamInstanceProfileAssociation": quarantinedInstance,
  "ec2:DisassociateIamInstanceProfile": quarantinedInstance,

  // --- containment: isolation (runs before the instance carries any Phoenix tag)
  "ec2:ModifyNetworkInterfaceAttribute": (ctx) => [
    {
      id: "IsolateInterfaces",
      resources: [ec2Arn(ctx, "network-interface/*"), ec2Arn(ctx, "instance/*")],
      reason:
        "isolation must work on any instance GuardDuty names, before Phoenix tags it (the network is cut first, " +
        "then the tag is written); interfaces carry no Phoenix tag. The groups moved to are restricted below.",
    },
    ...phoenixSecurityGroups(ctx, { actions: new Set(), tagWrites: [] }),
  ],
  "ec2:CreateSecurityGroup": (ctx) => [
    {
      id: "CreateInVpcs",
      // Any account's: in a shared VPC the VPC is its owner's, the group this account's.
      resources: [`arn:${ctx.partition}:ec2:${ctx.region}:*:vpc/*`],
      reason:
        "the isolation groups are created in the compromised instance's VPC, which is the user's (or, shared, its " +
        "owner's) and untagged; the group itself must be created with phoenix:role",
    },
    {
      id: "CreateIsolationGroups",
      resources: [ec2Arn(ctx, "security-group/*")],
      conditions: [tagPresent(`aws:RequestTag/${ROLE_TAG}`)],
    },
  ],
  "ec2:AuthorizeSecurityGroupIngress": phoenixSecurityGroups,
  "ec2:AuthorizeSecurityGroupEgress": phoenixSecurityGroups,
  "ec2:RevokeSecurityGroupIngress": phoenixSecurityGroups,
  "ec2:RevokeSecurityGroupEgress": phoenixSecurityGroups,
  "ec2:DisassociateAddress": (ctx) => [
    {
      id: "DisassociateAddresses",
      resources: [ec2Arn(ctx, "elastic-ip/*"), ec2Arn(ctx, "network-interface/*"), ec2Arn(ctx, "instance/*")],
      reason:
        "Elastic IPs belong to the user and carry no Phoenix tag; the instance side is checked by the workflow",
    },
  ],
  "ec2:CreateSnapshot": (ctx) => [
    {
      id: "SnapshotVolumes",
      resources: [ec2Arn(ctx, "volume/*")],
      reason:
        "the compromised instance's volumes carry no Phoenix tag (EBS volumes do not inherit instance tags)",
    },
    {
      id: "EvidenceSnapshots",
      resources: [ec2SharedArn(ctx, "snapshot/*")],
      conditions: [tagPresent(`aws:RequestTag/${CONTAINMENT_TAG}`)],
    },
  ],
  "ec2:CreateTags": tagWrites,
  "iam:GetInstanceProfile": (ctx) => [
    {
      id: "ReadInstanceProfiles",
      // Revoke reads the compromised instance's own profile to find its role: any profile.
      resources: [`arn:${ctx.partition}:iam::${ctx.account}:instance-profile/*`],
    },
  ],
  "sts:AssumeRole": (ctx) => [
    // Only the member roles of the accounts the policy lists; each trusts only Phoenix's roles.
    { id: "AssumeMemberRoles", resources: ctx.memberRoleArns },
  ],
  "iam:CreateInstanceProfile": quarantineProfile,
  "iam:TagInstanceProfile": quarantineProfile,
  "iam:GetRolePolicy": instanceRoles,
  "iam:PutRolePolicy": instanceRoles,
  "ssm:SendCommand": (ctx) => [
    ...(ctx.memoryCaptureDocumentArn
      ? [{ id: "MemoryCaptureDocument", resources: [ctx.memoryCaptureDocumentArn] }]
      : []),
    {
      id: "CommandsOnQuarantinedInstances",
      resources: [ec2Arn(ctx, "instance/*")],
      conditions: [tagPresent(`aws:ResourceTag/${QUARANTINE_TAG}`)],
    },
  ],
  "autoscaling:DetachInstances": (ctx) => [
    {
      id: "DetachFromGroups",
      resources: [autoScalingGroups(ctx)],
      reason:
        "containment replaces a compromised instance in whatever group it belongs to; the quarantine tag is on the " +
        "instance, and DetachInstances is authorized on the group only",
    },
  ],

  // --- sessions: a managed group replaces an instance someone logged in to
  "autoscaling:TerminateInstanceInAutoScalingGroup": managedGroups,

  // --- rollout
  "autoscaling:StartInstanceRefresh": managedGroups,
  // Only to pin a group on $Latest/$Default to the numbered version it runs (same content)
  // before a refresh: the same managed groups, the same condition.
  "autoscaling:UpdateAutoScalingGroup": managedGroups,
  "ec2:CreateLaunchTemplateVersion": (ctx) => [
    {
      id: "NewTemplateVersions",
      resources: [ec2Arn(ctx, "launch-template/*")],
      reason:
        "the phoenix:managed tag is a contract on Auto Scaling groups, not on their launch templates; the group's " +
        "tag is checked by StartInstanceRefresh, and the version is only used through it",
    },
  ],
  "ec2:RunInstances": (ctx) => {
    // Only the launch check Auto Scaling makes when a refresh points a group at a template.
    const throughTemplates = [
      { test: "ArnLike", variable: "ec2:LaunchTemplate", values: [ec2Arn(ctx, "launch-template/*")] },
    ];
    return [
      {
        id: "LaunchThroughTemplates",
        resources: [ec2Arn(ctx, "*"), ec2SharedArn(ctx, "image/*"), ec2SharedArn(ctx, "snapshot/*")],
        conditions: throughTemplates,
      },
      {
        // A shared VPC: the subnet (and a security group its owner shares) is another
        // account's; AWS RAM's share is what lets this account launch into it at all.
        id: "LaunchIntoSharedSubnets",
        resources: [
          `arn:${ctx.partition}:ec2:${ctx.region}:*:subnet/*`,
          `arn:${ctx.partition}:ec2:${ctx.region}:*:security-group/*`,
        ],
        conditions: throughTemplates,
      },
    ];
  },
  "iam:PassRole": (ctx) =>
    fleetRoles(
      ctx,
      { tagged: "PassFleetRoles", listed: "PassListedFleetRoles", never: "NeverPassPhoenixOrAdminRoles" },
      [passedToEc2],
    ),

  // --- state machines
  "lambda:InvokeFunction": () => {
    throw new Error("lambda:InvokeFunction is scoped per state machine (build/iam/policy.ts)");
  },
};

function signingKey(ctx: PolicyContext): Scope[] {
  const keys = `arn:${ctx.partition}:kms:${ctx.region}:${ctx.account}:key/*`;
  switch (ctx.signingKey.kind) {
    case "key":
      return [{ id: "SigningKey", resources: [ctx.signingKey.arn] }];
    case "alias":
      // The alias's account and region: an alias ARN may name the image pipeline's key.
      return [
        {
          id: "SigningKey",
          resources: [ctx.signingKey.keys],
          conditions: [
            {
              test: "ForAnyValue:StringEquals",
              variable: "kms:ResourceAliases",
              values: [ctx.signingKey.alias],
            },
          ],
        },
      ];
    case "unset":
      // No key in the policy: Verify is only called for an image that names its key; this
      // account's keys only.
      return [{ id: "SigningKey", resources: [keys] }];
  }
}

function quarantineProfile(ctx: PolicyContext): Scope[] {
  return [
    {
      id: "QuarantineProfile",
      resources: [
        `arn:${ctx.partition}:iam::${ctx.account}:instance-profile/${ctx.quarantineInstanceProfile}`,
      ],
    },
  ];
}

/**
 * The revocation deny is written on the compromised instance's role: only a fleet role (tagged,
 * or listed by the deployer), never a Phoenix or administrative role. IAM has no condition key
 * for an inline policy's name, so the policy name cannot be held to Phoenix's own.
 */
function instanceRoles(ctx: PolicyContext): Scope[] {
  return fleetRoles(ctx, {
    tagged: "RevokeOnFleetRoles",
    listed: "RevokeOnListedFleetRoles",
    never: "NeverWritePhoenixOrAdminRoles",
  });
}
