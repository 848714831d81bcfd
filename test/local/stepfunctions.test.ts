import { readFileSync } from "node:fs";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeVpcsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { stepFunctionsPlugin } from "../../local/stepfunctions/index.js";
import { awsCli, clientConfig, startTestCloud } from "../support/cloud.js";

const SPEED = 100;
const ROLE = "arn:aws:iam::123456789012:role/phoenix-test";
const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/asl/${name}.json`, import.meta.url), "utf8");

// Local Lambda handlers the fixtures' Tasks are mapped to.
let inFlightSquares = 0;
let maxInFlightSquares = 0;
class ValidationFailed extends Error {
  override name = "ValidationFailed";
}
const functions = {
  double: async (event: { value: number }) => ({ value: event.value * 2 }),
  describe: async (event: { value: number; statusCode: number }, context: { functionName: string }) => ({
    ...event,
    by: context.functionName,
  }),
  validate: async () => {
    throw new ValidationFailed("instance i-123 is not managed by Phoenix");
  },
  square: async (event: number) => {
    inFlightSquares++;
    maxInFlightSquares = Math.max(maxInFlightSquares, inFlightSquares);
    await new Promise((resolve) => setTimeout(resolve, 30));
    inFlightSquares--;
    return event * event;
  },
  increment: async (event: { count: number; target: number }) => ({ ...event, count: event.count + 1 }),
  // Work that takes real time, as a handler and its AWS calls do.
  work: async (event: { realMs: number }) => {
    await new Promise((resolve) => setTimeout(resolve, event.realMs));
    return event;
  },
};

let cloud: LocalCloud;
let sfn: SFNClient;
const arnOf = (name: string) => `arn:aws:states:us-east-1:123456789012:stateMachine:${name}`;

beforeAll(async () => {
  cloud = await startTestCloud({
    speed: SPEED,
    plugins: [
      stepFunctionsPlugin({
        functions,
        definitions: [
          { name: "lambda-invoke", definition: "test/fixtures/asl/lambda-invoke.json" },
          { name: "ec2-create", definition: JSON.parse(fixture("ec2-create")) },
          { name: "retry-throttled", definition: fixture("retry-throttled") },
          { name: "catch", definition: fixture("catch") },
          { name: "wait", definition: fixture("wait") },
          { name: "map", definition: fixture("map") },
          { name: "choice-loop", definition: fixture("choice-loop") },
          { name: "long-wait", definition: fixture("long-wait") },
          { name: "optimized", definition: fixture("optimized") },
          { name: "autoscaling-errors", definition: fixture("autoscaling-errors") },
        ],
      }),
    ],
  });
  sfn = new SFNClient(clientConfig(cloud));
  // The role the tests' state machines run as: it exists, allowed everything (local/iam evaluates
  // every task as the machine's role).
  const iam = new IAMClient(clientConfig(cloud));
  await iam.send(
    new CreateRoleCommand({
      RoleName: ROLE.split("/").pop(),
      AssumeRolePolicyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "states.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      }),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: ROLE.split("/").pop(),
      PolicyName: "everything",
      PolicyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
      }),
    }),
  );
});
afterAll(async () => {
  await cloud?.stop();
});

async function finished(executionArn: string, timeoutMs = 20_000): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== "RUNNING") return described;
    if (Date.now() > deadline) throw new Error(`${executionArn} still RUNNING after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function run(stateMachine: string, input: unknown, name?: string) {
  const started = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: arnOf(stateMachine), input: JSON.stringify(input), name }),
  );
  return finished(started.executionArn!);
}

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 50 }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

async function expectSfnError(promise: Promise<unknown>, name: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error?.name).toBe(name);
  return error!;
}

