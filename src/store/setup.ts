import type { ResolvedStoreOptions } from "../config/store.js";
import type { Executor } from "../connection/executor.js";
import type { PgPoolClient } from "../connection/pool.js";
import { InvalidOptionsError, MigrationError, SQLSTATE, isTransient, sqlstateOf } from "../errors.js";
import { storeMigrations } from "../schema/store-migrations.js";
import type { StoreTables, buildStoreStatements } from "../sql/store.js";

type StoreStatements = ReturnType<typeof buildStoreStatements>;

/** The migration that creates the pgvector extension (the first of the index's). */
const VECTOR_EXTENSION_VERSION = 4;

/**
 * The official store (and any other program) creates these tables without
 * our lock: two such setups at once collide on Postgres's catalog (a
 * unique violation, "already exists"). The other one finished the work, so
 * looking again is enough.
 */
export async function setUpStore(executor: Executor, options: ResolvedStoreOptions, tables: StoreTables, sql: StoreStatements): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await migrateOnce(executor, options, tables, sql);
      break;
    } catch (error) {
      if (attempt >= 3 || !["23505", "42P07", "42710"].includes(stateOf(error) ?? "")) throw error;
    }
  }
  try {
    await executor.query("store.setup", sql.checkLanguage, [options.textSearchLanguage]);
  } catch (error) {
    if (stateOf(error) !== "42704") throw error;
    throw new InvalidOptionsError(`textSearchLanguage: Postgres has no text search configuration ${JSON.stringify(options.textSearchLanguage)}`);
  }
}

async function migrateOnce(executor: Executor, options: ResolvedStoreOptions, tables: StoreTables, sql: StoreStatements): Promise<void> {
  const steps = storeMigrations(tables, options.index);
  const current = await executor.run("store.setup", async (client) => {
    try {
      return ((await client.query(sql.currentVersion)).rows[0] as { v: number | null } | undefined)?.v ?? -1;
    } catch (error) {
      const code = sqlstateOf(error);
      if (code === SQLSTATE.undefinedTable || code === SQLSTATE.invalidSchemaName) return -1;
      throw error;
    }
  });
  if (current >= steps.length - 1) return;
  await executor.run("store.setup", (client) => migrateLocked(client, steps, options, tables, sql));
}

async function migrateLocked(client: PgPoolClient, steps: readonly string[], options: ResolvedStoreOptions, tables: StoreTables, sql: StoreStatements): Promise<void> {
  const { schema, quotedSchema } = options.saver;
  try {
    await client.query("BEGIN");
    await client.query(sql.lock, [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`);
    const exists = (await client.query(sql.migrationsTableExists, [tables.migrations])).rows[0] as { exists: boolean };
    const from = exists.exists ? ((await client.query(sql.currentVersion)).rows[0] as { v: number | null }).v ?? -1 : -1;
    if (options.index !== undefined && from < VECTOR_EXTENSION_VERSION) {
      const { rows } = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
      if (rows.length === 0) {
        throw new InvalidOptionsError("index: this PostgreSQL server has no pgvector extension ('vector'); install pgvector, or leave index out");
      }
    }
    for (let v = from + 1; v < steps.length; v += 1) {
      try {
        await client.query(steps[v]!);
        await client.query(sql.recordVersion, [v]);
      } catch (error) {
        if (isTransient(error)) throw error;
        throw new MigrationError(v, `store setup: migration v${v} failed: ${(error as Error).message}`, { cause: error });
      }
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}


/** The SQLSTATE behind an error, wrapped (ours) or not (pg's). */
function stateOf(error: unknown): string | undefined {
  const wrapped = error as { sqlstate?: unknown; cause?: unknown } | null;
  return sqlstateOf(error) ?? (typeof wrapped?.sqlstate === "string" ? wrapped.sqlstate : undefined) ?? sqlstateOf(wrapped?.cause);
}

