import type { CommandIO } from "./io.js";

/** Machine-readable output: one JSON document on stdout, nothing else. */
export function printJson(io: CommandIO, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** Columns padded to the widest cell; the last column is not padded. */
export function table(rows: string[][]): string[] {
  const widths = rows.reduce<number[]>(
    (w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)),
    [],
  );
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/** "1 instance", "2 instances"; `many` for irregular plurals. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * At most `max` characters, cut at a word boundary so that an id is shown whole or not at all
 * (a cut "ami-c343e41102b…" reads as an id that does not exist), with … when something was cut.
 */
export function truncateAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const boundary = Math.max(cut.lastIndexOf(" "), cut.lastIndexOf("\n"));
  return `${(boundary > max / 2 ? cut.slice(0, boundary) : cut).replace(/[\s,;:(]+$/, "")} …`;
}
