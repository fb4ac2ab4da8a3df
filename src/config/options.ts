import { definedOnly, describe, nonNegativeInteger, positiveInteger } from "./checks.js";
import {
  COMPACTION_DEFAULTS,
  type CompactionOptions,
  type CompactionSettings,
  DEFAULT_MAX_PAYLOAD_BYTES,
  resolvePayloadOptions,
} from "./payload.js";
import { InvalidOptionsError } from "../errors.js";
import { RETENTION_DEFAULTS, type ResolvedRetention, type RetentionOptions, resolveRetention } from "./retention.js";
import {
  OBSERVABILITY_DEFAULTS,
  type ObservabilityOptions,
  type ResolvedObservability,
  resolveObservability,
} from "./observability.js";
import { REVIVE_DEFAULTS, type ResolvedRevive, type ReviveOptions, resolveRevive } from "./revive.js";

/** Settings for a pool the saver creates itself (`fromConnString`, `createCheckpointer`). */
export interface PoolOptions {
  /**
   * Most connections open at once.
   * @default 10
   */
  max?: number;
  /**
   * Connections kept open while idle, and opened by `warmup()`.
   * @default 2
   */
  min?: number;
  /**
   * Close a connection idle this long (above `min`). 30 s is far below cloud
   * idle reapers (AWS NLB 350 s, Azure LB 240 s, GCP 600 s) and PgBouncer's
   * server_idle_timeout, so connections are closed by us, cleanly, before a
   * middlebox silently drops them.
   * @default 30000
   */
  idleTimeoutMillis?: number;
  /**
   * How long to wait for a connection: to open one, or for one to be free
   * when all `max` are busy.
   * @default 5000
   */
  connectionTimeoutMillis?: number;
  /**
   * Replace each connection after this long, so failovers, DNS changes and
   * server-side memory growth are picked up.
   * @default 1800
   */
  maxLifetimeSeconds?: number;
  /**
   * TCP keepalive on every connection, so a dead peer is noticed while idle.
   * @default true
   */
  keepAlive?: boolean;
  /**
   * Shown in `pg_stat_activity.application_name`.
   * @default "langgraph-checkpoint-pg"
   */
  applicationName?: string;
}

export interface RetryOptions {
  /**
   * Tries per operation, first one included, for transient failures
   * (connection lost, server restarting, serialization failure, too many
   * connections). Other errors are never retried.
   * @default 8
   */
  maxAttempts?: number;
  /** @default 100 */
  baseDelayMs?: number;
  /** @default 2000 */
  maxDelayMs?: number;
  /**
   * Deadline for one operation, retries and waits included.
   * @default 30000
   */
  operationTimeoutMs?: number;
  /**
   * Client-side timeout of one attempt's statement (never past the operation
   * deadline), so a connection that hangs without closing costs one attempt,
   * not the whole operation. Timed-out writes are safe to retry: they are idempotent.
   * @default 10000
   */
  statementTimeoutMs?: number;
}

export interface CircuitBreakerOptions {
  /**
   * Consecutive failed attempts (transient failures only) that open the circuit.
   * @default 10
   */
  failureThreshold?: number;
  /**
   * How long an open circuit fails fast before one trial call is let through.
   * @default 5000
   */
  cooldownMs?: number;
}

export interface HealthMonitorOptions {
  /**
   * Probe (`SELECT 1`) every this many milliseconds. The timer never keeps the process alive.
   * @default 10000
   */
  intervalMs?: number;
  /**
   * Consecutive failed probes after which `health()` reports "down".
   * @default 3
   */
  failuresBeforeDown?: number;
}

/**
 * Whether statements go to the server as named prepared statements (see
 * `PostgresSaverOptions.preparedStatements`).
 */
export type PreparedStatementsMode = "auto" | boolean;

