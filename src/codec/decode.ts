import type { RunnableConfig } from "@langchain/core/runnables";
import {
  type Checkpoint,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import { expand } from "./compaction.js";
import { SerializationError } from "../errors.js";
import { fromStoredJson } from "./metadata.js";
import { migratePendingSends } from "./legacy-sends.js";
import { unpackBlobs } from "./packing.js";
import type { OperationStats } from "../observe/instrument.js";
import type { TupleRow } from "../sql/index.js";

/** A stored blob (type tag and bytes) → its value. */
export type BlobLoader = (type: string, blob: Uint8Array | null | undefined) => Promise<unknown>;

/**
 * Loads stored blobs with `serde`: inflates compacted ones (never beyond
 * `maxPayloadBytes`) and counts stored and raw bytes into `stats`.
 */
export function blobLoader(serde: SerializerProtocol, maxPayloadBytes: number, stats: OperationStats): BlobLoader {
  // Inflations of one operation run one after another, and all fail after the
  // first failure: a hostile row that many checkpoints of a page reference
  // must cost one maxPayloadBytes of memory, not one per reference.
  let previous: Promise<unknown> = Promise.resolve();
  const deserialize = async (type: string, bytes: Uint8Array): Promise<unknown> => {
    try {
      return await serde.loadsTyped(type, asStoredBytes(type, bytes));
    } catch (error) {
      // The serializer's message may quote the stored bytes (JSON.parse does); only its class is kept.
      const kind = error instanceof Error ? error.name : typeof error;
      throw new SerializationError(`a stored ${type} blob could not be deserialized (${kind})`);
    }
  };
  return async (storedType, blob) => {
    // A NULL blob (the official schema allows it) is what the serializer makes of no bytes.
    if (blob === null || blob === undefined) return deserialize(storedType, new Uint8Array());
    stats.storedBytes += blob.byteLength;
    const expanded = previous.then(() => expand(storedType, blob, maxPayloadBytes));
    previous = expanded;
    const [type, bytes] = await expanded;
    stats.rawBytes += bytes.byteLength;
    return deserialize(type, bytes);
  };
}

/**
 * Rows → checkpoint tuples. Every blob of a row is deserialized concurrently;
 * no I/O happens here.
 */
export async function decodeTuple(serde: SerializerProtocol, load: BlobLoader, row: TupleRow): Promise<CheckpointTuple> {
  const [channelValues, pendingWrites, metadata, pendingSends] = await Promise.all([
    decodeChannelValues(load, row),
    decodePendingWrites(load, row),
    serde.loadsTyped("json", fromStoredJson(row.metadata)) as Promise<CheckpointMetadata>,
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

async function decodeChannelValues(load: BlobLoader, row: TupleRow): Promise<Record<string, unknown>> {
  const index = row.blob_index ?? [];
  const blobs = unpackBlobs(index.map(([, , length]) => length), row.blob_data);
  const values = await decodeAll(load, index.map(([, type]) => type), blobs);
  return Object.fromEntries(index.map(([channel], i) => [channel, values[i]]));
}

async function decodePendingWrites(load: BlobLoader, row: TupleRow): Promise<CheckpointPendingWrite[]> {
  const index = row.write_index ?? [];
  const blobs = unpackBlobs(index.map(([, , , length]) => length), row.write_data);
  const values = await decodeAll(load, index.map(([, , type]) => type), blobs);
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
