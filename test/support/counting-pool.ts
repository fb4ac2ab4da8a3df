import pg from "pg";

/**
 * A real pg.Pool whose clients record every statement they send to the
 * server (BEGIN/COMMIT included), so tests can count round trips exactly.
 */
export interface CountingPool {
  pool: pg.Pool;
  /** SQL text of every statement sent since the last reset. */
  statements: string[];
  reset(): void;
}

export function countingPool(connectionString: string, config: pg.PoolConfig = {}): CountingPool {
  const statements: string[] = [];
  class CountingClient extends pg.Client {
    override query(...args: any[]): any {
      const first = args[0];
      statements.push(typeof first === "string" ? first : String(first?.text ?? first));
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
  }
  const pool = new pg.Pool({ connectionString, ...config, Client: CountingClient });
  return {
    pool,
    statements,
    reset() {
      statements.length = 0;
    },
  };
}
