import {
  CheckpointerClosedError,
  CheckpointerDatabaseError,
  CheckpointerError,
  CheckpointerUnavailableError,
  PoolExhaustedError,
  isTransient,
} from "../errors.js";
import type { ResolvedOptions } from "../config/options.js";
import type { ConnectionSource, PgPoolClient } from "./pool.js";
import { PreparedStatements, type StatementMode } from "./prepared.js";
import { CircuitBreaker, backoffDelay } from "./resilience.js";

/**
 * Where an operation's attempt count goes: the instrumentation's per-operation
 * stats, which satisfy this shape without the connection layer depending on them.
 */
export interface AttemptCount {
  attempts: number;
}

/** What the executor tells the instrumentation about (metrics). */
export interface ExecutorEvents {
  /** An attempt of `operation` is retried. */
  retried?(operation: string): void;
  /** A statement was sent, prepared or not. */
  sent?(mode: StatementMode): void;
}

export interface LastError {
  message: string;
  code: string | undefined;
  operation: string;
  at: string;
}

/**
 * Runs each operation against the database: refuses it after `end()`,
 * fails fast while the circuit is open, takes a health-checked connection,
 * retries transient failures with backoff inside the operation deadline,
 * and keeps count of what is in flight so `end()` can drain.
 *
 * Retrying is safe because every write the saver sends is idempotent.
 */
export class Executor {
  readonly breaker: CircuitBreaker;
  readonly prepared: PreparedStatements;
  lastError: LastError | undefined;
  /** Connections whose prepared statements the server no longer holds: discarded on release. */
  private readonly stale = new WeakSet<PgPoolClient>();
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private closed = false;

  constructor(
    readonly connections: ConnectionSource,
    private readonly options: ResolvedOptions,
    private readonly events: ExecutorEvents = {},
    private readonly now: () => number = Date.now,
  ) {
    this.breaker = new CircuitBreaker(options.circuitBreaker, now);
    this.prepared = new PreparedStatements(options.preparedStatements, options.logger);
  }

  /**
   * One statement, retried as a whole. `stats` gets the number of attempts.
   * With `prepare`, it goes as a prepared statement (see PreparedStatements)
   * and is sent again at once unprepared if the connection turns out not to
   * keep prepared statements.
   */
  async query<Row>(operation: string, text: string, values: unknown[], stats?: AttemptCount, prepare = false): Promise<Row[]> {
    return this.run(
      operation,
      async (client, timeout) => {
        const name = prepare ? this.prepared.nameOf(text) : undefined;
        if (name !== undefined) {
          try {
            const result = await client.query({ name, text, values, query_timeout: timeout });
            this.events.sent?.("prepared");
            return result.rows as Row[];
          } catch (error) {
            if (!PreparedStatements.lost(error)) throw error;
            // node-postgres still believes this connection holds the statement, and
            // would never prepare it there again: the pool must not hand it out again.
            this.stale.add(client);
            if (!this.prepared.fallBackOn(error)) throw error;
          }
        }
        const result = await client.query({ text, values, query_timeout: timeout });
        this.events.sent?.("unprepared");
        return result.rows as Row[];
      },
      stats,
    );
  }

  /**
   * `work` on one connection, retried as a whole on a transient failure.
   * `work` must be idempotent (a single statement, or a transaction).
   */
  async run<T>(
    operation: string,
    work: (client: PgPoolClient, timeoutMs: number) => Promise<T>,
    stats?: AttemptCount,
  ): Promise<T> {
    if (this.closed) throw new CheckpointerClosedError(operation);
    this.inFlight += 1;
    try {
      return await this.attempt(operation, work, stats);
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idle?.();
    }
  }

  /** Refuse new operations; resolve when those in flight are done or `timeoutMs` passes (true when drained). */
  async drain(timeoutMs: number): Promise<boolean> {
    this.closed = true;
    if (this.inFlight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.idle = () => resolve(true);
      }),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    return drained;
  }

  get pending(): number {
    return this.inFlight;
  }

  private async attempt<T>(
    operation: string,
    work: (client: PgPoolClient, timeoutMs: number) => Promise<T>,
    stats: AttemptCount | undefined,
  ): Promise<T> {
    const { maxAttempts, operationTimeoutMs } = this.options.retry;
    const deadline = this.now() + operationTimeoutMs;
    for (let attempt = 1; ; attempt += 1) {
      if (stats) stats.attempts = attempt;
      if (!this.breaker.tryAcquire()) {
        throw new CheckpointerUnavailableError(operation, "circuit breaker open after repeated failures", {
          cause: this.lastErrorCause,
          retryInMs: this.breaker.retryInMs,
        });
      }
      let client: PgPoolClient | undefined;
      const startedAcquire = this.now();
      try {
        client = await this.connections.acquire();
        const timeout = Math.max(1, Math.min(deadline - this.now(), this.options.retry.statementTimeoutMs));
        const result = await work(client, timeout);
        this.connections.release(client, this.staleError(client));
        this.breaker.onSuccess();
        return result;
      } catch (error) {
        const transient = isTransient(error);
        if (client !== undefined) this.connections.release(client, transient ? asError(error) : this.staleError(client));
        if (client === undefined && this.poolSaturated(error)) {
          this.breaker.onNeutral();
          throw new PoolExhaustedError(operation, this.connections.pool.options?.max, this.now() - startedAcquire, { cause: error });
        }
        if (!transient) {
          // The database answered (a constraint, a syntax error): it is up.
          if (error instanceof CheckpointerError) this.breaker.onNeutral();
          else this.breaker.onSuccess();
          throw error instanceof CheckpointerError ? error : new CheckpointerDatabaseError(operation, error);
        }
        this.recordFailure(operation, error);
        this.breaker.onFailure();
        if (attempt >= maxAttempts) {
          throw new CheckpointerUnavailableError(operation, `gave up after ${attempt} attempts`, { cause: error });
        }
        const delay = backoffDelay(attempt, this.options.retry);
        if (this.now() + delay >= deadline) {
          throw new CheckpointerUnavailableError(operation, `deadline of ${operationTimeoutMs} ms reached`, { cause: error });
        }
        this.options.logger.debug("retrying after a transient failure", { operation, attempt, delayMs: delay });
        this.events.retried?.(operation);
        await sleep(delay);
      }
    }
  }

  /** An error that makes the pool discard `client`, if its prepared statements are gone. */
  private staleError(client: PgPoolClient): Error | undefined {
    return this.stale.has(client) ? new Error("the server no longer holds this connection's prepared statements") : undefined;
  }

  /** The acquire timed out because every connection was busy, not because the server is unreachable. */
  private poolSaturated(error: unknown): boolean {
    const { pool } = this.connections;
    const max = pool.options?.max;
    const timedOut = error instanceof Error && /timeout exceeded when trying to connect/i.test(error.message);
    return timedOut && max !== undefined && (pool.totalCount ?? 0) >= max && (pool.idleCount ?? 0) === 0;
  }

  private recordFailure(operation: string, error: unknown): void {
    const e = error as { message?: unknown; code?: unknown };
    this.lastError = {
      message: typeof e?.message === "string" ? e.message : String(error),
      code: typeof e?.code === "string" ? e.code : undefined,
      operation,
      at: new Date(this.now()).toISOString(),
    };
  }

  private get lastErrorCause(): Error | undefined {
    return this.lastError ? new Error(this.lastError.message) : undefined;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
