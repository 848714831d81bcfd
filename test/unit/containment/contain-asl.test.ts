import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import aslValidator from "asl-validator";
import { StateMachine } from "aws-local-stepfunctions";
import { describe, expect, it } from "vitest";
import {
  factoryExportOf,
  functionsOf,
  PHOENIX_FUNCTIONS,
  placeholderOf,
  placeholdersIn,
  renderStateMachine,
} from "../../../src/catalog.js";
import { TERMINAL_ERRORS } from "../../../src/containment/core/errors.js";
import type { AdmitResult, ContainState, StepName } from "../../../src/containment/core/types.js";
import { failedAt } from "../../../src/containment/workflow/report-failure.js";
import { containState, containTemplate } from "../../support/containment.js";

type Json = Record<string, unknown>;
type TaskState = {
  Type: string;
  Resource?: string;
  Parameters?: Json;
  OutputPath?: string;
  Retry?: {
    ErrorEquals: string[];
    MaxAttempts?: number;
    BackoffRate?: number;
    MaxDelaySeconds?: number;
    JitterStrategy?: string;
    IntervalSeconds?: number;
  }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
};

const template = containTemplate();
const renderContainDefinition = (text: string, arnOf?: (name: string) => string) =>
  renderStateMachine("contain", arnOf, text);
/** The contain workflow's functions, by placeholder (FnContainIsolate → contain-isolate). */
const CONTAIN_FUNCTIONS = Object.fromEntries(
  PHOENIX_FUNCTIONS.filter((name) => name.startsWith("contain-")).map((name) => [
    placeholderOf(name),
    { name, entry: `functions/${name}.ts` },
  ]),
);
const definition = JSON.parse(renderContainDefinition(template)) as {
  StartAt: string;
  States: Record<string, TaskState>;
};
const tasks = Object.entries(definition.States).filter(([, state]) => state.Type === "Task");
const placeholder = (name: string) => `$\{${name}}`;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

describe("the contain state machine definition", () => {
  it("is valid ASL, as a template and rendered", () => {
    for (const text of [template, renderContainDefinition(template)]) {
      const result = aslValidator(JSON.parse(text), { checkArn: true, checkPaths: true });
      expect(result.errorsText("\n")).toBe("");
      expect(result.isValid).toBe(true);
    }
  });

  it("invokes one catalogued function per Task through lambda:invoke, each placeholder replaced", () => {
    expect(placeholdersIn(template).sort()).toEqual(Object.keys(CONTAIN_FUNCTIONS).sort());
    expect([...functionsOf("contain")].sort()).toEqual(
      Object.values(CONTAIN_FUNCTIONS)
        .map((f) => f.name)
        .sort(),
    );
    const names = Object.values(CONTAIN_FUNCTIONS).map((f) => f.name);
    for (const [name, state] of tasks) {
      expect(state.Resource, name).toBe("arn:aws:states:::lambda:invoke");
      expect(names, name).toContain(state.Parameters?.["FunctionName"]);
      if (name === "Admit") {
        // Admission needs the execution's own name, which only the context object has.
        expect(state.Parameters?.["Payload"], name).toEqual({
          "containment.$": "$.containment",
          results: {},
          "execution.$": "$$.Execution.Name",
        });
      } else {
        expect(state.Parameters?.["Payload.$"], name).toBe("$");
      }
      expect(state.OutputPath, name).toBe("$.Payload");
    }
    // A placeholder the catalog does not know is refused by name.
    const unknown = template.replace(placeholder("FnContainHarden"), placeholder("FnNope"));
    expect(() => renderContainDefinition(unknown)).toThrow(/FnNope/);
    expect(renderContainDefinition(template, (name) => `phoenix-prod-${name}`)).toContain(
      '"phoenix-prod-contain-isolate"',
    );
  });

  it("has an entry point for every function, exporting a factory and a handler", async () => {
    for (const [placeholder, fn] of Object.entries(CONTAIN_FUNCTIONS)) {
      expect(existsSync(path.join(repoRoot, fn.entry)), fn.entry).toBe(true);
      const module = (await import(path.join(repoRoot, fn.entry))) as Record<string, unknown>;
      expect(typeof module["handler"], fn.entry).toBe("function");
      expect(typeof module[factoryExportOf(fn.name as (typeof PHOENIX_FUNCTIONS)[number])], fn.entry).toBe(
        "function",
      );
      expect(placeholder).toBe(placeholderOf(fn.name as (typeof PHOENIX_FUNCTIONS)[number]));
    }
  });

  it("retries every Task with jittered backoff, never the terminal errors, and catches everything into the failure report", () => {
    for (const [name, state] of tasks) {
      if (name === "TraceImage") {
        // Never holds the containment back: retried, then whatever failed is kept aside and the
        // evidence steps go on.
        expect(state.Retry?.[0]?.ErrorEquals).toEqual(["States.ALL"]);
        expect(state.Retry?.[0]?.JitterStrategy).toBe("FULL");
        expect(state.Catch).toEqual([
          { ErrorEquals: ["States.ALL"], ResultPath: "$.traceError", Next: "CollectEvidence" },
        ]);
        continue;
      }
      const [terminal, transient] = state.Retry ?? [];
      expect(terminal?.ErrorEquals.sort(), name).toEqual([...TERMINAL_ERRORS].sort());
      expect(terminal?.MaxAttempts, name).toBe(0);
      expect(transient?.ErrorEquals, name).toEqual(["States.ALL"]);
      expect(transient?.JitterStrategy, name).toBe("FULL");
      expect(transient?.BackoffRate, name).toBeGreaterThan(1);
      expect(transient?.MaxDelaySeconds, name).toBeGreaterThan(0);
      expect(transient?.MaxAttempts, name).toBeGreaterThan(2);
      if (name === "ReportFailure") {
        expect(state.Catch?.[0]?.Next).toBe("ContainmentFailedUnreported");
      } else if (name === "Admit") {
        // An execution not (yet) admitted has no record of its own to report on: it just fails.
        expect(state.Catch, name).toEqual([
          { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "AdmissionFailed" },
        ]);
      } else {
        expect(state.Catch, name).toEqual([
          { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "ReportFailure" },
        ]);
      }
    }
    // Isolation fails fast: short waits between its attempts.
    expect(definition.States["Isolate"]?.Retry?.[1]?.MaxDelaySeconds).toBeLessThanOrEqual(5);
    expect(definition.StartAt).toBe("Admit");
    expect(definition.States["ReportFailure"]?.Next).toBe("ContainmentFailed");
    expect(definition.States["ContainmentFailed"]?.Type).toBe("Fail");
  });
});

