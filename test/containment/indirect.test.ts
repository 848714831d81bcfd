import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  CreateNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { SFNClient } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getContainment } from "../../src/containment/aws/records.js";
import { awsCli } from "../support/cloud.js";
import { waitForExecution } from "../support/executions.js";
import { type PhoenixCloud, startPhoenixCloud } from "../support/phoenix-cloud.js";
import { until } from "../support/poll.js";
import { ownSampleEvent } from "../support/sample-events.js";

/**
 * Findings that name an instance without being about it, sent as GuardDuty would put them on the
 * bus (the AWS CLI's put-events against the local cloud), through Phoenix's rules and on-finding.
 * The policy opts in to cluster nodes; web-legacy is a group Phoenix does not manage.
 */
let pc: PhoenixCloud;
let sfn: SFNClient;

beforeAll(async () => {
  pc = await startPhoenixCloud({ speed: 200, policy: { containment: { containClusterNodes: true } } });
  sfn = new SFNClient({ ...pc.cloud.context.internalClientConfig, endpoint: pc.cloud.endpoint });
}, 60_000);
afterAll(async () => pc?.stop());

const instanceOf = (group: string, index = 0) =>
  pc.fleet.groups.find((g) => g.name === group)!.instanceIds[index]!;

async function putEvent(file: string, instanceId: string): Promise<void> {
  const event = ownSampleEvent("guardduty", file, instanceId);
  const entry = {
    Source: event["source"],
    DetailType: event["detail-type"],
    Detail: JSON.stringify(event["detail"]),
    Resources: event["resources"],
  };
  const at = path.join(tmpdir(), `phoenix-${process.pid}-${file}`);
  writeFileSync(at, JSON.stringify([entry]));
  const put = (await awsCli(pc.cloud, ["events", "put-events", "--entries", `file://${at}`])) as {
    FailedEntryCount: number;
  };
  expect(put.FailedEntryCount).toBe(0);
}

describe("findings that lead to an instance indirectly", () => {
  it("contains the instance whose role credentials were used outside AWS", async () => {
    const target = instanceOf("web-frontend");
    await putEvent("credential-exfiltration-outside-aws.json", target);
    const ended = await waitForExecution(sfn, pc.phoenix.stateMachineArns.contain, target, 80_000);
    expect(ended.status).toBe("SUCCEEDED");
    const record = await getContainment(pc.phoenix.deps, "123456789012", target);
    expect(record?.status).toBe("succeeded");
    const trail = await pc.phoenix.deps.audit.history(`instance/${target}`);
    expect(trail.find((r) => r.action === "start-containment")?.reason).toMatch(
      new RegExp(`role credentials of instance ${target} were used from outside AWS`),
    );
    // Its earlier sessions are denied on its role, for this instance only.
    expect(trail.find((r) => r.action === "revoke-credentials")?.outcome).toBe("ok");
  }, 90_000);

  it("contains an EKS node of a group Phoenix manages, once the policy opts in, its pods' own interfaces too", async () => {
    const target = instanceOf("api");
    // Two pods with security groups of their own: branch interfaces the VPC resource controller
    // tags with the node's trunk interface (here its primary interface stands in for the trunk).
    const ec2 = new EC2Client({ ...pc.cloud.context.internalClientConfig, endpoint: pc.cloud.endpoint });
    const node = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [target] }))).Reservations![0]!
      .Instances![0]!;
    const trunk = node.NetworkInterfaces![0]!;
    const pods: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { NetworkInterface } = await ec2.send(
        new CreateNetworkInterfaceCommand({
          SubnetId: trunk.SubnetId!,
          Groups: [pc.fleet.appSecurityGroupId],
          TagSpecifications: [
            {
              ResourceType: "network-interface",
              Tags: [
                { Key: "vpcresources.k8s.aws/trunk-eni-id", Value: trunk.NetworkInterfaceId! },
                { Key: "eks:eni:owner", Value: "eks-vpc-resource-controller" },
              ],
            },
          ],
        }),
      );
      pods.push(NetworkInterface!.NetworkInterfaceId!);
    }
    await putEvent("runtime-eks-node.json", target);
    const ended = await waitForExecution(sfn, pc.phoenix.stateMachineArns.contain, target, 80_000);
    expect(ended.status).toBe("SUCCEEDED");
    const isolated = (await pc.phoenix.deps.audit.history(`instance/${target}`)).filter(
      (r) => r.action === "isolate",
    );
    const podRecord = isolated.find((r) => r.details?.podInterfaces !== undefined);
    expect(
      ((podRecord?.details?.podInterfaces ?? []) as { networkInterfaceId: string }[])
        .map((p) => p.networkInterfaceId)
        .sort(),
    ).toEqual(pods.sort());
    const quarantine = Object.values(podRecord!.details!.quarantineGroupIds as Record<string, string>)[0];
    const { NetworkInterfaces } = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: pods }),
    );
    for (const eni of NetworkInterfaces ?? [])
      expect(eni.Groups?.map((g) => g.GroupId)).toEqual([quarantine]);
  }, 90_000);

  it("only notifies for a node of a group Phoenix does not manage", async () => {
    const target = instanceOf("web-legacy");
    await putEvent("runtime-ecs-node.json", target);
    const routed = await until(
      "the finding routed",
      async () => (await pc.phoenix.deps.audit.history("finding/d7f9d4b3c3ec4b8e9a6f5e4d3c2b1f0a")).at(0),
      30_000,
    );
    expect(routed).toMatchObject({
      action: "route",
      outcome: "notified",
      reason: expect.stringMatching(/web-legacy does not carry phoenix:managed=true/),
    });
    expect(await getContainment(pc.phoenix.deps, "123456789012", target)).toBeUndefined();
  }, 60_000);
});
