/**
 * The statements of `PostgresStore` (LangGraph's long-term memory), on the
 * official store's tables: `store` (one row per item, its value JSONB) and
 * `store_migrations`. The schema is the only thing interpolated, quoted when
 * the options were resolved; namespaces, keys, values, filter keys and
 * operands are always `$n` parameters.
 */
export function storeTables(quotedSchema: string) {
  return {
    schema: quotedSchema,
    store: `${quotedSchema}.store`,
    vectors: `${quotedSchema}.store_vectors`,
    migrations: `${quotedSchema}.store_migrations`,
  };
}

export type StoreTables = ReturnType<typeof storeTables>;

const LIVE = "(expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)";
const ITEM = "namespace_path, key, value, created_at, updated_at";

export function buildStoreStatements(t: StoreTables) {
  return {
    currentVersion: `SELECT max(v) AS v FROM ${t.migrations}`,
    /** The saver's setup lock: the two never create the schema at the same moment. */
    lock: `SELECT pg_advisory_xact_lock(hashtextextended('langgraph-checkpoint-pg:setup:' || $1, 0))`,
    migrationsTableExists: `SELECT to_regclass($1) IS NOT NULL AS exists`,
    recordVersion: `INSERT INTO ${t.migrations} (v) VALUES ($1) ON CONFLICT (v) DO NOTHING`,

    /** Renews the TTL of items ($1 paths, $2 keys) that have one, to $3 minutes (a search's `refreshOnRead`). */
    refresh: `
UPDATE ${t.store} s SET expires_at = CURRENT_TIMESTAMP + $3::float8 * interval '1 minute'
FROM unnest($1::text[], $2::text[]) AS r(namespace_path, key)
WHERE s.namespace_path = r.namespace_path AND s.key = r.key AND s.expires_at IS NOT NULL`,

    checkLanguage: `SELECT $1::regconfig AS language`,

    /** One item by ($1 namespace path, $2 key), unexpired: the common read, kept as simple as the official store's. */
    getOne: `SELECT 1 AS ordinal, ${ITEM} FROM ${t.store} WHERE namespace_path = $1 AND key = $2 AND ${LIVE}`,

    /** One put: ($1 path, $2 key, $3 value JSON, $4 TTL minutes or NULL). */
    putOne: `
INSERT INTO ${t.store} (namespace_path, key, value, expires_at)
VALUES ($1, $2, $3::jsonb, CASE WHEN $4::float8 IS NULL THEN NULL ELSE CURRENT_TIMESTAMP + $4::float8 * interval '1 minute' END)
ON CONFLICT (namespace_path, key) DO UPDATE
  SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, updated_at = CURRENT_TIMESTAMP`,

    /** One delete: ($1 path, $2 key). */
    deleteOne: `DELETE FROM ${t.store} WHERE namespace_path = $1 AND key = $2`,

    /**
     * Items by ($1 namespace paths, $2 keys), in the order asked (`ordinal`),
     * unexpired. With $3 (minutes) not NULL, each found item that has a TTL
     * gets it renewed, in the same statement (`refreshOnRead`).
     */
    get: `
WITH wanted AS (
  SELECT w.namespace_path, w.key, w.ordinal FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(namespace_path, key, ordinal)
), refreshed AS (
  UPDATE ${t.store} s SET expires_at = CURRENT_TIMESTAMP + $3::float8 * interval '1 minute'
  FROM wanted w
  WHERE $3::float8 IS NOT NULL AND s.namespace_path = w.namespace_path AND s.key = w.key
    AND s.expires_at IS NOT NULL AND s.expires_at > CURRENT_TIMESTAMP
  RETURNING s.namespace_path, s.key
)
SELECT w.ordinal, s.namespace_path, s.key, s.value, s.created_at, s.updated_at
FROM wanted w JOIN ${t.store} s ON s.namespace_path = w.namespace_path AND s.key = w.key
WHERE (s.expires_at IS NULL OR s.expires_at > CURRENT_TIMESTAMP)
   OR EXISTS (SELECT 1 FROM refreshed r WHERE r.namespace_path = s.namespace_path AND r.key = s.key)
ORDER BY w.ordinal`,

    /**
     * Puts and deletes, all in one statement: $1 is a JSON array of
     * [namespace path, key, value or null (delete), TTL in minutes or null].
     */
    put: `
WITH input AS (
  SELECT e ->> 0 AS namespace_path, e ->> 1 AS key, e -> 2 AS value, (e ->> 3)::float8 AS ttl
  FROM jsonb_array_elements($1::jsonb) AS e
), deleted AS (
  DELETE FROM ${t.store} s USING input i
  WHERE jsonb_typeof(i.value) = 'null' AND s.namespace_path = i.namespace_path AND s.key = i.key
  RETURNING 1
), written AS (
  INSERT INTO ${t.store} (namespace_path, key, value, expires_at)
  SELECT namespace_path, key, value, CASE WHEN ttl IS NULL THEN NULL ELSE CURRENT_TIMESTAMP + ttl * interval '1 minute' END
  FROM input WHERE jsonb_typeof(value) <> 'null'
  ON CONFLICT (namespace_path, key) DO UPDATE
    SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, updated_at = CURRENT_TIMESTAMP
  RETURNING 1
)
SELECT (SELECT count(*) FROM written)::int AS written, (SELECT count(*) FROM deleted)::int AS deleted`,

    /** Expired items, at most $1 of them (a sweep repeats it until fewer go). */
    sweep: `
WITH gone AS (
  DELETE FROM ${t.store} WHERE ctid IN (
    SELECT ctid FROM ${t.store} WHERE expires_at IS NOT NULL AND expires_at <= CURRENT_TIMESTAMP LIMIT $1
  ) RETURNING 1
)
SELECT count(*)::int AS n FROM gone`,

    stats: `
SELECT count(*)::int AS total_items,
       count(*) FILTER (WHERE expires_at IS NOT NULL AND expires_at <= CURRENT_TIMESTAMP)::int AS expired_items,
       count(DISTINCT namespace_path)::int AS namespace_count,
       min(created_at) AS oldest_item, max(created_at) AS newest_item
FROM ${t.store}`,
  };
}

