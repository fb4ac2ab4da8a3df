import { randomBytes } from "node:crypto";
import zlib from "node:zlib";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { serializedMessagesBlob } from "../../../bench/support/conversation.mjs";
import { compact, expand } from "../../../src/codec/compaction.js";
import type { CodecName, CompactionSettings } from "../../../src/config/payload.js";
import {
  CheckpointerError,
  InvalidOptionsError,
  PayloadTooLargeError,
  PostgresSaver,
  type PostgresSaverOptions,
  SerializationError,
} from "../../../src/index.js";
import { resolveOptions } from "../../../src/config/options.js";

/**
 * `compact` / `expand` without a database: every codec round-trips on both
 * the event loop and the thread pool, the threshold and the 10% rule decide
 * what is compressed, unknown tags pass through untouched, and real
 * decompression bombs and corrupt data fail with the typed errors.
 */

const CODECS: CodecName[] = ["br", "deflate", "gzip"];
const MiB = 1024 * 1024;
/** Inflation moves to the thread pool when compressed * 64 exceeds 1 MiB, i.e. above 16 KiB compressed. */

/** The `node:zlib` functions each codec uses on the event loop (the thread-pool variants are callbacks). */
const SYNC_FUNCTIONS = {
  br: { compress: "brotliCompressSync", inflate: "brotliDecompressSync" },
  deflate: { compress: "deflateRawSync", inflate: "inflateRawSync" },
  gzip: { compress: "gzipSync", inflate: "gunzipSync" },
} as const satisfies Record<CodecName, { compress: keyof typeof zlib; inflate: keyof typeof zlib }>;

/** An independent decoder for each codec, so a stored tag is checked against the real format. */
function referenceInflate(codec: CodecName, bytes: Uint8Array): Buffer {
  if (codec === "br") return zlib.brotliDecompressSync(bytes);
  if (codec === "deflate") return zlib.inflateRawSync(bytes);
  return zlib.gunzipSync(bytes);
}

function referenceCompress(codec: CodecName, bytes: Uint8Array): Buffer {
  if (codec === "br") return zlib.brotliCompressSync(bytes);
  if (codec === "deflate") return zlib.deflateRawSync(bytes);
  return zlib.gzipSync(bytes);
}

function settings(codec: CodecName, extra: Partial<CompactionSettings> = {}) {
  return { codec, level: 1, thresholdBytes: 1024, ...extra };
}

