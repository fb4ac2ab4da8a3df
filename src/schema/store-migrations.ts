import type { StoreTables } from "../sql/store.js";

/**
 * The store's tables, version by version, as `@langchain/langgraph-checkpoint-postgres`'s
 * `PostgresStore` numbers them in `store_migrations`, so either package
 * reads and writes what the other set up. Versions 4 and up of the official
 * store exist only with a vector index (pgvector), which this store does not
 * create; a database with them is used as it is.
 */
export function storeMigrations(t: StoreTables): readonly string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${t.migrations} (v INTEGER PRIMARY KEY)`,
    `CREATE TABLE IF NOT EXISTS ${t.store} (
      namespace_path TEXT NOT NULL,
      key TEXT NOT NULL,
      value JSONB NOT NULL,
      created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
      expires_at TIMESTAMPTZ,
      PRIMARY KEY (namespace_path, key)
    )`,
    `CREATE INDEX IF NOT EXISTS idx_store_namespace_path ON ${t.store} USING btree (namespace_path);
     CREATE INDEX IF NOT EXISTS idx_store_value_gin ON ${t.store} USING gin (value);
     CREATE INDEX IF NOT EXISTS idx_store_expires_at ON ${t.store} USING btree (expires_at) WHERE expires_at IS NOT NULL`,
    `CREATE OR REPLACE FUNCTION ${t.schema}.update_updated_at_column() RETURNS TRIGGER AS $$
     BEGIN
       NEW.updated_at = CURRENT_TIMESTAMP;
       RETURN NEW;
     END;
     $$ LANGUAGE plpgsql;
     DROP TRIGGER IF EXISTS update_store_updated_at ON ${t.store};
     CREATE TRIGGER update_store_updated_at BEFORE UPDATE ON ${t.store}
       FOR EACH ROW EXECUTE FUNCTION ${t.schema}.update_updated_at_column()`,
  ];
}