/**
 * A `search` statement: items under namespace prefix $1 (an array of
 * labels), unexpired, matching `conditions` (built with parameters from $6
 * on), with text search for $2 (the query, or NULL) in language $3; $4
 * limit, $5 offset. Ordered by relevance with a query, by last update
 * without, then by key so pages are stable.
 */
export function searchStatement(t: StoreTables, conditions: readonly string[]): string {
  return `
SELECT ${ITEM},
       CASE WHEN $2::text IS NULL THEN NULL
            ELSE ts_rank(to_tsvector($3::regconfig, value::text), plainto_tsquery($3::regconfig, $2::text)) END AS score
FROM ${t.store}
WHERE ${prefixMatch("$1")} AND ${LIVE}
  AND ($2::text IS NULL OR to_tsvector($3::regconfig, value::text) @@ plainto_tsquery($3::regconfig, $2::text)
       OR value::text ILIKE '%' || replace(replace(replace($2::text, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')
  ${conditions.map((c) => `AND ${c}`).join("\n  ")}
ORDER BY score DESC NULLS LAST, updated_at DESC, namespace_path, key
LIMIT $4 OFFSET $5`;
}

/**
 * Replaces the vectors of items ($1: JSON array of [namespace path, key]):
 * those of $2 (JSON array of [path, key, field, text, "[x,y,...]"]) are
 * written, the items' other vectors go. Sent in the put's own statement, after it.
 */
export function vectorsStatement(t: StoreTables): string {
  return `
WITH items AS (
  SELECT e ->> 0 AS namespace_path, e ->> 1 AS key FROM jsonb_array_elements($1::jsonb) AS e
), fresh AS (
  SELECT e ->> 0 AS namespace_path, e ->> 1 AS key, e ->> 2 AS field_path, e ->> 3 AS text_content, (e ->> 4)::vector AS embedding
  FROM jsonb_array_elements($2::jsonb) AS e
), stale AS (
  DELETE FROM ${t.vectors} v USING items i
  WHERE v.namespace_path = i.namespace_path AND v.key = i.key
    AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.namespace_path = v.namespace_path AND f.key = v.key AND f.field_path = v.field_path)
  RETURNING 1
)
INSERT INTO ${t.vectors} (namespace_path, key, field_path, text_content, embedding)
SELECT namespace_path, key, field_path, text_content, embedding FROM fresh
ON CONFLICT (namespace_path, key, field_path) DO UPDATE SET text_content = EXCLUDED.text_content, embedding = EXCLUDED.embedding`;
}

/** How each metric turns a distance into a score (higher is more similar) for the query vector $2. */
const VECTOR_SCORES = {
  cosine: "1 - min(v.embedding <=> $2::vector)",
  l2: "1 / (1 + min(v.embedding <-> $2::vector))",
  inner_product: "max(-(v.embedding <#> $2::vector))",
} as const;

/**
 * A vector `search`: items under prefix $1 with at least one vector, scored
 * by their best field against $2 (the query's embedding), unexpired,
 * matching `conditions` (parameters from $6), scoring at least $3; $4 limit, $5 offset.
 */
