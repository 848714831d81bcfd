import { AutoScalingServiceException, InstanceRefreshInProgressFault } from "@aws-sdk/client-auto-scaling";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { EC2ServiceException } from "@aws-sdk/client-ec2";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AslDefinition } from "../../local/stepfunctions/asl.js";
import { allStates, loadDefinition } from "../../local/stepfunctions/asl.js";
import { LOCAL_WAIT_RESOURCE, prepareForEngine } from "../../local/stepfunctions/engine-definition.js";
import {
  awsSdkIntegrationError,
  javaExceptionName,
  optimizedIntegrationError,
  sdkErrorFacts,
} from "../../local/stepfunctions/error-naming.js";
import { ExecutionTime } from "../../local/stepfunctions/execution-time.js";
import { listUnmappedTasks } from "../../local/stepfunctions/index.js";
import { functionNameOf } from "../../local/stepfunctions/lambda-tasks.js";
import { nameProblem } from "../../local/stepfunctions/names.js";
import { parseDefinition } from "../../local/stepfunctions/validate.js";
import { toWire } from "../../local/stepfunctions/wire.js";

const metadata = { httpStatusCode: 400, requestId: "req-1" };

describe("aws-sdk integration error names", () => {
  it("names an undeclared error by the service's base exception and keeps the code in the cause", () => {
    const thrown = Object.assign(
      new EC2ServiceException({ name: "InvalidInstanceID.NotFound", $fault: "client", $metadata: metadata }),
      { message: "The instance ID 'i-1' does not exist" },
    );
    const facts = sdkErrorFacts(thrown);
    expect(facts).toMatchObject({ code: "InvalidInstanceID.NotFound", status: 400, modeledShape: undefined });
    expect(awsSdkIntegrationError("Ec2", facts!)).toEqual({
      error: "Ec2.Ec2Exception",
      cause:
        "The instance ID 'i-1' does not exist (Service: Ec2, Status Code: 400, Error Code: InvalidInstanceID.NotFound, Request ID: req-1)",
    });
    const validation = new AutoScalingServiceException({
      name: "ValidationError",
      $fault: "client",
      $metadata: metadata,
    });
    expect(awsSdkIntegrationError("AutoScaling", sdkErrorFacts(validation)!).error).toBe(
      "AutoScaling.AutoScalingException",
    );
  });

  it("names a modeled error by the Java SDK's exception class", () => {
    const thrown = new InstanceRefreshInProgressFault({
      message: "An Instance Refresh is already in progress",
      $metadata: metadata,
    });
    const facts = sdkErrorFacts(thrown);
    expect(facts?.modeledShape).toBe("InstanceRefreshInProgressFault");
    expect(awsSdkIntegrationError("AutoScaling", facts!).error).toBe(
      "AutoScaling.InstanceRefreshInProgressException",
    );
    expect(javaExceptionName("ConditionalCheckFailedException")).toBe("ConditionalCheckFailedException");
    expect(javaExceptionName("ExecutionAlreadyExists")).toBe("ExecutionAlreadyExistsException");
  });

  it("uses the optimized integrations' own prefixes", () => {
    const conditional = new ConditionalCheckFailedException({
      message: "The conditional request failed",
      $metadata: metadata,
    });
    expect(optimizedIntegrationError("dynamodb", sdkErrorFacts(conditional), conditional).error).toBe(
      "DynamoDB.ConditionalCheckFailedException",
    );
    const facts = { code: "ExecutionAlreadyExists", message: "exists", status: 400 };
    expect(optimizedIntegrationError("states", facts, undefined).error).toBe(
      "StepFunctions.ExecutionAlreadyExistsException",
    );
    expect(optimizedIntegrationError("sns", { ...facts, code: "NotFound" }, undefined).error).toBe(
      "SNS.NotFoundException",
    );
  });

  it("does not mistake a network failure for a service error", () => {
    expect(sdkErrorFacts(new Error("connect ECONNREFUSED"))).toBeUndefined();
  });
});

