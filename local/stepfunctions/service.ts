import { randomUUID } from "node:crypto";
import type { Clock } from "../core/clock.js";
import type { AslDefinition, Json } from "./asl.js";
import { SfnApiError } from "./errors.js";
import { detailsKey, ExecutionHistory } from "./history.js";
import {
  assertValidName,
  executionArn,
  executionNameOf,
  type Scope,
  stateMachineArn,
  stateMachineNameOf,
} from "./names.js";
import { page } from "./pagination.js";
import { type ExecutionStatus, type RunningExecution, type RunOutcome, startRun } from "./runner.js";
import type { LocalTask } from "./task-resolver.js";
import { UnmappedTasksError } from "./task-resolver.js";
import { parseDefinition } from "./validate.js";

/**
 * The Step Functions state model behind the local cloud's API: state machines, executions and
 * their histories, with AWS's semantics and error codes. Wire encoding is wire.ts's business;
 * timestamps here are Dates.
 */

type Request = Record<string, unknown>;
type Tag = { key: string; value: string };

interface StateMachineRecord {
  arn: string;
  name: string;
  definitionText: string;
  definition: AslDefinition;
  tasks: Map<string, LocalTask>;
  roleArn: string;
  type: "STANDARD" | "EXPRESS";
  status: "ACTIVE" | "DELETING";
  creationDate: Date;
  updateDate?: Date;
  revisionId: string;
  tags: Tag[];
  /** Newest last; ListExecutions reverses. */
  executions: ExecutionRecord[];
}

interface ExecutionRecord {
  arn: string;
  name: string;
  stateMachine: StateMachineRecord;
  /** The definition this execution runs, which UpdateStateMachine does not change. */
  definitionText: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  history: ExecutionHistory;
  running?: RunningExecution;
}

export interface ServiceDeps {
  scope: Scope;
  clock: Clock;
  /** A local handler for every Task of a definition; throws UnmappedTasksError otherwise. */
  resolveTasks(definition: AslDefinition): Promise<Map<string, LocalTask>>;
  log(message: string): void;
}

// AWS's limit on execution input.
const MAX_INPUT_BYTES = 256 * 1024;
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/.+$/;

