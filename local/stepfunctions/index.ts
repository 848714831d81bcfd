import type { LocalCloudContext, LocalCloudPart } from "../core/context.js";
import { IAM_PART, type IamPart, type SdkCredentials } from "../iam/index.js";
import { isRoleArn } from "../iam/model.js";
import { loadDefinition } from "./asl.js";
import type { LocalLambdaHandler } from "./lambda-tasks.js";
import { SdkClients } from "./sdk-clients.js";
import { StepFunctionsService } from "./service.js";
import { resolveTasks, type TaskResolverDeps } from "./task-resolver.js";
import { stepFunctionsWire } from "./wire.js";

export { loadDefinition } from "./asl.js";
export type { LocalLambdaHandler } from "./lambda-tasks.js";
export { listUnmappedTasks, type UnmappedTask } from "./task-resolver.js";

export interface StateMachineRegistration {
  name: string;
  /** The ASL as an object, a JSON string, or a path to a JSON file. */
  definition: string | object;
  /** Defaults to a local role ARN: such machines run as the local cloud itself, not evaluated by local/iam. */
  roleArn?: string;
  type?: "STANDARD" | "EXPRESS";
}

/** The Step Functions part, for the parts that deploy onto it (local/deployment). */
export interface StepFunctionsPart extends LocalCloudPart {
  readonly service: StepFunctionsService;
  /** The Lambda handlers Task states run, by function name: read when a state machine is created. */
  readonly functions: Record<string, LocalLambdaHandler>;
}

export const STEP_FUNCTIONS_PART = "stepfunctions";

export interface StepFunctionsPluginOptions {
  /** Local Lambda handlers by function name, for `lambda:invoke` and plain function ARNs (read live). */
  functions?: Record<string, LocalLambdaHandler>;
  /** State machines registered when the local cloud starts. */
  definitions?: StateMachineRegistration[];
}

/**
 * Step Functions for the local cloud: the API served by the gateway, executions run in-process by
 * aws-local-stepfunctions with every Task mapped to a local handler or an SDK call back through
 * the gateway (so faults and the call log apply to what workflows do).
 */
export function stepFunctionsPlugin(
  options: StepFunctionsPluginOptions = {},
): (context: LocalCloudContext) => StepFunctionsPart {
  return (context) => {
    const scope = { region: context.region, accountId: context.accountId };
    const sessions = new Map<string, SdkCredentials>();
    const roleCredentials = (roleArn: string) => {
      const iam = context.part<IamPart>(IAM_PART);
      if (!iam || !isRoleArn(roleArn) || isDefaultRole(roleArn)) return undefined;
      let credentials = sessions.get(roleArn);
      if (!credentials) {
        credentials = iam.credentialsFor({ roleArn, sessionName: "states" });
        sessions.set(roleArn, credentials);
      }
      return credentials;
    };
    const resolverDeps: TaskResolverDeps = {
      // Not copied: the deployment (local/deployment) registers its functions into this object
      // at start, before it creates the state machines that name them.
      functions: options.functions ?? {},
      // A task calls AWS with the state machine's role (local/iam evaluates it), as in AWS.
      sdk: new SdkClients((roleArn) => ({
        endpoint: context.endpoint,
        region: context.region,
        credentials: (roleArn && roleCredentials(roleArn)) || {
          accessKeyId: "phoenix-local",
          secretAccessKey: "phoenix-local",
        },
      })),
      scope,
      clock: context.clock,
      authorizeInvoke: async ({ roleArn, functionArn, execution }) => {
        const iam = context.part<IamPart>(IAM_PART);
        if (!iam || isDefaultRole(roleArn)) return undefined;
        const outcome = await iam.check(
          { roleArn, sessionName: execution.name.slice(0, 64) },
          [{ action: "lambda:InvokeFunction", resources: [{ arn: functionArn }] }],
          "lambda:Invoke",
        );
        return outcome.allowed ? undefined : outcome.message;
      },
    };
    const service = new StepFunctionsService({
      scope,
      clock: context.clock,
      resolveTasks: (definition) => resolveTasks(definition, resolverDeps),
      log: (message) => context.log(`stepfunctions: ${message}`),
    });
    return {
      name: STEP_FUNCTIONS_PART,
      service,
      functions: resolverDeps.functions,
      handlers: [stepFunctionsWire(service)],
      async start() {
        for (const registration of options.definitions ?? []) {
          try {
            await service.createStateMachine({
              name: registration.name,
              definition: JSON.stringify(loadDefinition(registration.definition)),
              roleArn: registration.roleArn ?? `arn:aws:iam::${context.accountId}:role/${DEFAULT_ROLE}`,
              type: registration.type,
            });
          } catch (error) {
            throw new Error(
              `cannot register state machine '${registration.name}': ${(error as Error).message}`,
            );
          }
        }
      },
      stop: () => service.stopAll(),
      health: () => service.health(),
    };
  };
}

/** The role of state machines registered without one: the local cloud itself, not evaluated. */
const DEFAULT_ROLE = "phoenix-local-stepfunctions";
const isDefaultRole = (roleArn: string) => roleArn.endsWith(`:role/${DEFAULT_ROLE}`);