/** Spies (calling through) on the synchronous zlib functions of `codec`. */
function spySync(codec: CodecName) {
  const names = SYNC_FUNCTIONS[codec];
  return { compress: vi.spyOn(zlib, names.compress), inflate: vi.spyOn(zlib, names.inflate) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Deterministic pseudo-random bytes (xorshift32): incompressible, but the same on every run. */
function noise(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A real decompression bomb: `prefix` (incompressible bytes, to push the
 * compressed size past a threshold) then `zeros` zero bytes, streamed through
 * a zlib compression stream in 1 MiB chunks so the plain form never exists in memory.
 */
async function buildBomb(codec: CodecName, zeros: number, prefix: Uint8Array = new Uint8Array()): Promise<Buffer> {
  const stream = codec === "br"
    // Quality 1: a 64 MiB bomb in milliseconds (quality 11 would take a second for a slightly smaller one).
    ? zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } })
    : codec === "deflate" ? zlib.createDeflateRaw({ level: 9 }) : zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  const finished = new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const write = async (chunk: Uint8Array) => {
    if (!stream.write(chunk)) await new Promise((resolve) => stream.once("drain", resolve));
  };
  if (prefix.byteLength > 0) await write(prefix);
  const chunk = Buffer.alloc(MiB);
  for (let left = zeros; left > 0; left -= chunk.byteLength) await write(left >= chunk.byteLength ? chunk : chunk.subarray(0, left));
  stream.end();
  await finished;
  return Buffer.concat(out);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

describe("round trips", () => {
  // Up to 1 MiB: compressed and inflated on the event loop. Larger: compressed
  // on the thread pool; inflation tries the event loop up to 1 MiB first,
  // then finishes on the thread pool.
  const sizes = [
    { name: "small (sync compress, sync inflate)", messages: 20, asyncCompress: false },
    { name: "medium (sync compress, sync inflate)", messages: 200, asyncCompress: false },
    { name: "large (async compress, capped sync try then async inflate)", messages: 2000, asyncCompress: true },
  ];
  const cases = CODECS.flatMap((codec) => sizes.map((size) => ({ codec, ...size })));

  it.each(cases)("$codec, $name: tagged, smaller, really in that codec, and inflated back byte for byte", async ({ codec, messages, asyncCompress }) => {
    const raw = await serializedMessagesBlob(messages);
    expect(raw.byteLength > MiB).toBe(asyncCompress);
    const spies = spySync(codec);

    const [type, stored] = await compact("json", raw, settings(codec));
    expect(type).toBe(`json+${codec}`);
    expect(stored.byteLength).toBeLessThan(raw.byteLength * 0.5);
    expect(spies.compress).toHaveBeenCalledTimes(asyncCompress ? 0 : 1);
    // The tag names the real format: an independent decoder for that codec reads it.
    expect(Buffer.from(referenceInflate(codec, stored)).equals(Buffer.from(raw))).toBe(true);

    spies.inflate.mockClear();
    const [back, bytes] = await expand(type, stored, 256 * MiB);
    expect(back).toBe("json");
    expect(Buffer.from(bytes).equals(Buffer.from(raw))).toBe(true);
    // One event-loop try, capped at 1 MiB of output: it succeeds unless the blob is larger.
    expect(spies.inflate).toHaveBeenCalledTimes(1);
    expect(spies.inflate.mock.calls[0]![1]).toMatchObject({ maxOutputLength: MiB });
  });

  it("the type tag is suffixed, never replaced: bytes and custom tags (even with a plus) come back intact", async () => {
    const raw = Buffer.from("abcdefgh".repeat(1000));
    for (const original of ["bytes", "msgpack+v2", "custom"]) {
      const [type, stored] = await compact(original, raw, settings("br"));
      expect(type).toBe(`${original}+br`);
      const [back, bytes] = await expand(type, stored, MiB);
      expect(back).toBe(original);
      expect(Buffer.from(bytes).equals(raw)).toBe(true);
    }
  });

  it("uses the configured level (deflate output is exactly zlib's at that level; brotli 11 beats brotli 1)", async () => {
    const raw = await serializedMessagesBlob(20);
    for (const level of [1, 6, 9]) {
      const [, stored] = await compact("json", raw, settings("deflate", { level }));
      expect(Buffer.from(stored).equals(zlib.deflateRawSync(raw, { level }))).toBe(true);
    }
    const [, fast] = await compact("json", raw, settings("br", { level: 1 }));
    const [, best] = await compact("json", raw, settings("br", { level: 11 }));
    expect(best.byteLength).toBeLessThan(fast.byteLength);
    expect(Buffer.from((await expand("json+br", best, MiB))[1]).equals(Buffer.from(raw))).toBe(true);
  });

  it("an empty blob is never compressed, even with a threshold of 0", async () => {
    const empty = new Uint8Array();
    for (const codec of CODECS) {
      const [type, bytes] = await compact("json", empty, settings(codec, { thresholdBytes: 0 }));
      expect(type).toBe("json");
      expect(bytes).toBe(empty);
    }
  });
});

describe("what gets compressed", () => {
  it.each(CODECS)("%s: threshold - 1 bytes stay raw, threshold bytes are compressed", async (codec) => {
    const text = Buffer.from(await serializedMessagesBlob(20));
    const threshold = 2000;
    const below = text.subarray(0, threshold - 1);
    const at = text.subarray(0, threshold);
    const [belowType, belowBytes] = await compact("json", below, settings(codec, { thresholdBytes: threshold }));
    expect(belowType).toBe("json");
    expect(belowBytes).toBe(below);
    const [atType, atBytes] = await compact("json", at, settings(codec, { thresholdBytes: threshold }));
    expect(atType).toBe(`json+${codec}`);
    expect(atBytes.byteLength).toBeLessThan(threshold);
  });

  it("the default threshold is 1024 bytes", async () => {
    const { compaction } = resolveOptions(undefined);
    expect(compaction).not.toBe(false);
    const text = Buffer.from("the same words again and again ".repeat(100));
    const [belowType] = await compact("json", text.subarray(0, 1023), compaction);
    const [atType] = await compact("json", text.subarray(0, 1024), compaction);
    expect(belowType).toBe("json");
    expect(atType).toBe("json+br");
  });

  it.each(CODECS)("%s: incompressible random bytes stay raw with their original type and bytes", async (codec) => {
    const spies = spySync(codec);
    for (const size of [4096, 2 * MiB]) {
      const raw = randomBytes(size);
      const [type, bytes] = await compact("bytes", raw, settings(codec));
      expect(type).toBe("bytes");
      expect(bytes).toBe(raw);
    }
    // It was tried (on the event loop for the small one), just not kept.
    expect(spies.compress).toHaveBeenCalledTimes(1);
  });

  it.each(CODECS)("%s: a saving under 10 percent is not worth a compressed row; a saving above it is", async (codec) => {
    const size = 64 * 1024;
    const slightly = Buffer.concat([noise(size * 0.95), Buffer.alloc(size * 0.05)]);
    const clearly = Buffer.concat([noise(size * 0.8), Buffer.alloc(size * 0.2)]);
    // Preconditions measured with zlib itself, so the cases are what their names say.
    const ratio = (b: Buffer) => referenceCompress(codec, b).byteLength / b.byteLength;
    expect(ratio(slightly)).toBeGreaterThan(0.9);
    expect(ratio(slightly)).toBeLessThan(1);
    expect(ratio(clearly)).toBeLessThan(0.9);

    const [slightlyType, slightlyBytes] = await compact("bytes", slightly, settings(codec));
    expect(slightlyType).toBe("bytes");
    expect(slightlyBytes).toBe(slightly);
    const [clearlyType, clearlyBytes] = await compact("bytes", clearly, settings(codec));
    expect(clearlyType).toBe(`bytes+${codec}`);
    expect(clearlyBytes.byteLength).toBeLessThanOrEqual(clearly.byteLength * 0.9);
  });

  it("compaction false passes everything through without calling zlib", async () => {
    const spies = CODECS.map(spySync);
    for (const size of [64 * 1024, 2 * MiB]) {
      const raw = Buffer.alloc(size, 0x61);
      const [type, bytes] = await compact("json", raw, false);
      expect(type).toBe("json");
      expect(bytes).toBe(raw);
    }
    for (const spy of spies) expect(spy.compress).not.toHaveBeenCalled();
  });
});

describe("expand passes through what it does not know", () => {
  const compressed = zlib.brotliCompressSync(Buffer.from("x".repeat(5000)));
  it.each([
    "json",
    "bytes",
    "empty",
    "json+lz4",
    "json+zstd",
    "json+BR",
    "json+",
    "json+br ",
    "json+__proto__",
    "json+constructor",
    "json+toString",
    "json+hasOwnProperty",
  ])("%s comes back unchanged, bytes untouched", async (type) => {
    const spies = spySync("br");
    const [back, bytes] = await expand(type, compressed, 10);
    expect(back).toBe(type);
    expect(bytes).toBe(compressed);
    expect(spies.inflate).not.toHaveBeenCalled();
  });
});

describe("decompression bombs", () => {
  const limit = MiB;
  /**
   * Small bombs (deflate and gzip top out near 1:1000, so 8 MiB of zeros;
   * brotli packs 64 MiB into about 12 KiB) and bombs that hide behind 32 KiB
   * of incompressible bytes.
   */
  const bombs = CODECS.flatMap((codec) => [
    { codec, shape: "zeros only", zeros: codec === "br" ? 64 * MiB : 8 * MiB, prefix: 0 },
    { codec, shape: "32 KiB of noise, then zeros", zeros: 64 * MiB, prefix: 32 * 1024 },
  ]);

  it.each(bombs)("$codec, $shape: a bomb of $zeros zero bytes fails with PayloadTooLargeError at maxBytes 1 MiB", async ({ codec, zeros, prefix }) => {
    const bomb = await buildBomb(codec, zeros, noise(prefix));
    expect(bomb.byteLength * 100).toBeLessThan(zeros + prefix);
    const spies = spySync(codec);

    const error = await rejection(expand(`json+${codec}`, bomb, limit));
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toBeInstanceOf(CheckpointerError);
    const tooLarge = error as PayloadTooLargeError;
    expect(tooLarge.code).toBe("PAYLOAD_TOO_LARGE");
    expect(tooLarge.limitBytes).toBe(limit);
    expect(tooLarge.message).toMatch(/maxPayloadBytes \(1048576 bytes\)/);
    expect((tooLarge.cause as { code?: string }).code).toBe("ERR_BUFFER_TOO_LARGE");
    // With a 1 MiB limit the capped event-loop try is the only one.
    expect(spies.inflate).toHaveBeenCalledTimes(1);

    // Control: the bomb is well-formed; only the limit refused it.
    const [type, bytes] = await expand(`json+${codec}`, bomb, zeros + prefix);
    expect(type).toBe("json");
    expect(bytes.byteLength).toBe(zeros + prefix);
  });

  it.each(CODECS)("%s: past the 1 MiB event-loop try, the thread-pool retry still stops at maxBytes", async (codec) => {
    const bomb = await buildBomb(codec, 64 * MiB, noise(0));
    const spies = spySync(codec);
    const error = await rejection(expand(`json+${codec}`, bomb, 4 * MiB));
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as PayloadTooLargeError).limitBytes).toBe(4 * MiB);
    expect(spies.inflate).toHaveBeenCalledTimes(1);
  });

  it.each(CODECS.flatMap((codec) => [
    { codec, path: "sync", data: Buffer.alloc(100_000, 0x7b) },
    { codec, path: "sync", data: noise(64 * 1024) },
    { codec, path: "async", data: noise(2 * MiB) },
  ]))("$codec $path: inflating to exactly maxBytes is allowed, one byte over is refused", async ({ codec, data }) => {
    const stored = referenceCompress(codec, data);
    const [, bytes] = await expand(`json+${codec}`, stored, data.byteLength);
    expect(Buffer.from(bytes).equals(data)).toBe(true);
    const error = await rejection(expand(`json+${codec}`, stored, data.byteLength - 1));
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as PayloadTooLargeError).limitBytes).toBe(data.byteLength - 1);
  });
});

