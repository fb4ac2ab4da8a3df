/**
 * The statements that read checkpoint tuples: `getTuple` (one checkpoint)
 * and `list` (a page), and the shape of their rows (`TupleRow`).
 */
import type { Tables } from "./tables.js";
import { WRITES_ORDER, valueChain } from "./value-chain.js";

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
  SELECT json_agg(json_build_array(w.task_id, w.channel, w.type, octet_length(w.blob), w.idx) ORDER BY ${WRITES_ORDER}) AS write_index,
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
export function oneTuple(t: Tables, row: string): string {
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
export function listPageStatements(t: Tables) {
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
  /** [task id, channel, type, byte length, idx] per pending write, in LangGraph's order. */
  write_index: Array<[string, string, string, number | null, number]> | null;
  write_data: Uint8Array | null;
  /** [type, byte length] per pending send of a pre-v4 checkpoint; set from `legacySends`. */
  send_index?: Array<[string, number | null]> | null;
  send_data?: Uint8Array | null;
}
