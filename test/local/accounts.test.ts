import {
  CreateLaunchTemplateCommand,
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateTopicCommand, ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { memberAccounts, ORGANIZATION_ACCESS_ROLE } from "../../local/core/account-ids.js";
import { registerImage } from "../../local/core/seed.js";
import { MOTO_ACCOUNT_HEADER } from "../../local/gateway/moto-account.js";
import type { DecisionRecord } from "../../local/iam/model.js";
import { sharedImages } from "../../local/moto-fixes/shared-images.js";
import { awsCliAs, clientConfig, startTestCloud } from "../support/cloud.js";

/**
 * Issue 17, the local cloud's accounts: moto keeps each member account's state apart; a role
 * session acts in its role's account; every member has OrganizationAccountAccessRole trusting the
 * local cloud's own account, as AWS Organizations creates it; AssumeRole across accounts needs
 * both the role's trust policy and the caller's own policy, as in AWS.
 */
const CENTRAL = "123456789012";
const MEMBER = "222222222222";
const OTHER_MEMBER = "333333333333";
const policy = (...statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
const trusting = (principal: string) =>
  policy({ Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" });

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken: string };

let cloud: LocalCloud;
let admin: ReturnType<typeof clientConfig>;

const as = (credentials: Credentials) => ({ ...admin, credentials, maxAttempts: 1 });

/** STS through the AWS CLI (an independent client), with the given credentials or the administrator's. */
async function sts(args: string[], by?: Credentials): Promise<Record<string, unknown>> {
  const result = await awsCliAs(cloud, by ?? { accessKeyId: "test", secretAccessKey: "test" }, [
    "sts",
    ...args,
  ]);
  if (result.code !== 0) throw new Error(`aws sts ${args[0]} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

async function assume(roleArn: string, sessionName: string, by?: Credentials): Promise<Credentials> {
  const { Credentials: c } = (await sts(
    ["assume-role", "--role-arn", roleArn, "--role-session-name", sessionName],
    by,
  )) as { Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string } };
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

const whoAmI = async (by: Credentials) =>
  (await sts(["get-caller-identity"], by)) as { Account: string; Arn: string };

async function groupNames(config: ReturnType<typeof clientConfig>): Promise<string[]> {
  const { SecurityGroups = [] } = await new EC2Client(config).send(new DescribeSecurityGroupsCommand({}));
  return SecurityGroups.map((g) => g.GroupName!);
}

async function decisions(query: string): Promise<DecisionRecord[]> {
  const response = await fetch(`${cloud.endpoint}/_phoenix/iam/decisions${query}`);
  return ((await response.json()) as { decisions: DecisionRecord[] }).decisions;
}

beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [sharedImages()], accounts: [MEMBER, OTHER_MEMBER] });
  admin = clientConfig(cloud, 1);
}, 60_000);
afterAll(async () => cloud?.stop());

describe("member accounts", () => {
  it("are named by the health route", async () => {
    const health = (await (await fetch(`${cloud.endpoint}/_phoenix/health`)).json()) as Record<
      string,
      unknown
    >;
    expect(health).toMatchObject({ accountId: CENTRAL, memberAccounts: [MEMBER, OTHER_MEMBER] });
  });

  it("each have OrganizationAccountAccessRole, which the AWS CLI assumes from the own account", async () => {
    const member = await assume(`arn:aws:iam::${MEMBER}:role/${ORGANIZATION_ACCESS_ROLE}`, "alice");
    expect(await whoAmI(member)).toMatchObject({
      Account: MEMBER,
      Arn: `arn:aws:sts::${MEMBER}:assumed-role/${ORGANIZATION_ACCESS_ROLE}/alice`,
    });
  });

  it("keep their own state: what a member's role creates is that member's alone", async () => {
    const member = await assume(`arn:aws:iam::${MEMBER}:role/${ORGANIZATION_ACCESS_ROLE}`, "maker");
    await new EC2Client(as(member)).send(
      new CreateSecurityGroupCommand({ GroupName: "made-in-member", Description: "member's" }),
    );
    await new SNSClient(as(member)).send(new CreateTopicCommand({ Name: "member-topic" }));

    expect(await groupNames(as(member))).toContain("made-in-member");
    expect(await groupNames(admin)).not.toContain("made-in-member");
    const other = await assume(`arn:aws:iam::${OTHER_MEMBER}:role/${ORGANIZATION_ACCESS_ROLE}`, "look");
    expect(await groupNames(as(other))).not.toContain("made-in-member");
    const { Topics = [] } = await new SNSClient(as(member)).send(new ListTopicsCommand({}));
    expect(Topics.map((t) => t.TopicArn)).toContain(`arn:aws:sns:us-east-1:${MEMBER}:member-topic`);
  });

  it("cannot be reached by sending moto's account header: a call acts in its signer's account", async () => {
    const ec2 = new EC2Client(admin);
    ec2.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers[MOTO_ACCOUNT_HEADER] = MEMBER;
        return next(args);
      },
      { step: "build", name: "spoofAccount" },
    );
    await ec2.send(new CreateSecurityGroupCommand({ GroupName: "spoofed", Description: "header" }));
    expect(await groupNames(admin)).toContain("spoofed");
    const member = await assume(`arn:aws:iam::${MEMBER}:role/${ORGANIZATION_ACCESS_ROLE}`, "check");
    expect(await groupNames(as(member))).not.toContain("spoofed");
  });
});

describe("sts:AssumeRole across accounts", () => {
  let memberAdmin: Credentials;
  const centralIam = () => new IAMClient(admin);
  const assumeAnyMember = {
    Effect: "Allow",
    Action: "sts:AssumeRole",
    Resource: "arn:aws:iam::*:role/phoenix-member",
  };

  beforeAll(async () => {
    memberAdmin = await assume(`arn:aws:iam::${MEMBER}:role/${ORGANIZATION_ACCESS_ROLE}`, "setup");
    const memberIam = new IAMClient(as(memberAdmin));
    // The member role trusts one central role; it may only list topics.
    await memberIam.send(
      new CreateRoleCommand({
        RoleName: "phoenix-member",
        AssumeRolePolicyDocument: trusting(`arn:aws:iam::${CENTRAL}:role/phoenix-central`),
      }),
    );
    await memberIam.send(
      new PutRolePolicyCommand({
        RoleName: "phoenix-member",
        PolicyName: "main",
        PolicyDocument: policy({ Effect: "Allow", Action: "sns:ListTopics", Resource: "*" }),
      }),
    );
    // Trusted by the member, but with no policy of its own allowing sts:AssumeRole.
    await memberIam.send(
      new CreateRoleCommand({
        RoleName: "trusts-bare",
        AssumeRolePolicyDocument: trusting(`arn:aws:iam::${CENTRAL}:role/bare`),
      }),
    );
    for (const [name, statements] of [
      ["phoenix-central", [assumeAnyMember]],
      ["other-central", [assumeAnyMember]],
      ["bare", []],
    ] as const) {
      await centralIam().send(
        new CreateRoleCommand({
          RoleName: name,
          AssumeRolePolicyDocument: trusting(`arn:aws:iam::${CENTRAL}:root`),
        }),
      );
      if (statements.length > 0) {
        await centralIam().send(
          new PutRolePolicyCommand({
            RoleName: name,
            PolicyName: "main",
            PolicyDocument: policy(...statements),
          }),
        );
      }
    }
    // A role of a name that exists in the own account only.
    await centralIam().send(
      new CreateRoleCommand({
        RoleName: "central-only",
        AssumeRolePolicyDocument: trusting(`arn:aws:iam::${CENTRAL}:root`),
      }),
    );
  });

  it("admits the principal the member role trusts, into the member account, with the member role's policies", async () => {
    const central = await assume(`arn:aws:iam::${CENTRAL}:role/phoenix-central`, "fn");
    const member = await assume(`arn:aws:iam::${MEMBER}:role/phoenix-member`, "contain-i-1", central);
    const me = await whoAmI(member);
    expect(me.Arn).toBe(`arn:aws:sts::${MEMBER}:assumed-role/phoenix-member/contain-i-1`);
    await new SNSClient(as(member)).send(new ListTopicsCommand({}));
    // Anything else is evaluated against the member role's policies, and denied.
    await expect(
      new EC2Client(as(member)).send(new CreateSecurityGroupCommand({ GroupName: "x", Description: "x" })),
    ).rejects.toMatchObject({ name: "UnauthorizedOperation" });
    const denied = await decisions(`?decision=Deny&principal=${encodeURIComponent(me.Arn)}`);
    expect(denied.at(-1)).toMatchObject({ action: "ec2:CreateSecurityGroup" });
    expect(denied.at(-1)?.resources.join()).toContain(`:${MEMBER}:`);
  });

  it("refuses a principal the member role does not trust, even one allowed by its own policy", async () => {
    const other = await assume(`arn:aws:iam::${CENTRAL}:role/other-central`, "fn");
    await expect(assume(`arn:aws:iam::${MEMBER}:role/phoenix-member`, "nope", other)).rejects.toThrow(
      `not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${MEMBER}:role/phoenix-member`,
    );
  });

  it("refuses a trusted principal whose own policy does not allow it (across accounts both must)", async () => {
    const bare = await assume(`arn:aws:iam::${CENTRAL}:role/bare`, "fn");
    await expect(assume(`arn:aws:iam::${MEMBER}:role/trusts-bare`, "nope", bare)).rejects.toThrow(
      /AccessDenied/,
    );
  });

  it("refuses a role the member account does not have, though the own account has one of that name", async () => {
    await expect(assume(`arn:aws:iam::${MEMBER}:role/central-only`, "nope")).rejects.toThrow(/AccessDenied/);
    const refused = await decisions("?decision=Deny&action=sts:AssumeRole");
    expect(refused.at(-1)?.reason).toContain(`arn:aws:iam::${MEMBER}:role/central-only does not exist`);
  });
});

describe("an image shared with a member account", () => {
  let shared: string;
  let unshared: string;
  let member: Credentials;
  let other: Credentials;
  const ids = async (config: ReturnType<typeof clientConfig>, input = {}) =>
    ((await new EC2Client(config).send(new DescribeImagesCommand(input))).Images ?? []).map(
      (i) => i.ImageId!,
    );

  beforeAll(async () => {
    // Published in the own account (the tooling account here), shared with one member.
    const ec2 = new EC2Client(admin);
    shared = await registerImage(ec2, { family: "web", name: "golden-web-shared" });
    unshared = await registerImage(ec2, { family: "web", name: "golden-web-private" });
    await ec2.send(
      new ModifyImageAttributeCommand({
        ImageId: shared,
        LaunchPermission: { Add: [{ UserId: MEMBER }] },
      }),
    );
    member = await assume(`arn:aws:iam::${MEMBER}:role/${ORGANIZATION_ACCESS_ROLE}`, "images");
    other = await assume(`arn:aws:iam::${OTHER_MEMBER}:role/${ORGANIZATION_ACCESS_ROLE}`, "images");
  });

  it("shows in the member's DescribeImages, with its owner and without its tags, and by its id", async () => {
    expect(await ids(as(member))).toContain(shared);
    expect(await ids(as(member))).not.toContain(unshared);
    const { Images = [] } = await new EC2Client(as(member)).send(
      new DescribeImagesCommand({ ImageIds: [shared] }),
    );
    expect(Images).toHaveLength(1);
    expect(Images[0]).toMatchObject({ ImageId: shared, OwnerId: CENTRAL });
    // EC2 shares no user-defined tags: the member sees none of the owner's, and no tag filter finds it.
    expect(Images[0]?.Tags ?? []).toEqual([]);
    expect(
      await ids(as(member), { Filters: [{ Name: "tag:phoenix:image-family", Values: ["web"] }] }),
    ).not.toContain(shared);
    expect(await ids(as(member), { ExecutableUsers: ["all"] })).not.toContain(shared);
    // The member's own filters apply to it too.
    expect(await ids(as(member), { Filters: [{ Name: "name", Values: ["golden-web-shared"] }] })).toEqual([
      shared,
    ]);
    expect(await ids(as(member), { Owners: ["self"] })).not.toContain(shared);
    expect(await ids(as(member), { Owners: [CENTRAL] })).toEqual([shared]);
  });

  it("stays invisible to an account it is not shared with, and to the member once unshared", async () => {
    expect(await ids(as(other))).not.toContain(shared);
    await expect(
      new EC2Client(as(other)).send(new DescribeImagesCommand({ ImageIds: [shared] })),
    ).rejects.toMatchObject({ name: "InvalidAMIID.NotFound" });
    await expect(
      new EC2Client(as(member)).send(new DescribeImagesCommand({ ImageIds: [unshared] })),
    ).rejects.toMatchObject({ name: "InvalidAMIID.NotFound" });
  });

  it("is launchable in the member account", async () => {
    const { Instances = [] } = await new EC2Client(as(member)).send(
      new RunInstancesCommand({ ImageId: shared, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }),
    );
    expect(Instances[0]?.ImageId).toBe(shared);
    // Through a launch template too (the template's image is the one checked).
    const { LaunchTemplate } = await new EC2Client(as(member)).send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "member-shared",
        LaunchTemplateData: { ImageId: shared, InstanceType: "t3.micro" },
      }),
    );
    const launched = await new EC2Client(as(member)).send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateId: LaunchTemplate!.LaunchTemplateId!, Version: "1" },
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    expect(launched.Instances?.[0]?.ImageId).toBe(shared);
    await new EC2Client(admin).send(
      new ModifyImageAttributeCommand({
        ImageId: shared,
        LaunchPermission: { Remove: [{ UserId: MEMBER }] },
      }),
    );
    expect(await ids(as(member))).not.toContain(shared);
  });

  it("is not launchable where it is not shared (nor once unshared), as EC2 refuses it", async () => {
    const count = async (config: ReturnType<typeof clientConfig>) =>
      ((await new EC2Client(config).send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap(
        (r) => r.Instances ?? [],
      ).length;
    const before = await count(as(other));
    for (const [who, image] of [
      [other, shared],
      [member, unshared],
      [member, shared],
    ] as const) {
      await expect(
        new EC2Client(as(who)).send(
          new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }),
        ),
      ).rejects.toMatchObject({ name: "InvalidAMIID.NotFound" });
    }
    await expect(
      new EC2Client(as(member)).send(
        new RunInstancesCommand({
          LaunchTemplate: { LaunchTemplateName: "member-shared" },
          MinCount: 1,
          MaxCount: 1,
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidAMIID.NotFound" });
    expect(await count(as(other))).toBe(before);
    // Public images and the account's own still launch.
    const { Images = [] } = await new EC2Client(as(other)).send(
      new DescribeImagesCommand({ Owners: ["amazon"] }),
    );
    const launched = await new EC2Client(as(other)).send(
      new RunInstancesCommand({
        ImageId: Images[0]!.ImageId!,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: "t3.micro",
      }),
    );
    expect(launched.Instances).toHaveLength(1);
  });
});

describe("the member accounts asked for", () => {
  it("are refused, each problem named, when not twelve digits, repeated, or the own account", () => {
    expect(() => memberAccounts(CENTRAL, ["22222222222", MEMBER, MEMBER, CENTRAL])).toThrow(
      /"22222222222" is not a 12-digit account id; 222222222222 is given twice; 123456789012 is the local cloud's own account/,
    );
    expect(memberAccounts(CENTRAL, [MEMBER])).toEqual([MEMBER]);
  });
});
