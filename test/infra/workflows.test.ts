import { describe, expect, it } from "vitest";
import { ALLOWED_OPTIMIZED_INTEGRATIONS, stateMachineUses } from "../../build/iam/used-actions.js";
import {
  functionPlaceholders,
  PHOENIX_FUNCTIONS,
  PHOENIX_STATE_MACHINES,
  type PhoenixStateMachine,
  substitutePlaceholders,
} from "../../src/catalog.js";
import { EVENT_TARGETS } from "../../src/events/targets.js";
import { readRepository, testContext } from "./support.js";

// Every Task of the deployed state machines runs a catalogued function (src/catalog.ts) or an
// allowed service integration; the definition the stack deploys has no placeholder left.

// A placeholder no catalogued function has (written without a template literal on purpose).
const PLACEHOLDER_OF_NOTHING = ["$", "{FnNotAFunction}"].join("");

const machines = Object.entries(PHOENIX_STATE_MACHINES) as [PhoenixStateMachine, string][];
const template = (file: string) => readRepository(file) as string;

describe("state machine tasks", () => {
  it.each(machines)(
    "%s: every Task resolves to a catalogued function or an allowed integration",
    (machine, file) => {
      const uses = stateMachineUses(JSON.parse(template(file)), machine);
      expect(uses.tasks.length).toBeGreaterThan(0);
      for (const task of uses.tasks) {
        if (task.function !== undefined) {
          expect(PHOENIX_FUNCTIONS).toContain(task.function);
          expect(task.action).toBe("lambda:InvokeFunction");
        } else {
          expect(Object.values(ALLOWED_OPTIMIZED_INTEGRATIONS)).toContain(task.action);
        }
      }
    },
  );

  it.each(machines)("%s: the deployed definition names deployed function ARNs only", (machine, file) => {
    const ctx = testContext();
    const definition = substitutePlaceholders(template(file), functionPlaceholders(ctx.functionArn));
    expect(definition).not.toMatch(/\$\{[A-Za-z0-9_]+\}/);
    const names = [...definition.matchAll(/"FunctionName":\s*"([^"]+)"/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(0);
    const deployed = new Set(PHOENIX_FUNCTIONS.map(ctx.functionArn));
    for (const name of names) expect(deployed.has(name as string), `${machine}: ${name}`).toBe(true);
  });

  it("uses every catalogued function: as a workflow step or as an event target", () => {
    const steps = machines.flatMap(
      ([machine, file]) => stateMachineUses(JSON.parse(template(file)), machine).functions,
    );
    const targets: string[] = Object.values(EVENT_TARGETS).map((t) => t.function);
    const unused = PHOENIX_FUNCTIONS.filter((fn) => !steps.includes(fn) && !targets.includes(fn));
    expect(unused).toEqual([]);
  });

  it("refuses a Task outside the catalogue or the allowed integrations", () => {
    const task = (resource: string, parameters: Record<string, unknown> = {}) => ({
      StartAt: "T",
      States: { T: { Type: "Task", Resource: resource, Parameters: parameters, End: true } },
    });
    expect(() =>
      stateMachineUses(task("arn:aws:states:::lambda:invoke", { FunctionName: PLACEHOLDER_OF_NOTHING }), "x"),
    ).toThrow(/not the placeholder of a catalogued function/);
    expect(() =>
      stateMachineUses(
        task("arn:aws:states:::lambda:invoke", { FunctionName: "arn:aws:lambda:us-east-1:1:function:f" }),
        "x",
      ),
    ).toThrow(/not the placeholder/);
    expect(() => stateMachineUses(task("arn:aws:states:::aws-sdk:iam:putRolePolicy"), "x")).toThrow(
      /not an allowed/,
    );
    expect(() => stateMachineUses(task("arn:aws:states:::ecs:runTask.sync"), "x")).toThrow(/neither/);
    // Nested states (Map) are checked too.
    const nested = {
      StartAt: "M",
      States: {
        M: { Type: "Map", ItemProcessor: task("arn:aws:states:::aws-sdk:ec2:terminateInstances"), End: true },
      },
    };
    expect(stateMachineUses(nested, "x").actions).toEqual(["ec2:TerminateInstances"]);
  });
});
