import type { Tables } from "../sql/index.js";

/**
 * The official savers' migrations; the index is the version recorded in
 * `checkpoint_migrations`. v0–v4 are the JS saver's, v5–v9 the Python
 * saver's, so a database created by either is used as is and one created
 * here is readable by both.
 *
 * v6–v8 are `CREATE INDEX CONCURRENTLY` in the Python saver. CONCURRENTLY
 * cannot run inside the transaction that makes `setup()` safe to run from
 * many processes at once, so here they build with a brief write lock. On a
 * large existing table, create them CONCURRENTLY by hand first (same names);
 * `IF NOT EXISTS` then skips them.
 */
export function migrations(t: Tables): readonly string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${t.migrations} (
      v INTEGER PRIMARY KEY
    )`,
    `CREATE TABLE IF NOT EXISTS ${t.checkpoints} (
      thread_id TEXT NOT NULL,
      checkpoint_ns TEXT NOT NULL DEFAULT '',
      checkpoint_id TEXT NOT NULL,
      parent_checkpoint_id TEXT,
      type TEXT,
      checkpoint JSONB NOT NULL,
      metadata JSONB NOT NULL DEFAULT '{}',
      PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
    )`,
    `CREATE TABLE IF NOT EXISTS ${t.blobs} (
      thread_id TEXT NOT NULL,
      checkpoint_ns TEXT NOT NULL DEFAULT '',
      channel TEXT NOT NULL,
      version TEXT NOT NULL,
      type TEXT NOT NULL,
      blob BYTEA,
      PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
    )`,
    `CREATE TABLE IF NOT EXISTS ${t.writes} (
      thread_id TEXT NOT NULL,
      checkpoint_ns TEXT NOT NULL DEFAULT '',
      checkpoint_id TEXT NOT NULL,
      task_id TEXT NOT NULL,
      idx INTEGER NOT NULL,
      channel TEXT NOT NULL,
      type TEXT,
      blob BYTEA NOT NULL,
      PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
    )`,
    `ALTER TABLE ${t.blobs} ALTER COLUMN blob DROP NOT NULL`,
    `SELECT 1`,
    `CREATE INDEX IF NOT EXISTS checkpoints_thread_id_idx ON ${t.checkpoints} (thread_id)`,
    `CREATE INDEX IF NOT EXISTS checkpoint_blobs_thread_id_idx ON ${t.blobs} (thread_id)`,
    `CREATE INDEX IF NOT EXISTS checkpoint_writes_thread_id_idx ON ${t.writes} (thread_id)`,
    `ALTER TABLE ${t.writes} ADD COLUMN IF NOT EXISTS task_path TEXT NOT NULL DEFAULT ''`,
  ];
}

/** Number of the newest migration. */
export const LATEST_VERSION = 9;
