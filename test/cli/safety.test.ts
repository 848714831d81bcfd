import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AutoScalingClient, CreateOrUpdateTagsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import { loadGuardDutyEvent } from "../support/sample-events.js";
import { phoenix, useCliCloud } from "./support.js";

/**
 * Safety (issue 11) through the documented entry points: the AWS CLI and the phoenix CLI against
 * a local cloud that runs Phoenix as `phoenix local` deploys it.
 *
 * Item 2: StartExecution is a documented entry point, and an execution started directly
 * (here with the AWS CLI, as an attacker or a careless script would) goes through the same
 * protection, budget and record as a finding. Before, it isolated, detached and terminated the
 * instance of a protected group, and `phoenix release` then said Phoenix had no containment.
 */
const exec = promisify(execFile);
const world = useCliCloud();
const groupInstances = (name: string) => world.fleet.groups.find((g) => g.name === name)!.instanceIds;

async function aws(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await exec("aws", [...args, "--output", "json"], {
    env: { ...process.env, ...world.env, AWS_DEFAULT_REGION: "us-east-1" },
  });
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}

async function containArn(): Promise<string> {
  const { stateMachines } = (await aws("stepfunctions", "list-state-machines")) as {
    stateMachines: { name: string; stateMachineArn: string }[];
  };
  const found = stateMachines.find((machine) => machine.name.endsWith("contain"));
  if (!found)
    throw new Error(`no contain state machine among ${stateMachines.map((m) => m.name).join(", ")}`);
  return found.stateMachineArn;
}

async function finished(executionArn: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const execution = await aws("stepfunctions", "describe-execution", "--execution-arn", executionArn);
    if (execution["status"] !== "RUNNING") return execution;
    if (Date.now() > deadline) throw new Error(`${executionArn} still running`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** `aws stepfunctions start-execution` of the contain machine, waited for to its end. */
async function startDirectly(name: string, input: string): Promise<Record<string, unknown>> {
  const started = await aws(
    "stepfunctions",
    "start-execution",
    "--state-machine-arn",
    await containArn(),
    "--name",
    name,
    "--input",
    input,
  );
  return finished(String(started["executionArn"]));
}

function directInput(instanceId: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    containment: {
      containmentId: "made-up",
      instanceId,
      accountId: "123456789012",
      findingId: `direct-${instanceId}`,
      findingType: "Backdoor:EC2/C&CActivity.B",
      severity: 9,
      findingReceivedAt: new Date().toISOString(),
      generation: 1,
      // Both lies: the workflow finds the group itself, and only the approval path approves.
      groupName: "not-its-group",
      approvedBy: "user:mallory",
      ...extra,
    },
    results: {},
  });
}

