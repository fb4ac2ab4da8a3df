import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointTuple,
  type DeltaChannelHistory,
  JsonPlusSerializer,
  type PendingWrite,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import { type BlobLoader, decodeDeltaHistory, decodeTuples } from "./codec/decode.js";
import type { KnownValue } from "./codec/delta-cache.js";
import {
  CheckpointerDatabaseError,
  CheckpointerError,
  CheckpointerUnavailableError,
  InvalidInputError,
  isTransient,
} from "./errors.js";
import { Executor } from "./connection/executor.js";
import { type HealthReport, HealthMonitor, healthStatus } from "./connection/health.js";
import { type ListQuery, copyThreadIds, listQuery, namespaceOf, optionalKey, requireConfigurable, requireKey, requireRunIds } from "./input.js";
import { Instrumentation, type OperationStats, targetOf, textOrUndefined } from "./observe/instrument.js";
import { CheckpointMetrics, type MetricSource } from "./observe/metrics.js";
import { runMigrations } from "./schema/migrator.js";
import { describe } from "./config/checks.js";
import { type PostgresSaverOptions, type ResolvedOptions, resolveOptions } from "./config/options.js";
import { ConnectionSource, type PgPool, createPool } from "./connection/pool.js";
import { filterToStorableJson } from "./codec/metadata.js";
import { SafeJsonPlusSerializer, serializerFor } from "./codec/serializer.js";
import { prepareForJson } from "./codec/guard.js";
import { nextChannelVersion } from "./codec/versions.js";
import { attachLegacySends } from "./codec/legacy-sends.js";
import type { DeltaHistoryRow, LegacySendsRow, Statements, TupleRow } from "./sql/index.js";
import { Database, attachDatabase } from "./database.js";
import { type PruneCounts, type PruneOptions, type PruneResult, pruneArguments, resolvePrune } from "./config/retention.js";
import { deleteRunsPostgres, prunePostgres } from "./retention/prune.js";
import { type RetentionSchedule, startRetention } from "./retention/schedule.js";
import { type ImportResult, type ThreadExport, threadIdOf } from "./transfer/document.js";
import { type CopyResult, copyPostgres, exportPostgres, importPostgres } from "./transfer/postgres.js";

/**
 * LangGraph checkpointer on PostgreSQL. Drop-in for
 * `@langchain/langgraph-checkpoint-postgres`'s `PostgresSaver`: same class
 * name, constructor, `fromConnString`, `setup()`, `end()` and tables, with
 * every operation a single SQL statement.
 */
export class PostgresSaver extends BaseCheckpointSaver {
  readonly pool: PgPool;
  private readonly options: ResolvedOptions;
  private readonly sql: Statements;
  private readonly database: Database;
  /** True when `fromConnString` created the pool, so `end()` closes it. */
  private ownsPool = false;
  private readonly connections: ConnectionSource;
  private readonly executor: Executor;
  private readonly monitor: HealthMonitor | undefined;
  private readonly retention: RetentionSchedule | undefined;
  private closing: Promise<void> | undefined;
  private readonly endHooks: Array<() => Promise<void>> = [];
  private warming: Promise<void> | undefined;
  private readonly instrumentation: Instrumentation;
  private readonly detachMetrics: () => void;
  /** What the scrape-time gauges read. The metrics hold it weakly, so the saver must hold it. */
  private readonly metricSource: MetricSource;

