import { ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import type { LocalCloud } from "../../local/cloud.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { type Harness, startHarness } from "../../test/containment/support/fixtures.js";

process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

/**
 * The intake alone: Phoenix deployed from its graph on the local cloud, the contain workflow held
 * at its first step (Admit), so that executions are recorded without running (a flood measures
 * the trigger path, not 300 workflows competing for two cores).
 */
export interface IntakeHarness {
  cloud: LocalCloud;
  deps: PhoenixDeps;
  fleet: Harness["fleet"];
  containStateMachineArn: string;
  executionNames(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startIntakeHarness(policy: unknown): Promise<IntakeHarness> {
  const h = await startHarness({ policy });
  const sfn = new SFNClient({
    endpoint: h.cloud.endpoint,
    region: h.cloud.context.region,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
    maxAttempts: 10,
  });
  const containStateMachineArn = h.deployment.stateMachineArns.contain;
  return {
    cloud: h.cloud,
    deps: h.deployment.depsOf("on-finding"),
    fleet: h.fleet,
    containStateMachineArn,
    async executionNames() {
      const names: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await sfn.send(
          new ListExecutionsCommand({ stateMachineArn: containStateMachineArn, maxResults: 1000, nextToken }),
        );
        names.push(...(page.executions ?? []).map((e) => e.name!));
        nextToken = page.nextToken;
      } while (nextToken);
      return names;
    },
    stop: () => h.stop(),
  };
}