/** Stub steps for the engine: each returns the state with a canned result, as the real wrapper does. */
function stubs(options: {
  /** What Admit answers; admitted (with the input as the record's) by default. */
  admit?: Partial<AdmitResult>;
  pollsUntilSnapshots?: number;
  pollsUntilHealthy?: number;
  standalone?: boolean;
  fail?: { state: string; name: string; times?: number };
  calls: string[];
}) {
  let snapshotPolls = 0;
  let healthPolls = 0;
  let failures = 0;
  const now = () => new Date().toISOString();
  const results: Record<string, (state: ContainState) => unknown> = {
    Admit: (state) => ({
      proceed: true,
      outcome: "admitted",
      reason: "stub",
      containment: { ...state.containment, groupName: "from-the-record" },
      ...options.admit,
    }),
    Isolate: () => ({
      ownerId: "1",
      interfaces: [],
      transitionGroupIds: {},
      quarantineGroupIds: {},
      isolatedAt: now(),
    }),
    Harden: () => ({ changed: [], hardenedAt: now() }),
    RevokeCredentials: () => ({ quarantineProfileArn: "arn", disassociatedAddresses: [], revokedAt: now() }),
    CollectEvidence: () => ({ snapshotIds: ["snap-1"], volumeIds: ["vol-1"], startedAt: now() }),
    CheckSnapshots: () => {
      const complete = ++snapshotPolls >= (options.pollsUntilSnapshots ?? 1);
      return {
        complete,
        pending: complete ? 0 : 1,
        checkedAt: now(),
        ...(complete ? { completedAt: now() } : {}),
      };
    },
    Replace: () =>
      options.standalone ? { replaced: false } : { replaced: true, groupName: "web", detachedAt: now() },
    TraceImage: () => ({ traced: true, reason: "stub", imageId: "ami-1", instances: 1, compromised: false }),
    CheckReplacement: () => {
      const healthy = ++healthPolls >= (options.pollsUntilHealthy ?? 1);
      return {
        healthy,
        healthyCount: healthy ? 2 : 1,
        desiredCapacity: 2,
        checkedAt: now(),
        ...(healthy ? { healthyAt: now() } : {}),
      };
    },
    Dispose: () => ({
      disposition: options.standalone ? "kept" : "terminated",
      reason: "",
      disposedAt: now(),
    }),
    Report: () => ({ reportedAt: now() }),
    ReportFailure: (state) => ({
      failedAt: failedAt(state),
      isolated: !!state.results.isolate,
      message: `failed while ${failedAt(state)}`,
      reportedAt: now(),
    }),
  };
  const resultKey: Record<string, StepName> = {
    Admit: "admit",
    Isolate: "isolate",
    Harden: "harden",
    RevokeCredentials: "revoke",
    CollectEvidence: "evidence",
    CheckSnapshots: "evidenceStatus",
    Replace: "replace",
    TraceImage: "traceImage",
    CheckReplacement: "replacementStatus",
    Dispose: "dispose",
    Report: "report",
    ReportFailure: "failure",
  };
  return Object.fromEntries(
    Object.entries(results).map(([stateName, result]) => [
      stateName,
      async (input: unknown) => {
        const { FunctionName, Payload } = input as { FunctionName: string; Payload: ContainState };
        options.calls.push(stateName);
        expect(FunctionName).toBe(CONTAIN_FUNCTIONS[`Fn${functionOf(stateName)}`]?.name);
        if (
          options.fail?.state === stateName &&
          failures < (options.fail.times ?? Number.POSITIVE_INFINITY)
        ) {
          failures++;
          const error = new Error(`${options.fail.name} injected`);
          error.name = options.fail.name;
          throw error;
        }
        const state = { ...Payload, results: Payload.results ?? {} };
        return {
          Payload: { ...state, results: { ...state.results, [resultKey[stateName]!]: result(state) } },
        };
      },
    ]),
  );
}

