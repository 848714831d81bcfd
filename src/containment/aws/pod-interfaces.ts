import {
  DescribeNetworkInterfacesCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from "@aws-sdk/client-ec2";
import type { PhoenixDeps } from "../../deps.js";
import type { InterfaceIsolation } from "../core/types.js";
import { attachedInterfaces, type OwnedInstance } from "./instance.js";
import type { IsolationGroups } from "./isolation-groups.js";

/**
 * Pods with network interfaces of their own (EKS security groups for pods): the VPC resource
 * controller gives each such pod a branch interface on the node's trunk interface, tagged with
 * the trunk's id. A branch is not among the instance's attached interfaces, so isolating the node
 * alone would leave those pods' traffic flowing through their own security groups. Found here by
 * that tag, for any instance (a node contained for an EC2 finding has pods too).
 */
export const TRUNK_ENI_TAG = "vpcresources.k8s.aws/trunk-eni-id";

export interface PodInterface {
  networkInterfaceId: string;
  vpcId: string;
  groupIds: string[];
}

/** The branch interfaces on any of the instance's attached interfaces. One read; none: []. */
export async function podInterfaces(deps: PhoenixDeps, instance: OwnedInstance): Promise<PodInterface[]> {
  const trunks = attachedInterfaces(instance).map((eni) => eni.NetworkInterfaceId!);
  if (trunks.length === 0) return [];
  const found: PodInterface[] = [];
  let NextToken: string | undefined;
  do {
    const page = await deps.clients.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: `tag:${TRUNK_ENI_TAG}`, Values: trunks }],
        NextToken,
      }),
    );
    for (const eni of page.NetworkInterfaces ?? []) {
      if (!eni.NetworkInterfaceId || !eni.VpcId) continue;
      found.push({
        networkInterfaceId: eni.NetworkInterfaceId,
        vpcId: eni.VpcId,
        groupIds: (eni.Groups ?? []).map((g) => g.GroupId!).sort(),
      });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return found.sort((a, b) => a.networkInterfaceId.localeCompare(b.networkInterfaceId));
}

/**
 * Moves the pods' interfaces through the two isolation groups, as the node's: allow-all first (so
 * their tracked flows become untracked), then no-rule. One already in the no-rule group is left.
 */
export async function cutPodInterfaces(
  deps: PhoenixDeps,
  pods: readonly PodInterface[],
  original: readonly PodInterface[],
  groups: IsolationGroups,
): Promise<InterfaceIsolation[]> {
  const only = (eni: PodInterface, id: string | undefined) =>
    eni.groupIds.length === 1 && eni.groupIds[0] === id;
  const pending = pods.filter((eni) => !only(eni, groups.quarantine[eni.vpcId]));
  const move = (id: string, groupId: string) =>
    deps.clients.ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: id, Groups: [groupId] }),
    );
  await Promise.all(
    pending
      .filter((eni) => !only(eni, groups.transition[eni.vpcId]))
      .map((eni) => move(eni.networkInterfaceId, groups.transition[eni.vpcId]!)),
  );
  await Promise.all(pending.map((eni) => move(eni.networkInterfaceId, groups.quarantine[eni.vpcId]!)));
  return pods.map((eni) => ({
    networkInterfaceId: eni.networkInterfaceId,
    vpcId: eni.vpcId,
    originalGroupIds:
      original.find((o) => o.networkInterfaceId === eni.networkInterfaceId)?.groupIds ?? eni.groupIds,
  }));
}
