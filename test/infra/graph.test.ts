import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import aslValidator from "asl-validator";
import { beforeAll, describe, expect, it } from "vitest";
import { deployedFunctionName, policyContext } from "../../build/iam/context.js";
import { functionPolicy, policyDocument, stateMachinePolicy } from "../../build/iam/policy.js";
import {
  resourcesOfType,
  type SynthGraph,
  type SynthResource,
  stringInput,
} from "../../build/synth/graph.js";
import { PHOENIX_FUNCTIONS, PHOENIX_STATE_MACHINES, type PhoenixStateMachine } from "../../src/catalog.js";
import { parsePolicy } from "../../src/policy/index.js";
import { MAX_STAGE_LENGTH } from "../../src/resources.js";
import { ROOT, readRepository } from "./support.js";

/**
 * What a reviewer of a real deploy checks, on the graph the real SST program declares when run
 * offline under Pulumi's mocks (`npm run synth`, build/synth/): the IAM it would create, the
 * delivery of events, the state machines and the names, for a dev stage, the longest stage
 * allowed, and a production stage with a policy that sends email, verifies signatures and names
 * no image parameters.
 */
const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "phoenix-graph-"));

async function synth(stage: string, policy?: unknown): Promise<SynthGraph> {
  const out = join(dir, `${stage}.json`);
  const args = ["tsx", "build/synth/main.ts", "--stage", stage, "--no-bundle", "--out", out];
  if (policy !== undefined) {
    const file = join(dir, `${stage}-policy.json`);
    writeFileSync(file, JSON.stringify(policy));
    args.push("--policy", file);
  }
  await exec("npx", args, {
    cwd: ROOT,
    env: { ...process.env, PHOENIX_POLICY: "", PHOENIX_POLICY_FILE: "" },
  });
  return JSON.parse(readFileSync(out, "utf8")) as SynthGraph;
}

const PRODUCTION_POLICY = {
  notifications: { email: "security@example.com" },
  rollout: {
    imageParameters: [],
    imageGate: { requireSignature: true, signingKeyId: "alias/phoenix-images" },
  },
};
const LONGEST = `s${"x".repeat(MAX_STAGE_LENGTH - 1)}`;
const graphs: Record<string, SynthGraph> = {};

beforeAll(async () => {
  await exec("bash", ["scripts/sst-types.sh"], { cwd: ROOT });
  const [dev, longest, production] = await Promise.all([
    synth("dev"),
    synth(LONGEST),
    synth("production", PRODUCTION_POLICY),
  ]);
  Object.assign(graphs, { dev, [LONGEST]: longest, production });
}, 180_000);

interface Statement {
  Effect: string;
  Action?: string | string[];
  Resource?: string | string[];
  Principal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[]>>;
}
const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];
const statementsOf = (json: string): Statement[] =>
  (JSON.parse(json) as { Statement: Statement[] }).Statement;

/** Every IAM document in the graph that grants something: inline, role and queue policies. */
function grantingDocuments(graph: SynthGraph): { where: string; statements: Statement[] }[] {
  const documents: { where: string; statements: Statement[] }[] = [];
  for (const role of resourcesOfType(graph, "aws:iam/role:Role")) {
    for (const inline of (role.inputs["inlinePolicies"] as { name: string; policy: string }[] | undefined) ??
      [])
      documents.push({
        where: `${role.name} inline ${inline.name}`,
        statements: statementsOf(inline.policy),
      });
  }
  for (const type of [
    "aws:iam/rolePolicy:RolePolicy",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:iam/policy:Policy",
  ]) {
    for (const resource of resourcesOfType(graph, type))
      documents.push({ where: resource.name, statements: statementsOf(stringInput(resource, "policy")!) });
  }
  return documents;
}

