import { TERMINAL_ERRORS } from "../../../src/containment/core/errors.js";
import type {
  CaughtError,
  ContainState,
  StepName,
  StepResults,
} from "../../../src/containment/core/types.js";
import { admit } from "../../../src/containment/workflow/admit.js";
import { dispose } from "../../../src/containment/workflow/dispose.js";
import { collectEvidence } from "../../../src/containment/workflow/evidence.js";
import { checkEvidence } from "../../../src/containment/workflow/evidence-status.js";
import { harden } from "../../../src/containment/workflow/harden.js";
import { isolate } from "../../../src/containment/workflow/isolate.js";
import { replace } from "../../../src/containment/workflow/replace.js";
import { checkReplacement } from "../../../src/containment/workflow/replacement-status.js";
import { report } from "../../../src/containment/workflow/report.js";
import { reportFailure } from "../../../src/containment/workflow/report-failure.js";
import { revokeCredentials } from "../../../src/containment/workflow/revoke.js";
import { traceImage } from "../../../src/containment/workflow/trace-image.js";
import type { PhoenixDeps } from "../../../src/deps.js";

/** Steps re-run after a transient failure, for tests that want to see them. */
export const retried: string[] = [];

export const STEPS: { [K in StepName]: (deps: PhoenixDeps, state: ContainState) => Promise<StepResults[K]> } =
  {
    admit,
    isolate,
    harden,
    revoke: revokeCredentials,
    evidence: collectEvidence,
    evidenceStatus: checkEvidence,
    replace,
    traceImage,
    replacementStatus: checkReplacement,
    dispose,
    report,
    failure: reportFailure,
  };

/** Runs one step and adds its result to the state, as the Lambda wrapper does. */
export async function runStep(deps: PhoenixDeps, state: ContainState, name: StepName): Promise<ContainState> {
  const result = await STEPS[name](deps, state);
  return { ...state, results: { ...state.results, [name]: result } };
}

/**
 * The contain workflow's happy path in the ASL's order, steps called directly (the Step Functions
 * engine is exercised separately, in test/unit/containment/contain-asl.test.ts; keep the two
 * orders the same): isolate → harden → revoke → replace → trace image → evidence → poll snapshots → poll the group
 * (if replaced) → dispose → report. `each` sees every state.
 */
export async function runContainment(
  deps: PhoenixDeps,
  initial: ContainState,
  options: {
    maxPolls?: number;
    pollDelayMs?: number;
    /** Re-runs a step that failed with a non-terminal error, as the workflow's Retry does. */
    retryTransient?: number;
    each?: (name: StepName, state: ContainState) => Promise<void>;
    /** TraceImage fails past its retries: kept at `traceError`, as the ASL's Catch does, and on. */
    traceFails?: CaughtError;
  } = {},
): Promise<ContainState> {
  const maxPolls = options.maxPolls ?? 50;
  let state = initial;
  const step = async (name: StepName) => {
    for (let attempt = 0; ; attempt++) {
      try {
        state = await runStep(deps, state, name);
        break;
      } catch (error) {
        const terminal = (TERMINAL_ERRORS as readonly string[]).includes((error as Error).name);
        if (terminal || attempt >= (options.retryTransient ?? 0)) throw error;
        retried.push(`${name}: ${(error as Error).name}`);
      }
    }
    await options.each?.(name, state);
  };
  for (const name of ["isolate", "harden", "revoke", "replace", "traceImage", "evidence"] as const) {
    if (name === "traceImage" && options.traceFails) state = { ...state, traceError: options.traceFails };
    else await step(name);
  }
  for (let poll = 0; ; poll++) {
    await step("evidenceStatus");
    if (state.results.evidenceStatus?.complete) break;
    if (poll >= maxPolls) throw new Error("snapshots never completed");
    await new Promise((r) => setTimeout(r, options.pollDelayMs ?? 50));
  }
  if (state.results.replace?.replaced) {
    for (let poll = 0; ; poll++) {
      await step("replacementStatus");
      if (state.results.replacementStatus?.healthy) break;
      if (poll >= maxPolls) throw new Error("replacement never became healthy");
      await new Promise((r) => setTimeout(r, options.pollDelayMs ?? 50));
    }
  }
  await step("dispose");
  await step("report");
  return state;
}
