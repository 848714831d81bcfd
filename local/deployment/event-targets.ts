import { randomUUID } from "node:crypto";
import { type EventBridgeClient, PutTargetsCommand, RemoveTargetsCommand } from "@aws-sdk/client-eventbridge";
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { ratePeriodMs } from "../../src/policy/schedule.js";
import type { Clock } from "../core/clock.js";
import { eventFromMessageBody } from "../events/delivery.js";
import { type LambdaRuntime, LambdaServiceError } from "./lambda-runtime.js";
import {
  arnService,
  effectiveRetryPolicy,
  functionNameOf,
  queueNameOf,
  type RuleSpec,
  type TargetSpec,
} from "./model.js";
import { NoSuchQueueError, type QueueDirectory } from "./queues.js";
import { resourcePolicyAllows } from "./resource-policy.js";

/**
 * EventBridge's targets for the deployment's rules. moto matches the patterns (it keeps the
 * rules, so `aws events list-rules` and `describe-rule` answer from it) but delivers only to SQS
 * and would fail a PutEvents that matched a Lambda target; so in moto each deployed rule has one
 * target, a delivery queue of the local cloud's (hidden from ListQueues), and this module keeps
 * the rule's real targets (served by ListTargetsByRule/PutTargets/RemoveTargets) and delivers to
 * them as EventBridge does:
 * - an SQS target: SendMessage with the event (or the target's Input, InputPath, InputTransformer)
 *   as body, if the queue's policy lets events.amazonaws.com send from the rule;
 * - a Lambda target: an asynchronous invocation, if the function's resource policy lets
 *   events.amazonaws.com invoke it from the rule; Lambda then retries a function error itself
 *   (see lambda-runtime.ts);
 * - a delivery that fails is retried with exponential backoff and jitter (simulated time) up to
 *   the target's retry policy (185 attempts and 24 hours unless it says otherwise); one that fails
 *   for good, or cannot succeed (the target is gone, permission is missing: EventBridge does not
 *   retry those), goes to the target's dead-letter queue with EventBridge's message attributes
 *   (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS),
 *   if its policy lets EventBridge send; else it is dropped, as in AWS.
 * A DISABLED rule delivers nothing (moto would).
 */

export const DELIVERY_QUEUE = "phoenix-local-eventbridge-deliveries";
export const DELIVERY_TARGET_ID = "phoenix-local-delivery";

export interface TargetDelivery {
  rule: string;
  target: string;
  /** The target's ARN: a queue or a function. */
  arn: string;
  eventId?: string;
  attempt: number;
  outcome: "delivered" | "failed";
  /** Set when the event went to the target's DLQ (its ARN), or "dropped" (no DLQ, or it refused). */
  deadLettered?: string;
  error?: string;
  latencyMs: number;
  event?: unknown;
}

export interface TargetStats {
  delivered: number;
  failed: number;
  deadLettered: number;
}

export interface EventTargetsOptions {
  rules: RuleSpec[];
  targets: TargetSpec[];
  scope: { region: string; accountId: string };
  sqs: SQSClient;
  eventbridge: EventBridgeClient;
  queues: QueueDirectory;
  lambda: LambdaRuntime;
  clock: Clock;
  onDelivery(delivery: TargetDelivery): void;
  log(message: string): void;
}

class DeliveryFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "DeliveryFailure";
  }
}

interface RuleState {
  rule: RuleSpec;
  targets: TargetSpec[];
  /** Whether moto has the delivery target on this rule. */
  tapped: boolean;
}

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 300_000;

