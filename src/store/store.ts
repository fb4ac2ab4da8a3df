import {
  BaseStore,
  type Item,
  type Operation,
  type OperationResults,
  type PutOperation,
  type SearchItem,
  type SearchOperation,
} from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { describe } from "../config/checks.js";
import { type PostgresStoreConfig, type ResolvedStoreOptions, resolveStoreOptions } from "../config/store.js";
import { Executor } from "../connection/executor.js";
import { ConnectionSource, type PgPool, createPool } from "../connection/pool.js";
import { InvalidInputError } from "../errors.js";
import { Instrumentation, type OperationStats } from "../observe/instrument.js";
import { CheckpointMetrics } from "../observe/metrics.js";
import { buildStoreStatements, storeTables, vectorsStatement } from "../sql/store.js";
import { type Prepared, prepareOperation } from "./operations.js";
import { setUpStore } from "./setup.js";
import { embedDocuments, embedQuery, textsToEmbed, vectorText } from "./vectors.js";

/** Expired items deleted per statement by a sweep. */
const SWEEP_BATCH = 1_000;

interface ItemRow {
  namespace_path: string;
  key: string;
  value: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

/**
 * LangGraph's long-term memory (`BaseStore`) on PostgreSQL: a drop-in for
 * `@langchain/langgraph-checkpoint-postgres/store`'s `PostgresStore`, on the
 * same tables, with the saver's foundations: one statement per operation
 * (a batch's puts and deletes are one statement, its gets another),
 * retries and the circuit breaker, a pool error listener, metrics, logs and
 * spans (operations `store.get`, `store.put`, ...), typed errors, and a
 * graceful `stop()`.
 */
export class PostgresStore extends BaseStore {
  readonly pool: PgPool;
  private readonly options: ResolvedStoreOptions;
  private readonly tables;
  private readonly sql;
  private readonly connections: ConnectionSource;
  private readonly executor: Executor;
  private readonly instrumentation: Instrumentation;
  private setupDone: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(config: PostgresStoreConfig) {
    super();
    this.options = resolveStoreOptions(config);
    const { connectionOptions } = config;
    this.pool = typeof connectionOptions === "string"
      ? createPool(connectionOptions, this.options.saver)
      : (new pg.Pool({
        ...poolSettings(this.options.saver),
        // What the caller gave wins over the pool options' defaults.
        ...(connectionOptions as pg.PoolConfig),
      }) as unknown as PgPool);
    // An idle connection that dies emits "error" on the pool; unheard, it would kill the process.
    this.pool.on?.("error", (error: Error) => {
      this.options.saver.logger.warn("an idle store connection failed and was discarded", { error: error.message });
    });
    const { metrics: metricsOptions, logger, slowOperationMs, tracing } = this.options.saver;
    const metrics = metricsOptions === false ? undefined : CheckpointMetrics.for(metricsOptions);
    this.instrumentation = new Instrumentation({ backend: "postgres", metrics, logger, slowOperationMs, tracing });
    this.connections = new ConnectionSource(this.pool, this.options.saver.healthCheckIdleMs, (ok) => this.instrumentation.healthChecked(ok));
    this.executor = new Executor(this.connections, this.options.saver, {
      retried: (operation) => this.instrumentation.retried(operation),
      sent: (mode) => this.instrumentation.statementSent(mode),
    });
    this.tables = storeTables(this.options.saver.quotedSchema);
    this.sql = buildStoreStatements(this.tables);
  }

  /** A store with its own pool from a connection string; `stop()` closes it. */
  static fromConnString(connectionString: string, options?: Omit<PostgresStoreConfig, "connectionOptions">): PostgresStore {
    return new PostgresStore({ ...options, connectionOptions: connectionString });
  }

  /**
   * Creates or migrates the store's tables (the official store's versions, in
   * `store_migrations`). Safe from many processes at once and through
   * PgBouncer: one transaction under a transaction-scoped advisory lock.
   * Starts the TTL sweep when `ttl.sweepIntervalMinutes` is set.
   */
  async setup(): Promise<void> {
    this.setupDone ??= this.instrumentation.run("store.setup", {}, () => setUpStore(this.executor, this.options, this.tables, this.sql)).catch((error: unknown) => {
      this.setupDone = undefined;
      throw error;
    });
    await this.setupDone;
    this.startSweeping();
  }

