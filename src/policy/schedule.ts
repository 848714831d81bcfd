/**
 * EventBridge schedule expressions Phoenix accepts for its scheduled rules: `rate(<n> <unit>)`
 * with AWS's units (minute(s), hour(s), day(s); singular exactly when n is 1). `cron(…)` is
 * EventBridge's too, but Phoenix does not take it: the local cloud could not run it the same.
 */
const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The period of a rate expression in ms, or a message that says what is wrong. */
export function ratePeriodMs(expression: string): { ok: true; ms: number } | { ok: false; error: string } {
  const match = RATE.exec(expression);
  if (!match)
    return {
      ok: false,
      error: `${JSON.stringify(expression)} is not a rate expression: write rate(<n> minutes|hours|days), e.g. "rate(1 day)"`,
    };
  const n = Number(match[1]);
  const unit = match[2]!;
  if (n < 1) return { ok: false, error: `${expression}: the rate must be at least 1` };
  if ((n === 1) !== !unit.endsWith("s"))
    return {
      ok: false,
      error: `${expression}: EventBridge wants "${n === 1 ? unit.replace(/s$/, "") : `${unit}s`}" for ${n}`,
    };
  return { ok: true, ms: n * UNIT_MS[unit.replace(/s$/, "")]! };
}
