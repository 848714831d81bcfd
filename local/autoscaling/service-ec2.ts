import { EC2Client } from "@aws-sdk/client-ec2";
import type { LocalCloudContext } from "../core/context.js";
import { LOCAL_ONLY_PREFIX } from "../gateway/forward.js";
import { inAccount } from "../gateway/moto-account.js";

/**
 * The EC2 client the local Auto Scaling engine acts through. Its calls are marked as Auto
 * Scaling's own, so moto treats them as AWS treats the service's: a termination ignores the
 * instance's termination protection (local/core/moto-python/sitecustomize.py).
 */
export function autoScalingEc2(
  context: Pick<LocalCloudContext, "internalClientConfig" | "accountId">,
): EC2Client {
  const client = inAccount(new EC2Client(context.internalClientConfig), context.accountId);
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[`${LOCAL_ONLY_PREFIX}service`] = "autoscaling";
      return next(args);
    },
    { step: "build", name: "phoenixLocalAutoScalingCaller" },
  );
  return client;
}
