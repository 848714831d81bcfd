import { AutoScalingClient, DetachInstancesCommand } from "@aws-sdk/client-auto-scaling";
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from "@aws-sdk/client-iam";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { CreateTopicCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { IAM_PART, type IamPart } from "../../local/iam/index.js";
import type { DecisionRecord } from "../../local/iam/model.js";
import { stepFunctionsPlugin } from "../../local/stepfunctions/index.js";
import { awsCliAs, clientConfig, startTestCloud } from "../support/cloud.js";

// IAM enforced by the local cloud (issue 13): calls made with a role's credentials are evaluated
// against the role's policies as IAM holds them, with the request context AWS builds, by
// @cloud-copilot/iam-simulate; the default credentials are the account's administrator.

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const TRUST_ACCOUNT = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "sts:AssumeRole" },
  ],
});
const TRUST_LAMBDA = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
});
const TRUST_EC2 = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});
const policy = (...statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

let cloud: LocalCloud;
let admin: ReturnType<typeof clientConfig>;
let iam: IAMClient;
let tableArn: string;
let topicArn: string;
const functionCalls: unknown[] = [];

const asRole = ({ accessKeyId, secretAccessKey, sessionToken }: Credentials) => ({
  ...admin,
  credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
  maxAttempts: 1,
});

async function decisions(query = ""): Promise<DecisionRecord[]> {
  const response = await fetch(`${cloud.endpoint}/_phoenix/iam/decisions${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { decisions: DecisionRecord[] }).decisions;
}

async function createRole(name: string, trust: string, statements: object[]): Promise<void> {
  await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }));
  await iam.send(
    new PutRolePolicyCommand({ RoleName: name, PolicyName: "main", PolicyDocument: policy(...statements) }),
  );
}

/** The AWS CLI with the given credentials (an independent client); resolves to exit code and output. */
const cli = (credentials: Credentials, args: string[]) => awsCliAs(cloud, credentials, args);

async function assumeWithCli(arn: string, session: string): Promise<Credentials> {
  const result = await cli({ accessKeyId: "test", secretAccessKey: "test" }, [
    "sts",
    "assume-role",
    "--role-arn",
    arn,
    "--role-session-name",
    session,
  ]);
  expect(result.stderr).toBe("");
  const { Credentials } = JSON.parse(result.stdout) as {
    Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
  };
  return {
    accessKeyId: Credentials.AccessKeyId,
    secretAccessKey: Credentials.SecretAccessKey,
    sessionToken: Credentials.SessionToken,
  };
}

async function launch(count: number, profile?: string): Promise<string[]> {
  const ids: string[] = [];
  // One at a time: moto associates the instance profile with the first instance of a launch only.
  for (let i = 0; i < count; i++) {
    const { Instances = [] } = await new EC2Client(admin).send(
      new RunInstancesCommand({
        ImageId: "ami-12c6146b",
        MinCount: 1,
        MaxCount: 1,
        InstanceType: "t3.micro",
        ...(profile ? { IamInstanceProfile: { Name: profile } } : {}),
      }),
    );
    ids.push(Instances[0]!.InstanceId!);
  }
  return ids;
}

async function instanceCredentials(
  instanceId: string,
): Promise<Credentials & { expiration: string; status: number }> {
  const response = await fetch(`${cloud.endpoint}/_phoenix/instances/${instanceId}/credentials`, {
    method: "POST",
  });
  const body = (await response.json()) as Record<string, string>;
  return {
    status: response.status,
    accessKeyId: body.AccessKeyId!,
    secretAccessKey: body.SecretAccessKey!,
    sessionToken: body.SessionToken!,
    expiration: body.Expiration!,
  };
}

const errorOf = async (work: Promise<unknown>) =>
  work.then(
    () => ({ name: "none", status: 200, message: "" }),
    (error: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => ({
      name: error.name,
      status: error.$metadata?.httpStatusCode,
      message: error.message,
    }),
  );

beforeAll(async () => {
  cloud = await startTestCloud({
    plugins: [
      stepFunctionsPlugin({
        functions: {
          "iam-test-fn": async (event: unknown) => {
            functionCalls.push(event);
            return { ok: true };
          },
        },
      }),
    ],
  });
  admin = clientConfig(cloud);
  iam = new IAMClient(admin);
  const table = await new DynamoDBClient(admin).send(
    new CreateTableCommand({
      TableName: "iam-test",
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
    }),
  );
  tableArn = table.TableDescription!.TableArn!;
  topicArn = (await new SNSClient(admin).send(new CreateTopicCommand({ Name: "iam-test" }))).TopicArn!;
  await createRole("iam-test-reader", TRUST_ACCOUNT, [
    { Sid: "Describe", Effect: "Allow", Action: ["ec2:DescribeInstances"], Resource: "*" },
    { Sid: "ReadTable", Effect: "Allow", Action: ["dynamodb:GetItem"], Resource: tableArn },
  ]);
});
afterAll(async () => {
  await cloud?.stop();
});

describe("a role's credentials", () => {
  it("are refused an action outside the role's policy, with each service's own error (SDK)", async () => {
    const credentials = await assumeWithCli(roleArn("iam-test-reader"), "reader");
    const [instance] = await launch(1);
    const ec2 = new EC2Client(asRole(credentials));
    await expect(ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance!] }))).resolves.toBeDefined();
    const terminate = await errorOf(ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance!] })));
    expect(terminate).toMatchObject({ name: "UnauthorizedOperation", status: 403 });
    expect(terminate.message).toContain(`User: arn:aws:sts::${ACCOUNT}:assumed-role/iam-test-reader/reader`);
    expect(terminate.message).toContain(
      `ec2:TerminateInstances on resource: arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${instance}`,
    );

    const dynamo = new DynamoDBClient(asRole(credentials));
    await expect(
      dynamo.send(new GetItemCommand({ TableName: "iam-test", Key: { pk: { S: "a" } } })),
    ).resolves.toBeDefined();
    expect(
      await errorOf(dynamo.send(new PutItemCommand({ TableName: "iam-test", Item: { pk: { S: "a" } } }))),
    ).toMatchObject({ name: "AccessDeniedException", status: 400 });
    expect(
      await errorOf(
        new SNSClient(asRole(credentials)).send(new PublishCommand({ TopicArn: topicArn, Message: "x" })),
      ),
    ).toMatchObject({ name: "AuthorizationErrorException", status: 403 }); // SNS's AuthorizationError
    expect(
      await errorOf(
        new AutoScalingClient(asRole(credentials)).send(
          new DetachInstancesCommand({
            AutoScalingGroupName: "nope",
            InstanceIds: [instance!],
            ShouldDecrementDesiredCapacity: false,
          }),
        ),
      ),
    ).toMatchObject({ name: "AccessDenied", status: 403 });
    // The instance is untouched; the administrator's credentials are not evaluated.
    const { Reservations = [] } = await new EC2Client(admin).send(
      new DescribeInstancesCommand({ InstanceIds: [instance!] }),
    );
    expect(Reservations[0]?.Instances?.[0]?.State?.Name).toBe("running");
  });

  it("are refused with the service's error code through the AWS CLI too", async () => {
    const credentials = await assumeWithCli(roleArn("iam-test-reader"), "cli");
    const [instance] = await launch(1);
    const allowed = await cli(credentials, ["ec2", "describe-instances", "--instance-ids", instance!]);
    expect(allowed.code).toBe(0);
    const denied = await cli(credentials, ["ec2", "terminate-instances", "--instance-ids", instance!]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("UnauthorizedOperation");
    const put = await cli(credentials, [
      "dynamodb",
      "put-item",
      "--table-name",
      "iam-test",
      "--item",
      '{"pk":{"S":"b"}}',
    ]);
    expect(put.stderr).toContain("AccessDeniedException");
    const identity = await cli(credentials, ["sts", "get-caller-identity"]);
    expect(JSON.parse(identity.stdout)).toMatchObject({
      Account: ACCOUNT,
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/iam-test-reader/cli`,
    });
  });

  it("are refused a call the local cloud cannot describe as AWS would, even under ec2:*", async () => {
    await createRole("iam-test-all-ec2", TRUST_ACCOUNT, [
      { Effect: "Allow", Action: "ec2:*", Resource: "*" },
    ]);
    const credentials = await assumeWithCli(roleArn("iam-test-all-ec2"), "all");
    // RunInstances has no request-context builder (Phoenix never calls it): denied, never guessed
    // (it may imply iam:PassRole, which ec2:* does not grant).
    const launched = await errorOf(
      new EC2Client(asRole(credentials)).send(
        new RunInstancesCommand({
          ImageId: "ami-12c6146b",
          MinCount: 1,
          MaxCount: 1,
          InstanceType: "t3.micro",
        }),
      ),
    );
    expect(launched.name).toBe("UnauthorizedOperation");
    const [record] = await decisions("?principal=iam-test-all-ec2&decision=Deny");
    expect(record).toMatchObject({ action: "ec2:RunInstances", decision: "Deny" });
    expect(record?.reason).toContain("no request-context builder for ec2:RunInstances");
  });

  it("are allowed such a call only as an administrator (Action * on *, nothing denying), as AWS would", async () => {
    await createRole("iam-test-everything", TRUST_ACCOUNT, [{ Effect: "Allow", Action: "*", Resource: "*" }]);
    const credentials = await assumeWithCli(roleArn("iam-test-everything"), "all");
    const { Instances } = await new EC2Client(asRole(credentials)).send(
      new RunInstancesCommand({
        ImageId: "ami-12c6146b",
        MinCount: 1,
        MaxCount: 1,
        InstanceType: "t3.micro",
      }),
    );
    expect(Instances).toHaveLength(1);
    const allowed = await decisions("?principal=iam-test-everything&decision=Allow&action=ec2:RunInstances");
    expect(allowed.at(-1)?.reason).toContain("no request-context builder for ec2:RunInstances");
    await new EC2Client(admin).send(
      new TerminateInstancesCommand({ InstanceIds: [Instances![0]!.InstanceId!] }),
    );
  });
});