  /** As the official store: runs `setup()` unless `ensureTables` is false. */
  override async start(): Promise<void> {
    if (this.options.ensureTables) await this.setup();
  }

  /** As `end()`. */
  override async stop(): Promise<void> {
    await this.end();
  }

  /**
   * Graceful shutdown: the sweep stops, new operations are refused,
   * operations in flight get `drainTimeoutMs`, then the pool closes.
   */
  async end(): Promise<void> {
    this.closing ??= (async () => {
      if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
      await this.executor.drain(this.options.saver.drainTimeoutMs);
      this.connections.detach();
      // The store always creates its pool (from a URL or settings), so it always closes it.
      await this.pool.end();
    })();
    return this.closing;
  }

  override async get(namespace: string[], key: string): Promise<Item | null> {
    return (await this.execute([{ namespace, key }], "store.get"))[0] as Item | null;
  }

  /**
   * Stores `value` under (`namespace`, `key`), or deletes it when `value` is
   * null. `options.ttl` (minutes) overrides `ttl.defaultTtl`.
   */
  override async put(namespace: string[], key: string, value: Record<string, unknown>, index?: false | string[], options?: { ttl?: number }): Promise<void> {
    await this.execute([{ namespace, key, value, index, options } as PutOperation], "store.put");
  }

  override async delete(namespace: string[], key: string): Promise<void> {
    await this.execute([{ namespace, key, value: null }], "store.delete");
  }

  override async search(
    namespacePrefix: string[],
    options: {
      filter?: Record<string, unknown>; limit?: number; offset?: number; query?: string; refreshTtl?: boolean;
      /** "auto" (by similarity when the store has an index, else text), "vector", "text" or "hybrid" (both). */
      mode?: "auto" | "vector" | "text" | "hybrid";
      /** With an index: only items scoring at least this (hybrid: items matching the text, or whose vector does). */
      similarityThreshold?: number;
      /** Hybrid: the vector score's share of the score, the text rank's being the rest. @default 0.7 */
      vectorWeight?: number;
    } = {},
  ): Promise<SearchItem[]> {
    const { filter, limit = 10, offset = 0, query, refreshTtl, mode, similarityThreshold, vectorWeight } = options ?? {};
    const op = { namespacePrefix, filter, limit, offset, query, refreshTtl, mode, similarityThreshold, vectorWeight } as SearchOperation;
    return (await this.execute([op], "store.search"))[0] as SearchItem[];
  }

  /** The official store's `vectorSearch`: `search` by similarity. */
  async vectorSearch(namespacePrefix: string[], query: string, options: Omit<NonNullable<Parameters<PostgresStore["search"]>[1]>, "query" | "mode"> = {}): Promise<SearchItem[]> {
    return this.search(namespacePrefix, { ...options, query, mode: "vector" });
  }

  /** The official store's `hybridSearch`: `search` by similarity and text together. */
  async hybridSearch(namespacePrefix: string[], query: string, options: Omit<NonNullable<Parameters<PostgresStore["search"]>[1]>, "query" | "mode"> = {}): Promise<SearchItem[]> {
    return this.search(namespacePrefix, { ...options, query, mode: "hybrid" });
  }

  /** The official store's `textSearch`: `search` by text only. */
  async textSearch(namespacePrefix: string[], options: Omit<NonNullable<Parameters<PostgresStore["search"]>[1]>, "mode"> = {}): Promise<SearchItem[]> {
    return this.search(namespacePrefix, { ...options, mode: "text" });
  }

  override async listNamespaces(
    options: { prefix?: string[]; suffix?: string[]; maxDepth?: number; limit?: number; offset?: number } = {},
  ): Promise<string[][]> {
    const { prefix, suffix, maxDepth, limit = 100, offset = 0 } = options ?? {};
    const matchConditions = [
      ...(prefix ? [{ matchType: "prefix" as const, path: prefix }] : []),
      ...(suffix ? [{ matchType: "suffix" as const, path: suffix }] : []),
    ];
    return (await this.execute([{ matchConditions, maxDepth, limit, offset }], "store.listNamespaces"))[0] as string[][];
  }