/** EventBridge's time format (no milliseconds). */
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** `$.a.b` paths, as InputPath and InputTransformer use them (`$` alone is the event). */
export function jsonPath(value: unknown, path: string): unknown {
  if (path === "$") return value;
  if (!path.startsWith("$.")) throw new Error(`unsupported JSONPath ${path}`);
  let current: unknown = value;
  for (const key of path.slice(2).split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** What a target receives for an event: the event, or what its Input settings make of it. */
export function targetInput(
  target: Pick<TargetSpec, "input" | "inputPath" | "inputTransformer">,
  event: unknown,
): string {
  if (target.input !== undefined) return target.input;
  if (target.inputPath !== undefined) return JSON.stringify(jsonPath(event, target.inputPath) ?? null);
  if (target.inputTransformer) {
    let text = target.inputTransformer.inputTemplate;
    for (const [name, path] of Object.entries(target.inputTransformer.inputPathsMap)) {
      const value = jsonPath(event, path);
      const rendered =
        value === undefined ? "null" : typeof value === "string" ? value : JSON.stringify(value);
      text = text.split(`<${name}>`).join(rendered);
    }
    text = text.split("<aws.events.event.json>").join(JSON.stringify(event));
    return text;
  }
  return JSON.stringify(event);
}

export class EventTargets {
  readonly stats = new Map<string, TargetStats>();
  private readonly rules = new Map<string, RuleState>();
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private readonly pending = new Set<Promise<void>>();
  private readonly schedules = new Map<RuleState, Promise<void>>();
  private delivery?: { url: string; arn: string };

  constructor(private readonly options: EventTargetsOptions) {
    for (const rule of options.rules) {
      this.rules.set(this.key(rule.bus, rule.name), {
        rule: { ...rule },
        targets: options.targets.filter((t) => t.rule === rule.name && t.bus === rule.bus),
        tapped: false,
      });
    }
  }

  private key(bus: string | undefined, name: string): string {
    return `${bus ?? "default"}/${name}`;
  }

  /** A deployed rule (on its bus), or undefined. */
  ruleOf(name: string, bus?: string): RuleState | undefined {
    return this.rules.get(this.key(bus, name));
  }

  get deliveryQueueUrl(): string | undefined {
    return this.delivery?.url;
  }

  /** Installs the delivery queue and, in moto, each rule's delivery target. */
  async install(delivery: { url: string; arn: string }): Promise<void> {
    this.delivery = delivery;
    for (const state of this.rules.values()) if (state.targets.length > 0) await this.tap(state);
  }

  private async tap(state: RuleState): Promise<void> {
    if (!this.delivery || state.tapped) return;
    // A schedule rule matches no event in AWS; moto would send it every event (it has no
    // pattern to test). It fires from fireOnSchedule alone.
    if (state.rule.pattern === undefined) return;
    const template = `{"rule": ${JSON.stringify(state.rule.name)}, "bus": ${JSON.stringify(state.rule.bus)}, "event": <aws.events.event.json>}`;
    const result = await this.options.eventbridge.send(
      new PutTargetsCommand({
        Rule: state.rule.name,
        ...(state.rule.bus !== "default" ? { EventBusName: state.rule.bus } : {}),
        // moto compiles the paths map even when unused (and falls back to its default input when
        // it is empty, eight JSONPaths per event): one path keeps it cheap.
        Targets: [
          {
            Id: DELIVERY_TARGET_ID,
            Arn: this.delivery.arn,
            InputTransformer: { InputPathsMap: { id: "$.id" }, InputTemplate: template },
          },
        ],
      }),
    );
    if (result.FailedEntryCount)
      throw new Error(
        `cannot attach rule ${state.rule.name} to the delivery queue: ${JSON.stringify(result.FailedEntries)}`,
      );
    state.tapped = true;
  }

  private async untap(state: RuleState): Promise<void> {
    if (!state.tapped) return;
    await this.options.eventbridge.send(
      new RemoveTargetsCommand({
        Rule: state.rule.name,
        ...(state.rule.bus !== "default" ? { EventBusName: state.rule.bus } : {}),
        Ids: [DELIVERY_TARGET_ID],
      }),
    );
    state.tapped = false;
  }

  /** PutTargets on a deployed rule: the targets are kept here, the rule stays tapped in moto. */
  async putTargets(name: string, bus: string | undefined, targets: TargetSpec[]): Promise<void> {
    const state = this.ruleOf(name, bus);
    if (!state) throw new Error(`rule ${name} is not deployed`);
    for (const target of targets) {
      const index = state.targets.findIndex((t) => t.id === target.id);
      if (index >= 0) state.targets[index] = target;
      else state.targets.push(target);
    }
    await this.tap(state);
  }

  async removeTargets(name: string, bus: string | undefined, ids: string[]): Promise<void> {
    const state = this.ruleOf(name, bus);
    if (!state) throw new Error(`rule ${name} is not deployed`);
    state.targets = state.targets.filter((t) => !ids.includes(t.id));
    if (state.targets.length === 0) await this.untap(state);
  }

  /** The rule's state changed through the API (EnableRule, DisableRule, PutRule). */
  setState(name: string, bus: string | undefined, state: "ENABLED" | "DISABLED"): void {
    const found = this.ruleOf(name, bus);
    if (found) found.rule.state = state;
  }

  forget(name: string, bus: string | undefined): void {
    this.rules.delete(this.key(bus, name));
  }

  start(): void {
    this.loop ??= this.run();
    for (const state of this.rules.values()) {
      if (!state.rule.schedule || this.schedules.has(state)) continue;
      const task = this.fireOnSchedule(state).catch((error: unknown) => {
        if (!this.abort.signal.aborted)
          this.options.log(`events: schedule of ${state.rule.name} stopped: ${(error as Error).message}`);
      });
      this.schedules.set(state, task);
    }
  }

  /**
   * A scheduled rule fires on its own in AWS; moto keeps its ScheduleExpression and never fires
   * it. Here each rate() rule sends EventBridge's Scheduled Event to its targets once a period
   * on the simulated clock, the first one period after the deployment (as a new rule in AWS).
   */
  private async fireOnSchedule(state: RuleState): Promise<void> {
    const period = ratePeriodMs(state.rule.schedule!);
    if (!period.ok) {
      this.options.log(`events: rule ${state.rule.name} is not scheduled here: ${period.error}`);
      return;
    }
    const { clock, scope } = this.options;
    for (;;) {
      await clock.sleep(period.ms, this.abort.signal);
      if (this.abort.signal.aborted) return;
      const current = this.ruleOf(state.rule.name, state.rule.bus);
      if (!current || current.rule.state === "DISABLED") continue;
      const event: Record<string, unknown> = {
        version: "0",
        id: randomUUID(),
        "detail-type": "Scheduled Event",
        source: "aws.events",
        account: scope.accountId,
        time: isoSeconds(clock.now()),
        region: scope.region,
        resources: [current.rule.arn],
        detail: {},
      };
      this.deliverToTargets(current, event);
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.race([
      Promise.allSettled([this.loop, ...this.schedules.values(), ...this.pending]),
      new Promise((r) => setTimeout(r, 5_000).unref()),
    ]);
  }

  private async run(): Promise<void> {
    const { sqs } = this.options;
    while (!this.abort.signal.aborted && this.delivery) {
      let messages: Message[];
      try {
        messages =
          (
            await sqs.send(
              new ReceiveMessageCommand({
                QueueUrl: this.delivery.url,
                MaxNumberOfMessages: 10,
                WaitTimeSeconds: 5,
              }),
              { abortSignal: this.abort.signal },
            )
          ).Messages ?? [];
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.options.log(`events: receiving matched events failed: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (messages.length === 0) continue;
      for (const message of messages) this.dispatch(message.Body ?? "");
      // Handed over: each delivery keeps its own retries from here (in memory, as the cloud's state).
      await sqs
        .send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.delivery.url,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
          }),
        )
        .catch((error: unknown) =>
          this.options.log(`events: deleting matched events failed: ${(error as Error).message}`),
        );
    }
  }

  private dispatch(body: string): void {
    let parsed: { rule?: unknown; bus?: unknown; event?: unknown };
    let event: Record<string, unknown>;
    try {
      parsed = JSON.parse(body) as typeof parsed;
      const raw = { ...(parsed.event as Record<string, unknown>) };
      // moto keeps `time` as epoch seconds inside the wrapper, and adds `ingestion-time`.
      if (typeof raw.time === "number") raw.time = isoSeconds(raw.time * 1000);
      event = eventFromMessageBody(JSON.stringify(raw), this.options.scope.accountId) as unknown as Record<
        string,
        unknown
      >;
    } catch (error) {
      this.options.log(`events: a matched event could not be read: ${(error as Error).message}`);
      return;
    }
    const state = this.ruleOf(String(parsed.rule), typeof parsed.bus === "string" ? parsed.bus : undefined);
    if (!state || state.rule.state === "DISABLED" || state.rule.pattern === undefined) return;
    this.deliverToTargets(state, event);
  }

  /** Hands the event to each of the rule's targets; each delivery keeps its own retries. */
  private deliverToTargets(state: RuleState, event: Record<string, unknown>): void {
    for (const target of state.targets) {
      const task = this.deliver(state.rule, target, event).finally(() => this.pending.delete(task));
      this.pending.add(task);
    }
  }

  private statsOf(target: TargetSpec): TargetStats {
    const key = `${target.rule}/${target.id}`;
    let stats = this.stats.get(key);
    if (!stats) {
      stats = { delivered: 0, failed: 0, deadLettered: 0 };
      this.stats.set(key, stats);
    }
    return stats;
  }

  private async deliver(rule: RuleSpec, target: TargetSpec, event: Record<string, unknown>): Promise<void> {
    const { clock } = this.options;
    const policy = effectiveRetryPolicy(target);
    const firstAt = clock.now();
    const firstReal = Date.now();
    const stats = this.statsOf(target);
    let delay = FIRST_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(rule, target, event);
        stats.delivered++;
        this.report(rule, target, event, attempt, "delivered", firstReal);
        return;
      } catch (thrown) {
        const failure =
          thrown instanceof DeliveryFailure
            ? thrown
            : new DeliveryFailure("SDK_CLIENT_ERROR", (thrown as Error).message, true);
        stats.failed++;
        const retriesLeft = attempt <= policy.maximumRetryAttempts;
        const young = clock.now() - firstAt < policy.maximumEventAgeInSeconds * 1000;
        const reason = `${failure.code}: ${failure.message}`;
        if (failure.retryable && retriesLeft && young && !this.abort.signal.aborted) {
          this.report(rule, target, event, attempt, "failed", firstReal, reason);
          try {
            // Exponential backoff with (full) jitter, in simulated time.
            await clock.sleep(delay * (0.5 + Math.random() / 2), this.abort.signal);
          } catch {
            return;
          }
          delay = Math.min(MAX_RETRY_MS, delay * 2);
          continue;
        }
        const condition = !failure.retryable
          ? undefined
          : retriesLeft
            ? "MaximumEventAgeExhausted"
            : "MaximumRetryAttemptsExhausted";
        const where = await this.deadLetter(rule, target, event, failure, attempt - 1, condition);
        if (where !== "dropped") stats.deadLettered++;
        this.report(rule, target, event, attempt, "failed", firstReal, reason, where);
        return;
      }
    }
  }

  private report(
    rule: RuleSpec,
    target: TargetSpec,
    event: Record<string, unknown>,
    attempt: number,
    outcome: "delivered" | "failed",
    firstReal: number,
    error?: string,
    deadLettered?: string,
  ): void {
    if (outcome === "failed")
      this.options.log(
        `events: ${rule.name} → ${target.arn} failed on attempt ${attempt}${deadLettered ? ` (to ${deadLettered})` : ""}: ${error}`,
      );
    this.options.onDelivery({
      rule: rule.name,
      target: target.id,
      arn: target.arn,
      ...(typeof event.id === "string" ? { eventId: event.id } : {}),
      attempt,
      outcome,
      ...(deadLettered ? { deadLettered } : {}),
      ...(error ? { error } : {}),
      latencyMs: Date.now() - firstReal,
      event,
    });
  }

  private async send(rule: RuleSpec, target: TargetSpec, event: Record<string, unknown>): Promise<void> {
    const { scope } = this.options;
    const input = targetInput(target, event);
    const service = arnService(target.arn);
    if (service === "sqs") {
      const queue = await this.queue(target.arn);
      const allowed = resourcePolicyAllows(queue.attributes.Policy, {
        principal: "events.amazonaws.com",
        action: "sqs:SendMessage",
        resource: queue.arn,
        sourceArn: rule.arn,
        sourceAccount: scope.accountId,
      });
      if (!allowed.allowed)
        throw new DeliveryFailure("NO_PERMISSIONS", `${queue.name}: ${allowed.reason}`, false);
      try {
        await this.options.queues.send(target.arn, input, {}, target.messageGroupId);
      } catch (error) {
        if (error instanceof NoSuchQueueError)
          throw new DeliveryFailure("RESOURCE_NOT_FOUND", error.message, false);
        throw error;
      }
      return;
    }
    if (service === "lambda") {
      const name = functionNameOf(target.arn);
      const fn = this.options.lambda.get(name);
      if (!fn) throw new DeliveryFailure("RESOURCE_NOT_FOUND", `Function not found: ${target.arn}`, false);
      const allowed = resourcePolicyAllows(this.options.lambda.policyOf(name), {
        principal: "events.amazonaws.com",
        action: "lambda:InvokeFunction",
        resource: fn.spec.arn,
        sourceArn: rule.arn,
        sourceAccount: scope.accountId,
      });
      if (!allowed.allowed) throw new DeliveryFailure("NO_PERMISSIONS", `${name}: ${allowed.reason}`, false);
      let payload: unknown;
      try {
        payload = JSON.parse(input);
      } catch {
        payload = input;
      }
      try {
        this.options.lambda.invokeAsync(name, payload, `rule:${rule.name}`);
      } catch (error) {
        if (error instanceof LambdaServiceError && error.code === "ResourceNotFoundException")
          throw new DeliveryFailure("RESOURCE_NOT_FOUND", error.message, false);
        throw new DeliveryFailure("THROTTLING", (error as Error).message, true);
      }
      return;
    }
    throw new DeliveryFailure("SDK_CLIENT_ERROR", `the local cloud does not deliver to ${target.arn}`, false);
  }

  private async queue(arn: string) {
    try {
      return await this.options.queues.info(arn);
    } catch (error) {
      if (error instanceof NoSuchQueueError)
        throw new DeliveryFailure("RESOURCE_NOT_FOUND", `queue ${queueNameOf(arn)} does not exist`, false);
      throw error;
    }
  }

  /** To the target's DLQ, as EventBridge writes it; returns where it went, or "dropped". */
  private async deadLetter(
    rule: RuleSpec,
    target: TargetSpec,
    event: Record<string, unknown>,
    failure: DeliveryFailure,
    retries: number,
    condition: string | undefined,
  ): Promise<string> {
    if (!target.deadLetterArn) return "dropped";
    try {
      const queue = await this.options.queues.info(target.deadLetterArn);
      const allowed = resourcePolicyAllows(queue.attributes.Policy, {
        principal: "events.amazonaws.com",
        action: "sqs:SendMessage",
        resource: queue.arn,
        sourceArn: rule.arn,
        sourceAccount: this.options.scope.accountId,
      });
      if (!allowed.allowed) {
        this.options.log(
          `events: the DLQ ${queue.name} of ${rule.name} refuses EventBridge: ${allowed.reason}`,
        );
        return "dropped";
      }
      await this.options.queues.send(target.deadLetterArn, JSON.stringify(event), {
        RULE_ARN: rule.arn,
        TARGET_ARN: target.arn,
        ERROR_CODE: failure.code,
        ERROR_MESSAGE: failure.message.slice(0, 1000),
        ...(condition ? { EXHAUSTED_RETRY_CONDITION: condition } : {}),
        RETRY_ATTEMPTS: String(retries),
      });
      return queue.arn;
    } catch (error) {
      this.options.log(
        `events: the DLQ of ${rule.name} could not take the event: ${(error as Error).message}`,
      );
      return "dropped";
    }
  }
}