describe("a contain execution started directly with StartExecution", () => {
  it("on a protected group's instance: held like a finding, nothing done, the record exists for release", async () => {
    const [instanceId] = groupInstances("vault");
    const ec2 = new EC2Client(world.backstage);
    const before = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId!] }));
    const execution = await startDirectly("direct-vault", directInput(instanceId!));
    expect(execution["status"]).toBe("FAILED");
    expect(execution["error"]).toBe("Phoenix.Held");
    expect(String(execution["cause"])).toMatch(/tagged phoenix:protected=true/);

    const after = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId!] }));
    const instance = after.Reservations?.[0]?.Instances?.[0];
    expect(instance?.State?.Name).toBe("running");
    expect(instance?.SecurityGroups).toEqual(before.Reservations?.[0]?.Instances?.[0]?.SecurityGroups);
    expect(instance?.Tags?.some((t) => t.Key === "phoenix:quarantine")).toBe(false);

    const trail = await phoenix(["audit", "--instance", instanceId!, "--json"], world.env);
    const actions = trail.json<{ records: { action: string; outcome: string }[] }>().records;
    expect(actions).toContainEqual(expect.objectContaining({ action: "hold", outcome: "held" }));
    expect(actions).toContainEqual(expect.objectContaining({ action: "admit-execution", outcome: "held" }));

    const released = await phoenix(["release", instanceId!, "--reason", "test", "--json"], world.env);
    expect(released.stdout + released.stderr).not.toMatch(/has no containment/);
  });

  it("on an ordinary instance: handed to the intake, which contains it under the record's own name", async () => {
    const [instanceId] = groupInstances("web-backend");
    const execution = await startDirectly("direct-backend", directInput(instanceId!));
    expect(execution["status"], String(execution["cause"])).toBe("SUCCEEDED");
    const { executions } = (await aws(
      "stepfunctions",
      "list-executions",
      "--state-machine-arn",
      await containArn(),
    )) as {
      executions: { name: string }[];
    };
    expect(executions.map((e) => e.name)).toContainEqual(expect.stringContaining(instanceId!));
    const trail = await phoenix(["audit", "--instance", instanceId!, "--json"], world.env);
    const records = trail.json<{ records: { action: string; details?: Record<string, unknown> }[] }>()
      .records;
    const start = records.find((r) => r.action === "start-containment");
    // The group is the one Auto Scaling says, not the input's "not-its-group".
    expect(start?.details?.["groupName"]).toBe("web-backend");
  });

  it("refuses an input that names no real instance, with the reason, and acts on nothing", async () => {
    const execution = await startDirectly(
      "direct-garbage",
      JSON.stringify({ containment: { instanceId: "i-nope", accountId: "1" }, results: {} }),
    );
    expect(execution["status"]).toBe("FAILED");
    expect(execution["error"]).toBe("Phoenix.NotAdmitted");
    expect(String(execution["cause"])).toMatch(/containment.instanceId: must be an EC2 instance id/);
  });
});

describe("retrying a rollout that ended badly (item 7)", () => {
  it("says what happened and how to retry; --retry starts <name>-retry1 from the groups as they are now", async () => {
    const help = await phoenix(["rollout", "--help"], world.env);
    expect(help.stdout).toMatch(/--retry/);
    expect(help.stdout).toMatch(/retry/i);

    const autoScaling = new AutoScalingClient(world.backstage);
    const tagWave = (value: string) =>
      autoScaling.send(
        new CreateOrUpdateTagsCommand({
          Tags: [
            {
              ResourceId: "api",
              ResourceType: "auto-scaling-group",
              Key: "phoenix:wave",
              Value: value,
              PropagateAtLaunch: false,
            },
          ],
        }),
      );
    await tagWave("first");
    const imageId = await registerImage(new EC2Client(world.backstage), {
      family: "api",
      name: "golden-api-retry",
    });
    const first = await phoenix(["rollout", "--image", imageId, "--watch", "--json"], world.env);
    expect(first.code).toBe(1);

    const again = await phoenix(["rollout", "--image", imageId], world.env);
    expect(again.stdout).toMatch(/already ran and ended FAILED/);
    expect(again.stdout).not.toMatch(/was already rolled out/);
    expect(again.stdout).toContain(`phoenix rollout --image ${imageId} --family api --retry`);

    await tagWave("1");
    const retried = await phoenix(["rollout", "--image", imageId, "--retry", "--json"], world.env);
    const started = retried.json<{ execution: string; created: boolean }>();
    expect(started.created).toBe(true);
    expect(started.execution).toMatch(/-retry1$/);
    const watched = await phoenix(["watch", started.execution, "--json"], world.env);
    expect(watched.code, watched.stdout.slice(-2000)).toBe(0);

    const done = await phoenix(["rollout", "--image", imageId, "--retry"], world.env);
    expect(done.stdout).toMatch(/already succeeded.*nothing to retry/);
  });
});

