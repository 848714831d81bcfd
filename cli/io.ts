/** Where a command writes; tests pass their own to read what a person would see. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Resolves when the user asks to stop (Ctrl-C / SIGTERM); long-running commands await it. */
  interrupted(): Promise<void>;
}

export const processIO = (): CommandIO => ({
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  env: process.env,
  interrupted: () =>
    new Promise((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    }),
});

/**
 * Exit codes: 0 done, 1 the work failed or was refused, 2 bad usage or input (a bad flag, an
 * unknown instance, hold or execution, an invalid policy), 3 environment problem (no
 * credentials, Phoenix not deployed, local cloud not running), 4 held for a person's approval.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, environment: 3, held: 4 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the user can act on: its message says what is wrong and what to do. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
