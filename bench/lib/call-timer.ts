import type { LocalCloudPlugin } from "../../local/core/context.js";
import type { AwsRequest } from "../../local/gateway/request.js";

/** One AWS call as the gateway saw it: when it arrived and when it was answered (real ms). */
export interface TimedCall {
  service: string;
  action: string;
  startMs: number;
  endMs: number;
  /** Query parameters or JSON body, to tell which resource a call touched. */
  params: Record<string, string>;
  json: Record<string, unknown>;
}

/**
 * Times every successful call the gateway serves. The gateway asks each handler `handles()`
 * after the injected latency, and tells observers after the answer; the same request object
 * travels through both, so arrival = first sight − injected latency.
 */
export class CallTimer {
  readonly calls: TimedCall[] = [];
  private readonly seen = new WeakMap<AwsRequest, number>();

  constructor(private readonly injectedLatencyMs: () => number) {}

  plugin(): LocalCloudPlugin {
    return () => ({
      name: "call-timer",
      handlers: [
        {
          name: "call-timer",
          handles: (request: AwsRequest) => {
            this.seen.set(request, performance.now() - this.injectedLatencyMs());
            return false;
          },
          handle: async () => {
            throw new Error("call-timer never serves a call");
          },
        },
      ],
      observers: [
        (request: AwsRequest) => {
          const endMs = performance.now();
          this.calls.push({
            service: request.service,
            action: request.action,
            startMs: this.seen.get(request) ?? endMs,
            endMs,
            params: Object.fromEntries(request.params),
            json: request.json,
          });
        },
      ],
    });
  }

  between(fromMs: number, toMs: number): TimedCall[] {
    return this.calls.filter((c) => c.startMs >= fromMs && c.endMs <= toMs);
  }
}

/**
 * The longest chain of calls each of which started only after the previous one ended: the
 * number of round trips a path cannot avoid, whatever the latency. Calls made in parallel
 * count once.
 */
export function sequentialDepth(calls: readonly TimedCall[]): number {
  const byEnd = [...calls].sort((a, b) => a.endMs - b.endMs);
  const depth: number[] = [];
  byEnd.forEach((call, i) => {
    let before = 0;
    for (let j = 0; j < i; j++) {
      // 1 ms of slack: timestamps of back-to-back calls on one event-loop tick can touch.
      if (byEnd[j]!.endMs <= call.startMs + 1) before = Math.max(before, depth[j]!);
    }
    depth.push(before + 1);
  });
  return Math.max(0, ...depth);
}
