import pg from "pg";
import { InvalidInputError } from "../errors.js";
import { redactConnectionString } from "../config/redact.js";
import type { ResolvedOptions } from "../config/options.js";

/**
 * The part of `pg.Pool` the saver uses. Structural, so a caller's own
 * `pg.Pool` (any version with this shape) or an instrumented wrapper fits,
 * and the package's types do not depend on `@types/pg`.
 */
export interface PgPool {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  // Loose on purpose: pg.Pool's typed event map does not fit a narrower signature.
  on?(event: "error" | "connect", listener: (...args: any[]) => void): unknown;
  off?(event: "error" | "connect", listener: (...args: any[]) => void): unknown;
  readonly totalCount?: number;
  readonly idleCount?: number;
  readonly waitingCount?: number;
  readonly options?: { max?: number };
}

export interface PgPoolClient {
  query(config: { text: string; name?: string; values?: unknown[]; query_timeout?: number }): Promise<{ rows: unknown[] }>;
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  /** Passing an error tells the pool to discard the connection instead of reusing it. */
  release(error?: Error | boolean): void;
  on?(event: "error", listener: (error: Error) => void): unknown;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** A pool with the saver's production defaults (see `PoolOptions`). */
export function createPool(connectionString: string, options: ResolvedOptions): PgPool {
  if (typeof connectionString !== "string" || connectionString.length === 0) {
    throw new InvalidInputError("a connection string such as postgresql://user@host:5432/db is required");
  }
  // Parsed now, the way pg will parse it (constructing a client does not
  // connect): otherwise the first query fails with a TypeError whose `input`
  // property holds the whole URL, password included, for any logger that serializes errors.
  try {
    new pg.Client({ connectionString });
  } catch {
    throw new InvalidInputError(`not a valid connection string: ${redactConnectionString(connectionString)}`);
  }
  const { pool } = options;
  return new pg.Pool({
    connectionString,
    max: pool.max,
    min: pool.min,
    idleTimeoutMillis: pool.idleTimeoutMillis,
    connectionTimeoutMillis: pool.connectionTimeoutMillis,
    maxLifetimeSeconds: pool.maxLifetimeSeconds,
    keepAlive: pool.keepAlive,
    application_name: pool.applicationName,
    // Idle connections and their timers never keep the process alive.
    allowExitOnIdle: true,
  });
}

/** Wait for the SELECT 1 probe: a probe that hangs means the connection is as good as dead. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Hands out connections from a pool, checking with `SELECT 1` any that has
 * not proven itself alive within `healthCheckIdleMs`: the agent may have
 * waited a minute for an LLM while a load balancer or PgBouncer dropped the
 * socket. A dead connection is discarded and the next one tried. A
 * successful statement counts as proof of life, so on a busy pool no probe
 * is ever sent.
 */
export class ConnectionSource {
  /** When each connection last proved alive (connect, statement or probe). */
  private readonly verifiedAt = new WeakMap<PgPoolClient, number>();

  constructor(
    readonly pool: PgPool,
    private readonly healthCheckIdleMs: number,
    /** Told the result of every probe (the health-checks metric). */
    private readonly onHealthCheck: (ok: boolean) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    pool.on?.("connect", this.onConnect);
  }

  async acquire(): Promise<PgPoolClient> {
    // Every idle connection may be dead after a server restart: try each once, plus one fresh.
    const tries = (this.pool.options?.max ?? 10) + 1;
    for (let i = 1; ; i += 1) {
      const client = await this.pool.connect();
      this.guard(client);
      if (await this.isAlive(client)) return client;
      if (i >= tries) throw new Error("Connection terminated: no live connection after health checks");
    }
  }

  /** Return a connection; pass the error when it failed so the pool discards it. */
  release(client: PgPoolClient, error?: Error): void {
    if (error === undefined) this.verifiedAt.set(client, this.now());
    client.release(error);
  }

  stats(): PoolStats {
    return { total: this.pool.totalCount ?? 0, idle: this.pool.idleCount ?? 0, waiting: this.pool.waitingCount ?? 0 };
  }

  /** Opens `count` connections at once and returns them to the pool. */
  async open(count: number): Promise<void> {
    const clients = await Promise.allSettled(Array.from({ length: count }, () => this.pool.connect()));
    for (const c of clients) if (c.status === "fulfilled") this.release(c.value);
    const failed = clients.find((c) => c.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** One `SELECT 1` on a connection straight from the pool (the health monitor's probe); throws when it fails. */
  async probe(timeoutMs: number): Promise<void> {
    let client: PgPoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.onHealthCheck(false);
      throw error;
    }
    this.guard(client);
    if (!(await this.ping(client, timeoutMs))) throw new Error("Connection terminated: the health probe failed");
    this.release(client);
  }

  detach(): void {
    this.pool.off?.("connect", this.onConnect);
  }

  private async isAlive(client: PgPoolClient): Promise<boolean> {
    const verified = this.verifiedAt.get(client);
    if (this.healthCheckIdleMs === 0 || (verified !== undefined && this.now() - verified <= this.healthCheckIdleMs)) {
      return true;
    }
    return this.ping(client, PROBE_TIMEOUT_MS);
  }

  /** `SELECT 1`; on failure the connection is handed back for the pool to discard. */
  private async ping(client: PgPoolClient, timeoutMs: number): Promise<boolean> {
    try {
      await client.query({ text: "SELECT 1", query_timeout: timeoutMs });
    } catch (error) {
      this.onHealthCheck(false);
      client.release(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
    this.verifiedAt.set(client, this.now());
    this.onHealthCheck(true);
    return true;
  }

  /**
   * pg-pool removes its own "error" listener from a client it hands out. If
   * the socket dies mid-statement (server crash, PgBouncer restart), pg
   * rejects the statement, which the executor retries, and also emits
   * "error" on the client: unheard, that event would crash the process.
   */
  private guard(client: PgPoolClient): void {
    if (guarded.has(client)) return;
    guarded.add(client);
    client.on?.("error", ignoreReportedError);
  }

  private readonly onConnect = (client: PgPoolClient): void => {
    this.verifiedAt.set(client, this.now());
    this.guard(client);
  };
}

/**
 * Connections that have our "error" listener. One set for the process, so
 * many savers sharing one pool add one listener per connection, not one each.
 */
const guarded = new WeakSet<PgPoolClient>();

/** The same failure also rejects the statement in progress, which is where it is handled. */
function ignoreReportedError(): void {}