  /**
   * The operations in one call. Reads see the store as it was before the
   * batch's writes, which go last, all in one statement (the last put of a
   * key wins). Every operation is checked before anything is sent.
   */
  async batch<Op extends readonly Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    return this.execute(operations, "store.batch");
  }

  /** `batch`, observed as `name` (`store.get` for a get, ...). */
  private async execute<Op extends readonly Operation[]>(operations: Op, name: string): Promise<OperationResults<Op>> {
    if (!Array.isArray(operations)) throw new InvalidInputError(`store.batch: operations must be an array, got ${describe(operations)}`);
    await this.ready();
    return this.instrumentation.run(name, {}, async (stats) => {
      const plan = operations.map((op, i) => prepareOperation(op, i, this.options, this.tables));
      const results: unknown[] = new Array(operations.length).fill(undefined);
      const gets = plan.flatMap((p, i) => (p.kind === "get" ? [[i, p] as const] : []));
      if (gets.length > 0) {
        const refresh = this.options.ttl.refreshOnRead ? this.options.ttl.defaultTtl ?? null : null;
        const rows = gets.length === 1 && refresh === null
          ? await this.query<ItemRow & { ordinal: string }>("store.get", this.sql.getOne, [gets[0]![1].path, gets[0]![1].key], stats, true)
          : await this.query<ItemRow & { ordinal: string }>("store.get", this.sql.get, [
            gets.map(([, p]) => p.path), gets.map(([, p]) => p.key), refresh,
          ], stats, true);
        for (const [i] of gets) results[i] = null;
        for (const row of rows) results[gets[Number(row.ordinal) - 1]![0]] = item(row);
      }
      for (const [i, p] of plan.entries()) {
        // Prepared: filter shapes repeat, and each shape is its own statement text.
        if (p.kind === "search") {
          if (p.embedQuery) p.values[1] = vectorText(await embedQuery(this.options.index!.embed, p.values[1] as string, this.options.index!.dims));
          const rows = await this.query<ItemRow & { score: number | null }>("store.search", p.text, p.values, stats, true);
          results[i] = rows.map(searchItem);
          const renew = p.refresh && this.options.ttl.defaultTtl !== undefined;
          if (renew && rows.length > 0) {
            await this.query("store.search", this.sql.refresh, [rows.map((r) => r.namespace_path), rows.map((r) => r.key), this.options.ttl.defaultTtl], stats, true);
          }
        }
        if (p.kind === "list") results[i] = (await this.query<{ ns: string }>("store.listNamespaces", p.text, p.values, stats, true)).map((r) => r.ns.split(":"));
      }
      // Embedded before anything is written: an embeddings model that fails leaves the store as it was.
      const indexed = await this.embedPuts(plan);
      const puts = new Map<string, [string, string, unknown, number | null]>();
      // Sorted: concurrent batches then lock rows in the same order, and never deadlock.
      const writes = plan.filter((p) => p.kind === "put").sort((a, b) => compare(a.path, b.path) || compare(a.key, b.key));
      for (const p of writes) puts.set(JSON.stringify([p.path, p.key]), [p.path, p.key, p.value, p.ttl]);
      const [single] = puts.values();
      if (puts.size === 1) {
        const [path, key, value, ttl] = single!;
        if (value === null) await this.query("store.put", this.sql.deleteOne, [path, key], stats, true);
        else await this.query("store.put", this.sql.putOne, [path, key, value, ttl], stats, true);
      } else if (puts.size > 1) {
        // Values go as JSON text inside the one JSON parameter: JSONB parses them once.
        const payload = `[${[...puts.values()].map(([path, key, value, ttl]) => `[${JSON.stringify(path)},${JSON.stringify(key)},${value ?? "null"},${ttl ?? "null"}]`).join(",")}]`;
        await this.query("store.put", this.sql.put, [payload], stats, true);
      }
      if (indexed !== undefined && indexed.items.length > 0) {
        await this.query("store.put", vectorsStatement(this.tables), [JSON.stringify(indexed.items), JSON.stringify(indexed.vectors)], stats, true);
      }
      stats.rows = operations.length;
      return results as OperationResults<Op>;
    });
  }

