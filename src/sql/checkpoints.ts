/**
 * The statements of the checkpoint API (`put`, `putWrites`, `getTuple`,
 * `list`, `deleteThread`, `getDeltaChannelHistory`), built once per schema.
 *
 * Each saver operation is exactly one of these statements, so each costs one
 * round trip and is atomic without BEGIN/COMMIT (a data-modifying CTE is one
 * statement).
 */
import type { Tables } from "./tables.js";
import { listPageStatements, oneTuple } from "./tuples.js";
import { WRITES_ORDER, valueChain } from "./value-chain.js";

/** Channel name LangGraph uses for `Send` packets (pending sends). */
const TASKS_CHANNEL = "__pregel_tasks";

/** The INSERT of a put's blobs ($3–$8 of `put`), `where` deciding whether it runs. */
function insertBlobs(t: Tables, where: string, returning = ""): string {
  return `
  INSERT INTO ${t.blobs} (thread_id, checkpoint_ns, channel, version, type, blob)
  -- The version as the checkpoint document spells it, which is what reads join on
  -- (JS and Postgres can print the same number differently, e.g. 1e21).
  SELECT $1, $2, b.channel, COALESCE($11::jsonb -> 'channel_versions' ->> b.channel, b.version), b.type,
         CASE WHEN b.len < 0 THEN NULL ELSE substring($8::bytea FROM b.off + 1 FOR b.len) END
  FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::int[]) AS b(channel, version, type, off, len)
  ${where}
  ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
  ${returning}
`;
}

/**
 * The whole ancestor walk of `getDeltaChannelHistory` in one statement.
 * `chain` follows parent ids up from the target's parent; `wanted` holds the
 * channels still looking for a seed when a checkpoint is reached, and the
 * walk stops once every channel found one. Result rows: each channel's
 * seed blob, then the writes to wanted channels, oldest first and in
 * `writesSortKey` order within a checkpoint. `target` finds the checkpoint
 * ($1 thread, $2 namespace, …), `channels` is the parameter of the channels.
 */
function deltaHistory(t: Tables, target: string, channels: string): string {
  return `
WITH RECURSIVE target AS (
  SELECT parent_checkpoint_id FROM ${t.checkpoints}
  ${target}
), chain AS (
  SELECT c.checkpoint_id, c.parent_checkpoint_id, c.checkpoint, 1 AS depth, ${channels}::text[] AS wanted
  FROM target JOIN ${t.checkpoints} c
    ON c.thread_id = $1 AND c.checkpoint_ns = $2 AND c.checkpoint_id = target.parent_checkpoint_id
  UNION ALL
  SELECT c.checkpoint_id, c.parent_checkpoint_id, c.checkpoint, chain.depth + 1, still.wanted
  FROM chain
  CROSS JOIN LATERAL (
    SELECT ARRAY(
      SELECT ch FROM unnest(chain.wanted) AS ch
      WHERE NOT EXISTS (
        SELECT 1 FROM ${t.blobs} b
        WHERE b.thread_id = $1 AND b.checkpoint_ns = $2 AND b.channel = ch
          AND b.version = chain.checkpoint -> 'channel_versions' ->> ch AND b.type <> 'empty')
    ) AS wanted
  ) still
  JOIN ${t.checkpoints} c
    ON c.thread_id = $1 AND c.checkpoint_ns = $2 AND c.checkpoint_id = chain.parent_checkpoint_id
  WHERE cardinality(still.wanted) > 0
)
SELECT * FROM (
SELECT 'seed' AS kind, chain.depth, ch AS channel, NULL::text AS task_id, NULL::text AS task_path,
       NULL::int AS idx, b.type, b.blob, b.version, b.hop
FROM chain CROSS JOIN LATERAL unnest(chain.wanted) AS ch
CROSS JOIN LATERAL (${valueChain(t, "$1", "$2", "ch", "chain.checkpoint -> 'channel_versions' ->> ch")}) b
WHERE b.type <> 'empty'
UNION ALL
SELECT 'write', chain.depth, w.channel, w.task_id, w.task_path, w.idx, w.type, w.blob, NULL, NULL
FROM chain JOIN ${t.writes} w
  ON w.thread_id = $1 AND w.checkpoint_ns = $2 AND w.checkpoint_id = chain.checkpoint_id
 AND w.channel = ANY (chain.wanted)
) history
ORDER BY kind, depth DESC, channel, hop, task_path COLLATE "C", task_id COLLATE "C", idx`;
}