export function vectorSearchStatement(t: StoreTables, conditions: readonly string[], metric: keyof typeof VECTOR_SCORES): string {
  return `
SELECT s.namespace_path, s.key, s.value, s.created_at, s.updated_at, ${VECTOR_SCORES[metric]} AS score
FROM ${t.store} s JOIN ${t.vectors} v ON v.namespace_path = s.namespace_path AND v.key = s.key
WHERE ${prefixMatch("$1", "s.namespace_path")} AND (s.expires_at IS NULL OR s.expires_at > CURRENT_TIMESTAMP)
  ${conditions.map((c) => `AND ${c}`).join("\n  ")}
GROUP BY s.namespace_path, s.key
HAVING $3::float8 IS NULL OR ${VECTOR_SCORES[metric]} >= $3::float8
ORDER BY score DESC, s.namespace_path, s.key
LIMIT $4 OFFSET $5`;
}

/**
 * A hybrid `search`: as `vectorSearchStatement`, scored $6 × the vector
 * score + (1 − $6) × the text rank of query $7 in language $8; an item
 * matches by its text or by a vector scoring at least $3 (any, when NULL).
 * `conditions` take parameters from $9.
 */
export function hybridSearchStatement(t: StoreTables, conditions: readonly string[], metric: keyof typeof VECTOR_SCORES): string {
  const rank = "ts_rank(to_tsvector($8::regconfig, s.value::text), plainto_tsquery($8::regconfig, $7::text))";
  return `
SELECT s.namespace_path, s.key, s.value, s.created_at, s.updated_at,
       $6::float8 * ${VECTOR_SCORES[metric]} + (1 - $6::float8) * ${rank} AS score
FROM ${t.store} s JOIN ${t.vectors} v ON v.namespace_path = s.namespace_path AND v.key = s.key
WHERE ${prefixMatch("$1", "s.namespace_path")} AND (s.expires_at IS NULL OR s.expires_at > CURRENT_TIMESTAMP)
  ${conditions.map((c) => `AND ${c}`).join("\n  ")}
GROUP BY s.namespace_path, s.key
HAVING to_tsvector($8::regconfig, s.value::text) @@ plainto_tsquery($8::regconfig, $7::text)
    OR ${VECTOR_SCORES[metric]} >= coalesce($3::float8, '-infinity'::float8)
ORDER BY score DESC, s.namespace_path, s.key
LIMIT $4 OFFSET $5`;
}

/**
 * `listNamespaces`: the distinct namespaces of unexpired items matching
 * prefix $1 and suffix $2 (arrays of labels, "*" matching any label, or
 * NULL), cut to $3 labels (or NULL), in order; $4 limit, $5 offset.
 */
export function listNamespacesStatement(t: StoreTables): string {
  return `
SELECT ns FROM (
  SELECT DISTINCT array_to_string(labels[1:coalesce($3::int, cardinality(labels))], ':') AS ns
  FROM (
    -- Each namespace once, and only those that start with the prefix's labels up to its first "*".
    SELECT string_to_array(namespace_path, ':') AS labels FROM (
      SELECT DISTINCT namespace_path FROM ${t.store}
      WHERE ${LIVE} AND ($6::text IS NULL OR namespace_path = $6 OR starts_with(namespace_path, $6 || ':'))
    ) d
  ) s
  WHERE ($1::text[] IS NULL OR (cardinality(labels) >= cardinality($1::text[]) AND NOT EXISTS (
          SELECT 1 FROM unnest($1::text[]) WITH ORDINALITY AS p(label, i) WHERE p.label <> '*' AND p.label IS DISTINCT FROM labels[p.i])))
    AND ($2::text[] IS NULL OR (cardinality(labels) >= cardinality($2::text[]) AND NOT EXISTS (
          SELECT 1 FROM unnest($2::text[]) WITH ORDINALITY AS p(label, i)
          WHERE p.label <> '*' AND p.label IS DISTINCT FROM labels[cardinality(labels) - cardinality($2::text[]) + p.i])))
) n
ORDER BY ns COLLATE "C"
LIMIT $4 OFFSET $5`;
}

/**
 * Items whose namespace starts with the labels joined in `param` (label by
 * label, not as a string: "user" does not match "user2:..."; "" matches all).
 */
function prefixMatch(param: string, column = "namespace_path"): string {
  return `(${param}::text = '' OR ${column} = ${param}::text OR starts_with(${column}, ${param}::text || ':'))`;
}

/**
 * `listNamespaces` without wildcards, suffix or depth: the distinct
 * namespaces under the labels joined in $1 (NULL: all), in order; $2 limit,
 * $3 offset.
 */
export function listNamespacesPlainStatement(t: StoreTables): string {
  return `
SELECT DISTINCT namespace_path COLLATE "C" AS ns FROM ${t.store}
WHERE ${LIVE} AND ($1::text IS NULL OR namespace_path = $1 OR starts_with(namespace_path, $1 || ':'))
ORDER BY ns
LIMIT $2 OFFSET $3`;
}
