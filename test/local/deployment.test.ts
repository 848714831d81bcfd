import {
  EventBridgeClient,
  PutEventsCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
} from "@aws-sdk/client-iam";
import { GetQueueUrlCommand, type Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { EventBridgeEvent, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SynthGraph } from "../../build/synth/graph.js";
import type { LocalCloud } from "../../local/cloud.js";
import { readGraphFile } from "../../local/deployment/graph-source.js";
import type { LocalDeployment } from "../../local/deployment/index.js";
import { awsCli, clientConfig } from "../support/cloud.js";
import { startDeployedCloud } from "../support/phoenix.js";

/**
 * The local cloud deploys what the resource graph says (local/deployment): `GET
 * /_phoenix/deployment` answers the graph, and the AWS CLI against the local cloud finds every
 * function, rule, target, queue, mapping, table, topic, role and state machine as the graph
 * declares it. Then the two behaviours the graph's settings imply: an SQS-driven function sees
 * SQS's redrive after the queue's maxReceiveCount; an event EventBridge cannot deliver, and an
 * asynchronous invocation that keeps failing, end in their dead-letter queues.
 */

type BusEvent = EventBridgeEvent<string, Record<string, unknown>>;

const SPEED = 600;
let cloud: LocalCloud;
let deployment: LocalDeployment;
let graph: SynthGraph;
/** Every record the (stubbed) on-finding function was given, and what it answered. */
const findingRecords: { body: BusEvent; receiveCount: number; failed: boolean }[] = [];
const refreshAttempts: BusEvent[] = [];

const entry = (fn: { handler: string }) =>
  fn.handler
    .replace(/\.[^.]+$/, "")
    .split("/")
    .pop();

beforeAll(async () => {
  ({ cloud, deployment } = await startDeployedCloud({
    speed: SPEED,
    wrap: (fn, handler) => {
      // on-finding fails the records whose finding id says so, and reports them in
      // batchItemFailures (its mapping has ReportBatchItemFailures); the others succeed.
      if (entry(fn) === "on-finding")
        return async (event: SQSEvent): Promise<SQSBatchResponse> => {
          const batchItemFailures: { itemIdentifier: string }[] = [];
          for (const record of event.Records) {
            const body = JSON.parse(record.body) as BusEvent;
            const failed = String(body.detail.id).startsWith("always-fails");
            findingRecords.push({
              body,
              receiveCount: Number(record.attributes.ApproximateReceiveCount),
              failed,
            });
            if (failed) batchItemFailures.push({ itemIdentifier: record.messageId });
          }
          return { batchItemFailures };
        };
      if (entry(fn) === "on-refresh-event")
        return async (event: BusEvent) => {
          refreshAttempts.push(event);
          throw new Error("refresh handler down");
        };
      return handler;
    },
  }));
  graph = readGraphFile(deployment.loaded.path!);
});
afterAll(async () => {
  await cloud?.stop();
});

const inputs = (type: string) => graph.resources.filter((r) => r.type === type).map((r) => r.inputs);
const json = (text: unknown) => JSON.parse(String(text)) as unknown;

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function receiveAll(queueName: string): Promise<Message[]> {
  const sqs = new SQSClient(clientConfig(cloud));
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ["All"],
    }),
  );
  return Messages;
}

