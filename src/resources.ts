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

/**
 * The longest stage Phoenix accepts. Every name Phoenix gives a resource starts with
 * `phoenix-<stage>-`; the longest such name whose AWS limit is tightest is the EventBridge rule
 * `phoenix-<stage>-imagebuilder-image-available` (64 characters at most), which leaves 27.
 * test/infra/graph.test.ts synthesizes a stage this long and checks every name against its
 * limit, so a longer resource name added later fails there, not half way through a deploy.
 */
export const MAX_STAGE_LENGTH = 27;

/** Why a stage name cannot be deployed, or undefined. Letters, digits and "-", as names allow. */
export function stageProblem(stage: string): string | undefined {
  if (stage.length === 0) return "the stage is empty";
  if (stage.length > MAX_STAGE_LENGTH)
    return `stage "${stage}" is ${stage.length} characters long; at most ${MAX_STAGE_LENGTH} fit in the names of Phoenix's resources (e.g. phoenix-<stage>-imagebuilder-image-available, an EventBridge rule: 64 characters at most)`;
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(stage))
    return `stage "${stage}" may contain only letters, digits and "-" (and must start with a letter or digit): it goes into Lambda, SQS and IAM names`;
  return undefined;
}
