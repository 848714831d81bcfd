import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ListExecutionsCommand } from "@aws-sdk/client-sfn";
import { createOnFindingHandler } from "../functions/on-finding.js";
import { tagsOf } from "../src/containment/aws/instance.js";
import { ROLE_TAG } from "../src/containment/aws/isolation-groups.js";
import { runSweep } from "../src/drift/workflow/sweep.js";
import { findingEnvelope, lambdaContext, sqsBatch } from "../test/support/lambda-events.js";
import { type PhoenixCloud, startPhoenixCloud } from "../test/support/phoenix-cloud.js";
import { CallTimer, sequentialDepth, type TimedCall } from "./lib/call-timer.js";
import type { Figures } from "./lib/results.js";
import { round } from "./lib/results.js";
import { prepareReplay, REFERENCE_RESPONDERS, type ReplayResult, replay } from "./reference-responders.js";

const LATENCY_MS = 100;

interface IsolationRun {
  ms: number;
  sequentialCalls: number;
  /** "intake" when on-finding cut the network itself, "workflow" when the isolate step did. */
  isolatedBy: "intake" | "workflow";
  calls: number;
  path: string[];
}

/**
 * Time to isolation: a finding handed to the on-finding handler (as SQS would) until every
 * interface of the instance sits in the no-rule group, every AWS call delayed by 100 ms. Then
 * the reference responders' call orders replayed on the same cloud with the same latency.
 */
export async function runIsolation(): Promise<Figures> {
  const timer = new CallTimer(() => LATENCY_MS);
  const pc = await startPhoenixCloud({ before: [timer.plugin()], speed: 50 });
  try {
    const [cold, warm] = [pc.fleet.groups[0]!.instanceIds[0]!, pc.fleet.groups[2]!.instanceIds[0]!];
    await prepareReplay(pc.cloud.context.internalClientConfig);
    // The drift sweep makes sure every VPC with containable instances has its isolation groups
    // (a deployment runs it by hand or on schedule before findings arrive): the first
    // containment in the VPC then cuts as fast as any other.
    await runSweep(pc.phoenix.deps, { by: "bench" });
    pc.cloud.context.faults.configure({ seed: 1, rules: [{ service: "*", latencyMs: LATENCY_MS }] });
    const firstInVpc = await timeContainment(pc, timer, cold);
    // Its workflow goes on (harden, revoke, replace, evidence): let it end, so its calls are not
    // mistaken for the next one's.
    await waitForIdle(pc);
    const groupsExist = await timeContainment(pc, timer, warm);

    const groups = await isolationGroupIds(pc);
    const references: ReplayResult[] = [];
    const replayVictims = [pc.fleet.groups[1]!.instanceIds[0]!, pc.fleet.standaloneInstanceId];
    for (const [i, responder] of REFERENCE_RESPONDERS.entries()) {
      references.push(
        await replay(
          responder,
          {
            endpoint: pc.cloud.endpoint,
            region: "us-east-1",
            credentials: { accessKeyId: "r", secretAccessKey: "r" },
          },
          {
            instanceId: replayVictims[i]!,
            allowAllGroupId: groups.transition,
            noRuleGroupId: groups.quarantine,
          },
        ),
      );
    }
    const fastest = references.reduce((a, b) => (a.ms <= b.ms ? a : b));
    return {
      injectedLatencyPerCallMs: LATENCY_MS,
      ms: round(groupsExist.ms),
      sequentialCalls: groupsExist.sequentialCalls,
      isolatedBy: groupsExist.isolatedBy,
      callsOnPath: groupsExist.calls,
      path: groupsExist.path,
      firstInVpcMs: round(firstInVpc.ms),
      firstInVpcSequentialCalls: firstInVpc.sequentialCalls,
      firstInVpcIsolatedBy: firstInVpc.isolatedBy,
      references: references.map((r) => ({
        name: r.name,
        ms: round(r.ms),
        measuredCallMs: round(r.measuredCallMs),
        fixedWaitMs: r.fixedWaitMs,
        sequentialCalls: r.sequentialCalls,
        calls: r.calls,
        failedCalls: r.failedCalls,
      })),
      fastestReference: fastest.name,
      fastestReferenceMs: round(fastest.ms),
      speedupVsFastestReference: round(fastest.ms / groupsExist.ms, 2),
      /**
       * The replayed references wait for nothing AWS makes slow (snapshots and commands complete
       * at once locally): their times are lower bounds. This is how long those waits would have
       * to last, in all, for the fastest reference to take 5× Phoenix's time.
       */
      fastestReferenceWaitsForGoalMs: Math.max(0, round(5 * groupsExist.ms - fastest.ms)),
      goalSequentialCallsMax: 4,
      goalSpeedupMin: 5,
    };
  } finally {
    pc.cloud.context.faults.configure({ seed: 1, rules: [] });
    await pc.stop();
  }
}

