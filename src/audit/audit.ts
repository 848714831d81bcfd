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
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  at: string;
  /** Idempotency key of the record within its subject. */
  key: string;
  expiresAt: number;
}

export interface AuditStore {
  write(entry: AuditEntry, key?: string): Promise<AuditRecord>;
  history(subject: string): Promise<AuditRecord[]>;
  since(isoTime: string): Promise<AuditRecord[]>;
}

export function dynamoAuditStore(
  client: DynamoDBDocumentClient,
  table: string,
  options: { retentionDays: number; now?: () => Date },
): AuditStore {
  const now = options.now ?? (() => new Date());
  return {
    async write(entry, key) {
      const at = now().toISOString();
      const record: AuditRecord = {
        ...entry,
        at,
        key: key ?? `${at}#${entry.action}#${Math.random().toString(36).slice(2, 10)}`,
        expiresAt: Math.floor(now().getTime() / 1000) + options.retentionDays * 86_400,
      };
      try {
        await client.send(
          new PutCommand({
            TableName: table,
            Item: { pk: entry.subject, sk: record.key, ...record },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
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
