import { constants as bufferConstants } from "node:buffer";
import { InvalidOptionsError } from "../errors.js";
import { definedOnly, describe, nonNegativeInteger, positiveInteger } from "./checks.js";

/**
 * The `compaction` and `maxPayloadBytes` options. The codecs themselves
 * (compressing, inflating within the limit) are in `codec/compaction.ts`.
 */

/** Every codec rows can be written with; all of them stay readable. */
export const CODEC_NAMES = ["deflate", "gzip", "br"] as const;

export type CodecName = (typeof CODEC_NAMES)[number];

export interface CompactionOptions {
  /**
   * Compress channel and write blobs of at least this many serialized bytes.
   * Below 1 KiB compressing saves too few bytes to pay for the call
   * (bench/results/codecs.md); Postgres itself never compresses values under 2 KiB.
   * @default 1024
   */
  thresholdBytes?: number;
  /**
   * `node:zlib` codec: brotli, raw deflate or gzip. Brotli at level 1 had
   * the best bytes saved per microsecond on message-heavy states
   * (bench/results/codecs.md). Rows written with any codec stay readable.
   * @default "br"
   */
  codec?: CodecName;
  /**
   * Compression level (zlib 1–9, brotli 0–11). Low levels are several times
   * faster and lose little ratio on JSON state.
   * @default 1
   */
  level?: number;
  /**
   * Store a new version of a channel value as the bytes it adds to the
   * version its checkpoint's parent has (a delta), when that is much smaller:
   * a chat's message list then costs each checkpoint its new messages, not
   * the whole history. Rows stored this way can only be read by this package.
   * @default true
   */
  deltas?: boolean;
  /**
   * Longest chain of deltas before a full value is stored again: a read
   * fetches at most this many deltas and one full value per channel.
   * @default 32
   */
  maxDeltaChain?: number;
  /**
   * Memory for the last value each thread's channels were written or read
   * with, per saver: the base a new delta is computed against (`put` never
   * reads the database to find one). Each entry is counted with its
   * overhead, values too small to extend are not kept, and the least
   * recently used threads go first; a thread whose base is gone gets a full
   * value, nothing worse.
   * @default 67108864 (64 MiB)
   */
  deltaCacheBytes?: number;
}

export interface CompactionSettings {
  codec: CodecName;
  level: number;
  thresholdBytes: number;
  deltas: boolean;
  maxDeltaChain: number;
  deltaCacheBytes: number;
}

export const COMPACTION_DEFAULTS: CompactionSettings = {
  thresholdBytes: 1024,
  codec: "br",
  level: 1,
  deltas: true,
  /** Measured on a 300-turn chat (README, "Deltas"): see the choice of K there. */
  maxDeltaChain: 32,
  /** About 170 threads of a 300-turn chat (~380 KiB of messages each): far more than one replica serves at once. */
  deltaCacheBytes: 64 * 1024 * 1024,
};

/** Far above real agent states (tens of MB at worst), far below what would endanger a Node process. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

const MAX_BUFFER_BYTES = bufferConstants.MAX_LENGTH;

/** Reads walk a chain in one statement; past a few hundred rows per value that stops being cheap. */
export const MAX_DELTA_CHAIN = 256;

/** `compaction` and `maxPayloadBytes`, defaulted and checked. */
export function resolvePayloadOptions(
  compactionOption: CompactionOptions | false | undefined,
  maxPayloadOption: number | undefined,
): { compaction: CompactionSettings | false; maxPayloadBytes: number } {
  const maxPayloadBytes = maxPayloadOption ?? DEFAULT_MAX_PAYLOAD_BYTES;
  positiveInteger("maxPayloadBytes", maxPayloadBytes);
  if (maxPayloadBytes > MAX_BUFFER_BYTES) {
    // zlib cannot inflate into anything larger, so compressed rows would become unreadable.
    throw new InvalidOptionsError(`maxPayloadBytes must be at most ${MAX_BUFFER_BYTES} (the largest Buffer Node can allocate)`);
  }
  if (compactionOption === false) return { compaction: false, maxPayloadBytes };
  const compaction = { ...COMPACTION_DEFAULTS, ...definedOnly(compactionOption) };
  const { codec, level, thresholdBytes } = compaction;
  if (!CODEC_NAMES.includes(codec)) {
    throw new InvalidOptionsError(`compaction.codec must be one of ${CODEC_NAMES.join(", ")}, got ${describe(codec)}`);
  }
  nonNegativeInteger("compaction.thresholdBytes", thresholdBytes);
  const maxLevel = codec === "br" ? 11 : 9;
  if (!Number.isSafeInteger(level) || level < 0 || level > maxLevel) {
    throw new InvalidOptionsError(`compaction.level for ${codec} must be an integer from 0 to ${maxLevel}, got ${describe(level)}`);
  }
  if (typeof compaction.deltas !== "boolean") {
    throw new InvalidOptionsError(`compaction.deltas must be true or false, got ${describe(compaction.deltas)}`);
  }
  positiveInteger("compaction.maxDeltaChain", compaction.maxDeltaChain);
  if (compaction.maxDeltaChain > MAX_DELTA_CHAIN) {
    throw new InvalidOptionsError(`compaction.maxDeltaChain must be at most ${MAX_DELTA_CHAIN}, got ${compaction.maxDeltaChain}`);
  }
  nonNegativeInteger("compaction.deltaCacheBytes", compaction.deltaCacheBytes);
  return { compaction, maxPayloadBytes };
}
