import { EXIT } from "../../ops/io.js";
import { plural, printJson } from "../../ops/output.js";
import type { AuditRecord } from "../../src/audit/audit.js";
import { instanceSubject } from "../../src/containment/core/types.js";
import { groupSubject, imageSubject } from "../../src/rollout/aws/image-marks.js";
import { normalGroupKey } from "../../src/rollout/core/place.js";
import { isIgnoredEvent } from "../aws/ignored.js";
import { openConnection } from "../aws/session.js";
import * as flags from "../lib/args.js";
import type { Command } from "../lib/command.js";

export const auditCommand: Command = {
  name: "audit",
  usage: `phoenix audit [--instance i-…] [--image ami-…] [--group <name | account/region/name>] [--since 24h] [--json] ${flags.CONNECTION_USAGE}`,
  example: "phoenix audit --instance i-0123456789abcdef0 --since 7d",
  async run(args, io) {
    const parsed = flags.parseCommandArgs(args, {
      ...flags.CONNECTION_FLAGS,
      ...flags.JSON_FLAG,
      instance: { type: "string" },
      image: { type: "string" },
      group: { type: "string" },
      since: { type: "string" },
    });
    const instance = flags.stringFlag(parsed, "instance");
    const image = flags.stringFlag(parsed, "image");
    // A member's group by its key (src/rollout/core/place.ts), a central one by its name.
    const group = flags.stringFlag(parsed, "group");
    if (instance !== undefined) flags.requireInstanceId(instance);
    if (image !== undefined) flags.requireImageId(image);
    const sinceText = flags.stringFlag(parsed, "since");
    // One subject's history is a cheap query, so it is shown whole unless --since narrows it;
    // the whole trail is a scan, so it defaults to the last day.
    const sinceMs = sinceText !== undefined ? flags.parseDuration(sinceText, "--since") : undefined;
    const connection = await openConnection(parsed, io);
    const { audit } = connection.deps;
    const since = new Date(Date.now() - (sinceMs ?? 86_400_000)).toISOString();
    let records: AuditRecord[];
    let aboutInstance = 0;
    if (instance || image || group) {
      const subjects = [
        ...(instance ? [instanceSubject(instance)] : []),
        ...(image ? [imageSubject(image)] : []),
        ...(group ? [groupSubject(normalGroupKey(group, connection.deps))] : []),
      ];
      records = (await Promise.all(subjects.map((s) => audit.history(s)))).flat();
      if (sinceMs !== undefined) records = records.filter((r) => r.at >= since);
      if (instance) {
        // Findings about the instance that Phoenix did not act on are recorded under the finding
        // (finding/<id>), not the instance: found by a scan of the period.
        const findings = (await audit.since(since)).filter(
          (r) => isIgnoredEvent(r) && r.details?.["instanceId"] === instance,
        );
        aboutInstance = findings.length;
        records.push(...findings);
      }
    } else {
      records = await audit.since(since);
    }
    records.sort((a, b) => a.at.localeCompare(b.at));
    if (flags.booleanFlag(parsed, "json")) {
      printJson(io, { records });
      return EXIT.ok;
    }
    const scope =
      [instance, image, group !== undefined ? `group ${group}` : undefined].filter(Boolean).join(" and ") ||
      "everything";
    io.out(
      `Audit trail of ${scope}${sinceMs !== undefined || !(instance || image || group) ? ` since ${since}` : ""}: ${plural(records.length, "record")}${aboutInstance > 0 ? ` (${aboutInstance} of them about findings on ${instance} that Phoenix did not act on${sinceMs === undefined ? ", last 24 h" : ""})` : ""}`,
    );
    for (const record of records) io.out(formatRecord(record));
    return EXIT.ok;
  },
};

export function formatRecord(record: AuditRecord): string {
  const ignored = isIgnoredEvent(record);
  const mark = record.outcome === "ok" ? "✔" : record.outcome === "failed" ? "✘" : ignored ? "⊘" : "·";
  const parts = [
    `${record.at}  ${mark} ${record.subject}${record.accountId ? ` (account ${record.accountId} ${record.region ?? ""})`.replace(" )", ")") : ""}  ${record.action} ${record.outcome}  by ${record.actor}${ignored ? "  (not acted on)" : ""}`,
  ];
  if (ignored && record.action === "route") {
    const d = record.details ?? {};
    const about = [
      typeof d["type"] === "string" ? d["type"] : undefined,
      typeof d["severity"] === "number" ? `severity ${d["severity"]}` : undefined,
      typeof d["instanceId"] === "string" ? `on ${d["instanceId"]}` : undefined,
    ].filter(Boolean);
    if (about.length > 0) parts.push(`    ${about.join(", ")}`);
  }
  if (record.reason) parts.push(`    ${record.reason}`);
  if (record.execution) parts.push(`    execution ${record.execution}`);
  return parts.join("\n");
}
