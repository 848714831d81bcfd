import type { PhoenixDeps } from "../../deps.js";
import { functionLogger, type LambdaHandler, lambdaHandler } from "../../lambda.js";
import { fleetDeps, MemberAccessError } from "../../member-access.js";
import { ContainmentStepError } from "../core/errors.js";
import type { ContainState, StepName, StepResults } from "../core/types.js";

/** A step of the contain workflow: small, effectful, safe to run again. */
export type ContainStep<K extends StepName> = (
  deps: PhoenixDeps,
  state: ContainState,
) => Promise<StepResults[K]>;

/**
 * The handler of a contain step that acts on the instance (wrapped by src/lambda.ts like every
 * Phoenix function): the step gets deps in the containment's account (through its member role)
 * and region, receives the workflow state, and returns it with its result added under
 * `results.<name>` (the ASL's OutputPath takes it from the invoke response).
 */
export function containStepHandler<K extends StepName>(
  name: K,
  step: ContainStep<K>,
  deps: PhoenixDeps,
): LambdaHandler<ContainState, ContainState> {
  return stepHandler(name, step, (state) => stepDeps(deps, state), {});
}

/**
 * The handler of a contain step that needs only Phoenix's own account (records, audit,
 * notifications), or reaches the fleet itself (the trace of an image). Kept apart from
 * containStepHandler so that these functions are not granted sts:AssumeRole for nothing.
 */
export function containHomeStepHandler<K extends StepName>(
  name: K,
  step: ContainStep<K>,
  deps: PhoenixDeps,
  /** The Admit step validates (and audits) any input itself: it is the gate for hand-made ones. */
  options: { ownValidation?: boolean } = {},
): LambdaHandler<ContainState, ContainState> {
  return stepHandler(name, step, () => deps, options);
}

function stepHandler<K extends StepName>(
  name: K,
  step: ContainStep<K>,
  depsFor: (state: ContainState) => PhoenixDeps,
  options: { ownValidation?: boolean },
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
      const result = await step(depsFor(state), state);
      logger.info(`${name} done`, { result });
      return { ...state, results: { ...state.results, [name]: result } };
    },
    { resetKeys: true },
  );
}

/**
 * The deps of a fleet step: in the account and region the containment record names (verified
 * by the intake; a stored input from before member accounts names no region: Phoenix's own).
 * An account or region the policy no longer lists is refused, not reached.
 */
function stepDeps(deps: PhoenixDeps, state: ContainState): PhoenixDeps {
  const { accountId, region = deps.region } = state.containment;
  try {
    return fleetDeps(deps, { accountId, region });
  } catch (error) {
    if (error instanceof MemberAccessError) throw new ContainmentStepError("Phoenix.Refused", error.message);
    throw error;
  }
}
