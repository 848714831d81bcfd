import type { AwsRequest } from "./request.js";
import { type AwsResponse, awsError } from "./response.js";

/**
 * Fault injection for the local cloud: throttling with each service's real error code, 5xx, and
 * added latency, per service and action, reproducible from a seed.
 */
export interface FaultRule {
  /** Service signing name (`autoscaling`, `ec2`, `states`, …) or `*`. */
  service: string;
  /** API action (`StartInstanceRefresh`) or `*` (default). */
  action?: string;
  /** Share of calls answered with the service's throttling error (0–1). */
  throttleRate?: number;
  /** Share of calls answered with a 5xx (0–1). */
  errorRate?: number;
  /** Real milliseconds added to every matching call. */
  latencyMs?: number;
  /** Up to this many extra real milliseconds, drawn per call. */
  jitterMs?: number;
}

export interface FaultPlan {
  seed: number;
  rules: FaultRule[];
}

export interface FaultDecision {
  delayMs: number;
  error?: AwsResponse;
  kind?: "throttle" | "5xx";
}

const THROTTLE: Record<string, { status: number; code: string; message: string }> = {
  autoscaling: { status: 400, code: "Throttling", message: "Rate exceeded" },
  ec2: { status: 503, code: "RequestLimitExceeded", message: "Request limit exceeded." },
  dynamodb: {
    status: 400,
    code: "ThrottlingException",
    message: "Rate of requests exceeds the allowed throughput.",
  },
  iam: { status: 400, code: "Throttling", message: "Rate exceeded" },
  sns: { status: 400, code: "Throttling", message: "Rate exceeded" },
  elasticloadbalancing: { status: 400, code: "Throttling", message: "Rate exceeded" },
};
const DEFAULT_THROTTLE = { status: 400, code: "ThrottlingException", message: "Rate exceeded" };

const SERVER_ERROR: Record<string, { status: number; code: string; message: string }> = {
  ec2: { status: 500, code: "InternalError", message: "An internal error has occurred" },
  autoscaling: { status: 500, code: "InternalFailure", message: "An internal error occurred." },
};
const DEFAULT_SERVER_ERROR = { status: 500, code: "InternalFailure", message: "An internal error occurred." };

/** mulberry32: tiny, fast and good enough to make fault sequences reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function validateFaultPlan(input: unknown): FaultPlan {
  const fail = (what: string): never => {
    throw new Error(`invalid fault plan: ${what}`);
  };
  if (input === null || typeof input !== "object") fail("expected an object with seed and rules");
  const { seed = 1, rules = [] } = input as { seed?: unknown; rules?: unknown };
  if (typeof seed !== "number" || !Number.isInteger(seed)) fail("seed must be an integer");
  if (!Array.isArray(rules)) fail("rules must be an array");
  (rules as unknown[]).forEach((rule, i) => {
    if (rule === null || typeof rule !== "object") fail(`rules[${i}] must be an object`);
    const r = rule as Record<string, unknown>;
    if (typeof r.service !== "string" || r.service === "")
      fail(`rules[${i}].service must name a service or '*'`);
    if (r.action !== undefined && typeof r.action !== "string") fail(`rules[${i}].action must be a string`);
    for (const rate of ["throttleRate", "errorRate"] as const) {
      const v = r[rate];
      if (v !== undefined && (typeof v !== "number" || v < 0 || v > 1))
        fail(`rules[${i}].${rate} must be 0..1`);
    }
    for (const ms of ["latencyMs", "jitterMs"] as const) {
      const v = r[ms];
      if (v !== undefined && (typeof v !== "number" || v < 0)) fail(`rules[${i}].${ms} must be ≥ 0`);
    }
  });
  return { seed: seed as number, rules: rules as FaultRule[] };
}

export class FaultInjector {
  private plan: FaultPlan = { seed: 1, rules: [] };
  private random = seededRandom(1);
  readonly injected = { throttle: 0, serverError: 0, delayed: 0 };

  configure(plan: FaultPlan): void {
    this.plan = validateFaultPlan(plan);
    this.random = seededRandom(this.plan.seed);
  }

  current(): FaultPlan {
    return this.plan;
  }

  decide(request: Pick<AwsRequest, "service" | "action" | "protocol">): FaultDecision {
    const rule = this.plan.rules.find(
      (r) =>
        (r.service === "*" || r.service === request.service) &&
        (r.action === undefined || r.action === "*" || r.action === request.action),
    );
    if (!rule) return { delayMs: 0 };
    const delayMs = (rule.latencyMs ?? 0) + (rule.jitterMs ? this.random() * rule.jitterMs : 0);
    if (delayMs > 0) this.injected.delayed++;
    const roll = this.random();
    const throttleRate = rule.throttleRate ?? 0;
    if (roll < throttleRate) {
      this.injected.throttle++;
      const t = THROTTLE[request.service] ?? DEFAULT_THROTTLE;
      return {
        delayMs,
        kind: "throttle",
        error: awsError(request.protocol, request.service, t.status, t.code, t.message),
      };
    }
    if (roll < throttleRate + (rule.errorRate ?? 0)) {
      this.injected.serverError++;
      const e = SERVER_ERROR[request.service] ?? DEFAULT_SERVER_ERROR;
      return {
        delayMs,
        kind: "5xx",
        error: awsError(request.protocol, request.service, e.status, e.code, e.message),
      };
    }
    return { delayMs };
  }
}
