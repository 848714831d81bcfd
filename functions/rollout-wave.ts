import { dynamo, sns } from "../src/aws/client-factories.js";
import { deployedHandler, functionHandler } from "../src/lambda.js";
import { InvalidStepInputError } from "../src/rollout/aws/errors.js";
import type {
  GroupResult,
  PlanStepOutput,
  WaveStart,
  WaveVerdict,
} from "../src/rollout/workflow/contract.js";
import { beginWave, endWave } from "../src/rollout/workflow/wave-step.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, sns };

/** The workflow's state around a wave: the plan's output plus what the wave states added. */
type WaveState = PlanStepOutput & { wave?: WaveStart; results?: GroupResult[]; verdict?: WaveVerdict };

export type RolloutWaveEvent = { step: "begin" | "end"; state: WaveState };

/**
 * Rollout workflow, BeginWave and EndWave: the supersede check before a wave, the verdict after.
 * Returns the state with `wave` or `verdict` set (the ASL takes it as the new state).
 */
export const createRolloutWaveHandler = functionHandler(
  "rollout-wave",
  (deps, logger) =>
    async (event: RolloutWaveEvent): Promise<WaveState> => {
      const { state } = event;
      if (state?.rollout === undefined || typeof state.cursor !== "number") {
        throw new InvalidStepInputError("rollout-wave needs the workflow state ({rollout, cursor})");
      }
      const input = { rollout: state.rollout, index: state.cursor };
      if (event.step === "begin") {
        const wave = await beginWave(deps, input);
        logger.info("wave begins", {
          execution: state.rollout.execution,
          wave: wave.wave,
          go: wave.go,
          reason: wave.reason,
        });
        return { ...state, wave };
      }
      if (event.step === "end") {
        const verdict = await endWave(deps, { ...input, results: state.results ?? [] });
        logger.info("wave ended", {
          execution: state.rollout.execution,
          wave: verdict.wave,
          ok: verdict.ok,
          summary: verdict.summary,
        });
        return { ...state, verdict };
      }
      throw new InvalidStepInputError(
        `rollout-wave: unknown step ${JSON.stringify((event as { step?: unknown }).step)}`,
      );
    },
);

export const handler = deployedHandler(createRolloutWaveHandler, CLIENTS);
