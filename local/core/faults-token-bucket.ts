import type { AwsRequest } from "../gateway/request.js";
import { awsError } from "../gateway/response.js";
import type { LocalCloudContext, LocalCloudPlugin } from "./context.js";

/**
 * A token bucket in front of one service, like the ones AWS meters API calls with: each call
 * takes a token; tokens come back at `refillPerSecond` up to `capacity`; a call that finds the
 * bucket empty is answered with the service's throttling error and never reaches the service.
 * Refill follows the simulated clock by default (at speed N, N times faster in real time: as many
 * calls per simulated second as AWS allows per second); `refillClock: "real"` refills in real
 * time instead, a harsher bucket for stress runs, since the local cloud compresses waits but
 * not the calls themselves.
 */
export interface TokenBucketOptions {
  /** Service signing name, e.g. `autoscaling` (Auto Scaling shares one bucket per account and region). */
  service: string;
  capacity: number;
  refillPerSecond: number;
  refillClock?: "simulated" | "real";
}

/** Calls admitted and refused so far; pass one in to read it from outside. */
export interface TokenBucketStats {
  throttled: number;
  admitted: number;
}

export function tokenBucketPlugin(
  options: TokenBucketOptions,
  stats: TokenBucketStats = { throttled: 0, admitted: 0 },
): LocalCloudPlugin {
  return (context: LocalCloudContext) => {
    let tokens = options.capacity;
    const now = () => (options.refillClock === "real" ? Date.now() : context.clock.now());
    let last = now();
    const take = (): boolean => {
      const at = now();
      tokens = Math.min(options.capacity, tokens + ((at - last) / 1000) * options.refillPerSecond);
      last = at;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    };
    return {
      name: `token-bucket:${options.service}`,
      handlers: [
        {
          name: `token-bucket:${options.service}`,
          // Asked once per call, before the service's own handler: an empty bucket answers it.
          handles: (request: AwsRequest) => {
            if (request.service !== options.service) return false;
            if (take()) {
              stats.admitted++;
              return false;
            }
            stats.throttled++;
            return true;
          },
          handle: async (request: AwsRequest) =>
            awsError(request.protocol, request.service, 400, "Throttling", "Rate exceeded"),
        },
      ],
      health: () => ({ ...stats, tokens: Math.floor(tokens) }),
    };
  };
}
