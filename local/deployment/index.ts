import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { IAMClient } from "@aws-sdk/client-iam";
import { SNSClient } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SynthGraph } from "../../build/synth/graph.js";
import { ALL_CLIENT_FACTORIES } from "../../src/aws/client-factories.js";
import type { BackoffOptions } from "../../src/aws/retry.js";
import { depsFromEnvironment, type PhoenixDeps } from "../../src/deps.js";
import { defaultPolicy, type Policy } from "../../src/policy/index.js";
import { type PhoenixResources, resourcesFromEnv } from "../../src/resources.js";
import type { LocalCloudContext, LocalCloudPart } from "../core/context.js";
import { Journal } from "../events/journal.js";
import { inAccount } from "../gateway/moto-account.js";
import { IAM_PART, type IamPart } from "../iam/index.js";
import { STEP_FUNCTIONS_PART, type StepFunctionsPart } from "../stepfunctions/index.js";
import {
  deployAlarms,
  deployFunctionsToMoto,
  deployIam,
  deployLogGroups,
  deployQueues,
  deployRules,
  deployStateMachines,
  deployTables,
  deployTopics,
  type FunctionWrapper,
  type LoadedFunction,
  loadFunction,
  registerFunctions,
} from "./deploy.js";
import { type MappingDelivery, SqsEventSource } from "./event-source-mappings.js";
import { DELIVERY_QUEUE, EventTargets, type TargetDelivery } from "./event-targets.js";
import { checkGraph, type LoadedGraph, loadGraph, ROOT, readGraphFile } from "./graph-source.js";
import { type AsyncInvocationEntry, LambdaRuntime } from "./lambda-runtime.js";
import { MessageMoves } from "./message-moves.js";
import {
  DeploymentError,
  type DeploymentModel,
  deploymentModel,
  type FunctionSpec,
  queueNameOf,
} from "./model.js";
import { QueueDirectory } from "./queues.js";
import { eventTargetsHandler, lambdaHandler, sqsHandler, VERBATIM_QUEUE_ATTRIBUTES } from "./wire.js";

export type { FunctionWrapper } from "./deploy.js";
export { DeploymentError } from "./model.js";

/**
 * Phoenix deployed on the local cloud from its resource graph: the real SST program run offline
 * (build/synth, cached), or a graph file given. Every resource type the graph holds maps to the
 * local runtime (see local/README.md, "The deployment"):
 *
 * | graph                                   | local cloud                                                   |
 * | --------------------------------------- | ------------------------------------------------------------- |
 * | iam Role, RolePolicy, Policy, profile   | moto IAM (issue 13 evaluates them)                            |
 * | dynamodb Table                          | moto DynamoDB, with its keys, indexes, TTL, PITR              |
 * | sns Topic, TopicSubscription            | moto SNS                                                      |
 * | sqs Queue, QueuePolicy, RedriveAllow    | moto SQS with every attribute (visibility, retention, redrive) |
 * | cloudwatch LogGroup, MetricAlarm        | moto CloudWatch Logs, CloudWatch                              |
 * | lambda Function, Permission, concurrency, EventInvokeConfig | moto Lambda (configuration) + the Lambda runtime (lambda-runtime.ts) |
 * | lambda EventSourceMapping (SQS)         | pollers with Lambda's batching and ReportBatchItemFailures    |
 * | cloudwatch EventRule                    | moto EventBridge (patterns matched by moto)                   |
 * | cloudwatch EventTarget                  | event-targets.ts: retry policy, DLQ, resource policies        |
 * | sfn StateMachine                        | the local Step Functions engine, tasks run by the runtime     |
 *
 * `GET /_phoenix/deployment` answers the graph as deployed (synth format).
 */

export const DEPLOYMENT_PART = "deployment";
export const DEPLOYMENT_ROUTE = "/_phoenix/deployment";

export interface DeploymentOptions {
  /** The stage to synthesize (default "local"); a given graph names its own. */
  stage?: string;
  /** The policy Phoenix is deployed with (goes into the functions' environment and the rules). */
  policy?: Policy;
  /** Deploy this graph (or the graph file at this path) instead of synthesizing one. */
  graph?: SynthGraph | string;
  /** PHOENIX_FLEET_ROLE_ARNS for the synth (default: the process's). */
  fleetRoleArns?: string;
  /**
   * Wrap (observe, stub) deployed functions: called once per function with its graph spec, the
   * handler Lambda would run and the deps built from its environment. Tests capture step errors
   * or hold a workflow this way; the graph stays what it is.
   */
  wrap?: FunctionWrapper;
  /** The SDK retry budget of the functions' own clients (the Lambda runtime's, not the graph's). */
  sdkBackoff?: BackoffOptions;
  /** Also write the graph to `.phoenix/synth/<stage>.json`, as `npm run synth` does (phoenix local). */
  writeStageGraph?: boolean;
  /** The checkout (default: this one). */
  root?: string;
  onDeployed?: (deployment: LocalDeployment) => void;
}

