/**
 * Phoenix's AWS resources for one stage. `sst.config.ts` imports this inside `run()`, where
 * the SST globals (`sst`, `aws`, `$app`) exist. Each concern is its own module; this one only
 * wires them in order: configuration first (a bad policy stops the deploy before anything is
 * created), then storage, functions, workflows, events and alarms.
 */
import { deployedPolicyContext } from "./account";
import { alarms } from "./alarms";
import { deployConfig } from "./config";
import { quarantineProfile } from "./containment";
import { events } from "./events";
import { functions } from "./functions";
import { signingKeyArn } from "./signing";
import { readRepositoryFile, repositoryRoot } from "./source";
import { type Storage, storage } from "./storage";
import { workflows } from "./workflows";

export interface PhoenixStack extends Storage {
  containStateMachine: aws.sfn.StateMachine;
  rolloutStateMachine: aws.sfn.StateMachine;
  findingBuffer: aws.sqs.Queue;
  imageBuffer: aws.sqs.Queue;
  quarantineProfile: aws.iam.InstanceProfile;
  signingKeyArn?: $util.Output<string>;
}

export function phoenix(): PhoenixStack {
  const config = deployConfig(process.env, $app.stage);
  const read = readRepositoryFile(repositoryRoot());
  const context = deployedPolicyContext(config);

  const stored = storage(config.policy);
  const profile = quarantineProfile(config.policy);
  const signingKey = signingKeyArn(config.policy);
  const fns = functions({ policy: config.policy, context, read });
  const machines = workflows({ context, read, dependsOn: Object.values(fns) });
  const delivery = events({ policy: config.policy, functions: fns });
  alarms({ topicArn: stored.notifications.arn, functions: fns, stateMachines: machines, delivery });

  return {
    ...stored,
    containStateMachine: machines.contain,
    rolloutStateMachine: machines.rollout,
    findingBuffer: delivery.findingBuffer,
    imageBuffer: delivery.imageBuffer,
    quarantineProfile: profile,
    ...(signingKey ? { signingKeyArn: signingKey } : {}),
  };
}
