import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetInstanceHealthCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { StateMachine } from "aws-local-stepfunctions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContainAdmitHandler } from "../../functions/contain-admit.js";
import { createContainDisposeHandler } from "../../functions/contain-dispose.js";
import { createContainEvidenceHandler } from "../../functions/contain-evidence.js";
import { createContainEvidenceStatusHandler } from "../../functions/contain-evidence-status.js";
import { createContainHardenHandler } from "../../functions/contain-harden.js";
import { createContainIsolateHandler } from "../../functions/contain-isolate.js";
import { createContainReplaceHandler } from "../../functions/contain-replace.js";
import { createContainReplacementStatusHandler } from "../../functions/contain-replacement-status.js";
import { createContainReportHandler } from "../../functions/contain-report.js";
import { createContainReportFailureHandler } from "../../functions/contain-report-failure.js";
import { createContainRevokeHandler } from "../../functions/contain-revoke.js";
import { createOnFindingHandler } from "../../functions/on-finding.js";
import { getContainment, groupMembers } from "../../src/containment/state.js";
import { renderContainDefinition } from "../../src/containment/steps/catalog.js";
import type { ContainState } from "../../src/containment/steps/types.js";
import type { PhoenixDeps } from "../../src/deps.js";
import {
  containTemplate,
  drainNotifications,
  guardDutyEvent,
  type Harness,
  lambdaContext,
  sqsEvent,
  startHarness,
  TOR_CLIENT,
} from "./support/fixtures.js";

const ACCOUNT = "123456789012";
let h: Harness;
let ec2: EC2Client;
let autoScaling: AutoScalingClient;

beforeAll(async () => {
  h = await startHarness({
    policy: { containment: { allowSampleFindings: true, replacementTimeoutMinutes: 1 } },
  });
  ec2 = new EC2Client(h.cloud.context.internalClientConfig);
  autoScaling = new AutoScalingClient(h.cloud.context.internalClientConfig);
});
afterAll(async () => {
  await h?.stop();
});

type LocalHandler = (input: unknown) => Promise<unknown>;

/** Every Task state mapped to the real Lambda handler, called as lambda:invoke would. */
function taskHandlers(deps: PhoenixDeps, wrap: Record<string, (run: LocalHandler) => LocalHandler> = {}) {
  const handlers = {
    Admit: createContainAdmitHandler(deps),
    Isolate: createContainIsolateHandler(deps),
    Harden: createContainHardenHandler(deps),
    RevokeCredentials: createContainRevokeHandler(deps),
    CollectEvidence: createContainEvidenceHandler(deps),
    CheckSnapshots: createContainEvidenceStatusHandler(deps),
    Replace: createContainReplaceHandler(deps),
    CheckReplacement: createContainReplacementStatusHandler(deps),
    Dispose: createContainDisposeHandler(deps),
    Report: createContainReportHandler(deps),
    ReportFailure: createContainReportFailureHandler(deps),
  };
  return Object.fromEntries(
    Object.entries(handlers).map(([state, handler]) => {
      const run: LocalHandler = async (input) => {
        const { FunctionName, Payload } = input as { FunctionName: string; Payload: ContainState };
        return { Payload: await handler(Payload, lambdaContext(FunctionName)) };
      };
      return [state, wrap[state]?.(run) ?? run];
    }),
  );
}

async function runWorkflow(
  deps: PhoenixDeps,
  input: ContainState,
  wrap?: Parameters<typeof taskHandlers>[1],
) {
  const definition = JSON.parse(renderContainDefinition(containTemplate()));
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  const states = Object.keys(definition.States);
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: taskHandlers(deps, wrap) as never,
      waitTimeOverrides: { WaitForSnapshots: 10, WaitForReplacement: 10 },
      retryIntervalOverrides: Object.fromEntries(states.map((s) => [s, 10])),
    },
    // The intake starts the execution under the record's name, which is the input's containmentId.
    context: { Execution: { Name: input.containment.containmentId } },
  });
  try {
    return { output: (await execution.result) as unknown as ContainState, error: undefined };
  } catch (error) {
    return { output: undefined, error: ((error as Error).cause ?? error) as Error };
  }
}

