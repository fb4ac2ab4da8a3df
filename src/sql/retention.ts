import { DELTA_BASE_VERSION } from "./value-chain.js";
import type { Tables } from "./tables.js";

/** LangGraph's TASKS channel: where checkpoints before format v4 kept their pending sends. */
const TASKS_CHANNEL = "__pregel_tasks";

/**
 * The statements of `prune()`. Each is one short transaction on its own
 * (PgBouncer-safe: no session state), and each deletes at most one batch,
 * so a prune of a huge table never holds row locks for long.
 *
 * Channel values are shared: a checkpoint names a version of each channel
 * in `checkpoint -> 'channel_versions'`, and unchanged channels keep naming
 * the version an older checkpoint stored. So values are never deleted with a
 * checkpoint, only afterwards, when no remaining checkpoint of the thread
 * namespace names them (`referencedValues`, `valuePage`, `deleteValues`),
 * which also keeps every value a graph writing at the same time can reach.
 */
/**
 * A recursive CTE `name`: the (channel, version) pairs of `from`, and the
 * base of every delta among them, down each chain (see codec/delta.ts):
 * a value stored as a delta needs its bases as much as itself. UNION drops
 * repeats, so even a corrupt chain that loops ends.
 */
function withBases(t: Tables, name: string, from: string, threadId: string, ns: string): string {
  return `${name} AS (
  SELECT channel, version FROM ${from}
  UNION
  SELECT ${name}.channel, base_row.base FROM ${name}
  CROSS JOIN LATERAL (
    SELECT substring(b.type FROM '${DELTA_BASE_VERSION}') AS base FROM ${t.blobs} b
    WHERE b.thread_id = ${threadId} AND b.checkpoint_ns = ${ns} AND b.channel = ${name}.channel AND b.version = ${name}.version
    LIMIT 1
  ) base_row
  WHERE base_row.base IS NOT NULL
)`;
}

