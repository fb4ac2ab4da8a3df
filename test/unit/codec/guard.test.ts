import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { SerializationError } from "../../../src/errors.js";
import { assertFaithfullySerializable, prepareForJson } from "../../../src/codec/guard.js";
import { storedForm } from "../../support/look-alikes.js";

const ok = (v: unknown) => expect(() => assertFaithfullySerializable(v, "value")).not.toThrow();
const refused = (v: unknown, path: RegExp) => {
  let error: unknown;
  try {
    assertFaithfullySerializable(v, "value");
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SerializationError);
  expect((error as Error).message).toMatch(path);
};

describe("values JSON would silently change", () => {
  it("accepts JSON data, undefined, Map, Set, typed arrays, Dates, messages and shared (non-circular) references", () => {
    const shared = { x: 1 };
    ok({ a: [1, "two", null, true, { b: undefined }], shared, again: shared });
    ok(new Map([["k", new Set([1, 2])]]));
    ok(new Uint8Array(10_000));
    ok(new Date(0));
    ok([new HumanMessage("hi"), new AIMessage({ content: "", tool_calls: [{ id: "1", name: "t", args: {} }] })]);
  });

  it("refuses BigInt, functions, symbols, non-finite numbers and cycles, naming the path", () => {
    refused({ a: { b: [0, 1n] } }, /value\.a\.b\[1\]: it is a BigInt/);
    refused({ onDone: () => undefined }, /value\.onDone: it is a function/);
    refused([Symbol("s")], /value\[0\]: it is a symbol/);
    refused({ score: Number.POSITIVE_INFINITY }, /value\.score: it is Infinity/);
    refused({ x: Number.NaN }, /it is NaN/);
    const cycle: unknown[] = [];
    cycle.push({ back: cycle });
    refused(cycle, /value\[0\]\.back: it is a circular reference/);
    refused(new Map([["k", 2n]]), /BigInt/);
    refused(new Set([{ n: 3n }]), /BigInt/);
    refused(new HumanMessage({ content: "x", additional_kwargs: { big: 1n } }), /BigInt/);
  });

  it("ignores methods that class instances carry as own properties", () => {
    class WithBoundMethod {
      value = 1;
      handler = () => this.value;
    }
    ok(new WithBoundMethod());
  });
});

describe("escaping look-alike data in the same walk", () => {
  const escape = (v: unknown) => prepareForJson(v, "value", { strict: true, escape: true });

  it("returns the very same value when nothing looks like a serialized LangChain object", () => {
    const value = { messages: [new HumanMessage("hi")], nested: { lc: "en", list: [1, { lc: 3 }] }, map: new Map([["k", { a: 1 }]]) };
    expect(escape(value)).toBe(value);
  });

  it("escapes look-alikes in a copy, leaving the caller's value untouched", () => {
    const lookAlike = { lc: 1, type: "constructor", id: ["x"], kwargs: {} };
    const value = { keep: { a: 1 }, list: [0, lookAlike], map: new Map([["k", lookAlike]]) };
    const escaped = escape(value) as typeof value;
    expect(escaped).not.toBe(value);
    expect(escaped.keep).toBe(value.keep);
    expect(escaped.list[1]).toEqual(storedForm(lookAlike));
    expect((escaped.map as Map<string, unknown>).get("k")).toEqual(storedForm(lookAlike));
    expect(value.list[1]).toBe(lookAlike);
    expect(lookAlike.lc).toBe(1);
  });

  it("still refuses what JSON would change, naming the path through escaped objects", () => {
    expect(() => escape({ a: { lc: 1, type: "constructor", id: ["x"], kwargs: { n: 1n } } })).toThrow(/value\.a\.kwargs\.n: it is a BigInt/);
  });
});
