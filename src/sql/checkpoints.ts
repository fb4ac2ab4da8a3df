/**
 * The statements of the checkpoint API (`put`, `putWrites`, `getTuple`,
 * `list`, `deleteThread`, `getDeltaChannelHistory`), built once per schema.
 *
 * Each saver operation is exactly one of these statements, so each costs one
 * round trip and is atomic without BEGIN/COMMIT (a data-modifying CTE is one
 * statement).
 */
import { MAX_DELTA_CHAIN } from "../config/payload.js";
import type { Tables } from "./tables.js";

/**
 * Takes the base version out of a delta row's type (POSIX regex, first
 * group): `<type>+delta:<prefix length>:<crc32>:<base version>`, maybe
 * followed by a compaction suffix. The format is codec/delta.ts's; a test
 * checks the two agree. (`[+]`, not a backslash, so the pattern means the
 * same whatever standard_conforming_strings says.)
 */
export const DELTA_BASE_VERSION = "[+]delta:[0-9]+:[0-9a-f]{8}:([0-9A-Za-z._-]+)";

/** Channel name LangGraph uses for `Send` packets (pending sends). */
const TASKS_CHANNEL = "__pregel_tasks";

/**
 * Writes of one checkpoint in `writesSortKey` order: task path, task id, index.
 * COLLATE "C" compares UTF-8 bytes, which is Unicode code point order, the
 * order LangGraph's `compareWritesSortKeys` uses.
 */
const WRITES_ORDER = `task_path COLLATE "C", task_id COLLATE "C", idx`;

/**
 * The stored rows of one channel value: the row of (channel, version),
 * then, while a row is a delta (see codec/delta.ts), the row of its base
 * version, down to the full value the chain ends at: one primary-key probe
 * per row, at most MAX_DELTA_CHAIN hops (a corrupt chain that loops stops
 * there, and the reader reports it). `version` etc. are SQL expressions.
 *
 * Every step is a primary-key probe: as a plain join the planner would scan
 * or hash every blob of the thread's channel (it cannot see how few rows a
 * chain has), so reads would slow down as a thread grows; a LATERAL
 * subquery with LIMIT 1 keeps each step a probe (the key is unique).
 */
function valueChain(t: Tables, threadId: string, ns: string, channel: string, version: string): string {
  const row = `b.version, b.type, b.blob, substring(b.type FROM '${DELTA_BASE_VERSION}') AS base`;
  return `
    WITH RECURSIVE value_rows AS (
      (SELECT ${row}, 0 AS hop FROM ${t.blobs} b
       WHERE b.thread_id = ${threadId} AND b.checkpoint_ns = ${ns} AND b.channel = ${channel} AND b.version = ${version}
       LIMIT 1)
      UNION ALL
      SELECT base_row.*, value_rows.hop + 1 FROM value_rows
      CROSS JOIN LATERAL (
        SELECT ${row} FROM ${t.blobs} b
        WHERE b.thread_id = ${threadId} AND b.checkpoint_ns = ${ns} AND b.channel = ${channel} AND b.version = value_rows.base
        LIMIT 1
      ) base_row
      WHERE value_rows.base IS NOT NULL AND value_rows.hop < ${MAX_DELTA_CHAIN}
    )
    SELECT version, type, blob, hop FROM value_rows`;
}

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
 * The columns of a checkpoint tuple (see `TupleRow`): the checkpoint row,
 * its pending writes, and the stored values it references as an index
 * (`value_index`) and one bytea (`value_data`), each value followed by the
 * rows of its delta chain, if it is a delta.
 *
 * Each group of blobs comes back as one bytea (the blobs concatenated) and a
 * JSON index of what is in it (see `unpackBlobs`): a bytea[] column arrives
 * as a text array literal that costs node-postgres several microseconds per
 * element to parse, which made a checkpoint with 2,000 pending writes take
 * 12 ms on the client alone. (Pending sends of pre-v4 checkpoints are
 * fetched by `legacySends`, only when such a row comes back: a third lateral
 * join for them cost every read about 0.14 ms of planning.)
 */
