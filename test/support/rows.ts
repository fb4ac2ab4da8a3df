import type pg from "pg";

export interface RowCounts {
  checkpoints: number;
  blobs: number;
  writes: number;
}

/** Row counts of the three data tables in `schema` (optionally for one thread). */
export async function countRows(pool: pg.Pool, schema = "public", threadId?: string): Promise<RowCounts> {
  const q = (table: string) =>
    `SELECT count(*)::int AS n FROM "${schema.replaceAll('"', '""')}".${table} WHERE $1::text IS NULL OR thread_id = $1`;
  const [c, b, w] = await Promise.all(
    ["checkpoints", "checkpoint_blobs", "checkpoint_writes"].map((t) => pool.query(q(t), [threadId ?? null])),
  );
  return { checkpoints: c!.rows[0].n, blobs: b!.rows[0].n, writes: w!.rows[0].n };
}
