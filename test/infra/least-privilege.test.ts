import { describe, expect, it } from "vitest";
import { PHOENIX_FUNCTIONS, PHOENIX_STATE_MACHINES, type PhoenixStateMachine } from "../../src/catalog.js";
import {
  functionPolicy,
  grantedActions,
  type PolicyStatement,
  stateMachinePolicy,
} from "../../src/iam/policy.js";
import { stateMachineUses, usedActionsOfFunction } from "../../src/iam/used-actions.js";
import { FLEET_ROLE, readRepository, testContext } from "./support.js";

// The policies the stack deploys (functionPolicy / stateMachinePolicy, the same functions
// stacks/functions.ts and stacks/workflows.ts call) against what the code and the ASL use
// (derived from the source by src/iam/used-actions.ts, not listed by hand).

const machines = Object.entries(PHOENIX_STATE_MACHINES) as [PhoenixStateMachine, string][];
const aslOf = (file: string) => JSON.parse(readRepository(file) as string) as unknown;
const isMutating = (action: string) =>
  /^(ec2|autoscaling):/.test(action) && !/^(ec2|autoscaling):(Describe|Get|List)/.test(action);

describe("least privilege: functions", () => {
  const ctx = testContext();

  it.each(PHOENIX_FUNCTIONS)("%s is granted exactly the actions its code uses", (name) => {
    const used = usedActionsOfFunction(name, readRepository);
    expect(used.actions.length).toBeGreaterThan(0);
    expect(grantedActions(functionPolicy(name, ctx, readRepository))).toEqual(used.actions);
    // Every action is traced to a command in a module (or to the command it depends on).
    for (const action of used.actions) expect(used.provenance[action]?.length).toBeGreaterThan(0);
  });

  it("grants iam:PassRole only for the fleet roles the deployer lists, to EC2, and by default not at all", () => {
    const withoutFleet = testContext({}, []);
    for (const name of PHOENIX_FUNCTIONS) {
      const used = usedActionsOfFunction(name, readRepository).actions;
      const granted = grantedActions(functionPolicy(name, withoutFleet, readRepository));
      expect(granted).toEqual(used.filter((action) => action !== "iam:PassRole"));
      const passing = functionPolicy(name, ctx, readRepository).filter((s) =>
        s.actions.includes("iam:PassRole"),
      );
      for (const statement of passing) {
        expect(statement.resources).toEqual([FLEET_ROLE]);
        expect(statement.conditions).toEqual([
          { test: "StringEquals", variable: "iam:PassedToService", values: ["ec2.amazonaws.com"] },
        ]);
      }
    }
    // The quarantine profile has no role: attaching it needs no PassRole (contain-revoke).
    expect(usedActionsOfFunction("contain-revoke", readRepository).actions).not.toContain("iam:PassRole");
  });

  it("never grants a wildcard action, and a mutation on every resource only with a condition", () => {
    for (const name of PHOENIX_FUNCTIONS) {
      for (const statement of functionPolicy(name, ctx, readRepository)) {
        for (const action of statement.actions) expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z]+$/);
        if (statement.resources.includes("*") && statement.source === "code") {
          expect(statement.actions.every((a) => /:(Describe|List)/.test(a))).toBe(true);
        }
      }
    }
  });

  it("puts a condition, or a documented reason, on every mutating EC2 and Auto Scaling statement", () => {
    const unscoped: string[] = [];
    for (const name of PHOENIX_FUNCTIONS) {
      for (const statement of functionPolicy(name, ctx, readRepository)) {
        if (!statement.actions.some(isMutating)) continue;
        const conditioned = (statement.conditions?.length ?? 0) > 0;
        const explained = (statement.reason?.length ?? 0) > 20;
        if (!conditioned && !explained) unscoped.push(`${name}: ${statement.sid}`);
      }
    }
    expect(unscoped).toEqual([]);
  });

  it("holds instance mutations after isolation to quarantined instances and refreshes to managed groups", () => {
    const statementOf = (name: (typeof PHOENIX_FUNCTIONS)[number], action: string): PolicyStatement[] =>
      functionPolicy(name, ctx, readRepository).filter((s) => s.actions.includes(action));
    for (const [name, action] of [
      ["contain-harden", "ec2:ModifyInstanceAttribute"],
      ["contain-dispose", "ec2:TerminateInstances"],
      ["contain-dispose", "ec2:StopInstances"],
      ["contain-revoke", "ec2:ReplaceIamInstanceProfileAssociation"],
    ] as const) {
      expect(statementOf(name, action).map((s) => s.conditions)).toEqual([
        [{ test: "Null", variable: "aws:ResourceTag/phoenix:quarantine", values: ["false"] }],
      ]);
    }
    expect(statementOf("rollout-group", "autoscaling:StartInstanceRefresh").map((s) => s.conditions)).toEqual(
      [[{ test: "StringEquals", variable: "autoscaling:ResourceTag/phoenix:managed", values: ["true"] }]],
    );
  });

  it("derives from the code, not from a list: each function sees its own calls and not its neighbours'", () => {
    const actions = (name: (typeof PHOENIX_FUNCTIONS)[number]) =>
      usedActionsOfFunction(name, readRepository).actions;
    expect(actions("contain-dispose")).toContain("ec2:TerminateInstances");
    expect(actions("contain-harden")).not.toContain("ec2:TerminateInstances");
    expect(actions("contain-isolate")).toContain("ec2:ModifyNetworkInterfaceAttribute");
    expect(actions("contain-evidence-status")).not.toContain("ec2:CreateSnapshot");
    // Same module as the refresh starter (src/rollout/aws/refresh.ts), but only the lookup is reachable.
    expect(actions("on-refresh-event")).not.toContain("autoscaling:StartInstanceRefresh");
    expect(actions("rollout-group")).toContain("autoscaling:StartInstanceRefresh");
    expect(actions("on-finding")).toContain("states:StartExecution");
    // lib-dynamodb TransactWriteCommand → the item kinds written (no TransactWriteItems action in IAM).
    expect(actions("on-finding")).toEqual(expect.arrayContaining(["dynamodb:ConditionCheckItem"]));
    expect(actions("on-finding")).not.toContain("dynamodb:TransactWriteItems");
  });

  it("scopes Phoenix's own resources to their ARNs", () => {
    const statements = functionPolicy("contain-report", ctx, readRepository);
    const dynamo = statements.find((s) => s.actions.includes("dynamodb:PutItem"));
    expect(dynamo?.resources).toEqual([
      "arn:aws:dynamodb:eu-west-1:123456789012:table/phoenix-test-audit",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/phoenix-test-state",
    ]);
    const sns = statements.find((s) => s.actions.includes("sns:Publish"));
    expect(sns?.resources).toEqual(["arn:aws:sns:eu-west-1:123456789012:phoenix-test-notifications"]);
    const start = functionPolicy("on-finding", ctx, readRepository).find((s) =>
      s.actions.includes("states:StartExecution"),
    );
    expect(start?.resources.every((arn) => arn.includes(":stateMachine:phoenix-test-"))).toBe(true);
  });
});

