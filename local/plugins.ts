import type { Policy } from "../src/policy/index.js";
import { autoScalingPlugin } from "./autoscaling/index.js";
import type { LocalCloudPlugin } from "./core/context.js";
import { notificationsPlugin } from "./core/notifications.js";
import { dashboardPlugin } from "./dashboard/index.js";
import { type DeploymentOptions, deploymentPlugin } from "./deployment/index.js";
import { eventsPlugin } from "./events/index.js";
import { launchTemplateSourceVersion } from "./moto-fixes/launch-template-source.js";
import { primaryInterfaceGroups } from "./moto-fixes/primary-eni-groups.js";
import { registerImageTags } from "./moto-fixes/register-image-tags.js";
import { sharedImages } from "./moto-fixes/shared-images.js";
import { stepFunctionsPlugin } from "./stepfunctions/index.js";

export interface BuiltinOptions extends Omit<DeploymentOptions, "policy"> {
  policy?: Policy;
  /** Simulated seconds an instance takes to boot and pass health checks. */
  bootSeconds?: number;
  /** Deploy Phoenix itself (from its resource graph: local/deployment) onto the local cloud (default true). */
  deployPhoenix?: boolean;
}

/**
 * Phoenix deployed on a local cloud: the Step Functions engine its state machines run on, the
 * notification inbox, and the deployment of its resource graph. Tests add the parts they need
 * (Auto Scaling, the EC2 event emitters, moto fixes) in front.
 */
export function phoenixParts(options: DeploymentOptions = {}): LocalCloudPlugin[] {
  return [stepFunctionsPlugin(), notificationsPlugin(), deploymentPlugin(options)];
}

/** Every part of the local runtime that `phoenix local` loads, in start order. */
export function builtinPlugins(options: BuiltinOptions = {}): LocalCloudPlugin[] {
  const { bootSeconds, deployPhoenix, ...deployment } = options;
  const plugins: LocalCloudPlugin[] = [
    primaryInterfaceGroups(),
    launchTemplateSourceVersion(),
    registerImageTags(),
    sharedImages(),
    autoScalingPlugin({ bootSeconds }),
    stepFunctionsPlugin(),
    eventsPlugin(),
    notificationsPlugin(),
  ];
  if (deployPhoenix !== false) {
    plugins.push(deploymentPlugin(deployment));
    plugins.push(
      dashboardPlugin({
        stage: deployment.stage ?? "local",
        ...(deployment.policy ? { policy: deployment.policy } : {}),
      }),
    );
  }
  return plugins;
}