  /**
   * @param pool a `pg.Pool` (or anything with the same `query`/`connect`). The
   *   saver never closes a pool it did not create.
   * @param serde serializer for channel values, writes and metadata: by
   *   default (and in place of a plain `JsonPlusSerializer`, the same format)
   *   `SafeJsonPlusSerializer`, which keeps plain data that looks like a
   *   serialized LangChain object plain.
   */
  constructor(pool: PgPool, serde?: SerializerProtocol, options?: PostgresSaverOptions) {
    super(serializerFor(serde, options?.revive));
    if (typeof pool?.query !== "function" || typeof pool?.connect !== "function") {
      throw new InvalidInputError(`PostgresSaver needs a pg.Pool, got ${describe(pool)}`);
    }
    this.options = resolveOptions(options);
    this.pool = pool;
    const { metrics: metricsOptions, logger, slowOperationMs, tracing } = this.options;
    const metrics = metricsOptions === false ? undefined : CheckpointMetrics.for(metricsOptions);
    this.instrumentation = new Instrumentation({ backend: "postgres", metrics, logger, slowOperationMs, tracing });
    this.metricSource = {
      backend: "postgres",
      persistent: true,
      pool,
      poolStats: () => this.connections.stats(),
      circuitState: () => this.executor.breaker.state,
    };
    this.detachMetrics = metrics?.attach(this.metricSource) ?? (() => {});
    this.connections = new ConnectionSource(pool, this.options.healthCheckIdleMs, (ok) => this.instrumentation.healthChecked(ok));
    this.executor = new Executor(this.connections, this.options, {
      retried: (operation) => this.instrumentation.retried(operation),
      sent: (mode) => this.instrumentation.statementSent(mode),
    });
    this.database = new Database(this.executor, this.serde, this.options, this.serde instanceof JsonPlusSerializer);
    this.sql = this.database.sql.checkpoints;
    attachDatabase(this, this.database);
    // pg emits "error" on the pool when an idle connection dies (server
    // restart, idle reaper, network drop); without a listener Node treats it
    // as unhandled and kills the process. The dead client is discarded by pg.
    pool.on?.("error", this.onIdleClientError);
    if (this.options.healthMonitor) {
      const timeoutMs = this.options.pool.connectionTimeoutMillis;
      this.monitor = new HealthMonitor(this.options.healthMonitor, () => this.connections.probe(timeoutMs));
      this.monitor.start();
    }
    this.retention = startRetention(this.options.retention, (o) => this.prune(o), logger, (ok) => this.instrumentation.retentionRan(ok));
  }

  /** Creates a saver with its own pool; `end()` closes that pool. */
  static fromConnString(connString: string, options?: PostgresSaverOptions): PostgresSaver {
    const saver = new PostgresSaver(createPool(connString, resolveOptions(options)), undefined, options);
    saver.ownsPool = true;
    return saver;
  }

  /**
   * Creates or migrates the tables. Safe to call from many processes at once
   * (and through PgBouncer in transaction mode); costs one query when the
   * schema is already current.
   */
  async setup(): Promise<void> {
    await this.instrumentation.run("setup", {}, () => runMigrations(this.executor, this.options));
  }

  /**
   * Runs `setup()` (with retries, so a database still booting is waited
   * for), then opens the pool's minimum of connections concurrently, so the
   * first graph step after boot does not pay for connecting. Call it at
   * startup; calling it again is free.
   */
  async warmup(): Promise<void> {
    this.warming ??= (async () => {
      const min = (this.pool as { options?: { min?: number } }).options?.min ?? this.options.pool.min;
      try {
        await this.setup();
        await this.connections.open(min);
      } catch (error) {
        this.warming = undefined;
        if (error instanceof CheckpointerError) throw error;
        throw isTransient(error)
          ? new CheckpointerUnavailableError("warmup", "could not open connections", { cause: error })
          : new CheckpointerDatabaseError("warmup", error);
      }
    })();
    return this.warming;
  }

  /** Current state of the backend, from memory: costs no query. */
  health(): HealthReport {
    const circuit = this.executor.breaker.state;
    return {
      status: healthStatus({
        circuit,
        monitorDown: this.monitor?.isDown ?? false,
        monitorFailures: this.monitor?.consecutiveFailures ?? 0,
        lastError: this.executor.lastError,
        now: Date.now(),
      }),
      backend: "postgres",
      persistent: true,
      pool: this.connections.stats(),
      circuit,
      lastError: this.executor.lastError ?? null,
    };
  }

