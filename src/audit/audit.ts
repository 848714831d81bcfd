import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";

/**
 * The audit trail: one record per mutating action or decision, keyed by its subject (an
 * instance, an image, a group) so the history of one thing is one query. Writes are
 * idempotent: a retried step that writes the same record (same `key`) leaves one record.
 */
export type AuditOutcome = "ok" | "failed" | "held" | "skipped" | "refused" | "notified";

export interface AuditEntry {
  /** "instance/i-…", "image/ami-…", "group/<name>", "finding/<id>". */
  subject: string;
  /** What was done or decided: "isolate", "snapshot", "start-refresh", "route", … */
  action: string;
  outcome: AuditOutcome;
  /** Who: "phoenix:contain", "phoenix:rollout", "user:<arn or name>". */
  actor: string;
  reason?: string;
  execution?: string;
  findingId?: string;
  imageId?: string;
  /** The member account and region acted in, when not Phoenix's own (src/member-access.ts). */
  accountId?: string;
  region?: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  at: string;
  /** Idempotency key of the record within its subject. */
  key: string;
  expiresAt: number;
}

/** A first-write-wins Put of a record, for a DynamoDB transaction that must include it. */
export interface AuditPut {
  TableName: string;
  Item: Record<string, unknown>;
  ConditionExpression: string;
}

export interface AuditStore {
  write(entry: AuditEntry, key?: string): Promise<AuditRecord>;
  /**
   * The record as an item of a transaction, written only if the transaction commits (the
   * caller decides what a failed condition on it means).
   */
  transactPut(entry: AuditEntry, key: string): AuditPut;
  history(subject: string): Promise<AuditRecord[]>;
  since(isoTime: string): Promise<AuditRecord[]>;
}

export function dynamoAuditStore(
  client: DynamoDBDocumentClient,
  table: string,
  options: { retentionDays: number; now?: () => Date },
): AuditStore {
  const now = options.now ?? (() => new Date());
  const recordOf = (entry: AuditEntry, key: string | undefined): AuditRecord => {
    const at = now().toISOString();
    return {
      ...entry,
      at,
      key: key ?? `${at}#${entry.action}#${Math.random().toString(36).slice(2, 10)}`,
      expiresAt: Math.floor(now().getTime() / 1000) + options.retentionDays * 86_400,
    };
  };
  const put = (record: AuditRecord): AuditPut => ({
    TableName: table,
    Item: { pk: record.subject, sk: record.key, ...record },
    ConditionExpression: "attribute_not_exists(pk)",
  });
  return {
    transactPut: (entry, key) => put(recordOf(entry, key)),
    async write(entry, key) {
      const record = recordOf(entry, key);
      try {
        await client.send(new PutCommand(put(record)));
      } catch (error) {
        // Already written by an earlier attempt of the same step: the trail keeps one record.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      return record;
    },
    async history(subject) {
      const items: AuditRecord[] = [];
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: "pk = :subject",
            // A step reads what the intake wrote a moment before (the original state, its cut).
            ConsistentRead: true,
            ExpressionAttributeValues: { ":subject": subject },
            ExclusiveStartKey,
          }),
        );
        items.push(...((page.Items ?? []) as AuditRecord[]));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      return items.map(stripKeys).sort((a, b) => a.at.localeCompare(b.at));
    },
    async since(isoTime) {
      const items: AuditRecord[] = [];
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: table,
            FilterExpression: "#at >= :since",
            ExpressionAttributeNames: { "#at": "at" },
            ExpressionAttributeValues: { ":since": isoTime },
            ExclusiveStartKey,
          }),
        );
        items.push(...((page.Items ?? []) as AuditRecord[]));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      return items.map(stripKeys).sort((a, b) => a.at.localeCompare(b.at));
    },
  };
}

function stripKeys(item: AuditRecord & { pk?: unknown; sk?: unknown }): AuditRecord {
  const { pk: _pk, sk: _sk, ...record } = item;
  return record;
}