function functionOf(stateName: string): string {
  return (
    {
      Admit: "ContainAdmit",
      Isolate: "ContainIsolate",
      Harden: "ContainHarden",
      RevokeCredentials: "ContainRevoke",
      CollectEvidence: "ContainEvidence",
      CheckSnapshots: "ContainEvidenceStatus",
      Replace: "ContainReplace",
      TraceImage: "ContainTraceImage",
      CheckReplacement: "ContainReplacementStatus",
      Dispose: "ContainDispose",
      Report: "ContainReport",
      ReportFailure: "ContainReportFailure",
    } as Record<string, string>
  )[stateName]!;
}

async function run(options: Parameters<typeof stubs>[0]) {
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const retryIntervalOverrides = Object.fromEntries(tasks.map(([name]) => [name, 0]));
  const execution = machine.run(containState("i-0123456789abcdef0") as never, {
    overrides: {
      taskResourceLocalHandlers: stubs(options) as never,
      waitTimeOverrides: { WaitForSnapshots: 0, WaitForReplacement: 0 },
      retryIntervalOverrides,
    },
    context: { Execution: { Name: "contain_123456789012_i-0123456789abcdef0_f1" } },
  });
  try {
    return { output: (await execution.result) as unknown as ContainState, error: undefined };
  } catch (error) {
    // The engine wraps the Fail state's error (name = Error, message = Cause) in an ExecutionError.
    return { output: undefined, error: ((error as Error).cause ?? error) as Error };
  }
}

