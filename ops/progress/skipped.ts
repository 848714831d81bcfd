/**
 * Whether a workflow step that ran changed nothing for its subject, from the step's own result in
 * its output (`results.<step>`): the contain workflow runs Replace and Dispose for a standalone
 * instance too, and they report `replaced: false` and `disposition: "kept"`. Any step may say
 * `skipped: true`. Returns why, or undefined when the step did its work.
 */
export function skippedBecause(state: string, output: string | undefined): string | undefined {
  if (!output) return undefined;
  let parsed: { results?: Record<string, unknown> } | undefined;
  try {
    parsed = JSON.parse(output) as typeof parsed;
  } catch {
    return undefined;
  }
  const key = `${state[0]?.toLowerCase() ?? ""}${state.slice(1)}`;
  const result = parsed?.results?.[key];
  if (!result || typeof result !== "object") return undefined;
  const r = result as Record<string, unknown>;
  const reason = typeof r["reason"] === "string" ? r["reason"] : undefined;
  if (state === "Replace" && r["replaced"] === false)
    return "not in an Auto Scaling group: nothing replaces it";
  if (state === "Dispose" && r["disposition"] === "kept")
    return reason ?? "kept, isolated, for a person to decide";
  if (r["skipped"] === true) return reason ?? "skipped";
  return undefined;
}
