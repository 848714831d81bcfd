import { type Command, helpText } from "./command.js";
import { demoCommand } from "./commands/demo.js";
import { localCommand } from "./commands/local.js";
import { type CommandIO, EXIT, processIO, UsageError } from "./io.js";

export const COMMANDS: Command[] = [localCommand, demoCommand];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "phoenix: keeps an AWS fleet immutable (roll out golden images, contain compromised instances).",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `phoenix <command> --help` for a command's options and an example.",
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
    if (error instanceof UsageError || (error instanceof TypeError && "code" in error)) {
      io.err(`phoenix ${command.name}: ${error.message}\n\nUsage: ${command.usage}`);
      return EXIT.usage;
    }
    io.err(`phoenix ${command.name}: ${(error as Error).message}`);
    return EXIT.failed;
  }
}
