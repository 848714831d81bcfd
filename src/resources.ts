/**
 * The names of Phoenix's own resources, as the deployed stack passes them to functions in
 * environment variables (and the local cloud does the same). A missing one is a deploy bug,
 * reported by name rather than discovered as an AWS error later.
 */
export interface PhoenixResources {
  auditTable: string;
  stateTable: string;
  topicArn: string;
  containStateMachineArn: string;
  rolloutStateMachineArn: string;
}

const VARIABLES: Record<keyof PhoenixResources, string> = {
  auditTable: "PHOENIX_AUDIT_TABLE",
  stateTable: "PHOENIX_STATE_TABLE",
  topicArn: "PHOENIX_TOPIC_ARN",
  containStateMachineArn: "PHOENIX_CONTAIN_STATE_MACHINE_ARN",
  rolloutStateMachineArn: "PHOENIX_ROLLOUT_STATE_MACHINE_ARN",
};

export class MissingResourceError extends Error {
  constructor(variables: string[]) {
    super(
      `Phoenix is not configured: environment variable(s) ${variables.join(", ")} not set (deploy with sst, or run on the local cloud)`,
    );
    this.name = "MissingResourceError";
  }
}

export function resourcesFromEnv(env: NodeJS.ProcessEnv = process.env): PhoenixResources {
  const missing = Object.values(VARIABLES).filter((name) => !env[name]);
  if (missing.length > 0) throw new MissingResourceError(missing);
  return Object.fromEntries(
    Object.entries(VARIABLES).map(([key, name]) => [key, env[name] as string]),
  ) as unknown as PhoenixResources;
}

export function resourcesToEnv(resources: PhoenixResources): Record<string, string> {
  return Object.fromEntries(
    Object.entries(VARIABLES).map(([key, name]) => [name, resources[key as keyof PhoenixResources]]),
  );
}

/** Stage-aware names shared by the deployed stack and the local cloud. */
export function resourceNames(stage: string) {
  return {
    auditTable: `phoenix-${stage}-audit`,
    stateTable: `phoenix-${stage}-state`,
    topic: `phoenix-${stage}-notifications`,
    containStateMachine: `phoenix-${stage}-contain`,
    rolloutStateMachine: `phoenix-${stage}-rollout`,
  };
}
