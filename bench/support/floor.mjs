// The physical floor, measured on a plain pg pool of the savers' size in the
// same run: a `SELECT 1` round trip, and a one-row INSERT that commits. No
// checkpointer can store a checkpoint faster than the second.
import pg from "pg";
import { timeOperations } from "./measure.mjs";

export async function measureFloor(url, { warmup, iterations }) {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  try {
    await pool.query("CREATE TABLE IF NOT EXISTS public.bench_floor (id bigserial PRIMARY KEY, payload text NOT NULL)");
    const payload = "x".repeat(200);
    return await timeOperations(
      [
        { id: "select1", op: () => pool.query("SELECT 1") },
        { id: "insert", op: () => pool.query("INSERT INTO public.bench_floor (payload) VALUES ($1)", [payload]) },
      ],
      { warmup, iterations },
    );
  } finally {
    await pool.end();
  }
}
