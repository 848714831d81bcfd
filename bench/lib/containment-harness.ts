import { readFileSync } from "node:fs";
import path from "node:path";
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import { type LocalCloud, startLocalCloud } from "../../local/cloud.js";
import { primaryInterfaceGroups } from "../../local/moto-fixes/primary-eni-groups.js";
import { serialDynamoDb } from "../../local/moto-fixes/serial-dynamodb.js";
import { type SeededFleet, seedDemoFleet } from "../../local/seed.js";
import { renderContainDefinition } from "../../src/containment/steps/catalog.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { phoenixOn } from "../../test/support/phoenix.js";
import { BENCH_DIR } from "./results.js";

process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

/**
 * The intake alone: moto, Phoenix's tables and topic, and a contain state machine in moto that
 * records executions without running them (so a flood measures the trigger path, not 300
 * workflows competing for two cores).
 */
export interface IntakeHarness {
  cloud: LocalCloud;
  deps: PhoenixDeps;
  fleet: SeededFleet;
  containStateMachineArn: string;
  executionNames(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startIntakeHarness(policy: unknown): Promise<IntakeHarness> {
  const cloud = await startLocalCloud({ port: 0, plugins: [serialDynamoDb(), primaryInterfaceGroups()] });
  try {
    const fleet = await seedDemoFleet(cloud.context.internalClientConfig);
    const { deps, resources } = await phoenixOn(cloud, { policy, stage: "bench" });
    const sfn = new SFNClient(cloud.context.internalClientConfig);
    await sfn.send(
      new CreateStateMachineCommand({
        name: resources.containStateMachineArn.split(":").pop()!,
        roleArn: `arn:aws:iam::${cloud.context.accountId}:role/phoenix-contain`,
        definition: renderContainDefinition(
          readFileSync(path.join(BENCH_DIR, "../workflows/contain.asl.json"), "utf8"),
        ),
      }),
    );
    return {
      cloud,
      deps,
      fleet,
      containStateMachineArn: resources.containStateMachineArn,
      async executionNames() {
        const names: string[] = [];
        let nextToken: string | undefined;
        do {
          const page = await sfn.send(
            new ListExecutionsCommand({
              stateMachineArn: resources.containStateMachineArn,
              maxResults: 1000,
              nextToken,
            }),
          );
          names.push(...(page.executions ?? []).map((e) => e.name!));
          nextToken = page.nextToken;
        } while (nextToken);
        return names;
      },
      stop: () => cloud.stop(),
    };
  } catch (error) {
    await cloud.stop();
    throw error;
  }
}
