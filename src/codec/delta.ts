import zlib from "node:zlib";

/**
 * Delta rows: a channel value stored as the bytes it adds to an earlier
 * version of the same channel (its base), instead of whole.
 *
 * LangGraph stores every changed channel value whole at every step, and a
 * reducer such as `messagesStateReducer` changes a value by appending to it,
 * so its serialized bytes start with the previous version's bytes. A delta
 * keeps the length of that shared prefix and the new suffix:
 *
 *   value = base[0 : prefix] ++ suffix
 *
 * which needs no knowledge of the value's type or serializer. The row's
 * `type` column says how to rebuild it; its `blob` holds the suffix (which
 * compaction may compress, adding its usual `+br`):
 *
 *   <serializer type>+delta:<prefix length>:<crc32 of the value>:<base version>
 *
 * The base version sits in the type so that SQL can follow a chain of deltas
 * to its full value (the keyframe) within the statement that reads a value.
 * The CRC-32 of the rebuilt bytes makes a wrong base (a row replaced or
 * damaged) fail loudly instead of returning other data.
 */

/** The rebuilt value: prefix of the base and the suffix this row stores. */
export interface DeltaRef {
  /** The serializer's type of the rebuilt value (and of the whole chain). */
  type: string;
  prefixLength: number;
  crc: number;
  baseVersion: string;
}

const DELTA_TYPE = /^(.+)\+delta:(\d{1,15}):([0-9a-f]{8}):([0-9A-Za-z._-]{1,200})$/;

/**
 * Versions a delta can name as its base: what LangGraph's savers produce
 * (numbers, and the Python saver's zero-padded strings). Anything else gets a
 * full value, so the type stays parseable by SQL.
 */
const BASE_VERSION = /^[0-9A-Za-z._-]{1,200}$/;

/** Whether a stored type (compacted or not) is a delta's. */
export function isDeltaType(storedType: string): boolean {
  return storedType.includes("+delta:");
}

export function isDeltaBaseVersion(version: string): boolean {
  return BASE_VERSION.test(version);
}

export function deltaType(ref: DeltaRef): string {
  return `${ref.type}+delta:${ref.prefixLength}:${ref.crc.toString(16).padStart(8, "0")}:${ref.baseVersion}`;
}

/** The delta a stored type describes (after any compaction suffix is removed), or undefined for a full value. */
export function parseDeltaType(type: string): DeltaRef | undefined {
  const match = DELTA_TYPE.exec(type);
  if (!match) return undefined;
  return { type: match[1]!, prefixLength: Number(match[2]), crc: Number.parseInt(match[3]!, 16), baseVersion: match[4]! };
}

/** Below this many bytes a linear scan is faster than another memcmp call. */
const LINEAR_SCAN_BYTES = 64;

/** How many leading bytes `a` and `b` share: a binary search over memcmp'd halves, then a short scan. */
export function sharedPrefixLength(a: Uint8Array, b: Uint8Array): number {
  let low = 0;
  let high = Math.min(a.byteLength, b.byteLength);
  while (high - low > LINEAR_SCAN_BYTES) {
    const middle = (low + high) >>> 1;
    if (Buffer.compare(a.subarray(low, middle), b.subarray(low, middle)) === 0) low = middle;
    else high = middle;
  }
  while (low < high && a[low] === b[low]) low += 1;
  return low;
}

/**
 * The value a chain of deltas rebuilds to, copied once: `keyframe` is the
 * full value at the chain's end, `deltas` the suffixes from the oldest to
 * the newest. Returns undefined when a delta's prefix is longer than the
 * value it extends (a corrupt chain).
 */
