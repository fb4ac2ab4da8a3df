import {
  type ChannelVersions,
  type Checkpoint,
  type PendingWrite,
  type SerializerProtocol,
  WRITES_IDX_MAP,
} from "@langchain/langgraph-checkpoint";
import type { CompactionSettings } from "../config/payload.js";
import { compact } from "./compaction.js";
import { CheckpointerError, InvalidInputError, PayloadTooLargeError, SerializationError } from "../errors.js";
import { assertFaithfullySerializable } from "./guard.js";
import { requireKey, requirePlainObject } from "../input.js";
import { hasEscapedNul, toStorableJson } from "./metadata.js";
import type { OperationStats } from "../observe/instrument.js";
import { type PackedBlobs, packBlobs } from "./packing.js";

/**
 * Turns checkpoints, metadata and writes into statement parameters. All of it
 * runs before a connection is taken from the pool, so slow serialization of a
 * large state never holds a connection, and any refusal happens before a
 * single byte is written.
 */
export class Encoder {
  constructor(
    private readonly serde: SerializerProtocol,
    private readonly settings: {
      /** Refuse values JSON would silently change (only meaningful for JSON-based serializers). */
      strict: boolean;
      compaction: CompactionSettings | false;
      maxPayloadBytes: number;
    },
  ) {}

  async checkpoint(
    checkpoint: unknown,
    metadata: unknown,
    newVersions: unknown,
    operation: string,
    stats: OperationStats,
  ): Promise<{ id: string; document: string; metadata: string; blobs: EncodedBlobs }> {
    const cp = requirePlainObject(checkpoint, "checkpoint", operation) as unknown as Checkpoint;
    const id = requireKey(cp.id, "checkpoint.id", operation);
    const values = cp.channel_values === undefined ? {} : requirePlainObject(cp.channel_values, "checkpoint.channel_values", operation);
    const versions = newVersions === undefined ? {} : (requirePlainObject(newVersions, "newVersions", operation) as ChannelVersions);
    const [blobs, metadataJson] = await Promise.all([
      this.blobs(values, versions, operation, stats),
      this.metadata(metadata, operation),
    ]);
    const document = checkpointDocument(cp, operation);
    // The documents are stored as JSONB (queryable, never compacted): count them in both stages.
    const documentBytes = Buffer.byteLength(document) + Buffer.byteLength(metadataJson);
    stats.rawBytes += documentBytes;
    stats.storedBytes += documentBytes;
    stats.rows = blobs.channels.length + 1;
    return { id, document, metadata: metadataJson, blobs };
  }

  async writes(
    writes: unknown,
    operation: string,
    stats: OperationStats,
  ): Promise<{ idx: number[]; channels: string[]; types: string[]; packed: PackedBlobs }> {
    if (!Array.isArray(writes)) {
      throw new InvalidInputError(`${operation}: writes must be an array of [channel, value] pairs`);
    }
    // Special channels (__error__, __interrupt__, ...) have a fixed negative
    // index, so one call can name the same row twice; the last one wins, as
    // in the official savers. Regular writes are indexed by position.
    const byIdx = new Map<number, PendingWrite>();
    writes.forEach((write: unknown, position) => {
      if (!Array.isArray(write) || write.length !== 2) {
        throw new InvalidInputError(`${operation}: writes[${position}] must be a [channel, value] pair`);
      }
      const channel = requireKey(write[0], `writes[${position}] channel`, operation);
      byIdx.set(WRITES_IDX_MAP[channel] ?? position, [channel, write[1]]);
    });
    const entries = [...byIdx];
    const dumped = await Promise.all(
      entries.map(([, [channel, value]]) => this.store(value, `write to channel "${channel}"`, stats)),
    );
    stats.rows = entries.length;
    return {
      idx: entries.map(([idx]) => idx),
      channels: entries.map(([, [channel]]) => channel),
      types: dumped.map(([type]) => type),
      packed: packBlobs(dumped.map(([, bytes]) => bytes)),
    };
  }

  private async blobs(
    values: Record<string, unknown>,
    versions: ChannelVersions,
    operation: string,
    stats: OperationStats,
  ): Promise<EncodedBlobs> {
    const channels = Object.keys(versions);
    const dumped = await Promise.all(
      channels.map(async (channel): Promise<[string, Uint8Array | null]> => {
        requireKey(channel, "channel name", operation);
        // A channel with a new version but no value is recorded as "empty",
        // as the official saver does, so readers know it was cleared.
        if (!(channel in values)) return ["empty", null];
        return this.store(values[channel], `channel "${channel}"`, stats);
      }),
    );
    return {
      channels,
      versions: channels.map((channel) => versionText(versions[channel], channel, operation)),
      types: dumped.map(([type]) => type),
      packed: packBlobs(dumped.map(([, bytes]) => bytes)),
    };
  }

  private async metadata(metadata: unknown, operation: string): Promise<string> {
    requirePlainObject(metadata, "metadata", operation);
    const [type, bytes] = await this.dump(metadata, "metadata");
    if (type !== "json") {
      throw new InvalidInputError(`${operation}: metadata must serialize to JSON, but the serializer produced "${type}"`);
    }
    return toStorableJson(Buffer.from(bytes).toString("utf8"));
  }

  /** Serialized, size-checked and compacted: the type tag and bytes to store. */
  private async store(value: unknown, what: string, stats: OperationStats): Promise<[string, Uint8Array]> {
    const [type, bytes] = await this.dump(value, what);
    const { maxPayloadBytes, compaction } = this.settings;
    if (bytes.byteLength > maxPayloadBytes) {
      throw new PayloadTooLargeError(
        `${what} serializes to ${bytes.byteLength} bytes, more than maxPayloadBytes (${maxPayloadBytes})`,
        maxPayloadBytes,
      );
    }
    const stored = await compact(type, bytes, compaction);
    stats.rawBytes += bytes.byteLength;
    stats.storedBytes += stored[1].byteLength;
    return stored;
  }

  private async dump(value: unknown, what: string): Promise<[string, Uint8Array]> {
    if (this.settings.strict) assertFaithfullySerializable(value, what);
    try {
      return await this.serde.dumpsTyped(value);
    } catch (error) {
      if (error instanceof CheckpointerError) throw error;
      throw new SerializationError(`Cannot serialize ${what}: ${(error as Error)?.message ?? error}`, { cause: error });
    }
  }
}

export interface EncodedBlobs {
  channels: string[];
  versions: string[];
  types: string[];
  packed: PackedBlobs;
}

function versionText(version: unknown, channel: string, operation: string): string {
  if ((typeof version === "number" && Number.isFinite(version)) || (typeof version === "string" && version !== "")) {
    return String(version);
  }
  throw new InvalidInputError(`${operation}: newVersions["${channel}"] must be a number or a non-empty string`);
}

/** The checkpoint without its values (those go to checkpoint_blobs), as the JSON stored in `checkpoints.checkpoint`. */
function checkpointDocument(checkpoint: Checkpoint, operation: string): string {
  const { channel_values: _values, ...rest } = checkpoint;
  let json: string;
  try {
    json = JSON.stringify(rest);
  } catch (error) {
    throw new SerializationError(`${operation}: the checkpoint is not JSON-serializable: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (hasEscapedNul(json)) {
    throw new InvalidInputError(`${operation}: the checkpoint (channel names, versions or ids) contains a NUL character`);
  }
  return json;
}
