import { CreateTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  GetConsoleScreenshotCommand,
  ModifyInstanceAttributeCommand,
} from "@aws-sdk/client-ec2";
import { GetCommandInvocationCommand, SendCommandCommand, SSMClient } from "@aws-sdk/client-ssm";

/**
 * The two reference responders of docs/REFERENCE-RESPONDERS.md, as call orders: each step is
 * one round trip (calls inside a step go out in parallel), or a fixed wait the responder
 * imposes. The replay issues every call against the local cloud (same gateway, same injected
 * latency as Phoenix) and adds fixed waits without sleeping them.
 */
export interface ReplayTarget {
  instanceId: string;
  /** Security groups that play "allow-all" and "no rules" (they exist before the finding). */
  allowAllGroupId: string;
  noRuleGroupId: string;
}

interface ReplayClients {
  ec2: EC2Client;
  ssm: SSMClient;
  dynamo: DynamoDBClient;
}

type Step =
  | {
      kind: "calls";
      label: string;
      run: (c: ReplayClients, t: ReplayTarget, memo: Memo) => Promise<unknown>[];
    }
  | { kind: "wait"; label: string; ms: number };

interface Memo {
  volumeIds: string[];
  snapshotIds: string[];
  commandId?: string;
}

export interface ReferenceResponder {
  name: string;
  steps: Step[];
}

const EVIDENCE_TABLE = "reference-responder-evidence";

/** (a) Evidence first: screenshot, metadata copy, snapshots, commands; isolation last. */
export const forensicsFirst: ReferenceResponder = {
  name: "forensics-first",
  steps: [
    { kind: "calls", label: "describe the instance", run: (c, t) => [describe(c, t)] },
    {
      kind: "calls",
      label: "console screenshot",
      run: (c, t) => [c.ec2.send(new GetConsoleScreenshotCommand({ InstanceId: t.instanceId }))],
    },
    {
      kind: "calls",
      label: "read instance attributes (user data)",
      run: (c, t) => [
        c.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: t.instanceId, Attribute: "userData" })),
      ],
    },
    {
      kind: "calls",
      label: "copy metadata to evidence storage",
      run: (c, t) => [
        c.dynamo.send(
          new PutItemCommand({
            TableName: EVIDENCE_TABLE,
            Item: { pk: { S: t.instanceId }, copiedAt: { S: new Date().toISOString() } },
          }),
        ),
      ],
    },
    {
      kind: "calls",
      label: "tag the instance as under investigation",
      run: (c, t) => [
        c.ec2.send(
          new CreateTagsCommand({
            Resources: [t.instanceId],
            Tags: [{ Key: "investigation", Value: "open" }],
          }),
        ),
      ],
    },
    {
      kind: "calls",
      label: "list the volumes",
      run: (c, t, memo) => [
        c.ec2
          .send(
            new DescribeVolumesCommand({
              Filters: [{ Name: "attachment.instance-id", Values: [t.instanceId] }],
            }),
          )
          .then((r) => {
            memo.volumeIds = (r.Volumes ?? []).map((v) => v.VolumeId!);
          }),
      ],
    },
    {
      kind: "calls",
      label: "snapshot every volume",
      run: (c, _t, memo) =>
        memo.volumeIds.map((VolumeId) =>
          c.ec2
            .send(new CreateSnapshotCommand({ VolumeId }))
            .then((r) => memo.snapshotIds.push(r.SnapshotId!)),
        ),
    },
    {
      kind: "calls",
      label: "wait for the snapshots (one poll: the local cloud completes them at once)",
      run: (c, _t, memo) => [c.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: memo.snapshotIds }))],
    },
    {
      kind: "calls",
      label: "run forensic commands",
      run: (c, t, memo) => [
        c.ssm
          .send(
            new SendCommandCommand({
              InstanceIds: [t.instanceId],
              DocumentName: "AWS-RunShellScript",
              Parameters: { commands: ["ps aux; netstat -anp; ls -la /tmp"] },
            }),
          )
          .then((r) => {
            memo.commandId = r.Command?.CommandId;
          }),
      ],
    },
    {
      kind: "calls",
      label: "wait for the commands (one poll)",
      run: (c, t, memo) => [
        c.ssm.send(
          new GetCommandInvocationCommand({ CommandId: memo.commandId ?? "none", InstanceId: t.instanceId }),
        ),
      ],
    },
    { kind: "calls", label: "isolate: no-rule group", run: (c, t) => [setGroups(c, t, t.noRuleGroupId)] },
  ],
};

