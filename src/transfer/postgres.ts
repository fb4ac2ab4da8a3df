import { compact, expand } from "../codec/compaction.js";
import { unreadableDelta } from "../codec/decode.js";
import { applyDelta, parseDeltaType } from "../codec/delta.js";
import { InvalidInputError, PayloadTooLargeError, ThreadExistsError, ThreadNotFoundError } from "../errors.js";
import { fromStoredJson, hasEscapedNul, toStorableJson } from "../codec/metadata.js";
import type { OperationStats } from "../observe/instrument.js";
import { packBlobs } from "../codec/packing.js";
import type { ExportBlobRow, ExportCheckpointRow, ExportWriteRow } from "../sql/transfer.js";
import type { Database } from "../database.js";
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ImportResult,
  type ThreadExport,
  checkThreadExport,
} from "./document.js";

/** The migration that added `checkpoint_writes.task_path` (the Python saver's v9). */
const TASK_PATH_VERSION = 9;

/**
 * A thread's rows, all from one snapshot, as a `ThreadExport`. Compressed
 * values are inflated (never beyond `maxPayloadBytes`), so the document
 * holds what the serializer wrote and any saver can load it.
 */
export async function exportPostgres(database: Database, threadId: string, stats: OperationStats): Promise<ThreadExport> {
  const sql = database.sql.transfer;
  const [checkpoints, blobs, writes] = await database.transaction(
    "exportThread",
    // One after another: a connection runs one statement at a time.
    async (query) => {
      // A database only the official JS saver has used (schema v4) can be exported without running setup() on it.
      const [{ v } = { v: null }] = await query<{ v: number | null }>(sql.schemaVersion);
      return [
        await query<ExportCheckpointRow>(sql.exportCheckpoints, [threadId]),
        await query<ExportBlobRow>(sql.exportBlobs, [threadId]),
        await query<ExportWriteRow>((v ?? 0) >= TASK_PATH_VERSION ? sql.exportWrites : sql.exportWritesBeforeV9, [threadId]),
      ] as const;
    },
    { readOnly: true },
    stats,
  );
  if (checkpoints.length === 0) throw new ThreadNotFoundError("exportThread", threadId);
  stats.rows = checkpoints.length + blobs.length + writes.length;
  const { maxPayloadBytes } = database.options;
  const expanded = async (type: string, blob: Uint8Array): Promise<[string, Uint8Array]> => {
    stats.storedBytes += blob.byteLength;
    // One at a time: a hostile row inflates to at most maxPayloadBytes, once.
    const [raw, bytes] = await expand(type, blob, maxPayloadBytes);
    stats.rawBytes += bytes.byteLength;
    return [raw, bytes];
  };
  const inflate = async (type: string, blob: Uint8Array): Promise<[string, string]> => {
    const [raw, bytes] = await expanded(type, blob);
    return [raw, base64(bytes)];
  };
  const wholeValue = wholeValues(threadId, blobs, expanded, maxPayloadBytes);
  // Blob rows spell a numeric version as Postgres prints it; the document spells it as JavaScript does.
  const spelled = new Map<string, string>();
  for (const row of checkpoints) {
    const versions = (row.checkpoint.channel_versions ?? {}) as Record<string, unknown>;
    for (const [channel, text] of Object.entries(row.version_texts ?? {})) {
      const version = Object.hasOwn(versions, channel) ? versions[channel] : undefined;
      if (typeof version === "number") spelled.set(blobKey(row.checkpoint_ns, channel, text), String(version));
    }
  }
  const doc: ThreadExport = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    thread_id: threadId,
    exported_at: new Date().toISOString(),
    counts: { checkpoints: checkpoints.length, blobs: blobs.length, writes: writes.length },
    checkpoints: checkpoints.map((row) => ({
      checkpoint_ns: row.checkpoint_ns,
      checkpoint_id: row.checkpoint_id,
      parent_checkpoint_id: row.parent_checkpoint_id,
      checkpoint: row.checkpoint,
      metadata: JSON.parse(fromStoredJson(row.metadata)) as Record<string, unknown>,
    })),
    blobs: [],
    writes: [],
  };
  for (const row of blobs) {
    // Values stored as deltas are exported whole, so the document stays portable.
    const [type, bytes] = row.blob === null ? [row.type, null] : await wholeValue(row);
    const data = bytes === null ? null : base64(bytes);
    const version = spelled.get(blobKey(row.checkpoint_ns, row.channel, row.version)) ?? row.version;
    doc.blobs.push({ checkpoint_ns: row.checkpoint_ns, channel: row.channel, version, type, data });
  }
  for (const row of writes) {
    const [type, data] = await inflate(row.type ?? "json", row.blob);
    const { checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel } = row;
    doc.writes.push({ checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, data });
  }
  return doc;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * Each channel value of an export, whole: a delta is rebuilt from its
 * base's whole value, which is computed once however many deltas extend it.
 */
