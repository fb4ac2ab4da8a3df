import type { RunnableConfig } from "@langchain/core/runnables";
import {
  type Checkpoint,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type DeltaChannelHistory,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import { MAX_DELTA_CHAIN } from "../config/payload.js";
import { CheckpointerError, PayloadTooLargeError, SerializationError, type StoredLocation } from "../errors.js";
import { expand } from "./compaction.js";
import type { KnownValue } from "./delta-cache.js";
import { type DeltaRef, MIN_BASE_BYTES, crc32, parseDeltaType, rebuild } from "./delta.js";
import { fromStoredJson } from "./metadata.js";
import { migratePendingSends } from "./legacy-sends.js";
import { unpackBlobs } from "./packing.js";
import { UnrevivableError } from "./reviver.js";
import { SafeJsonPlusSerializer } from "./serializer.js";
import type { OperationStats } from "../observe/instrument.js";
import type { DeltaHistoryRow, TupleRow } from "../sql/index.js";

/** A stored row of a channel value: its type tag and bytes. */
export interface StoredRow {
  type: string;
  blob: Uint8Array | null | undefined;
}

/** Where a channel value sits, for errors that must say which one cannot be read (never its content). */
export type ValueLocation = Extract<StoredLocation, { part: "value" }>;

/** A value read back, with its serialized bytes as the base of a later delta. */
export interface LoadedValue {
  value: unknown;
  known: KnownValue | undefined;
}

/** Turns stored rows back into values; one per operation (see `blobLoader`). */
export interface BlobLoader {
  /** A stored blob (type tag and bytes) → its value; `where` names it in errors. */
  (type: string, blob: Uint8Array | null | undefined, where?: StoredLocation): Promise<unknown>;
  /**
   * A channel value stored whole or as a delta: `rowOf(version)` gives the
   * other rows of its channel the statement fetched, where its chain is.
   */
  channelValue(row: StoredRow, rowOf: (version: string) => StoredRow | undefined, where: ValueLocation): Promise<LoadedValue>;
  /** A checkpoint's metadata, as the JSON text stored. */
  metadata(json: string, where?: StoredLocation): Promise<unknown>;
}

/**
 * Loads stored blobs with `serde`: inflates compacted ones (never beyond
 * `maxPayloadBytes`), rebuilds deltas, and counts stored and raw bytes into `stats`.
 */
export function blobLoader(serde: SerializerProtocol, maxPayloadBytes: number, stats: OperationStats): BlobLoader {
  // Inflations of one operation run one after another, and all fail after the
  // first failure: a hostile row that many checkpoints of a page reference
  // must cost one maxPayloadBytes of memory, not one per reference.
  let previous: Promise<unknown> = Promise.resolve();
  const deserialize = async (type: string, bytes: Uint8Array | string, where: StoredLocation | undefined): Promise<unknown> => {
    try {
      return await serde.loadsTyped(type, typeof bytes === "string" ? bytes : asStoredBytes(type, bytes));
    } catch (error) {
      throw unreadable(error, type, where);
    }
  };
  const inflate = async (storedType: string, blob: Uint8Array): Promise<[string, Uint8Array]> => {
    stats.storedBytes += blob.byteLength;
    const expanded = previous.then(() => expand(storedType, blob, maxPayloadBytes));
    previous = expanded;
    const [type, bytes] = await expanded;
    stats.rawBytes += bytes.byteLength;
    return [type, bytes];
  };
  const load = (async (storedType, blob, where) => {
    // A NULL blob (the official schema allows it) is what the serializer makes of no bytes.
    if (blob === null || blob === undefined) return deserialize(storedType, new Uint8Array(), where);
    const [type, bytes] = await inflate(storedType, blob);
    return deserialize(type, bytes, where);
  }) as BlobLoader;
  load.channelValue = async (row, rowOf, where) => {
    if (row.blob === null || row.blob === undefined) return { value: await load(row.type, row.blob, where), known: undefined };
    const [type, bytes] = await inflate(row.type, row.blob);
    const delta = parseDeltaType(type);
    if (delta === undefined) {
      return { value: await deserialize(type, bytes, where), known: { version: where.version, type, bytes, depth: 0, chainBytes: 0 } };
    }
    const rebuilt = await rebuildChain(delta, bytes, rowOf, inflate, maxPayloadBytes, where);
    stats.rawBytes += rebuilt.bytes.byteLength - rebuilt.fetchedBytes;
    return { value: await deserialize(delta.type, rebuilt.bytes, where), known: { version: where.version, type: delta.type, ...rebuilt } };
  };
  load.metadata = async (json, where) => {
    const text = fromStoredJson(json);
    if (!(serde instanceof SafeJsonPlusSerializer)) return deserialize("json", text, where);
    try {
      return await serde.loadsMetadata(text);
    } catch (error) {
      throw unreadable(error, "json", where);
    }
  };
  return load;
}

/**
 * The error for a stored value the serializer refused: names the value
 * (when `where` is known) and why, never its content (a serializer's own
 * message may quote the stored bytes, as JSON.parse's does: only its class is kept).
 */
export function unreadable(error: unknown, type: string, where: StoredLocation | undefined): CheckpointerError {
  if (error instanceof CheckpointerError && !(error instanceof SerializationError)) return error;
  if (error instanceof UnrevivableError) {
    return where === undefined ? error : new UnrevivableError(`cannot read ${describeLocation(where)}: ${error.message}`, { location: where });
  }
  const why = `a stored ${type} blob could not be deserialized (${error instanceof Error ? error.name : typeof error})`;
  return where === undefined ? new SerializationError(why) : new SerializationError(`cannot read ${describeLocation(where)}: ${why}`, { location: where });
}

/** The error for a delta value that cannot be rebuilt: names the value, never its content. */
export function unreadableDelta(where: ValueLocation, why: string): SerializationError {
  return new SerializationError(`cannot read ${describeLocation(where)}: it is stored as a delta and ${why}`, { location: where });
}

/** `channel "messages" version 3 of thread "t" (namespace "sub", checkpoint 1ef…)`, with ids quoted as JSON. */
export function describeLocation(where: StoredLocation): string {
  const what = where.part === "value"
    ? `channel ${JSON.stringify(where.channel)} version ${where.version}`
    : where.part === "write"
      ? `the pending write of task ${JSON.stringify(where.taskId)} to channel ${JSON.stringify(where.channel)} (idx ${where.idx})`
      : "the metadata";
  const context = [
    where.checkpointNs === "" ? undefined : `namespace ${JSON.stringify(where.checkpointNs)}`,
    where.checkpointId === undefined ? undefined : `checkpoint ${JSON.stringify(where.checkpointId)}`,
  ].filter(Boolean);
  return `${what} of thread ${JSON.stringify(where.threadId)}${context.length === 0 ? "" : ` (${context.join(", ")})`}`;
}

/**
 * The serialized bytes of a delta value: walks its chain of bases through
 * `rowOf`, then rebuilds and checks them against the delta's CRC. Anything
 * wrong (a missing base, a loop, a chain longer than any this package
 * writes, a checksum that does not match) is a SerializationError that says
 * which value it is, never a wrong value.
 */
async function rebuildChain(
  newest: DeltaRef,
  suffix: Uint8Array,
  rowOf: (version: string) => StoredRow | undefined,
  inflate: (type: string, blob: Uint8Array) => Promise<[string, Uint8Array]>,
  maxPayloadBytes: number,
  where: ValueLocation,
): Promise<{ bytes: Uint8Array; depth: number; chainBytes: number; fetchedBytes: number }> {
  const fail = (why: string) => unreadableDelta(where, why);
  const deltas = [{ prefixLength: newest.prefixLength, suffix }];
  let fetchedBytes = suffix.byteLength;
  let chainBytes = suffix.byteLength;
  const length = newest.prefixLength + suffix.byteLength;
  if (length > maxPayloadBytes) {
    throw new PayloadTooLargeError(`a stored value rebuilds to ${length} bytes, more than maxPayloadBytes (${maxPayloadBytes})`, maxPayloadBytes);
  }
  // A legitimate chain's suffixes add up to at most its value, and its full value at most
  // maxPayloadBytes: a chain that inflates to more is corrupt or hostile, and stops here.
  const budget = 2 * maxPayloadBytes;
  const visited = new Set([where.version]);
  let base = newest.baseVersion;
  for (;;) {
    if (visited.has(base)) throw fail(`its chain of bases loops back to version ${base}`);
    if (deltas.length > MAX_DELTA_CHAIN) throw fail(`its chain is longer than ${MAX_DELTA_CHAIN}`);
    visited.add(base);
    const row = rowOf(base);
    if (row === undefined || row.blob === null || row.blob === undefined) throw fail(`its base version ${base} is missing`);
    const [type, bytes] = await inflate(row.type, row.blob);
    fetchedBytes += bytes.byteLength;
    if (fetchedBytes > budget) {
      throw new PayloadTooLargeError(
        `a stored value's chain inflates to more than twice maxPayloadBytes (${maxPayloadBytes}), which no chain this package writes does`,
        maxPayloadBytes,
      );
    }
    const next = parseDeltaType(type);
    if (next === undefined) {
      if (type !== newest.type) throw fail(`its base version ${base} holds a ${type} value, not ${newest.type}`);
      const rebuilt = rebuild(bytes, deltas.reverse());
      if (rebuilt === undefined) throw fail(`a delta of its chain extends more bytes than its base has`);
      if (crc32(rebuilt) !== newest.crc) throw fail(`what its chain rebuilds does not match its checksum`);
      return { bytes: rebuilt, depth: deltas.length, chainBytes, fetchedBytes };
    }
    if (next.type !== newest.type) throw fail(`its base version ${base} holds a ${next.type} value, not ${newest.type}`);
    deltas.push({ prefixLength: next.prefixLength, suffix: bytes });
    chainBytes += bytes.byteLength;
    base = next.baseVersion;
  }
}

/**
 * A result's rows → checkpoint tuples, in order. The values the rows
 * share come once, with the first row that holds each (see sql/tuples.ts), and are
 * rebuilt and deserialized for each tuple that holds them, so no two tuples
 * share an object. Every blob is deserialized concurrently; no I/O happens here.
 */
export function decodeTuples(
  load: BlobLoader,
  rows: readonly TupleRow[],
  /** Filled with the first row's serialized channel values, as bases for later deltas. */
  known?: Map<string, KnownValue>,
): Promise<CheckpointTuple[]> {
  const values = valuePool(rows);
  return Promise.all(rows.map((row, i) => decodeTuple(load, row, values.get(i + 1) ?? new Map(), i === 0 ? known : undefined)));
}

async function decodeTuple(
  load: BlobLoader,
  row: TupleRow,
  channels: Map<string, ChannelRows>,
  known: Map<string, KnownValue> | undefined,
): Promise<CheckpointTuple> {
  const at = { threadId: row.thread_id, checkpointNs: row.checkpoint_ns, checkpointId: row.checkpoint_id };
  const [channelValues, pendingWrites, metadata, pendingSends] = await Promise.all([
    decodeChannelValues(load, row, channels, known),
    decodePendingWrites(load, row),
    load.metadata(row.metadata, { ...at, part: "metadata" }) as Promise<CheckpointMetadata>,
    row.send_index ? decodeAll(load, row.send_index.map(([type]) => type), unpackBlobs(row.send_index.map(([, length]) => length), row.send_data ?? null)) : undefined,
  ]);
  const stored = row.checkpoint as unknown as Checkpoint;
  const checkpoint: Checkpoint = {
    ...stored,
    channel_versions: { ...(stored.channel_versions ?? {}) },
    versions_seen: stored.versions_seen ?? {},
    channel_values: channelValues,
  };
  if (pendingSends !== undefined) migratePendingSends(checkpoint, pendingSends);
  const { thread_id, checkpoint_ns } = row;
  return {
    config: { configurable: { thread_id, checkpoint_ns, checkpoint_id: row.checkpoint_id } },
    checkpoint,
    metadata,
    parentConfig: parentConfigOf(row),
    pendingWrites,
  };
}

/**
 * The values a result's rows carry (each with the first row that holds it),
 * by the ordinal (from 1) of each row that holds them, then by channel. A
 * value's chain rows share its ordinals and channel; a row holds one
 * version of a channel, so its first ordinal and channel name one value.
 */
function valuePool(rows: readonly TupleRow[]): Map<number, Map<string, ChannelRows>> {
  const entries = rows.flatMap((row) => {
    const index = row.value_index ?? [];
    const blobs = unpackBlobs(index.map((entry) => entry[3]), row.value_data);
    return index.map((entry, i) => [entry, blobs[i]] as const);
  });
  const values = groupRows(entries.map(([[ordinals, channel, type, , version, hop], blob]) =>
    [`${ordinals[0]}\u0000${channel}`, version, hop, { type, blob }]));
  const byRow = new Map<number, Map<string, ChannelRows>>();
  for (const [[ordinals, channel, , , , hop]] of entries) {
    if (hop !== 0) continue;
    const value = values.get(`${ordinals[0]}\u0000${channel}`)!;
    for (const ordinal of ordinals) {
      let channels = byRow.get(ordinal);
      if (channels === undefined) byRow.set(ordinal, (channels = new Map()));
      channels.set(channel, value);
    }
  }
  return byRow;
}

function parentConfigOf(row: TupleRow): RunnableConfig | undefined {
  if (!row.parent_checkpoint_id) return undefined;
  return {
    configurable: {
      thread_id: row.thread_id,
      checkpoint_ns: row.checkpoint_ns,
      checkpoint_id: row.parent_checkpoint_id,
    },
  };
}

async function decodeChannelValues(
  load: BlobLoader,
  row: TupleRow,
  groups: Map<string, ChannelRows>,
  known: Map<string, KnownValue> | undefined,
): Promise<Record<string, unknown>> {
  const loaded = await loadChannels(load, groups, { threadId: row.thread_id, checkpointNs: row.checkpoint_ns, checkpointId: row.checkpoint_id });
  for (const [channel, { known: value }] of loaded) {
    if (known !== undefined && value !== undefined && value.bytes.byteLength >= MIN_BASE_BYTES) {
      // Its own copy: the bytes may be a view of the whole result's buffer.
      known.set(channel, { ...value, bytes: Uint8Array.prototype.slice.call(value.bytes) });
    }
  }
  return Object.fromEntries(loaded.map(([channel, { value }]) => [channel, value]));
}

/**
 * `getDeltaChannelHistory`'s rows into `result`: each channel's seed
 * (rebuilt from its delta chain when it is a delta) and its writes, in the
 * order the statement returned them.
 */
export async function decodeDeltaHistory(
  load: BlobLoader,
  rows: readonly DeltaHistoryRow[],
  threadId: string,
  ns: string,
  result: Record<string, DeltaChannelHistory>,
): Promise<void> {
  const seeds = rows.filter((row) => row.kind === "seed");
  const writes = rows.filter((row) => row.kind !== "seed");
  const [seedValues, writeValues] = await Promise.all([
    loadChannels(load, groupRows(seeds.map((row) => [row.channel, row.version!, row.hop!, row])), { threadId, checkpointNs: ns }),
    Promise.all(writes.map((r) => load(r.type, r.blob, {
      threadId, checkpointNs: ns, part: "write", taskId: r.task_id ?? "", channel: r.channel, idx: r.idx ?? 0,
    }))),
  ]);
  for (const [channel, { value }] of seedValues) result[channel]!.seed = value;
  writes.forEach((row, i) => {
    result[row.channel]!.writes.push([row.task_id!, row.channel, writeValues[i]] as CheckpointPendingWrite);
  });
}

/** One value's stored rows in a result: the value (hop 0) and, for a delta, the rows of its chain by version. */
interface ChannelRows {
  value?: StoredRow;
  version?: string;
  chain: Map<string, StoredRow>;
}

/** Stored rows grouped by the value they belong to (`key`: a channel, or a pool key). */
function groupRows(rows: Iterable<[key: string, version: string, hop: number, row: StoredRow]>): Map<string, ChannelRows> {
  const groups = new Map<string, ChannelRows>();
  for (const [key, version, hop, row] of rows) {
    let entry = groups.get(key);
    if (entry === undefined) groups.set(key, (entry = { chain: new Map() }));
    if (hop === 0) Object.assign(entry, { value: row, version });
    else entry.chain.set(version, row);
  }
  return groups;
}

/** Each channel's value, rebuilt from its rows. */
function loadChannels(load: BlobLoader, groups: Map<string, ChannelRows>, at: { threadId: string; checkpointNs: string; checkpointId?: string }) {
  return Promise.all(
    [...groups].map(async ([channel, { value, version, chain }]) => {
      const where: ValueLocation = { ...at, part: "value", channel, version: version! };
      return [channel, await load.channelValue(value!, (v) => chain.get(v), where)] as const;
    }),
  );
}

async function decodePendingWrites(load: BlobLoader, row: TupleRow): Promise<CheckpointPendingWrite[]> {
  const index = row.write_index ?? [];
  const blobs = unpackBlobs(index.map(([, , , length]) => length), row.write_data);
  const at = { threadId: row.thread_id, checkpointNs: row.checkpoint_ns, checkpointId: row.checkpoint_id, part: "write" } as const;
  const values = await Promise.all(index.map(([taskId, channel, type, , idx], i) => load(type, blobs[i], { ...at, taskId, channel, idx })));
  return index.map(([taskId, channel], i) => [taskId, channel, values[i]]);
}

export function decodeAll(
  load: BlobLoader,
  types: readonly string[],
  blobs: ReadonlyArray<Uint8Array | null>,
): Promise<unknown[]> {
  return Promise.all(types.map((type, i) => load(type, blobs[i])));
}

/**
 * node-postgres returns bytea as a Buffer, often a slice of a shared slab.
 * A value stored as raw bytes comes back as its own plain Uint8Array, the
 * type that was stored, not a Buffer exposing unrelated memory via `.buffer`.
 */
function asStoredBytes(type: string, blob: Uint8Array): Uint8Array {
  return type === "bytes" ? new Uint8Array(blob) : blob;
}
