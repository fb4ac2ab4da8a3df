import { optionsFromEnv, urlFromEnv } from "../config/env.js";
import { CheckpointerDatabaseError, SQLSTATE } from "../errors.js";
import type { Logger } from "../config/observability.js";
import type { PostgresSaver } from "../saver.js";
import type { Database } from "../database.js";
import { InputError } from "./args.js";
import type { Context } from "./command.js";

/**
 * The saver a command works through. Configured like `createCheckpointer()`
 * (the same environment variables, so pool, retry and timeout settings
 * apply), but never falls back to memory: an operator pointing the tool at
 * the wrong place must hear about it. No retention timer, metrics or
 * tracing: a command is a short-lived process.
 */
export interface Connection {
  saver: PostgresSaver;
  database: Database;
  schema: string;
}

export interface Target {
  url: string;
  schema: string;
}

/**
 * An application's deadlines (10 s a statement, 30 s an operation) are
 * right for a graph step and wrong for exporting a thread of hundreds of MB
 * or scanning a large table; an operator can still set them with
 * LANGGRAPH_CHECKPOINT_STATEMENT_TIMEOUT_MS / _OPERATION_TIMEOUT_MS.
 */
const OPERATOR_TIMEOUTS = { statementTimeoutMs: 10 * 60_000, operationTimeoutMs: 30 * 60_000 };

/** `--url`/`--schema`, else the environment. Checked before anything is loaded or connected. */
export function sourceTarget(context: Context): Target {
  const url = context.url ?? urlFromEnv(context.io.env);
  if (url === undefined || url.trim() === "") {
    throw new InputError("no database URL: pass --url or set LANGGRAPH_CHECKPOINT_URL (or DATABASE_URL)");
  }
  return { url: checkUrl(url, "the database URL"), schema: context.schema };
}

/** A URL the tool can use: a connection string, not the factory's "memory" or "embedded". */
export function checkUrl(url: string, what: string): string {
  if (url === "memory" || url === "embedded") {
    throw new InputError(`${what} is "${url}": this tool works on a PostgreSQL database; give a postgres:// connection string`);
  }
  return url;
}

/** Opens a saver on `target` (no query is sent yet). */
export async function connect(context: Context, target: Target): Promise<Connection> {
  const fromEnv = optionsFromEnv(context.io.env);
  // Loaded only now: `--help` and usage errors need none of LangGraph.
  const [{ PostgresSaver }, { databaseOf }] = await Promise.all([import("../saver.js"), import("../database.js")]);
  const saver = PostgresSaver.fromConnString(target.url, {
    // A long scan is expected to be slow; only an explicit LANGGRAPH_CHECKPOINT_SLOW_MS asks for those logs.
    slowOperationMs: false,
    logger: stderrLogger(context),
    ...fromEnv,
    retry: { ...OPERATOR_TIMEOUTS, ...fromEnv.retry },
    schema: target.schema,
    retention: false,
    metrics: false,
    tracing: false,
  });
  return { saver, database: databaseOf(saver), schema: target.schema };
}

/** Runs `work` on a connection to `target` (the source database by default), and always closes it. */
export async function withConnection<T>(
  context: Context,
  work: (connection: Connection) => Promise<T>,
  target: Target = sourceTarget(context),
): Promise<T> {
  const connection = await connect(context, target);
  try {
    return await work(connection);
  } finally {
    // Drains and closes the pool, so the process exits as soon as the command is done.
    await connection.saver.end();
  }
}

/** The library's warnings, one redacted line each on stderr. */
function stderrLogger(context: Context): Logger {
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const detail = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
    context.io.stderr.write(`${level}: ${context.shown(message + detail)}\n`);
  };
  return { debug() {}, info() {}, warn: line("warning"), error: line("error") };
}

/** The tables (or the schema) are not there. */
export function isMissingTable(error: unknown): boolean {
  return error instanceof CheckpointerDatabaseError &&
    (error.sqlstate === SQLSTATE.undefinedTable || error.sqlstate === SQLSTATE.invalidSchemaName);
}