  /** The vectors a batch's puts store (the last put of each key), embedded in one call; undefined without an index. */
  private async embedPuts(plan: readonly Prepared[]): Promise<{ items: Array<[string, string]>; vectors: Array<[string, string, string, string, string]> } | undefined> {
    const index = this.options.index;
    if (index === undefined) return undefined;
    const last = new Map<string, Extract<Prepared, { kind: "put" }>>();
    for (const p of plan) if (p.kind === "put") last.set(JSON.stringify([p.path, p.key]), p);
    const puts = [...last.values()].filter((p) => p.fields !== undefined);
    const texts = puts.flatMap((p) => textsToEmbed(p.original, p.fields!).map(([field, text]) => [p, field, text] as const));
    const embeddings = await embedDocuments(index.embed, texts.map(([, , text]) => text), index.dims);
    return {
      items: puts.map((p) => [p.path, p.key]),
      vectors: texts.map(([p, field, text], i) => [p.path, p.key, field, text, vectorText(embeddings[i]!)]),
    };
  }

  /** Deletes expired items, in batches; returns how many went. */
  async sweepExpiredItems(): Promise<number> {
    await this.ready();
    return this.instrumentation.run("store.sweep", {}, async (stats) => {
      let total = 0;
      for (;;) {
        const [{ n: removed }] = (await this.query<{ n: number }>("store.sweep", this.sql.sweep, [SWEEP_BATCH], stats)) as [{ n: number }];
        total += removed;
        if (removed < SWEEP_BATCH) break;
      }
      stats.rows = total;
      return total;
    });
  }

  /** Items, expired items (not yet swept), namespaces, and the oldest and newest item's creation time. */
  async getStats(): Promise<{ totalItems: number; expiredItems: number; namespaceCount: number; oldestItem: Date | null; newestItem: Date | null }> {
    await this.ready();
    return this.instrumentation.run("store.getStats", {}, async (stats) => {
      const [row] = await this.query<{ total_items: number; expired_items: number; namespace_count: number; oldest_item: Date | null; newest_item: Date | null }>(
        "store.getStats", this.sql.stats, [], stats,
      );
      return {
        totalItems: row!.total_items, expiredItems: row!.expired_items, namespaceCount: row!.namespace_count,
        oldestItem: row!.oldest_item, newestItem: row!.newest_item,
      };
    });
  }

  /** Tables first, unless `ensureTables: false` says they exist. */
  private async ready(): Promise<void> {
    if (this.options.ensureTables) await this.setup();
  }

  private startSweeping(): void {
    const minutes = this.options.ttl.sweepIntervalMinutes;
    if (minutes === undefined || this.sweepTimer !== undefined || this.closing !== undefined) return;
    this.sweepTimer = setInterval(() => {
      this.sweepExpiredItems().catch((error: unknown) => {
        this.options.saver.logger.warn("store TTL sweep failed", { error: (error as Error)?.message });
      });
    }, minutes * 60_000);
    // The sweep never keeps the process alive.
    this.sweepTimer.unref();
  }

  private query<Row>(operation: string, text: string, values: unknown[], stats: OperationStats, prepare = false): Promise<Row[]> {
    return this.executor.query<Row>(operation, text, values, stats, prepare);
  }
}

/** Code unit order, the same in every process: what batches sort their writes by. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** node-postgres pool settings from the pool options, for a store given settings instead of a URL. */
function poolSettings(options: ResolvedStoreOptions["saver"]): pg.PoolConfig {
  const { pool } = options;
  return {
    max: pool.max, min: pool.min, idleTimeoutMillis: pool.idleTimeoutMillis, connectionTimeoutMillis: pool.connectionTimeoutMillis,
    maxLifetimeSeconds: pool.maxLifetimeSeconds, keepAlive: pool.keepAlive, application_name: pool.applicationName, allowExitOnIdle: true,
  };
}

function item(row: ItemRow): Item {
  return { namespace: row.namespace_path.split(":"), key: row.key, value: row.value, createdAt: row.created_at, updatedAt: row.updated_at };
}

function searchItem(row: ItemRow & { score: number | null }): SearchItem {
  return { ...item(row), ...(row.score === null ? {} : { score: Number(row.score) }) };
}