describe("least privilege: state machines", () => {
  const ctx = testContext();

  it.each(machines)("%s is granted exactly what its ASL invokes", (machine, file) => {
    const uses = stateMachineUses(aslOf(file), machine);
    const statements = stateMachinePolicy(machine, aslOf(file), ctx);
    expect(grantedActions(statements)).toEqual(uses.actions);
    const invoke = statements.find((s) => s.actions.includes("lambda:InvokeFunction"));
    expect(invoke?.resources).toEqual(
      uses.functions.flatMap((fn) => [ctx.functionArn(fn), `${ctx.functionArn(fn)}:*`]),
    );
    // Log delivery is the only platform grant, and the only "*" resource.
    const platform = statements.filter((s) => s.source === "platform");
    expect(platform.map((s) => s.sid)).toEqual(["PlatformExecutionLogs"]);
    expect(platform[0]?.actions.every((a) => a.startsWith("logs:"))).toBe(true);
  });

  it("invokes only its own functions: contain the contain-* steps, rollout the rollout-* steps", () => {
    const contain = stateMachineUses(aslOf(PHOENIX_STATE_MACHINES.contain), "contain").functions;
    const rollout = stateMachineUses(aslOf(PHOENIX_STATE_MACHINES.rollout), "rollout").functions;
    expect(contain.every((fn) => fn.startsWith("contain-"))).toBe(true);
    expect(rollout.every((fn) => fn.startsWith("rollout-"))).toBe(true);
  });
});
