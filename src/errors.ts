/**
 * Every error this package raises is a `CheckpointerError` with a stable
 * `code`, so callers can branch on `err.code` instead of parsing messages.
 * Database failures keep pg's original error reachable as `cause`.
 */

export type CheckpointerErrorCode =
  | "INVALID_INPUT"
  | "INVALID_OPTIONS"
  | "SERIALIZATION"
  | "MIGRATION"
  | "DATABASE"
  | "UNAVAILABLE"
  | "POOL_EXHAUSTED"
  | "PAYLOAD_TOO_LARGE"
  | "THREAD_NOT_FOUND"
  | "THREAD_EXISTS"
  | "CLOSED";

export class CheckpointerError extends Error {
  readonly code: CheckpointerErrorCode;

  constructor(code: CheckpointerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A config, checkpoint, metadata or write that cannot be stored as given. Nothing was written. */
export class InvalidInputError extends CheckpointerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_INPUT", message, options);
  }
}

/** An option passed to the saver is unusable (for example an unsafe schema name). */
export class InvalidOptionsError extends CheckpointerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_OPTIONS", message, options);
  }
}

/**
 * A value that cannot be stored or read as it is. On write: a value the
 * serializer would silently change (a BigInt, a function, a cycle, NaN) or
 * could not encode; refused before anything was written. On read: a stored
 * value, pending write or metadata that does not deserialize, or holds a
 * LangChain object that cannot be revived; `location` then says which one
 * (the message names it too, never the stored content).
 */
export class SerializationError extends CheckpointerError {
  readonly location: StoredLocation | undefined;

  constructor(message: string, options?: { cause?: unknown; location?: StoredLocation }) {
    super("SERIALIZATION", message, options);
    this.location = options?.location;
  }
}

/** Where a stored value sits: a channel value, a pending write, or a checkpoint's metadata. */
export type StoredLocation = {
  threadId: string;
  checkpointNs: string;
  /** The checkpoint being read (for a value, one of those that hold it). */
  checkpointId?: string;
} & (
  | { part: "value"; channel: string; version: string }
  | { part: "write"; taskId: string; channel: string; idx: number }
  | { part: "metadata" }
);

/** `setup()` could not bring the schema to the latest version. */
export class MigrationError extends CheckpointerError {
  readonly version: number;

  constructor(version: number, message: string, options?: { cause?: unknown }) {
    super("MIGRATION", message, options);
    this.version = version;
  }
}

/**
 * A blob larger than `maxPayloadBytes`: refused before writing, or a stored
 * compressed blob that would inflate beyond it (refused before it fills memory).
 */
export class PayloadTooLargeError extends CheckpointerError {
  readonly limitBytes: number;

  constructor(message: string, limitBytes: number, options?: { cause?: unknown }) {
    super("PAYLOAD_TOO_LARGE", message, options);
    this.limitBytes = limitBytes;
  }
}

/** The database rejected or failed a statement. `sqlstate` is Postgres's error code when there is one. */
export class CheckpointerDatabaseError extends CheckpointerError {
  readonly sqlstate: string | undefined;
  readonly operation: string;

  constructor(operation: string, cause: unknown) {
    const sqlstate = sqlstateOf(cause);
    const detail = cause instanceof Error ? cause.message : String(cause);
    super("DATABASE", `${operation} failed${sqlstate ? ` (SQLSTATE ${sqlstate})` : ""}: ${detail}`, { cause });
    this.sqlstate = sqlstate;
    this.operation = operation;
  }
}

/**
 * The database cannot be reached right now: retries ran out, the operation
 * deadline passed, or the circuit breaker is open and failing fast.
 * `retryInMs` says when the breaker will let a trial call through.
 * Nothing acknowledged is lost; re-invoking the graph on the same thread
 * resumes from the last stored checkpoint.
 */
export class CheckpointerUnavailableError extends CheckpointerError {
  readonly operation: string;
  readonly retryInMs: number;

  constructor(operation: string, reason: string, options: { cause?: unknown; retryInMs?: number } = {}) {
    const detail = options.cause instanceof Error ? `: ${options.cause.message}` : "";
    super("UNAVAILABLE", `${operation} failed: the database is unavailable (${reason})${detail}`, options);
    this.operation = operation;
    this.retryInMs = options.retryInMs ?? 0;
  }
}

/** Every pooled connection stayed busy for the whole acquire timeout. Raise `pool.max` or lower concurrency. */
export class PoolExhaustedError extends CheckpointerError {
  constructor(operation: string, max: number | undefined, waitedMs: number, options?: { cause?: unknown }) {
    super(
      "POOL_EXHAUSTED",
      `${operation} failed: all ${max ?? "pooled"} connections stayed busy for ${waitedMs} ms (the acquire timeout)`,
      options,
    );
  }
}

/** An operation that needs an existing thread (`exportThread`, the CLI's `show`) found no checkpoint for it. */
export class ThreadNotFoundError extends CheckpointerError {
  readonly threadId: string;

  constructor(operation: string, threadId: string) {
    super("THREAD_NOT_FOUND", `${operation}: no checkpoints found for thread ${JSON.stringify(threadId)}`);
    this.threadId = threadId;
  }
}

/** An operation that creates a thread (`copyThread`) found it already has checkpoints; nothing was written. */
export class ThreadExistsError extends CheckpointerError {
  readonly threadId: string;

  constructor(operation: string, threadId: string) {
    super("THREAD_EXISTS", `${operation}: thread ${JSON.stringify(threadId)} already has checkpoints`);
    this.threadId = threadId;
  }
}

/** The saver was closed with `end()`; it accepts no new operations. */
export class CheckpointerClosedError extends CheckpointerError {
  constructor(operation: string) {
    super("CLOSED", `${operation} refused: the checkpointer has been closed with end()`);
  }
}

/** Postgres error codes (SQLSTATE) this package reacts to, named once. */
export const SQLSTATE = {
  undefinedTable: "42P01",
  invalidSchemaName: "3F000",
  uniqueViolation: "23505",
  undefinedColumn: "42703",
} as const;

/**
 * SQLSTATEs worth retrying: the server went away or restarted (57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now), a
 * serialization failure or deadlock (40001, 40P01), too many connections
 * (53300). Class 08 (connection exceptions) is transient as a whole.
 */
const TRANSIENT_SQLSTATES = new Set(["57P01", "57P02", "57P03", "40001", "40P01", "53300"]);

/** Node socket errors that mean the connection, not the statement, failed. */
const TRANSIENT_SOCKET_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN",
]);

/** node-postgres reports a dropped connection with these messages and no code. */
const TRANSIENT_MESSAGES = /Connection terminated|Client has encountered a connection error|connection timeout|timeout exceeded when trying to connect|Query read timeout|server closed the connection|terminating connection/i;

/** Whether retrying the same statement on a fresh connection may succeed. Safe because every write is idempotent. */
export function isTransient(error: unknown): boolean {
  // Socket codes first: EPIPE has the shape of a SQLSTATE (five characters).
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && TRANSIENT_SOCKET_CODES.has(code)) return true;
  const state = sqlstateOf(error);
  if (state !== undefined) return state.startsWith("08") || TRANSIENT_SQLSTATES.has(state);
  return error instanceof Error && TRANSIENT_MESSAGES.test(error.message);
}

export function sqlstateOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  // SQLSTATE classes start with a digit, or are F0, HV, P0 or XX; socket codes like EPIPE do not.
  return typeof code === "string" && /^(?:[0-9][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/.test(code) ? code : undefined;
}