describe("Step Functions API", () => {
  it("registers the plugin's definitions at start and lists and describes them through the SDK", async () => {
    const listed = await sfn.send(new ListStateMachinesCommand({}));
    expect(listed.stateMachines?.map((m) => m.name)).toEqual(
      expect.arrayContaining(["lambda-invoke", "ec2-create", "wait", "map", "choice-loop", "long-wait"]),
    );
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arnOf("wait") }));
    expect(described.status).toBe("ACTIVE");
    expect(described.type).toBe("STANDARD");
    expect(JSON.parse(described.definition!)).toEqual(JSON.parse(fixture("wait")));
    expect(described.creationDate).toBeInstanceOf(Date);
    expect(Math.abs(described.creationDate!.getTime() - Date.now())).toBeLessThan(24 * 3600 * 1000);
  });

  it("creates, updates, pages through and deletes a state machine", async () => {
    const definition = JSON.stringify({
      StartAt: "P",
      States: { P: { Type: "Pass", Result: 1, End: true } },
    });
    const created = await sfn.send(
      new CreateStateMachineCommand({ name: "crud", definition, roleArn: ROLE }),
    );
    expect(created.stateMachineArn).toBe(arnOf("crud"));
    // The same request again is idempotent; a different definition under the same name is not.
    const again = await sfn.send(new CreateStateMachineCommand({ name: "crud", definition, roleArn: ROLE }));
    expect(again.stateMachineArn).toBe(created.stateMachineArn);
    const other = JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", Result: 2, End: true } } });
    await expectSfnError(
      sfn.send(new CreateStateMachineCommand({ name: "crud", definition: other, roleArn: ROLE })),
      "StateMachineAlreadyExists",
    );
    const updated = await sfn.send(
      new UpdateStateMachineCommand({ stateMachineArn: created.stateMachineArn, definition: other }),
    );
    expect(updated.updateDate).toBeInstanceOf(Date);
    const execution = await run("crud", {});
    expect(execution.output).toBe("2");

    const first = await sfn.send(new ListStateMachinesCommand({ maxResults: 2 }));
    expect(first.stateMachines).toHaveLength(2);
    expect(first.nextToken).toBeTruthy();
    const second = await sfn.send(
      new ListStateMachinesCommand({ maxResults: 2, nextToken: first.nextToken }),
    );
    expect(second.stateMachines?.[0]?.name).not.toBe(first.stateMachines?.[0]?.name);
    await expectSfnError(sfn.send(new ListStateMachinesCommand({ nextToken: "bogus" })), "InvalidToken");

    await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: created.stateMachineArn }));
    await expectSfnError(
      sfn.send(new DescribeStateMachineCommand({ stateMachineArn: created.stateMachineArn })),
      "StateMachineDoesNotExist",
    );
  });

  it("answers with AWS's error codes", async () => {
    await expectSfnError(
      sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arnOf("nope") })),
      "StateMachineDoesNotExist",
    );
    await expectSfnError(
      sfn.send(new DescribeStateMachineCommand({ stateMachineArn: "not-an-arn" })),
      "InvalidArn",
    );
    await expectSfnError(
      sfn.send(
        new DescribeExecutionCommand({
          executionArn: "arn:aws:states:us-east-1:123456789012:execution:wait:nope",
        }),
      ),
      "ExecutionDoesNotExist",
    );
    await expectSfnError(
      sfn.send(new StartExecutionCommand({ stateMachineArn: arnOf("wait"), input: "{not json" })),
      "InvalidExecutionInput",
    );
  });

  it("refuses an invalid definition with InvalidDefinition naming the problems", async () => {
    const definition = JSON.stringify({
      StartAt: "First",
      States: { First: { Type: "Pass", Next: "Missing" }, Orphan: { Type: "Succeed" } },
    });
    const error = await expectSfnError(
      sfn.send(new CreateStateMachineCommand({ name: "invalid", definition, roleArn: ROLE })),
      "InvalidDefinition",
    );
    expect(error.message).toContain("Missing");
    expect(error.message).toContain("Orphan");
    await expectSfnError(
      sfn.send(new CreateStateMachineCommand({ name: "not-json", definition: "{", roleArn: ROLE })),
      "InvalidDefinition",
    );
  });

  it("refuses a Task it cannot map, naming the state and its resource", async () => {
    const definition = JSON.stringify({
      StartAt: "Glue",
      States: { Glue: { Type: "Task", Resource: "arn:aws:states:::glue:startJobRun", End: true } },
    });
    const error = await expectSfnError(
      sfn.send(new CreateStateMachineCommand({ name: "unmapped", definition, roleArn: ROLE })),
      "InvalidDefinition",
    );
    expect(error.message).toContain("'Glue'");
    expect(error.message).toContain("arn:aws:states:::glue:startJobRun");
  });

  it("serves the AWS CLI: list-state-machines, start-execution, describe-execution", async () => {
    const listed = (await awsCli(cloud, ["stepfunctions", "list-state-machines"])) as {
      stateMachines: { name: string }[];
    };
    expect(listed.stateMachines.map((m) => m.name)).toContain("lambda-invoke");
    const started = (await awsCli(cloud, [
      "stepfunctions",
      "start-execution",
      "--state-machine-arn",
      arnOf("lambda-invoke"),
      "--name",
      "from-the-cli",
      "--input",
      JSON.stringify({ value: 4 }),
    ])) as { executionArn: string; startDate: number | string };
    expect(started.executionArn).toBe(
      "arn:aws:states:us-east-1:123456789012:execution:lambda-invoke:from-the-cli",
    );
    await finished(started.executionArn);
    const described = (await awsCli(cloud, [
      "stepfunctions",
      "describe-execution",
      "--execution-arn",
      started.executionArn,
    ])) as {
      status: string;
      output: string;
      startDate: number | string;
      stopDate: number | string;
    };
    expect(described.status).toBe("SUCCEEDED");
    expect(JSON.parse(described.output)).toMatchObject({ value: 8 });
    // CLI v1 prints the wire's epoch seconds, v2 ISO strings: either way a time near now.
    const ms = (t: number | string) => (typeof t === "number" ? t * 1000 : Date.parse(t));
    expect(Math.abs(ms(described.startDate) - Date.now())).toBeLessThan(24 * 3600 * 1000);
    expect(ms(described.startDate)).toBe(ms(started.startDate));
    expect(ms(described.stopDate)).toBeGreaterThanOrEqual(ms(described.startDate));
  });
});

