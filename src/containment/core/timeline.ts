export const TIMELINE_STEPS = [
  "findingReceived",
  "isolated",
  "evidenceComplete",
  "replacementHealthy",
  "disposed",
] as const;

export type TimelineStep = (typeof TIMELINE_STEPS)[number];

const STEP_LABELS: Record<TimelineStep, string> = {
  findingReceived: "finding received",
  isolated: "isolated",
  evidenceComplete: "evidence complete",
  replacementHealthy: "replacement healthy",
  disposed: "disposed",
};

/** ISO-8601 times of the steps reached; a failed or skipped step (no replacement) is absent. */
export type StepTimes = { findingReceived: string } & Partial<
  Record<Exclude<TimelineStep, "findingReceived">, string>
>;

export interface TimelineEntry {
  step: TimelineStep;
  label: string;
  at: string;
  /** Undefined when a timestamp cannot be read; negative when clocks disagree (kept, not hidden). */
  sinceFindingMs: number | undefined;
  /** From the previous step reached; undefined for the first step. */
  sincePreviousMs: number | undefined;
}

export interface Timeline {
  entries: TimelineEntry[];
  /** From the finding to the last step reached. */
  totalMs: number | undefined;
}

export function buildTimeline(times: StepTimes): Timeline {
  const findingMs = parseTime(times.findingReceived);
  const entries: TimelineEntry[] = [];
  let previousMs: number | undefined;
  for (const step of TIMELINE_STEPS) {
    const at = times[step];
    if (at === undefined) continue;
    const atMs = parseTime(at);
    entries.push({
      step,
      label: STEP_LABELS[step],
      at,
      sinceFindingMs: difference(atMs, findingMs),
      sincePreviousMs: entries.length === 0 ? undefined : difference(atMs, previousMs),
    });
    previousMs = atMs;
  }
  return { entries, totalMs: entries.at(-1)?.sinceFindingMs };
}

/** One line per step, for notifications and the audit record's human summary. */
export function formatTimeline(timeline: Timeline): string {
  return timeline.entries
    .map((entry) => {
      if (entry.step === "findingReceived") return `${entry.label}: ${entry.at}`;
      const sinceFinding = formatDuration(entry.sinceFindingMs);
      const sincePrevious = formatDuration(entry.sincePreviousMs);
      return `${entry.label}: ${entry.at} (${sinceFinding} after the finding, ${sincePrevious} after the previous step)`;
    })
    .join("\n");
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return "unknown time";
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 999.5) return `${sign}${Math.round(abs)} ms`;
  if (abs < 59_950) return `${sign}${(abs / 1_000).toFixed(1)} s`;
  const totalSeconds = Math.round(abs / 1_000);
  if (totalSeconds < 3_600) {
    return `${sign}${Math.floor(totalSeconds / 60)} min ${pad(totalSeconds % 60)} s`;
  }
  const totalMinutes = Math.round(totalSeconds / 60);
  return `${sign}${Math.floor(totalMinutes / 60)} h ${pad(totalMinutes % 60)} min`;
}

const pad = (value: number): string => String(value).padStart(2, "0");

function parseTime(iso: string): number | undefined {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

function difference(later: number | undefined, earlier: number | undefined): number | undefined {
  return later === undefined || earlier === undefined ? undefined : later - earlier;
}
