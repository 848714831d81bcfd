import { readFileSync } from "node:fs";

/**
 * Phoenix's deployable pieces, named once: the Lambda functions (one entry point each under
 * functions/) and the state machines (ASL under workflows/). The deployed stack, the local
 * cloud, the bundler and the least-privilege test all read this list.
 *
 * Conventions: functions/<name>.ts exports `handler` (for Lambda) and
 * `create<PascalName>Handler(deps)` (for the local cloud and tests); an ASL file names a
 * function by the placeholder `${Fn<PascalName>}`, substituted with the function's ARN.
 */
export const PHOENIX_FUNCTIONS = [
  "on-finding",
  "on-image",
  "on-refresh-event",
  "on-session",
  "contain-admit",
  "contain-isolate",
  "contain-harden",
  "contain-revoke",
  "contain-evidence",
  "contain-evidence-status",
  "contain-replace",
  "contain-trace-image",
  "contain-replacement-status",
  "contain-dispose",
  "contain-report",
  "contain-report-failure",
  "rollout-plan",
  "rollout-wave",
  "rollout-group",
  "rollout-finish",
  "sweep",
] as const;

export type PhoenixFunction = (typeof PHOENIX_FUNCTIONS)[number];

export const PHOENIX_STATE_MACHINES = {
  contain: "workflows/contain.asl.json",
  rollout: "workflows/rollout.asl.json",
} as const;

export type PhoenixStateMachine = keyof typeof PHOENIX_STATE_MACHINES;

export function pascalName(name: string): string {
  return name
    .split("-")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

export const placeholderOf = (name: PhoenixFunction): string => `Fn${pascalName(name)}`;
export const factoryExportOf = (name: PhoenixFunction): string => `create${pascalName(name)}Handler`;

const PLACEHOLDER = /\$\{([A-Za-z0-9_]+)\}/g;

/** The placeholders an ASL text uses, in order of first use. */
export function placeholdersIn(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((match) => match[1] as string))];
}

/**
 * Replaces every `${Key}` in an ASL text. An unknown placeholder (or one given an empty value) is
 * an error, not a silent leftover that would fail only when the workflow reaches that state.
 */
export function substitutePlaceholders(text: string, values: Record<string, string>): string {
  const unknown = new Set<string>();
  const result = text.replace(PLACEHOLDER, (whole, key: string) => {
    const value = values[key];
    if (value === undefined || value === "") {
      unknown.add(key);
      return whole;
    }
    return value;
  });
  if (unknown.size > 0)
    throw new Error(`no value for placeholder(s) ${[...unknown].map((k) => `\${${k}}`).join(", ")}`);
  return result;
}

export function functionPlaceholders(arnOf: (name: PhoenixFunction) => string): Record<string, string> {
  return Object.fromEntries(PHOENIX_FUNCTIONS.map((name) => [placeholderOf(name), arnOf(name)]));
}

/** The ASL text of a state machine, as it is in workflows/ (placeholders not yet replaced). */
export function stateMachineText(machine: PhoenixStateMachine): string {
  return readFileSync(new URL(`../${PHOENIX_STATE_MACHINES[machine]}`, import.meta.url), "utf8");
}

/** The functions a state machine's Tasks invoke, from its placeholders. */
export function functionsOf(machine: PhoenixStateMachine): PhoenixFunction[] {
  const byPlaceholder = new Map(PHOENIX_FUNCTIONS.map((name) => [placeholderOf(name), name]));
  return placeholdersIn(stateMachineText(machine)).map((placeholder) => {
    const name = byPlaceholder.get(placeholder);
    if (name === undefined)
      throw new Error(`${PHOENIX_STATE_MACHINES[machine]} names unknown function ${placeholder}`);
    return name;
  });
}

/**
 * The one renderer of a state machine's definition: every placeholder replaced with what
 * `arnOf` gives its function (the synth gives ARNs; tests and the local engine give names).
 * The stack renders through it, so the tests check the definition production deploys.
 */
export function renderStateMachine(
  machine: PhoenixStateMachine,
  arnOf: (name: PhoenixFunction) => string = (name) => name,
  text: string = stateMachineText(machine),
): string {
  return substitutePlaceholders(text, functionPlaceholders(arnOf));
}
