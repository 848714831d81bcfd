/**
 * Errors a containment step raises on purpose. Their names are what Step Functions matches:
 * the workflow never retries these (retrying cannot help), and catches them like any other
 * failure to report where the containment stopped. Everything else (throttling that outlasted
 * the SDK's own retries, 5xx, timeouts) is retried with jittered backoff.
 */
export const TERMINAL_ERRORS = [
  "Phoenix.InstanceGone",
  "Phoenix.Refused",
  "Phoenix.EvidenceFailed",
  "Phoenix.Timeout",
] as const;

export type TerminalErrorName = (typeof TERMINAL_ERRORS)[number];

export class ContainmentStepError extends Error {
  constructor(name: TerminalErrorName, message: string) {
    super(message);
    this.name = name;
  }
}

/** Lambda failures arrive as a JSON error document in Cause; show its message. */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return "no cause given";
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") return parsed.errorMessage;
  } catch {
    // Not JSON: the cause is the message.
  }
  return cause;
}
