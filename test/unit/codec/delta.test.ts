import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeltaCache, type KnownValue } from "../../../src/codec/delta-cache.js";
import {
  applyDelta,
  crc32,
  deltaPrefix,
  deltaType,
  isDeltaType,
  parseDeltaType,
  rebuild,
  sharedPrefixLength,
  tableCrc32,
} from "../../../src/codec/delta.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : new TextDecoder().decode(data));

describe("the delta type tag", () => {
  it("round-trips through deltaType and parseDeltaType, also under a compaction suffix's removal", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("json", "bytes", "msgpack"),
        fc.nat({ max: 2 ** 40 }),
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.stringMatching(/^[0-9A-Za-z._-]{1,40}$/),
        (type, prefixLength, crc, baseVersion) => {
          const tag = deltaType({ type, prefixLength, crc, baseVersion });
          expect(parseDeltaType(tag)).toEqual({ type, prefixLength, crc, baseVersion });
          expect(isDeltaType(tag)).toBe(true);
          expect(isDeltaType(`${tag}+br`)).toBe(true);
        },
      ),
    );
  });

  it("is not found in full values' types, however they look", () => {
    for (const type of ["json", "json+br", "bytes", "empty", "json+delta", "json+delta:1:zz:2", "json+delta:1:0000000a:bad version"]) {
      expect(parseDeltaType(type), type).toBeUndefined();
    }
  });
});

describe("sharedPrefixLength", () => {
  it("agrees with a byte-by-byte scan", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (common, a, b) => {
        const left = new Uint8Array([...common, ...a]);
        const right = new Uint8Array([...common, ...b]);
        let expected = 0;
        while (expected < Math.min(left.length, right.length) && left[expected] === right[expected]) expected += 1;
        expect(sharedPrefixLength(left, right)).toBe(expected);
      }),
    );
  });
});

describe("rebuild", () => {
  it("equals applying each delta in turn to the keyframe", () => {
    const step = fc.record({ keep: fc.double({ min: 0, max: 1, noNaN: true }), suffix: fc.uint8Array({ maxLength: 200 }) });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(step, { maxLength: 40 }), (keyframe, steps) => {
        let value = keyframe;
        const deltas = steps.map(({ keep, suffix }) => {
          const prefixLength = Math.floor(keep * value.length);
          value = new Uint8Array([...value.subarray(0, prefixLength), ...suffix]);
          return { prefixLength, suffix };
        });
        expect(rebuild(keyframe, deltas)).toEqual(Buffer.from(value));
      }),
    );
  });

  it("refuses a delta that keeps more bytes than its base has", () => {
    expect(rebuild(bytes("abc"), [{ prefixLength: 4, suffix: bytes("d") }])).toBeUndefined();
    expect(rebuild(bytes("abc"), [{ prefixLength: 1, suffix: bytes("") }, { prefixLength: 2, suffix: bytes("x") }])).toBeUndefined();
  });

  it("applyDelta checks the checksum of what it rebuilds", () => {
    const value = bytes('[{"a":1},{"b":2}]');
    const ref = { type: "json", prefixLength: 8, crc: crc32(value), baseVersion: "1" };
    expect(text(applyDelta(bytes('[{"a":1}]'), ref, bytes(',{"b":2}]')))).toBe('[{"a":1},{"b":2}]');
    expect(applyDelta(bytes('[{"a":9}]'), ref, bytes(',{"b":2}]'))).toBeUndefined();
  });
});

describe("crc32", () => {
  it("is zlib's CRC-32, and so is the table fallback for Node before 20.15", () => {
    for (const crc of [crc32, tableCrc32]) {
      expect(crc(bytes("123456789"))).toBe(0xcbf43926);
      expect(crc(new Uint8Array())).toBe(0);
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), (data) => {
      expect(tableCrc32(data)).toBe(crc32(data));
    }));
  });
});

describe("deltaPrefix: when a value is stored as a delta", () => {
  const history = (n: number) => `[${Array.from({ length: n }, (_, i) => `{"id":${i},"text":"${"x".repeat(100)}"}`).join(",")}]`;
  const base = (value: string, extra: Partial<KnownValue> = {}): KnownValue =>
    ({ version: "3.25", type: "json", bytes: bytes(value), depth: 0, chainBytes: 0, ...extra });

  it("an appended item: the shared prefix, up to the closing bracket", () => {
    const before = history(20);
    expect(deltaPrefix("json", bytes(history(21)), base(before), 32)).toBe(before.length - 1);
  });

  it("stores whole: no base, another type, a tiny value, a big change, a full chain, a chain as big as the value, an unsafe version, a truncation", () => {
    const next = bytes(history(21));
    expect(deltaPrefix("json", next, undefined, 32)).toBeUndefined();
    expect(deltaPrefix("bytes", next, base(history(20)), 32)).toBeUndefined();
    expect(deltaPrefix("json", bytes(history(2)), base(history(1)), 32)).toBeUndefined();
    expect(deltaPrefix("json", next, base(history(10)), 32)).toBeUndefined();
    expect(deltaPrefix("json", next, base(history(20), { depth: 32 }), 32)).toBeUndefined();
    expect(deltaPrefix("json", next, base(history(20), { depth: 31 }), 32)).toBeDefined();
    expect(deltaPrefix("json", next, base(history(20), { chainBytes: next.length }), 32)).toBeUndefined();
    expect(deltaPrefix("json", next, base(history(20), { version: "3+4" }), 32)).toBeUndefined();
    expect(deltaPrefix("json", next, base(history(20), { version: "a version" }), 32)).toBeUndefined();
    // A truncation: the base is more than twice the new value.
    expect(deltaPrefix("json", bytes(history(9).slice(0, -1) + "]"), base(history(20)), 32)).toBeUndefined();
    expect(deltaPrefix("json", bytes(history(16).slice(0, -1) + "]"), base(history(20)), 32)).toBeDefined();
  });
});

