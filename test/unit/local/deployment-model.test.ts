import { describe, expect, it } from "vitest";
import type { SynthGraph, SynthResource } from "../../../build/synth/graph.js";
import { jsonPath, targetInput } from "../../../local/deployment/event-targets.js";
import { graphDigest } from "../../../local/deployment/graph-source.js";
import {
  DEFAULT_TARGET_RETRY,
  DeploymentError,
  deploymentModel,
  effectiveRetryPolicy,
  functionNameOf,
  MAX_ENVIRONMENT_BYTES,
  mappingUuid,
} from "../../../local/deployment/model.js";
import { resourcePolicyAllows } from "../../../local/deployment/resource-policy.js";
import { defaultPolicy, parsePolicy } from "../../../src/policy/index.js";

const SCOPE = { region: "us-east-1", accountId: "123456789012" };
const graph = (...resources: SynthResource[]): SynthGraph => ({ stage: "unit", resources });
const r = (type: string, name: string, inputs: Record<string, unknown>): SynthResource => ({
  type,
  name,
  inputs,
});

describe("the deployment model reads the graph as AWS would apply it", () => {
  it("gives a function AWS's defaults where the graph is silent, and its own settings otherwise", () => {
    const model = deploymentModel(
      graph(
        r("aws:lambda/function:Function", "A", { name: "fn-a", handler: "functions/a.handler" }),
        r("aws:lambda/function:Function", "B", {
          name: "fn-b",
          handler: "functions/b.handler",
          timeout: 60,
          memorySize: 512,
          reservedConcurrentExecutions: 5,
          environment: { variables: { X: "1" } },
          loggingConfig: { logGroup: "/custom/b" },
        }),
      ),
      SCOPE,
    );
    expect(model.functions.map((f) => [f.name, f.timeoutSeconds, f.memoryMb, f.logGroup])).toEqual([
      ["fn-a", 3, 128, "/aws/lambda/fn-a"],
      ["fn-b", 60, 512, "/custom/b"],
    ]);
    expect(model.functions[1]).toMatchObject({
      arn: "arn:aws:lambda:us-east-1:123456789012:function:fn-b",
      reservedConcurrency: 5,
      environment: { X: "1" },
    });
  });

  it("refuses what Lambda would refuse: an environment over 4 KB, a timeout over 900 s", () => {
    const big = { variables: { POLICY: "x".repeat(MAX_ENVIRONMENT_BYTES) } };
    expect(() =>
      deploymentModel(
        graph(r("aws:lambda/function:Function", "A", { name: "a", handler: "f.h", environment: big })),
        SCOPE,
      ),
    ).toThrow(/environment is \d+ bytes; Lambda refuses more than 4096/);
    expect(() =>
      deploymentModel(
        graph(r("aws:lambda/function:Function", "A", { name: "a", handler: "f.h", timeout: 901 })),
        SCOPE,
      ),
    ).toThrow(DeploymentError);
  });

  it("maps a queue's inputs to SQS attributes, its redrive policy parsed", () => {
    const model = deploymentModel(
      graph(
        r("aws:sqs/queue:Queue", "Dlq", { name: "q-dlq", messageRetentionSeconds: 1_209_600 }),
        r("aws:sqs/queue:Queue", "Q", {
          name: "q",
          visibilityTimeoutSeconds: 360,
          messageRetentionSeconds: 345_600,
          sqsManagedSseEnabled: true,
          redrivePolicy: JSON.stringify({
            deadLetterTargetArn: "arn:aws:sqs:us-east-1:123456789012:q-dlq",
            maxReceiveCount: 5,
          }),
        }),
        r("aws:sqs/queue:Queue", "F", { name: "f", fifoQueue: true }),
      ),
      SCOPE,
    );
    expect(model.queues[0]).toMatchObject({
      visibilityTimeoutSeconds: 30,
      attributes: { MessageRetentionPeriod: "1209600" },
    });
    expect(model.queues[1]).toMatchObject({
      arn: "arn:aws:sqs:us-east-1:123456789012:q",
      visibilityTimeoutSeconds: 360,
      attributes: {
        VisibilityTimeout: "360",
        MessageRetentionPeriod: "345600",
        SqsManagedSseEnabled: "true",
      },
      redrive: { deadLetterTargetArn: "arn:aws:sqs:us-east-1:123456789012:q-dlq", maxReceiveCount: 5 },
    });
    expect(model.queues[2]).toMatchObject({ name: "f.fifo", attributes: { FifoQueue: "true" } });
  });

  it("keeps a target's retry policy and DLQ; a target without one gets EventBridge's defaults", () => {
    const rule = r("aws:cloudwatch/eventRule:EventRule", "R", {
      name: "rule",
      eventPattern: JSON.stringify({ source: ["aws.ec2"] }),
    });
    const model = deploymentModel(
      graph(
        rule,
        r("aws:cloudwatch/eventTarget:EventTarget", "T1", {
          rule: "rule",
          arn: "arn:aws:sqs:us-east-1:123456789012:q",
          retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 },
          deadLetterConfig: { arn: "arn:aws:sqs:us-east-1:123456789012:dlq" },
        }),
        r("aws:cloudwatch/eventTarget:EventTarget", "T2", {
          rule: "rule",
          arn: "arn:aws:lambda:us-east-1:123456789012:function:fn",
        }),
      ),
      SCOPE,
    );
    expect(model.rules[0]).toMatchObject({
      arn: "arn:aws:events:us-east-1:123456789012:rule/rule",
      state: "ENABLED",
    });
    expect(model.targets.map((t) => [t.id, effectiveRetryPolicy(t), t.deadLetterArn])).toEqual([
      [
        "T1",
        { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 },
        "arn:aws:sqs:us-east-1:123456789012:dlq",
      ],
      ["T2", DEFAULT_TARGET_RETRY, undefined],
    ]);
  });

  it("names what it cannot deploy: a target of an unsupported kind, a rule not in the graph, a non-SQS mapping", () => {
    const attempt =
      (...resources: SynthResource[]) =>
      () =>
        deploymentModel(graph(...resources), SCOPE);
    expect(
      attempt(
        r("aws:cloudwatch/eventTarget:EventTarget", "T", { rule: "nope", arn: "arn:aws:sqs:us-east-1:1:q" }),
      ),
    ).toThrow(/rule nope is not in the graph/);
    expect(
      attempt(
        r("aws:cloudwatch/eventRule:EventRule", "R", { name: "rule", eventPattern: "{}" }),
        r("aws:cloudwatch/eventTarget:EventTarget", "T", {
          rule: "rule",
          arn: "arn:aws:sns:us-east-1:1:topic",
        }),
      ),
    ).toThrow(/SQS and Lambda targets only/);
    expect(
      attempt(
        r("aws:lambda/eventSourceMapping:EventSourceMapping", "M", {
          functionName: "fn",
          eventSourceArn: "arn:aws:kinesis:us-east-1:1:stream/s",
        }),
      ),
    ).toThrow(/SQS event sources only/);
  });

  it("lists what is deploy-time only instead of failing on it", () => {
    const model = deploymentModel(
      graph(
        r("aws:s3/bucketObjectv2:BucketObjectv2", "Code", { bucket: "b", key: "k" }),
        r("sst:aws:Function", "Fn", {}),
        r("aws:ec2/vpc:Vpc", "Vpc", {}),
      ),
      SCOPE,
    );
    expect(model.skipped.map((s) => [s.name, s.reason])).toEqual([
      ["Code", expect.stringContaining("code asset")],
      ["Fn", expect.stringContaining("component")],
      ["Vpc", "no local emulation of this type yet"],
    ]);
  });

  it("reads a table's keys, billing, indexes and TTL", () => {
    const [table] = deploymentModel(
      graph(
        r("aws:dynamodb/table:Table", "T", {
          name: "t",
          hashKey: "pk",
          rangeKey: "sk",
          attributes: [
            { name: "pk", type: "S" },
            { name: "sk", type: "S" },
          ],
          billingMode: "PAY_PER_REQUEST",
          ttl: { attributeName: "expiresAt", enabled: true },
          pointInTimeRecovery: { enabled: true },
          globalSecondaryIndexes: [{ name: "bySk", hashKey: "sk", projectionType: "KEYS_ONLY" }],
        }),
      ),
      SCOPE,
    ).tables;
    expect(table).toMatchObject({
      hashKey: "pk",
      rangeKey: "sk",
      billingMode: "PAY_PER_REQUEST",
      ttl: { attributeName: "expiresAt", enabled: true },
      pointInTimeRecovery: true,
      globalSecondaryIndexes: [{ name: "bySk", hashKey: "sk", projectionType: "KEYS_ONLY" }],
    });
  });

  it("names references the way AWS resolves them", () => {
    expect(functionNameOf("arn:aws:lambda:us-east-1:123456789012:function:fn:live")).toBe("fn");
    expect(functionNameOf("fn")).toBe("fn");
    expect(mappingUuid("s", "M")).toBe(mappingUuid("s", "M"));
    expect(mappingUuid("s", "M")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe("resource policies, as AWS decides EventBridge's deliveries", () => {
  const queueArn = "arn:aws:sqs:us-east-1:123456789012:q";
  const rule = "arn:aws:events:us-east-1:123456789012:rule/mine";
  const policy = JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnEquals: { "aws:SourceArn": [rule] } },
      },
    ],
  });
  const ask = (sourceArn: string, text = policy) =>
    resourcePolicyAllows(text, {
      principal: "events.amazonaws.com",
      action: "sqs:SendMessage",
      resource: queueArn,
      sourceArn,
    });

  it("allows the rules the policy names, and no other", () => {
    expect(ask(rule).allowed).toBe(true);
    expect(ask("arn:aws:events:us-east-1:123456789012:rule/other")).toMatchObject({ allowed: false });
    expect(
      resourcePolicyAllows(undefined, {
        principal: "events.amazonaws.com",
        action: "sqs:SendMessage",
        resource: queueArn,
      }),
    ).toMatchObject({
      allowed: false,
      reason: "the resource has no policy",
    });
  });

  it("lets an explicit Deny win, and treats an unknown condition as unmet", () => {
    const deny = JSON.parse(policy) as { Statement: Record<string, unknown>[] };
    deny.Statement.push({ Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: "*" });
    expect(ask(rule, JSON.stringify(deny))).toMatchObject({
      allowed: false,
      reason: "an explicit Deny matches",
    });
    const unknown = JSON.parse(policy) as { Statement: { Condition: unknown }[] };
    unknown.Statement[0]!.Condition = { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } };
    expect(ask(rule, JSON.stringify(unknown)).allowed).toBe(false);
  });
});