/** The statements of a derived policy as IAM reads them (order and Sids aside). */
function normalized(statements: Statement[]) {
  return statements
    .map((s) => ({
      effect: s.Effect,
      actions: list(s.Action).sort(),
      resources: list(s.Resource).sort(),
      conditions: Object.entries(s.Condition ?? {})
        .flatMap(([test, vars]) =>
          Object.entries(vars).map(([variable, values]) => ({ test, variable, values: list(values).sort() })),
        )
        .sort((a, b) => `${a.test}${a.variable}`.localeCompare(`${b.test}${b.variable}`)),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

function contextFor(stage: string, policy: unknown = {}) {
  return policyContext({
    partition: "aws",
    region: "us-east-1",
    account: "123456789012",
    stage,
    policy: parsePolicy(policy),
    fleetRoleArns: [],
  });
}

const roleOf = (graph: SynthGraph, arn: string): SynthResource => {
  const name = arn.split("/").pop();
  const role = resourcesOfType(graph, "aws:iam/role:Role").find((r) => stringInput(r, "name") === name);
  if (!role) throw new Error(`no role named ${name} in the graph`);
  return role;
};

describe.each([
  ["dev", {}],
  ["production", PRODUCTION_POLICY],
])("the graph of stage %s", (stage, policy) => {
  const graph = () => graphs[stage]!;

  it("creates one function per entry point, each with the least-privilege policy derived from its code", () => {
    const functions = resourcesOfType(graph(), "aws:lambda/function:Function");
    expect(functions.map((f) => stringInput(f, "name")).sort()).toEqual(
      PHOENIX_FUNCTIONS.map((name) => deployedFunctionName(stage, name)).sort(),
    );
    const ctx = contextFor(stage, policy);
    for (const name of PHOENIX_FUNCTIONS) {
      const fn = functions.find((f) => stringInput(f, "name") === deployedFunctionName(stage, name))!;
      const role = roleOf(graph(), stringInput(fn, "role")!);
      const inline = (role.inputs["inlinePolicies"] as { policy: string }[]).flatMap((p) =>
        statementsOf(p.policy),
      );
      // As IAM reads the derived statements (Deny ones included, conditions grouped by operator).
      const derived: Statement[] = policyDocument(functionPolicy(name, ctx, readRepository)).Statement;
      expect(normalized(inline), name).toEqual(normalized(derived));
    }
  });

  it("gives each state machine role exactly what its ASL invokes", () => {
    const ctx = contextFor(stage, policy);
    for (const machine of resourcesOfType(graph(), "aws:sfn/stateMachine:StateMachine")) {
      const key = (Object.keys(PHOENIX_STATE_MACHINES) as PhoenixStateMachine[]).find((m) =>
        stringInput(machine, "name")!.endsWith(`-${m}`),
      )!;
      const role = roleOf(graph(), stringInput(machine, "roleArn")!);
      const policies = resourcesOfType(graph(), "aws:iam/rolePolicy:RolePolicy").filter(
        (p) => p.inputs["role"] === stringInput(role, "name"),
      );
      const granted = policies.flatMap((p) => statementsOf(stringInput(p, "policy")!));
      const template = JSON.parse(readRepository(PHOENIX_STATE_MACHINES[key])!);
      const derived = stateMachinePolicy(key, template, ctx).map((s) => ({
        Effect: "Allow",
        Action: s.actions,
        Resource: s.resources,
      }));
      expect(normalized(granted), key).toEqual(normalized(derived));
    }
  });

  it("lets every role be assumed by its own service only (never the account root)", () => {
    for (const role of resourcesOfType(graph(), "aws:iam/role:Role")) {
      const trust = statementsOf(stringInput(role, "assumeRolePolicy")!);
      for (const statement of trust) {
        expect(Object.keys(statement.Principal ?? {}), role.name).toEqual(["Service"]);
        const services = list(statement.Principal!["Service"]);
        expect(services, role.name).toHaveLength(1);
        expect(["lambda.amazonaws.com", "states.amazonaws.com"], role.name).toContain(services[0]);
      }
    }
  });

  it("has no IAM statement with an empty or missing Resource", () => {
    const documents = grantingDocuments(graph());
    expect(documents.length).toBeGreaterThan(PHOENIX_FUNCTIONS.length);
    for (const { where, statements } of documents) {
      for (const statement of statements) expect(list(statement.Resource).length, where).toBeGreaterThan(0);
    }
  });

  it("gives every EventBridge target a retry policy and a dead-letter queue the graph creates", () => {
    const queues = new Set(
      resourcesOfType(graph(), "aws:sqs/queue:Queue").map(
        (q) => `arn:aws:sqs:us-east-1:123456789012:${stringInput(q, "name")}`,
      ),
    );
    const targets = resourcesOfType(graph(), "aws:cloudwatch/eventTarget:EventTarget");
    expect(targets.length).toBe(resourcesOfType(graph(), "aws:cloudwatch/eventRule:EventRule").length);
    for (const target of targets) {
      const retry = target.inputs["retryPolicy"] as { maximumRetryAttempts?: number } | undefined;
      expect(retry?.maximumRetryAttempts, target.name).toBeGreaterThan(0);
      const dlq = (target.inputs["deadLetterConfig"] as { arn?: string } | undefined)?.arn;
      expect(queues, target.name).toContain(dlq);
    }
  });

  it("admits exactly its rules to every queue, and reports batch item failures from every queue-driven function", () => {
    const ruleArn = (name: string) => `arn:aws:events:us-east-1:123456789012:rule/${name}`;
    const targets = resourcesOfType(graph(), "aws:cloudwatch/eventTarget:EventTarget");
    for (const queuePolicy of resourcesOfType(graph(), "aws:sqs/queuePolicy:QueuePolicy")) {
      const [statement] = statementsOf(stringInput(queuePolicy, "policy")!);
      const queueArn = list(statement!.Resource)[0]!;
      const expected = targets
        .filter(
          (t) =>
            t.inputs["arn"] === queueArn ||
            (t.inputs["deadLetterConfig"] as { arn?: string })?.arn === queueArn,
        )
        .map((t) => ruleArn(String(t.inputs["rule"])))
        .sort();
      expect(list(statement!.Condition?.["ArnEquals"]?.["aws:SourceArn"]).sort(), queueArn).toEqual(expected);
      expect(statement!.Principal).toEqual({ Service: "events.amazonaws.com" });
    }
    const mappings = resourcesOfType(graph(), "aws:lambda/eventSourceMapping:EventSourceMapping");
    expect(mappings.length).toBeGreaterThan(0);
    for (const mapping of mappings)
      expect(mapping.inputs["functionResponseTypes"]).toEqual(["ReportBatchItemFailures"]);
  });

  it("has final, valid state machine definitions whose every Lambda is in the graph and invocable by the machine's role", () => {
    const functionArns = new Set(
      resourcesOfType(graph(), "aws:lambda/function:Function").map(
        (f) => `arn:aws:lambda:us-east-1:123456789012:function:${stringInput(f, "name")}`,
      ),
    );
    const machines = resourcesOfType(graph(), "aws:sfn/stateMachine:StateMachine");
    expect(machines).toHaveLength(Object.keys(PHOENIX_STATE_MACHINES).length);
    for (const machine of machines) {
      const definition = stringInput(machine, "definition")!;
      expect(definition, machine.name).not.toContain("${");
      const result = aslValidator(JSON.parse(definition), { checkArn: true, checkPaths: true });
      expect(result.errorsText("\n"), machine.name).toBe("");
      const named = [...definition.matchAll(/"FunctionName":\s*"([^"]+)"/g)].map((m) => m[1]!);
      expect(named.length).toBeGreaterThan(0);
      const role = roleOf(graph(), stringInput(machine, "roleArn")!);
      const granted = resourcesOfType(graph(), "aws:iam/rolePolicy:RolePolicy")
        .filter((p) => p.inputs["role"] === stringInput(role, "name"))
        .flatMap((p) => statementsOf(stringInput(p, "policy")!))
        .filter((s) => list(s.Action).includes("lambda:InvokeFunction"))
        .flatMap((s) => list(s.Resource));
      for (const arn of named) {
        expect(functionArns, `${machine.name} → ${arn}`).toContain(arn);
        expect(granted, `${machine.name} may invoke ${arn}`).toContain(arn);
      }
    }
  });
});

/** AWS's name limits of the resource types Phoenix names. */
const NAME_LIMITS: Record<string, number> = {
  "aws:lambda/function:Function": 64,
  "aws:iam/role:Role": 64,
  "aws:iam/instanceProfile:InstanceProfile": 128,
  "aws:iam/rolePolicy:RolePolicy": 128,
  "aws:sqs/queue:Queue": 80,
  "aws:sns/topic:Topic": 256,
  "aws:dynamodb/table:Table": 255,
  "aws:cloudwatch/eventRule:EventRule": 64,
  "aws:sfn/stateMachine:StateMachine": 80,
  "aws:cloudwatch/logGroup:LogGroup": 512,
  "aws:cloudwatch/metricAlarm:MetricAlarm": 255,
};

describe("names", () => {
  it(`fit AWS's limits for the longest stage allowed (${MAX_STAGE_LENGTH} characters)`, () => {
    const graph = graphs[LONGEST]!;
    expect(graph.resources.length).toBeGreaterThan(100);
    for (const resource of graph.resources) {
      const limit = NAME_LIMITS[resource.type];
      const name = stringInput(resource, "name");
      if (limit === undefined || name === undefined) continue;
      expect(name.length, `${resource.type} ${name}`).toBeLessThanOrEqual(limit);
    }
    expect(resourcesOfType(graph, "aws:lambda/function:Function")).toHaveLength(PHOENIX_FUNCTIONS.length);
  });

  it("refuse a longer stage before any resource is created, naming the limit", async () => {
    const failed = await exec(
      "npx",
      [
        "tsx",
        "build/synth/main.ts",
        "--stage",
        `${LONGEST}x`,
        "--no-bundle",
        "--out",
        join(dir, "too-long.json"),
      ],
      { cwd: ROOT },
    ).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(`at most ${MAX_STAGE_LENGTH} fit in the names`);
    expect(() => readFileSync(join(dir, "too-long.json"))).toThrow();
  });
});
