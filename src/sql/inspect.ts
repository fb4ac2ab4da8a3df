import { CODEC_NAMES } from "../config/payload.js";
import type { Tables } from "./tables.js";

/**
 * The statements of the command-line tool's inspections (`threads`, `show`,
 * `validate`, `stats`, and the thread scans of `validate`, `prune` and
 * `copy`). None writes. They read only columns the official JS saver's
 * schema (v4) also has, so they work on a database it created.
 *
 * Sizes are what Postgres stores: `pg_column_size` of each column of a row,
 * which counts values after TOAST compression. (The size of a whole row read
 * as a composite depends on the plan that read it; the columns' do not.)
 */

/** Channels whose pending writes `show` decodes: a task's failure and an `interrupt()`. */
const ERROR_CHANNEL = "__error__";
const INTERRUPT_CHANNEL = "__interrupt__";

/** A type tag of a value this package compressed (`json+br`); a constant, never user input. */
const COMPRESSED_TYPE = `'\\+(${CODEC_NAMES.join("|")})$'`;

export function buildInspectStatements(t: Tables) {
  /** A thread's stored bytes in all three tables; `thread` is an expression naming the thread. */
  const threadBytes = (thread: string) => `
  (SELECT coalesce(sum(${rowBytes.checkpoints("c")}), 0) FROM ${t.checkpoints} c WHERE c.thread_id = ${thread})
  + (SELECT coalesce(sum(${rowBytes.blobs("b")}), 0) FROM ${t.blobs} b WHERE b.thread_id = ${thread})
  + (SELECT coalesce(sum(${rowBytes.writes("w")}), 0) FROM ${t.writes} w WHERE w.thread_id = ${thread})`;
  const hasWrite = (channel: string) => `EXISTS (
    SELECT 1 FROM ${t.writes} w
    WHERE w.thread_id = p.thread_id AND w.checkpoint_ns = p.head_ns AND w.checkpoint_id = p.head_id
      AND w.channel = '${channel}')`;

  return {
    /** The schema's migration version (NULL when the table is empty). */
    schemaVersion: `SELECT max(v) AS v FROM ${t.migrations}`,

    /**
     * Threads newest first (by newest checkpoint id), with their status, read
     * from the "head": the newest checkpoint of the root namespace, or the
     * newest of all when the thread has no root one. A head with an
     * `__error__` write failed; with an `__interrupt__` write it waits for a
     * human. $1 only this status or NULL, $2 limit. Sizes are summed only
     * for the rows returned.
     */
    threads: `
WITH per_ns AS (
  SELECT thread_id, checkpoint_ns, count(*)::int AS n, max(checkpoint_id) AS newest
  FROM ${t.checkpoints}
  GROUP BY thread_id, checkpoint_ns
), per_thread AS (
  SELECT thread_id, sum(n)::int AS checkpoints,
         array_agg(checkpoint_ns ORDER BY checkpoint_ns) AS namespaces,
         max(newest) AS newest_id,
         coalesce(max(newest) FILTER (WHERE checkpoint_ns = ''), max(newest)) AS head_id,
         CASE WHEN bool_or(checkpoint_ns = '') THEN ''
              ELSE (array_agg(checkpoint_ns ORDER BY newest DESC))[1] END AS head_ns
  FROM per_ns
  GROUP BY thread_id
), with_status AS (
  SELECT p.*, CASE WHEN ${hasWrite(ERROR_CHANNEL)} THEN 'failed'
                   WHEN ${hasWrite(INTERRUPT_CHANNEL)} THEN 'interrupted'
                   ELSE 'idle' END AS status
  FROM per_thread p
), page AS (
  SELECT s.*, count(*) OVER ()::int AS matching FROM with_status s
  WHERE $1::text IS NULL OR s.status = $1
  ORDER BY s.newest_id DESC, s.thread_id
  LIMIT $2
)
SELECT page.thread_id, page.status, page.checkpoints, page.namespaces, page.newest_id, page.matching,
       (SELECT c.checkpoint ->> 'ts' FROM ${t.checkpoints} c
        WHERE c.thread_id = page.thread_id AND c.checkpoint_id = page.newest_id
        ORDER BY c.checkpoint_ns LIMIT 1) AS last_update,
       (${threadBytes("page.thread_id")})::bigint AS bytes
FROM page
ORDER BY page.newest_id DESC, page.thread_id`,

    /** Threads holding at least one checkpoint. */
    threadCount: `SELECT count(DISTINCT thread_id)::int AS n FROM ${t.checkpoints}`,

    /** A page of thread ids in id order: $1 last id of the previous page or NULL, $2 page size. */
    threadIds: `
SELECT thread_id FROM ${t.checkpoints}
WHERE $1::text IS NULL OR thread_id > $1
GROUP BY thread_id
ORDER BY thread_id
LIMIT $2`,

    /** Which of the ids $1 have no checkpoint. */
    missingThreads: `
SELECT id FROM unnest($1::text[]) AS id
WHERE NOT EXISTS (SELECT 1 FROM ${t.checkpoints} c WHERE c.thread_id = id)`,

    /** Checkpoints and namespaces of thread $1. */
    threadSize: `
SELECT count(*)::int AS checkpoints, count(DISTINCT checkpoint_ns)::int AS namespaces
FROM ${t.checkpoints} WHERE thread_id = $1`,

    /**
     * Thread $1's history, newest first over every namespace, at most $2
     * checkpoints: the channels each one wrote (versions that differ from its
     * parent's) and its pending writes. Only `__error__` and `__interrupt__`
     * writes bring their value (base64), to be decoded and shown.
     */
    history: `
SELECT c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, c.checkpoint ->> 'ts' AS ts,
       c.metadata -> 'step' AS step, c.metadata ->> 'source' AS source,
       ARRAY(SELECT v.key FROM jsonb_each(c.checkpoint -> 'channel_versions') v
             WHERE p.checkpoint IS NULL OR (p.checkpoint -> 'channel_versions' -> v.key) IS DISTINCT FROM v.value
             ORDER BY v.key) AS channels,
       wr.writes
FROM (
  -- Limited first, so the joins below run only for the checkpoints shown.
  SELECT * FROM ${t.checkpoints} WHERE thread_id = $1 ORDER BY checkpoint_id DESC, checkpoint_ns LIMIT $2
) c
LEFT JOIN ${t.checkpoints} p
  ON p.thread_id = c.thread_id AND p.checkpoint_ns = c.checkpoint_ns AND p.checkpoint_id = c.parent_checkpoint_id
LEFT JOIN LATERAL (
  SELECT json_agg(json_build_array(w.task_id, w.channel, w.idx, w.type,
           CASE WHEN w.channel IN ('${ERROR_CHANNEL}', '${INTERRUPT_CHANNEL}') THEN encode(w.blob, 'base64') END)
         ORDER BY w.task_id COLLATE "C", w.idx) AS writes
  FROM ${t.writes} w
  WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id
) wr ON true
ORDER BY c.checkpoint_id DESC, c.checkpoint_ns`,

    /** What `validate` checked in thread $1: checkpoints and the channel versions they name. */
    validateCounts: `
SELECT count(*)::int AS checkpoints,
       coalesce(sum((SELECT count(*) FROM jsonb_object_keys(${versionsOf("c")}))), 0)::int AS versions
FROM ${t.checkpoints} c WHERE c.thread_id = $1`,

    /** Channel versions that checkpoints of thread $1 name but `checkpoint_blobs` lacks. */
    missingBlobs: `
SELECT c.checkpoint_ns, c.checkpoint_id, v.key AS channel, v.value AS version
FROM ${t.checkpoints} c CROSS JOIN LATERAL jsonb_each_text(${versionsOf("c")}) v
WHERE c.thread_id = $1
  AND NOT EXISTS (
    SELECT 1 FROM ${t.blobs} b
    WHERE b.thread_id = $1 AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = v.key AND b.version = v.value)
ORDER BY c.checkpoint_ns, c.checkpoint_id, v.key`,

    /** Checkpoints of thread $1 whose parent id names no checkpoint of the same namespace. */
    missingParents: `
SELECT c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id
FROM ${t.checkpoints} c
WHERE c.thread_id = $1 AND c.parent_checkpoint_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM ${t.checkpoints} p
    WHERE p.thread_id = $1 AND p.checkpoint_ns = c.checkpoint_ns AND p.checkpoint_id = c.parent_checkpoint_id)
ORDER BY c.checkpoint_ns, c.checkpoint_id`,

    /**
     * Stored values of thread $1 after the key ($2, $3, $4) (NULLs: from the
     * start): at most $5 of them, and of those only as many as fit in $6
     * bytes (always the first). `fetched` is how many the count limit
     * allowed, so the caller knows whether the bytes cut the page short.
     */
    blobPage: valuePage(
      `SELECT checkpoint_ns, channel, version, type, blob, coalesce(octet_length(blob), 0) AS len
       FROM ${t.blobs}
       WHERE thread_id = $1 AND ($2::text IS NULL OR (checkpoint_ns, channel, version) > ($2, $3::text, $4::text))
       ORDER BY checkpoint_ns, channel, version
       LIMIT $5`,
      "checkpoint_ns, channel, version, type, blob",
      "checkpoint_ns, channel, version",
      "$6",
    ),

    /** Pending writes of thread $1 after the key ($2, $3, $4, $5) (NULLs: from the start), at most $6 and $7 bytes (as blobPage). */
    writePage: valuePage(
      `SELECT checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, coalesce(octet_length(blob), 0) AS len
       FROM ${t.writes}
       WHERE thread_id = $1
         AND ($2::text IS NULL OR (checkpoint_ns, checkpoint_id, task_id, idx) > ($2, $3::text, $4::text, $5::int))
       ORDER BY checkpoint_ns, checkpoint_id, task_id, idx
       LIMIT $6`,
      "checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob",
      "checkpoint_ns, checkpoint_id, task_id, idx",
      "$7",
    ),

    /** Metadata of thread $1's checkpoints after the key ($2, $3) (NULLs: from the start), at most $4 and $5 bytes (as blobPage). */
    metadataPage: valuePage(
      `SELECT checkpoint_ns, checkpoint_id, metadata::text AS metadata, octet_length(metadata::text) AS len
       FROM ${t.checkpoints}
       WHERE thread_id = $1 AND ($2::text IS NULL OR (checkpoint_ns, checkpoint_id) > ($2, $3::text))
       ORDER BY checkpoint_ns, checkpoint_id
       LIMIT $4`,
      "checkpoint_ns, checkpoint_id, metadata",
      "checkpoint_ns, checkpoint_id",
      "$5",
    ),

    /** The checkpoints of ($1, $2) naming version $4 of channel $3: the first (which wrote it) and how many. */
    blobUsers: `
SELECT min(checkpoint_id) AS first_id, count(*)::int AS n
FROM ${t.checkpoints} c
WHERE c.thread_id = $1 AND c.checkpoint_ns = $2 AND ${versionsOf("c")} ->> $3 = $4`,

    /** Rows and total size (with indexes and TOAST) of the tables $1, $2, $3 (qualified names, as parameters). */
    tableSizes: `
SELECT 'checkpoints' AS name, (SELECT count(*) FROM ${t.checkpoints})::bigint AS rows,
       pg_total_relation_size($1::text::regclass)::bigint AS bytes
UNION ALL
SELECT 'checkpoint_blobs', (SELECT count(*) FROM ${t.blobs})::bigint, pg_total_relation_size($2::text::regclass)::bigint
UNION ALL
SELECT 'checkpoint_writes', (SELECT count(*) FROM ${t.writes})::bigint, pg_total_relation_size($3::text::regclass)::bigint`,

    /**
     * Stored values (non-NULL blobs, channel values and writes) by whether
     * this package compressed them: how many, their bytes as sent
     * (`octet_length`, after our compaction) and as Postgres keeps them
     * (`pg_column_size`, after its own TOAST compression).
     */
    compression: `
SELECT v.compressed, count(*)::bigint AS n,
       coalesce(sum(octet_length(v.blob)), 0)::bigint AS octets,
       coalesce(sum(pg_column_size(v.blob)), 0)::bigint AS stored
FROM (
  SELECT type ~ ${COMPRESSED_TYPE} AS compressed, blob FROM ${t.blobs} WHERE blob IS NOT NULL
  UNION ALL
  SELECT coalesce(type, '') ~ ${COMPRESSED_TYPE}, blob FROM ${t.writes} WHERE blob IS NOT NULL
) v
GROUP BY v.compressed`,

    /** Up to $1 compressed values picked at random, to inflate and estimate the compaction ratio. */
    compressedSample: `
SELECT v.type, v.blob FROM (
  SELECT type, blob FROM ${t.blobs} WHERE type ~ ${COMPRESSED_TYPE} AND blob IS NOT NULL
  UNION ALL
  SELECT type, blob FROM ${t.writes} WHERE type ~ ${COMPRESSED_TYPE}
) v
ORDER BY random()
LIMIT $1`,

    /** The $1 threads with the most stored bytes in the three tables. */
    largestThreads: `
SELECT s.thread_id, sum(s.checkpoints)::int AS checkpoints, sum(s.bytes)::bigint AS bytes
FROM (
  SELECT thread_id, count(*) AS checkpoints, sum(${rowBytes.checkpoints("c")}) AS bytes FROM ${t.checkpoints} c GROUP BY thread_id
  UNION ALL
  SELECT thread_id, 0, sum(${rowBytes.blobs("b")}) FROM ${t.blobs} b GROUP BY thread_id
  UNION ALL
  SELECT thread_id, 0, sum(${rowBytes.writes("w")}) FROM ${t.writes} w GROUP BY thread_id
) s
GROUP BY s.thread_id
ORDER BY bytes DESC, s.thread_id
LIMIT $1`,
  };
}

