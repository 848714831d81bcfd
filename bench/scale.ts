import { readFileSync } from "node:fs";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { type TokenBucketStats, tokenBucketPlugin } from "../local/core/faults-token-bucket.js";
import { registerImage } from "../local/core/seed.js";
import { billedActivity, executionHistory, waitForExecution } from "../test/support/executions.js";
import { startPhoenixCloud } from "../test/support/phoenix-cloud.js";
import { type Figures, machineLoad, round } from "./lib/results.js";

const GROUPS = Number(process.env.PHOENIX_SCALE_GROUPS ?? 200);
const INSTANCES = Number(process.env.PHOENIX_SCALE_INSTANCES ?? 6);
const SPEED = Number(process.env.PHOENIX_SCALE_SPEED ?? 200);
/**
 * AWS does not publish Auto Scaling's bucket. One of the order of EC2's documented ones (100
 * tokens, 20/s) never empties at this scale (a refresh is polled every few simulated minutes),
 * so the run uses a much smaller one, refilled on the simulated clock like AWS's per second:
 * 10 tokens, 1 per second. The bursts (40 groups starting at once) are throttled.
 * PHOENIX_SCALE_BUCKET=real switches to a harsher stress bucket (20 tokens, 5 per real second).
 */
const BUCKET =
  process.env.PHOENIX_SCALE_BUCKET === "real"
    ? { service: "autoscaling", capacity: 20, refillPerSecond: 5, refillClock: "real" as const }
    : { service: "autoscaling", capacity: 10, refillPerSecond: 1, refillClock: "simulated" as const };

/** The fleet sizes of `--growth` (the last is the default run's). */
const GROWTH_SIZES = [10, 50, 100, 200];

/**
 * `scale`: one rollout of GROUPS groups. `scale --growth`: one rollout of each of GROWTH_SIZES
 * groups, each on a fresh local cloud, with each one's cost per group (`growth`); the figures of
 * the run at GROUPS stay the benchmark's own (`groups`, `status`, `throttleFailures`…).
 */
export async function runScale(options: { growth?: boolean } = {}): Promise<Figures> {
  if (!options.growth) return rolloutAtScale(GROUPS);
  const sizes = [...new Set([...GROWTH_SIZES.filter((n) => n !== GROUPS), GROUPS])];
  const rows: Figures[] = [];
  let main: Figures | undefined;
  for (const groups of sizes) {
    const figures = await rolloutAtScale(groups);
    console.log(`  scale --growth: ${groups} groups ${figures.status} in ${figures.realSeconds} s`);
    rows.push(growthRow(figures));
    if (groups === GROUPS) main = figures;
  }
  const settings = Object.entries(process.env)
    .filter(([key]) => key.startsWith("PHOENIX_"))
    .map(([key, value]) => `${key}=${value} `)
    .join("");
  return {
    ...main!,
    growth: {
      command: `${settings}npx tsx bench/run.ts scale --growth`,
      machineAtEnd: machineLoad(),
      rows: rows.sort((a, b) => Number(a.groups) - Number(b.groups)),
    },
  };
}

/** One growth-table row: what the run cost in all, and per group. */
function growthRow(figures: Figures): Figures {
  const groups = Number(figures.groups);
  const figure = (key: string) => figures[key] ?? null;
  const per = (key: string) => round(Number(figures[key]) / groups, 2);
  return {
    groups,
    status: figure("status"),
    throttleFailures: figure("throttleFailures"),
    realSeconds: figure("realSeconds"),
    simulatedMinutes: figure("simulatedMinutes"),
    realSecondsPerGroup: per("realSeconds"),
    nodeCpuSecondsPerGroup: per("nodeCpuSeconds"),
    motoCpuSecondsPerGroup: figures.motoCpuSeconds === null ? null : per("motoCpuSeconds"),
    simulatedMinutesPerGroup: per("simulatedMinutes"),
    apiCallsPerGroup: figure("apiCallsPerGroup"),
    stateTransitionsPerGroup: per("stateTransitions"),
    lambdaInvocationsPerGroup: per("lambdaInvocations"),
    autoScalingCallsPerGroup: figure("autoScalingCallsPerGroup"),
    autoScalingCallsPerSimulatedSecond: figure("autoScalingCallsPerSimulatedSecond"),
    autoScalingPeakCallsPerSimulatedMinute: figure("autoScalingPeakCallsPerSimulatedMinute"),
    throttledByBucket: figure("throttledByBucket"),
    machine: machineLoad(),
  };
}

/**
 * One image rolled out to `count` groups of INSTANCES instances (one family, one wave), every
 * Auto Scaling call through a token bucket. Reports time, calls per group, and whether any
 * throttling surfaced as a failure (a step error in the history, or a group left behind).
 */