describe("DeltaCache", () => {
  const value = (version: string, size = 1000): KnownValue =>
    ({ version, type: "json", bytes: new Uint8Array(size), depth: 0, chainBytes: 0 });

  it("gives a base only for a checkpoint whose parent is the one it remembers, at the version that parent names", () => {
    const cache = new DeltaCache(100_000);
    cache.remember("t", "", "cp-1", { messages: 2, other: 1 }, new Map([["messages", value("2")], ["other", value("1")]]));
    expect(cache.basesFor("t", "", "cp-1")("messages")?.version).toBe("2");
    expect(cache.basesFor("t", "", "cp-0")("messages")).toBeUndefined();
    expect(cache.basesFor("t", "", undefined)("messages")).toBeUndefined();
    expect(cache.basesFor("t", "sub", "cp-1")("messages")).toBeUndefined();
    expect(cache.basesFor("u", "", "cp-1")("messages")).toBeUndefined();
    // The next checkpoint changed "messages" only: "other" keeps its remembered value.
    cache.remember("t", "", "cp-2", { messages: 3, other: 1 }, new Map([["messages", value("3")]]));
    expect(cache.basesFor("t", "", "cp-2")("messages")?.version).toBe("3");
    expect(cache.basesFor("t", "", "cp-2")("other")?.version).toBe("1");
    // A checkpoint naming another version than the one remembered gets no base, and the stale value is dropped.
    const before = cache.size;
    cache.remember("t", "", "cp-3", { messages: 5, other: 1 }, new Map());
    expect(cache.basesFor("t", "", "cp-3")("messages")).toBeUndefined();
    expect(cache.size).toBe(before - 1000 - 256);
  });

  it("keeps values too small to extend out of it: they could never be a base", () => {
    const cache = new DeltaCache(100_000);
    cache.remember("t", "", "1", { small: 1, big: 1 }, new Map([["small", value("1", 383)], ["big", value("1", 384)]]));
    expect(cache.basesFor("t", "", "1")("small")).toBeUndefined();
    expect(cache.basesFor("t", "", "1")("big")).toBeDefined();
  });

  it("keeps at most its capacity, counting what each entry costs besides its bytes, dropping the least recently used thread first", () => {
    const perThread = 512 + 64 + 1000 + 256;
    const cache = new DeltaCache(2 * perThread + 100);
    cache.remember("a", "", "1", { c: 1 }, new Map([["c", value("1")]]));
    cache.remember("b", "", "1", { c: 1 }, new Map([["c", value("1")]]));
    expect(cache.size).toBe(2 * perThread);
    expect(cache.basesFor("a", "", "1")("c")).toBeDefined();
    cache.remember("c", "", "1", { c: 1 }, new Map([["c", value("1")]]));
    expect(cache.size).toBe(2 * perThread);
    expect(cache.basesFor("a", "", "1")("c")).toBeDefined();
    expect(cache.basesFor("b", "", "1")("c")).toBeUndefined();
    cache.remember("d", "", "1", { c: 1 }, new Map([["c", value("1", 5000)]]));
    expect(cache.basesFor("d", "", "1")("c")).toBeUndefined();
    expect(cache.size).toBeLessThanOrEqual(2 * perThread + 100);
  });

  it("many small values cannot grow it past its capacity", () => {
    const cache = new DeltaCache(1_000_000);
    for (let i = 0; i < 20_000; i += 1) {
      cache.remember(`t${i}`, "", "1", { a: 1, b: 1, c: 1 }, new Map([["a", value("1", 400)], ["b", value("1", 0)], ["c", value("1", 1)]]));
    }
    expect(cache.size).toBeLessThanOrEqual(1_000_000);
    expect(cache.basesFor("t19999", "", "1")("a")).toBeDefined();
    expect(cache.basesFor("t0", "", "1")("a")).toBeUndefined();
  });

  it("forgets every namespace of a thread, and nothing of its neighbours", () => {
    const cache = new DeltaCache(100_000);
    for (const [thread, ns] of [["t", ""], ["t", "sub:1"], ["t2", ""]] as const) {
      cache.remember(thread, ns, "1", { c: 1 }, new Map([["c", value("1")]]));
    }
    cache.forgetThread("t");
    expect(cache.basesFor("t", "", "1")("c")).toBeUndefined();
    expect(cache.basesFor("t", "sub:1", "1")("c")).toBeUndefined();
    expect(cache.basesFor("t2", "", "1")("c")).toBeDefined();
    expect(cache.size).toBe(512 + 64 + 1000 + 256);
  });

  it("with no capacity remembers nothing", () => {
    const cache = new DeltaCache(0);
    cache.remember("t", "", "1", { c: 1 }, new Map([["c", value("1")]]));
    expect(cache.basesFor("t", "", "1")("c")).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
