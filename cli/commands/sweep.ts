import { EXIT } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { runSweep } from "../../src/drift/workflow/sweep.js";
import { actorOf, openConnection } from "../aws/session.js";
import {
  booleanFlag,
  CONNECTION_FLAGS,
  CONNECTION_USAGE,
  JSON_FLAG,
  parseCommandArgs,
  stringFlag,
} from "../lib/args.js";
import type { Command } from "../lib/command.js";

export const sweepCommand: Command = {
  name: "sweep",
  usage: `phoenix sweep [--family f] [--json] ${CONNECTION_USAGE}`,
  example: "phoenix sweep --family web --local",
  details: `Runs the drift sweep now and prints what it found. Drift is: a managed group that does not
launch its family's current image (the image of the family's last completed rollout); an instance
of a managed group that runs another image than its group's launch template (launched before the
last refresh, or by hand); an instance older than drift.maxInstanceAgeDays (default 30); a running
instance tagged phoenix:image-family that is in no Auto Scaling group (no rollout replaces it); an
instance someone logged in to (phoenix:tainted) that still runs.
Each finding goes to the audit trail and people are told once per sweep. Report mode (drift.mode,
the default): nothing is replaced. Enforce mode (drift.mode, or drift.families.<f>.mode for one
family): each drifted managed group is replaced through the rollout workflow (gate, pause, locks),
onto its family's current image if it is behind, every instance when some are too old or tainted;
at most drift.maxGroupsPerSweep groups (default 2) per sweep, the others held until someone runs
phoenix approve <drift-hold-id>. Standalone instances are only reported. The sweep also makes sure every VPC with
instances Phoenix may contain has its two isolation groups, so a first containment there isolates
as fast as any other. Exit 0 with no drift, 1 with drift.`,
  async run(args, io) {
    const parsed = parseCommandArgs(args, { ...CONNECTION_FLAGS, ...JSON_FLAG, family: { type: "string" } });
    const family = stringFlag(parsed, "family");
    const connection = await openConnection(parsed, io);
    const report = await runSweep(connection.deps, {
      ...(family !== undefined ? { family } : {}),
      by: await actorOf(io.env, connection),
    });
    const code = report.findings.length === 0 ? EXIT.ok : EXIT.failed;
    if (booleanFlag(parsed, "json")) {
      printJson(io, report);
      return code;
    }
    const scope = family !== undefined ? `family ${family}` : "every family";
    io.out(
      `Drift sweep ${report.sweepId} (${report.mode} mode, ${scope}): ${report.findings.length} finding(s).`,
    );
    for (const [name, image] of Object.entries(report.currentImages))
      io.out(
        `  family ${name}: current image ${image ?? "none yet (no rollout completed)"}${report.rollingOut.includes(name) ? " (a rollout is running: its groups are not reported as behind)" : ""}`,
      );
    for (const finding of report.findings)
      io.out(`  ${finding.subject} [${finding.kind}, ${finding.family}]: ${finding.reason}`);
    const groups = report.isolationGroups;
    io.out(
      groups.ensured
        ? `  isolation groups in place in ${groups.vpcs.length} VPC(s)${groups.vpcs.length ? `: ${groups.vpcs.join(", ")}` : ""}`
        : `  isolation groups NOT ensured (${groups.error}); the first containment in a VPC will make them`,
    );
    const { enforced, held, tainted, notEnforced } = report.enforcement;
    for (const e of enforced)
      io.out(
        `  REPLACING group ${e.group} onto ${e.imageId}${e.replaceAll ? " (every instance)" : ""}: rollout ${e.execution}${e.started ? "" : " (already started)"}\n    follow it: phoenix watch ${e.execution}`,
      );
    for (const h of held)
      io.out(
        `  HELD group ${h.group} onto ${h.imageId} (over drift.maxGroupsPerSweep): phoenix approve ${h.holdId}`,
      );
    for (const t of tainted)
      io.out(
        t.outcome === "replaced"
          ? `  REPLACING tainted ${t.instanceId} through its group ${t.group}: ${t.reason}`
          : `  tainted ${t.instanceId} in ${t.group}: ${t.outcome}, ${t.reason}`,
      );
    for (const n of notEnforced) io.out(`  not enforced: ${n.subject}: ${n.reason}`);
    const replaced = tainted.filter((t) => t.outcome === "replaced").length;
    if (report.findings.length > 0 && enforced.length + held.length + replaced === 0)
      io.out("  Nothing was changed. The findings are in the audit trail.");
    return code;
  },
};
