import type pg from "pg";

/**
 * The part of `pg.Pool` the saver uses. Structural, so a caller's own
 * `pg.Pool` (any version with this shape) or an instrumented wrapper fits.
 */
export interface PgPool {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on?(event: "error", listener: (error: Error) => void): unknown;
  off?(event: "error", listener: (error: Error) => void): unknown;
}

export type PgPoolClient = Pick<pg.PoolClient, "query" | "release">;
