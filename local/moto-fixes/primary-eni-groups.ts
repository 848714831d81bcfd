import {
  DescribeNetworkInterfacesCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
} from "@aws-sdk/client-ec2";
import type { LocalCloudPlugin } from "../core/context.js";
import { forwardToMoto } from "../gateway/forward.js";

/**
 * moto reports an attached interface's groups as the union of its own and the instance's launch
 * groups (NetworkInterface.group_set), so after ModifyNetworkInterfaceAttribute the launch group
 * still shows and an interface can never be seen leaving it. In EC2 the instance's groups are its
 * primary interface's. This plugin keeps moto's instance groups equal to the primary interface's
 * after every change of them, which makes what moto describes match EC2 once all interfaces of an
 * instance are in the same groups. Loaded by every local cloud (local/plugins.ts).
 */
export function primaryInterfaceGroups(): LocalCloudPlugin {
  return (context) => {
    const ec2 = new EC2Client(context.internalClientConfig);
    return {
      name: "primary-eni-groups",
      handlers: [
        {
          name: "primary-eni-groups",
          handles: (request) =>
            request.service === "ec2" && request.action === "ModifyNetworkInterfaceAttribute",
          async handle(request) {
            const response = await forwardToMoto(context.motoUrl, request);
            const groupIds = [...request.params.entries()]
              .filter(([key]) => /^SecurityGroupId\.\d+$/.test(key))
              .map(([, value]) => value);
            const eniId = request.params.get("NetworkInterfaceId");
            if (response.status !== 200 || groupIds.length === 0 || !eniId) return response;
            const { NetworkInterfaces = [] } = await ec2.send(
              new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }),
            );
            const attachment = NetworkInterfaces[0]?.Attachment;
            if (attachment?.DeviceIndex === 0 && attachment.InstanceId) {
              await ec2.send(
                new ModifyInstanceAttributeCommand({ InstanceId: attachment.InstanceId, Groups: groupIds }),
              );
            }
            return response;
          },
        },
      ],
    };
  };
}