export interface PostgresSaverOptions extends ObservabilityOptions {
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
  /** Pool settings; used only when the saver creates the pool. */
  pool?: PoolOptions;
  /**
   * Send statements as named prepared statements, so Postgres parses and
   * plans each once per connection rather than on every call (on a direct
   * connection, about half of a small read's time). `"auto"` prepares them
   * until a connection shows it does not keep them (PgBouncer before 1.21,
   * or without `max_prepared_statements`, in transaction mode): then it logs
   * that once at info level and sends every statement unprepared, and the
   * operation that found out is sent again, never failed. `true` never falls
   * back; `false` never prepares.
   * @default "auto"
   */
  preparedStatements?: PreparedStatementsMode;
  /**
   * A connection unused for longer than this is checked with `SELECT 1`
   * before an operation gets it; a dead one is discarded and replaced. Every
   * successful statement counts as a check, so a busy pool sends none.
   * `0` turns the checks off.
   * @default 1500
   */
  healthCheckIdleMs?: number;
  retry?: RetryOptions;
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * How long `end()` waits for operations in flight before closing the pool.
   * @default 10000
   */
  drainTimeoutMs?: number;
  /**
   * Background probing that feeds `health()`. Off unless given.
   * @default false
   */
  healthMonitor?: HealthMonitorOptions | false;
  /**
   * Compress large blobs before storing them. Compressed rows can only be
   * read by this package: pass `false` while the official saver must still
   * read what this one writes.
   * @default { thresholdBytes: 1024, codec: "br", level: 1 }
   */
  compaction?: CompactionOptions | false;
  /**
   * Largest serialized blob accepted on write, and the most a stored
   * compressed blob may inflate to on read (a decompression bomb fails with
   * `PayloadTooLargeError` instead of exhausting memory).
   * @default 268435456 (256 MiB)
   */
  maxPayloadBytes?: number;
  /**
   * Prune on a timer: `{ keepLast: 50, olderThan: "30d", every: "1h" }`
   * keeps each thread's 50 newest checkpoints per namespace and deletes
   * threads idle for 30 days, once an hour (see `prune()`). Each run is
   * logged at info level and counted in the metrics. Off unless given.
   * @default false
   */
  retention?: RetentionOptions | false;
  /**
   * Which stored LangChain objects are revived, and what an unrevivable one
   * does: see `ReviveOptions`. Applies to the default serializer (and a plain
   * `JsonPlusSerializer` passed as `serde`, which it replaces); another
   * serializer decides for itself.
   * @default { allow: ["langchain_core"], unrevivable: "throw" }
   */
  revive?: ReviveOptions;
}

/**
 * 100 rows per page keeps a page of typical agent checkpoints (a few KiB to a
 * few hundred KiB each) well under the memory of one large state, while a
 * `list({ limit })` of up to 100 still costs a single statement.
 */
export const DEFAULT_LIST_PAGE_SIZE = 100;

/** Postgres truncates identifiers longer than NAMEDATALEN - 1 = 63 bytes; we refuse instead of truncating. */
const MAX_IDENTIFIER_BYTES = 63;

export const DEFAULTS = {
  schema: "public",
  listPageSize: DEFAULT_LIST_PAGE_SIZE,
  preparedStatements: "auto",
  pool: {
    max: 10,
    min: 2,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    maxLifetimeSeconds: 1_800,
    keepAlive: true,
    applicationName: "langgraph-checkpoint-pg",
  },
  /** "About 1–2 s": long enough that a busy pool never checks, short enough that a connection idle across an LLM call is. */
  healthCheckIdleMs: 1_500,
  /**
   * 8 tries with full-jitter backoff from 100 ms, capped at 2 s: about 3.5 s
   * of expected waiting, enough to ride through a database or PgBouncer
   * restart, well inside the 30 s operation deadline. 10 s per statement is
   * far above a normal checkpoint write and far below an operator's patience.
   */
  retry: { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 2_000, operationTimeoutMs: 30_000, statementTimeoutMs: 10_000 },
  circuitBreaker: { failureThreshold: 10, cooldownMs: 5_000 },
  drainTimeoutMs: 10_000,
  healthMonitor: { intervalMs: 10_000, failuresBeforeDown: 3 },
  ...OBSERVABILITY_DEFAULTS,
  compaction: COMPACTION_DEFAULTS,
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  retention: RETENTION_DEFAULTS,
  revive: REVIVE_DEFAULTS,
} as const;