async function timeContainment(
  pc: PhoenixCloud,
  timer: CallTimer,
  instanceId: string,
): Promise<IsolationRun> {
  const onFinding = createOnFindingHandler(pc.phoenix.deps);
  // GuardDuty copies the instance's tags into the finding (its group's name among them).
  const { Reservations = [] } = await new EC2Client(pc.cloud.context.internalClientConfig).send(
    new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
  );
  const tags = tagsOf(Reservations[0]?.Instances?.[0]?.Tags);
  const t0 = performance.now();
  const result = await onFinding(
    sqsBatch([findingEnvelope({ instanceId, tags })]),
    lambdaContext("on-finding"),
  );
  if (result.batchItemFailures.length > 0)
    throw new Error(`on-finding did not take the finding for ${instanceId}`);
  const interfaceIds = await waitUntilQuarantined(pc, instanceId);
  const { quarantine } = await isolationGroupIds(pc);
  const lastMove = timer.calls
    .filter(
      (c) =>
        c.action === "ModifyNetworkInterfaceAttribute" &&
        interfaceIds.includes(c.params["NetworkInterfaceId"] ?? "") &&
        c.params["SecurityGroupId.1"] === quarantine,
    )
    .reduce((a, b) => (a.endMs >= b.endMs ? a : b));
  const path = timer.between(t0, lastMove.endMs);
  return {
    ms: lastMove.endMs - t0,
    sequentialCalls: sequentialDepth(path),
    isolatedBy: path.some((c) => c.action === "StartExecution") ? "workflow" : "intake",
    calls: path.length,
    path: describePath(path),
  };
}

/** Calls in order, parallel ones joined by " ∥ ". */
function describePath(calls: readonly TimedCall[]): string[] {
  const sorted = [...calls].sort((a, b) => a.startMs - b.startMs);
  const lines: { end: number; names: string[] }[] = [];
  for (const call of sorted) {
    const last = lines.at(-1);
    const name = `${call.service}:${call.action}`;
    if (last && call.startMs < last.end - 1) {
      last.names.push(name);
      last.end = Math.max(last.end, call.endMs);
    } else lines.push({ end: call.endMs, names: [name] });
  }
  return lines.map((l) => l.names.join(" ∥ "));
}

async function waitUntilQuarantined(pc: PhoenixCloud, instanceId: string): Promise<string[]> {
  const ec2 = new EC2Client(pc.cloud.context.internalClientConfig);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const { quarantine } = await isolationGroupIds(pc).catch(() => ({ quarantine: "" }));
    const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const enis = Reservations[0]?.Instances?.[0]?.NetworkInterfaces ?? [];
    const done =
      quarantine !== "" &&
      enis.length > 0 &&
      enis.every((eni) => eni.Groups?.length === 1 && eni.Groups[0]?.GroupId === quarantine);
    if (done) return enis.map((eni) => eni.NetworkInterfaceId!);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${instanceId} was not isolated within 120 s`);
}

async function isolationGroupIds(pc: PhoenixCloud): Promise<{ transition: string; quarantine: string }> {
  const { SecurityGroups = [] } = await new EC2Client(pc.cloud.context.internalClientConfig).send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: "vpc-id", Values: [pc.fleet.vpcId] },
        { Name: `tag:${ROLE_TAG}`, Values: ["isolation-transition", "quarantine"] },
      ],
    }),
  );
  const role = (name: string) =>
    SecurityGroups.find((g) => g.Tags?.some((t) => t.Key === ROLE_TAG && t.Value === name))?.GroupId;
  const quarantine = role("quarantine");
  const transition = role("isolation-transition");
  if (!quarantine || !transition) throw new Error("the isolation groups do not exist yet");
  return { transition, quarantine };
}

async function waitForIdle(pc: PhoenixCloud): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const { executions = [] } = await pc.phoenix.deps.clients.sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: pc.phoenix.stateMachineArns.contain,
        statusFilter: "RUNNING",
      }),
    );
    if (executions.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("a containment was still running after 180 s");
}
