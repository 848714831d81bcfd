/**
 * The local cloud's own record of every API call it served. Audit-completeness checks compare
 * the mutating calls here with Phoenix's audit table.
 */
export interface CallRecord {
  seq: number;
  at: string;
  service: string;
  action: string;
  status: number;
  mutating: boolean;
  fault?: "throttle" | "5xx";
  /** Who served it: a local service model, or moto. */
  servedBy: string;
  /** A few identifying parameters (instance ids, group names), for audit cross-checks. */
  subject?: string;
  /** Real ms from the request's arrival to its answer (authorization and the service included). */
  ms?: number;
}

const READ_ONLY =
  /^(Describe|Get|List|Receive|Query|Scan|BatchGet|Verify|Test|Search|Lookup|Simulate|Check|Validate|Decrypt|Encrypt|Generate|Sign$)/;

export function isMutatingAction(action: string): boolean {
  return action !== "" && !READ_ONLY.test(action);
}

export class CallLog {
  private readonly records: CallRecord[] = [];
  private seq = 0;

  constructor(private readonly capacity = 200_000) {}

  add(record: Omit<CallRecord, "seq" | "at" | "mutating">): CallRecord {
    const full: CallRecord = {
      ...record,
      seq: ++this.seq,
      at: new Date().toISOString(),
      mutating: isMutatingAction(record.action),
    };
    this.records.push(full);
    if (this.records.length > this.capacity) this.records.splice(0, this.records.length - this.capacity);
    return full;
  }

  since(seq = 0): CallRecord[] {
    return this.records.filter((r) => r.seq > seq);
  }

  count(filter: Partial<Pick<CallRecord, "service" | "action" | "mutating">> = {}): number {
    return this.records.filter(
      (r) =>
        (filter.service === undefined || r.service === filter.service) &&
        (filter.action === undefined || r.action === filter.action) &&
        (filter.mutating === undefined || r.mutating === filter.mutating),
    ).length;
  }
}
