import { dynamo, ec2, sns } from "../src/aws/client-factories.js";
import type { PhoenixDeps } from "../src/deps.js";
import { deployedHandler, functionHandler } from "../src/lambda.js";
import { InvalidStepInputError } from "../src/rollout/aws/errors.js";
import type { PlanStepOutput, WaveStart, WaveVerdict } from "../src/rollout/workflow/contract.js";
import {
  type FinishResult,
  rolloutErrored,
  rolloutFailed,
  rolloutPaused,
  rolloutSucceeded,
  rolloutSuperseded,
} from "../src/rollout/workflow/finish-step.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, sns };

type FinishState = Partial<PlanStepOutput> & {
  wave?: WaveStart;
  verdict?: WaveVerdict;
  error?: { Error?: string; Cause?: string };
  imageId?: string;
  family?: string;
};

export type RolloutFinishEvent = {
  step: "succeeded" | "failed" | "superseded" | "paused" | "errored";
  state: FinishState;
  execution?: string;
};

/** Rollout workflow, its last Task on every path: record, audit, notify. */
export const createRolloutFinishHandler = functionHandler(
  "rollout-finish",
  (deps, logger) =>
    async (event: RolloutFinishEvent): Promise<FinishResult> => {
      const state = event?.state ?? {};
      const result = await finish(deps, event.step, state, event.execution);
      logger.info("rollout ended", {
        status: result.status,
        cause: result.cause,
        execution: state.rollout?.execution ?? event.execution,
      });
      return result;
    },
);

async function finish(
  deps: PhoenixDeps,
  step: RolloutFinishEvent["step"],
  state: FinishState,
  execution: string | undefined,
): Promise<FinishResult> {
  if (step === "errored") {
    return rolloutErrored(deps, { state, execution: execution ?? state.rollout?.execution ?? "unknown" });
  }
  const rollout = state.rollout;
  if (rollout === undefined) throw new InvalidStepInputError(`rollout-finish ${step} needs state.rollout`);
  if (step === "succeeded") return rolloutSucceeded(deps, { rollout });
  if (step === "failed") {
    if (state.verdict === undefined)
      throw new InvalidStepInputError("rollout-finish failed needs state.verdict");
    return rolloutFailed(deps, { rollout, verdict: state.verdict });
  }
  if (step === "superseded") {
    if (state.wave === undefined)
      throw new InvalidStepInputError("rollout-finish superseded needs state.wave");
    return rolloutSuperseded(deps, { rollout, wave: state.wave });
  }
  if (step === "paused") {
    return rolloutPaused(deps, {
      rollout,
      ...(state.wave !== undefined ? { wave: state.wave } : {}),
      ...(state.verdict !== undefined ? { verdict: state.verdict } : {}),
    });
  }
  throw new InvalidStepInputError(`rollout-finish: unknown step ${JSON.stringify(step)}`);
}

export const handler = deployedHandler(createRolloutFinishHandler, CLIENTS);
