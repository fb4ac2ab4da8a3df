import type { Tables } from "./tables.js";

/**
 * `exportThread()` reads a thread with three statements in one read-only
 * snapshot; `importThread()` writes one with the three inserts below in one
 * transaction. Inserts never overwrite: what already exists stays, so
 * importing a document twice changes nothing.
 */
export function buildTransferStatements(t: Tables) {
  // Text columns sort in code point order (COLLATE "C"), as JavaScript sorts
  // the in-memory saver's keys, so both savers list a thread in one order.
  const exportWrites = (taskPath: string | null) => `
SELECT checkpoint_ns, checkpoint_id, task_id, ${taskPath ?? "''::text"} AS task_path, idx, channel, type, blob
FROM ${t.writes} WHERE thread_id = $1
ORDER BY checkpoint_ns COLLATE "C", checkpoint_id COLLATE "C",${taskPath === null ? "" : ` ${taskPath} COLLATE "C",`} task_id COLLATE "C", idx`;
  return {
    /**
     * $1 thread. `version_texts`: each numeric channel version as Postgres
     * prints it, which is how the blob rows spell it (see `put`), so the
     * exporter can spell the blobs' versions as JavaScript prints the numbers.
     */
    exportCheckpoints: `
SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata::text AS metadata,
       (SELECT json_object_agg(v.key, v.value #>> '{}')
        FROM jsonb_each(CASE WHEN jsonb_typeof(checkpoint -> 'channel_versions') = 'object' THEN checkpoint -> 'channel_versions' END) v
        WHERE jsonb_typeof(v.value) = 'number') AS version_texts
FROM ${t.checkpoints} WHERE thread_id = $1
ORDER BY checkpoint_ns COLLATE "C", checkpoint_id COLLATE "C"`,

    exportBlobs: `
SELECT checkpoint_ns, channel, version, type, blob
FROM ${t.blobs} WHERE thread_id = $1
ORDER BY checkpoint_ns COLLATE "C", channel COLLATE "C", version COLLATE "C"`,

    exportWrites: exportWrites("task_path"),

    /**
     * The same on a schema the official JS saver created (migration v4):
     * it has no task_path column, which means every path is "".
     */
    exportWritesBeforeV9: exportWrites(null),

    /** The schema's migration version (NULL when there are no tables). */
    schemaVersion: `SELECT max(v) AS v FROM ${t.migrations}`,

    /** $1 thread; per checkpoint: $2 namespace, $3 id, $4 parent, $5 checkpoint JSON, $6 metadata JSON. */
    importCheckpoints: `
INSERT INTO ${t.checkpoints} (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
SELECT $1, c.ns, c.id, c.parent, c.checkpoint::jsonb, c.metadata::jsonb
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS c(ns, id, parent, checkpoint, metadata)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO NOTHING
RETURNING 1`,

    /**
     * $1 thread; per value: $2 namespace, $3 channel, $4 version, $5 whether
     * the checkpoints give that version as a number, $6 type, $7 offset and
     * $8 length (-1: NULL) into $9, all values in one bytea (see codec/packing.ts).
     * A numeric version is stored as Postgres prints the number, which is
     * what reads join on (`checkpoint -> 'channel_versions' ->> channel`).
     */
    importBlobs: `
INSERT INTO ${t.blobs} (thread_id, checkpoint_ns, channel, version, type, blob)
SELECT $1, b.ns, b.channel, CASE WHEN b.numeric THEN b.version::numeric::text ELSE b.version END, b.type,
       CASE WHEN b.len < 0 THEN NULL ELSE substring($9::bytea FROM b.off + 1 FOR b.len) END
FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::int[], $8::int[])
  AS b(ns, channel, version, numeric, type, off, len)
ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
RETURNING 1`,

    /** $1 thread; per write: $2 namespace, $3 checkpoint, $4 task, $5 task path, $6 idx, $7 channel, $8 type, $9/$10 into $11. */
    importWrites: `
INSERT INTO ${t.writes} (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
SELECT $1, w.ns, w.checkpoint_id, w.task_id, w.task_path, w.idx, w.channel, w.type,
       substring($11::bytea FROM w.off + 1 FOR w.len)
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::int[], $10::int[])
  AS w(ns, checkpoint_id, task_id, task_path, idx, channel, type, off, len)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO NOTHING
RETURNING 1`,
  };
}

export interface ExportCheckpointRow {
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  checkpoint: Record<string, unknown>;
  /** JSON text (escaped as codec/metadata.ts describes). */
  metadata: string;
  /** Channel → numeric version as Postgres prints it; null when there are none. */
  version_texts: Record<string, string> | null;
}

export interface ExportBlobRow {
  checkpoint_ns: string;
  channel: string;
  version: string;
  type: string;
  blob: Uint8Array | null;
}

export interface ExportWriteRow {
  checkpoint_ns: string;
  checkpoint_id: string;
  task_id: string;
  task_path: string;
  idx: number;
  channel: string;
  type: string | null;
  blob: Uint8Array;
}