export interface ResolvedOptions extends ResolvedObservability {
  schema: string;
  /** The schema name quoted as a Postgres identifier, ready to put in SQL. */
  quotedSchema: string;
  listPageSize: number;
  preparedStatements: PreparedStatementsMode;
  pool: Required<PoolOptions>;
  healthCheckIdleMs: number;
  retry: Required<RetryOptions>;
  circuitBreaker: Required<CircuitBreakerOptions>;
  drainTimeoutMs: number;
  healthMonitor: Required<HealthMonitorOptions> | false;
  compaction: CompactionSettings | false;
  maxPayloadBytes: number;
  retention: ResolvedRetention | false;
  revive: ResolvedRevive;
}

export function resolveOptions(options: PostgresSaverOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidOptionsError(`options must be an object, got ${describe(options)}`);
  }
  const o = options ?? {};
  const schema = o.schema ?? DEFAULTS.schema;
  const pool = { ...DEFAULTS.pool, ...definedOnly(o.pool) };
  const retry = { ...DEFAULTS.retry, ...definedOnly(o.retry) };
  const circuitBreaker = { ...DEFAULTS.circuitBreaker, ...definedOnly(o.circuitBreaker) };
  const healthMonitor = o.healthMonitor ? { ...DEFAULTS.healthMonitor, ...definedOnly(o.healthMonitor) } : false;
  const resolved: ResolvedOptions = {
    schema,
    quotedSchema: quoteIdentifier(schema, "schema"),
    listPageSize: o.listPageSize ?? DEFAULTS.listPageSize,
    preparedStatements: o.preparedStatements ?? DEFAULTS.preparedStatements,
    pool,
    healthCheckIdleMs: o.healthCheckIdleMs ?? DEFAULTS.healthCheckIdleMs,
    retry,
    circuitBreaker,
    drainTimeoutMs: o.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
    healthMonitor,
    ...resolveObservability(o),
    ...resolvePayloadOptions(o.compaction, o.maxPayloadBytes),
    retention: resolveRetention(o.retention),
    revive: resolveRevive(o.revive),
  };
  positiveInteger("listPageSize", resolved.listPageSize);
  if (!["auto", true, false].includes(resolved.preparedStatements)) {
    throw new InvalidOptionsError(`preparedStatements must be "auto", true or false, got ${describe(resolved.preparedStatements)}`);
  }
  positiveInteger("pool.max", pool.max);
  nonNegativeInteger("pool.min", pool.min);
  if (pool.min > pool.max) throw new InvalidOptionsError(`pool.min (${pool.min}) must not exceed pool.max (${pool.max})`);
  nonNegativeInteger("pool.idleTimeoutMillis", pool.idleTimeoutMillis);
  positiveInteger("pool.connectionTimeoutMillis", pool.connectionTimeoutMillis);
  nonNegativeInteger("pool.maxLifetimeSeconds", pool.maxLifetimeSeconds);
  nonNegativeInteger("healthCheckIdleMs", resolved.healthCheckIdleMs);
  positiveInteger("retry.maxAttempts", retry.maxAttempts);
  nonNegativeInteger("retry.baseDelayMs", retry.baseDelayMs);
  nonNegativeInteger("retry.maxDelayMs", retry.maxDelayMs);
  positiveInteger("retry.operationTimeoutMs", retry.operationTimeoutMs);
  positiveInteger("retry.statementTimeoutMs", retry.statementTimeoutMs);
  positiveInteger("circuitBreaker.failureThreshold", circuitBreaker.failureThreshold);
  nonNegativeInteger("circuitBreaker.cooldownMs", circuitBreaker.cooldownMs);
  nonNegativeInteger("drainTimeoutMs", resolved.drainTimeoutMs);
  if (healthMonitor) {
    positiveInteger("healthMonitor.intervalMs", healthMonitor.intervalMs);
    positiveInteger("healthMonitor.failuresBeforeDown", healthMonitor.failuresBeforeDown);
  }
  if (typeof pool.applicationName !== "string") {
    throw new InvalidOptionsError(`pool.applicationName must be a string, got ${describe(pool.applicationName)}`);
  }
  return resolved;
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
