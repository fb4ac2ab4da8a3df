/**
 * How reads reach a stored channel value: the rows of its delta chain, and
 * the order of a checkpoint's pending writes. Shared by every statement that
 * reads values (tuples, `getDeltaChannelHistory`, retention).
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

/**
 * Writes of one checkpoint in `writesSortKey` order: task path, task id, index.
 * COLLATE "C" compares UTF-8 bytes, which is Unicode code point order, the
 * order LangGraph's `compareWritesSortKeys` uses.
 */
export const WRITES_ORDER = `task_path COLLATE "C", task_id COLLATE "C", idx`;

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
export function valueChain(t: Tables, threadId: string, ns: string, channel: string, version: string): string {
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
