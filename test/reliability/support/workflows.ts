import { EC2Client } from "@aws-sdk/client-ec2";
import { SFNClient } from "@aws-sdk/client-sfn";
import { createOnFindingHandler } from "../../../functions/on-finding.js";
import { registerImage } from "../../../local/core/seed.js";
import { waitForExecution } from "../../support/executions.js";
import { findingEnvelope, lambdaContext, sqsBatch } from "../../support/lambda-events.js";
import { startedForFile } from "../../support/lifecycle.js";
import { type PhoenixCloud, startPhoenixCloud } from "../../support/phoenix-cloud.js";
import { CallRecorder } from "./recorder.js";

export interface WorkflowEnv extends PhoenixCloud {
  recorder: CallRecorder;
  /** Step Functions through the gateway with retries enough to outlast injected faults. */
  sfn: SFNClient;
  contain(instanceId: string): Promise<{ status: string; executionArn: string }>;
  rollout(family: string, name: string): Promise<{ status: string; executionArn: string; imageId: string }>;
}

export interface WorkflowEnvOptions {
  policy?: unknown;
  speed?: number;
}

/** The workflow environment of a test file: started in beforeAll (within 60 s), stopped in afterAll. */
export function useWorkflowEnv(options: WorkflowEnvOptions = {}): WorkflowEnv {
  return startedForFile(() => startWorkflowEnv(options), 60_000);
}

/** The whole local cloud with Phoenix deployed, every successful call recorded. */
export async function startWorkflowEnv(options: WorkflowEnvOptions = {}): Promise<WorkflowEnv> {
  const recorder = new CallRecorder();
  const pc = await startPhoenixCloud({
    speed: options.speed ?? 200,
    before: [recorder.plugin()],
    policy: options.policy ?? { rollout: { waveBakeMinutes: 1 } },
  });
  const gateway = {
    endpoint: pc.cloud.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 30,
  };
  const sfn = new SFNClient(gateway);
  const onFinding = createOnFindingHandler(pc.phoenix.deps);
  return {
    ...pc,
    recorder,
    sfn,
    async contain(instanceId) {
      for (let attempt = 0; ; attempt++) {
        const { batchItemFailures } = await onFinding(
          sqsBatch([findingEnvelope({ instanceId })]),
          lambdaContext("on-finding"),
        );
        if (batchItemFailures.length === 0) break;
        // SQS would redeliver the record; so does the test.
        if (attempt > 10) throw new Error(`on-finding never took the finding on ${instanceId}`);
      }
      return waitForExecution(sfn, pc.phoenix.stateMachineArns.contain, instanceId, 80_000);
    },
    async rollout(family, name) {
      // Through the gateway, so the local cloud announces the image on the bus as EC2 would.
      const imageId = await registerImage(new EC2Client(gateway), { family, name });
      const ended = await waitForExecution(sfn, pc.phoenix.stateMachineArns.rollout, imageId, 80_000);
      return { ...ended, imageId };
    },
  };
}
