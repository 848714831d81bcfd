import { readFileSync } from "node:fs";

/**
 * workflows/rollout.asl.json names its Lambda functions by placeholder (`"FunctionName":
 * "${FnRolloutGroup}"`). The deployed stack substitutes each function's ARN; the local cloud
 * substitutes the names it registers the handlers under. Each placeholder is one handler in
 * functions/ (the value here is the file's name, without .ts).
 */
export const ROLLOUT_FUNCTIONS = {
  FnRolloutPlan: "rollout-plan",
  FnRolloutWave: "rollout-wave",
  FnRolloutGroup: "rollout-group",
  FnRolloutFinish: "rollout-finish",
} as const;

export type RolloutPlaceholder = keyof typeof ROLLOUT_FUNCTIONS;

export const ROLLOUT_DEFINITION_URL = new URL("../../../workflows/rollout.asl.json", import.meta.url);

export function rolloutDefinitionText(): string {
  return readFileSync(ROLLOUT_DEFINITION_URL, "utf8");
}

/**
 * The definition with every placeholder replaced. Throws when a placeholder has no value or the
 * file uses one this module does not know, so a half-substituted definition is never deployed.
 */
export function renderRolloutDefinition(
  functions: Record<RolloutPlaceholder, string>,
): Record<string, unknown> {
  const text = rolloutDefinitionText();
  const used = new Set([...text.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1] as string));
  const unknown = [...used].filter((name) => !(name in ROLLOUT_FUNCTIONS));
  if (unknown.length > 0)
    throw new Error(`rollout.asl.json uses unknown placeholder(s): ${unknown.join(", ")}`);
  const missing = (Object.keys(ROLLOUT_FUNCTIONS) as RolloutPlaceholder[]).filter((name) => !functions[name]);
  if (missing.length > 0) throw new Error(`no function given for placeholder(s): ${missing.join(", ")}`);
  const rendered = text.replace(/\$\{(\w+)\}/g, (_, name: RolloutPlaceholder) => functions[name]);
  return JSON.parse(rendered) as Record<string, unknown>;
}