const TUPLE_COLUMNS = `cp.thread_id, cp.checkpoint_ns, cp.checkpoint_id, cp.parent_checkpoint_id,
       cp.checkpoint, cp.metadata::text AS metadata`;

/**
 * The value index entry of stored row `b` of a value: the ordinals of the
 * result rows that hold the value (a JSON array; SQL expression `rows`), its
 * channel, then the row's type, byte length, version and hop.
 */
function valueEntry(rows: string, channel: string): string {
  return `json_build_array(${rows}, ${channel}, b.type, octet_length(b.blob), b.version, b.hop)`;
}

/**
 * The pending writes of checkpoint `cp`, in `writesSortKey` order: a probe
 * per checkpoint. (One join for a whole page was measured too: the planner
 * then hashes the writes table, which on a table of 14,000 writes made a
 * list page 3 times slower than these probes.)
 */
function writesOf(t: Tables): string {
  return `
LEFT JOIN LATERAL (
  SELECT json_agg(json_build_array(w.task_id, w.channel, w.type, octet_length(w.blob)) ORDER BY ${WRITES_ORDER}) AS write_index,
         string_agg(w.blob, ''::bytea ORDER BY ${WRITES_ORDER}) AS write_data
  FROM ${t.writes} w
  WHERE w.thread_id = cp.thread_id AND w.checkpoint_ns = cp.checkpoint_ns AND w.checkpoint_id = cp.checkpoint_id
) wr ON true`;
}

/**
 * The tuple of the one checkpoint `row` finds (at most one row). The
 * smallest statement that reads a tuple: `getTuple` is the read every graph
 * step makes, and an unprepared statement (behind a pooler that keeps no
 * prepared statements) pays for planning every join it has.
 */
function oneTuple(t: Tables, row: string): string {
  return `
SELECT ${TUPLE_COLUMNS},
       bl.value_index, bl.value_data, wr.write_index, wr.write_data
FROM (${row}) cp
LEFT JOIN LATERAL (
  SELECT json_agg(${valueEntry("json_build_array(1)", "v.key")}) AS value_index,
         string_agg(b.blob, ''::bytea) AS value_data
  FROM jsonb_each_text(cp.checkpoint -> 'channel_versions') v
  CROSS JOIN LATERAL (${valueChain(t, "cp.thread_id", "cp.checkpoint_ns", "v.key", "v.value")}) b
  WHERE b.type <> 'empty'
) bl ON true${writesOf(t)}`;
}

/** `list()`'s order: newest first, ties (across threads and namespaces) broken by thread and namespace. */
const LIST_ORDER = "checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC";

/**
 * The tuples of the checkpoints `page` returns (a query that has already
 * filtered, ordered and limited them, so the rest runs only for rows that
 * are returned), in its order. A stored value comes once per page, however
 * many of its checkpoints hold it (a channel that did not change between
 * checkpoints keeps its version): a value comes with the first row that
 * holds it, with the ordinals of every row that does. (Not all on one row:
 * node-postgres reads a column as one string, which V8 caps at about 512 MB
 * of hex, so a page's values together must not become one column.)
 */
function tuplePage(t: Tables, page: string): string {
  return `
WITH page AS (
  SELECT c.*, row_number() OVER (ORDER BY ${LIST_ORDER}) AS ordinal FROM (${page}) c
), page_values AS (
  SELECT r.first, json_agg(${valueEntry("r.rows", "r.channel")}) AS value_index,
         string_agg(b.blob, ''::bytea) AS value_data
  FROM (SELECT p.thread_id, p.checkpoint_ns, v.key AS channel, v.value AS version,
               json_agg(p.ordinal) AS rows, min(p.ordinal) AS first
        FROM page p CROSS JOIN LATERAL jsonb_each_text(p.checkpoint -> 'channel_versions') v
        GROUP BY p.thread_id, p.checkpoint_ns, v.key, v.value) r
  CROSS JOIN LATERAL (${valueChain(t, "r.thread_id", "r.checkpoint_ns", "r.channel", "r.version")}) b
  WHERE b.type <> 'empty'
  GROUP BY r.first
)
SELECT ${TUPLE_COLUMNS},
       pv.value_index, pv.value_data, wr.write_index, wr.write_data
FROM page cp
LEFT JOIN page_values pv ON pv.first = cp.ordinal${writesOf(t)}
ORDER BY cp.ordinal`;
}

