import { GLOBAL_OPTIONS, type OptionSpecs } from "./args.js";
import type { Command } from "./command.js";

/** The tool's name, as installed by the package's `bin`. */
export const TOOL = "langgraph-checkpoint-pg";

export const EXIT_CODES = `Exit codes:
  0  success
  1  the operation failed (database unreachable, a statement failed, ...), or validate found problems
  2  bad usage or input: unknown command or option, bad value, unknown thread, unreadable or
     invalid export file, no database URL`;

const ENVIRONMENT = `Environment:
  LANGGRAPH_CHECKPOINT_URL, else DATABASE_URL   connection string, when --url is not given
  LANGGRAPH_CHECKPOINT_SCHEMA                   schema, when --schema is not given (default public)
  The saver's other variables apply as they do to createCheckpointer(), for example
  LANGGRAPH_CHECKPOINT_CONNECT_TIMEOUT_MS, LANGGRAPH_CHECKPOINT_STATEMENT_TIMEOUT_MS,
  LANGGRAPH_CHECKPOINT_RETRY_MAX_ATTEMPTS, LANGGRAPH_CHECKPOINT_OPERATION_TIMEOUT_MS,
  LANGGRAPH_CHECKPOINT_POOL_MAX, LANGGRAPH_CHECKPOINT_COMPACTION (for import and copy).
  Passwords in connection strings are never printed.`;

export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `${TOOL}: operate the LangGraph checkpoints in a PostgreSQL database (written by
langgraph-checkpoint-pg or by @langchain/langgraph-checkpoint-postgres)

Usage: ${TOOL} <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Options for every command:
${options(GLOBAL_OPTIONS)}

Run "${TOOL} <command> --help" for a command's own options.

${ENVIRONMENT}

${EXIT_CODES}
`;
}

export function commandHelp(command: Command): string {
  const own = Object.keys(command.options).length > 0 ? `Options:\n${options(command.options)}\n\n` : "";
  return `Usage: ${TOOL} ${command.name}${command.usage ? ` ${command.usage}` : ""} [--url URL] [--schema NAME] [--json]

${command.details}

${own}Options for every command:
${options(GLOBAL_OPTIONS)}

${EXIT_CODES}
`;
}

function options(specs: OptionSpecs): string {
  const left = Object.entries(specs).map(([name, o]) => `${o.short ? `-${o.short}, ` : ""}--${name}${o.value ? ` ${o.value}` : ""}`);
  const width = Math.max(...left.map((l) => l.length));
  return Object.values(specs).map((o, i) => `  ${left[i]!.padEnd(width)}  ${o.help}`).join("\n");
}
