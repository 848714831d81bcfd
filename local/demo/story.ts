import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { SFNClient } from "@aws-sdk/client-sfn";
import { type WatchedExecution, type WatchLine, WorkflowWatcher } from "../../ops/progress/watcher.js";
import { tagsOf } from "../../src/containment/aws/instance.js";
import type { LocalCloud } from "../cloud.js";
import { registerImage, type SeededFleet } from "../core/seed.js";
import type { LocalDeployment } from "../deployment/index.js";
import { guardDutyFinding } from "./finding.js";

/**
 * Phoenix's story on the demo fleet, told through the same doors a user has: an image
 * published through EC2, a finding put on the bus, the workflows watched through the
 * Step Functions and Auto Scaling APIs.
 */
export interface StoryOptions {
  cloud: LocalCloud;
  phoenix: Pick<LocalDeployment, "stateMachineArns">;
  fleet: SeededFleet;
  say: (text: string) => void;
  /** Real milliseconds any one act may take before the story gives up on it. */
  actTimeoutMs?: number;
  /** Stops the story between its steps (Ctrl-C): it then rejects with StoryAborted. */
  signal?: AbortSignal;
}

export class StoryAborted extends Error {
  constructor() {
    super("the story was stopped");
    this.name = "StoryAborted";
  }
}

export interface ActResult {
  act: string;
  executions: WatchedExecution[];
  ok: boolean;
  summary: string;
}

export async function runStory(options: StoryOptions): Promise<ActResult[]> {
  const { cloud, phoenix, fleet, say } = options;
  const config = {
    endpoint: cloud.endpoint,
    region: cloud.context.region,
    credentials: { accessKeyId: "demo", secretAccessKey: "demo" },
  };
  const ec2 = new EC2Client(config);
  const autoScaling = new AutoScalingClient(config);
  const events = new EventBridgeClient(config);
  const watcher = new WorkflowWatcher(
    { sfn: new SFNClient(config), autoScaling },
    phoenix.stateMachineArns,
    (line: WatchLine) => say(line.text),
  );
  const groups = fleet.groups.map((g) => g.name);
  const timeout = options.actTimeoutMs ?? 180_000;

  const waitFor = async (
    machine: string,
    matches: (e: WatchedExecution) => boolean,
  ): Promise<WatchedExecution[]> => {
    const deadline = Date.now() + timeout;
    const ended: WatchedExecution[] = [];
    while (Date.now() < deadline) {
      if (options.signal?.aborted) throw new StoryAborted();
      ended.push(...(await watcher.poll(groups)));
      const hit = ended.filter((e) => e.machine === machine && matches(e));
      if (hit.length > 0) return hit;
      await new Promise((r) => setTimeout(r, 400));
    }
    throw new Error(`the ${machine} workflow did not finish within ${Math.round(timeout / 1000)} s`);
  };

  const imagesOf = async (): Promise<Record<string, string[]>> => {
    const { AutoScalingGroups = [] } = await autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: groups }),
    );
    const out: Record<string, string[]> = {};
    for (const group of AutoScalingGroups) {
      const ids = (group.Instances ?? []).map((i) => i.InstanceId!);
      if (ids.length === 0) continue;
      const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
      out[group.AutoScalingGroupName!] = Reservations.flatMap((r) => r.Instances ?? []).map(
        (i) => i.ImageId!,
      );
    }
    return out;
  };

  const results: ActResult[] = [];

  if (options.signal?.aborted) throw new StoryAborted();
  say("\n━━ Act 1: a new golden image of family 'web' is published ━━");
  // Shared with the member accounts, as a platform team shares its golden images: their managed
  // groups of the family roll onto it too.
  const members = cloud.context.memberAccounts;
  const webV2 = await registerImage(ec2, { family: "web", name: "golden-web-v2", sharedWith: members });
  say(
    `  published ${webV2} (tagged phoenix:image-family=web, scan passed${members.length > 0 ? `, shared with ${members.join(", ")}` : ""}); EC2 will announce it on the bus`,
  );
  const rollout = await waitFor("rollout", (e) => e.name.includes(webV2));
  const afterRollout = await imagesOf();
  const rolled = ["web-frontend", "web-backend"].every((g) => afterRollout[g]?.every((id) => id === webV2));
  results.push({
    act: "rollout",
    executions: rollout,
    ok: rolled && rollout.every((e) => e.status === "SUCCEEDED"),
    summary: `web-frontend and web-backend on ${webV2}: ${rolled ? "yes" : "no"}; api untouched: ${afterRollout.api?.every((id) => id === fleet.images.api) ? "yes" : "no"}; web-legacy (unmanaged) untouched: ${afterRollout["web-legacy"]?.every((id) => id === fleet.images.web) ? "yes" : "no"}`,
  });
  say(`  ${results.at(-1)!.summary}`);

  if (options.signal?.aborted) throw new StoryAborted();
  say("\n━━ Act 2: GuardDuty reports a compromised instance ━━");
  const { AutoScalingGroups = [] } = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web-frontend"] }),
  );
  const victim = AutoScalingGroups[0]?.Instances?.find((i) => i.LifecycleState === "InService")?.InstanceId;
  if (!victim) throw new Error("web-frontend has no instance in service to play the compromised one");
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [victim] }));
  const finding = guardDutyFinding({
    instanceId: victim,
    accountId: cloud.context.accountId,
    region: cloud.context.region,
    tags: tagsOf(described.Reservations?.[0]?.Instances?.[0]?.Tags),
  });
  await events.send(
    new PutEventsCommand({
      Entries: [
        {
          Source: finding.source,
          DetailType: finding.detailType,
          Detail: JSON.stringify(finding.detail),
          Resources: [],
        },
      ],
    }),
  );
  say(
    `  finding ${String(finding.detail.type)} (severity ${String(finding.detail.severity)}) on ${victim}, put on the bus`,
  );
  const containment = await waitFor("contain", (e) => e.name.includes(victim));
  const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [victim] }));
  const victimState = Reservations[0]?.Instances?.[0]?.State?.Name;
  results.push({
    act: "containment",
    executions: containment,
    ok: containment.every((e) => e.status === "SUCCEEDED"),
    summary: `${victim} is ${victimState}; web-frontend back to full capacity with a fresh instance`,
  });
  say(`  ${results.at(-1)!.summary}`);

  if (options.signal?.aborted) throw new StoryAborted();
  say("\n━━ Act 3: a bad image is published (its instances never pass health checks) ━━");
  const webBad = await registerImage(ec2, {
    family: "web",
    name: "golden-web-v3",
    tags: { "phoenix-local:health": "unhealthy" },
    sharedWith: members,
  });
  say(`  published ${webBad}`);
  const badRollout = await waitFor("rollout", (e) => e.name.includes(webBad));
  const afterBad = await imagesOf();
  const stayed = ["web-frontend", "web-backend"].every((g) => afterBad[g]?.every((id) => id === webV2));
  results.push({
    act: "rollback",
    executions: badRollout,
    ok: stayed && badRollout.every((e) => e.status !== "SUCCEEDED"),
    summary: `rollout of ${webBad} ${badRollout[0]?.status}; every web group still on ${webV2}: ${stayed ? "yes" : "no"}`,
  });
  say(`  ${results.at(-1)!.summary}`);
  return results;
}