describe("the contain state machine, run by aws-local-stepfunctions with stub steps", () => {
  it("runs the steps in order, polling snapshots and the group until done", async () => {
    const calls: string[] = [];
    const { output, error } = await run({ calls, pollsUntilSnapshots: 3, pollsUntilHealthy: 2 });
    expect(error).toBeUndefined();
    expect(calls).toEqual([
      "Admit",
      "Isolate",
      "Harden",
      "RevokeCredentials",
      // Out of the group before the long evidence steps: no refresh or scale-in can take it.
      "Replace",
      "TraceImage",
      "CollectEvidence",
      "CheckSnapshots",
      "CheckSnapshots",
      "CheckSnapshots",
      "CheckReplacement",
      "CheckReplacement",
      "Dispose",
      "Report",
    ]);
    expect(Object.keys(output!.results).sort()).toEqual(
      [
        "dispose",
        "evidence",
        "evidenceStatus",
        "harden",
        "isolate",
        "replace",
        "replacementStatus",
        "report",
        "revoke",
        "traceImage",
      ].sort(),
    );
  });

  it("does not wait for a replacement of a standalone instance", async () => {
    const calls: string[] = [];
    const { error } = await run({ calls, standalone: true });
    expect(error).toBeUndefined();
    expect(calls).not.toContain("CheckReplacement");
    expect(calls.slice(-7)).toEqual([
      "RevokeCredentials",
      "Replace",
      "TraceImage",
      "CollectEvidence",
      "CheckSnapshots",
      "Dispose",
      "Report",
    ]);
  });

  it("goes on with the evidence when tracing the image fails, keeping the error aside", async () => {
    const calls: string[] = [];
    const { output, error } = await run({
      calls,
      fail: { state: "TraceImage", name: "ThrottlingException" },
    });
    expect(error).toBeUndefined();
    expect(calls.filter((c) => c === "TraceImage").length).toBe(5);
    expect(calls.slice(-2)).toEqual(["Dispose", "Report"]);
    expect((output as unknown as { traceError: { Error: string } }).traceError.Error).toBe(
      "ThrottlingException",
    );
  });

  it("retries a transient failure and carries on", async () => {
    const calls: string[] = [];
    const { error } = await run({ calls, fail: { state: "Harden", name: "RequestLimitExceeded", times: 2 } });
    expect(error).toBeUndefined();
    expect(calls.filter((c) => c === "Harden")).toHaveLength(3);
    expect(calls.at(-1)).toBe("Report");
  });

  it("never retries a terminal error: it reports where it stopped and fails loudly", async () => {
    const calls: string[] = [];
    const { error } = await run({ calls, fail: { state: "Replace", name: "Phoenix.Refused" } });
    expect(calls.filter((c) => c === "Replace")).toHaveLength(1);
    expect(calls.at(-1)).toBe("ReportFailure");
    expect(calls).not.toContain("Dispose");
    expect(error?.name).toBe("Phoenix.ContainmentFailed");
    expect(error?.message).toMatch(/detaching the instance from its group/);
  });

  it("gives up on a transient failure after its retries, and still reports", async () => {
    const calls: string[] = [];
    const { error } = await run({ calls, fail: { state: "CheckSnapshots", name: "InternalError" } });
    const maxAttempts = definition.States["CheckSnapshots"]!.Retry![1]!.MaxAttempts!;
    expect(calls.filter((c) => c === "CheckSnapshots")).toHaveLength(maxAttempts + 1);
    expect(calls.at(-1)).toBe("ReportFailure");
    expect(error?.name).toBe("Phoenix.ContainmentFailed");
  });

  it("fails even when the failure cannot be reported", async () => {
    const calls: string[] = [];
    const failing = stubs({ calls, fail: { state: "Isolate", name: "Phoenix.InstanceGone" } });
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
    const execution = machine.run(containState("i-0123456789abcdef0") as never, {
      overrides: {
        taskResourceLocalHandlers: {
          ...failing,
          ReportFailure: async () => {
            throw new Error("SNS down");
          },
        } as never,
        retryIntervalOverrides: Object.fromEntries(tasks.map(([name]) => [name, 0])),
      },
      context: { Execution: { Name: "contain_123456789012_i-0123456789abcdef0_f1" } },
    });
    const error = await execution.result.then(
      () => undefined,
      (e: Error) => e.cause as Error,
    );
    expect(error?.name).toBe("Phoenix.ContainmentFailed");
    expect(error?.message).toMatch(/could not be reported/);
    expect(calls).toEqual(["Admit", "Isolate"]);
  });

  it("goes on with the record's input, never the execution's own, once admitted", async () => {
    const calls: string[] = [];
    const { output } = await run({ calls, standalone: true });
    expect(output?.containment.groupName).toBe("from-the-record");
  });

  it.each([
    ["delegated", undefined, undefined],
    ["held", "Phoenix.Held", /held for approval/],
    ["refused", "Phoenix.NotAdmitted", /not contained/],
  ] as const)(
    "an execution not admitted (%s) touches nothing: no step runs after Admit",
    async (outcome, name, cause) => {
      const calls: string[] = [];
      const reason = outcome === "held" ? "held for approval: protected" : "not contained: unknown instance";
      const { error } = await run({ calls, admit: { proceed: false, outcome, reason } });
      expect(calls).toEqual(["Admit"]);
      if (name === undefined) expect(error).toBeUndefined();
      else {
        expect(error?.name).toBe(name);
        expect(error?.message).toMatch(cause!);
      }
    },
  );

  it("an admission that keeps failing ends the execution without reporting on anyone's record", async () => {
    const calls: string[] = [];
    const { error } = await run({ calls, fail: { state: "Admit", name: "ThrottlingException" } });
    expect(calls.every((c) => c === "Admit")).toBe(true);
    expect(error?.name).toBe("Phoenix.AdmissionFailed");
  });
});