describe("executions", () => {
  it("runs a lambda:invoke task (AWS's Invoke response) and a plain function ARN (the bare result)", async () => {
    const execution = await run("lambda-invoke", { value: 21 });
    expect(execution.status).toBe("SUCCEEDED");
    expect(JSON.parse(execution.output!)).toEqual({ value: 42, statusCode: 200, by: "describe" });

    const types = (await history(execution.executionArn!)).map((e) => e.type);
    expect(types).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSucceeded",
      "TaskStateExited",
      "TaskStateEntered",
      "LambdaFunctionScheduled",
      "LambdaFunctionStarted",
      "LambdaFunctionSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
  });

  it("records history events with AWS's details and ordering", async () => {
    const execution = await run("lambda-invoke", { value: 1 });
    const events = await history(execution.executionArn!);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    const scheduled = events.find((e) => e.type === "TaskScheduled");
    expect(scheduled?.taskScheduledEventDetails).toMatchObject({
      resourceType: "lambda",
      resource: "invoke",
      region: "us-east-1",
    });
    expect(JSON.parse(scheduled?.taskScheduledEventDetails?.parameters ?? "{}")).toEqual({
      FunctionName: "double",
      Payload: { value: 1 },
    });
    expect(events[1]?.stateEnteredEventDetails).toMatchObject({ name: "Double", input: '{"value":1}' });
    expect(events.at(-1)?.executionSucceededEventDetails?.output).toBe(execution.output);
    const times = events.map((e) => e.timestamp!.getTime());
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const reversed = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: execution.executionArn, reverseOrder: true }),
    );
    expect(reversed.events?.[0]?.type).toBe("ExecutionSucceeded");
  });

  it("runs an aws-sdk:ec2 task that really creates a VPC in the local cloud", async () => {
    const execution = await run("ec2-create", { cidr: "10.42.0.0/16" });
    expect(execution.status).toBe("SUCCEEDED");
    const { vpcId } = JSON.parse(execution.output!) as { vpcId: string };
    expect(vpcId).toMatch(/^vpc-/);
    const vpcs = await new EC2Client(clientConfig(cloud)).send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
    expect(vpcs.Vpcs?.[0]?.CidrBlock).toBe("10.42.0.0/16");
    expect(vpcs.Vpcs?.[0]?.Tags).toEqual([{ Key: "phoenix:test", Value: "stepfunctions" }]);
    // The task's calls went through the gateway, so they are in its call log.
    expect(cloud.context.callLog.count({ service: "ec2", action: "CreateVpc" })).toBeGreaterThanOrEqual(1);
    const scheduled = (await history(execution.executionArn!)).find((e) => e.type === "TaskScheduled");
    expect(scheduled?.taskScheduledEventDetails).toMatchObject({
      resourceType: "aws-sdk:ec2",
      resource: "createVpc",
    });
  });

  it("retries an aws-sdk task through injected EC2 throttling", async () => {
    cloud.context.faults.configure({
      seed: 7,
      rules: [{ service: "ec2", action: "DescribeRegions", throttleRate: 0.6 }],
    });
    const throttledBefore = cloud.context.faults.injected.throttle;
    let execution: DescribeExecutionCommandOutput;
    try {
      execution = await run("retry-throttled", {});
    } finally {
      cloud.context.faults.configure({ seed: 1, rules: [] });
    }
    expect(execution.status).toBe("SUCCEEDED");
    expect(JSON.parse(execution.output!).count).toBeGreaterThan(0);
    const throttled = cloud.context.faults.injected.throttle - throttledBefore;
    expect(throttled).toBeGreaterThan(0);

    const events = await history(execution.executionArn!);
    const failures = events.filter((e) => e.type === "TaskFailed");
    expect(failures).toHaveLength(throttled);
    expect(failures[0]?.taskFailedEventDetails?.error).toBe("Ec2.Ec2Exception");
    expect(failures[0]?.taskFailedEventDetails?.cause).toContain("RequestLimitExceeded");
    expect(events.filter((e) => e.type === "TaskScheduled")).toHaveLength(throttled + 1);
    // One TaskStateEntered: retries happen inside the state.
    expect(events.filter((e) => e.type === "TaskStateEntered")).toHaveLength(1);
  });

  it("catches a handler's own error type and an aws-sdk error by their names", async () => {
    const execution = await run("catch", { instanceId: "i-123" });
    expect(execution.status).toBe("SUCCEEDED");
    const output = JSON.parse(execution.output!) as {
      validationError: { Error: string; Cause: string };
      describeError: { Error: string; Cause: string };
    };
    expect(output.validationError.Error).toBe("ValidationFailed");
    expect(JSON.parse(output.validationError.Cause)).toMatchObject({
      errorType: "ValidationFailed",
      errorMessage: "instance i-123 is not managed by Phoenix",
    });
    expect(output.describeError.Error).toBe("Ec2.Ec2Exception");
    expect(output.describeError.Cause).toContain("InvalidInstanceID.NotFound");
    expect(output.describeError.Cause).toContain("Service: Ec2");
  });

  it("fails with a Fail state's Error and Cause", async () => {
    const definition = JSON.stringify({
      StartAt: "Refuse",
      States: { Refuse: { Type: "Fail", Error: "Rollout.ImageRejected", Cause: "image is not verified" } },
    });
    await sfn.send(new CreateStateMachineCommand({ name: "refuse", definition, roleArn: ROLE }));
    const execution = await run("refuse", {});
    expect(execution).toMatchObject({
      status: "FAILED",
      error: "Rollout.ImageRejected",
      cause: "image is not verified",
    });
    const types = (await history(execution.executionArn!)).map((e) => e.type);
    expect(types).toEqual(["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]);
  });

  it("names an undeclared Auto Scaling error by the service's base exception", async () => {
    const execution = await run("autoscaling-errors", { group: "no-such-group" });
    expect(execution.status).toBe("SUCCEEDED");
    const { error } = JSON.parse(execution.output!) as { error: { Error: string; Cause: string } };
    expect(error.Error).toBe("AutoScaling.AutoScalingException");
    expect(error.Cause).toContain("Error Code: ValidationError");
    expect(error.Cause).toContain("no-such-group");
  });

  it("runs the optimized DynamoDB, SNS, EventBridge and nested-execution integrations in Parallel", async () => {
    await new DynamoDBClient(clientConfig(cloud)).send(
      new CreateTableCommand({
        TableName: "sfn-locks",
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    const topic = await new SNSClient(clientConfig(cloud)).send(
      new CreateTopicCommand({ Name: "sfn-notify" }),
    );
    const execution = await run("optimized", { table: "sfn-locks", key: "asg-1", topicArn: topic.TopicArn });
    expect(execution.status).toBe("SUCCEEDED");
    const [locks, notify, emit, child] = JSON.parse(execution.output!) as [
      { conflict: { Error: string; Cause: string }; lock: { pk: string } },
      { MessageId: string },
      { FailedEntryCount: number; Entries: { EventId: string }[] },
      { Status: string; Output: { value: number }; ExecutionArn: string },
    ];
    expect(locks.conflict.Error).toBe("DynamoDB.ConditionalCheckFailedException");
    expect(locks.conflict.Cause).toContain("Service: AmazonDynamoDBv2");
    expect(locks.lock.pk).toBe("asg-1");
    expect(notify.MessageId).toBeTruthy();
    expect(emit.FailedEntryCount).toBe(0);
    expect(emit.Entries[0]?.EventId).toBeTruthy();
    expect(child.Status).toBe("SUCCEEDED");
    expect(child.Output).toMatchObject({ value: 10 });
    const childDescribed = await sfn.send(new DescribeExecutionCommand({ executionArn: child.ExecutionArn }));
    expect(childDescribed.status).toBe("SUCCEEDED");

    const types = (await history(execution.executionArn!)).map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]);
    expect(types.slice(-3)).toEqual(["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]);
  });

  it("fails the execution with the task's error when nothing catches it", async () => {
    const definition = JSON.stringify({
      StartAt: "Validate",
      States: {
        Validate: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke",
          Parameters: { FunctionName: "validate", Payload: {} },
          End: true,
        },
      },
    });
    await sfn.send(new CreateStateMachineCommand({ name: "uncaught", definition, roleArn: ROLE }));
    const execution = await run("uncaught", {});
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("ValidationFailed");
    expect(execution.cause).toContain("not managed by Phoenix");
    const types = (await history(execution.executionArn!)).map((e) => e.type);
    expect(types.slice(-2)).toEqual(["TaskFailed", "ExecutionFailed"]);
  });

  it("waits 60 simulated seconds (and SecondsPath) in well under a real second at speed 100", async () => {
    const started = Date.now();
    const execution = await run("wait", { delaySeconds: 30 });
    const elapsed = Date.now() - started;
    expect(execution.status).toBe("SUCCEEDED");
    // 90 simulated seconds: 900 real ms at speed 100, and never less.
    expect(elapsed).toBeGreaterThanOrEqual(850);
    expect(elapsed).toBeLessThan(5000);
    const simulated = execution.stopDate!.getTime() - execution.startDate!.getTime();
    expect(simulated).toBeGreaterThanOrEqual(85_000);
    const types = (await history(execution.executionArn!)).map((e) => e.type);
    expect(types).toEqual([
      "ExecutionStarted",
      "WaitStateEntered",
      "WaitStateExited",
      "WaitStateEntered",
      "WaitStateExited",
      "SucceedStateEntered",
      "SucceedStateExited",
      "ExecutionSucceeded",
    ]);
  });

  it("waits until a TimestampPath on the simulated clock", async () => {
    const definition = JSON.stringify({
      StartAt: "Until",
      States: { Until: { Type: "Wait", TimestampPath: "$.until", End: true } },
    });
    await sfn.send(new CreateStateMachineCommand({ name: "wait-until", definition, roleArn: ROLE }));
    // A minute ahead on the local clock is 600 real ms at speed 100.
    const until = new Date(cloud.context.clock.now() + 60_000).toISOString();
    const started = Date.now();
    const execution = await run("wait-until", { until });
    expect(execution.status).toBe("SUCCEEDED");
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(execution.stopDate!.getTime()).toBeGreaterThanOrEqual(Date.parse(until) - 1000);
  });

  it("runs a Map with MaxConcurrency 2", async () => {
    maxInFlightSquares = 0;
    const execution = await run("map", { items: [1, 2, 3, 4, 5, 6] });
    expect(execution.status).toBe("SUCCEEDED");
    expect(JSON.parse(execution.output!)).toEqual([1, 4, 9, 16, 25, 36]);
    expect(maxInFlightSquares).toBe(2);
    const events = await history(execution.executionArn!);
    expect(events.find((e) => e.type === "MapStateStarted")?.mapStateStartedEventDetails?.length).toBe(6);
    expect(events.filter((e) => e.type === "MapIterationSucceeded")).toHaveLength(6);
    expect(events.filter((e) => e.type === "TaskSucceeded")).toHaveLength(6);
  });

  it("loops through a Choice until the count reaches the target", async () => {
    const execution = await run("choice-loop", { target: 4 });
    expect(execution.status).toBe("SUCCEEDED");
    expect(JSON.parse(execution.output!)).toEqual({ count: 4, target: 4 });
    const types = (await history(execution.executionArn!)).map((e) => e.type);
    expect(types.filter((t) => t === "ChoiceStateEntered")).toHaveLength(4);
    expect(types.filter((t) => t === "TaskSucceeded")).toHaveLength(4);
  });

  it("applies AWS's execution-name semantics", async () => {
    const stateMachineArn = arnOf("long-wait");
    const input = JSON.stringify({ finding: "f-1" });
    const first = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: "contain-f-1", input }));
    // Same name, identical input, still running: the same execution.
    const second = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: "contain-f-1", input }));
    expect(second.executionArn).toBe(first.executionArn);
    expect(second.startDate?.getTime()).toBe(first.startDate?.getTime());
    await expectSfnError(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: "contain-f-1",
          input: JSON.stringify({ finding: "f-2" }),
        }),
      ),
      "ExecutionAlreadyExists",
    );
    await expectSfnError(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: "has space", input })),
      "InvalidName",
    );
    await expectSfnError(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: "x".repeat(81), input })),
      "InvalidName",
    );
    const unnamed = await sfn.send(new StartExecutionCommand({ stateMachineArn, input }));
    expect(unnamed.executionArn).toMatch(/:execution:long-wait:[0-9a-f-]{36}$/);

    await sfn.send(new StopExecutionCommand({ executionArn: first.executionArn }));
    await sfn.send(new StopExecutionCommand({ executionArn: unnamed.executionArn }));
    // Once it has ended, the name stays taken, even with the same input.
    await expectSfnError(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: "contain-f-1", input })),
      "ExecutionAlreadyExists",
    );
  });

  it("stops an execution: ABORTED, with the error and cause given", async () => {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arnOf("long-wait"), name: "to-stop" }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopped = await sfn.send(
      new StopExecutionCommand({
        executionArn: started.executionArn,
        error: "Operator.Cancelled",
        cause: "testing stop",
      }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const described = await finished(started.executionArn!);
    expect(described).toMatchObject({
      status: "ABORTED",
      error: "Operator.Cancelled",
      cause: "testing stop",
    });
    // The history closes with the abort, recording the Wait that was cut short.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const types = (await history(started.executionArn!)).map((e) => e.type);
    expect(types).toEqual(["ExecutionStarted", "WaitStateEntered", "WaitStateAborted", "ExecutionAborted"]);
  });

  it("lists executions newest first, filtered by status, in pages", async () => {
    const stateMachineArn = arnOf("lambda-invoke");
    for (const value of [1, 2, 3]) await run("lambda-invoke", { value }, `listed-${value}`);
    const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "SUCCEEDED" }));
    const names = all.executions?.map((e) => e.name) ?? [];
    expect(names.slice(0, 3)).toEqual(["listed-3", "listed-2", "listed-1"]);
    expect(all.executions?.every((e) => e.status === "SUCCEEDED")).toBe(true);
    const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING" }));
    expect(running.executions).toEqual([]);
    const firstPage = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1 }));
    const secondPage = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, maxResults: 1, nextToken: firstPage.nextToken }),
    );
    expect(firstPage.executions?.[0]?.name).toBe("listed-3");
    expect(secondPage.executions?.[0]?.name).toBe("listed-2");
  });

  it("times out an execution after its TimeoutSeconds on the simulated clock", async () => {
    const definition = JSON.stringify({
      TimeoutSeconds: 30,
      StartAt: "TooLong",
      States: { TooLong: { Type: "Wait", Seconds: 3600, End: true } },
    });
    await sfn.send(new CreateStateMachineCommand({ name: "times-out", definition, roleArn: ROLE }));
    const started = Date.now();
    const execution = await run("times-out", {});
    expect(Date.now() - started).toBeLessThan(3000);
    expect(execution).toMatchObject({ status: "TIMED_OUT", error: "States.Timeout" });
    const types = (await history(execution.executionArn!)).map((e) => e.type);
    expect(types).toEqual(["ExecutionStarted", "WaitStateEntered", "WaitStateAborted", "ExecutionTimedOut"]);
  });

  describe("TimeoutSeconds counts waits at their simulated length and work at its real length", () => {
    const lambda = (FunctionName: string, rest: object) => ({
      Type: "Task",
      Resource: "arn:aws:states:::lambda:invoke",
      Parameters: { FunctionName, "Payload.$": "$" },
      ResultSelector: { "realMs.$": "$.Payload.realMs" },
      ...rest,
    });
    // Three iterations at once, each a 4 s wait then 300 real ms of work: the execution is
    // about 4.3 s old at the end (not 12 s: the waits overlap), within its 10 s.
    const fleet = (maxConcurrency: number) => ({
      TimeoutSeconds: 10,
      StartAt: "Fleet",
      States: {
        Fleet: {
          Type: "Map",
          ItemsPath: "$.items",
          MaxConcurrency: maxConcurrency,
          ItemProcessor: {
            StartAt: "Pause",
            States: {
              Pause: { Type: "Wait", Seconds: 4, Next: "Work" },
              Work: lambda("work", { End: true }),
            },
          },
          End: true,
        },
      },
    });
    const items = [{ realMs: 300 }, { realMs: 300 }, { realMs: 300 }];

    it("lets real work run past TimeoutSeconds / speed, with parallel waits counted once", async () => {
      await sfn.send(
        new CreateStateMachineCommand({
          name: "timeout-work",
          definition: JSON.stringify(fleet(0)),
          roleArn: ROLE,
        }),
      );
      const started = Date.now();
      const execution = await run("timeout-work", { items });
      // 300 real ms is 30 s of the simulated clock at ×100: the old limit (10 s / 100 = 100 ms) cut it.
      expect(Date.now() - started).toBeGreaterThan(300);
      expect(execution.status).toBe("SUCCEEDED");
      expect(JSON.parse(execution.output!)).toEqual(items);
    });

    it("times out when iterations queued behind MaxConcurrency wait longer than TimeoutSeconds in all", async () => {
      // One at a time: 3 × 4 s of waits is 12 s > 10 s; it ends during the third wait.
      await sfn.send(
        new CreateStateMachineCommand({
          name: "timeout-queued",
          definition: JSON.stringify(fleet(1)),
          roleArn: ROLE,
        }),
      );
      const execution = await run("timeout-queued", { items: items.map(() => ({ realMs: 0 })) });
      expect(execution).toMatchObject({ status: "TIMED_OUT", error: "States.Timeout" });
      const events = await history(execution.executionArn!);
      expect(events.filter((e) => e.type === "MapIterationSucceeded")).toHaveLength(2);
      expect(events.at(-1)?.type).toBe("ExecutionTimedOut");
    });

    it("counts a Task's Retry intervals at their simulated length", async () => {
      // Three retries 4 s apart: 12 s > 10 s, so the timeout comes before the last attempt fails.
      const definition = {
        TimeoutSeconds: 10,
        StartAt: "Validate",
        States: {
          Validate: {
            Type: "Task",
            Resource: "arn:aws:states:::lambda:invoke",
            Parameters: { FunctionName: "validate", "Payload.$": "$" },
            Retry: [
              { ErrorEquals: ["ValidationFailed"], IntervalSeconds: 4, MaxAttempts: 3, BackoffRate: 1 },
            ],
            End: true,
          },
        },
      };
      await sfn.send(
        new CreateStateMachineCommand({
          name: "timeout-retries",
          definition: JSON.stringify(definition),
          roleArn: ROLE,
        }),
      );
      const execution = await run("timeout-retries", {});
      expect(execution).toMatchObject({ status: "TIMED_OUT", error: "States.Timeout" });
      const types = (await history(execution.executionArn!)).map((e) => e.type);
      expect(types.filter((type) => type === "TaskFailed")).toHaveLength(3);
      expect(types.at(-1)).toBe("ExecutionTimedOut");
    });
  });

  it("gives states the context object: execution and state machine ids and names", async () => {
    const definition = JSON.stringify({
      StartAt: "Context",
      States: {
        Context: {
          Type: "Pass",
          Parameters: {
            "id.$": "$$.Execution.Id",
            "name.$": "$$.Execution.Name",
            "machine.$": "$$.StateMachine.Name",
            "role.$": "$$.Execution.RoleArn",
          },
          End: true,
        },
      },
    });
    await sfn.send(new CreateStateMachineCommand({ name: "context", definition, roleArn: ROLE }));
    const execution = await run("context", {}, "ctx-1");
    expect(JSON.parse(execution.output!)).toEqual({
      id: "arn:aws:states:us-east-1:123456789012:execution:context:ctx-1",
      name: "ctx-1",
      machine: "context",
      role: ROLE,
    });
    const forExecution = await sfn.send(
      new DescribeStateMachineForExecutionCommand({ executionArn: execution.executionArn }),
    );
    expect(JSON.parse(forExecution.definition!)).toEqual(JSON.parse(definition));
  });

  it("keeps the gateway serving when a definition's handler misbehaves", async () => {
    const definition = JSON.stringify({
      StartAt: "Bad",
      States: { Bad: { Type: "Pass", InputPath: "$.does.not.exist", End: true } },
    });
    await sfn.send(new CreateStateMachineCommand({ name: "bad-path", definition, roleArn: ROLE }));
    const execution = await run("bad-path", {});
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("States.Runtime");
    const health = await fetch(`${cloud.endpoint}/_phoenix/health`);
    expect(health.status).toBe(200);
  });
});