describe("the local deployment is the synth graph", () => {
  it("answers GET /_phoenix/deployment with the graph it deployed, in the synth format", async () => {
    const response = await fetch(`${cloud.endpoint}/_phoenix/deployment`);
    expect(response.status).toBe(200);
    const served = (await response.json()) as SynthGraph;
    expect(served).toEqual(graph);
    expect(served.stage).toBe("test");
    const types = new Set(served.resources.map((r) => r.type));
    for (const type of [
      "aws:lambda/function:Function",
      "aws:cloudwatch/eventRule:EventRule",
      "aws:cloudwatch/eventTarget:EventTarget",
      "aws:sqs/queue:Queue",
      "aws:lambda/eventSourceMapping:EventSourceMapping",
      "aws:dynamodb/table:Table",
      "aws:sfn/stateMachine:StateMachine",
    ])
      expect(types).toContain(type);
  });

  it("runs every function with the graph's environment, timeout, memory, role and reserved concurrency", async () => {
    const functions = inputs("aws:lambda/function:Function");
    expect(functions.length).toBeGreaterThan(10);
    const { Functions } = (await awsCli(cloud, ["lambda", "list-functions"])) as {
      Functions: Record<string, unknown>[];
    };
    expect(Functions.map((f) => f.FunctionName).sort()).toEqual(functions.map((f) => String(f.name)).sort());
    for (const fn of functions) {
      const variables = (fn.environment as { variables: Record<string, string> }).variables;
      expect(Functions.find((f) => f.FunctionName === fn.name)).toMatchObject({
        Handler: fn.handler,
        Runtime: fn.runtime,
        Timeout: fn.timeout,
        MemorySize: fn.memorySize,
        Role: fn.role,
        Environment: { Variables: variables },
      });
      // The runtime runs it with the same.
      const spec = deployment.lambda.get(String(fn.name))!.spec;
      expect([spec.timeoutSeconds, spec.memoryMb, spec.environment]).toEqual([
        fn.timeout,
        fn.memorySize,
        variables,
      ]);
    }
    for (const fn of functions.filter((f) => f.reservedConcurrentExecutions !== undefined)) {
      const concurrency = (await awsCli(cloud, [
        "lambda",
        "get-function-concurrency",
        "--function-name",
        String(fn.name),
      ])) as { ReservedConcurrentExecutions?: number };
      expect(concurrency.ReservedConcurrentExecutions).toBe(fn.reservedConcurrentExecutions);
      expect(deployment.lambda.get(String(fn.name))!.spec.reservedConcurrency).toBe(
        fn.reservedConcurrentExecutions,
      );
    }
    // The deps each function runs with are built from that environment.
    const onFinding = deployment.functionOf("on-finding");
    expect(deployment.depsOf("on-finding").resources.auditTable).toBe(
      onFinding.environment.PHOENIX_AUDIT_TABLE,
    );
    expect(deployment.depsOf("on-finding").policy).toEqual(json(onFinding.environment.PHOENIX_POLICY));
  });

  it("has the graph's rules with their patterns, and their targets with retry policy and DLQ", async () => {
    const listed = (await awsCli(cloud, ["events", "list-rules"])) as {
      Rules: {
        Name: string;
        EventPattern?: string;
        ScheduleExpression?: string;
        State: string;
        Description?: string;
      }[];
    };
    const rules = inputs("aws:cloudwatch/eventRule:EventRule");
    expect(rules.length).toBeGreaterThan(2);
    expect(listed.Rules.map((r) => r.Name).sort()).toEqual(rules.map((r) => String(r.name)).sort());
    for (const rule of rules) {
      const served = listed.Rules.find((r) => r.Name === rule.name)!;
      if (rule.eventPattern !== undefined) expect(json(served.EventPattern)).toEqual(json(rule.eventPattern));
      else
        expect([served.EventPattern, served.ScheduleExpression]).toEqual([
          undefined,
          rule.scheduleExpression,
        ]);
      expect(served.State).toBe("ENABLED");
      expect(served.Description).toBe(rule.description);
      const { Targets } = (await awsCli(cloud, [
        "events",
        "list-targets-by-rule",
        "--rule",
        String(rule.name),
      ])) as {
        Targets: Record<string, unknown>[];
      };
      const declared = inputs("aws:cloudwatch/eventTarget:EventTarget").filter((t) => t.rule === rule.name);
      expect(Targets).toHaveLength(declared.length);
      for (const target of declared) {
        const retry = target.retryPolicy as {
          maximumRetryAttempts: number;
          maximumEventAgeInSeconds: number;
        };
        expect(Targets.find((t) => t.Arn === target.arn)).toMatchObject({
          Arn: target.arn,
          RetryPolicy: {
            MaximumRetryAttempts: retry.maximumRetryAttempts,
            MaximumEventAgeInSeconds: retry.maximumEventAgeInSeconds,
          },
          DeadLetterConfig: { Arn: (target.deadLetterConfig as { arn: string }).arn },
        });
      }
    }
  });

  it("has the graph's queues (and no other) with their settings, redrive and policies", async () => {
    const queues = inputs("aws:sqs/queue:Queue");
    const { QueueUrls = [] } = (await awsCli(cloud, ["sqs", "list-queues"])) as { QueueUrls?: string[] };
    expect(QueueUrls.map((url) => url.split("/").pop()).sort()).toEqual(
      queues.map((q) => String(q.name)).sort(),
    );
    for (const queue of queues) {
      const { QueueUrl } = (await awsCli(cloud, [
        "sqs",
        "get-queue-url",
        "--queue-name",
        String(queue.name),
      ])) as {
        QueueUrl: string;
      };
      const { Attributes } = (await awsCli(cloud, [
        "sqs",
        "get-queue-attributes",
        "--queue-url",
        QueueUrl,
        "--attribute-names",
        "All",
      ])) as { Attributes: Record<string, string> };
      expect(Attributes.VisibilityTimeout).toBe(String(queue.visibilityTimeoutSeconds ?? 30));
      expect(Attributes.MessageRetentionPeriod).toBe(String(queue.messageRetentionSeconds ?? 345_600));
      // The documents as set (AWS answers them so; moto would reformat them).
      if (queue.redrivePolicy) expect(Attributes.RedrivePolicy).toBe(queue.redrivePolicy);
      else expect(Attributes.RedrivePolicy).toBeUndefined();
      const url = `https://sqs.us-east-1.amazonaws.com/123456789012/${queue.name}`;
      const policy = inputs("aws:sqs/queuePolicy:QueuePolicy").find((p) => p.queueUrl === url);
      if (policy) expect(Attributes.Policy).toBe(policy.policy);
      const allow = inputs("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").find((p) => p.queueUrl === url);
      if (allow) expect(Attributes.RedriveAllowPolicy).toBe(allow.redriveAllowPolicy);
    }
  });

  it("has the graph's event source mappings and asynchronous invocation settings", async () => {
    const { EventSourceMappings } = (await awsCli(cloud, ["lambda", "list-event-source-mappings"])) as {
      EventSourceMappings: Record<string, unknown>[];
    };
    const declared = inputs("aws:lambda/eventSourceMapping:EventSourceMapping");
    expect(EventSourceMappings).toHaveLength(declared.length);
    for (const mapping of declared) {
      const served = EventSourceMappings.find((m) => m.EventSourceArn === mapping.eventSourceArn)!;
      expect(served).toMatchObject({
        FunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${mapping.functionName}`,
        BatchSize: mapping.batchSize,
        MaximumBatchingWindowInSeconds: mapping.maximumBatchingWindowInSeconds ?? 0,
        FunctionResponseTypes: mapping.functionResponseTypes,
        State: "Enabled",
      });
      const concurrency = (mapping.scalingConfig as { maximumConcurrency?: number } | undefined)
        ?.maximumConcurrency;
      if (concurrency !== undefined)
        expect(served.ScalingConfig).toEqual({ MaximumConcurrency: concurrency });
    }
    for (const config of inputs("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")) {
      const served = (await awsCli(cloud, [
        "lambda",
        "get-function-event-invoke-config",
        "--function-name",
        String(config.functionName),
      ])) as Record<string, unknown>;
      const onFailure = (config.destinationConfig as { onFailure?: { destination: string } }).onFailure;
      expect(served).toMatchObject({
        MaximumRetryAttempts: config.maximumRetryAttempts,
        ...(onFailure ? { DestinationConfig: { OnFailure: { Destination: onFailure.destination } } } : {}),
      });
    }
  });

  it("has the graph's tables with their keys, billing and TTL, its topic, roles and state machines", async () => {
    for (const table of inputs("aws:dynamodb/table:Table")) {
      const { Table } = (await awsCli(cloud, [
        "dynamodb",
        "describe-table",
        "--table-name",
        String(table.name),
      ])) as {
        Table: Record<string, unknown>;
      };
      expect(Table).toMatchObject({
        TableName: table.name,
        KeySchema: [
          { AttributeName: table.hashKey, KeyType: "HASH" },
          ...(table.rangeKey ? [{ AttributeName: table.rangeKey, KeyType: "RANGE" }] : []),
        ],
        BillingModeSummary: { BillingMode: table.billingMode },
      });
      expect(Table.AttributeDefinitions).toEqual(
        (table.attributes as { name: string; type: string }[]).map((a) => ({
          AttributeName: a.name,
          AttributeType: a.type,
        })),
      );
      const ttl = table.ttl as { attributeName: string; enabled: boolean } | undefined;
      if (ttl?.enabled) {
        const { TimeToLiveDescription } = (await awsCli(cloud, [
          "dynamodb",
          "describe-time-to-live",
          "--table-name",
          String(table.name),
        ])) as { TimeToLiveDescription: Record<string, unknown> };
        expect(TimeToLiveDescription).toEqual({
          TimeToLiveStatus: "ENABLED",
          AttributeName: ttl.attributeName,
        });
      }
    }
    const { Topics } = (await awsCli(cloud, ["sns", "list-topics"])) as { Topics: { TopicArn: string }[] };
    for (const topic of inputs("aws:sns/topic:Topic"))
      expect(Topics.map((t) => t.TopicArn)).toContain(`arn:aws:sns:us-east-1:123456789012:${topic.name}`);

    // Every role and inline policy (through the SDK), and one role as the AWS CLI reads it.
    const iam = new IAMClient(clientConfig(cloud));
    const roles = inputs("aws:iam/role:Role");
    for (const role of roles) {
      const { Role } = await iam.send(new GetRoleCommand({ RoleName: String(role.name) }));
      expect(json(decodeURIComponent(Role!.AssumeRolePolicyDocument!))).toEqual(json(role.assumeRolePolicy));
      for (const inline of (role.inlinePolicies as { name: string; policy: string }[] | undefined) ?? []) {
        const { PolicyDocument } = await iam.send(
          new GetRolePolicyCommand({ RoleName: String(role.name), PolicyName: inline.name }),
        );
        expect(json(decodeURIComponent(PolicyDocument!))).toEqual(json(inline.policy));
      }
      const { AttachedPolicies = [] } = await iam.send(
        new ListAttachedRolePoliciesCommand({ RoleName: String(role.name) }),
      );
      expect(AttachedPolicies.map((p) => p.PolicyArn).sort()).toEqual(
        [...((role.managedPolicyArns as string[] | undefined) ?? [])].sort(),
      );
    }
    const sample = roles.find((r) => (r.inlinePolicies as unknown[] | undefined)?.length)!;
    const { Role } = (await awsCli(cloud, ["iam", "get-role", "--role-name", String(sample.name)])) as {
      Role: { AssumeRolePolicyDocument: unknown };
    };
    expect(Role.AssumeRolePolicyDocument).toEqual(json(sample.assumeRolePolicy));

    const { stateMachines } = (await awsCli(cloud, ["stepfunctions", "list-state-machines"])) as {
      stateMachines: { name: string; stateMachineArn: string }[];
    };
    const machines = inputs("aws:sfn/stateMachine:StateMachine");
    expect(stateMachines.map((m) => m.name).sort()).toEqual(machines.map((m) => String(m.name)).sort());
    for (const machine of machines) {
      const described = (await awsCli(cloud, [
        "stepfunctions",
        "describe-state-machine",
        "--state-machine-arn",
        stateMachines.find((m) => m.name === machine.name)!.stateMachineArn,
      ])) as { definition: string; roleArn: string };
      expect(json(described.definition)).toEqual(json(machine.definition));
      expect(described.roleArn).toBe(machine.roleArn);
    }
  });
});

describe("the local runtime does what the graph's settings mean", () => {
  const findingBuffer = () => {
    const mapping = deployment.model.eventSourceMappings.find(
      (m) => m.functionName === deployment.functionOf("on-finding").name,
    )!;
    return deployment.model.queues.find((q) => q.arn === mapping.eventSourceArn)!;
  };

  it("redelivers only the records on-finding reports, and SQS moves one to the DLQ after maxReceiveCount", async () => {
    const queue = findingBuffer();
    const maxReceiveCount = queue.redrive!.maxReceiveCount;
    const finding = (id: string) => ({
      Source: "aws.guardduty",
      DetailType: "GuardDuty Finding",
      Detail: JSON.stringify({
        id,
        type: "Backdoor:EC2/C&CActivity.B!DNS",
        severity: 8,
        resource: { resourceType: "Instance", instanceDetails: { instanceId: "i-0123456789abcdef0" } },
      }),
    });
    const put = await new EventBridgeClient(clientConfig(cloud)).send(
      new PutEventsCommand({ Entries: [finding("always-fails-1"), finding("succeeds-1")] }),
    );
    expect(put.FailedEntryCount).toBe(0);
    const of = (id: string) => findingRecords.filter((r) => r.body.detail.id === id);
    await waitFor(`${maxReceiveCount} deliveries`, () =>
      of("always-fails-1").length >= maxReceiveCount ? true : undefined,
    );
    expect(of("always-fails-1").map((r) => r.receiveCount)).toEqual(
      Array.from({ length: maxReceiveCount }, (_, i) => i + 1),
    );
    // The record it did not report was deleted after its first delivery.
    expect(of("succeeds-1").map((r) => r.receiveCount)).toEqual([1]);

    const dlq = queue.redrive!.deadLetterTargetArn.split(":").pop()!;
    const dead = await waitFor("the finding in the buffer's DLQ", async () => {
      const messages = await receiveAll(dlq);
      return messages.find((m) => (JSON.parse(m.Body ?? "{}") as BusEvent).detail?.id === "always-fails-1");
    });
    expect((JSON.parse(dead.Body ?? "{}") as BusEvent).source).toBe("aws.guardduty");
    // ... and never once more to the function.
    await new Promise((r) =>
      setTimeout(r, cloud.context.clock.toRealMs(queue.visibilityTimeoutSeconds * 1000) + 1000),
    );
    expect(of("always-fails-1")).toHaveLength(maxReceiveCount);
  });

  it("retries a failing asynchronous Lambda target (1 + maximumRetryAttempts), then sends it to its destination", async () => {
    const fn = deployment.functionOf("on-refresh-event");
    const config = deployment.model.invokeConfigs.find((c) => c.functionName === fn.name)!;
    const put = await new EventBridgeClient(clientConfig(cloud)).send(
      new PutEventsCommand({
        Entries: [
          {
            Source: "aws.autoscaling",
            DetailType: "EC2 Auto Scaling Instance Refresh Failed",
            Detail: JSON.stringify({ AutoScalingGroupName: "g", InstanceRefreshId: "r-async" }),
          },
        ],
      }),
    );
    const eventId = put.Entries?.[0]?.EventId;
    const attempts = 1 + config.maximumRetryAttempts;
    await waitFor("every attempt", () =>
      refreshAttempts.filter((e) => e.id === eventId).length >= attempts ? true : undefined,
    );
    const record = await waitFor("the invocation record", async () =>
      (await receiveAll(config.onFailure!.split(":").pop()!))
        .map((m) => JSON.parse(m.Body ?? "{}") as { requestPayload?: BusEvent; requestContext?: unknown })
        .find((r) => r.requestPayload?.id === eventId),
    );
    expect(record.requestContext).toMatchObject({
      condition: "RetriesExhausted",
      approximateInvokeCount: attempts,
    });
    expect(refreshAttempts.filter((e) => e.id === eventId)).toHaveLength(attempts);
  });

  it("sends an event EventBridge cannot deliver to the target's DLQ, with EventBridge's attributes", async () => {
    const rule = deployment.model.rules.find((r) => r.pattern?.includes("aws.autoscaling"))!;
    const declared = deployment.model.targets.find((t) => t.rule === rule.name)!;
    const events = new EventBridgeClient(clientConfig(cloud));
    // A second target: a function that does not exist (EventBridge does not retry that).
    const missing = "arn:aws:lambda:us-east-1:123456789012:function:no-such-function";
    await events.send(
      new PutTargetsCommand({
        Rule: rule.name,
        Targets: [{ Id: "missing", Arn: missing, DeadLetterConfig: { Arn: declared.deadLetterArn } }],
      }),
    );
    try {
      const put = await events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: "aws.autoscaling",
              DetailType: "EC2 Auto Scaling Instance Refresh Started",
              Detail: JSON.stringify({ AutoScalingGroupName: "g", InstanceRefreshId: "r-missing" }),
            },
          ],
        }),
      );
      const eventId = put.Entries?.[0]?.EventId;
      const dead = await waitFor("the event in the DLQ", async () =>
        (await receiveAll(declared.deadLetterArn!.split(":").pop()!)).find(
          (m) => (JSON.parse(m.Body ?? "{}") as BusEvent).id === eventId,
        ),
      );
      const attribute = (name: string) => dead.MessageAttributes?.[name]?.StringValue;
      expect(attribute("ERROR_CODE")).toBe("RESOURCE_NOT_FOUND");
      expect(attribute("RULE_ARN")).toBe(rule.arn);
      expect(attribute("TARGET_ARN")).toBe(missing);
      expect(attribute("RETRY_ATTEMPTS")).toBe("0");
    } finally {
      await events.send(new RemoveTargetsCommand({ Rule: rule.name, Ids: ["missing"] }));
    }
  });
});