/** (b) Two security-group changes with a fixed 180 s between them, nothing before. */
export const fixedWaitTwoStep: ReferenceResponder = {
  name: "fixed-wait-two-step",
  steps: [
    { kind: "calls", label: "describe the instance", run: (c, t) => [describe(c, t)] },
    {
      kind: "calls",
      label: "find the isolation groups",
      run: (c, t) => [
        c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [t.allowAllGroupId, t.noRuleGroupId] })),
      ],
    },
    {
      kind: "calls",
      label: "first change: allow-all group",
      run: (c, t) => [setGroups(c, t, t.allowAllGroupId)],
    },
    { kind: "wait", label: "fixed wait", ms: 180_000 },
    {
      kind: "calls",
      label: "second change: no-rule group",
      run: (c, t) => [setGroups(c, t, t.noRuleGroupId)],
    },
  ],
};

export const REFERENCE_RESPONDERS = [forensicsFirst, fixedWaitTwoStep];

function describe(c: ReplayClients, t: ReplayTarget) {
  return c.ec2.send(new DescribeInstancesCommand({ InstanceIds: [t.instanceId] }));
}

function setGroups(c: ReplayClients, t: ReplayTarget, groupId: string) {
  return c.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: t.instanceId, Groups: [groupId] }));
}

export interface ReplayResult {
  name: string;
  sequentialCalls: number;
  calls: number;
  /** Measured time of the calls plus the fixed waits (added, not slept). */
  ms: number;
  measuredCallMs: number;
  fixedWaitMs: number;
  /** Calls the local cloud refused (e.g. an API it does not emulate): they still cost a round trip. */
  failedCalls: string[];
  order: string[];
}

export async function prepareReplay(
  internalConfig: ConstructorParameters<typeof DynamoDBClient>[0] & object,
) {
  await new DynamoDBClient(internalConfig)
    .send(
      new CreateTableCommand({
        TableName: EVIDENCE_TABLE,
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    )
    .catch(() => {});
}

export async function replay(
  responder: ReferenceResponder,
  config: ConstructorParameters<typeof EC2Client>[0] & object,
  target: ReplayTarget,
): Promise<ReplayResult> {
  // One attempt per call: a responder's retries would only add to its time.
  const clients: ReplayClients = {
    ec2: new EC2Client({ ...config, maxAttempts: 1 }),
    ssm: new SSMClient({ ...config, maxAttempts: 1 }),
    dynamo: new DynamoDBClient({ ...config, maxAttempts: 1 }),
  };
  const memo: Memo = { volumeIds: [], snapshotIds: [] };
  const failedCalls: string[] = [];
  let calls = 0;
  let sequentialCalls = 0;
  let fixedWaitMs = 0;
  const started = performance.now();
  for (const step of responder.steps) {
    if (step.kind === "wait") {
      fixedWaitMs += step.ms;
      continue;
    }
    const pending = step.run(clients, target, memo);
    calls += pending.length;
    if (pending.length > 0) sequentialCalls++;
    const settled = await Promise.allSettled(pending);
    for (const outcome of settled) {
      if (outcome.status === "rejected") failedCalls.push(`${step.label}: ${(outcome.reason as Error).name}`);
    }
  }
  const measuredCallMs = performance.now() - started;
  return {
    name: responder.name,
    sequentialCalls,
    calls,
    ms: measuredCallMs + fixedWaitMs,
    measuredCallMs,
    fixedWaitMs,
    failedCalls,
    order: responder.steps.map((s) => (s.kind === "wait" ? `wait ${s.ms / 1000} s` : s.label)),
  };
}
