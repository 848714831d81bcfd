/**
 * From an AWS SDK v3 command class (and the package it is imported from) to the IAM actions
 * AWS authorizes when the command is sent. Pure data and lookups: the used-action derivation
 * (used-actions.ts) and the least-privilege test both read it.
 *
 * An unknown package or command is an error, never a silent "no permission needed": a new SDK
 * call without a mapping must fail the test, not the first real containment.
 */

/** IAM service prefix of each SDK v3 client package Phoenix may import. */
export const SERVICE_PREFIX_OF_PACKAGE: Record<string, string> = {
  "@aws-sdk/client-auto-scaling": "autoscaling",
  "@aws-sdk/client-dynamodb": "dynamodb",
  "@aws-sdk/client-ec2": "ec2",
  "@aws-sdk/client-eventbridge": "events",
  "@aws-sdk/client-iam": "iam",
  "@aws-sdk/client-imagebuilder": "imagebuilder",
  "@aws-sdk/client-kms": "kms",
  "@aws-sdk/client-sfn": "states",
  "@aws-sdk/client-sns": "sns",
  "@aws-sdk/client-sqs": "sqs",
  "@aws-sdk/client-ssm": "ssm",
  "@aws-sdk/client-sts": "sts",
};

export const DOCUMENT_CLIENT_PACKAGE = "@aws-sdk/lib-dynamodb";

/** Kinds of item a DynamoDB TransactWriteItems request can carry, and the action each needs. */
export const TRANSACT_ITEM_ACTIONS = {
  Put: "dynamodb:PutItem",
  Update: "dynamodb:UpdateItem",
  Delete: "dynamodb:DeleteItem",
  ConditionCheck: "dynamodb:ConditionCheckItem",
} as const;

export type TransactItemKind = keyof typeof TRANSACT_ITEM_ACTIONS;
export const TRANSACT_ITEM_KINDS = Object.keys(TRANSACT_ITEM_ACTIONS) as TransactItemKind[];

/**
 * lib-dynamodb's document commands wrap the low-level operations; IAM knows only the latter.
 * There is no IAM action for TransactWriteItems or TransactGetItems: DynamoDB authorizes each
 * item of a transaction as the single-item operation (PutItem, UpdateItem, DeleteItem,
 * ConditionCheckItem, GetItem). See transactionActions.
 */
const DOCUMENT_COMMAND_ACTIONS: Record<string, string[]> = {
  GetCommand: ["dynamodb:GetItem"],
  PutCommand: ["dynamodb:PutItem"],
  UpdateCommand: ["dynamodb:UpdateItem"],
  DeleteCommand: ["dynamodb:DeleteItem"],
  QueryCommand: ["dynamodb:Query"],
  ScanCommand: ["dynamodb:Scan"],
  BatchGetCommand: ["dynamodb:BatchGetItem"],
  BatchWriteCommand: ["dynamodb:BatchWriteItem"],
  TransactGetCommand: ["dynamodb:GetItem"],
};

/**
 * The actions of a TransactWriteCommand, from the item kinds written in the module that sends
 * it (`Put: {`, `Update: {`, …). When the module shows none (the items are built elsewhere),
 * every kind is assumed: over-granting a write kind is safer than a transaction that fails in
 * production for a permission the scan could not see.
 */
export function transactionActions(kinds: ReadonlySet<TransactItemKind>): string[] {
  const used = kinds.size > 0 ? [...kinds] : TRANSACT_ITEM_KINDS;
  return used.map((kind) => TRANSACT_ITEM_ACTIONS[kind]);
}

/**
 * Actions AWS checks in addition to the command's own, because of what the command does on the
 * caller's behalf (the service authorization reference calls them dependent actions). Only the
 * ones Phoenix's calls trigger are listed.
 */
export const DEPENDENT_ACTIONS: Record<string, { actions: string[]; why: string }> = {
  "ec2:CreateSecurityGroup": {
    actions: ["ec2:CreateTags"],
    why: "the isolation groups are created with TagSpecifications (phoenix:role, Name)",
  },
  "ec2:CreateSnapshot": {
    actions: ["ec2:CreateTags"],
    why: "evidence snapshots are created with TagSpecifications (phoenix:finding, phoenix:containment)",
  },
  "iam:CreateInstanceProfile": {
    actions: ["iam:TagInstanceProfile"],
    why: "the quarantine profile is created with Tags (phoenix:role=quarantine)",
  },
  "autoscaling:StartInstanceRefresh": {
    actions: ["ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"],
    why:
      "a refresh with DesiredConfiguration updates the group to a numbered launch-template version, " +
      "and Auto Scaling then checks that the caller may launch from that template (RunInstances, " +
      "CreateTags for its TagSpecifications, PassRole for its instance profile's role)",
  },
  "autoscaling:UpdateAutoScalingGroup": {
    actions: ["ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"],
    why:
      "pinning a group to a numbered launch-template version makes Auto Scaling check the same launch " +
      "permissions against the caller as a refresh does",
  },
};

export class UnmappedCommandError extends Error {
  constructor(where: string, pkg: string, command: string) {
    super(
      `${where}: no IAM mapping for ${command} from ${pkg}; add it to build/iam/sdk-actions.ts so its permission is granted`,
    );
    this.name = "UnmappedCommandError";
  }
}

/** The IAM action(s) of one command class (without dependent actions). */
export function actionsOfCommand(
  pkg: string,
  command: string,
  transactKinds: ReadonlySet<TransactItemKind>,
  where: string,
): string[] {
  if (pkg === DOCUMENT_CLIENT_PACKAGE) {
    if (command === "TransactWriteCommand") return transactionActions(transactKinds);
    const actions = DOCUMENT_COMMAND_ACTIONS[command];
    if (!actions) throw new UnmappedCommandError(where, pkg, command);
    return actions;
  }
  const prefix = SERVICE_PREFIX_OF_PACKAGE[pkg];
  if (!prefix || !command.endsWith("Command")) throw new UnmappedCommandError(where, pkg, command);
  // For every service Phoenix calls, the IAM action is named after the API operation.
  const operation = command.slice(0, -"Command".length);
  if (prefix === "dynamodb" && operation === "TransactWriteItems") return transactionActions(transactKinds);
  return [`${prefix}:${operation}`];
}

/** An action with the actions it depends on, closed transitively. */
export function withDependents(actions: Iterable<string>): Set<string> {
  const all = new Set<string>();
  const pending = [...actions];
  while (pending.length > 0) {
    const action = pending.pop() as string;
    if (all.has(action)) continue;
    all.add(action);
    pending.push(...(DEPENDENT_ACTIONS[action]?.actions ?? []));
  }
  return all;
}