describe("the decision log", () => {
  it("lists each decision with the principal as AWS names it, the resources and the deciding statement", async () => {
    const credentials = await assumeWithCli(roleArn("iam-test-reader"), "logged");
    const since = (await decisions()).at(-1)?.seq ?? 0;
    const [instance] = await launch(1);
    const ec2 = new EC2Client(asRole(credentials));
    await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance!] }));
    await errorOf(
      ec2.send(new CreateTagsCommand({ Resources: [instance!], Tags: [{ Key: "team", Value: "x" }] })),
    );
    const logged = await decisions(`?since=${since}&principal=/logged`);
    const principal = `arn:aws:sts::${ACCOUNT}:assumed-role/iam-test-reader/logged`;
    expect(logged.map((d) => [d.principal, d.action, d.decision])).toEqual([
      [principal, "ec2:DescribeInstances", "Allow"],
      [principal, "ec2:CreateTags", "Deny"],
    ]);
    expect(logged[0]?.statement).toMatchObject({ policy: "inline:main", sid: "Describe", effect: "Allow" });
    expect(logged[1]?.resources).toEqual([`arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${instance}`]);
    expect(logged[1]?.context?.["aws:TagKeys"]).toEqual(["team"]);
    expect(logged[1]?.reason).toContain("no statement allows ec2:CreateTags");
  });
});

