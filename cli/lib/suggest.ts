/**
 * "did you mean …?": the candidate closest to what was typed, if it is close enough to be the
 * likely intent (a typo, a swapped pair of letters, a prefix), else undefined.
 */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  const input = typed.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(input, candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  const core = input.replace(/^-+/, "");
  const limit = core.length <= 3 ? 1 : core.length <= 6 ? 2 : 3;
  if (best && best.distance <= limit) return best.candidate;
  // A prefix long enough to mean one thing: "--rea" for "--reason", "stat" for "status".
  const prefixed = candidates.filter((c) => core.length >= 3 && c.replace(/^-+/, "").startsWith(core));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