describe("definitions prepared for the simulated clock", () => {
  const definition: AslDefinition = {
    TimeoutSeconds: 600,
    StartAt: "Pause",
    States: {
      Pause: { Type: "Wait", Seconds: 60, Next: "PauseFromInput" },
      PauseFromInput: { Type: "Wait", SecondsPath: "$.delay", InputPath: "$.wait", Next: "Fleet" },
      Fleet: {
        Type: "Map",
        ItemProcessor: {
          StartAt: "Refresh",
          States: {
            Refresh: {
              Type: "Task",
              Resource: "arn:aws:states:::lambda:invoke",
              Parameters: { FunctionName: "refresh" },
              Retry: [
                { ErrorEquals: ["States.ALL"], IntervalSeconds: 10, MaxDelaySeconds: 60, BackoffRate: 2 },
              ],
              TimeoutSeconds: 300,
              End: true,
            },
            Unused: { Type: "Wait", Timestamp: "2030-01-01T00:00:00Z", End: true },
          },
        },
        Retry: [{ ErrorEquals: ["States.ALL"] }],
        End: true,
      },
    },
  };

  it("scales retries by the clock speed, nested states included, and leaves the timeout to the runner", () => {
    const plan = prepareForEngine(definition, 100);
    // The engine would count TimeoutSeconds on one clock: the runner enforces it (execution-time.ts).
    expect(plan.definition.TimeoutSeconds).toBeUndefined();
    expect(plan.timeoutSeconds).toBe(600);
    const states = new Map(allStates(plan.definition).map(({ name, state }) => [name, state]));
    expect(states.get("Refresh")?.Retry).toEqual([
      { ErrorEquals: ["States.ALL"], IntervalSeconds: 0.1, MaxDelaySeconds: 0.6, BackoffRate: 2 },
    ]);
    // A task's work runs on the real clock: its timeout is not shortened.
    expect(states.get("Refresh")?.TimeoutSeconds).toBe(300);
    // The engine's implicit 1 s interval is scaled too.
    expect(states.get("Fleet")?.Retry).toEqual([{ ErrorEquals: ["States.ALL"], IntervalSeconds: 0.01 }]);
  });

  it("moves every wait onto the simulated clock as a local task", () => {
    const plan = prepareForEngine(definition, 100);
    const states = new Map(allStates(plan.definition).map(({ name, state }) => [name, state]));
    expect(states.get("Pause")).toEqual({
      Type: "Task",
      Resource: LOCAL_WAIT_RESOURCE,
      Parameters: { "input.$": "$", seconds: 60 },
      TimeoutSeconds: 1_000_000,
      Next: "PauseFromInput",
    });
    expect(states.get("PauseFromInput")).toEqual({
      Type: "Task",
      Resource: LOCAL_WAIT_RESOURCE,
      Parameters: { "input.$": "$", "seconds.$": "$.delay" },
      TimeoutSeconds: 1_000_000,
      InputPath: "$.wait",
      Next: "Fleet",
    });
    expect(states.get("Unused")?.Parameters).toEqual({ "input.$": "$", timestamp: "2030-01-01T00:00:00Z" });
    expect([...plan.clockWaits].sort()).toEqual(["Pause", "PauseFromInput", "Unused"]);
    expect(plan.stateTypes.get("PauseFromInput")).toBe("Wait");
    // The caller's definition is left alone.
    expect(definition.States.Pause).toEqual({ Type: "Wait", Seconds: 60, Next: "PauseFromInput" });
  });
});

describe("an execution's age (what its TimeoutSeconds bounds)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  // Speed 100: a simulated second is 10 real ms. Ages are simulated ms.
  const setup = (timeoutSeconds?: number) => {
    vi.useFakeTimers({ toFake: ["performance", "setTimeout", "clearTimeout"] });
    const timedOut = { at: undefined as number | undefined };
    const time = new ExecutionTime(100, timeoutSeconds, () => {
      timedOut.at = performance.now();
    });
    return { time, timedOut, real: (ms: number) => vi.advanceTimersByTime(ms) };
  };

  it("counts work at its real length and a wait at its simulated length, timer lateness aside", () => {
    const { time, real } = setup();
    time.root.taskStarted("Work");
    real(2_000);
    expect(time.age()).toBe(2_000);
    time.root.waitStarted(30_000);
    real(150);
    expect(time.age()).toBe(17_000);
    real(200); // the real timer fired late: the wait still lasted its 30 simulated seconds
    time.root.waitEnded();
    expect(time.age()).toBe(32_000);
  });

  it("counts parallel branches once (the longest) and queued Map iterations one after another", () => {
    const { time, real } = setup();
    const fleet = {};
    const [a, b] = [time.root.fork(fleet), time.root.fork(fleet)];
    a.waitStarted(60_000);
    b.taskStarted("Work");
    real(600);
    a.waitEnded();
    a.end();
    // An iteration queued behind MaxConcurrency starts where the one it replaces ended.
    const c = time.root.fork(fleet);
    expect(c.age(performance.now())).toBe(60_000);
    c.waitStarted(60_000);
    real(600);
    c.waitEnded();
    c.end();
    b.end();
    time.root.taskStarted("AfterTheMap");
    expect(time.age()).toBe(120_000);
    expect(time.root.age(performance.now())).toBe(120_000);
  });

  it("counts a failed Task's wait for its retry as simulated, and a Catch's next step as real", () => {
    const { time, real } = setup();
    time.root.taskFailed("Call");
    real(40); // the engine's scaled Retry interval: 4 simulated seconds
    time.root.taskStarted("Call");
    expect(time.age()).toBe(4_000);
    time.root.taskFailed("Call");
    real(1);
    time.root.taskStarted("Recover"); // caught: the gap was the engine's, in real time
    expect(time.age()).toBe(4_001);
  });

  it("times out as soon as the age passes TimeoutSeconds, in the middle of a wait", () => {
    const { time, timedOut, real } = setup(100);
    time.root.taskStarted("Work");
    real(40_000); // 40 s of real work: far beyond 100 s / speed, within 100 s
    expect(timedOut.at).toBeUndefined();
    time.root.waitStarted(3_600_000);
    real(599);
    expect(timedOut.at).toBeUndefined();
    real(1); // 40 s + 600 real ms × 100 = 100 s
    expect(timedOut.at).toBe(40_600);
  });
});

