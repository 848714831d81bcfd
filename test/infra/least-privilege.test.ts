import { describe, expect, it } from "vitest";
import {
  functionPolicy,
  grantedActions,
  type PolicyStatement,
  stateMachinePolicy,
} from "../../build/iam/policy.js";
import { stateMachineUses, usedActionsOfFunction } from "../../build/iam/used-actions.js";
import { PHOENIX_FUNCTIONS, PHOENIX_STATE_MACHINES, type PhoenixStateMachine } from "../../src/catalog.js";
import { FLEET_ROLE, readRepository, testContext } from "./support.js";

// The policies the stack deploys (functionPolicy / stateMachinePolicy, the same functions
// stacks/functions.ts and stacks/workflows.ts call) against what the code and the ASL use
// (derived from the source by build/iam/used-actions.ts, not listed by hand).

const machines = Object.entries(PHOENIX_STATE_MACHINES) as [PhoenixStateMachine, string][];
const aslOf = (file: string) => JSON.parse(readRepository(file) as string) as unknown;
const isMutating = (action: string) =>
  /^(ec2|autoscaling):/.test(action) && !/^(ec2|autoscaling):(Describe|Get|List)/.test(action);

describe("least privilege: functions", () => {
  // With a member account, so that every action the code uses has a resource to be granted on.
  const ctx = testContext({ accounts: [{ accountId: "222222222222", regions: ["eu-west-1"] }] });

  it.each(PHOENIX_FUNCTIONS)("%s is granted exactly the actions its code uses", (name) => {
    const used = usedActionsOfFunction(name, readRepository);
    expect(used.actions.length).toBeGreaterThan(0);
    expect(grantedActions(functionPolicy(name, ctx, readRepository))).toEqual(used.actions);
    // Without member accounts, there is no role to assume, and sts:AssumeRole is not granted at all.
    expect(grantedActions(functionPolicy(name, testContext(), readRepository))).toEqual(
      used.actions.filter((action) => action !== "sts:AssumeRole"),
    );
    // Every action is traced to a command in a module (or to the command it depends on).
    for (const action of used.actions) expect(used.provenance[action]?.length).toBeGreaterThan(0);
  });

  it("lets the functions that reach member accounts assume only the listed accounts' member roles", () => {
    const reaching = PHOENIX_FUNCTIONS.filter((name) =>
      usedActionsOfFunction(name, readRepository).actions.includes("sts:AssumeRole"),
    );
    expect(reaching).toEqual(
      expect.arrayContaining([
        "on-finding",
        "contain-isolate",
        "contain-dispose",
        "rollout-plan",
        "rollout-group",
      ]),
    );
    // Its steps keep only Phoenix's own state: nothing of theirs acts in a member.
    expect(reaching).not.toContain("rollout-wave");
    const member = testContext({
      accounts: [
        { accountId: "222222222222", regions: ["eu-west-1"] },
        { accountId: "333333333333", regions: ["us-east-1"], roleName: "custom-member" },
      ],
    });
    for (const name of reaching) {
      const assume = functionPolicy(name, member, readRepository).filter((s) =>
        s.actions.includes("sts:AssumeRole"),
      );
      expect(assume).toEqual([
        expect.objectContaining({
          actions: ["sts:AssumeRole"],
          resources: [
            "arn:aws:iam::222222222222:role/phoenix-member",
            "arn:aws:iam::333333333333:role/custom-member",
          ],
        }),
      ]);
    }
  });

  it("passes and writes policies only on fleet roles (tagged, or listed), never Phoenix's or administrative ones", () => {
    const fleetTag = {
      test: "StringEquals",
      variable: "aws:ResourceTag/phoenix:fleet-role",
      values: ["true"],
    };
    const toEc2 = { test: "StringEquals", variable: "iam:PassedToService", values: ["ec2.amazonaws.com"] };
    for (const [fleetRoleArns, listed] of [
      [[], false],
      [[FLEET_ROLE], true],
    ] as const) {
      const context = testContext({}, [...fleetRoleArns]);
      for (const name of PHOENIX_FUNCTIONS) {
        const statements = functionPolicy(name, context, readRepository);
        for (const action of ["iam:PassRole", "iam:PutRolePolicy"]) {
          const concerned = statements.filter((s) => s.actions.includes(action));
          if (concerned.length === 0) continue;
          const only = action === "iam:PassRole" ? [toEc2] : [];
          const allows = concerned.filter((s) => s.effect !== "Deny");
          expect(
            allows.map((s) => [s.resources, s.conditions ?? []]),
            `${name} ${action}`,
          ).toEqual([
            [["arn:aws:iam::123456789012:role/*"], [fleetTag, ...only]],
            ...(listed ? [[[FLEET_ROLE], only]] : []),
          ]);
          const denies = concerned.filter((s) => s.effect === "Deny");
          expect(denies).toHaveLength(1);
          expect(denies[0]?.resources).toEqual(
            expect.arrayContaining([
              "arn:aws:iam::123456789012:role/phoenix-*",
              "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole",
            ]),
          );
        }
      }
    }
    expect(usedActionsOfFunction("rollout-group", readRepository).actions).toContain("iam:PassRole");
    expect(usedActionsOfFunction("contain-revoke", readRepository).actions).toContain("iam:PutRolePolicy");
    // The quarantine profile has no role: attaching it needs no PassRole (contain-revoke).
    expect(usedActionsOfFunction("contain-revoke", readRepository).actions).not.toContain("iam:PassRole");
  });

  it("lets each function write only the tag keys its code declares, on the resource types it tags", () => {
    const keysOf = (name: (typeof PHOENIX_FUNCTIONS)[number]) =>
      functionPolicy(name, ctx, readRepository)
        .filter((s) => s.actions.includes("ec2:CreateTags"))
        .map((s) => ({
          resources: s.resources,
          keys: s.conditions?.find(
            (c) => c.variable === "aws:TagKeys" && c.test === "ForAllValues:StringEquals",
          )?.values,
          createAction: s.conditions?.find((c) => c.variable === "ec2:CreateAction")?.values,
        }));
    const instance = "arn:aws:ec2:eu-west-1:123456789012:instance/*";
    for (const name of ["on-finding", "contain-admit"] as const)
      expect(keysOf(name)).toEqual([
        { resources: [instance], keys: ["phoenix:quarantine"], createAction: undefined },
      ]);
    expect(keysOf("contain-isolate")).toEqual([
      { resources: [instance], keys: ["phoenix:quarantine"], createAction: undefined },
      {
        resources: ["arn:aws:ec2:eu-west-1:123456789012:security-group/*"],
        keys: ["Name", "phoenix:role"],
        createAction: ["CreateSecurityGroup"],
      },
    ]);
    expect(keysOf("contain-evidence")).toEqual([
      {
        resources: ["arn:aws:ec2:eu-west-1::snapshot/*"],
        keys: ["phoenix:containment", "phoenix:finding", "phoenix:instance"],
        createAction: ["CreateSnapshot"],
      },
    ]);
    expect(keysOf("rollout-finish")).toEqual([
      {
        resources: ["arn:aws:ec2:eu-west-1::image/*"],
        keys: ["phoenix:image-status", "phoenix:image-status-reason"],
        createAction: undefined,
      },
    ]);
    // rollout-group tags nothing itself: only a launch from the group's template does.
    expect(keysOf("rollout-group")).toEqual([
      {
        resources: ["arn:aws:ec2:eu-west-1:123456789012:*"],
        keys: undefined,
        createAction: ["RunInstances"],
      },
    ]);
    // Every declaration is read from the code that writes with it.
    expect(
      usedActionsOfFunction("contain-evidence", readRepository).tagWrites.map((w) => w.declaredIn),
    ).toEqual(["src/containment/workflow/evidence.ts: EVIDENCE_TAG_WRITE"]);
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
      functionPolicy(name, ctx, readRepository).filter(
        (s) =>
          s.actions.includes(action) && s.resources.some((r) => /:(instance|autoScalingGroup)[/:]/.test(r)),
      );
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
    for (const action of ["autoscaling:StartInstanceRefresh", "autoscaling:UpdateAutoScalingGroup"])
      expect(statementOf("rollout-group", action).map((s) => s.conditions)).toEqual([
        [{ test: "StringEquals", variable: "autoscaling:ResourceTag/phoenix:managed", values: ["true"] }],
      ]);
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