export function buildRetentionStatements(t: Tables) {
  return {
    /**
     * The threads, and their namespaces, with a checkpoint whose metadata
     * `run_id` is one of $1 (`deleteForRuns`). Metadata has no index of its
     * own (the official schema's), so this reads the table once.
     */
    threadsOfRuns: `
SELECT thread_id, array_agg(DISTINCT checkpoint_ns ORDER BY checkpoint_ns) AS namespaces
FROM ${t.checkpoints}
WHERE metadata ->> 'run_id' = ANY ($1::text[])
GROUP BY thread_id
ORDER BY thread_id`,

    /**
     * A page of threads in id order, with checkpoints per namespace and the
     * newest checkpoint (by id, as "latest" is picked everywhere) and its
     * timestamp. $1 last thread id of the previous page or NULL, $2 only
     * these threads or NULL, $3 page size. Grouping follows the primary key
     * index, so a page costs its own rows, not a scan of the table.
     */
    threadPage: `
SELECT g.thread_id, sum(g.n)::int AS checkpoints,
       json_agg(json_build_array(g.checkpoint_ns, g.n) ORDER BY g.checkpoint_ns) AS namespaces,
       max(g.newest) AS newest_id,
       (SELECT c.checkpoint ->> 'ts' FROM ${t.checkpoints} c
        WHERE c.thread_id = g.thread_id AND c.checkpoint_id = max(g.newest) LIMIT 1) AS newest_ts
FROM (
  SELECT thread_id, checkpoint_ns, count(*)::int AS n, max(checkpoint_id) AS newest
  FROM ${t.checkpoints}
  WHERE ($1::text IS NULL OR thread_id > $1) AND ($2::text[] IS NULL OR thread_id = ANY ($2))
  GROUP BY thread_id, checkpoint_ns
) g
GROUP BY g.thread_id
ORDER BY g.thread_id
LIMIT $3`,

    /**
     * Every checkpoint of ($1, $2), newest first, as `planPrune` needs it:
     * its parent, the delta channels it rebuilds from ancestors, and which of
     * the thread's delta channels it holds a full value (a seed) for.
     * LangGraph records a delta channel's progress since its last snapshot
     * in the metadata's `counters_since_delta_snapshot`, so a channel listed
     * there is replayed at that checkpoint. A channel without a version was
     * never written, and is skipped when the metadata says so
     * (`delta_writes_versioned`), exactly as LangGraph does on read. A
     * checkpoint before format v4 reads its pending sends from its parent's
     * writes (as `getTuple` does), so it needs a parent that has some.
     */
    skeleton: `
WITH c AS (
  SELECT checkpoint_id, parent_checkpoint_id, checkpoint -> 'channel_versions' AS versions, metadata ->> 'run_id' AS run_id,
         CASE WHEN jsonb_typeof(metadata -> 'counters_since_delta_snapshot') = 'object'
              THEN metadata -> 'counters_since_delta_snapshot' ELSE '{}'::jsonb END AS counters,
         (metadata ->> 'delta_writes_versioned') IS NOT DISTINCT FROM 'true' AS versioned,
         CASE WHEN jsonb_typeof(checkpoint -> 'v') = 'number' THEN (checkpoint ->> 'v')::numeric < 4 ELSE false END AS legacy
  FROM ${t.checkpoints}
  WHERE thread_id = $1 AND checkpoint_ns = $2
), delta AS (
  SELECT DISTINCT k.channel FROM c CROSS JOIN LATERAL jsonb_object_keys(c.counters) AS k(channel)
)
SELECT c.checkpoint_id AS id, c.parent_checkpoint_id AS parent_id, c.run_id,
       ARRAY(SELECT k.channel FROM jsonb_object_keys(c.counters) AS k(channel)
             WHERE NOT c.versioned OR c.versions ? k.channel) AS replays,
       ARRAY(SELECT d.channel FROM delta d
             WHERE EXISTS (SELECT 1 FROM ${t.blobs} b
                           WHERE b.thread_id = $1 AND b.checkpoint_ns = $2 AND b.channel = d.channel
                             AND b.version = c.versions ->> d.channel AND b.type <> 'empty')) AS seeds,
       c.legacy AND EXISTS (SELECT 1 FROM ${t.writes} w
                            WHERE w.thread_id = $1 AND w.checkpoint_ns = $2
                              AND w.checkpoint_id = c.parent_checkpoint_id AND w.channel = '${TASKS_CHANNEL}') AS sends_on_parent
FROM c
ORDER BY c.checkpoint_id DESC`,

    /**
     * Deletes checkpoints $3 of ($1, $2) with their pending writes, and
     * clears the parent link of kept checkpoints $4 whose parent goes (their
     * history now starts there). $5, when not NULL, is the newest checkpoint
     * id of the thread when it was found idle: if a newer one has appeared
     * since (the thread was resumed), nothing is deleted.
     */
    deleteCheckpoints: `
WITH still_idle AS (
  SELECT $5::text IS NULL OR NOT EXISTS (
    SELECT 1 FROM ${t.checkpoints} WHERE thread_id = $1 AND checkpoint_id > $5) AS ok
), gone AS (
  DELETE FROM ${t.checkpoints}
  WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = ANY ($3::text[]) AND (SELECT ok FROM still_idle)
  RETURNING 1
), gone_writes AS (
  DELETE FROM ${t.writes}
  WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = ANY ($3::text[]) AND (SELECT ok FROM still_idle)
  RETURNING 1
), relinked AS (
  UPDATE ${t.checkpoints} SET parent_checkpoint_id = NULL
  WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = ANY ($4::text[])
    AND parent_checkpoint_id = ANY ($3::text[]) AND (SELECT ok FROM still_idle)
  RETURNING 1
)
SELECT (SELECT ok FROM still_idle) AS idle, (SELECT count(*) FROM gone)::int AS checkpoints,
       (SELECT count(*) FROM gone_writes)::int AS writes, (SELECT count(*) FROM relinked)::int AS relinked`,

    /**
     * The values the checkpoints of ($1, $2) name, except checkpoints $3
     * (for a dry run: those it would delete), and the newest checkpoint id
     * among them: what `deleteValues` re-checks against. The comparison is
     * done by the caller, not by a join here: with statistics from when a
     * thread was small, Postgres picks a nested-loop anti join that takes
     * seconds per batch on a big thread.
     */
    referencedValues: `
WITH RECURSIVE named AS (
  SELECT DISTINCT v.key AS channel, v.value AS version
  FROM ${t.checkpoints} c CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v
  WHERE c.thread_id = $1 AND c.checkpoint_ns = $2 AND c.checkpoint_id NOT IN (SELECT unnest($3::text[]))
), ${withBases(t, "needed", "named", "$1", "$2")}
SELECT (SELECT max(checkpoint_id) FROM ${t.checkpoints} WHERE thread_id = $1 AND checkpoint_ns = $2) AS newest_id,
       (SELECT coalesce(json_agg(json_build_array(r.channel, r.version)), '[]') FROM needed r) AS referenced`,

    /** A page of the values of ($1, $2) in key order after ($3, $4) (NULL: from the start), $5 at most. */
    valuePage: `
SELECT channel, version FROM ${t.blobs}
WHERE thread_id = $1 AND checkpoint_ns = $2 AND ($3::text IS NULL OR (channel, version) > ($3, $4::text))
ORDER BY channel, version
LIMIT $5`,

    /**
     * Deletes values ($3 channels, $4 versions) of ($1, $2) that the caller
     * found unreferenced, unless a checkpoint newer than $5 (written since
     * `referencedValues` looked) names one of them.
     */
    deleteValues: `
WITH RECURSIVE fresh AS (
  SELECT v.key AS channel, v.value AS version
  FROM ${t.checkpoints} c CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v
  WHERE c.thread_id = $1 AND c.checkpoint_ns = $2 AND ($5::text IS NULL OR c.checkpoint_id > $5)
), ${withBases(t, "still_needed", "fresh", "$1", "$2")},
gone AS (
  DELETE FROM ${t.blobs} b USING unnest($3::text[], $4::text[]) AS k(channel, version)
  WHERE b.thread_id = $1 AND b.checkpoint_ns = $2 AND b.channel = k.channel AND b.version = k.version
    AND NOT EXISTS (SELECT 1 FROM still_needed n WHERE n.channel = b.channel AND n.version = b.version)
  RETURNING 1
)
SELECT count(*)::int AS blobs FROM gone`,

    /** Dry run: the writes of checkpoints $3 of ($1, $2). */
    countWrites: `
SELECT count(*)::int AS writes FROM ${t.writes}
WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id IN (SELECT unnest($3::text[]))`,

    /**
     * Deletes whole threads $1 (each small enough for one batch), each only
     * if it is still idle: no checkpoint newer than $2 (its newest id when
     * it was found expired).
     */
    deleteIdleThreads: `
WITH idle AS (
  SELECT t.thread_id FROM unnest($1::text[], $2::text[]) AS t(thread_id, newest)
  WHERE NOT EXISTS (SELECT 1 FROM ${t.checkpoints} c WHERE c.thread_id = t.thread_id AND c.checkpoint_id > t.newest)
), gone_blobs AS (
  DELETE FROM ${t.blobs} WHERE thread_id IN (SELECT thread_id FROM idle) RETURNING 1
), gone_writes AS (
  DELETE FROM ${t.writes} WHERE thread_id IN (SELECT thread_id FROM idle) RETURNING 1
), gone AS (
  DELETE FROM ${t.checkpoints} WHERE thread_id IN (SELECT thread_id FROM idle) RETURNING 1
)
SELECT (SELECT count(*) FROM idle)::int AS threads, (SELECT count(*) FROM gone)::int AS checkpoints,
       (SELECT count(*) FROM gone_writes)::int AS writes, (SELECT count(*) FROM gone_blobs)::int AS blobs`,

    /**
     * Deletes up to $2 writes and up to $2 values of thread $1, once it has no
     * checkpoint left (what a whole-thread deletion leaves after its
     * checkpoints went batch by batch); `empty` is false when it has one
     * again (resumed), and then nothing is deleted.
     */
    deleteThreadLeftovers: `
WITH empty AS (
  SELECT NOT EXISTS (SELECT 1 FROM ${t.checkpoints} WHERE thread_id = $1) AS ok
), gone_writes AS (
  DELETE FROM ${t.writes} w USING (
    SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM ${t.writes}
    WHERE thread_id = $1 AND (SELECT ok FROM empty) LIMIT $2
  ) x
  WHERE w.thread_id = $1 AND w.checkpoint_ns = x.checkpoint_ns AND w.checkpoint_id = x.checkpoint_id
    AND w.task_id = x.task_id AND w.idx = x.idx
  RETURNING 1
), gone_blobs AS (
  DELETE FROM ${t.blobs} b USING (
    SELECT checkpoint_ns, channel, version FROM ${t.blobs}
    WHERE thread_id = $1 AND (SELECT ok FROM empty) LIMIT $2
  ) x
  WHERE b.thread_id = $1 AND b.checkpoint_ns = x.checkpoint_ns AND b.channel = x.channel AND b.version = x.version
  RETURNING 1
)
SELECT (SELECT ok FROM empty) AS empty, (SELECT count(*) FROM gone_writes)::int AS writes,
       (SELECT count(*) FROM gone_blobs)::int AS blobs`,

    /** Dry run of deleting whole threads $1: their rows. */
    countThreads: `
SELECT (SELECT count(*) FROM ${t.checkpoints} WHERE thread_id = ANY ($1::text[]))::int AS checkpoints,
       (SELECT count(*) FROM ${t.writes} WHERE thread_id = ANY ($1::text[]))::int AS writes,
       (SELECT count(*) FROM ${t.blobs} WHERE thread_id = ANY ($1::text[]))::int AS blobs`,
  };
}

export type RetentionStatements = ReturnType<typeof buildRetentionStatements>;

export interface ThreadPageRow {
  thread_id: string;
  checkpoints: number;
  /** [namespace, checkpoints] per namespace. */
  namespaces: Array<[string, number]>;
  newest_id: string;
  newest_ts: string | null;
}

export interface SkeletonRow {
  id: string;
  parent_id: string | null;
  /** The metadata's `run_id` (as text), when it has one. */
  run_id: string | null;
  replays: string[];
  seeds: string[];
  sends_on_parent: boolean;
}

export interface ReferencedValuesRow {
  newest_id: string | null;
  /** [channel, version] pairs. */
  referenced: Array<[string, string]>;
}