describe("the plan and the workflow agree (plan --instance, plan --event vs what the execution ran)", () => {
  interface Plan {
    decision: string;
    group?: { name: string };
    course: { state: string; action: string }[];
  }
  async function planAndContain(instanceId: string) {
    const planned = (await phoenix(["plan", "--instance", instanceId, "--json"], world.env)).json<Plan>();
    const contained = await phoenix(
      ["contain", instanceId, "--reason", "plan agreement test", "--json"],
      world.env,
    );
    const { executionArn, outcome } = contained.json<{ executionArn?: string; outcome: string }>();
    return { planned, outcome, executionArn };
  }

  async function ran(executionArn: string) {
    const execution = await finished(executionArn);
    expect(execution["status"], String(execution["cause"])).toBe("SUCCEEDED");
    const output = JSON.parse(String(execution["output"])) as {
      results: { replace?: { replaced: boolean }; dispose?: { disposition: string } };
    };
    const { events } = (await aws(
      "stepfunctions",
      "get-execution-history",
      "--execution-arn",
      executionArn,
    )) as {
      events: { type: string; stateEnteredEventDetails?: { name: string } }[];
    };
    const entered = events.flatMap((e) =>
      e.type === "TaskStateEntered" ? [e.stateEnteredEventDetails!.name] : [],
    );
    return { results: output.results, entered };
  }

  const DISPOSITION = { terminate: "terminated", stop: "stopped", keep: "kept" } as Record<string, string>;

  function expectAgreement(planned: Plan, actual: Awaited<ReturnType<typeof ran>>) {
    for (const step of planned.course) expect(actual.entered, step.state).toContain(step.state);
    const replace = planned.course.find((s) => s.state === "Replace")!;
    expect(actual.results.replace?.replaced).toBe(replace.action === "detach");
    const dispose = planned.course.find((s) => s.state === "Dispose")!;
    expect(actual.results.dispose?.disposition).toBe(DISPOSITION[dispose.action]);
  }

  it("a group's instance: planned detach and terminate, and that is what ran", async () => {
    const [instanceId] = groupInstances("web-frontend");
    const { planned, outcome, executionArn } = await planAndContain(instanceId!);
    expect(planned.decision).toBe("start");
    expect(outcome).toBe("started");
    expect(planned.group?.name).toBe("web-frontend");
    expectAgreement(planned, await ran(executionArn!));
  });

  it("a standalone instance: planned no replacement and kept (not terminated), and that is what ran", async () => {
    const { planned, outcome, executionArn } = await planAndContain(world.fleet.standaloneInstanceId);
    expect(planned.decision).toBe("start");
    expect(planned.course.find((s) => s.state === "Dispose")?.action).toBe("keep");
    expect(outcome).toBe("started");
    expectAgreement(planned, await ran(executionArn!));
  });

  it("a protected instance: planned hold, and held", async () => {
    const [, instanceId] = groupInstances("vault");
    const { planned, outcome } = await planAndContain(instanceId!);
    expect(planned.decision).toBe("hold");
    expect(outcome).toBe("held");
  });

  it("plan --event finds the instance's group although the finding carries no group tag", async () => {
    const [, instanceId] = groupInstances("web-backend");
    const sample = loadGuardDutyEvent("unauthorizedaccess-ec2-torclient-target.json") as {
      detail: Record<string, unknown> & { resource: { instanceDetails: Record<string, unknown> } };
    };
    sample.detail.resource.instanceDetails["instanceId"] = instanceId;
    delete sample.detail.resource.instanceDetails["tags"];
    (sample.detail as Record<string, unknown>)["accountId"] = "123456789012";
    (sample.detail as Record<string, unknown>)["region"] = "us-east-1";
    Object.assign(sample, { account: "123456789012", region: "us-east-1" });
    const file = join(tmpdir(), `phoenix-plan-event-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(sample));
    const plan = await phoenix(["plan", "--event", file, "--json"], {
      ...world.env,
      PHOENIX_POLICY: JSON.stringify({ containment: { allowSampleFindings: true } }),
    });
    const parsed = plan.json<{ instance?: { group?: { name: string } } }>();
    expect(parsed.instance?.group?.name, plan.stdout).toBe("web-backend");
  });
});
