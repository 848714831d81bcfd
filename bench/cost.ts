import { EC2Client } from "@aws-sdk/client-ec2";
import { createOnFindingHandler } from "../functions/on-finding.js";
import { registerImage } from "../local/core/seed.js";
import { billedActivity, executionHistory, waitForExecution } from "../test/support/executions.js";
import { findingEnvelope, lambdaContext, sqsBatch } from "../test/support/lambda-events.js";
import { type PhoenixCloud, startPhoenixCloud } from "../test/support/phoenix-cloud.js";
import { type Figures, round } from "./lib/results.js";

/**
 * Public prices, us-east-1, as listed on aws.amazon.com/step-functions/pricing and
 * aws.amazon.com/lambda/pricing (read 2026-11-26; free tiers ignored).
 */
export const PRICES = {
  date: "2026-11-26",
  region: "us-east-1",
  stepFunctionsStandardPerStateTransitionUsd: 0.025 / 1000,
  lambdaPerRequestUsd: 0.2 / 1_000_000,
  lambdaPerGbSecondX86Usd: 0.0000166667,
};
/** Assumed per invocation (not measured here): 512 MB, 300 ms billed. */
const ASSUMED_GB_SECONDS_PER_INVOCATION = 0.5 * 0.3;
/** Instance refresh lifecycle events per group (Started, Succeeded), each an on-refresh-event invocation. */
const REFRESH_EVENTS_PER_GROUP = 2;

const GROUPS = [
  { name: "solo-1", family: "solo", wave: 1, managed: true, desired: 2 },
  ...[1, 2, 3, 4].map((i) => ({ name: `quad-${i}`, family: "quad", wave: 1, managed: true, desired: 2 })),
  { name: "victims", family: "victim", wave: 1, managed: true, desired: 2 },
];

export async function runCost(): Promise<Figures> {
  const pc = await startPhoenixCloud({
    speed: 200,
    groups: GROUPS,
    bootSeconds: 60,
    policy: { rollout: { waveBakeMinutes: 1 } },
  });
  try {
    const containment = await containmentActivity(pc);
    const solo = await rolloutActivity(pc, "solo");
    const quad = await rolloutActivity(pc, "quad");
    // Per group: what the 4-group rollout costs beyond the 1-group one, per added group.
    const perGroup = {
      stateTransitions: (quad.stateTransitions - solo.stateTransitions) / 3,
      lambdaInvocations: (quad.lambdaInvocations - solo.lambdaInvocations) / 3 + REFRESH_EVENTS_PER_GROUP,
    };
    const fixed = {
      stateTransitions: solo.stateTransitions - perGroup.stateTransitions,
      lambdaInvocations: solo.lambdaInvocations + 1 - perGroup.lambdaInvocations + REFRESH_EVENTS_PER_GROUP,
    };
    const rollout100 = {
      stateTransitions: fixed.stateTransitions + 100 * perGroup.stateTransitions,
      lambdaInvocations: fixed.lambdaInvocations + 100 * perGroup.lambdaInvocations,
    };
    return {
      perContainmentStateTransitions: containment.stateTransitions,
      perContainmentLambdaInvocations: containment.lambdaInvocations,
      containmentStatus: containment.status,
      perGroupRolloutStateTransitions: round(perGroup.stateTransitions, 1),
      perGroupRolloutLambdaInvocations: round(perGroup.lambdaInvocations, 1),
      rolloutFixedStateTransitions: round(fixed.stateTransitions, 1),
      oneGroupRollout: solo,
      fourGroupRollout: quad,
      usdPer1000Containments: round(1000 * price(containment), 4),
      usdPer100GroupRollout: round(price(rollout100), 4),
      prices: { ...PRICES, assumedGbSecondsPerInvocation: ASSUMED_GB_SECONDS_PER_INVOCATION },
    };
  } finally {
    await pc.stop();
  }
}

function price(activity: { stateTransitions: number; lambdaInvocations: number }): number {
  return (
    activity.stateTransitions * PRICES.stepFunctionsStandardPerStateTransitionUsd +
    activity.lambdaInvocations *
      (PRICES.lambdaPerRequestUsd + ASSUMED_GB_SECONDS_PER_INVOCATION * PRICES.lambdaPerGbSecondX86Usd)
  );
}

async function containmentActivity(pc: PhoenixCloud) {
  const victim = pc.fleet.groups.find((g) => g.name === "victims")!.instanceIds[0]!;
  const onFinding = createOnFindingHandler(pc.phoenix.deps);
  await onFinding(sqsBatch([findingEnvelope({ instanceId: victim })]), lambdaContext("on-finding"));
  const { executionArn, status } = await waitForExecution(
    pc.phoenix.deps.clients.sfn,
    pc.phoenix.stateMachineArns.contain,
    victim,
    240_000,
  );
  const activity = billedActivity(await executionHistory(pc.phoenix.deps.clients.sfn, executionArn));
  // The on-finding invocation that started it.
  return { ...activity, lambdaInvocations: activity.lambdaInvocations + 1, status };
}

async function rolloutActivity(pc: PhoenixCloud, family: string) {
  // Through the gateway: the local cloud announces the new AMI on the bus, as EC2 would.
  const ec2 = new EC2Client({ ...pc.cloud.context.internalClientConfig, endpoint: pc.cloud.endpoint });
  const imageId = await registerImage(ec2, { family, name: `${family}-v2` });
  const { executionArn, status } = await waitForExecution(
    pc.phoenix.deps.clients.sfn,
    pc.phoenix.stateMachineArns.rollout,
    imageId,
    240_000,
  );
  if (status !== "SUCCEEDED") throw new Error(`rollout of ${family} ended ${status}`);
  return { ...billedActivity(await executionHistory(pc.phoenix.deps.clients.sfn, executionArn)), status };
}
