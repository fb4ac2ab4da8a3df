import { MigrationError, SQLSTATE, isTransient, sqlstateOf } from "../errors.js";
import type { Executor } from "../connection/executor.js";
import { LATEST_VERSION, migrations } from "./migrations.js";
import type { ResolvedOptions } from "../config/options.js";
import type { PgPoolClient } from "../connection/pool.js";
import { buildSetupStatements, tableNames } from "../sql/index.js";

/**
 * Brings the schema to LATEST_VERSION. The common case (already current) is
 * one query. Otherwise everything happens in one transaction holding a
 * transaction-scoped advisory lock on the schema name: concurrent callers
 * queue on the lock, and the ones that follow find the work done. Nothing is
 * session-scoped, so this works through PgBouncer in transaction mode; a
 * failure rolls everything back, so a retry starts clean.
 */
export async function runMigrations(executor: Executor, options: ResolvedOptions): Promise<void> {
  const tables = tableNames(options.quotedSchema);
  const sql = buildSetupStatements(tables);
  const current = await executor.run("setup", async (client) => {
    try {
      const { rows } = await client.query(sql.currentVersion);
      return (rows[0] as { v: number | null } | undefined)?.v ?? -1;
    } catch (error) {
      const code = sqlstateOf(error);
      if (code === SQLSTATE.undefinedTable || code === SQLSTATE.invalidSchemaName) return -1;
      throw error;
    }
  });
  if (current >= LATEST_VERSION) return;
  await executor.run("setup", (client) => migrate(client, options, sql, migrations(tables)));
}

async function migrate(
  client: PgPoolClient,
  options: ResolvedOptions,
  sql: ReturnType<typeof buildSetupStatements>,
  steps: readonly string[],
): Promise<void> {
  try {
    await client.query("BEGIN");
    await client.query(sql.lock, [options.schema]);
    const schemaExists = await client.query(sql.schemaExists, [options.schema]);
    if (schemaExists.rows.length === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${options.quotedSchema}`);
    const exists = await client.query(sql.migrationsTableExists, [`${options.quotedSchema}.checkpoint_migrations`]);
    const from = (exists.rows[0] as { exists: boolean }).exists
      ? ((await client.query(sql.currentVersion)).rows[0] as { v: number | null }).v ?? -1
      : -1;
    for (let v = from + 1; v <= LATEST_VERSION; v += 1) {
      try {
        await client.query(steps[v]!);
      } catch (error) {
        // A dropped connection is retried by the executor; anything else is a real migration failure.
        if (isTransient(error)) throw error;
        throw new MigrationError(v, `setup: migration v${v} failed: ${(error as Error).message}`, { cause: error });
      }
    }
    if (from < LATEST_VERSION) await client.query(sql.recordVersions, [Math.max(from + 1, 0), LATEST_VERSION]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