describe("unmapped task detection", () => {
  const task = (Resource: string, Parameters?: object) => ({
    Type: "Task",
    Resource,
    ...(Parameters ? { Parameters } : {}),
    End: true,
  });

  it("finds every Task it cannot run, in Map processors, Iterators and Parallel branches", async () => {
    const definition = loadDefinition({
      StartAt: "Top",
      States: {
        Top: {
          ...task("arn:aws:states:::lambda:invoke", { FunctionName: "known" }),
          End: undefined,
          Next: "Fan",
        },
        Fan: {
          Type: "Parallel",
          Next: "Old",
          Branches: [
            { StartAt: "Glue", States: { Glue: task("arn:aws:states:::glue:startJobRun.sync") } },
            {
              StartAt: "Token",
              States: {
                Token: task("arn:aws:states:::lambda:invoke.waitForTaskToken", { FunctionName: "known" }),
              },
            },
          ],
        },
        Old: {
          Type: "Map",
          Next: "New",
          Iterator: {
            StartAt: "Unknown",
            States: { Unknown: task("arn:aws:lambda:us-east-1:123456789012:function:missing") },
          },
        },
        New: {
          Type: "Map",
          End: true,
          ItemProcessor: {
            StartAt: "BadAction",
            States: {
              BadAction: {
                ...task("arn:aws:states:::aws-sdk:ec2:noSuchAction"),
                End: undefined,
                Next: "BadService",
              },
              BadService: {
                ...task("arn:aws:states:::aws-sdk:s3:getObject"),
                End: undefined,
                Next: "Dynamic",
              },
              Dynamic: task("arn:aws:states:::lambda:invoke", { "FunctionName.$": "$.fn" }),
            },
          },
        },
      },
    });
    const unmapped = await listUnmappedTasks(definition, { functions: ["known"] });
    expect(unmapped.map((u) => u.state)).toEqual([
      "Glue",
      "Token",
      "Unknown",
      "BadAction",
      "BadService",
      "Dynamic",
    ]);
    expect(unmapped.find((u) => u.state === "Token")?.reason).toContain("waitForTaskToken");
    expect(unmapped.find((u) => u.state === "Unknown")?.reason).toContain("'missing'");
    expect(unmapped.find((u) => u.state === "BadAction")?.reason).toContain("NoSuchActionCommand");
    expect(unmapped.find((u) => u.state === "BadService")?.reason).toContain("'s3'");
    expect(unmapped.find((u) => u.state === "BadAction")?.path).toBe(
      "States.New.ItemProcessor.States.BadAction",
    );
  });

  it("finds nothing to report when every Task is mapped", async () => {
    const definition = loadDefinition("test/fixtures/asl/optimized.json");
    expect(await listUnmappedTasks(definition)).toEqual([]);
    const lambdas = loadDefinition("test/fixtures/asl/lambda-invoke.json");
    expect(
      await listUnmappedTasks(lambdas, { functions: { double: async () => 0, describe: async () => 0 } }),
    ).toEqual([]);
  });
});

describe("names, definitions and the wire", () => {
  it("accepts AWS's execution names and refuses the rest", () => {
    expect(nameProblem("rollout-ami-0abc-2024-05-01")).toBeUndefined();
    expect(nameProblem("")).toBeDefined();
    expect(nameProblem("a".repeat(81))).toContain("80");
    for (const bad of ["a b", "a/b", "a:b", "a*b", "a{b", "a\u0001b", "a$b"])
      expect(nameProblem(bad)).toBeDefined();
  });

  it("reads function names in every form Lambda accepts", () => {
    expect(functionNameOf("contain")).toBe("contain");
    expect(functionNameOf("contain:live")).toBe("contain");
    expect(functionNameOf("arn:aws:lambda:us-east-1:123456789012:function:contain")).toBe("contain");
    expect(functionNameOf("arn:aws:lambda:us-east-1:123456789012:function:contain:$LATEST")).toBe("contain");
    expect(functionNameOf("123456789012:function:contain")).toBe("contain");
  });

  it("refuses JSONata, which the local engine would silently ignore", () => {
    const definition = JSON.stringify({
      QueryLanguage: "JSONata",
      StartAt: "P",
      States: { P: { Type: "Pass", End: true } },
    });
    expect(() => parseDefinition(definition)).toThrow(/JSONata/);
  });

  it("encodes timestamps as epoch seconds and drops absent fields", () => {
    expect(
      toWire({ startDate: new Date(1_700_000_000_500), stopDate: undefined, list: [new Date(0)] }),
    ).toEqual({
      startDate: 1_700_000_000.5,
      list: [0],
    });
  });
});
