import type { Tables } from "./tables.js";

/**
 * `exportThread()` reads a thread with three statements in one read-only
 * snapshot; `importThread()` writes one with the three inserts below in one
 * transaction. Inserts never overwrite: what already exists stays, so
 * importing a document twice changes nothing.
 */
export function buildTransferStatements(t: Tables) {
  const exportWrites = (taskPath: string) => `
SELECT checkpoint_ns, checkpoint_id, task_id, ${taskPath} AS task_path, idx, channel, type, blob
FROM ${t.writes} WHERE thread_id = $1
ORDER BY checkpoint_ns, checkpoint_id, task_path COLLATE "C", task_id COLLATE "C", idx`;
  return {
    /** $1 thread. */
    exportCheckpoints: `
SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata::text AS metadata
FROM ${t.checkpoints} WHERE thread_id = $1
ORDER BY checkpoint_ns, checkpoint_id`,

    exportBlobs: `
SELECT checkpoint_ns, channel, version, type, blob
FROM ${t.blobs} WHERE thread_id = $1
ORDER BY checkpoint_ns, channel, version`,

    exportWrites: exportWrites("task_path"),

    /**
     * The same on a schema the official JS saver created (migration v4):
     * it has no task_path column, which means every path is "".
     */
    exportWritesBeforeV9: exportWrites("''::text"),

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
     * $1 thread; per value: $2 namespace, $3 channel, $4 version, $5 type,
     * $6 offset and $7 length (-1: NULL) into $8, all values in one bytea
     * (see packing.ts).
     */
    importBlobs: `
INSERT INTO ${t.blobs} (thread_id, checkpoint_ns, channel, version, type, blob)
SELECT $1, b.ns, b.channel, b.version, b.type,
       CASE WHEN b.len < 0 THEN NULL ELSE substring($8::bytea FROM b.off + 1 FOR b.len) END
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[]) AS b(ns, channel, version, type, off, len)
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
  /** JSON text (escaped as metadata.ts describes). */
  metadata: string;
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
