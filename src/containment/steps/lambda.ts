import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { PhoenixDeps } from "../../deps.js";
import { awsErrorName, ContainmentStepError } from "./errors.js";
import type { ContainState, StepName, StepResults } from "./types.js";

/** A step of the contain workflow: small, effectful, safe to run again. */
export type ContainStep<K extends StepName> = (
  deps: PhoenixDeps,
  state: ContainState,
) => Promise<StepResults[K]>;

/** Deps given directly (tests, the local cloud) or built lazily on the first invocation (Lambda). */
export type DepsSource = PhoenixDeps | (() => PhoenixDeps);

export const resolveDeps = (source: DepsSource): PhoenixDeps =>
  typeof source === "function" ? source() : source;

/**
 * The Lambda entry point of one step: receives the workflow state, runs the step, and returns
 * the state with the step's result added under `results.<name>` (the ASL's OutputPath takes it
 * from the invoke response). An error is logged and rethrown with its name intact, because the
 * name is what the workflow's Retry and Catch match on.
 */
export function containStepHandler<K extends StepName>(
  name: K,
  step: ContainStep<K>,
  source: DepsSource,
  /** The Admit step validates (and audits) any input itself: it is the gate for hand-made ones. */
  options: { ownValidation?: boolean } = {},
) {
  const logger = new Logger({ serviceName: "phoenix", persistentKeys: { step: name } });
  return middy<ContainState, ContainState, Error, Context>(async (event: ContainState) => {
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
    try {
      const result = await step(resolveDeps(source), state);
      logger.info(`${name} done`, { result });
      return { ...state, results: { ...state.results, [name]: result } };
    } catch (error) {
      logger.error(`${name} failed`, { errorName: awsErrorName(error), error: error as Error });
      throw error;
    }
  }).use(injectLambdaContext(logger, { resetKeys: true }));
}
