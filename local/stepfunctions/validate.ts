import aslValidator from "asl-validator";
import { type AslDefinition, allStates, isJsonObject } from "./asl.js";
import { SfnApiError } from "./errors.js";

/** What the local engine cannot run faithfully, refused up front rather than run wrongly. */
function unsupportedFeatures(definition: AslDefinition): string[] {
  const problems: string[] = [];
  // aws-local-stepfunctions silently ignores JSONata: an execution would run with wrong data.
  if (definition.QueryLanguage === "JSONata") {
    problems.push(
      "UNSUPPORTED_LOCALLY: QueryLanguage JSONata is not supported by the local cloud (use JSONPath)",
    );
  }
  for (const { path, state } of allStates(definition)) {
    if (state.QueryLanguage === "JSONata") {
      problems.push(
        `UNSUPPORTED_LOCALLY: QueryLanguage JSONata is not supported by the local cloud at /${path}`,
      );
    }
    if (isJsonObject(state.ItemReader)) {
      problems.push(
        `UNSUPPORTED_LOCALLY: Map ItemReader (distributed map) is not supported by the local cloud at /${path}`,
      );
    }
  }
  return problems;
}

// asl-validator compiles its JSON schemas on every call (hundreds of ms): definitions that come
// again (idempotent creates, restarts in tests) reuse their verdict.
const verdicts = new Map<string, string[]>();
const MAX_VERDICTS = 200;

function problemsOf(text: string, definition: AslDefinition): string[] {
  const known = verdicts.get(text);
  if (known) return known;
  // asl-validator annotates the object it checks (QueryLanguage on every state): give it a copy.
  const result = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
  const problems = result.errors.map((e) => `${e["Error code"]}: ${e.Message}`);
  if (problems.length === 0) problems.push(...unsupportedFeatures(definition));
  if (verdicts.size >= MAX_VERDICTS) verdicts.delete(verdicts.keys().next().value as string);
  verdicts.set(text, problems);
  return problems;
}

/**
 * Parses and validates a definition as CreateStateMachine does, failing with AWS's
 * `InvalidDefinition` and every problem named.
 */
export function parseDefinition(text: string): AslDefinition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SfnApiError(
      "InvalidDefinition",
      `Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: ${(error as Error).message}'`,
    );
  }
  if (!isJsonObject(parsed)) {
    throw new SfnApiError(
      "InvalidDefinition",
      "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: not an object'",
    );
  }
  const definition = parsed as unknown as AslDefinition;
  const problems = problemsOf(text, definition);
  if (problems.length > 0) {
    throw new SfnApiError("InvalidDefinition", `Invalid State Machine Definition: '${problems.join(", ")}'`);
  }
  return definition;
}