function wholeValues(
  threadId: string,
  rows: readonly ExportBlobRow[],
  expanded: (type: string, blob: Uint8Array) => Promise<[string, Uint8Array]>,
  maxPayloadBytes: number,
): (row: ExportBlobRow) => Promise<[string, Uint8Array]> {
  const byKey = new Map(rows.map((row) => [blobKey(row.checkpoint_ns, row.channel, row.version), row]));
  const done = new Map<ExportBlobRow, Promise<[string, Uint8Array]>>();
  // The rows being rebuilt, base below delta: one seen again is a loop.
  const path: ExportBlobRow[] = [];
  const whole = async (row: ExportBlobRow): Promise<[string, Uint8Array]> => {
    if (path.includes(row)) {
      throw unreadableDelta(
        { threadId, checkpointNs: row.checkpoint_ns, part: "value", channel: row.channel, version: row.version },
        "its chain of bases loops back to it",
      );
    }
    let value = done.get(row);
    if (value === undefined) {
      path.push(row);
      value = rebuildRow(row).finally(() => path.pop());
      done.set(row, value);
    }
    return value;
  };
  const rebuildRow = async (row: ExportBlobRow): Promise<[string, Uint8Array]> => {
    const [type, bytes] = await expanded(row.type, row.blob!);
    const delta = parseDeltaType(type);
    if (delta === undefined) return [type, bytes];
    const where = { threadId, checkpointNs: row.checkpoint_ns, part: "value" as const, channel: row.channel, version: row.version };
    const baseRow = byKey.get(blobKey(row.checkpoint_ns, row.channel, delta.baseVersion));
    if (baseRow === undefined || baseRow.blob === null) throw unreadableDelta(where, `its base version ${delta.baseVersion} is missing`);
    const [baseType, base] = await whole(baseRow);
    if (baseType !== delta.type) throw unreadableDelta(where, `its base version ${delta.baseVersion} holds a ${baseType} value, not ${delta.type}`);
    if (delta.prefixLength + bytes.byteLength > maxPayloadBytes) {
      throw new PayloadTooLargeError(`a stored value rebuilds to more than maxPayloadBytes (${maxPayloadBytes})`, maxPayloadBytes);
    }
    const value = applyDelta(base, delta, bytes);
    if (value === undefined) throw unreadableDelta(where, `what its chain rebuilds does not match its checksum`);
    return [delta.type, value];
  };
  return whole;
}

/**
 * Most bytes of values sent in one statement. Postgres takes up to 1 GiB
 * per parameter; staying far below keeps each statement's memory modest on
 * both ends, while a typical thread still goes in one statement per table.
 */
const CHUNK_BYTES = 32 * 1024 * 1024;

/**
 * `doc` into this saver's database, in one transaction: all of it or none of it.
 * Values are compacted with this saver's settings; rows that already exist
 * are left as they are.
 */
export async function importPostgres(database: Database, value: unknown, stats: OperationStats): Promise<ImportResult> {
  const doc = checkThreadExport(value);
  const threadId = doc.thread_id;
  const sql = database.sql.transfer;
  // Everything is encoded before a connection is taken, and any refusal happens before a byte is written.
  const checkpoints = doc.checkpoints.map((cp, i) => [
    cp.checkpoint_ns,
    cp.checkpoint_id,
    cp.parent_checkpoint_id,
    checkpointJson(cp.checkpoint, i),
    toStorableJson(JSON.stringify(cp.metadata)),
  ] as const);
  const numeric = new Set<string>();
  for (const cp of doc.checkpoints) {
    for (const [channel, version] of Object.entries(cp.checkpoint.channel_versions ?? {})) {
      if (typeof version === "number") numeric.add(blobKey(cp.checkpoint_ns, channel, String(version)));
    }
  }
  const blobs = await Promise.all(doc.blobs.map(async (b) => {
    const stored = b.data === null ? null : await storedValue(database, b.type, b.data, stats);
    return {
      ns: b.checkpoint_ns, channel: b.channel, version: b.version, numeric: numeric.has(blobKey(b.checkpoint_ns, b.channel, b.version)),
      type: stored?.[0] ?? b.type, bytes: stored?.[1] ?? null,
    };
  }));
  const writes = await Promise.all(doc.writes.map(async (w) => {
    const [type, bytes] = await storedValue(database, w.type, w.data, stats);
    return { ...w, type, bytes };
  }));
  stats.rows = checkpoints.length + blobs.length + writes.length;

  const imported = await database.transaction("importThread", async (query) => {
    const count = async (text: string, values: unknown[]) => (await query(text, values)).length;
    let checkpointsIn = 0;
    for (const part of chunks(checkpoints, (c) => c[3].length + c[4].length)) {
      checkpointsIn += await count(sql.importCheckpoints, [threadId, ...columns(part, 5)]);
    }
    let blobsIn = 0;
    for (const part of chunks(blobs, (b) => b.bytes?.byteLength ?? 0)) {
      const packed = packBlobs(part.map((b) => b.bytes));
      blobsIn += await count(sql.importBlobs, [
        threadId, part.map((b) => b.ns), part.map((b) => b.channel), part.map((b) => b.version), part.map((b) => b.numeric),
        part.map((b) => b.type), packed.offsets, packed.lengths, packed.data,
      ]);
    }
    let writesIn = 0;
    for (const part of chunks(writes, (w) => w.bytes.byteLength)) {
      const packed = packBlobs(part.map((w) => w.bytes));
      writesIn += await count(sql.importWrites, [
        threadId, part.map((w) => w.checkpoint_ns), part.map((w) => w.checkpoint_id), part.map((w) => w.task_id),
        part.map((w) => w.task_path), part.map((w) => w.idx), part.map((w) => w.channel), part.map((w) => w.type),
        packed.offsets, packed.lengths, packed.data,
      ]);
    }
    return { checkpoints: checkpointsIn, blobs: blobsIn, writes: writesIn };
  }, {}, stats);
  return {
    thread_id: threadId,
    imported,
    skipped: {
      checkpoints: checkpoints.length - imported.checkpoints,
      blobs: blobs.length - imported.blobs,
      writes: writes.length - imported.writes,
    },
  };
}

