import type { PhoenixDeps } from "../../deps.js";
import { functionLogger, type LambdaHandler, lambdaHandler } from "../../lambda.js";
import { ContainmentStepError } from "../core/errors.js";
import type { ContainState, StepName, StepResults } from "../core/types.js";

/** A step of the contain workflow: small, effectful, safe to run again. */
export type ContainStep<K extends StepName> = (
  deps: PhoenixDeps,
  state: ContainState,
) => Promise<StepResults[K]>;

/**
 * The handler of one contain step (wrapped by src/lambda.ts like every Phoenix function):
 * receives the workflow state, runs the step, and returns the state with the step's result added
 * under `results.<name>` (the ASL's OutputPath takes it from the invoke response).
 */
export function containStepHandler<K extends StepName>(
  name: K,
  step: ContainStep<K>,
  deps: PhoenixDeps,
  /** The Admit step validates (and audits) any input itself: it is the gate for hand-made ones. */
  options: { ownValidation?: boolean } = {},
): LambdaHandler<ContainState, ContainState> {
  const logger = functionLogger(`contain-${name}`, { step: name });
  return lambdaHandler(
    logger,
    async (event: ContainState) => {
      if (!options.ownValidation && (!event?.containment?.containmentId || !event.containment.instanceId)) {
        throw new ContainmentStepError(
          "Phoenix.Refused",
          `The ${name} step needs { containment: { containmentId, instanceId, … } }.`,
        );
      }
      const state: ContainState = { ...event, results: event?.results ?? {} };
      logger.appendKeys({
        containmentId: state.containment?.containmentId,
        instanceId: state.containment?.instanceId,
      });
      const result = await step(deps, state);
      logger.info(`${name} done`, { result });
      return { ...state, results: { ...state.results, [name]: result } };
    },
    { resetKeys: true },
  );
}