/**
 * Stored bytes of one row of each table: the sum of its columns' sizes. Only
 * the columns the official saver's schema (v4) also has, so the figures mean
 * the same on a database it created (v9's `task_path` is a few bytes).
 */
const columns = (names: string[]) => (alias: string) =>
  names.map((name) => `coalesce(pg_column_size(${alias}.${name}), 0)`).join(" + ");
const rowBytes = {
  checkpoints: columns(["thread_id", "checkpoint_ns", "checkpoint_id", "parent_checkpoint_id", "type", "checkpoint", "metadata"]),
  blobs: columns(["thread_id", "checkpoint_ns", "channel", "version", "type", "blob"]),
  writes: columns(["thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx", "channel", "type", "blob"]),
};

/**
 * A page of values bounded by count (in `limited`, which selects `len`) and
 * by bytes (`budget`): a page of 200 values of several MiB each would
 * otherwise arrive in the tool's memory at once. The count limit applies
 * first, so the running sum only ever covers one page.
 */
function valuePage(limited: string, columns: string, order: string, budget: string): string {
  return `
SELECT ${columns}, fetched FROM (
  SELECT k.*, sum(k.len) OVER (ORDER BY ${order.split(", ").map((c) => `k.${c}`).join(", ")} ROWS UNBOUNDED PRECEDING) - k.len AS before,
         count(*) OVER ()::int AS fetched
  FROM (${limited}) k
) p
WHERE p.before < ${budget}
ORDER BY ${order}`;
}

