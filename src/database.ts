import type { Checkpoint, SerializerProtocol } from "@langchain/langgraph-checkpoint";
import { type BlobLoader, blobLoader } from "./codec/decode.js";
import { DeltaCache } from "./codec/delta-cache.js";
import { Encoder } from "./codec/encode.js";
import { SafeJsonPlusSerializer } from "./codec/serializer.js";
import { InvalidInputError } from "./errors.js";
import type { Executor } from "./connection/executor.js";
import type { OperationStats } from "./observe/instrument.js";
import type { ResolvedOptions } from "./config/options.js";
import type { ReviveOptions } from "./config/revive.js";
import type { PgPoolClient } from "./connection/pool.js";
import { buildInspectStatements } from "./sql/inspect.js";
import { buildRetentionStatements } from "./sql/retention.js";
import { buildTransferStatements } from "./sql/transfer.js";
import { buildStatements, tableNames } from "./sql/index.js";
import { describe } from "./config/checks.js";

/**
 * A saver's database side: its statements, serializer and executor. The
 * checkpoint API, retention, export/import and the command-line tool's
 * inspections all run through one `Database`, so retries, the circuit breaker,
 * metrics and `end()`'s drain cover every statement the package sends.
 */
export class Database {
  readonly tables;
  readonly sql;
  readonly encoder: Encoder;
  /** The values `put` may store deltas against; undefined with deltas off. */
  readonly deltas: DeltaCache | undefined;

  constructor(
    readonly executor: Executor,
    readonly serde: SerializerProtocol,
    readonly options: ResolvedOptions,
    strict: boolean,
  ) {
    this.tables = tableNames(options.quotedSchema);
    this.sql = {
      checkpoints: buildStatements(this.tables),
      retention: buildRetentionStatements(this.tables),
      transfer: buildTransferStatements(this.tables),
      inspect: buildInspectStatements(this.tables),
    };
    const { compaction } = options;
    this.deltas = compaction && compaction.deltas && compaction.deltaCacheBytes > 0
      ? new DeltaCache(compaction.deltaCacheBytes)
      : undefined;
    this.encoder = new Encoder(serde, {
      strict,
      escape: serde instanceof SafeJsonPlusSerializer,
      compaction: options.compaction,
      maxPayloadBytes: options.maxPayloadBytes,
    });
  }

  /**
   * A checkpoint and its changed values, in one statement (two only when a
   * delta's base vanished since this saver read it); returns its id. Values
   * that extend what the parent holds are stored as deltas, and what was
   * written is remembered as the base of the next ones.
   */
  async putCheckpoint(
    put: {
      threadId: string;
      ns: string;
      parentId: string | undefined;
      checkpoint: unknown;
      metadata: unknown;
      newVersions: unknown;
    },
    stats: OperationStats,
  ): Promise<string> {
    const { threadId, ns, parentId } = put;
    const deltas = this.deltas;
    const sql = this.sql.checkpoints;
    const write = async (baseOf = deltas?.basesFor(threadId, ns, parentId)) => {
      const encoded = await this.encoder.checkpoint(put.checkpoint, put.metadata, put.newVersions, "put", stats, baseOf);
      const { blobs } = encoded;
      const values = [
        threadId, ns,
        blobs.channels, blobs.versions, blobs.types, blobs.packed.offsets, blobs.packed.lengths, blobs.packed.data,
        encoded.id, parentId ?? null, encoded.document, encoded.metadata,
      ];
      if (deltas === undefined) {
        await this.query("put", sql.put, values, stats, true);
        return { encoded, inserted: [] };
      }
      if (blobs.deltaBases.channels.length === 0) {
        const rows = await this.query<{ channel: string }>("put", sql.putReturningInserted, values, stats, true);
        return { encoded, inserted: rows.map((row) => row.channel) };
      }
      const rows = await this.query<{ inserted: string[] }>("put", sql.putWithDeltas, [
        ...values, blobs.deltaBases.channels, blobs.deltaBases.versions,
      ], stats, true);
      return rows[0] === undefined ? undefined : { encoded, inserted: rows[0].inserted };
    };
    let written = await write();
    if (written === undefined) {
      // A base this saver remembered is gone from the database (pruned, or
      // the thread deleted): nothing was written, so send the checkpoint
      // again with every value whole.
      deltas?.forgetThread(threadId);
      stats.reset();
      written = (await write(() => undefined))!;
    }
    const { encoded, inserted } = written;
    if (deltas !== undefined) {
      const known = new Map(inserted.flatMap((channel) => {
        const value = encoded.blobs.known.get(channel);
        return value === undefined ? [] : [[channel, value] as const];
      }));
      deltas.remember(threadId, ns, encoded.id, (put.checkpoint as Checkpoint).channel_versions, known);
    }
    return encoded.id;
  }

  /**
   * One statement, retried as a whole on a transient failure. The
   * checkpoint API's statements are sent with `prepare` (their plans are
   * cached per connection, and their shapes keep index seeks in a cached
   * plan); maintenance statements (prune, inspections) run rarely and take
   * optional filters that only a plan made for their values folds away, so
   * they are planned on every call.
   */
  query<Row>(operation: string, text: string, values: unknown[], stats?: OperationStats, prepare = false): Promise<Row[]> {
    return this.executor.query<Row>(operation, text, values, stats, prepare);
  }

  /**
   * `work` inside one transaction on one connection (BEGIN … COMMIT, rolled
   * back on failure). Retried as a whole on a transient failure, so `work`
   * must only read or write idempotently.
   */
  transaction<T>(
    operation: string,
    work: (query: <Row>(text: string, values?: unknown[]) => Promise<Row[]>) => Promise<T>,
    options: { readOnly?: boolean } = {},
    stats?: OperationStats,
  ): Promise<T> {
    return this.executor.run(
      operation,
      async (client: PgPoolClient, timeoutMs: number) => {
        const query = async <Row>(text: string, values: unknown[] = []): Promise<Row[]> =>
          (await client.query({ text, values, query_timeout: timeoutMs })).rows as Row[];
        // A snapshot for reads that span statements; the default for writes, which are all upserts.
        await query(options.readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
        try {
          const result = await work(query);
          await query("COMMIT");
          return result;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw error;
        }
      },
      stats,
    );
  }

  /** Decodes stored blobs: inflates compacted ones (bounded by maxPayloadBytes) and deserializes. */
  /**
   * Loads stored values for one operation; `revive` overrides how the
   * serializer treats LangChain objects that cannot be revived (the
   * command-line tool's `--unrevivable`, and `validate`, which must see them).
   */
  loader(stats: OperationStats, revive?: Pick<ReviveOptions, "unrevivable">): BlobLoader {
    const serde = revive !== undefined && this.serde instanceof SafeJsonPlusSerializer ? this.serde.with(revive) : this.serde;
    return blobLoader(serde, this.options.maxPayloadBytes, stats);
  }
}

const databases = new WeakMap<object, Database>();

/** Links a saver to its database, for the package's own modules (the database is not public API). */
export function attachDatabase(saver: object, database: Database): void {
  databases.set(saver, database);
}

/** The database of a `PostgresSaver`. */
export function databaseOf(saver: unknown): Database {
  const database = typeof saver === "object" && saver !== null ? databases.get(saver) : undefined;
  if (database === undefined) throw new InvalidInputError(`expected a PostgresSaver, got ${describe(saver)}`);
  return database;
}
