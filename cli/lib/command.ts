import type { CommandIO } from "../../ops/io.js";

export interface Command {
  name: string;
  usage: string;
  example: string;
  /** More than the usage line says: behaviour a person needs before running it. */
  details?: string;
  run(args: string[], io: CommandIO): Promise<number>;
}

/** What the overview shows of a command, and how to load the rest when it runs. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export function helpText(entry: CommandEntry, command: Command): string {
  const details = command.details ? `\n\n${command.details.trim()}` : "";
  return `${entry.summary}\n\nUsage: ${command.usage}${details}\n\nExample:\n  ${command.example}\n`;
}

export function parsePositiveNumber(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got "${value}"`);
  return n;
}

export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`--port must be an integer 0–65535, got "${value}"`);
  return n;
}
