import { AssociateIamInstanceProfileCommand, EC2Client } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { getContainment } from "../../src/containment/aws/records.js";
import type { ContainState } from "../../src/containment/core/types.js";
import { ACCOUNT, guardDutyEvent, TOR_CLIENT, useHarness } from "./support/fixtures.js";
import { runContainment } from "./support/run-steps.js";

const h = useHarness({ policy: { containment: { allowSampleFindings: true } } });

const READ = /^(Describe|Get|List|Receive|Query|Scan)/;

describe("throttling and 5xx injected", () => {
  it("still completes every containment, with no action done twice", async () => {
    const targets = [h.fleet.groups[0]!.instanceIds[0]!, h.fleet.groups[2]!.instanceIds[0]!];
    const ec2 = new EC2Client(h.cloud.context.internalClientConfig);
    for (const instanceId of targets) {
      await ec2.send(
        new AssociateIamInstanceProfileCommand({
          InstanceId: instanceId,
          IamInstanceProfile: { Name: h.fleet.instanceProfileName },
        }),
      );
    }
    h.cloud.context.faults.configure({
      seed: 20260101,
      rules: [
        { service: "ec2", throttleRate: 0.3, errorRate: 0.05 },
        { service: "autoscaling", throttleRate: 0.3, errorRate: 0.05 },
        { service: "iam", throttleRate: 0.2 },
        { service: "states", throttleRate: 0.3 },
      ],
    });
    const mark = h.tap.mark();

    const results = await Promise.all(
      targets.map((instanceId, i) =>
        h.onFinding([guardDutyEvent(TOR_CLIENT, { instanceId, findingId: `fault${i}`.padEnd(32, "0") })]),
      ),
    );
    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
    const inputs = await Promise.all(
      targets.map(
        async (id) =>
          ({
            containment: (await getContainment(h.deps, ACCOUNT, id))!.executionInput,
            results: {},
          }) as ContainState,
      ),
    );
    const finals = await Promise.all(
      inputs.map((input) => runContainment(h.deps, input, { retryTransient: 5 })),
    );

    for (const final of finals) {
      expect(final.results.dispose?.disposition).toBe("terminated");
      expect(final.results.report).toBeDefined();
    }
    const injected = h.cloud.context.faults.injected;
    expect(injected.throttle).toBeGreaterThan(10);
    expect(injected.serverError).toBeGreaterThan(0);

    // Every successful mutation is distinct: same action and parameters never twice.
    const mutations = h.tap
      .since(mark)
      .filter((c) => !READ.test(c.action) && c.service !== "dynamodb" && c.service !== "sns");
    const signatures = mutations.map((c) => `${c.service}:${c.action}:${signature(c.params, c.json)}`);
    expect(signatures.filter((s, i) => signatures.indexOf(s) !== i)).toEqual([]);
    const count = (action: string) => mutations.filter((c) => c.action === action).length;
    expect(count("StartExecution")).toBe(2);
    expect(count("DetachInstances")).toBe(2);
    expect(count("TerminateInstances")).toBe(2);
    expect(count("CreateSnapshot")).toBe(2);
    // Both instances share a role: its one revocation policy is written once or twice (the second
    // containment finds the first's write listing it already, or writes the list of both).
    expect(count("PutRolePolicy")).toBeGreaterThanOrEqual(1);
    expect(count("PutRolePolicy")).toBeLessThanOrEqual(2);
    const lastRevocation = mutations.filter((c) => c.action === "PutRolePolicy").at(-1)!;
    for (const instanceId of targets)
      expect(lastRevocation.params["PolicyDocument"]).toContain(`instance/${instanceId}`);
    expect(count("ReplaceIamInstanceProfileAssociation")).toBe(2);
    expect(count("ModifyNetworkInterfaceAttribute")).toBe(4);
    // Both containments needed the isolation groups of the same VPC: created once.
    expect(count("CreateSecurityGroup")).toBe(2);
    const outcomes = h.tap
      .since(mark, { action: "Publish" })
      .filter((c) => c.params["Subject"]?.startsWith("Contained"));
    expect(outcomes).toHaveLength(2);
  });
});

function signature(params: Record<string, string>, json: Record<string, unknown>): string {
  const { Action: _a, Version: _v, ...rest } = params;
  return JSON.stringify([Object.entries(rest).sort(), json["name"] ?? null]);
}
