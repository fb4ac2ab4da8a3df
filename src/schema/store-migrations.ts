import type { ResolvedStoreIndex } from "../config/store.js";
import type { StoreTables } from "../sql/store.js";

/**
 * The store's tables, version by version, as `@langchain/langgraph-checkpoint-postgres`'s
 * `PostgresStore` numbers them in `store_migrations`, so either package
 * reads and writes what the other set up. Versions 4 and up exist only with
 * a vector index (pgvector): the extension, `store_vectors`, then one index
 * per metric, named and numbered as the official store names and numbers them.
 */
export function storeMigrations(t: StoreTables, index?: ResolvedStoreIndex): readonly string[] {
  const base = [
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
  if (index === undefined) return base;
  const metrics = index.createAllMetricIndexes ? (["cosine", "l2", "inner_product"] as const) : [index.distanceMetric];
  return [
    ...base,
    "CREATE EXTENSION IF NOT EXISTS vector",
    `CREATE TABLE IF NOT EXISTS ${t.vectors} (
      namespace_path TEXT NOT NULL,
      key TEXT NOT NULL,
      field_path TEXT NOT NULL,
      text_content TEXT NOT NULL,
      embedding vector(${index.dims}) NOT NULL,
      created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
      PRIMARY KEY (namespace_path, key, field_path),
      FOREIGN KEY (namespace_path, key) REFERENCES ${t.store} (namespace_path, key) ON DELETE CASCADE
    )`,
    ...metrics.map((metric) => {
      const suffix = { cosine: "cosine", l2: "l2", inner_product: "ip" }[metric];
      const ops = { cosine: "vector_cosine_ops", l2: "vector_l2_ops", inner_product: "vector_ip_ops" }[metric];
      const name = `idx_store_vectors_embedding_${suffix}_${index.indexType}`;
      return index.indexType === "hnsw"
        ? `CREATE INDEX IF NOT EXISTS ${name} ON ${t.vectors} USING hnsw (embedding ${ops}) WITH (m = ${index.hnsw.m}, ef_construction = ${index.hnsw.efConstruction})`
        : `CREATE INDEX IF NOT EXISTS ${name} ON ${t.vectors} USING ivfflat (embedding ${ops}) WITH (lists = ${index.ivfflat.lists})`;
    }),
  ];
}