export function rebuild(
  keyframe: Uint8Array,
  deltas: ReadonlyArray<{ prefixLength: number; suffix: Uint8Array }>,
): Uint8Array | undefined {
  let length = keyframe.byteLength;
  for (const { prefixLength, suffix } of deltas) {
    if (prefixLength > length) return undefined;
    length = prefixLength + suffix.byteLength;
  }
  // From the newest delta down, each version contributes the part of itself
  // that the versions above it still use.
  const pieces: Uint8Array[] = [];
  let needed = length;
  for (let i = deltas.length - 1; i >= 0; i -= 1) {
    const { prefixLength, suffix } = deltas[i]!;
    if (needed > prefixLength) pieces.push(suffix.subarray(0, needed - prefixLength));
    needed = Math.min(needed, prefixLength);
  }
  pieces.push(keyframe.subarray(0, needed));
  pieces.reverse();
  return Buffer.concat(pieces, length);
}

/** One step of a chain: what a delta rebuilds to from its base's whole bytes, or undefined when they do not fit (a wrong base). */
export function applyDelta(base: Uint8Array, ref: DeltaRef, suffix: Uint8Array): Uint8Array | undefined {
  const bytes = rebuild(base, [{ prefixLength: ref.prefixLength, suffix }]);
  return bytes !== undefined && crc32(bytes) === ref.crc ? bytes : undefined;
}

/** CRC-32 (the zlib polynomial) of `bytes`: node:zlib's when this Node has it (20.15+), else a table. */
export const crc32: (bytes: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === "function"
    ? (bytes) => (zlib as unknown as { crc32(data: Uint8Array): number }).crc32(bytes) >>> 0
    : tableCrc32;

let table: Uint32Array | undefined;

/** The same CRC-32 computed in JavaScript, for Node versions before 20.15. */
export function tableCrc32(bytes: Uint8Array): number {
  table ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const byte of bytes) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Values smaller than this are stored whole: a delta would save a few hundred bytes and cost every read a hop. */
const MIN_DELTA_VALUE_BYTES = 512;
/**
 * A delta is stored only when its suffix is at most this share of the whole
 * value: compaction already shrinks a whole JSON value about 4× (brotli 1),
 * so a larger delta would save little on disk while every read pays a hop.
 */
const MAX_SUFFIX_SHARE = 0.25;

/** No value smaller than this can be the base of a delta (its successor would be too small, or change too much). */
export const MIN_BASE_BYTES = Math.ceil(MIN_DELTA_VALUE_BYTES * (1 - MAX_SUFFIX_SHARE));
/**
 * A chain ends (the next version is stored whole) once its suffixes add up
 * to this share of the value: a read then never fetches more than about
 * twice a value's bytes, however small each step's change is.
 */
const MAX_CHAIN_SHARE = 1;
/** A delta's base may be at most this many times the size of the value it rebuilds. */
const MAX_BASE_GROWTH = 2;

/** The base a new version may extend, as the saver remembers it. */
export interface DeltaBase {
  version: string;
  type: string;
  bytes: Uint8Array;
  depth: number;
  chainBytes: number;
}

/**
 * The shared prefix with `base` when storing `bytes` as a delta is worth it
 * and keeps the chain within `maxChain` hops; undefined to store it whole.
 */
export function deltaPrefix(type: string, bytes: Uint8Array, base: DeltaBase | undefined, maxChain: number): number | undefined {
  if (base === undefined || base.type !== type || base.depth + 1 > maxChain) return undefined;
  if (bytes.byteLength < MIN_DELTA_VALUE_BYTES || !isDeltaBaseVersion(base.version)) return undefined;
  // A value much smaller than its base (a list truncated, a summary replacing a history) is
  // stored whole: as a delta, every read of it would fetch the bigger value its chain ends at.
  if (base.bytes.byteLength > bytes.byteLength * MAX_BASE_GROWTH) return undefined;
  const prefix = sharedPrefixLength(bytes, base.bytes);
  const suffix = bytes.byteLength - prefix;
  if (suffix > bytes.byteLength * MAX_SUFFIX_SHARE) return undefined;
  if (base.chainBytes + suffix > bytes.byteLength * MAX_CHAIN_SHARE) return undefined;
  return prefix;
}