/** A value from the document as this saver's database keeps it: size-checked, then compacted. */
async function storedValue(database: Database, type: string, base64: string, stats: OperationStats): Promise<[string, Uint8Array]> {
  const bytes = Buffer.from(base64, "base64");
  const { maxPayloadBytes, compaction } = database.options;
  if (bytes.byteLength > maxPayloadBytes) {
    throw new PayloadTooLargeError(
      `importThread: a ${type} value of ${bytes.byteLength} bytes is more than maxPayloadBytes (${maxPayloadBytes})`,
      maxPayloadBytes,
    );
  }
  const stored = await compact(type, bytes, compaction);
  stats.rawBytes += bytes.byteLength;
  stats.storedBytes += stored[1].byteLength;
  return stored;
}

function checkpointJson(checkpoint: Record<string, unknown>, index: number): string {
  const json = JSON.stringify(checkpoint);
  if (hasEscapedNul(json)) {
    throw new InvalidInputError(`importThread: checkpoints[${index}].checkpoint contains a NUL character, which Postgres JSONB cannot store`);
  }
  // JSON.stringify escapes exactly the unpaired surrogates; JSONB refuses them mid-transaction, without saying where.
  if (/(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i.test(json)) {
    throw new InvalidInputError(`importThread: checkpoints[${index}].checkpoint contains an unpaired UTF-16 surrogate, which Postgres JSONB cannot store`);
  }
  return json;
}

/** Identifies a channel version within a thread. */
function blobKey(ns: string, channel: string, version: string): string {
  return JSON.stringify([ns, channel, version]);
}

/** `items` split so that no part's `size` sum passes CHUNK_BYTES (a part holds at least one item). */
function* chunks<T>(items: readonly T[], size: (item: T) => number): Generator<T[]> {
  let part: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (part.length > 0 && bytes + n > CHUNK_BYTES) {
      yield part;
      part = [];
      bytes = 0;
    }
    part.push(item);
    bytes += n;
  }
  if (part.length > 0) yield part;
}

/** Row tuples → one array per column. */
function columns<T extends readonly unknown[]>(rows: readonly T[], width: number): unknown[][] {
  return Array.from({ length: width }, (_, i) => rows.map((row) => row[i]));
}

/** What `copyThread()` copied. */
export interface CopyResult {
  checkpoints: number;
  blobs: number;
  writes: number;
}

/**
 * `copyThread()` on Postgres: one statement, so the target gets all of the
 * source or nothing, values and writes under the same ids (delta chains and
 * pending writes stay intact). A target that has checkpoints is refused.
 */
export async function copyPostgres(database: Database, source: string, target: string, stats: OperationStats): Promise<CopyResult> {
  const [row] = await database.query<CopyResult & { target_exists: boolean }>(
    "copyThread", database.sql.checkpoints.copyThread, [source, target], stats, true,
  );
  if (row!.target_exists) throw new ThreadExistsError("copyThread", target);
  if (row!.checkpoints === 0) throw new ThreadNotFoundError("copyThread", source);
  const { checkpoints, blobs, writes } = row!;
  stats.rows = checkpoints + blobs + writes;
  return { checkpoints, blobs, writes };
}