async function findingToExecutionInput(instanceId: string, findingId: string): Promise<ContainState> {
  const onFinding = createOnFindingHandler(h.deps);
  const result = await onFinding(
    sqsEvent([guardDutyEvent(TOR_CLIENT, { instanceId, findingId })]),
    lambdaContext(),
  );
  expect(result.batchItemFailures).toEqual([]);
  const record = await getContainment(h.deps, ACCOUNT, instanceId);
  expect(record?.status).toBe("running");
  // What StartExecution was given is what the record stores.
  return { containment: record!.executionInput, results: {} };
}

describe("a finding contained end to end: intake, then the ASL run with the real handlers", () => {
  it("isolates, keeps evidence, replaces, terminates, reports, and closes the record", async () => {
    const instanceId = h.fleet.groups.find((g) => g.name === "web-backend")!.instanceIds[0]!;
    await drainNotifications(h);
    const input = await findingToExecutionInput(instanceId, "e2e00000000000000000000000000001");
    expect(await groupMembers(h.deps, ACCOUNT, "web-backend")).toEqual([instanceId]);

    const { output, error } = await runWorkflow(h.deps, input);
    expect(error).toBeUndefined();
    expect(output?.results.dispose?.disposition).toBe("terminated");
    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    expect(Reservations?.[0]?.Instances?.[0]?.State?.Name).toBe("terminated");

    const record = await getContainment(h.deps, ACCOUNT, instanceId);
    expect(record?.status).toBe("succeeded");
    expect(await groupMembers(h.deps, ACCOUNT, "web-backend")).toEqual([]);
    const outcome = (await h.deps.audit.history(`instance/${instanceId}`)).find(
      (r) => r.action === "contain",
    );
    expect(outcome?.outcome).toBe("ok");
    expect((outcome?.details?.["timeline"] as { entries: unknown[] } | undefined)?.entries).toHaveLength(5);
    const notes = await drainNotifications(h);
    expect(
      notes.some((n) => n.subject === `Contained ${instanceId} (UnauthorizedAccess:EC2/TorClient)`),
    ).toBe(true);
  });

  it("fails loudly and leaves the instance isolated when the group does not recover in time", async () => {
    const group = "web-frontend";
    const instanceId = h.fleet.groups.find((g) => g.name === group)!.instanceIds[1]!;
    await drainNotifications(h);
    const input = await findingToExecutionInput(instanceId, "e2e00000000000000000000000000002");
    // The clock jumps past the replacement timeout once the instance is detached.
    let offsetMs = 0;
    const deps: PhoenixDeps = { ...h.deps, now: () => new Date(Date.now() + offsetMs) };
    const { output, error } = await runWorkflow(deps, input, {
      Replace: (run) => async (payload) => {
        const result = await run(payload);
        // The replacement never becomes healthy.
        const { AutoScalingGroups = [] } = await autoScaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
        );
        for (const instance of AutoScalingGroups[0]?.Instances ?? []) {
          await autoScaling.send(
            new SetInstanceHealthCommand({ InstanceId: instance.InstanceId, HealthStatus: "Unhealthy" }),
          );
        }
        offsetMs = 5 * 60_000;
        return result;
      },
    });
    expect(output).toBeUndefined();
    expect(error?.name).toBe("Phoenix.ContainmentFailed");
    expect(error?.message).toMatch(/waiting for the group to be back at full healthy capacity/);
    expect(error?.message).toMatch(/Phoenix\.Timeout/);
    expect(error?.message).toMatch(/stays isolated/);

    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations![0]!.Instances![0]!;
    expect(instance.State?.Name).toBe("running");
    const quarantine = (await h.deps.audit.history(`instance/${instanceId}`)).find(
      (r) => r.action === "isolate",
    )?.details?.["quarantineGroupIds"] as Record<string, string>;
    expect(instance.NetworkInterfaces![0]!.Groups!.map((g) => g.GroupId)).toEqual([
      quarantine[instance.VpcId!],
    ]);

    expect((await getContainment(h.deps, ACCOUNT, instanceId))?.status).toBe("failed");
    // A failed containment keeps its group slot until a person looks.
    expect(await groupMembers(h.deps, ACCOUNT, group)).toEqual([instanceId]);
    const notes = await drainNotifications(h);
    const failure = notes.find((n) => n.subject.startsWith(`Containment FAILED: ${instanceId}`));
    expect(failure?.message).toMatch(/failed while waiting for the group/);
    expect(failure?.kind).toBe("error");
  });
});