  /** Checkpoints survive a restart of this process. */
  isPersistent(): boolean {
    return true;
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    return this.instrumentation.run("getTuple", targetOf(config), async (stats) => {
      const configurable = requireConfigurable(config, "getTuple");
      // The conformance suite requires a config without thread_id to find nothing rather than throw.
      if (configurable.thread_id === undefined) return undefined;
      const threadId = requireKey(configurable.thread_id, "thread_id", "getTuple");
      const ns = namespaceOf(configurable, "getTuple");
      const checkpointId = optionalKey(configurable.checkpoint_id ?? configurable.thread_ts, "checkpoint_id", "getTuple");
      const rows = checkpointId === undefined
        ? await this.query<TupleRow>("getTuple", this.sql.getTupleLatest, [threadId, ns], stats)
        : await this.query<TupleRow>("getTuple", this.sql.getTupleById, [threadId, ns, checkpointId], stats);
      stats.rows = rows.length;
      if (rows[0] === undefined) return undefined;
      await this.withLegacySends("getTuple", rows, stats);
      const deltas = this.database.deltas;
      const known = deltas === undefined ? undefined : new Map<string, KnownValue>();
      const [tuple] = await decodeTuples(this.loader(stats), rows, known);
      // What LangGraph reads before it continues a thread: the base of the next put's deltas.
      if (known !== undefined) deltas!.remember(threadId, ns, rows[0].checkpoint_id, rows[0].checkpoint.channel_versions as Record<string, unknown>, known);
      return tuple;
    });
  }

