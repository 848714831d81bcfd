import aslValidator from "asl-validator";
import { describe, expect, it } from "vitest";
import { type AslDefinition, allStates } from "../../../local/stepfunctions/asl.js";
import { listUnmappedTasks } from "../../../local/stepfunctions/index.js";
import {
  functionsOf,
  PHOENIX_FUNCTIONS,
  placeholderOf,
  placeholdersIn,
  renderStateMachine,
  stateMachineText,
} from "../../../src/catalog.js";

const definition = JSON.parse(renderStateMachine("rollout")) as AslDefinition;
const ROLLOUT_FUNCTIONS = PHOENIX_FUNCTIONS.filter((name) => name.startsWith("rollout-"));
const tasks = allStates(definition).filter(({ state }) => state.Type === "Task");

describe("workflows/rollout.asl.json", () => {
  it("is valid ASL (asl-validator, paths and ARNs checked)", () => {
    const result = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it("uses JSONPath only (the local engine ignores JSONata)", () => {
    expect(stateMachineText("rollout")).not.toMatch(/JSONata|\{%/);
  });

  it("names its functions by placeholder, one per handler in functions/", () => {
    expect(placeholdersIn(stateMachineText("rollout")).sort()).toEqual(
      ROLLOUT_FUNCTIONS.map(placeholderOf).sort(),
    );
    expect([...functionsOf("rollout")].sort()).toEqual([...ROLLOUT_FUNCTIONS].sort());
    expect(() => renderStateMachine("rollout", (name) => (name === "rollout-group" ? "" : name))).toThrow(
      /FnRolloutGroup/,
    );
  });

  it("has every Task mapped to a local handler", async () => {
    expect(await listUnmappedTasks(definition, { functions: [...ROLLOUT_FUNCTIONS] })).toEqual([]);
  });

  it("retries every Task with jittered, capped exponential backoff", () => {
    expect(tasks.length).toBeGreaterThanOrEqual(12);
    for (const { name, state } of tasks) {
      const retriers = state.Retry as {
        ErrorEquals: string[];
        BackoffRate?: number;
        MaxDelaySeconds?: number;
        JitterStrategy?: string;
      }[];
      expect(retriers, name).toBeInstanceOf(Array);
      const transient = retriers.find((retrier) => retrier.ErrorEquals.includes("Phoenix.Transient"));
      expect(transient, name).toMatchObject({
        JitterStrategy: "FULL",
        BackoffRate: expect.any(Number),
        MaxDelaySeconds: expect.any(Number),
      });
      expect(transient?.ErrorEquals, name).toContain("Lambda.TooManyRequestsException");
      for (const retrier of retriers) expect(retrier.JitterStrategy, name).toBe("FULL");
    }
  });

  it("catches every Task, so no failure leaves a group locked or the rollout unreported", () => {
    for (const { name, state } of tasks) {
      const catchers = state.Catch as { ErrorEquals: string[] }[] | undefined;
      expect(
        catchers?.some((c) => c.ErrorEquals.includes("States.ALL")),
        name,
      ).toBe(true);
    }
  });

  it("runs waves one by one and a wave's groups in parallel up to the policy's cap", () => {
    const map = allStates(definition).find(({ state }) => state.Type === "Map");
    expect(map?.name).toBe("RefreshGroups");
    expect(map?.state.MaxConcurrencyPath).toBe("$.rollout.maxConcurrentGroups");
    const bake = definition.States.BakeWave;
    expect(bake).toMatchObject({ Type: "Wait", SecondsPath: "$.rollout.bakeSeconds" });
    // The loop over waves goes only forward, through the verdict: a failed wave cannot reach the next.
    expect(definition.States.WaveVerdict).toMatchObject({
      Choices: expect.arrayContaining([
        expect.objectContaining({ Variable: "$.verdict.ok", BooleanEquals: false, Next: "RolloutFailed" }),
      ]),
    });
  });

  it("takes a group through lock → prepare → version → start → wait/poll → release", () => {
    const map = allStates(definition).find(({ name }) => name === "RefreshGroups");
    const inner = map?.state.ItemProcessor as {
      StartAt: string;
      States: Record<string, Record<string, unknown>>;
    };
    const next = (name: string) => inner.States[name]?.Next;
    const choice = (name: string, value: unknown) =>
      (
        (inner.States[name]?.Choices ?? []) as {
          StringEquals?: string;
          BooleanEquals?: boolean;
          Next: string;
        }[]
      ).find((c) => c.StringEquals === value || c.BooleanEquals === value)?.Next;
    expect(inner.StartAt).toBe("AcquireLock");
    expect(next("AcquireLock")).toBe("PrepareGroup");
    expect(next("PrepareGroup")).toBe("PrepareChoice");
    expect(choice("PrepareChoice", "refresh")).toBe("CreateVersion");
    expect(choice("PrepareChoice", "wait")).toBe("WaitForOtherRefresh");
    expect(inner.States.PrepareChoice?.Default).toBe("ReleaseLock");
    expect(next("CreateVersion")).toBe("StartRefresh");
    expect(next("StartRefresh")).toBe("WaitRefresh");
    expect(next("WaitRefresh")).toBe("PollRefresh");
    expect(next("PollRefresh")).toBe("RefreshEnded");
    expect(choice("RefreshEnded", true)).toBe("ReleaseLock");
    expect(inner.States.RefreshEnded?.Default).toBe("WaitRefresh");
    expect(inner.States.ReleaseLock?.End).toBe(true);
  });
});