describe("corrupt compressed data", () => {
  const corruptions = CODECS.flatMap((codec) => [
    { codec, what: "truncated (sync)", make: async () => (await compactWith(codec, 20)).subarray(0, 1500) },
    { codec, what: "truncated (async)", make: async () => { const c = await compactWith(codec, 2000); return c.subarray(0, c.byteLength - 1000); } },
    { codec, what: "not compressed at all", make: async () => Buffer.from('{"this is":"plain json, not compressed"}') },
    { codec, what: "one byte", make: async () => Buffer.from([0xff]) },
  ]);

  async function compactWith(codec: CodecName, messages: number): Promise<Buffer> {
    const [type, stored] = await compact("json", await serializedMessagesBlob(messages), settings(codec));
    expect(type).toBe(`json+${codec}`);
    return Buffer.from(stored);
  }

  it.each(corruptions)("$codec, $what: SerializationError", async ({ codec, make }) => {
    const error = await rejection(expand(`json+${codec}`, await make(), 256 * MiB));
    expect(error).toBeInstanceOf(SerializationError);
    expect(error).not.toBeInstanceOf(PayloadTooLargeError);
    expect((error as SerializationError).code).toBe("SERIALIZATION");
    expect((error as Error).message).toMatch(new RegExp(`json\\+${codec} blob is corrupt`));
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it("gzip: a flipped checksum byte is caught", async () => {
    const [, stored] = await compact("json", await serializedMessagesBlob(20), settings("gzip"));
    const flipped = Buffer.from(stored);
    flipped[flipped.byteLength - 6]! ^= 0xff;
    await expect(expand("json+gzip", flipped, MiB)).rejects.toBeInstanceOf(SerializationError);
  });

  it("a blob in one codec tagged with another is corrupt, not silently misread", async () => {
    const raw = await serializedMessagesBlob(20);
    const deflated = zlib.deflateRawSync(raw);
    await expect(expand("json+br", deflated, MiB)).rejects.toBeInstanceOf(SerializationError);
    await expect(expand("json+gzip", deflated, MiB)).rejects.toBeInstanceOf(SerializationError);
  });
});

describe("options", () => {
  const DELTAS = { deltas: true, maxDeltaChain: 32, deltaCacheBytes: 64 * MiB };

  it("defaults: brotli at level 1 from 1 KiB, deltas in chains of at most 32 with a 64 MiB cache, 256 MiB payload cap; partial settings keep the other defaults", () => {
    const defaults = resolveOptions(undefined);
    expect(defaults.compaction).toEqual({ thresholdBytes: 1024, codec: "br", level: 1, ...DELTAS });
    expect(defaults.maxPayloadBytes).toBe(256 * MiB);
    expect(resolveOptions({ compaction: { codec: "gzip" } }).compaction).toEqual({ thresholdBytes: 1024, codec: "gzip", level: 1, ...DELTAS });
    expect(resolveOptions({ compaction: { level: undefined, thresholdBytes: 4096 } }).compaction).toEqual({ thresholdBytes: 4096, codec: "br", level: 1, ...DELTAS });
    expect(resolveOptions({ compaction: {} }).compaction).toEqual({ thresholdBytes: 1024, codec: "br", level: 1, ...DELTAS });
    expect(resolveOptions({ compaction: { deltas: false } }).compaction).toMatchObject({ deltas: false, codec: "br" });
    expect(resolveOptions({ compaction: false }).compaction).toBe(false);
    expect(resolveOptions({ maxPayloadBytes: 4096 }).maxPayloadBytes).toBe(4096);
  });

  it("explicit zeros are kept, and the top level of each codec is accepted", () => {
    expect(resolveOptions({ compaction: { thresholdBytes: 0, level: 0 } }).compaction).toEqual({ thresholdBytes: 0, codec: "br", level: 0, ...DELTAS });
    expect(resolveOptions({ compaction: { deltaCacheBytes: 0 } }).compaction).toMatchObject({ deltaCacheBytes: 0 });
    expect(resolveOptions({ compaction: { codec: "br", level: 11 } }).compaction).toMatchObject({ level: 11 });
    expect(resolveOptions({ compaction: { codec: "deflate", level: 9 } }).compaction).toMatchObject({ level: 9 });
    expect(resolveOptions({ compaction: { codec: "gzip", level: 9 } }).compaction).toMatchObject({ level: 9 });
  });

  const invalid: Array<[string, PostgresSaverOptions, RegExp]> = [
    ["an unknown codec", { compaction: { codec: "lz4" as never } }, /compaction\.codec must be one of (deflate|gzip|br)(, (deflate|gzip|br)){2}, got a string/],
    ["a codec named like an Object property", { compaction: { codec: "constructor" as never } }, /compaction\.codec/],
    ["brotli level 12", { compaction: { codec: "br", level: 12 } }, /compaction\.level for br must be an integer from 0 to 11, got the number 12/],
    ["deflate level 10", { compaction: { codec: "deflate", level: 10 } }, /compaction\.level for deflate must be an integer from 0 to 9/],
    ["gzip level 10", { compaction: { codec: "gzip", level: 10 } }, /compaction\.level for gzip must be an integer from 0 to 9/],
    ["a negative level", { compaction: { level: -1 } }, /compaction\.level/],
    ["a fractional level", { compaction: { level: 1.5 } }, /compaction\.level/],
    ["deltas as a string", { compaction: { deltas: "yes" as never } }, /compaction\.deltas must be true or false, got a string/],
    ["a delta chain of 0", { compaction: { maxDeltaChain: 0 } }, /compaction\.maxDeltaChain must be a positive integer/],
    ["a delta chain past the limit", { compaction: { maxDeltaChain: 257 } }, /compaction\.maxDeltaChain must be at most 256, got 257/],
    ["a negative delta cache", { compaction: { deltaCacheBytes: -1 } }, /compaction\.deltaCacheBytes must be a non-negative integer/],
    ["a fractional delta cache", { compaction: { deltaCacheBytes: 1.5 } }, /compaction\.deltaCacheBytes/],
    ["a string level", { compaction: { level: "1" as never } }, /compaction\.level/],
    ["a negative threshold", { compaction: { thresholdBytes: -1 } }, /compaction\.thresholdBytes must be a non-negative integer, got the number -1/],
    ["a NaN threshold", { compaction: { thresholdBytes: Number.NaN } }, /compaction\.thresholdBytes/],
    ["a fractional threshold", { compaction: { thresholdBytes: 10.5 } }, /compaction\.thresholdBytes/],
    ["compaction: true", { compaction: true as never }, /expected an options object/],
    ["compaction: null", { compaction: null as never }, /expected an options object/],
    ["compaction: a string", { compaction: "br" as never }, /expected an options object/],
    ["maxPayloadBytes 0", { maxPayloadBytes: 0 }, /maxPayloadBytes must be a positive integer/],
    ["a negative maxPayloadBytes", { maxPayloadBytes: -1 }, /maxPayloadBytes must be a positive integer/],
    ["an infinite maxPayloadBytes", { maxPayloadBytes: Number.POSITIVE_INFINITY }, /maxPayloadBytes must be a positive integer/],
  ];

  it.each(invalid)("%s is refused by resolveOptions, the constructor and fromConnString", async (_name, options, message) => {
    expect(() => resolveOptions(options)).toThrow(InvalidOptionsError);
    expect(() => resolveOptions(options)).toThrow(message);
    // A pool that is never used: the constructor must refuse before touching it.
    const pool = new pg.Pool({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    try {
      const error = (() => {
        try {
          new PostgresSaver(pool, undefined, options);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as InvalidOptionsError).code).toBe("INVALID_OPTIONS");
      expect(pool.totalCount).toBe(0);
    } finally {
      await pool.end();
    }
    expect(() => PostgresSaver.fromConnString("postgres://nobody@127.0.0.1:1/none", options)).toThrow(InvalidOptionsError);
  });
});