function str(request: Request, key: string): string | undefined {
  const value = request[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new SfnApiError("ValidationException", `${key} must be a string`);
  return value;
}

function requiredStr(request: Request, key: string): string {
  const value = str(request, key);
  if (value === undefined || value === "")
    throw new SfnApiError("MissingRequiredParameter", `Missing required parameter: ${key}`);
  return value;
}

function tagsOf(value: unknown): Tag[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SfnApiError("ValidationException", "tags must be a list");
  return value.map((tag) => ({
    key: String((tag as Tag)?.key ?? ""),
    value: String((tag as Tag)?.value ?? ""),
  }));
}

export class StepFunctionsService {
  private readonly machines = new Map<string, StateMachineRecord>();
  private readonly executions = new Map<string, ExecutionRecord>();

  constructor(private readonly deps: ServiceDeps) {}

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  private machine(arn: unknown, parameter = "stateMachineArn"): StateMachineRecord {
    stateMachineNameOf(arn, parameter);
    const machine = this.machines.get(String(arn));
    if (!machine) throw new SfnApiError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  private execution(arn: unknown): ExecutionRecord {
    executionNameOf(arn);
    const execution = this.executions.get(String(arn));
    if (!execution) throw new SfnApiError("ExecutionDoesNotExist", `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  /** Validates a definition and maps every Task, failing as CreateStateMachine would. */
  private async compile(
    definitionText: string,
  ): Promise<{ definition: AslDefinition; tasks: Map<string, LocalTask> }> {
    const definition = parseDefinition(definitionText);
    try {
      return { definition, tasks: await this.deps.resolveTasks(definition) };
    } catch (error) {
      if (error instanceof UnmappedTasksError) {
        const problems = error.unmapped.map(
          (u) => `LOCAL_UNMAPPED_TASK: ${u.reason} (Task '${u.state}', Resource ${u.resource}) at /${u.path}`,
        );
        throw new SfnApiError(
          "InvalidDefinition",
          `Invalid State Machine Definition: '${problems.join(", ")}'`,
        );
      }
      throw error;
    }
  }

  async createStateMachine(request: Request) {
    const name = requiredStr(request, "name");
    assertValidName(name, "state machine");
    const definitionText = requiredStr(request, "definition");
    const roleArn = requiredStr(request, "roleArn");
    if (!ROLE_ARN.test(roleArn)) throw new SfnApiError("InvalidArn", `Invalid Arn: '${roleArn}'`);
    const type = str(request, "type") ?? "STANDARD";
    if (type !== "STANDARD" && type !== "EXPRESS") {
      throw new SfnApiError(
        "ValidationException",
        `Value '${type}' at 'type' failed to satisfy constraint: STANDARD or EXPRESS`,
      );
    }
    const arn = stateMachineArn(this.deps.scope, name);
    const existing = this.machines.get(arn);
    if (existing) {
      // Idempotent: the same request again returns the same machine; anything else is a conflict.
      if (
        existing.definitionText === definitionText &&
        existing.roleArn === roleArn &&
        existing.type === type
      ) {
        return { stateMachineArn: arn, creationDate: existing.creationDate };
      }
      throw new SfnApiError("StateMachineAlreadyExists", `State Machine Already Exists: '${arn}'`);
    }
    const { definition, tasks } = await this.compile(definitionText);
    const record: StateMachineRecord = {
      arn,
      name,
      definitionText,
      definition,
      tasks,
      roleArn,
      type,
      status: "ACTIVE",
      creationDate: this.now(),
      revisionId: randomUUID(),
      tags: tagsOf(request.tags),
      executions: [],
    };
    this.machines.set(arn, record);
    return { stateMachineArn: arn, creationDate: record.creationDate };
  }

  describeStateMachine(request: Request) {
    const machine = this.machine(request.stateMachineArn);
    return {
      stateMachineArn: machine.arn,
      name: machine.name,
      status: machine.status,
      definition: machine.definitionText,
      roleArn: machine.roleArn,
      type: machine.type,
      creationDate: machine.creationDate,
      revisionId: machine.revisionId,
      loggingConfiguration: { level: "OFF", includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }

  listStateMachines(request: Request) {
    const listed = [...this.machines.values()].filter((m) => m.status === "ACTIVE");
    const { items, nextToken } = page(listed, request, "ListStateMachines");
    return {
      stateMachines: items.map((m) => ({
        stateMachineArn: m.arn,
        name: m.name,
        type: m.type,
        creationDate: m.creationDate,
      })),
      nextToken,
    };
  }

  async updateStateMachine(request: Request) {
    const machine = this.machine(request.stateMachineArn);
    const definitionText = str(request, "definition");
    const roleArn = str(request, "roleArn");
    if (
      definitionText === undefined &&
      roleArn === undefined &&
      request.loggingConfiguration === undefined &&
      request.tracingConfiguration === undefined
    ) {
      throw new SfnApiError(
        "MissingRequiredParameter",
        "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
      );
    }
    if (roleArn !== undefined && !ROLE_ARN.test(roleArn))
      throw new SfnApiError("InvalidArn", `Invalid Arn: '${roleArn}'`);
    if (definitionText !== undefined) {
      const { definition, tasks } = await this.compile(definitionText);
      Object.assign(machine, { definitionText, definition, tasks });
    }
    if (roleArn !== undefined) machine.roleArn = roleArn;
    machine.updateDate = this.now();
    machine.revisionId = randomUUID();
    return { updateDate: machine.updateDate, revisionId: machine.revisionId };
  }

  deleteStateMachine(request: Request) {
    stateMachineNameOf(request.stateMachineArn);
    const machine = this.machines.get(String(request.stateMachineArn));
    // Deleting what is not there succeeds, as on AWS.
    if (!machine) return {};
    // Running executions finish; the machine is gone once they have (AWS's DELETING status).
    machine.status = "DELETING";
    this.removeIfDeleted(machine);
    return {};
  }

  private removeIfDeleted(machine: StateMachineRecord): void {
    if (machine.status !== "DELETING" || machine.executions.some((e) => e.status === "RUNNING")) return;
    this.machines.delete(machine.arn);
    for (const execution of machine.executions) this.executions.delete(execution.arn);
  }

  startExecution(request: Request) {
    const machine = this.machine(request.stateMachineArn);
    if (machine.status === "DELETING") {
      throw new SfnApiError("StateMachineDeleting", `State Machine is being deleted: '${machine.arn}'`);
    }
    const name = str(request, "name") ?? randomUUID();
    assertValidName(name, "execution");
    const input = str(request, "input") ?? "{}";
    const parsedInput = this.parseInput(input);
    const arn = executionArn(this.deps.scope, machine.name, name);
    const existing = this.executions.get(arn);
    if (existing) {
      // AWS: the same name and the same input while it runs is the same execution (idempotent
      // start); any other reuse of a name is refused.
      if (existing.status === "RUNNING" && existing.input === input) {
        return { executionArn: arn, startDate: existing.startDate };
      }
      throw new SfnApiError("ExecutionAlreadyExists", `Execution Already Exists: '${arn}'`);
    }
    const execution: ExecutionRecord = {
      arn,
      name,
      stateMachine: machine,
      definitionText: machine.definitionText,
      input,
      status: "RUNNING",
      startDate: this.now(),
      history: new ExecutionHistory(() => this.deps.clock.now()),
    };
    this.executions.set(arn, execution);
    machine.executions.push(execution);
    execution.running = startRun({
      execution: { executionArn: arn, stateMachineArn: machine.arn, name },
      stateMachineName: machine.name,
      roleArn: machine.roleArn,
      definition: machine.definition,
      tasks: machine.tasks,
      input: parsedInput,
      clock: this.deps.clock,
      region: this.deps.scope.region,
      history: execution.history,
    });
    execution.running.done
      .then((outcome) => this.finish(execution, outcome))
      .catch((error: unknown) =>
        this.deps.log(`cannot record the end of ${arn}: ${(error as Error).message}`),
      );
    return { executionArn: arn, startDate: execution.startDate };
  }

  private parseInput(input: string): Json {
    if (Buffer.byteLength(input, "utf8") > MAX_INPUT_BYTES) {
      throw new SfnApiError(
        "InvalidExecutionInput",
        `Invalid State Machine Execution Input: 'input exceeds ${MAX_INPUT_BYTES} bytes'`,
      );
    }
    try {
      return JSON.parse(input) as Json;
    } catch (error) {
      throw new SfnApiError(
        "InvalidExecutionInput",
        `Invalid State Machine Execution Input: '${(error as Error).message}'`,
      );
    }
  }

  private finish(execution: ExecutionRecord, outcome: RunOutcome): void {
    execution.running = undefined;
    if (execution.status === "RUNNING") {
      Object.assign(execution, {
        status: outcome.status,
        output: outcome.output,
        error: outcome.error,
        cause: outcome.cause,
      });
      execution.stopDate = this.now();
    }
    this.deps.log(
      `execution ${execution.arn} ${execution.status}${execution.error ? ` (${execution.error})` : ""}`,
    );
    this.removeIfDeleted(execution.stateMachine);
  }

  describeExecution(request: Request) {
    const e = this.execution(request.executionArn);
    return {
      executionArn: e.arn,
      stateMachineArn: e.stateMachine.arn,
      name: e.name,
      status: e.status,
      startDate: e.startDate,
      stopDate: e.stopDate,
      input: e.input,
      inputDetails: { included: true },
      output: e.output,
      outputDetails: e.output === undefined ? undefined : { included: true },
      error: e.error,
      cause: e.cause,
      redriveCount: 0,
      redriveStatus: "NOT_REDRIVABLE",
    };
  }

  describeStateMachineForExecution(request: Request) {
    const e = this.execution(request.executionArn);
    return {
      stateMachineArn: e.stateMachine.arn,
      name: e.stateMachine.name,
      definition: e.definitionText,
      roleArn: e.stateMachine.roleArn,
      updateDate: e.stateMachine.updateDate ?? e.stateMachine.creationDate,
      revisionId: e.stateMachine.revisionId,
      loggingConfiguration: { level: "OFF", includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }

  listExecutions(request: Request) {
    const machine = this.machine(request.stateMachineArn);
    const statusFilter = str(request, "statusFilter");
    const newestFirst = [...machine.executions]
      .reverse()
      .filter((e) => !statusFilter || e.status === statusFilter);
    const { items, nextToken } = page(
      newestFirst,
      request,
      `ListExecutions:${machine.arn}:${statusFilter ?? ""}`,
    );
    return {
      executions: items.map((e) => ({
        executionArn: e.arn,
        stateMachineArn: machine.arn,
        name: e.name,
        status: e.status,
        startDate: e.startDate,
        stopDate: e.stopDate,
      })),
      nextToken,
    };
  }

  stopExecution(request: Request) {
    const e = this.execution(request.executionArn);
    if (e.status === "RUNNING") {
      const error = str(request, "error");
      const cause = str(request, "cause");
      Object.assign(e, { status: "ABORTED", error, cause, stopDate: this.now() });
      e.running?.stop(error, cause);
    }
    return { stopDate: e.stopDate ?? this.now() };
  }

  getExecutionHistory(request: Request) {
    const e = this.execution(request.executionArn);
    const includeData = request.includeExecutionData !== false;
    const ordered = request.reverseOrder === true ? [...e.history.list()].reverse() : [...e.history.list()];
    const { items, nextToken } = page(
      ordered,
      request,
      `GetExecutionHistory:${e.arn}:${request.reverseOrder === true}`,
    );
    return {
      events: items.map((event) => {
        const entry: Record<string, unknown> = {
          timestamp: new Date(event.timestamp),
          type: event.type,
          id: event.id,
          previousEventId: event.previousEventId,
        };
        if (event.details)
          entry[detailsKey(event.type)] = includeData ? event.details : withoutData(event.details);
        return entry;
      }),
      nextToken,
    };
  }

  private taggable(resourceArn: unknown): StateMachineRecord {
    const machine = typeof resourceArn === "string" ? this.machines.get(resourceArn) : undefined;
    if (!machine) throw new SfnApiError("ResourceNotFound", `Resource not found: '${resourceArn}'`);
    return machine;
  }

  tagResource(request: Request) {
    const machine = this.taggable(request.resourceArn);
    for (const tag of tagsOf(request.tags)) {
      machine.tags = [...machine.tags.filter((t) => t.key !== tag.key), tag];
    }
    return {};
  }

  untagResource(request: Request) {
    const machine = this.taggable(request.resourceArn);
    const keys = new Set(Array.isArray(request.tagKeys) ? request.tagKeys.map(String) : []);
    machine.tags = machine.tags.filter((t) => !keys.has(t.key));
    return {};
  }

  listTagsForResource(request: Request) {
    return { tags: this.taggable(request.resourceArn).tags };
  }

  health(): Record<string, unknown> {
    const byStatus: Record<string, number> = {};
    for (const e of this.executions.values()) byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
    return { stateMachines: [...this.machines.values()].map((m) => m.name), executions: byStatus };
  }

  /** Stops every running execution (the local cloud is shutting down) and waits for them. */
  async stopAll(): Promise<void> {
    const running = [...this.executions.values()].filter((e) => e.running);
    for (const e of running)
      this.stopExecution({
        executionArn: e.arn,
        error: "LocalCloud.Shutdown",
        cause: "the local cloud stopped",
      });
    await Promise.all(running.map((e) => e.running?.done));
  }
}

/** includeExecutionData=false: the events without their input and output payloads. */
function withoutData(details: Record<string, unknown>): Record<string, unknown> {
  const { input: _input, output: _output, parameters: _parameters, ...rest } = details;
  return rest;
}
