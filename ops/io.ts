/** Where a command writes; tests pass their own to read what a person would see. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Resolves when the user asks to stop (Ctrl-C / SIGTERM); long-running commands await it. */
  interrupted(): Promise<void>;
}

let closedPipesQuiet = false;

/**
 * `phoenix … | head -1`: once the reader has gone, writing fails with EPIPE, which Node raises
 * as an unhandled 'error' event (a stack trace on the terminal). The reader has what it wanted:
 * stop at once and quietly, as Unix tools do. Any other stream error still surfaces.
 */
export function exitQuietlyOnClosedPipe(
  streams: NodeJS.WritableStream[] = [process.stdout, process.stderr],
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  for (const stream of streams) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
      exit(0);
    });
  }
}

export const processIO = (): CommandIO => {
  if (!closedPipesQuiet) {
    closedPipesQuiet = true;
    exitQuietlyOnClosedPipe();
  }
  return processStreams();
};

const processStreams = (): CommandIO => ({
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  env: process.env,
  interrupted: () =>
    new Promise((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        // A second Ctrl-C quits at once (Node's default); and whatever is still in flight after
        // the command has stopped its work (a Lambda step retrying against the stopped cloud)
        // does not keep the terminal waiting.
        setTimeout(() => process.exit(process.exitCode ?? EXIT.interrupted), STOP_GRACE_MS).unref();
        resolve();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    }),
});

/** How long a command may take to stop after Ctrl-C before the process ends anyway. */
const STOP_GRACE_MS = 10_000;

/**
 * Exit codes: 0 done, 1 the work failed or was refused, 2 bad usage or input (a bad flag, an
 * unknown instance, hold or execution, an invalid policy), 3 environment problem (no
 * credentials, Phoenix not deployed, local cloud not running), 4 held for a person's approval, 130 interrupted (Ctrl-C
 * before the work was done).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, environment: 3, held: 4, interrupted: 130 } as const;

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