describe("sts:AssumeRole", () => {
  it("evaluates the role's trust policy: a role only Lambda may assume is refused to the administrator", async () => {
    await createRole("iam-test-lambda-only", TRUST_LAMBDA, [{ Effect: "Allow", Action: "*", Resource: "*" }]);
    const result = await cli({ accessKeyId: "test", secretAccessKey: "test" }, [
      "sts",
      "assume-role",
      "--role-arn",
      roleArn("iam-test-lambda-only"),
      "--role-session-name",
      "nope",
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("AccessDenied");
    const missing = await cli({ accessKeyId: "test", secretAccessKey: "test" }, [
      "sts",
      "assume-role",
      "--role-arn",
      roleArn("iam-test-missing"),
      "--role-session-name",
      "nope",
    ]);
    expect(missing.stderr).toContain("AccessDenied");
  });

  it("chains: a session may assume a role that trusts its role and that its policy allows", async () => {
    const target = "iam-test-chained";
    await iam.send(
      new CreateRoleCommand({
        RoleName: target,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            { Effect: "Allow", Principal: { AWS: roleArn("iam-test-reader") }, Action: "sts:AssumeRole" },
          ],
        }),
      }),
    );
    const reader = await assumeWithCli(roleArn("iam-test-reader"), "chain");
    // Trusted by name: the trust policy alone allows it (same account).
    const chained = await cli(reader, [
      "sts",
      "assume-role",
      "--role-arn",
      roleArn(target),
      "--role-session-name",
      "second",
    ]);
    expect(chained.code).toBe(0);
    const credentials = (
      JSON.parse(chained.stdout) as {
        Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
      }
    ).Credentials;
    const identity = await cli(
      {
        accessKeyId: credentials.AccessKeyId,
        secretAccessKey: credentials.SecretAccessKey,
        sessionToken: credentials.SessionToken,
      },
      ["sts", "get-caller-identity"],
    );
    expect(JSON.parse(identity.stdout).Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/${target}/second`);
    // Trusting the account only: the session's own policy must allow sts:AssumeRole, and it does not.
    const refused = await cli(reader, [
      "sts",
      "assume-role",
      "--role-arn",
      roleArn("iam-test-reader"),
      "--role-session-name",
      "again",
    ]);
    expect(refused.stderr).toContain("AccessDenied");
  });
});

describe("instance credentials and the revocation deny", () => {
  it("carry ec2:SourceInstanceARN and aws:TokenIssueTime: the contained instance is refused, its sibling keeps working", async () => {
    const role = "iam-test-fleet";
    await createRole(role, TRUST_EC2, [
      { Sid: "Describe", Effect: "Allow", Action: ["ec2:DescribeInstances"], Resource: "*" },
      { Sid: "ReadTable", Effect: "Allow", Action: ["dynamodb:GetItem"], Resource: tableArn },
    ]);
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: role }));
    await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: role, RoleName: role }));
    const [contained, sibling] = await launch(2, role);
    const containedCredentials = await instanceCredentials(contained!);
    const siblingCredentials = await instanceCredentials(sibling!);
    expect([containedCredentials.status, siblingCredentials.status]).toEqual([200, 200]);
    expect(Date.parse(containedCredentials.expiration)).toBeGreaterThan(Date.now() + 3600_000);
    const identity = await cli(containedCredentials, ["sts", "get-caller-identity"]);
    expect(JSON.parse(identity.stdout).Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${contained}`);

    const read = (credentials: Credentials) =>
      errorOf(
        new DynamoDBClient(asRole(credentials)).send(
          new GetItemCommand({ TableName: "iam-test", Key: { pk: { S: "a" } } }),
        ),
      );
    const describe = (credentials: Credentials) =>
      errorOf(new EC2Client(asRole(credentials)).send(new DescribeInstancesCommand({})));
    expect((await read(containedCredentials)).name).toBe("none");
    expect((await describe(containedCredentials)).name).toBe("none");

    // What src/containment/workflow/revoke.ts writes: deny everything to the credentials this
    // instance already holds (issued before now), on the role it shares with its sibling.
    const issuedBefore = new Date(cloud.context.clock.now()).toISOString();
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: role,
        PolicyName: "phoenix-revoke",
        PolicyDocument: policy({
          Sid: "PhoenixRevokeInstanceCredentials",
          Effect: "Deny",
          Action: "*",
          Resource: "*",
          Condition: {
            StringEquals: {
              "ec2:SourceInstanceARN": [`arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${contained}`],
            },
            DateLessThan: { "aws:TokenIssueTime": issuedBefore },
          },
        }),
      }),
    );
    expect(await read(containedCredentials)).toMatchObject({ name: "AccessDeniedException" });
    const refused = await describe(containedCredentials);
    expect(refused.name).toBe("UnauthorizedOperation");
    expect(refused.message).toContain("explicit deny");
    expect((await read(siblingCredentials)).name).toBe("none");
    expect((await describe(siblingCredentials)).name).toBe("none");
    const [record] = await decisions(`?principal=/${contained}&decision=Deny&limit=1`);
    expect(record?.statement).toMatchObject({
      policy: "inline:phoenix-revoke",
      sid: "PhoenixRevokeInstanceCredentials",
      effect: "Deny",
    });
    expect(record?.context).toMatchObject({
      "ec2:SourceInstanceARN": `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${contained}`,
    });

    // As in AWS, the credentials outlive the instance: still accepted (and still denied) after it
    // is terminated, until their Expiration; the sibling's keep working after its own termination.
    await new EC2Client(admin).send(new TerminateInstancesCommand({ InstanceIds: [contained!, sibling!] }));
    expect((await read(containedCredentials)).name).toBe("AccessDeniedException");
    expect((await read(siblingCredentials)).name).toBe("none");
  });

  it("are had only for an instance with an instance profile", async () => {
    const [bare] = await launch(1);
    const response = await fetch(`${cloud.endpoint}/_phoenix/instances/${bare}/credentials`, {
      method: "POST",
    });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toContain("no instance profile");
  });

  it("refuse a session token that is not the one issued with the key", async () => {
    const credentials = await assumeWithCli(roleArn("iam-test-reader"), "tampered");
    const tampered = await errorOf(
      new EC2Client(asRole({ ...credentials, sessionToken: "forged" })).send(
        new DescribeInstancesCommand({}),
      ),
    );
    expect(tampered.name).toBe("AuthFailure");
  });
});

