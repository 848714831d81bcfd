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
 * - `aws:TagKeys` and `ec2:CreateAction` on ec2:CreateTags.
 * - `autoscaling:ResourceTag/<key>` on the Auto Scaling group of StartInstanceRefresh.
 * - `ec2:LaunchTemplate` on RunInstances (only launches through a launch template).
 * - `iam:PassedToService` on iam:PassRole; `kms:ResourceAliases` for a key named by alias.
 * Where no condition applies, the scope says why (`reason`); the least-privilege test requires
 * one or the other on every mutating EC2 and Auto Scaling statement.
 */

import {
  TAG_CONTAINMENT as CONTAINMENT_TAG,
  TAG_MANAGED as MANAGED_TAG,
  TAG_QUARANTINE as QUARANTINE_TAG,
  TAG_ROLE as ROLE_TAG,
} from "../tags.js";
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
}

type ScopeRule = (ctx: PolicyContext, used: ReadonlySet<string>) => Scope[];

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

export const SCOPE_RULES: Record<string, ScopeRule> = {
  // --- read-only, no resource-level permissions
  "autoscaling:DescribeAutoScalingGroups": noResourceLevel,
  "autoscaling:DescribeAutoScalingInstances": noResourceLevel,
  "autoscaling:DescribeInstanceRefreshes": noResourceLevel,
  "ec2:DescribeAddresses": noResourceLevel,
  "ec2:DescribeIamInstanceProfileAssociations": noResourceLevel,
  "ec2:DescribeImages": noResourceLevel,
  "ec2:DescribeInstanceAttribute": noResourceLevel,
  "ec2:DescribeInstances": noResourceLevel,
  "ec2:DescribeLaunchTemplateVersions": noResourceLevel,
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
  "ec2:ModifyInstanceAttribute": quarantinedInstance,
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
    ...phoenixSecurityGroups(ctx, new Set()),
  ],
  "ec2:CreateSecurityGroup": (ctx) => [
    {
      id: "CreateInVpcs",
      resources: [ec2Arn(ctx, "vpc/*")],
      reason:
        "the isolation groups are created in the compromised instance's VPC, which is the user's and untagged",
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
  "ec2:CreateTags": (ctx, used) => [
    {
      id: "PhoenixTagsOnly",
      resources: [ec2Arn(ctx, "*"), ec2SharedArn(ctx, "image/*"), ec2SharedArn(ctx, "snapshot/*")],
      conditions: [
        { test: "ForAllValues:StringLike", variable: "aws:TagKeys", values: ["phoenix:*"] },
        tagPresent("aws:TagKeys"),
      ],
    },
    ...(used.has("ec2:CreateSecurityGroup")
      ? [
          {
            id: "TagIsolationGroupsAtCreation",
            resources: [ec2Arn(ctx, "security-group/*")],
            conditions: [
              { test: "StringEquals", variable: "ec2:CreateAction", values: ["CreateSecurityGroup"] },
            ],
          },
        ]
      : []),
    ...(used.has("ec2:RunInstances")
      ? [
          {
            id: "TagLaunchesAtCreation",
            resources: [ec2Arn(ctx, "*")],
            conditions: [{ test: "StringEquals", variable: "ec2:CreateAction", values: ["RunInstances"] }],
          },
        ]
      : []),
  ],
  "iam:GetInstanceProfile": (ctx) => [
    {
      id: "ReadInstanceProfiles",
      // Revoke reads the compromised instance's own profile to find its role: any profile.
      resources: [`arn:${ctx.partition}:iam::${ctx.account}:instance-profile/*`],
    },
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

  // --- rollout
  "autoscaling:StartInstanceRefresh": (ctx) => [
    {
      id: "RefreshManagedGroups",
      resources: [autoScalingGroups(ctx)],
      conditions: [
        { test: "StringEquals", variable: `autoscaling:ResourceTag/${MANAGED_TAG}`, values: ["true"] },
      ],
    },
  ],
  // Only to pin a group on $Latest/$Default to the numbered version it runs (same content)
  // before a refresh: the same managed groups, the same condition.
  "autoscaling:UpdateAutoScalingGroup": (ctx) => [
    {
      id: "RefreshManagedGroups",
      resources: [autoScalingGroups(ctx)],
      conditions: [
        { test: "StringEquals", variable: `autoscaling:ResourceTag/${MANAGED_TAG}`, values: ["true"] },
      ],
    },
  ],
  "ec2:CreateLaunchTemplateVersion": (ctx) => [
    {
      id: "NewTemplateVersions",
      resources: [ec2Arn(ctx, "launch-template/*")],
      reason:
        "the phoenix:managed tag is a contract on Auto Scaling groups, not on their launch templates; the group's " +
        "tag is checked by StartInstanceRefresh, and the version is only used through it",
    },
  ],
  "ec2:RunInstances": (ctx) => [
    {
      id: "LaunchThroughTemplates",
      resources: [ec2Arn(ctx, "*"), ec2SharedArn(ctx, "image/*"), ec2SharedArn(ctx, "snapshot/*")],
      // Only the launch check Auto Scaling makes when a refresh points a group at a template.
      conditions: [
        { test: "ArnLike", variable: "ec2:LaunchTemplate", values: [ec2Arn(ctx, "launch-template/*")] },
      ],
    },
  ],
  "iam:PassRole": (ctx) =>
    ctx.fleetRoleArns.length === 0
      ? []
      : [
          {
            id: "PassFleetRoles",
            resources: [...ctx.fleetRoleArns].sort(),
            conditions: [
              { test: "StringEquals", variable: "iam:PassedToService", values: ["ec2.amazonaws.com"] },
            ],
          },
        ],

  // --- state machines
  "lambda:InvokeFunction": () => {
    throw new Error("lambda:InvokeFunction is scoped per state machine (src/iam/policy.ts)");
  },
};

function signingKey(ctx: PolicyContext): Scope[] {
  const keys = `arn:${ctx.partition}:kms:${ctx.region}:${ctx.account}:key/*`;
  switch (ctx.signingKey.kind) {
    case "key":
      return [{ id: "SigningKey", resources: [ctx.signingKey.arn] }];
    case "alias":
      return [
        {
          id: "SigningKey",
          resources: [keys],
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

function instanceRoles(ctx: PolicyContext): Scope[] {
  return [
    {
      id: "RevokeInstanceRoleSessions",
      resources: [`arn:${ctx.partition}:iam::${ctx.account}:role/*`],
      // IAM has no condition key for an inline policy's name, so PutRolePolicy cannot be held to
      // `phoenix-revoke-*`; the role is whichever one the compromised instance had.
      reason:
        "the compromised instance's role is arbitrary; IAM offers no condition on the inline policy name",
    },
  ];
}
