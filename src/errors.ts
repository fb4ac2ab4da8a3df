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
 * A value the serializer would silently change (a BigInt, a function, a cycle,
 * NaN) or could not encode. Refused before anything was written.
 */
export class SerializationError extends CheckpointerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SERIALIZATION", message, options);
  }
}

/** `setup()` could not bring the schema to the latest version. */
export class MigrationError extends CheckpointerError {
  readonly version: number;

  constructor(version: number, message: string, options?: { cause?: unknown }) {
    super("MIGRATION", message, options);
    this.version = version;
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
} as const;

export function sqlstateOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
