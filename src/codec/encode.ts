import {
  type ChannelVersions,
  type Checkpoint,
  type PendingWrite,
  type SerializerProtocol,
  WRITES_IDX_MAP,
} from "@langchain/langgraph-checkpoint";
import type { CompactionSettings } from "../config/payload.js";
import { compact } from "./compaction.js";
import type { KnownValue } from "./delta-cache.js";
import { crc32, deltaPrefix, deltaType } from "./delta.js";
import { CheckpointerError, InvalidInputError, PayloadTooLargeError, SerializationError } from "../errors.js";
import { prepareForJson } from "./guard.js";
import type { SafeJsonPlusSerializer } from "./serializer.js";
import { requireKey, requireMetadata, requirePlainObject } from "../input.js";
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
      /** The serializer is `SafeJsonPlusSerializer`: the strict walk escapes look-alike data too, in the same pass. */
      escape: boolean;
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
    /** A channel's value in the parent checkpoint, when known: what a delta may extend. */
    baseOf: (channel: string) => KnownValue | undefined = () => undefined,
  ): Promise<{ id: string; document: string; metadata: string; blobs: EncodedBlobs }> {
    const cp = requirePlainObject(checkpoint, "checkpoint", operation) as unknown as Checkpoint;
    const id = requireKey(cp.id, "checkpoint.id", operation);
    const values = cp.channel_values === undefined ? {} : requirePlainObject(cp.channel_values, "checkpoint.channel_values", operation);
    const versions = newVersions === undefined ? {} : (requirePlainObject(newVersions, "newVersions", operation) as ChannelVersions);
    const [blobs, metadataJson] = await Promise.all([
      this.blobs(values, versions, operation, stats, baseOf),
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
    baseOf: (channel: string) => KnownValue | undefined,
  ): Promise<EncodedBlobs> {
    const channels = Object.keys(versions);
    const known = new Map<string, KnownValue>();
    const bases: Array<[string, string]> = [];
    const dumped = await Promise.all(
      channels.map(async (channel): Promise<[string, Uint8Array | null]> => {
        requireKey(channel, "channel name", operation);
        // A channel with a new version but no value is recorded as "empty",
        // as the official saver does, so readers know it was cleared.
        if (!(channel in values)) return ["empty", null];
        const what = `channel "${channel}"`;
        stats.values += 1;
        const value = values[channel];
        const [type, dumped] = await this.dump(value, what);
        // A serializer may hand back the value's own memory (JsonPlusSerializer does for a
        // Uint8Array): a copy, so a change the application makes later changes neither the
        // row being written nor the base remembered for the next delta.
        // (Uint8Array's slice copies; a Buffer's own slice would be another view of the same memory.)
        const bytes = value instanceof Uint8Array && dumped.buffer === value.buffer ? Uint8Array.prototype.slice.call(dumped) : dumped;
        const base = baseOf(channel);
        const prefix = this.settings.compaction && this.settings.compaction.deltas
          ? deltaPrefix(type, bytes, base, this.settings.compaction.maxDeltaChain)
          : undefined;
        const version = String(versions[channel]);
        if (prefix === undefined || base === undefined) {
          if (this.settings.compaction && this.settings.compaction.deltas) {
            known.set(channel, { version, type, bytes, depth: 0, chainBytes: 0 });
          }
          return this.stored(type, bytes, bytes, what, stats);
        }
        const suffix = bytes.subarray(prefix);
        known.set(channel, { version, type, bytes, depth: base.depth + 1, chainBytes: base.chainBytes + suffix.byteLength });
        bases.push([channel, base.version]);
        stats.deltas += 1;
        const tag = deltaType({ type, prefixLength: prefix, crc: crc32(bytes), baseVersion: base.version });
        return this.stored(tag, suffix, bytes, what, stats);
      }),
    );
    return {
      channels,
      versions: channels.map((channel) => versionText(versions[channel], channel, operation)),
      types: dumped.map(([type]) => type),
      packed: packBlobs(dumped.map(([, bytes]) => bytes)),
      known,
      deltaBases: { channels: bases.map(([channel]) => channel), versions: bases.map(([, version]) => version) },
    };
  }

  private async metadata(metadata: unknown, operation: string): Promise<string> {
    requireMetadata(metadata, operation);
    // Its top level is never wrapped: Postgres queries and list() filters match its keys.
    const [type, bytes] = await this.dump(metadata, "metadata", true);
    if (type !== "json") {
      throw new InvalidInputError(`${operation}: metadata must serialize to JSON, but the serializer produced "${type}"`);
    }
    return toStorableJson(Buffer.from(bytes).toString("utf8"));
  }

  /** Serialized, size-checked and compacted: the type tag and bytes to store. */
  private async store(value: unknown, what: string, stats: OperationStats): Promise<[string, Uint8Array]> {
    const [type, bytes] = await this.dump(value, what);
    return this.stored(type, bytes, bytes, what, stats);
  }

  /**
   * `payload` (the whole serialized `value`, or a delta's suffix of it)
   * compacted, once `value` passed the size check.
   */
  private async stored(
    type: string,
    payload: Uint8Array,
    value: Uint8Array,
    what: string,
    stats: OperationStats,
  ): Promise<[string, Uint8Array]> {
    const { maxPayloadBytes, compaction } = this.settings;
    if (value.byteLength > maxPayloadBytes) {
      throw new PayloadTooLargeError(
        `${what} serializes to ${value.byteLength} bytes, more than maxPayloadBytes (${maxPayloadBytes})`,
        maxPayloadBytes,
      );
    }
    const stored = await compact(type, payload, compaction);
    stats.rawBytes += value.byteLength;
    stats.storedBytes += stored[1].byteLength;
    return stored;
  }

  private async dump(value: unknown, what: string, plainRoot = false): Promise<[string, Uint8Array]> {
    const { strict, escape } = this.settings;
    const prepared = strict || escape ? prepareForJson(value, what, { strict, escape }, plainRoot) : value;
    try {
      return await (escape ? (this.serde as SafeJsonPlusSerializer).dumpsPrepared(prepared) : this.serde.dumpsTyped(prepared));
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
  /** Each stored value as the base of a later delta (empty with deltas off). */
  known: Map<string, KnownValue>;
  /** The base each delta extends, which the statement checks still exists. */
  deltaBases: { channels: string[]; versions: string[] };
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
