import { CheckpointerDatabaseError, MigrationError, SQLSTATE, sqlstateOf } from "./errors.js";
import { LATEST_VERSION, migrations } from "./migrations.js";
import type { ResolvedOptions } from "./options.js";
import type { PgPool, PgPoolClient } from "./pool.js";
import { buildSetupStatements, tableNames } from "./sql.js";

/**
 * Brings the schema to LATEST_VERSION. The common case (already current) is
 * one query. Otherwise everything happens in one transaction holding a
 * transaction-scoped advisory lock on the schema name: concurrent callers
 * queue on the lock, and the ones that follow find the work done. Nothing is
 * session-scoped, so this works through PgBouncer in transaction mode, and a
 * failure leaves the schema exactly as it was.
 */
export async function runMigrations(pool: PgPool, options: ResolvedOptions): Promise<void> {
  const tables = tableNames(options.quotedSchema);
  const sql = buildSetupStatements(tables);
  if ((await currentVersion(pool, sql.currentVersion)) >= LATEST_VERSION) return;

  const client = await connect(pool);
  let failure: unknown;
  try {
    await run(client, "BEGIN");
    await run(client, sql.lock, [options.schema]);
    const schemaExists = await run(client, sql.schemaExists, [options.schema]);
    if (schemaExists.length === 0) await run(client, `CREATE SCHEMA IF NOT EXISTS ${options.quotedSchema}`);
    const [{ exists }] = (await run(client, sql.migrationsTableExists, [tables.migrations])) as [{ exists: boolean }];
    const from = exists ? ((await run(client, sql.currentVersion)) as [{ v: number | null }])[0].v ?? -1 : -1;
    const steps = migrations(tables);
    for (let v = from + 1; v <= LATEST_VERSION; v += 1) {
      try {
        await client.query(steps[v]!);
      } catch (error) {
        throw new MigrationError(v, `setup: migration v${v} failed: ${(error as Error).message}`, { cause: error });
      }
    }
    if (from < LATEST_VERSION) await run(client, sql.recordVersions, [Math.max(from + 1, 0), LATEST_VERSION]);
    await run(client, "COMMIT");
  } catch (error) {
    failure = error;
    await client.query("ROLLBACK").catch(() => undefined);
    throw error instanceof MigrationError ? error : new CheckpointerDatabaseError("setup", error);
  } finally {
    // A client whose transaction failed may be in an unknown state; let pg discard it.
    client.release(failure instanceof Error ? failure : undefined);
  }
}

async function currentVersion(pool: PgPool, text: string): Promise<number> {
  try {
    const { rows } = await pool.query(text);
    return (rows[0] as { v: number | null } | undefined)?.v ?? -1;
  } catch (error) {
    const code = sqlstateOf(error);
    if (code === SQLSTATE.undefinedTable || code === SQLSTATE.invalidSchemaName) return -1;
    throw new CheckpointerDatabaseError("setup", error);
  }
}

async function connect(pool: PgPool): Promise<PgPoolClient> {
  try {
    return await pool.connect();
  } catch (error) {
    throw new CheckpointerDatabaseError("setup", error);
  }
}

async function run(client: PgPoolClient, text: string, values?: unknown[]): Promise<unknown[]> {
  return (await client.query(text, values)).rows;
}