export type DeliveryEntry =
  | ({ kind: "sqs" } & MappingDelivery)
  | ({ kind: "rule" } & TargetDelivery)
  | ({ kind: "async" } & AsyncInvocationEntry);

export interface LocalDeployment {
  stage: string;
  graph: SynthGraph;
  loaded: LoadedGraph;
  model: DeploymentModel;
  lambda: LambdaRuntime;
  /** Phoenix's resources as its functions see them (their environment). */
  resources: PhoenixResources;
  stateMachineArns: { contain: string; rollout: string };
  /** A deployed function by name, or by its entry point (`on-finding` for functions/on-finding.ts). */
  functionOf(nameOrEntry: string): FunctionSpec;
  /**
   * The deps the function was deployed with (built from its environment). `clients: "all"` gives
   * every AWS client (for tests that call several steps with one deps), else the entry's own.
   */
  depsOf(nameOrEntry: string, options?: { clients?: "declared" | "all" }): PhoenixDeps;
  /** A synchronous invocation through the runtime (timeout, concurrency); throws the function's error. */
  invoke(nameOrEntry: string, payload: unknown): Promise<unknown>;
}

export interface DeploymentPart extends LocalCloudPart {
  /** The deployment, once started (throws before). */
  deployment(): LocalDeployment;
  readonly deliveries: Journal<DeliveryEntry & { at: string }>;
}

/** A member stack the local cloud deployed into a member account (`phoenix local`). */
export interface MemberStackDeployment {
  accountId: string;
  roleArn: string;
  resources: number;
  source: LoadedGraph["source"];
}

/**
 * The member stack (`npm run synth -- --member`, its own graph) in every account the policy
 * lists, as its deployer would run it there: a graph synthesized for that account, trusting this
 * central Phoenix, its IAM created in that account's state.
 */
async function deployMembers(
  policy: Policy,
  stage: string,
  root: string,
  context: LocalCloudContext,
): Promise<MemberStackDeployment[]> {
  const members = policy.accounts.filter((member) => member.accountId !== context.accountId);
  return Promise.all(
    members.map(async (member) => {
      const loaded = await loadGraph({
        stage,
        policy,
        root,
        member: { account: member.accountId, centralAccount: context.accountId, centralStage: stage },
        log: (message) => context.log(`deployment: ${message}`),
      });
      const model = deploymentModel(loaded.graph, { region: context.region, accountId: member.accountId });
      const iam = inAccount(new IAMClient(context.internalClientConfig), member.accountId);
      try {
        await deployIam(model, iam);
      } finally {
        iam.destroy();
      }
      const role = model.roles[0];
      context.log(
        `deployment: member stack in ${member.accountId} (${loaded.graph.resources.length} resources; role ${role?.arn ?? "none"})`,
      );
      return {
        accountId: member.accountId,
        roleArn: role?.arn ?? "",
        resources: loaded.graph.resources.length,
        source: loaded.source,
      };
    }),
  );
}

