import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * Just enough of the Amazon States Language's shape for the local runtime to walk and rewrite
 * definitions. Validation proper is asl-validator's job (see validate.ts).
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface AslRetrier extends JsonObject {}

export interface AslState extends JsonObject {}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  QueryLanguage?: string;
  Comment?: string;
  [key: string]: unknown;
}

/** One state, wherever it sits: top level, inside a Map's processor or a Parallel branch. */
export interface LocatedState {
  name: string;
  state: AslState;
  /** Where it is, for messages: `States.Fleet.ItemProcessor.States.Refresh`. */
  path: string;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The nested state machines of a Map (ItemProcessor or the older Iterator) or a Parallel state. */
export function childMachines(state: AslState): { key: string; machine: AslDefinition }[] {
  const children: { key: string; machine: AslDefinition }[] = [];
  for (const key of ["ItemProcessor", "Iterator"] as const) {
    const machine = state[key];
    if (isJsonObject(machine) && isJsonObject(machine.States)) {
      children.push({ key, machine: machine as unknown as AslDefinition });
    }
  }
  const branches = state.Branches;
  if (Array.isArray(branches)) {
    branches.forEach((branch, i) => {
      if (isJsonObject(branch) && isJsonObject(branch.States)) {
        children.push({ key: `Branches[${i}]`, machine: branch as unknown as AslDefinition });
      }
    });
  }
  return children;
}

/** Every state of a definition, depth first, nested machines included. */
export function allStates(definition: AslDefinition, prefix = "States"): LocatedState[] {
  const found: LocatedState[] = [];
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    if (!isJsonObject(state)) continue;
    const path = `${prefix}.${name}`;
    found.push({ name, state, path });
    for (const child of childMachines(state)) {
      found.push(...allStates(child.machine, `${path}.${child.key}.States`));
    }
  }
  return found;
}

/**
 * A definition given as an object, a JSON string, or a path to a JSON file (relative to the
 * working directory). Returns the parsed object; throws with the file name on bad JSON.
 */
export function loadDefinition(source: string | object): AslDefinition {
  if (typeof source === "object") return structuredClone(source) as AslDefinition;
  const text = source.trimStart().startsWith("{") ? source : readFileSync(resolve(source), "utf8");
  try {
    return JSON.parse(text) as AslDefinition;
  } catch (error) {
    const where = text === source ? "definition" : source;
    throw new Error(`${where} is not valid JSON: ${(error as Error).message}`);
  }
}
