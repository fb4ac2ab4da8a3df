import { promisify } from "node:util";
import zlib from "node:zlib";
import type { CodecName, CompactionSettings } from "../config/payload.js";
import { PayloadTooLargeError, SerializationError } from "../errors.js";

/**
 * Compressed blobs. A blob at or above the threshold is compressed before it
 * is stored (before a connection is taken), and its type tag gets the
 * codec's suffix: `json` becomes `json+deflate`. Rows without a suffix (small
 * blobs, `compaction: false`, rows the official saver wrote) are read as they
 * are, so every kind of row coexists in one table.
 */

interface Codec {
  compress(bytes: Uint8Array, level: number): Uint8Array;
  compressAsync(bytes: Uint8Array, level: number): Promise<Uint8Array>;
  inflate(bytes: Uint8Array, maxOutputLength: number): Uint8Array;
  inflateAsync(bytes: Uint8Array, maxOutputLength: number): Promise<Uint8Array>;
}

const brotliOptions = (level: number, size: number): zlib.BrotliOptions => ({
  params: {
    [zlib.constants.BROTLI_PARAM_QUALITY]: level,
    [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
  },
});

const deflateRaw = promisify(zlib.deflateRaw);
const inflateRaw = promisify(zlib.inflateRaw);
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const brotliCompress = promisify(zlib.brotliCompress);
const brotliDecompress = promisify(zlib.brotliDecompress);

/** Every codec we can read; `suffix` is what follows the `+` in the type tag. */
const CODECS: Record<CodecName, Codec> = {
  deflate: {
    compress: (bytes, level) => zlib.deflateRawSync(bytes, { level }),
    compressAsync: (bytes, level) => deflateRaw(bytes, { level }),
    inflate: (bytes, maxOutputLength) => zlib.inflateRawSync(bytes, { maxOutputLength }),
    inflateAsync: (bytes, maxOutputLength) => inflateRaw(bytes, { maxOutputLength }),
  },
  gzip: {
    compress: (bytes, level) => zlib.gzipSync(bytes, { level }),
    compressAsync: (bytes, level) => gzip(bytes, { level }),
    inflate: (bytes, maxOutputLength) => zlib.gunzipSync(bytes, { maxOutputLength }),
    inflateAsync: (bytes, maxOutputLength) => gunzip(bytes, { maxOutputLength }),
  },
  br: {
    compress: (bytes, level) => zlib.brotliCompressSync(bytes, brotliOptions(level, bytes.byteLength)),
    compressAsync: (bytes, level) => brotliCompress(bytes, brotliOptions(level, bytes.byteLength)),
    inflate: (bytes, maxOutputLength) => zlib.brotliDecompressSync(bytes, { maxOutputLength }),
    inflateAsync: (bytes, maxOutputLength) => brotliDecompress(bytes, { maxOutputLength }),
  },
};

/**
 * Above this size the work moves to libuv's thread pool: compressing a 1 MiB
 * state takes a few milliseconds, long enough to stall other requests on the
 * event loop, while below it the hop to a thread costs more than the work.
 */
const THREAD_POOL_ABOVE_BYTES = 1024 * 1024;

/**
 * Levels above this cost 3× to 40× more per byte (brotli 11 takes about a
 * second per MiB), so they always run on the thread pool.
 */
const FAST_LEVEL_MAX = 4;

/** Keep the compressed form only when it saves at least this share of the bytes; otherwise reading it back is wasted work. */
const MIN_SAVING = 0.1;

/** The stored form of one serialized blob: compressed and re-tagged when worth it. */
export async function compact(
  type: string,
  bytes: Uint8Array,
  settings: Pick<CompactionSettings, "codec" | "level" | "thresholdBytes"> | false,
): Promise<[string, Uint8Array]> {
  if (settings === false || bytes.byteLength < settings.thresholdBytes || bytes.byteLength === 0) return [type, bytes];
  const codec = CODECS[settings.codec];
  const onEventLoop = bytes.byteLength <= THREAD_POOL_ABOVE_BYTES && settings.level <= FAST_LEVEL_MAX;
  const compressed = onEventLoop ? codec.compress(bytes, settings.level) : await codec.compressAsync(bytes, settings.level);
  if (compressed.byteLength > bytes.byteLength * (1 - MIN_SAVING)) return [type, bytes];
  return [`${type}+${settings.codec}`, compressed];
}

/**
 * The serializer's type and bytes of a stored blob, inflated if it was
 * compacted. Inflation stops at `maxBytes`: a corrupt or hostile row (a
 * decompression bomb) fails with `PayloadTooLargeError` instead of
 * exhausting memory.
 */
export async function expand(type: string, bytes: Uint8Array, maxBytes: number): Promise<[string, Uint8Array]> {
  const plus = type.lastIndexOf("+");
  if (plus < 0) return [type, bytes];
  const suffix = type.slice(plus + 1);
  if (!Object.hasOwn(CODECS, suffix)) return [type, bytes];
  const codec = CODECS[suffix as CodecName];
  try {
    return [type.slice(0, plus), await inflateBounded(codec, bytes, maxBytes)];
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new PayloadTooLargeError(
        `a stored ${type} blob inflates beyond maxPayloadBytes (${maxBytes} bytes); refusing to read it`,
        maxBytes,
        { cause: error },
      );
    }
    throw new SerializationError(`a stored ${type} blob is corrupt: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The output size is unknown until inflated (a few hundred bytes can hold
 * hundreds of MiB), so the first try runs on the event loop but stops at
 * 1 MiB; only a larger blob is inflated again, on the thread pool, up to `maxBytes`.
 */
async function inflateBounded(codec: Codec, bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const firstTry = Math.min(maxBytes, THREAD_POOL_ABOVE_BYTES);
  try {
    return codec.inflate(bytes, firstTry);
  } catch (error) {
    if (firstTry === maxBytes || (error as { code?: unknown }).code !== "ERR_BUFFER_TOO_LARGE") throw error;
    return codec.inflateAsync(bytes, maxBytes);
  }
}