export function deploymentPlugin(
  options: DeploymentOptions = {},
): (context: LocalCloudContext) => DeploymentPart {
  return (context) => {
    const root = options.root ?? ROOT;
    const scope = { region: context.region, accountId: context.accountId };
    const sqs = new SQSClient(context.internalClientConfig);
    const queues = new QueueDirectory(sqs);
    const moves = new MessageMoves(sqs, queues);
    const deliveries = new Journal<DeliveryEntry & { at: string }>(500, context.sequence);
    const record = (entry: DeliveryEntry) => deliveries.add({ ...entry, at: new Date().toISOString() });
    const lambda = new LambdaRuntime({
      scope,
      clock: context.clock,
      log: context.log,
      onAsync: (entry) => record({ kind: "async", ...entry }),
      destinations: {
        send: async (arn, body, attributes) => {
          if (arn.startsWith("arn:aws:sqs:")) {
            await queues.send(arn, body, attributes);
            return;
          }
          if (arn.startsWith("arn:aws:lambda:")) {
            lambda.invokeAsync(arn.split(":")[6] ?? arn, JSON.parse(body), "destination");
            return;
          }
          throw new Error(`the local cloud sends destinations to SQS queues and functions only, not ${arn}`);
        },
      },
    });
    const mappings = new Map<
      string,
      { spec: DeploymentModel["eventSourceMappings"][number]; source: SqsEventSource }
    >();
    let deployment: LocalDeployment | undefined;
    let targets: EventTargets | undefined;
    let deployedCounts: Record<string, number> = {};
    let memberStacks: MemberStackDeployment[] = [];
    const extraQueueAttributes = new Map<string, Record<string, string>>();
    const wireDeps = {
      motoUrl: context.motoUrl,
      extraQueueAttributes,
      lambda,
      mappings,
      moves,
      scope,
      get targets(): EventTargets {
        if (!targets) throw new Error("the deployment has not started");
        return targets;
      },
    };
    const targetsHandler = eventTargetsHandler(wireDeps);
    return {
      name: DEPLOYMENT_PART,
      deliveries,
      deployment() {
        if (!deployment) throw new Error("Phoenix is not deployed on the local cloud yet");
        return deployment;
      },
      handlers: [
        lambdaHandler(wireDeps),
        {
          ...targetsHandler,
          handles: (request) => targets !== undefined && targetsHandler.handles(request),
        },
        sqsHandler(wireDeps),
      ],
      observers: [
        (request) => {
          // What a call through the gateway changed, that the runtime keeps a copy of.
          if (request.service === "sqs" && /Queue|Attributes/.test(request.action)) {
            const url = request.json.QueueUrl ?? request.params.get("QueueUrl");
            queues.invalidate(typeof url === "string" ? url : undefined);
          }
          if (request.service === "events" && targets) {
            const name = String(request.json.Name ?? "");
            const bus =
              typeof request.json.EventBusName === "string"
                ? request.json.EventBusName.split("/").pop()
                : undefined;
            if (request.action === "EnableRule") targets.setState(name, bus, "ENABLED");
            if (request.action === "DisableRule") targets.setState(name, bus, "DISABLED");
            if (
              request.action === "PutRule" &&
              (request.json.State === "ENABLED" || request.json.State === "DISABLED")
            )
              targets.setState(name, bus, request.json.State);
            if (request.action === "DeleteRule") targets.forget(name, bus);
          }
        },
      ],
      control: {
        [DEPLOYMENT_ROUTE]: async () =>
          deployment
            ? { status: 200, body: deployment.graph }
            : { status: 503, body: { error: "Phoenix is not deployed yet" } },
      },
      async start() {
        const stepFunctions = context.part<StepFunctionsPart>(STEP_FUNCTIONS_PART);
        if (!stepFunctions?.service)
          throw new DeploymentError(
            "the deployment needs the local Step Functions engine (stepFunctionsPlugin) to run its state machines",
          );
        const policy = options.policy ?? defaultPolicy();
        const loaded = await graphOf(options, root, policy, context);
        const graph = loaded.graph;
        const model = deploymentModel(graph, scope);
        // The queue documents as the graph sets them (moto drops one and reformats the others).
        const verbatim = (queue: string, attributes: Record<string, string>) =>
          extraQueueAttributes.set(queue, { ...extraQueueAttributes.get(queue), ...attributes });
        for (const queue of model.queues)
          verbatim(
            queue.name,
            Object.fromEntries(
              Object.entries(queue.attributes).filter(([k]) => VERBATIM_QUEUE_ATTRIBUTES.includes(k)),
            ),
          );
        for (const p of model.queuePolicies) verbatim(p.queue, { Policy: p.policy });
        for (const p of model.redriveAllowPolicies) verbatim(p.queue, { RedriveAllowPolicy: p.policy });
        if (options.writeStageGraph && loaded.source !== "file") writeStageGraph(root, graph);
        context.log(
          `deployment: stage ${graph.stage}, ${graph.resources.length} resources (graph ${loaded.source === "synth" ? "synthesized" : `from the ${loaded.source}`} in ${loaded.ms} ms)`,
        );
        const started = Date.now();
        const config = context.internalClientConfig;
        const clients = {
          iam: new IAMClient(config),
          dynamo: new DynamoDBClient(config),
          sns: new SNSClient(config),
          eventbridge: new EventBridgeClient(config),
        };
        const moto = { motoUrl: context.motoUrl, region: context.region };
        const target = {
          endpoint: context.endpoint,
          region: context.region,
          credentials: { accessKeyId: "phoenix-local", secretAccessKey: "phoenix-local" },
          ...(options.sdkBackoff ? { backoff: options.sdkBackoff } : {}),
        };
        // Each function calls with its own role's credentials (local/iam evaluates them), as in Lambda.
        const iam = context.part<IamPart>(IAM_PART);
        const credentialsFor = iam
          ? (fn: FunctionSpec) =>
              fn.role ? iam.credentialsFor({ roleArn: fn.role, sessionName: fn.name }) : undefined
          : undefined;
        const functionOptions = {
          root,
          target,
          clock: context.clock,
          scope,
          ...(options.wrap ? { wrap: options.wrap } : {}),
          ...(credentialsFor ? { credentialsFor } : {}),
        };
        // The functions' code loads while moto creates the rest.
        const loading = Promise.all(model.functions.map((spec) => loadFunction(spec, functionOptions)));
        loading.catch(() => {});
        // IAM first for the functions (moto checks a function's role exists); the rest meanwhile,
        // the member stacks too (their roles trust the central roles' names, not their ids).
        await Promise.all([
          deployIam(model, clients.iam),
          deployMembers(policy, graph.stage, root, context).then((deployed) => {
            memberStacks = deployed;
          }),
          deployLogGroups(model, moto),
          deployTables(model, clients.dynamo),
          deployTopics(model, clients.sns),
          deployQueues(model, sqs),
        ]);
        targets = new EventTargets({
          rules: model.rules,
          targets: model.targets,
          scope,
          sqs,
          eventbridge: clients.eventbridge,
          queues,
          lambda,
          clock: context.clock,
          log: context.log,
          onDelivery: (entry) => record({ kind: "rule", ...entry }),
        });
        const eventTargets = targets;
        let functions: LoadedFunction[] = [];
        // Independent of one another: moto's copy of the functions, the runtime and the state
        // machines that run on it, the rules (and their delivery), the alarms.
        await Promise.all([
          deployFunctionsToMoto(model, moto),
          (async () => {
            functions = await loading;
            registerFunctions(model, functions, lambda);
            await deployStateMachines(model, stepFunctions, lambda);
          })(),
          (async () => {
            await deployRules(model, clients.eventbridge);
            const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: DELIVERY_QUEUE }));
            const { Attributes } = await sqs.send(
              new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
            );
            await eventTargets.install({ url: QueueUrl!, arn: Attributes!.QueueArn! });
          })(),
          deployAlarms(model, moto),
        ]);
        for (const spec of model.eventSourceMappings) {
          if (!lambda.get(spec.functionName))
            throw new DeploymentError(
              `event source mapping ${spec.resource} names ${spec.functionName}, which the graph does not create`,
            );
          const queue = await queues.info(spec.eventSourceArn).catch(() => {
            throw new DeploymentError(
              `event source mapping ${spec.resource} polls ${queueNameOf(spec.eventSourceArn)}, which does not exist`,
            );
          });
          const redrive = model.queues.find((q) => q.name === queue.name)?.redrive;
          const source = new SqsEventSource({
            mapping: spec,
            queue,
            ...(redrive ? { maxReceiveCount: redrive.maxReceiveCount } : {}),
            lambda,
            sqs,
            clock: context.clock,
            region: context.region,
            onDelivery: (entry) => record({ kind: "sqs", ...entry }),
            log: context.log,
          });
          mappings.set(spec.uuid, { spec, source });
        }
        for (const { source } of mappings.values()) source.start();
        targets.start();
        for (const client of Object.values(clients)) client.destroy();
        deployedCounts = counts(model);
        deployment = localDeployment(graph, loaded, model, lambda, functions, functionOptions);
        context.log(`deployment: deployed in ${Date.now() - started} ms`);
        options.onDeployed?.(deployment);
      },
      async stop() {
        await Promise.all([...mappings.values()].map(({ source }) => source.stop()));
        await targets?.stop();
        await lambda.stop();
        sqs.destroy();
      },
      health: () => ({
        deployed: deployment !== undefined,
        stage: deployment?.stage ?? options.stage ?? "local",
        memberStacks,
        ...(deployment
          ? {
              graph: {
                resources: deployment.graph.resources.length,
                source: deployment.loaded.source,
                ms: deployment.loaded.ms,
                ...(deployment.loaded.digest ? { digest: deployment.loaded.digest } : {}),
              },
              resources: deployedCounts,
              notDeployed: deployment.model.skipped.length,
              functions: Object.fromEntries(lambda.list().map((fn) => [fn.spec.name, fn.stats])),
              eventSourceMappings: Object.fromEntries(
                [...mappings.values()].map(({ spec, source }) => [
                  spec.resource,
                  {
                    function: spec.functionName,
                    queue: queueNameOf(spec.eventSourceArn),
                    enabled: source.enabled,
                    pollers: source.pollers,
                    ...source.stats,
                  },
                ]),
              ),
              targets: Object.fromEntries(targets?.stats ?? []),
            }
          : {}),
      }),
    };
  };
}

