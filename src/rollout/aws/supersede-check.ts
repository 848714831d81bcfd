import { DescribeExecutionCommand, StopExecutionCommand } from "@aws-sdk/client-sfn";
import { awsErrorCode } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import {
  decideSupersede,
  type ImageVersion,
  type InFlightRollout,
  type SupersedeDecision,
} from "../core/supersede.js";
import { releaseGroupLock } from "./lock.js";
import { endRollout, familyCompleted, inFlightRollouts } from "./rollout-records.js";

type Deps = Pick<PhoenixDeps, "clients" | "resources" | "now">;

/**
 * decideSupersede over what the state table knows about the family. `execution` leaves out the
 * caller's own rollout record, so a retried plan step does not see itself as a rival.
 */
export async function supersedeDecision(
  deps: Deps,
  family: string,
  image: ImageVersion,
  execution?: string,
): Promise<SupersedeDecision> {
  const [recorded, completed] = await Promise.all([
    inFlightRollouts(deps, family),
    familyCompleted(deps, family),
  ]);
  const inFlight = await stillRunning(
    deps,
    family,
    recorded.filter((rollout) => rollout.executionId !== execution),
  );
  return decideSupersede({
    image,
    inFlight,
    ...(completed !== undefined ? { lastCompleted: completed } : {}),
  });
}

/**
 * A record says "running" but its execution may have ended without saying so (it timed out, or
 * someone stopped it: no Catch runs then). Such a record would block its image for good, so
 * the execution is asked; a record whose execution has ended is closed and left out. When Step
 * Functions cannot answer, the record is kept: better to wait than to run two rollouts at once.
 */
async function stillRunning(
  deps: Deps,
  family: string,
  rollouts: InFlightRollout[],
): Promise<InFlightRollout[]> {
  const running: InFlightRollout[] = [];
  for (const rollout of rollouts) {
    const status = await executionStatus(deps, rollout.executionId);
    if (status === undefined || status === "RUNNING") {
      running.push(rollout);
      continue;
    }
    await endRollout(deps, family, rollout.imageId, {
      status: "failed",
      reason: `execution ended ${status} without recording its end`,
    });
  }
  return running;
}

async function executionStatus(deps: Deps, executionArn: string | undefined): Promise<string | undefined> {
  if (executionArn === undefined || !executionArn.startsWith("arn:")) return undefined;
  try {
    const { status } = await deps.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return status;
  } catch (error) {
    if (awsErrorCode(error) === "ExecutionDoesNotExist") return "MISSING";
    return undefined;
  }
}

export interface StoppedRollout {
  /** Whether StopExecution stopped it (false: it had ended already). */
  stopped: boolean;
  /** Groups whose lock it held, released for the newer rollout. */
  released: string[];
}

/**
 * Stops a superseded rollout now rather than at its next wave: StopExecution (idempotent: an
 * execution that has ended is left as it is), then the group locks it held are released, since
 * a stopped execution runs no Catch and its locks would hold the groups until their TTL. Its
 * refreshes already running are left to finish: the newer rollout waits for them, then rolls
 * those groups on (cancelling one midway would leave its group half on each image).
 */
export async function stopSupersededRollout(
  deps: Deps & Pick<PhoenixDeps, "clients">,
  executionArn: string,
  groups: readonly string[],
  reason: string,
): Promise<StoppedRollout> {
  let stopped = false;
  if (executionArn.startsWith("arn:")) {
    try {
      await deps.clients.sfn.send(
        new StopExecutionCommand({
          executionArn,
          error: "Phoenix.Superseded",
          cause: reason.slice(0, 32_000),
        }),
      );
      stopped = true;
    } catch (error) {
      if (awsErrorCode(error) !== "ExecutionDoesNotExist") throw error;
    }
  }
  // The rollout's locks are owned by its execution (ARN): only those are released.
  const released: string[] = [];
  for (const group of groups) {
    if (await releaseGroupLock(deps, group, executionArn)) released.push(group);
  }
  return { stopped, released };
}