describe("a state machine", () => {
  it("invokes its Lambda tasks with its own role: lambda:InvokeFunction is evaluated", async () => {
    const functionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:iam-test-fn`;
    await createRole("iam-test-machine-allowed", TRUST_ACCOUNT, [
      {
        Sid: "Invoke",
        Effect: "Allow",
        Action: "lambda:InvokeFunction",
        Resource: [functionArn, `${functionArn}:*`],
      },
    ]);
    await createRole("iam-test-machine-denied", TRUST_ACCOUNT, [
      { Effect: "Allow", Action: "lambda:InvokeFunction", Resource: `${functionArn}-other` },
    ]);
    const sfn = new SFNClient(admin);
    const definition = JSON.stringify({
      StartAt: "Call",
      States: {
        Call: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke",
          Parameters: { FunctionName: functionArn, "Payload.$": "$" },
          End: true,
        },
      },
    });
    const outcome = async (role: string) => {
      const { stateMachineArn } = await sfn.send(
        new CreateStateMachineCommand({ name: role, definition, roleArn: roleArn(role) }),
      );
      const { executionArn } = await sfn.send(
        new StartExecutionCommand({ stateMachineArn, input: '{"n":1}' }),
      );
      for (;;) {
        const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        if (described.status !== "RUNNING") return described;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const allowed = await outcome("iam-test-machine-allowed");
    expect(allowed.status).toBe("SUCCEEDED");
    expect(functionCalls).toHaveLength(1);
    const denied = await outcome("iam-test-machine-denied");
    expect(denied.status).toBe("FAILED");
    expect(denied.error).toBe("Lambda.AWSLambdaException");
    expect(denied.cause).toContain(`assumed-role/iam-test-machine-denied/`);
    expect(denied.cause).toContain(`lambda:InvokeFunction on resource: ${functionArn}`);
    expect(functionCalls).toHaveLength(1);
  });
});

describe("enforcement", () => {
  it("is on by default and says so in health", async () => {
    const health = (await (await fetch(`${cloud.endpoint}/_phoenix/health`)).json()) as {
      parts: Record<string, { enforcing: boolean; denied: number }>;
    };
    expect(health.parts[IAM_PART]).toMatchObject({ enforcing: true });
    expect(health.parts[IAM_PART]!.denied).toBeGreaterThan(0);
  });

  it("can be turned off for debugging: the same credentials are then not evaluated", async () => {
    const off = await startTestCloud({ plugins: [], iam: "off" });
    try {
      const part = off.parts.find((p) => p.name === IAM_PART) as IamPart;
      expect(part.enforcing).toBe(false);
      const offAdmin = clientConfig(off);
      await new IAMClient(offAdmin).send(
        new CreateRoleCommand({ RoleName: "nothing", AssumeRolePolicyDocument: TRUST_ACCOUNT }),
      );
      const credentials = part.credentialsFor({ roleArn: roleArn("nothing"), sessionName: "debug" });
      const { Instances = [] } = await new EC2Client(offAdmin).send(
        new RunInstancesCommand({
          ImageId: "ami-12c6146b",
          MinCount: 1,
          MaxCount: 1,
          InstanceType: "t3.micro",
        }),
      );
      await new EC2Client({ ...offAdmin, credentials }).send(
        new TerminateInstancesCommand({ InstanceIds: [Instances[0]!.InstanceId!] }),
      );
    } finally {
      await off.stop();
    }
  });
});

describe("temporary credentials", () => {
  it("are refused once expired, on the local cloud's clock: an instance's after its Expiration", async () => {
    // 7,200× faster: an instance's six hours of credentials last three real seconds.
    const fast = await startTestCloud({ plugins: [], speed: 7200 });
    try {
      const config = clientConfig(fast);
      const fastIam = new IAMClient(config);
      await fastIam.send(new CreateRoleCommand({ RoleName: "short", AssumeRolePolicyDocument: TRUST_EC2 }));
      await fastIam.send(
        new PutRolePolicyCommand({
          RoleName: "short",
          PolicyName: "main",
          PolicyDocument: policy({ Effect: "Allow", Action: "ec2:DescribeInstances", Resource: "*" }),
        }),
      );
      await fastIam.send(new CreateInstanceProfileCommand({ InstanceProfileName: "short" }));
      await fastIam.send(
        new AddRoleToInstanceProfileCommand({ InstanceProfileName: "short", RoleName: "short" }),
      );
      const { Instances = [] } = await new EC2Client(config).send(
        new RunInstancesCommand({
          ImageId: "ami-12c6146b",
          MinCount: 1,
          MaxCount: 1,
          IamInstanceProfile: { Name: "short" },
        }),
      );
      const response = await fetch(
        `${fast.endpoint}/_phoenix/instances/${Instances[0]!.InstanceId}/credentials`,
        {
          method: "POST",
        },
      );
      const body = (await response.json()) as Record<string, string>;
      const credentials = {
        accessKeyId: body.AccessKeyId!,
        secretAccessKey: body.SecretAccessKey!,
        sessionToken: body.SessionToken!,
      };
      const describe = () =>
        errorOf(
          new EC2Client({ ...config, credentials, maxAttempts: 1 }).send(new DescribeInstancesCommand({})),
        );
      expect((await describe()).name).toBe("none");
      while (fast.context.clock.now() < Date.parse(body.Expiration!))
        await new Promise((r) => setTimeout(r, 100));
      expect(await describe()).toMatchObject({ name: "RequestExpired" });
    } finally {
      await fast.stop();
    }
  });
});