function counts(model: DeploymentModel): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(model))
    if (Array.isArray(value) && key !== "skipped") out[key] = value.length;
  return out;
}

async function graphOf(
  options: DeploymentOptions,
  root: string,
  policy: Policy,
  context: LocalCloudContext,
): Promise<LoadedGraph> {
  const started = Date.now();
  if (typeof options.graph === "string")
    return {
      graph: readGraphFile(options.graph),
      source: "file",
      ms: Date.now() - started,
      path: options.graph,
    };
  if (options.graph) return { graph: checkGraph(options.graph, "the given graph"), source: "file", ms: 0 };
  if (context.accountId !== "123456789012" || context.region !== "us-east-1")
    throw new DeploymentError(
      `the synth answers for account 123456789012 in us-east-1 (build/synth/aws-mocks.ts); a local cloud in ${context.accountId}/${context.region} needs a graph synthesized for it (options.graph)`,
    );
  return loadGraph({
    stage: options.stage ?? "local",
    policy,
    ...(options.fleetRoleArns !== undefined
      ? { fleetRoleArns: options.fleetRoleArns }
      : process.env.PHOENIX_FLEET_ROLE_ARNS !== undefined
        ? { fleetRoleArns: process.env.PHOENIX_FLEET_ROLE_ARNS }
        : {}),
    root,
    log: (message) => context.log(`deployment: ${message}`),
  });
}

