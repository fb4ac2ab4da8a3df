import { CheckpointerError } from "../errors.js";
import { GLOBAL_OPTIONS, InputError, UsageError, findCommand, parseCommandLine } from "./args.js";
import { type Command, Context, type Io, write } from "./command.js";
import { isMissingTable } from "./connect.js";
import { copy } from "./commands/copy.js";
import { exportCommand } from "./commands/export.js";
import { importCommand } from "./commands/import.js";
import { prune } from "./commands/prune.js";
import { setup } from "./commands/setup.js";
import { show } from "./commands/show.js";
import { stats } from "./commands/stats.js";
import { threads } from "./commands/threads.js";
import { validate } from "./commands/validate.js";
import { printable } from "./format.js";
import { TOOL, commandHelp, mainHelp } from "./help.js";
import { maskSecrets, passwordsIn } from "./secrets.js";

export const COMMANDS: readonly Command[] = [setup, threads, show, validate, prune, exportCommand, importCommand, copy, stats];

/** Exit codes, as `--help` documents them. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Runs one command line; resolves to the process's exit code. Never throws. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  // Every connection string the tool may use, so that no message prints its password.
  const passwords = passwordsIn([...argv, io.env.LANGGRAPH_CHECKPOINT_URL, io.env.DATABASE_URL]);
  try {
    const found = findCommand(argv);
    if (found === undefined || found.name === "help") {
      const topic = found && COMMANDS.find((c) => c.name === argv[found.index + 1]);
      if (topic) return await printed(io, commandHelp(topic));
      const asked = found !== undefined || argv.includes("--help") || argv.includes("-h");
      if (asked) return await printed(io, mainHelp(COMMANDS));
      await write(io.stderr, `${mainHelp(COMMANDS)}\nerror: a command is required\n`);
      return EXIT.usage;
    }
    const command = COMMANDS.find((c) => c.name === found.name);
    if (command === undefined) {
      throw new UsageError(`unknown command ${JSON.stringify(found.name)} (commands: ${COMMANDS.map((c) => c.name).join(", ")})`);
    }
    const rest = argv.filter((_, i) => i !== found.index);
    const { values, positionals } = parseCommandLine(rest, { ...GLOBAL_OPTIONS, ...command.options }, command.positionals,
      `${TOOL} ${command.name} ${command.usage}`.trim());
    if (values.help) return await printed(io, commandHelp(command));
    return await command.run(new Context(io, values, positionals, passwords));
  } catch (error) {
    return report(io, error, passwords);
  }
}

async function printed(io: Io, text: string): Promise<number> {
  await write(io.stdout, text);
  return EXIT.ok;
}

/**
 * `error: <message>` on stderr, redacted, on one line (control characters
 * escaped), without a stack trace: usage and input errors exit 2, everything
 * else 1.
 */
async function report(io: Io, error: unknown, passwords: readonly string[]): Promise<number> {
  const message = error instanceof Error ? error.message : String(error);
  const known = error instanceof CheckpointerError || error instanceof InputError;
  const hint = error instanceof UsageError
    ? `\nrun "${TOOL} --help" for usage`
    : isMissingTable(error)
      ? `\nthe tables are not there: check --schema, or create them with "${TOOL} setup"`
      : "";
  const shown = printable(maskSecrets(known ? message : `unexpected failure: ${message}`, passwords));
  await write(io.stderr, `error: ${shown}${hint}\n`)
    .catch(() => undefined);
  return exitCodeOf(error);
}


function exitCodeOf(error: unknown): number {
  if (error instanceof InputError) return EXIT.usage;
  if (error instanceof CheckpointerError) {
    return ["INVALID_INPUT", "INVALID_OPTIONS", "THREAD_NOT_FOUND", "THREAD_EXISTS"].includes(error.code) ? EXIT.usage : EXIT.failed;
  }
  return EXIT.failed;
}
