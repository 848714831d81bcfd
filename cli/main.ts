import { CliError, type CommandIO, EXIT, processIO, UsageError } from "../ops/io.js";
import { type Command, type CommandEntry, helpText } from "./lib/command.js";
import { closest } from "./lib/suggest.js";

/**
 * Every command, loaded only when it runs: a command pulls in the SDK clients, the local cloud
 * or the dashboard it needs, and loading them all made every call wait for all of them.
 */
export const COMMANDS: CommandEntry[] = [
  {
    name: "plan",
    summary:
      "Dry run: what a rollout, a containment or an event would do (groups, waves, steps, budgets); changes nothing",
    load: async () => (await import("./commands/plan.js")).planCommand,
  },
  {
    name: "rollout",
    summary: "Start the rollout workflow of an image: its family's groups, or the groups named",
    load: async () => (await import("./commands/rollout.js")).rolloutCommand,
  },
  {
    name: "contain",
    summary:
      "Contain an instance now (isolate, revoke, detach and replace, keep evidence, dispose) through the same routing and budgets as findings",
    load: async () => (await import("./commands/contain.js")).containCommand,
  },
  {
    name: "release",
    summary: "Release an instance Phoenix contained (a false positive): restore what isolation changed",
    load: async () => (await import("./commands/release.js")).releaseCommand,
  },
  {
    name: "approve",
    summary: "Approve a held containment (protected instance, or over budget): it starts now",
    load: async () => (await import("./commands/approve.js")).approveCommand,
  },
  {
    name: "holds",
    summary:
      "Containments held for approval (protected instance, or over budget), with the command that approves each",
    load: async () => (await import("./commands/holds.js")).holdsCommand,
  },
  {
    name: "pause",
    summary:
      "Stop every rollout (or one family's) at its next safe point until `phoenix resume`; containment is never paused",
    load: async () => (await import("./commands/pause.js")).pauseCommand,
  },
  {
    name: "resume",
    summary: "Lift a pause: new rollouts run again; lists the rollouts the pause stopped",
    load: async () => (await import("./commands/pause.js")).resumeRolloutsCommand,
  },
  {
    name: "sweep",
    summary:
      "Run the drift sweep now: groups behind their family's image, instances off their template or too old, stray family instances",
    load: async () => (await import("./commands/sweep.js")).sweepCommand,
  },
  {
    name: "status",
    summary: "Running and recent workflows, and each managed group's instance refresh progress",
    load: async () => (await import("./commands/status.js")).statusCommand,
  },
  {
    name: "watch",
    summary: "Follow one workflow live: its steps, each instance refresh's progress, the outcome",
    load: async () => (await import("./commands/watch.js")).watchCommand,
  },
  {
    name: "audit",
    summary: "The audit trail: every action and decision, for one instance, one image, or a period",
    load: async () => (await import("./commands/audit.js")).auditCommand,
  },
  {
    name: "config",
    summary: "Validate a Phoenix policy and print its effective values (defaults filled in)",
    load: async () => (await import("./commands/config.js")).configCommand,
  },
  {
    name: "local",
    summary:
      "Run the local cloud (moto + Phoenix's runtime) until Ctrl-C; `local finding`, `local notifications`, `local env` use the running one",
    load: async () => (await import("./commands/local.js")).localCommand,
  },
  {
    name: "demo",
    summary: "Start the local cloud, seed a demo fleet and run Phoenix's story on it (what `npm start` runs)",
    load: async () => (await import("./commands/demo.js")).demoCommand,
  },
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "phoenix: keeps an AWS fleet immutable (roll out golden images, contain compromised instances).",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `phoenix <command> --help` for a command's options and an example.",
    "",
    "Where: --local (the local cloud started from this checkout, on whatever port), --port N (the",
    "local cloud on 127.0.0.1:N), --endpoint URL, or AWS_ENDPOINT_URL; otherwise AWS with the",
    "standard credential chain, --profile and --region. --stage names Phoenix's resources",
    '(default: PHOENIX_STAGE, else "local" against a local endpoint, "production" against AWS).',
    "Exit codes: 0 ok, 1 failed or refused, 2 bad usage or input, 3 environment (credentials,",
    "not deployed, local cloud not running), 4 held for approval, 130 interrupted (Ctrl-C).",
  ].join("\n");
}

export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(overview());
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command && name.startsWith("-")) {
    const named = rest.find((arg) => COMMANDS.some((c) => c.name === arg));
    io.err(
      `phoenix: give the command first${named ? `: phoenix ${named} ${argv.filter((a) => a !== named).join(" ")}` : ""}. \`phoenix --help\` lists the commands.`,
    );
    return EXIT.usage;
  }
  if (!command) {
    const suggestion = closest(
      name,
      COMMANDS.map((c) => c.name),
    );
    io.err(
      `phoenix: unknown command "${name}"${suggestion ? `: did you mean "${suggestion}"?` : "."} \`phoenix --help\` lists the commands: ${COMMANDS.map((c) => c.name).join(", ")}.`,
    );
    return EXIT.usage;
  }
  let loaded: Command | undefined;
  try {
    loaded = await command.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(helpText(command, loaded));
      return EXIT.ok;
    }
    return await loaded.run(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`phoenix ${command.name}: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof UsageError || (error instanceof TypeError && "code" in error)) {
      io.err(`phoenix ${command.name}: ${error.message}\n\nUsage: ${loaded?.usage ?? ""}`);
      return EXIT.usage;
    }
    io.err(`phoenix ${command.name}: ${(error as Error).message}`);
    return EXIT.failed;
  }
}
