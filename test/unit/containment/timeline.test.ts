import { describe, expect, it } from "vitest";
import { buildTimeline, formatDuration, formatTimeline } from "../../../src/containment/core/timeline.js";

const full = {
  findingReceived: "2025-06-01T12:00:00.000Z",
  isolated: "2025-06-01T12:00:02.500Z",
  evidenceComplete: "2025-06-01T12:03:10.000Z",
  replacementHealthy: "2025-06-01T12:05:00.000Z",
  disposed: "2025-06-01T12:05:30.250Z",
};

describe("buildTimeline", () => {
  it("measures every step from the finding and from the step before", () => {
    const timeline = buildTimeline(full);
    expect(timeline.entries.map((e) => [e.step, e.sinceFindingMs, e.sincePreviousMs])).toEqual([
      ["findingReceived", 0, undefined],
      ["isolated", 2_500, 2_500],
      ["evidenceComplete", 190_000, 187_500],
      ["replacementHealthy", 300_000, 110_000],
      ["disposed", 330_250, 30_250],
    ]);
    expect(timeline.totalMs).toBe(330_250);
    expect(timeline.entries[2]).toMatchObject({ label: "evidence complete", at: full.evidenceComplete });
  });

  it("orders steps by the workflow, not by the input", () => {
    const shuffled = {
      disposed: full.disposed,
      isolated: full.isolated,
      findingReceived: full.findingReceived,
    };
    expect(buildTimeline(shuffled).entries.map((e) => e.step)).toEqual([
      "findingReceived",
      "isolated",
      "disposed",
    ]);
  });

  it("skips steps not reached and measures from the last one reached", () => {
    const standalone = { ...full, replacementHealthy: undefined, disposed: undefined };
    const timeline = buildTimeline(standalone);
    expect(timeline.entries.map((e) => e.step)).toEqual(["findingReceived", "isolated", "evidenceComplete"]);
    expect(timeline.totalMs).toBe(190_000);

    const noReplacement = buildTimeline({ ...full, replacementHealthy: undefined });
    expect(noReplacement.entries.at(-1)).toMatchObject({ step: "disposed", sincePreviousMs: 140_250 });
  });

  it("keeps an unreadable time in the record without inventing durations", () => {
    const timeline = buildTimeline({ ...full, evidenceComplete: "not a time" });
    const evidence = timeline.entries.find((e) => e.step === "evidenceComplete");
    expect(evidence).toMatchObject({
      at: "not a time",
      sinceFindingMs: undefined,
      sincePreviousMs: undefined,
    });
    const next = timeline.entries.find((e) => e.step === "replacementHealthy");
    expect(next).toMatchObject({ sinceFindingMs: 300_000, sincePreviousMs: undefined });
  });

  it("shows clock disagreement as a negative duration instead of hiding it", () => {
    const timeline = buildTimeline({ findingReceived: full.isolated, isolated: full.findingReceived });
    expect(timeline.entries[1]?.sinceFindingMs).toBe(-2_500);
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0 ms"],
    [850, "850 ms"],
    [999.4, "999 ms"],
    [999.6, "1.0 s"],
    [2_500, "2.5 s"],
    [59_949, "59.9 s"],
    [59_990, "1 min 00 s"],
    [187_500, "3 min 08 s"],
    [3_599_600, "1 h 00 min"],
    [5_430_000, "1 h 31 min"],
    [-2_500, "-2.5 s"],
    [undefined, "unknown time"],
  ])("%s ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("formatTimeline", () => {
  it("writes one line per step for the notification", () => {
    expect(formatTimeline(buildTimeline(full))).toBe(
      [
        "finding received: 2025-06-01T12:00:00.000Z",
        "isolated: 2025-06-01T12:00:02.500Z (2.5 s after the finding, 2.5 s after the previous step)",
        "evidence complete: 2025-06-01T12:03:10.000Z (3 min 10 s after the finding, 3 min 08 s after the previous step)",
        "replacement healthy: 2025-06-01T12:05:00.000Z (5 min 00 s after the finding, 1 min 50 s after the previous step)",
        "disposed: 2025-06-01T12:05:30.250Z (5 min 30 s after the finding, 30.3 s after the previous step)",
      ].join("\n"),
    );
  });
});