  /**
   * Newest first. Pages through the result with keyset pagination, one
   * statement per `listPageSize` rows, so listing a huge thread never holds
   * more than a page in memory. Each page is one observed operation: the
   * time the caller spends between pages is not ours.
   */
  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    let query: ListQuery | undefined;
    let filterJson: string | null = null;
    let remaining = Number.POSITIVE_INFINITY;
    let cursor: [string, string, string] | null = null;
    do {
      const [rows, tuples, pageSize] = await this.instrumentation.run("list", targetOf(config), async (stats) => {
        // Checked inside the first page's operation, so bad input shows in the metrics like any failure.
        if (query === undefined) {
          query = listQuery(config, options);
          // The filter is compared with metadata as stored, so it is escaped as metadata is.
          const filter = query.filter !== null && this.serde instanceof SafeJsonPlusSerializer
            ? prepareForJson(query.filter, "filter", { strict: false, escape: true }, true) as Record<string, unknown>
            : query.filter;
          filterJson = filter === null ? null : filterToStorableJson(filter);
          remaining = query.limit;
        }
        const size = Math.min(this.options.listPageSize, remaining);
        if (size === 0) return [[], [], 0] as const;
        const { threadId, ns, checkpointId, before } = query;
        const { text, values } = this.sql.listPage({ threadId, ns, checkpointId, filter: filterJson, before, cursor, limit: size });
        const page = await this.query<TupleRow>("list", text, values, stats);
        stats.rows = page.length;
        await this.withLegacySends("list", page, stats);
        const load = this.loader(stats);
        return [page, await decodeTuples(load, page), size] as const;
      });
      for (const tuple of tuples) yield tuple;
      remaining -= rows.length;
      const last = rows.at(-1);
      if (last === undefined || rows.length < pageSize) return;
      cursor = [last.checkpoint_id, last.thread_id, last.checkpoint_ns];
    } while (remaining > 0);
  }

  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const target = { ...targetOf(config), checkpointId: textOrUndefined((checkpoint as { id?: unknown } | undefined)?.id) };
    return this.instrumentation.run("put", target, async (stats) => {
      const configurable = requireConfigurable(config, "put");
      const threadId = requireKey(configurable.thread_id, "thread_id", "put");
      const ns = namespaceOf(configurable, "put");
      const parentId = optionalKey(configurable.checkpoint_id, "checkpoint_id", "put");
      const id = await this.database.putCheckpoint({ threadId, ns, parentId, checkpoint, metadata, newVersions }, stats);
      return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: id } };
    });
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    await this.instrumentation.run("putWrites", targetOf(config), async (stats) => {
      const configurable = requireConfigurable(config, "putWrites");
      const threadId = requireKey(configurable.thread_id, "thread_id", "putWrites");
      const ns = namespaceOf(configurable, "putWrites");
      const checkpointId = requireKey(configurable.checkpoint_id, "checkpoint_id", "putWrites");
      const task = requireKey(taskId, "taskId", "putWrites");
      const path = taskPath === undefined || taskPath === null ? "" : optionalKey(taskPath, "taskPath", "putWrites") ?? "";
      const encoded = await this.database.encoder.writes(writes, "putWrites", stats);
      if (encoded.idx.length === 0) return;
      await this.query("putWrites", this.sql.putWrites, [
        threadId, ns, checkpointId, task, path,
        encoded.idx, encoded.channels, encoded.types, encoded.packed.offsets, encoded.packed.lengths, encoded.packed.data,
      ], stats);
    });
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.instrumentation.run("deleteThread", { threadId: textOrUndefined(threadId) }, async (stats) => {
      const thread = requireKey(threadId, "threadId", "deleteThread");
      this.database.deltas?.forgetThread(thread);
      await this.query("deleteThread", this.sql.deleteThread, [thread], stats);
    });
  }

  /** One statement for the whole ancestor walk (the base class issues one `getTuple` per ancestor). */
  override async getDeltaChannelHistory(options: {
    config: RunnableConfig;
    channels: string[];
  }): Promise<Record<string, DeltaChannelHistory>> {
    const { config, channels } = options ?? {};
    return this.instrumentation.run("getDeltaChannelHistory", targetOf(config), async (stats) => {
      if (!Array.isArray(channels)) throw new InvalidInputError("getDeltaChannelHistory: channels must be an array");
      if (channels.length === 0) return {};
      const wanted = channels.map((ch, i) => requireKey(ch, `channels[${i}]`, "getDeltaChannelHistory"));
      // fromEntries defines own properties, so a channel called "__proto__" is an entry, not the prototype.
      const result: Record<string, DeltaChannelHistory> = Object.fromEntries(wanted.map((ch) => [ch, { writes: [] }]));
      const configurable = requireConfigurable(config, "getDeltaChannelHistory");
      if (configurable.thread_id === undefined) return result;
      const threadId = requireKey(configurable.thread_id, "thread_id", "getDeltaChannelHistory");
      const ns = namespaceOf(configurable, "getDeltaChannelHistory");
      const checkpointId = optionalKey(configurable.checkpoint_id, "checkpoint_id", "getDeltaChannelHistory");
      const rows = checkpointId === undefined
        ? await this.query<DeltaHistoryRow>("getDeltaChannelHistory", this.sql.deltaHistoryLatest, [threadId, ns, wanted], stats)
        : await this.query<DeltaHistoryRow>("getDeltaChannelHistory", this.sql.deltaHistoryById, [threadId, ns, checkpointId, wanted], stats);
      stats.rows = rows.length;
      await decodeDeltaHistory(this.loader(stats), rows, threadId, ns, result);
      return result;
    });
  }

  /**
   * Deletes old checkpoints: with `keepLast`, all but the newest N of every
   * thread and namespace (keeping the pending writes of those, and every
   * ancestor a delta channel needs to rebuild its value); with `olderThan`,
   * whole threads idle that long. Values no kept checkpoint uses go too.
   * Runs in bounded batches, each its own short transaction, while graphs
   * keep writing. Returns what was deleted (with `dryRun`: what would be).
   */
  async prune(options: PruneOptions | readonly string[], more?: Omit<PruneOptions, "threadIds">): Promise<PruneResult> {
    return this.instrumentation.run("prune", {}, (stats) =>
      prunePostgres(this.database, resolvePrune(pruneArguments(options, more)), stats, (removed) => this.instrumentation.pruned(removed)));
  }

  /**
   * Deletes the checkpoints whose metadata `run_id` is one of `runIds` (the
   * LangGraph Platform, and callers that record it, put it there), in every
   * thread and namespace, with their pending writes and the values no
   * remaining checkpoint names. What remains stays readable: a checkpoint
   * another run wrote keeps the ancestors its delta channels replay (so those
   * stay), and one whose parent went starts its history there. Runs in
   * bounded batches, as `prune()`. Returns what was deleted.
   */
  async deleteForRuns(runIds: readonly string[]): Promise<PruneCounts> {
    return this.instrumentation.run("deleteForRuns", {}, (stats) =>
      deleteRunsPostgres(this.database, requireRunIds(runIds, "deleteForRuns"), stats, (removed) => this.instrumentation.pruned(removed)));
  }

  /**
   * Copies thread `sourceThreadId` whole (every namespace, checkpoint, value
   * and pending write, under the same checkpoint ids) to `targetThreadId`,
   * in one statement: all of it or nothing. Throws `ThreadExistsError` when
   * the target has checkpoints, `ThreadNotFoundError` when the source has none.
   */
  async copyThread(sourceThreadId: string, targetThreadId: string): Promise<CopyResult> {
    return this.instrumentation.run("copyThread", { threadId: textOrUndefined(sourceThreadId) }, (stats) => {
      const [source, target] = copyThreadIds(sourceThreadId, targetThreadId);
      return copyPostgres(this.database, source, target, stats);
    });
  }

  /**
   * The whole thread (every namespace, checkpoint, value and pending write)
   * as a portable, versioned JSON document, read in one snapshot. Throws
   * `ThreadNotFoundError` for a thread with no checkpoints.
   */
  async exportThread(threadId: string): Promise<ThreadExport> {
    return this.instrumentation.run("exportThread", { threadId: textOrUndefined(threadId) }, (stats) =>
      exportPostgres(this.database, requireKey(threadId, "threadId", "exportThread"), stats));
  }

  /**
   * Stores a thread from `exportThread()` (of this saver, another database
   * or schema, or `MemoryCheckpointer`) in one transaction: all of it or,
   * if anything is wrong with the document, none of it. Rows that already
   * exist are kept as they are, so importing twice changes nothing.
   */
  async importThread(doc: ThreadExport): Promise<ImportResult> {
    return this.instrumentation.run("importThread", { threadId: threadIdOf(doc) }, (stats) => importPostgres(this.database, doc, stats));
  }

  /**
   * Graceful shutdown: new operations are refused with
   * `CheckpointerClosedError`, those in flight get up to `drainTimeoutMs` to
   * finish, then the pool closes if this saver created it (a pool passed to
   * the constructor belongs to the caller and stays open). Safe to call more
   * than once, or concurrently.
   */
  async end(): Promise<void> {
    this.closing ??= (async () => {
      this.monitor?.stop();
      this.retention?.stop();
      if (!(await this.executor.drain(this.options.drainTimeoutMs))) {
        this.options.logger.warn("end(): operations still running after the drain timeout; closing anyway", {
          pending: this.executor.pending,
          drainTimeoutMs: this.options.drainTimeoutMs,
        });
      }
      this.connections.detach();
      this.detachMetrics();
      // Our own pool keeps its error listener: connections can still report
      // errors while they close, and an unheard "error" would crash the process.
      if (this.ownsPool) await this.pool.end();
      else this.pool.off?.("error", this.onIdleClientError);
      for (const hook of this.endHooks) await hook();
    })();
    return this.closing;
  }

  /**
   * See `nextChannelVersion`: integers plus a random fraction, so forks never
   * reuse an abandoned branch's versions. A string comes back only for a
   * thread that already holds the Python saver's string versions, where
   * LangGraph passes and expects strings (the base class types versions as numbers).
   */
  override getNextVersion(current: number | string | undefined): number {
    return nextChannelVersion(current) as number;
  }

  /** Runs `hook` at the end of `end()`, after the pool has closed (e.g. to stop a server the saver used). */
  onEnd(hook: () => Promise<void>): void {
    if (typeof hook !== "function") throw new InvalidInputError(`onEnd needs a function, got ${describe(hook)}`);
    this.endHooks.push(hook);
  }

  private loader(stats: OperationStats): BlobLoader {
    return this.database.loader(stats);
  }

  /** Pending sends of pre-v4 checkpoints in `rows`: a second statement, only when there are any. */
  private withLegacySends(operation: string, rows: TupleRow[], stats: OperationStats): Promise<void> {
    return attachLegacySends(rows, (parents) => this.query<LegacySendsRow>(operation, this.sql.legacySends, parents, stats));
  }

  private query<Row>(operation: string, text: string, values: unknown[], stats?: OperationStats): Promise<Row[]> {
    return this.database.query<Row>(operation, text, values, stats, true);
  }

  private readonly onIdleClientError = (error: Error): void => {
    this.options.logger.warn("an idle database connection failed and was discarded", {
      error: error.message,
      code: (error as { code?: unknown }).code,
    });
  };
}
