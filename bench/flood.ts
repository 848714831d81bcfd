import { EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { createOnFindingHandler } from "../functions/on-finding.js";
import { getContainment } from "../src/containment/aws/records.js";
import { lambdaContext, sqsBatch } from "../test/support/lambda-events.js";
import { startIntakeHarness } from "./lib/containment-harness.js";
import { generateFlood } from "./lib/flood-events.js";
import { type Figures, round } from "./lib/results.js";

const EVENTS = Number(process.env.PHOENIX_FLOOD_EVENTS ?? 10_000);
const INSTANCES = Number(process.env.PHOENIX_FLOOD_INSTANCES ?? 500);
/** Lambda invocations of on-finding at once (the SQS event source's concurrency). */
const CONCURRENCY = 10;
/** SQS redelivers a failed record; after this many receives it would go to the DLQ: dropped. */
const MAX_RECEIVES = 5;
/**
 * The account budget is set below the number of qualifying instances on purpose: the flood
 * then checks both sides of it (started = the budget, held = the rest). No group budget
 * applies: the instances are standalone.
 */
const ACCOUNT_BUDGET = 300;

export async function runFlood(): Promise<Figures> {
  const h = await startIntakeHarness({
    containment: { budgets: { perAccountMaxCount: ACCOUNT_BUDGET, perGroupMaxCount: 1, windowMinutes: 60 } },
  });
  try {
    const instanceIds = await launchStandalone(h.cloud.context.internalClientConfig, h.fleet, INSTANCES);
    const flood = generateFlood(instanceIds, EVENTS);
    const onFinding = createOnFindingHandler(h.deps);
    const batches: string[][] = [];
    for (let i = 0; i < flood.events.length; i += 10)
      batches.push(flood.events.slice(i, i + 10).map((e) => JSON.stringify(e)));

    const memory = sampleMemory();
    let redelivered = 0;
    let dropped = 0;
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        let bodies = batches[next++]!;
        for (let receive = 1; bodies.length > 0; receive++) {
          const event = sqsBatch(bodies);
          const { batchItemFailures } = await onFinding(event, lambdaContext("on-finding"));
          const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
          bodies = event.Records.filter((r) => failed.has(r.messageId)).map((r) => r.body);
          if (receive >= MAX_RECEIVES) {
            dropped += bodies.length;
            break;
          }
          redelivered += bodies.length;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;
    const peak = memory.stop();

    const executions = new Set(await h.executionNames());
    const statuses = await Promise.all(
      instanceIds.map(async (id) => (await getContainment(h.deps, h.cloud.context.accountId, id))?.status),
    );
    const count = (s: string) => statuses.filter((x) => x === s).length;
    const startedCount = count("starting") + count("running");
    const held = count("held");
    return {
      events: EVENTS,
      instances: INSTANCES,
      distinctFindings: flood.distinctFindings,
      qualifyingInstances: flood.qualifying.size,
      accountBudget: ACCOUNT_BUDGET,
      lambdaConcurrency: CONCURRENCY,
      seconds: round(seconds),
      eventsPerSecond: round(EVENTS / seconds),
      executionsStarted: executions.size,
      containmentsOpen: startedCount,
      heldForBudget: held,
      // Every qualifying instance is either contained or held, none twice, none missed.
      startedPlusHeldEqualsQualifying: executions.size + held === flood.qualifying.size,
      executionsWithinBudget: executions.size === Math.min(ACCOUNT_BUDGET, flood.qualifying.size),
      redeliveredRecords: redelivered,
      dropped,
      peakRssMB: peak.rssMB,
      peakHeapUsedMB: peak.heapMB,
    };
  } finally {
    await h.stop();
  }
}

async function launchStandalone(
  config: ConstructorParameters<typeof EC2Client>[0] & object,
  fleet: { images: Record<string, string>; subnetIds: string[] },
  count: number,
): Promise<string[]> {
  const ec2 = new EC2Client(config);
  const ids: string[] = [];
  while (ids.length < count) {
    const n = Math.min(100, count - ids.length);
    const { Instances = [] } = await ec2.send(
      new RunInstancesCommand({
        ImageId: Object.values(fleet.images)[0]!,
        InstanceType: "t3.micro",
        MinCount: n,
        MaxCount: n,
        SubnetId: fleet.subnetIds[0]!,
      }),
    );
    ids.push(...Instances.map((i) => i.InstanceId!));
  }
  return ids;
}

function sampleMemory() {
  let rss = 0;
  let heap = 0;
  const take = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  take();
  const timer = setInterval(take, 100);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { rssMB: round(rss / 2 ** 20), heapMB: round(heap / 2 ** 20) };
    },
  };
}