async function rolloutAtScale(count: number): Promise<Figures> {
  const GROUPS = count;
  const stats: TokenBucketStats = { throttled: 0, admitted: 0 };
  const groups = Array.from({ length: GROUPS }, (_, i) => ({
    name: `scale-${String(i).padStart(3, "0")}`,
    family: "scale",
    wave: 1,
    managed: true,
    desired: INSTANCES,
  }));
  const seedStarted = performance.now();
  const pc = await startPhoenixCloud({
    speed: SPEED,
    groups,
    bootSeconds: 60,
    before: [tokenBucketPlugin(BUCKET, stats)],
    policy: { rollout: { waveBakeMinutes: 1, maxConcurrentGroups: 40 } },
  });
  const seedS = (performance.now() - seedStarted) / 1000;
  try {
    const gateway = { ...pc.cloud.context.internalClientConfig, endpoint: pc.cloud.endpoint };
    const callsBefore = pc.cloud.context.callLog.since(0).at(-1)?.seq ?? 0;
    const throttledBefore = stats.throttled;
    const motoPid = pc.cloud.moto.process.pid;
    const cpuBefore = { node: process.cpuUsage(), moto: processCpuSeconds(motoPid) };
    const started = performance.now();
    const simulatedStart = pc.cloud.context.clock.now();
    const imageId = await registerImage(new EC2Client(gateway), { family: "scale", name: "scale-v2" });
    const { executionArn, status } = await waitForExecution(
      pc.phoenix.deps.clients.sfn,
      pc.phoenix.stateMachineArns.rollout,
      imageId,
      // Real time: long enough for 200 groups on a loaded 2-core machine.
      Number(process.env.PHOENIX_SCALE_TIMEOUT_MS ?? 1_800_000),
    );
    const realS = (performance.now() - started) / 1000;
    const nodeCpu = process.cpuUsage(cpuBefore.node);
    const motoCpuEnd = processCpuSeconds(motoPid);
    const described = await pc.phoenix.deps.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const cause = `${described.error ?? ""}: ${described.cause ?? ""}`;
    const simulatedMin = (pc.cloud.context.clock.now() - simulatedStart) / 60_000;
    const calls = pc.cloud.context.callLog.since(callsBefore).filter((c) => c.service !== "states");
    const autoScaling = calls.filter((c) => c.service === "autoscaling");
    const history = await executionHistory(pc.phoenix.deps.clients.sfn, executionArn);
    const billed = billedActivity(history);
    const stepThrottles = history.filter(
      (e) =>
        /Failed$/.test(e.type ?? "") &&
        /Throttl|Rate exceeded/i.test(
          JSON.stringify(e.taskFailedEventDetails ?? e.lambdaFunctionFailedEventDetails ?? {}),
        ),
    ).length;
    const behind = await groupsNotOn(
      pc.cloud.context.internalClientConfig,
      groups.map((g) => g.name),
      imageId,
    );
    return {
      groups: GROUPS,
      instancesPerGroup: INSTANCES,
      clockMultiplier: SPEED,
      status,
      realSeconds: round(realS),
      simulatedMinutes: round(simulatedMin),
      seedAndStartSeconds: round(seedS),
      // CPU the rollout cost the machine: this process (Phoenix's handlers, the gateway, IAM,
      // Step Functions, Auto Scaling) and moto, whatever the other load on the machine.
      nodeCpuSeconds: round((nodeCpu.user + nodeCpu.system) / 1e6),
      motoCpuSeconds:
        motoCpuEnd !== null && cpuBefore.moto !== null ? round(motoCpuEnd - cpuBefore.moto) : null,
      apiCallsPerGroup: round(calls.length / GROUPS, 1),
      autoScalingCallsPerGroup: round(autoScaling.length / GROUPS, 1),
      stateTransitions: billed.stateTransitions,
      lambdaInvocations: billed.lambdaInvocations,
      // What the account's shared bucket saw (it refills 1 per simulated second): Phoenix's calls,
      // admitted or throttled, per simulated second on average, and in the busiest simulated minute.
      autoScalingCallsPerSimulatedSecond: round(autoScaling.length / (simulatedMin * 60), 3),
      autoScalingPeakCallsPerSimulatedMinute: peakPerSimulatedMinute(autoScaling, SPEED),
      throttledByBucket: stats.throttled - throttledBefore,
      bucket: BUCKET,
      // Throttling that reached the workflow (a step failed with it; the state's Retry may have saved it).
      throttleErrorsSeenByWorkflow: stepThrottles,
      groupsNotOnNewImage: behind.length,
      // Groups left behind because throttling surfaced as a failure (the execution's error names it).
      throttleFailures:
        status !== "SUCCEEDED" && /Throttl|Rate exceeded/i.test(cause) ? Math.max(1, behind.length) : 0,
      executionError: status === "SUCCEEDED" ? null : cause.slice(0, 300),
    };
  } finally {
    await pc.stop();
  }
}

/** User + system CPU seconds of a process so far (Linux /proc), or null where unknown. */
function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks: USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** The most calls in any one simulated minute (the call log's times are real: ×speed). */
function peakPerSimulatedMinute(calls: readonly { at: string }[], speed: number): number {
  const windowMs = 60_000 / speed;
  const times = calls.map((c) => Date.parse(c.at)).sort((a, b) => a - b);
  let peak = 0;
  for (let first = 0, last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= windowMs) first++;
    peak = Math.max(peak, last - first + 1);
  }
  return peak;
}

async function groupsNotOn(
  config: ConstructorParameters<typeof EC2Client>[0] & object,
  names: string[],
  imageId: string,
): Promise<string[]> {
  const autoScaling = new AutoScalingClient(config);
  const ec2 = new EC2Client(config);
  const behind: string[] = [];
  for (let i = 0; i < names.length; i += 50) {
    const { AutoScalingGroups = [] } = await autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: names.slice(i, i + 50) }),
    );
    for (const group of AutoScalingGroups) {
      const ids = (group.Instances ?? []).map((x) => x.InstanceId!);
      const { Reservations = [] } = ids.length
        ? await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))
        : { Reservations: [] };
      const images = Reservations.flatMap((r) => r.Instances ?? []).map((x) => x.ImageId);
      if (images.length === 0 || images.some((image) => image !== imageId))
        behind.push(group.AutoScalingGroupName!);
    }
  }
  return behind;
}