function writeStageGraph(root: string, graph: SynthGraph): void {
  const file = join(root, ".phoenix/synth", `${graph.stage}.json`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(graph, null, 2)}\n`);
    renameSync(temporary, file);
  } catch {
    // The deployment does not depend on it.
  }
}

function localDeployment(
  graph: SynthGraph,
  loaded: LoadedGraph,
  model: DeploymentModel,
  lambda: LambdaRuntime,
  functions: LoadedFunction[],
  functionOptions: Parameters<typeof loadFunction>[1],
): LocalDeployment {
  const find = (nameOrEntry: string): LoadedFunction => {
    const found =
      functions.find((f) => f.spec.name === nameOrEntry) ??
      functions.find(
        (f) =>
          f.spec.handler
            .replace(/\.[^.]+$/, "")
            .split("/")
            .pop() === nameOrEntry,
      );
    if (!found)
      throw new Error(
        `no function ${nameOrEntry} in the deployment (it has ${functions.map((f) => f.spec.name).join(", ")})`,
      );
    return found;
  };
  const configured = functions.find((f) => f.env.PHOENIX_CONTAIN_STATE_MACHINE_ARN !== undefined);
  if (!configured) throw new DeploymentError("no deployed function has Phoenix's environment (PHOENIX_*)");
  const resources = resourcesFromEnv(configured.env);
  const allClients = new Map<string, PhoenixDeps>();
  return {
    stage: graph.stage,
    graph,
    loaded,
    model,
    lambda,
    resources,
    stateMachineArns: {
      contain: resources.containStateMachineArn,
      rollout: resources.rolloutStateMachineArn,
    },
    functionOf: (nameOrEntry) => find(nameOrEntry).spec,
    depsOf(nameOrEntry, options = {}) {
      const fn = find(nameOrEntry);
      if (options.clients !== "all") return fn.deps;
      let deps = allClients.get(fn.spec.name);
      if (!deps) {
        deps = depsFromEnvironment(ALL_CLIENT_FACTORIES, fn.env, {
          target: functionOptions.target,
          now: () => new Date(functionOptions.clock.now()),
        });
        allClients.set(fn.spec.name, deps);
      }
      return deps;
    },
    async invoke(nameOrEntry, payload) {
      return lambda.handlerOf(find(nameOrEntry).spec.name)(payload, {} as never);
    },
  };
}

/** The deployment of a running local cloud (its "deployment" part), or an error saying why not. */
export function deploymentOf(cloud: { parts: LocalCloudPart[] }): LocalDeployment {
  const part = cloud.parts.find((p) => p.name === DEPLOYMENT_PART) as DeploymentPart | undefined;
  if (!part) throw new Error("this local cloud has no deployment part (deploymentPlugin)");
  return part.deployment();
}
