import { ListStateMachinesCommand, SFNClient, type StateMachineListItem } from "@aws-sdk/client-sfn";
import { type AwsTarget, createClients } from "../src/aws/clients.js";
import { buildDeps, type PhoenixDeps } from "../src/deps.js";
import type { Policy } from "../src/policy/index.js";
import { resourceNames } from "../src/resources.js";
import { withEnvironmentErrors } from "./failures.js";
import { CliError, EXIT } from "./io.js";
import { DEFAULT_LOCAL_PORT } from "./local-defaults.js";
import { portOf, type Target } from "./target.js";

/** Phoenix as deployed in one region and account, found by its stage's resource names. */
export interface Connection {
  deps: PhoenixDeps;
  target: Target;
  stage: string;
  region: string;
  accountId: string;
  stateMachines: { contain: string; rollout: string };
  /** The credentials the clients sign with, resolved once (profile, SSO, environment). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * A person at a terminal would rather see "connection refused" at once than after ten jittered
 * retries; throttling still gets a few.
 */
const CLI_BACKOFF = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 2_000 };

/**
 * Resolves the region and credentials (profile included) once, finds Phoenix's state machines
 * by name (ListStateMachines: read-only, and it proves the credentials work), and builds the same
 * dependencies the handlers use, with table and topic names of the stage.
 */
export async function connect(target: Target, policy: Policy): Promise<Connection> {
  return withEnvironmentErrors(target, async () => {
    const { region, credentials } = await resolveSession(target);
    const awsTarget: AwsTarget = {
      region,
      ...(target.endpoint ? { endpoint: target.endpoint } : {}),
      ...(credentials ? { credentials } : {}),
      backoff: CLI_BACKOFF,
    };
    const clients = createClients(awsTarget);
    const names = resourceNames(target.stage);
    const machines = await listStateMachines(clients.sfn);
    const contain = machines.find((m) => m.name === names.containStateMachine)?.stateMachineArn;
    const rollout = machines.find((m) => m.name === names.rolloutStateMachine)?.stateMachineArn;
    const accountId = accountOf(contain ?? rollout ?? machines[0]?.stateMachineArn);
    if (!contain || !rollout) {
      const missing = [!rollout && names.rolloutStateMachine, !contain && names.containStateMachine]
        .filter(Boolean)
        .join(", ");
      throw new CliError(
        `Phoenix is not deployed in ${region}/${accountId ?? "this account"} for stage "${target.stage}" (no state machine ${missing}): run \`npx sst deploy --stage ${target.stage}\`, or start the local cloud with \`npx phoenix local${localPortFlag(target)}\` (or pass the right --stage / --region).`,
        EXIT.environment,
      );
    }
    const resources = {
      auditTable: names.auditTable,
      stateTable: names.stateTable,
      topicArn: `arn:aws:sns:${region}:${accountId}:${names.topic}`,
      containStateMachineArn: contain,
      rolloutStateMachineArn: rollout,
    };
    const deps = buildDeps({
      clients,
      resources,
      policy,
      accountId: accountId!,
      region,
      // A member account's instance (release): clients in its region, on the credentials given.
      reach: (other) => createClients({ ...awsTarget, ...other }),
    });
    return {
      deps,
      target,
      stage: target.stage,
      region,
      accountId: accountId!,
      stateMachines: { contain, rollout },
      credentials: credentials ?? { accessKeyId: "", secretAccessKey: "" },
    };
  });
}

/** " --port N" for a local cloud on a port other than the default, so the advice starts that one. */
function localPortFlag(target: Target): string {
  if (!target.local || !target.endpoint) return "";
  const port = portOf(target.endpoint);
  return port === DEFAULT_LOCAL_PORT ? "" : ` --port ${port}`;
}

/** The profile's region and credentials as the SDK resolves them, so every client agrees. */
async function resolveSession(
  target: Target,
): Promise<{ region: string; credentials?: NonNullable<AwsTarget["credentials"]> }> {
  if (target.credentials && target.region) return { region: target.region, credentials: target.credentials };
  const probe = new SFNClient({
    ...(target.region ? { region: target.region } : {}),
    ...(target.profile ? { profile: target.profile } : {}),
    ...(target.credentials ? { credentials: target.credentials } : {}),
  });
  const region = await probe.config.region();
  const resolved = target.credentials ?? (await probe.config.credentials());
  const credentials = {
    accessKeyId: resolved.accessKeyId,
    secretAccessKey: resolved.secretAccessKey,
    ...(resolved.sessionToken ? { sessionToken: resolved.sessionToken } : {}),
  };
  return { region, credentials };
}

async function listStateMachines(sfn: SFNClient): Promise<StateMachineListItem[]> {
  const machines: StateMachineListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken, maxResults: 1000 }));
    machines.push(...(page.stateMachines ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return machines;
}

/** arn:aws:states:<region>:<account>:stateMachine:<name> → account. */
function accountOf(arn: string | undefined): string | undefined {
  return arn?.split(":")[4] || undefined;
}
