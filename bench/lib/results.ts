import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const RESULTS_FILE = path.join(BENCH_DIR, "results/latest.json");

/** Figures of one benchmark; key names carry their units (`ms`, `bytes`, `perSecond`, …). */
export type Figures = Record<string, number | string | boolean | null | Record<string, unknown> | unknown[]>;

/** The machine's state when a figure was taken: a loaded machine makes every time longer. */
export function machineLoad(): { loadAverage1m: number; cores: number; at: string } {
  return {
    loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
    cores: cpus().length,
    at: new Date().toISOString(),
  };
}

/**
 * Merges one benchmark's figures into latest.json, so running one benchmark keeps the others.
 * `keep`: figures of the previous entry carried over when this run did not produce them (an
 * opt-in part, such as scale's growth table, which carries its own command and machine).
 */
export function recordResult(name: string, figures: Figures, command: string, keep: string[] = []): void {
  const previous = existsSync(RESULTS_FILE)
    ? (JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as Record<string, unknown>)
    : {};
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  const before = (previous[name] ?? {}) as Record<string, unknown>;
  const carried = Object.fromEntries(
    keep
      .filter((key) => figures[key] === undefined && before[key] !== undefined)
      .map((key) => [key, before[key]]),
  );
  const entry = { ...figures, ...carried, command, machine: machineLoad() };
  writeFileSync(RESULTS_FILE, `${JSON.stringify({ ...previous, [name]: entry }, null, 2)}\n`);
}

export function printFigures(name: string, figures: Figures, command: string): void {
  const load = machineLoad();
  console.log(`\n== ${name} ==  (${command}; load ${load.loadAverage1m} on ${load.cores} cores)`);
  for (const [key, value] of Object.entries(figures)) {
    const shown = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
    console.log(`  ${name}.${key} = ${shown}`);
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const round = (value: number, digits = 1): number => Number(value.toFixed(digits));
