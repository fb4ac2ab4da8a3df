import { expand } from "../codec/compaction.js";
import type { Database } from "../database.js";
import { countThreads } from "./threads.js";

/**
 * Where the bytes are: rows and size of each table, how much this package's
 * compaction and Postgres's own TOAST compression save, and the largest
 * threads. Read-only; each figure is one statement.
 */
export interface StorageStats {
  threads: number;
  tables: Array<{ table: string; rows: number; bytes: number }>;
  compression: {
    /** Values this package stored compressed (type `…+br`, `+deflate`, `+gzip`): how many, bytes as Postgres keeps them. */
    compressed: { values: number; stored_bytes: number };
    uncompressed: { values: number; stored_bytes: number };
    /** Compaction ratio estimated by inflating a random sample of compressed values. */
    compaction_sample: {
      values: number;
      /** Sampled values that failed to inflate (see `validate`). */
      unreadable: number;
      compressed_bytes: number;
      inflated_bytes: number;
      /** inflated ÷ compressed; null when there is nothing to sample. */
      ratio: number | null;
    };
    /** Postgres's own compression of the values: sum(octet_length) ÷ sum(pg_column_size). */
    toast: { octets: number; stored_bytes: number; ratio: number | null };
  };
  largest_threads: Array<{ thread_id: string; checkpoints: number; bytes: number }>;
}

/** Compressed values inflated to estimate the compaction ratio: enough for a stable figure, cheap to inflate. */
export const DEFAULT_SAMPLE_SIZE = 200;

export async function storageStats(database: Database, options: { top: number; sample?: number }): Promise<StorageStats> {
  const sql = database.sql.inspect;
  const { checkpoints, blobs, writes } = database.tables;
  const tables = await database.query<{ name: string; rows: string; bytes: string }>("stats", sql.tableSizes, [checkpoints, blobs, writes]);
  const groups = await database.query<{ compressed: boolean; n: string; octets: string; stored: string }>("stats", sql.compression, []);
  const sample = await database.query<{ type: string; blob: Uint8Array }>("stats", sql.compressedSample, [options.sample ?? DEFAULT_SAMPLE_SIZE]);
  const largest = await database.query<{ thread_id: string; checkpoints: number; bytes: string }>("stats", sql.largestThreads, [options.top]);

  const group = (compressed: boolean) => {
    const row = groups.find((g) => g.compressed === compressed);
    return { values: Number(row?.n ?? 0), stored_bytes: Number(row?.stored ?? 0), octets: Number(row?.octets ?? 0) };
  };
  const [packed, plain] = [group(true), group(false)];

  let unreadable = 0;
  let compressedBytes = 0;
  let inflatedBytes = 0;
  for (const row of sample) {
    try {
      // One at a time, each bounded by maxPayloadBytes, as reads do.
      const [, bytes] = await expand(row.type, row.blob, database.options.maxPayloadBytes);
      compressedBytes += row.blob.byteLength;
      inflatedBytes += bytes.byteLength;
    } catch {
      unreadable += 1;
    }
  }
  const octets = packed.octets + plain.octets;
  const stored = packed.stored_bytes + plain.stored_bytes;
  return {
    threads: await countThreads(database),
    tables: tables.map((t) => ({ table: t.name, rows: Number(t.rows), bytes: Number(t.bytes) })),
    compression: {
      compressed: { values: packed.values, stored_bytes: packed.stored_bytes },
      uncompressed: { values: plain.values, stored_bytes: plain.stored_bytes },
      compaction_sample: {
        values: sample.length,
        unreadable,
        compressed_bytes: compressedBytes,
        inflated_bytes: inflatedBytes,
        ratio: compressedBytes > 0 ? inflatedBytes / compressedBytes : null,
      },
      toast: { octets, stored_bytes: stored, ratio: stored > 0 ? octets / stored : null },
    },
    largest_threads: largest.map((t) => ({ thread_id: t.thread_id, checkpoints: t.checkpoints, bytes: Number(t.bytes) })),
  };
}