export function buildStatements(t: Tables) {
  return {
    /** The newest checkpoint of a thread's namespace: $1 thread, $2 namespace. */
    getTupleLatest: oneTuple(
      t,
      `SELECT * FROM ${t.checkpoints}
       WHERE thread_id = $1 AND checkpoint_ns = $2
       ORDER BY checkpoint_id DESC LIMIT 1`,
    ),

    /** One checkpoint: $1 thread, $2 namespace, $3 checkpoint id. */
    getTupleById: oneTuple(
      t,
      `SELECT * FROM ${t.checkpoints}
       WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3`,
    ),

    /** One page of `list()`: its statement text (one per combination of filters) and values. */
    listPage: listPageStatements(t),

    /**
     * Blobs and checkpoint in one statement. Blob bytes travel as one binary
     * parameter ($8) sliced by offset/length: a bytea[] parameter would be sent
     * as hex text, doubling the bytes on the wire. Blobs are immutable per
     * (channel, version), so a replay inserts nothing new.
     */
    put: `
WITH new_blobs AS (${insertBlobs(t, "")})
INSERT INTO ${t.checkpoints} (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
VALUES ($1, $2, $9, $10, $11::jsonb, $12::jsonb)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata`,

    /**
     * `put` for a saver that stores deltas: the same, returning a row for
     * each channel whose value row it inserted (the blob insert is the main
     * statement, so no subquery collects them). Only those are remembered as bases: a row that
     * already existed may hold other bytes (the same version written by
     * another branch), and a delta against bytes that were never stored
     * could not be read.
     */
    putReturningInserted: `
WITH new_checkpoint AS (
  INSERT INTO ${t.checkpoints} (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
  VALUES ($1, $2, $9, $10, $11::jsonb, $12::jsonb)
  ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
  DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
)
${insertBlobs(t, "", "RETURNING channel")}`,

    /**
     * `put` when some values are deltas ($13 channels, $14 base versions,
     * which extend values the saver remembers): if one of those bases no
     * longer exists (pruned, or the thread deleted and written anew since),
     * nothing is written and no row is returned, and the saver sends the
     * checkpoint again with full values. A separate statement, so that puts
     * without deltas do not plan the check.
     */
    putWithDeltas: `
WITH missing_base AS (
  SELECT 1 FROM unnest($13::text[], $14::text[]) AS d(channel, version)
  WHERE NOT EXISTS (
    SELECT 1 FROM ${t.blobs} b
    WHERE b.thread_id = $1 AND b.checkpoint_ns = $2 AND b.channel = d.channel AND b.version = d.version)
  LIMIT 1
), new_blobs AS (${insertBlobs(t, "WHERE NOT EXISTS (SELECT 1 FROM missing_base)", "RETURNING channel")})
INSERT INTO ${t.checkpoints} (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
SELECT $1, $2, $9, $10, $11::jsonb, $12::jsonb
WHERE NOT EXISTS (SELECT 1 FROM missing_base)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
RETURNING (SELECT coalesce(array_agg(channel), '{}') FROM new_blobs) AS inserted`,

    /**
     * All writes of one task in one statement. Special writes (negative idx:
     * __error__, __interrupt__, ...) overwrite, as in the official savers;
     * regular writes never do, so a replay changes nothing.
     */
    putWrites: `
INSERT INTO ${t.writes} (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
SELECT $1, $2, $3, $4, $5, w.idx, w.channel, w.type, substring($11::bytea FROM w.off + 1 FOR w.len)
FROM unnest($6::int[], $7::text[], $8::text[], $9::int[], $10::int[]) AS w(idx, channel, type, off, len)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob, task_path = EXCLUDED.task_path
WHERE EXCLUDED.idx < 0`,

    /** The rows of one stored value and of its delta chain: $1 thread, $2 namespace, $3 channel, $4 version. */
    valueRows: `SELECT * FROM (${valueChain(t, "$1", "$2", "$3", "$4")}) value_rows ORDER BY hop`,

    /**
     * Copies thread $1 whole (every namespace, checkpoint, value and pending
     * write, under the same ids) to thread $2, in one statement: all of it or
     * nothing. Nothing is copied when $2 already has a checkpoint; `target_exists`
     * says so. Counts what was copied.
     */
    copyThread: `
WITH target AS (SELECT EXISTS (SELECT 1 FROM ${t.checkpoints} WHERE thread_id = $2) AS target_exists),
     cps AS (
  INSERT INTO ${t.checkpoints} (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
  SELECT $2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata
  FROM ${t.checkpoints} WHERE thread_id = $1 AND NOT (SELECT target_exists FROM target)
  RETURNING 1
), blobs AS (
  INSERT INTO ${t.blobs} (thread_id, checkpoint_ns, channel, version, type, blob)
  SELECT $2, checkpoint_ns, channel, version, type, blob
  FROM ${t.blobs} WHERE thread_id = $1 AND NOT (SELECT target_exists FROM target)
  RETURNING 1
), writes AS (
  INSERT INTO ${t.writes} (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
  SELECT $2, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob
  FROM ${t.writes} WHERE thread_id = $1 AND NOT (SELECT target_exists FROM target)
  RETURNING 1
)
SELECT (SELECT target_exists FROM target) AS target_exists,
       (SELECT count(*) FROM cps)::int AS checkpoints,
       (SELECT count(*) FROM blobs)::int AS blobs,
       (SELECT count(*) FROM writes)::int AS writes`,

    deleteThread: `
WITH deleted_blobs AS (DELETE FROM ${t.blobs} WHERE thread_id = $1),
     deleted_writes AS (DELETE FROM ${t.writes} WHERE thread_id = $1)
DELETE FROM ${t.checkpoints} WHERE thread_id = $1`,

    /**
     * Checkpoints written before format v4 kept their pending sends as writes
     * on the parent checkpoint's TASKS channel. $1, $2, $3: thread, namespace
     * and parent id of each such checkpoint in a result.
     */
    legacySends: `
SELECT s.thread_id, s.checkpoint_ns, s.checkpoint_id,
       json_agg(json_build_array(s.type, octet_length(s.blob)) ORDER BY ${WRITES_ORDER}) AS send_index,
       string_agg(s.blob, ''::bytea ORDER BY ${WRITES_ORDER}) AS send_data
FROM ${t.writes} s
JOIN unnest($1::text[], $2::text[], $3::text[]) AS p(thread_id, checkpoint_ns, checkpoint_id)
  ON s.thread_id = p.thread_id AND s.checkpoint_ns = p.checkpoint_ns AND s.checkpoint_id = p.checkpoint_id
WHERE s.channel = '${TASKS_CHANNEL}'
GROUP BY s.thread_id, s.checkpoint_ns, s.checkpoint_id`,

    /** `getDeltaChannelHistory` from the newest checkpoint: $1 thread, $2 namespace, $3 channels. */
    deltaHistoryLatest: deltaHistory(t, "WHERE thread_id = $1 AND checkpoint_ns = $2 ORDER BY checkpoint_id DESC LIMIT 1", "$3"),

    /** `getDeltaChannelHistory` from one checkpoint: $1 thread, $2 namespace, $3 checkpoint id, $4 channels. */
    deltaHistoryById: deltaHistory(t, "WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3", "$4"),
  };
}

export type Statements = ReturnType<typeof buildStatements>;

/** A row of `valueRows`. */
export interface ValueRow {
  version: string;
  type: string;
  blob: Uint8Array | null;
  hop: number;
}

/** A row of `legacySends`: the sends stored on one parent checkpoint. */
export interface LegacySendsRow {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  send_index: Array<[string, number | null]>;
  send_data: Uint8Array | null;
}

/** A row of `deltaHistoryLatest` / `deltaHistoryById`: a seed's rows come first (its value, then its delta chain, if any), then the writes. */
export interface DeltaHistoryRow {
  kind: "seed" | "write";
  depth: number;
  channel: string;
  task_id: string | null;
  /** A write's idx; NULL for seeds. */
  idx: number | null;
  type: string;
  blob: Uint8Array | null;
  /** A seed row's channel version; NULL for writes. */
  version: string | null;
  /** A seed row's place in its value's chain (0: the value itself); NULL for writes. */
  hop: number | null;
}
