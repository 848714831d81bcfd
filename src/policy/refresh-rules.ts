/**
 * The rules AWS applies to instance refresh preferences only when StartInstanceRefresh is called.
 * One place: the policy schema runs them (so `phoenix config check`, deploy and every cold start
 * refuse a policy no group could be refreshed with, naming the field), and the planner runs them
 * again for each group (src/rollout/core/preferences.ts).
 */

/** AWS's upper bound on AlarmSpecification.Alarms. */
export const MAX_REFRESH_ALARMS = 10;

/** AWS's upper bound for CheckpointDelay and BakeTime (48 hours). */
export const MAX_DELAY_SECONDS = 172_800;

export interface RefreshRuleInput {
  minHealthyPercentage: number;
  maxHealthyPercentage: number;
  checkpointPercentages?: readonly number[] | undefined;
  checkpointDelay?: number | undefined;
  bakeTime?: number | undefined;
}

/** A broken rule: the field's path below `policy.rollout.refresh`, and what is wrong. */
export interface RefreshProblem {
  path: (string | number)[];
  message: string;
}

export function refreshProblems(refresh: RefreshRuleInput): RefreshProblem[] {
  const checkpoints = refresh.checkpointPercentages ?? [];
  return [
    ...checkpointProblems(checkpoints),
    ...delayProblems(refresh, checkpoints.length > 0),
    ...rangeProblems(refresh),
  ];
}

/** `policy.rollout.refresh.<path>: <message>`, as every Phoenix error names a field. */
export function formatRefreshProblem(problem: RefreshProblem): string {
  const path = problem.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${part}`)).join("");
  return `policy.rollout.refresh${path}: ${problem.message}`;
}

/** AWS: values unique and ascending; Phoenix also needs the last to be 100, or the refresh would stop short. */
function checkpointProblems(percentages: readonly number[]): RefreshProblem[] {
  const problems: RefreshProblem[] = [];
  percentages.forEach((value, index) => {
    const path = ["checkpointPercentages", index];
    if (!Number.isInteger(value) || value < 1 || value > 100) {
      problems.push({ path, message: `${value} is not a whole percentage from 1 to 100` });
    }
    const previous = percentages[index - 1];
    if (previous !== undefined && value <= previous) {
      problems.push({ path, message: `${value} does not ascend from ${previous}` });
    }
  });
  const last = percentages.at(-1);
  if (last !== undefined && last !== 100)
    problems.push({
      path: ["checkpointPercentages"],
      message: `the last checkpoint must be 100, not ${last} (a refresh would stop short of the whole group)`,
    });
  return problems;
}

function delayProblems(refresh: RefreshRuleInput, hasCheckpoints: boolean): RefreshProblem[] {
  if (refresh.checkpointDelay === undefined || hasCheckpoints) return [];
  return [{ path: ["checkpointDelay"], message: "set without checkpointPercentages (AWS requires both)" }];
}

function rangeProblems(refresh: RefreshRuleInput): RefreshProblem[] {
  const problems: RefreshProblem[] = [];
  for (const key of ["checkpointDelay", "bakeTime"] as const) {
    const value = refresh[key];
    if (value !== undefined && value > MAX_DELAY_SECONDS) {
      problems.push({
        path: [key],
        message: `${value} exceeds AWS's maximum of ${MAX_DELAY_SECONDS} seconds`,
      });
    }
  }
  if (refresh.maxHealthyPercentage - refresh.minHealthyPercentage > 100) {
    problems.push({ path: ["maxHealthyPercentage"], message: "more than 100 above minHealthyPercentage" });
  }
  return problems;
}
