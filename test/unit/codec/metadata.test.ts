import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { filterToStorableJson, fromStoredJson, hasEscapedNul, toStorableJson } from "../../../src/codec/metadata.js";

describe("NUL-safe metadata JSON", () => {
  it("round-trips any JSON value exactly", () => {
    // Strings biased towards the two characters the escaping is about.
    const text = fc.string({ unit: fc.constantFrom("a", "\u0000", "\uffff", "0", "1", "u", "\\", "é", "😀", "\ud800", "\udc00") });
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: "small" }, text, fc.integer(), fc.boolean(), fc.constant(null), tie("array"), tie("object")),
      array: fc.array(tie("value"), { maxLength: 4 }),
      object: fc.dictionary(text, tie("value"), { maxKeys: 4 }),
    })).object;
    fc.assert(
      fc.property(json, (value) => {
        const stored = toStorableJson(JSON.stringify(value));
        expect(hasEscapedNul(stored)).toBe(false);
        // No unpaired surrogate survives into what JSONB is given.
        expect(/\\ud[89a-f]/i.test(stored)).toBe(false);
        expect(JSON.parse(fromStoredJson(stored))).toEqual(value);
      }),
      { numRuns: 500 },
    );
  });

  it("leaves metadata without NUL or U+FFFF byte-for-byte unchanged", () => {
    const json = JSON.stringify({ source: "loop", step: 3, note: "plain \\u0000 text, not a NUL" });
    expect(toStorableJson(json)).toBe(json);
    expect(fromStoredJson(json)).toBe(json);
  });

  it("escapes filters the same way as stored values", () => {
    const stored = JSON.parse(toStorableJson(JSON.stringify({ tag: "a\u0000b", other: 1 })));
    expect(stored).toMatchObject(JSON.parse(filterToStorableJson({ tag: "a\u0000b" })));
  });

  it("keeps a __proto__ key as data", () => {
    const json = '{"__proto__":{"polluted":"\\u0000"}}';
    const back = JSON.parse(fromStoredJson(toStorableJson(json)));
    expect(Object.keys(back)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("detects escaped NUL but not an escaped backslash followed by u0000", () => {
    expect(hasEscapedNul(JSON.stringify("x\u0000"))).toBe(true);
    expect(hasEscapedNul(JSON.stringify("\\u0000"))).toBe(false);
    expect(hasEscapedNul(JSON.stringify("\\\u0000"))).toBe(true);
  });
});
