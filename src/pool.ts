/**
 * The part of `pg.Pool` the saver uses. Structural, so a caller's own
 * `pg.Pool` (any version with this shape) or an instrumented wrapper fits,
 * and the package's types do not depend on `@types/pg`.
 */
export interface PgPool {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on?(event: "error", listener: (error: Error) => void): unknown;
  off?(event: "error", listener: (error: Error) => void): unknown;
}

export interface PgPoolClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  /** Passing an error tells the pool to discard the connection instead of reusing it. */
  release(error?: Error | boolean): void;
}
