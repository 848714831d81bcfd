/**
 * The ARNs the policies are scoped to, built from fixed, stage-aware names, so that the policy
 * of every function can be computed before anything exists (at deploy, and offline in tests).
 */
import type { PhoenixFunction, PhoenixStateMachine } from "../../src/catalog.js";
import type { Policy } from "../../src/policy/index.js";
import { resourceNames } from "../../src/resources.js";

export interface Account {
  partition: string;
  region: string;
  account: string;
}

/**
 * How a KMS key named in the policy is matched: by key ARN, or by alias (IAM sees key ARNs, so
 * an alias is matched with kms:ResourceAliases on the keys of the alias's own account and region).
 */
export type SigningKeyScope =
  | { kind: "key"; arn: string }
  | { kind: "alias"; alias: string; keys: string }
  | { kind: "unset" };

export interface PolicyContext extends Account {
  stage: string;
  tableArns: { audit: string; state: string };
  topicArn: string;
  stateMachineArns: Record<PhoenixStateMachine, string>;
  functionArn: (name: PhoenixFunction) => string;
  /** The SQS buffer of a buffered event target, by its queue (src/events/targets.ts). */
  eventBufferArn: (queue: string) => string;
  /** Where events that a directly invoked handler failed on end up (async invocation failures). */
  eventDeadLetterQueueArn: string;
  quarantineInstanceProfile: string;
  signingKey: SigningKeyScope;
  memoryCaptureDocumentArn?: string;
  imageParameterArns: string[];
  /**
   * Fleet roles the deployer lists (PHOENIX_FLEET_ROLE_ARNS), beside the roles tagged
   * `phoenix:fleet-role=true`: rollouts may pass them to EC2 (DEPENDENT_ACTIONS of
   * StartInstanceRefresh) and containment may write its revocation on them. Usually empty.
   */
  fleetRoleArns: string[];
  /**
   * The member roles of the policy's accounts (src/member-access.ts assumes them): the only
   * roles sts:AssumeRole is granted on. Empty without member accounts.
   */
  memberRoleArns: string[];
}

/** Lambda function names, `phoenix-<stage>-<name>` (the local cloud uses the same). */
export const deployedFunctionName = (stage: string, name: PhoenixFunction): string =>
  `phoenix-${stage}-${name}`;
/**
 * A function's IAM role, `phoenix-<stage>-<name>` (at most 62 characters with the longest stage):
 * named by Phoenix, not by SST (which shortens names past its limit), so that a member account's
 * trust policy can name each role exactly.
 */
export const deployedFunctionRoleName = (stage: string, name: PhoenixFunction): string =>
  `phoenix-${stage}-${name}`;
/** A buffered event target's queue, `phoenix-<stage>-<queue>`, and its dead-letter queue. */
export const eventBufferName = (stage: string, queue: string): string => `phoenix-${stage}-${queue}`;
export const eventBufferDeadLetterName = (stage: string, queue: string): string =>
  `${eventBufferName(stage, queue)}-dlq`;
export const findingQueueName = (stage: string): string => eventBufferName(stage, "finding-buffer");
export const findingDeadLetterQueueName = (stage: string): string =>
  eventBufferDeadLetterName(stage, "finding-buffer");
export const eventDeadLetterQueueName = (stage: string): string => `phoenix-${stage}-event-dlq`;

/**
 * A key id or alias name is resolved by KMS in the caller's account and region; a key ARN or an
 * alias ARN may name another account's key (the image pipeline's): its grant is in that account.
 * (The policy schema refuses a key id or alias name when images come from other accounts.)
 */
export function signingKeyScope(id: string | undefined, where: Account): SigningKeyScope {
  if (id === undefined) return { kind: "unset" };
  if (id.startsWith("arn:") && id.includes(":key/")) return { kind: "key", arn: id };
  const aliasArn = id.match(/^arn:([^:]+):kms:([^:]+):(\d{12}):(alias\/.+)$/);
  if (aliasArn) {
    const [, partition, region, account, alias] = aliasArn as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    return { kind: "alias", alias, keys: `arn:${partition}:kms:${region}:${account}:key/*` };
  }
  const ownKeys = `arn:${where.partition}:kms:${where.region}:${where.account}:key/*`;
  if (id.startsWith("alias/")) return { kind: "alias", alias: id, keys: ownKeys };
  return { kind: "key", arn: `arn:${where.partition}:kms:${where.region}:${where.account}:key/${id}` };
}

function documentArn(name: string, where: Account): string {
  if (name.startsWith("arn:")) return name;
  // AWS-owned documents (AWS-RunShellScript…) have no account in their ARN.
  const account = name.startsWith("AWS-") || name.startsWith("AWSSupport-") ? "" : where.account;
  return `arn:${where.partition}:ssm:${where.region}:${account}:document/${name}`;
}

/** Parameter ARNs for the configured image parameters: an entry ending in "/" is a prefix. */
function parameterArns(entries: string[], where: Account): string[] {
  const base = `arn:${where.partition}:ssm:${where.region}:${where.account}:parameter`;
  return entries.map((entry) => (entry.endsWith("/") ? `${base}${entry}*` : `${base}${entry}`));
}

export function policyContext(
  where: Account & { stage: string; policy: Policy; fleetRoleArns?: string[] },
): PolicyContext {
  const { partition, region, account, stage, policy } = where;
  const names = resourceNames(stage);
  const regional = (service: string, resource: string) =>
    `arn:${partition}:${service}:${region}:${account}:${resource}`;
  return {
    partition,
    region,
    account,
    stage,
    tableArns: {
      audit: regional("dynamodb", `table/${names.auditTable}`),
      state: regional("dynamodb", `table/${names.stateTable}`),
    },
    topicArn: regional("sns", names.topic),
    stateMachineArns: {
      contain: regional("states", `stateMachine:${names.containStateMachine}`),
      rollout: regional("states", `stateMachine:${names.rolloutStateMachine}`),
    },
    functionArn: (name) => regional("lambda", `function:${deployedFunctionName(stage, name)}`),
    eventBufferArn: (queue) => regional("sqs", eventBufferName(stage, queue)),
    eventDeadLetterQueueArn: regional("sqs", eventDeadLetterQueueName(stage)),
    quarantineInstanceProfile: policy.containment.quarantineInstanceProfile,
    signingKey: signingKeyScope(policy.rollout.imageGate.signingKeyId, where),
    ...(policy.containment.memoryCaptureDocument
      ? { memoryCaptureDocumentArn: documentArn(policy.containment.memoryCaptureDocument, where) }
      : {}),
    imageParameterArns: parameterArns(policy.rollout.imageParameters, where),
    fleetRoleArns: where.fleetRoleArns ?? [],
    memberRoleArns: policy.accounts
      .filter((member) => member.accountId !== account)
      .map((member) => `arn:${partition}:iam::${member.accountId}:role/${member.roleName}`),
  };
}