describe("what a target receives", () => {
  const event = { id: "e1", source: "aws.ec2", detail: { ImageId: "ami-1", State: "available" } };
  it("is the event, or its Input, InputPath or InputTransformer applied to it", () => {
    expect(JSON.parse(targetInput({}, event))).toEqual(event);
    expect(targetInput({ input: '{"fixed":true}' }, event)).toBe('{"fixed":true}');
    expect(JSON.parse(targetInput({ inputPath: "$.detail" }, event))).toEqual(event.detail);
    expect(
      JSON.parse(
        targetInput(
          {
            inputTransformer: {
              inputPathsMap: { image: "$.detail.ImageId" },
              inputTemplate: '{"image": "<image>"}',
            },
          },
          event,
        ),
      ),
    ).toEqual({ image: "ami-1" });
    expect(jsonPath(event, "$.detail.State")).toBe("available");
    expect(jsonPath(event, "$.nope.deeper")).toBeUndefined();
  });
});

describe("the graph cache", () => {
  it("is keyed by the stage, the policy and the fleet roles (and the program's files)", () => {
    const base = { stage: "unit", policy: defaultPolicy() };
    const digest = graphDigest(base);
    expect(graphDigest({ ...base })).toBe(digest);
    expect(graphDigest({ ...base, stage: "other" })).not.toBe(digest);
    expect(graphDigest({ ...base, policy: parsePolicy({ rollout: { waveBakeMinutes: 1 } }) })).not.toBe(
      digest,
    );
    expect(graphDigest({ ...base, fleetRoleArns: "arn:aws:iam::123456789012:role/fleet" })).not.toBe(digest);
  });
});
