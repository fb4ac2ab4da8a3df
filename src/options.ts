import { InvalidOptionsError } from "./errors.js";

/** Any object with these four methods works: console, pino, winston, bunyan. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface PostgresSaverOptions {
  /**
   * Postgres schema that holds the checkpoint tables. Any name Postgres accepts
   * works: it is quoted as an identifier, never pasted into SQL raw.
   * @default "public"
   */
  schema?: string;
  /**
   * Rows fetched per statement by `list()`. `list()` pages through results
   * with keyset pagination, so memory stays bounded whatever the result size.
   * @default 100
   */
  listPageSize?: number;
  /**
   * Where warnings (for example an idle connection dropped by the server) go.
   * @default console (warn and error only)
   */
  logger?: Logger;
}

/**
 * 100 rows per page keeps a page of typical agent checkpoints (a few KiB to a
 * few hundred KiB each) well under the memory of one large state, while a
 * `list({ limit })` of up to 100 still costs a single statement.
 */
export const DEFAULT_LIST_PAGE_SIZE = 100;

/** Postgres truncates identifiers longer than NAMEDATALEN - 1 = 63 bytes; we refuse instead of truncating. */
const MAX_IDENTIFIER_BYTES = 63;

export const defaultLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => console.warn(`[langgraph-checkpoint-pg] ${message}`, fields ?? ""),
  error: (message, fields) => console.error(`[langgraph-checkpoint-pg] ${message}`, fields ?? ""),
};

export interface ResolvedOptions {
  schema: string;
  /** The schema name quoted as a Postgres identifier, ready to put in SQL. */
  quotedSchema: string;
  listPageSize: number;
  logger: Logger;
}

export function resolveOptions(options: PostgresSaverOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidOptionsError(`options must be an object, got ${describe(options)}`);
  }
  const schema = options?.schema ?? "public";
  const listPageSize = options?.listPageSize ?? DEFAULT_LIST_PAGE_SIZE;
  if (!Number.isSafeInteger(listPageSize) || listPageSize < 1) {
    throw new InvalidOptionsError(`listPageSize must be a positive integer, got ${describe(listPageSize)}`);
  }
  return {
    schema,
    quotedSchema: quoteIdentifier(schema, "schema"),
    listPageSize,
    logger: options?.logger ?? defaultLogger,
  };
}

/**
 * Quotes a Postgres identifier: wraps it in double quotes and doubles any
 * embedded quote, so `a"; DROP TABLE x; --` names a schema rather than
 * ending the statement. Names Postgres would truncate or cannot store are refused.
 */
export function quoteIdentifier(name: unknown, what: string): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidOptionsError(`${what} must be a non-empty string, got ${describe(name)}`);
  }
  if (name.includes("\u0000") || !name.isWellFormed()) {
    throw new InvalidOptionsError(`${what} name contains a NUL character or an unpaired surrogate`);
  }
  if (Buffer.byteLength(name, "utf8") > MAX_IDENTIFIER_BYTES) {
    throw new InvalidOptionsError(
      `${what} name is longer than ${MAX_IDENTIFIER_BYTES} bytes; Postgres would silently truncate it`,
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return value.length === 0 ? "an empty string" : "a string";
  if (typeof value === "number") return Number.isFinite(value) ? `the number ${value}` : String(value);
  return typeof value === "object" ? "an object" : typeof value;
}
