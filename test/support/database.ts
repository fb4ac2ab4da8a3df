import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, inject } from "vitest";

/**
 * A database of its own for the calling test file, created before its tests
 * and dropped after. `url()` is valid inside tests and hooks.
 */
export function useTestDatabase(): { url: () => string; name: () => string } {
  let url: string | undefined;
  let name: string | undefined;
  beforeAll(async () => {
    ({ url, name } = await createDatabase());
  });
  afterAll(async () => {
    if (name) await dropDatabase(name);
  });
  return {
    url: () => url ?? fail(),
    name: () => name ?? fail(),
  };
}

export async function createDatabase(): Promise<{ url: string; name: string }> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  return { url: withDatabase(inject("adminUrl"), name), name };
}

/**
 * Waits (up to 5 s) for the file's connections to finish closing before
 * forcing the drop: a pool's `end()` resolves before its sockets are closed,
 * and a backend terminated while its client is still closing makes that pool
 * report an error with nobody left to listen.
 */
export async function dropDatabase(name: string): Promise<void> {
  await withAdmin(async (c) => {
    for (let i = 0; i < 100; i += 1) {
      const { rows } = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [name]);
      if (rows[0].n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function withAdmin<T>(f: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject("adminUrl") });
  await client.connect();
  try {
    return await f(client);
  } finally {
    await client.end();
  }
}

function fail(): never {
  throw new Error("the test database is only available inside tests and hooks");
}

/** Connection targets a test can run against: the server directly, and PgBouncer (transaction mode) when present. */
export interface Target {
  name: "direct" | "pgbouncer";
  url(direct: string): string;
}

export function targets(): Target[] {
  const port = inject("bouncerPort");
  const direct: Target = { name: "direct", url: (u) => u };
  if (!port) return [direct];
  return [
    direct,
    {
      name: "pgbouncer",
      url(u) {
        const url = new URL(u);
        url.hostname = "127.0.0.1";
        url.port = String(port);
        return url.toString();
      },
    },
  ];
}
