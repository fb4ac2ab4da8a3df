import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { PostgresSaver } from "../../src/index.js";
import { useTestDatabase } from "./database.js";

/**
 * The usual test file setup: its own database, a pool, and a saver on that
 * pool with the schema set up; all closed after the file's tests.
 */
export function useSaver(): { pool: pg.Pool; saver: PostgresSaver; url: () => string } {
  const db = useTestDatabase();
  const env = { url: db.url } as { pool: pg.Pool; saver: PostgresSaver; url: () => string };
  beforeAll(async () => {
    env.pool = new pg.Pool({ connectionString: db.url() });
    env.saver = new PostgresSaver(env.pool);
    await env.saver.setup();
  });
  afterAll(async () => {
    await env.saver?.end();
    await env.pool?.end();
  });
  return env;
}
