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