/** What one page of `list()` asks for; null: no such filter. */
export interface ListPageQuery {
  threadId: string | null;
  ns: string | null;
  checkpointId: string | null;
  /** The metadata filter as stored JSON text (`metadata @> filter`). */
  filter: string | null;
  before: string | null;
  /** (checkpoint_id, thread_id, checkpoint_ns) of the previous page's last row. */
  cursor: [string, string, string] | null;
  limit: number;
}

/**
 * One statement per combination of filters `list()` uses, each naming only
 * the conditions it needs: a prepared statement's cached (generic) plan
 * cannot fold away a `$n IS NULL OR …` condition, so with one statement for
 * every case a lookup by id would walk the thread instead of seeking to it.
 * At most 2^6 texts per schema, built when first used.
 */
function listPageStatements(t: Tables) {
  const texts = new Map<string, string>();
  return (query: ListPageQuery): { text: string; values: unknown[] } => {
    const values: unknown[] = [];
    const param = (value: unknown, cast = "text") => {
      values.push(value);
      return `$${values.length}::${cast}`;
    };
    const conditions: string[] = [];
    if (query.threadId !== null) conditions.push(`thread_id = ${param(query.threadId)}`);
    if (query.ns !== null) conditions.push(`checkpoint_ns = ${param(query.ns)}`);
    if (query.checkpointId !== null) conditions.push(`checkpoint_id = ${param(query.checkpointId)}`);
    if (query.filter !== null) conditions.push(`metadata @> ${param(query.filter, "jsonb")}`);
    if (query.before !== null) conditions.push(`checkpoint_id < ${param(query.before)}`);
    if (query.cursor !== null) {
      // Keyset pagination; `checkpoint_id <= …` lets the primary key index seek
      // straight to the cursor instead of rescanning earlier pages.
      const [id, thread, ns] = query.cursor.map((value) => param(value));
      conditions.push(`checkpoint_id <= ${id} AND (checkpoint_id, thread_id, checkpoint_ns) < (${id}, ${thread}, ${ns})`);
    }
    const limit = param(query.limit, "int");
    const key = conditions.join(" AND ");
    let text = texts.get(key);
    if (text === undefined) {
      text = tuplePage(
        t,
        `SELECT * FROM ${t.checkpoints}
         ${conditions.length === 0 ? "" : `WHERE ${conditions.join("\n           AND ")}`}
         ORDER BY ${LIST_ORDER}
         LIMIT ${limit}`,
      );
      texts.set(key, text);
    }
    return { text, values };
  };
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

/** A row of `getTupleLatest`, `getTupleById` or `listPage`. Aggregated arrays are NULL when empty. */
export interface TupleRow {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  checkpoint: Record<string, unknown>;
  /** JSON text (selected as text so it reaches the serializer unparsed). */
  metadata: string;
  /**
   * The values this row is the first of the result to hold: [ordinals of
   * the rows (from 1) that hold it, channel, type, byte length or null,
   * version, hop] per stored row, in `value_data` order: a value (hop 0)
   * and, for a delta, the rows of its chain (hop 1, 2, …).
   */
  value_index: Array<[number[], string, string, number | null, string, number]> | null;
  value_data: Uint8Array | null;
  /** [task id, channel, type, byte length] per pending write, in `writesSortKey` order. */
  write_index: Array<[string, string, string, number | null]> | null;
  write_data: Uint8Array | null;
  /** [type, byte length] per pending send of a pre-v4 checkpoint; set from `legacySends`. */
  send_index?: Array<[string, number | null]> | null;
  send_data?: Uint8Array | null;
}

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
  type: string;
  blob: Uint8Array | null;
  /** A seed row's channel version; NULL for writes. */
  version: string | null;
  /** A seed row's place in its value's chain (0: the value itself); NULL for writes. */
  hop: number | null;
}
