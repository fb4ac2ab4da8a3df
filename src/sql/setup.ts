import type { Tables } from "./tables.js";

/** Statements used only by the migration runner in `setup()`. */
export function buildSetupStatements(t: Tables) {
  return {
    currentVersion: `SELECT max(v) AS v FROM ${t.migrations}`,
    /** Transaction-scoped, so it is released at COMMIT and safe behind PgBouncer transaction pooling. */
    lock: `SELECT pg_advisory_xact_lock(hashtextextended('langgraph-checkpoint-pg:setup:' || $1, 0))`,
    schemaExists: `SELECT 1 FROM pg_namespace WHERE nspname = $1`,
    migrationsTableExists: `SELECT to_regclass($1) IS NOT NULL AS exists`,
    recordVersions: `INSERT INTO ${t.migrations} (v) SELECT generate_series($1::int, $2::int) ON CONFLICT (v) DO NOTHING`,
  };
}
