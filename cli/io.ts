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

/** Exit codes: 0 done, 1 the work failed, 2 bad usage or input, 3 environment problem. */
export const EXIT = { ok: 0, failed: 1, usage: 2, environment: 3 } as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
