import { type Command, helpText } from "./command.js";
import { approveCommand } from "./commands/approve.js";
import { auditCommand } from "./commands/audit.js";
import { configCommand } from "./commands/config.js";
import { containCommand } from "./commands/contain.js";
import { demoCommand } from "./commands/demo.js";
import { localCommand } from "./commands/local.js";
import { planCommand } from "./commands/plan.js";
import { releaseCommand } from "./commands/release.js";
import { rolloutCommand } from "./commands/rollout.js";
import { statusCommand } from "./commands/status.js";
import { watchCommand } from "./commands/watch.js";
import { CliError, type CommandIO, EXIT, processIO, UsageError } from "./io.js";

export const COMMANDS: Command[] = [
  planCommand,
  rolloutCommand,
  containCommand,
  releaseCommand,
  approveCommand,
  statusCommand,
  watchCommand,
  auditCommand,
  configCommand,
  localCommand,
  demoCommand,
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
    "Where: --local (the local cloud on 127.0.0.1:4566) or AWS_ENDPOINT_URL; otherwise AWS with the",
    "standard credential chain, --profile and --region. --stage names Phoenix's resources",
    '(default: PHOENIX_STAGE, else "local" against a local endpoint, "production" against AWS).',
    "Exit codes: 0 ok, 1 failed or refused, 2 bad usage or input, 3 environment (credentials,",
    "not deployed, local cloud not running), 4 held for approval.",
  ].join("\n");
}

export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(overview());
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`phoenix: unknown command "${name}".\n\n${overview()}`);
    return EXIT.usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(helpText(command));
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`phoenix ${command.name}: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof UsageError || (error instanceof TypeError && "code" in error)) {
      io.err(`phoenix ${command.name}: ${error.message}\n\nUsage: ${command.usage}`);
      return EXIT.usage;
    }
    io.err(`phoenix ${command.name}: ${(error as Error).message}`);
    return EXIT.failed;
  }
}