/** A checkpoint's `channel_versions`, or `{}` when a damaged row holds something else (so a scan never fails on it). */
function versionsOf(alias: string): string {
  return `(CASE WHEN jsonb_typeof(${alias}.checkpoint -> 'channel_versions') = 'object'
                THEN ${alias}.checkpoint -> 'channel_versions' ELSE '{}'::jsonb END)`;
}

export type InspectStatements = ReturnType<typeof buildInspectStatements>;

export interface ThreadRow {
  thread_id: string;
  status: "idle" | "interrupted" | "failed";
  checkpoints: number;
  namespaces: string[];
  newest_id: string;
  /** Threads matching the status filter, before the limit. */
  matching: number;
  last_update: string | null;
  /** bigint, as text. */
  bytes: string;
}

export interface HistoryRow {
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  ts: string | null;
  step: unknown;
  source: string | null;
  channels: string[];
  /** [task id, channel, idx, type, base64 value or null] per pending write. */
  writes: Array<[string, string, number, string | null, string | null]> | null;
}

export interface MissingBlobRow {
  checkpoint_ns: string;
  checkpoint_id: string;
  channel: string;
  version: string;
}

export interface MissingParentRow {
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string;
}

export interface BlobRow {
  /** Rows the page's count limit let through (see `valuePage`). */
  fetched: number;
  checkpoint_ns: string;
  channel: string;
  version: string;
  type: string;
  blob: Uint8Array | null;
}

export interface MetadataRow {
  /** Rows the page's count limit let through (see `valuePage`). */
  fetched: number;
  checkpoint_ns: string;
  checkpoint_id: string;
  /** As stored (JSON text). */
  metadata: string;
}

export interface WriteRow {
  /** Rows the page's count limit let through (see `valuePage`). */
  fetched: number;
  checkpoint_ns: string;
  checkpoint_id: string;
  task_id: string;
  idx: number;
  channel: string;
  type: string | null;
  blob: Uint8Array | null;
}
