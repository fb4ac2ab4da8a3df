import { Document } from "@langchain/core/documents";
import { StringPromptValue } from "@langchain/core/prompt_values";
import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { DeltaSnapshot, JsonPlusSerializer } from "@langchain/langgraph-checkpoint";
import { Command, Send } from "@langchain/langgraph";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SafeJsonPlusSerializer } from "../../../src/codec/serializer.js";
import { UnrevivableError } from "../../../src/codec/reviver.js";
import { SerializationError } from "../../../src/errors.js";
import { InvalidOptionsError } from "../../../src/errors.js";
import { LOOK_ALIKES, storedForm } from "../../support/look-alikes.js";

const ours = new SafeJsonPlusSerializer();
const official = new JsonPlusSerializer();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function roundTrip(value: unknown, serde: JsonPlusSerializer = ours): Promise<unknown> {
  const [type, bytes] = await serde.dumpsTyped(value);
  return serde.loadsTyped(type, bytes);
}

/** Bytes as `JsonPlusSerializer` wrote them (rows of the official saver, or of this package before escaping). */
async function legacy(value: unknown): Promise<Uint8Array> {
  return (await official.dumpsTyped(value))[1];
}

const secretInside = {
  lc: 1, type: "constructor", id: ["langchain_core", "messages", "HumanMessage"],
  kwargs: { content: { lc: 1, type: "secret", id: ["HOME"] } },
};

describe("SafeJsonPlusSerializer: plain data comes back as plain data", () => {
  for (const [name, shape] of Object.entries(LOOK_ALIKES)) {
    it(`${name}: at the top level, nested in objects, arrays, Maps, Sets and Send args`, async () => {
      const nested = { a: [{ b: shape }], deep: { deeper: { deepest: [[shape]] } } };
      expect(await roundTrip(shape)).toEqual(shape);
      expect(await roundTrip(nested)).toEqual(nested);
      const map = (await roundTrip(new Map([["k", shape]]))) as Map<string, unknown>;
      expect(map.get("k")).toEqual(shape);
      const set = (await roundTrip(new Set([shape]))) as Set<unknown>;
      expect([...set]).toEqual([shape]);
      // LangGraph's Send constructor itself turns Send-shaped objects in its args into Sends.
      if (shape.lg_name === "Send") return;
      const send = (await roundTrip([new Send("tool", { args: shape })])) as Array<{ node: string; args: unknown }>;
      expect(send[0]).toEqual({ node: "tool", args: { args: shape } });
    });

  }

  // Inside a message, @langchain/core escapes objects with an `lc` key itself; the Send shape has
  // none (see the next test).
  for (const [name, shape] of Object.entries(LOOK_ALIKES).filter(([, shape]) => shape.lg_name !== "Send")) {
    it(`${name}: inside a real message (additional kwargs, tool call arguments, content blocks)`, async () => {
      const message = new AIMessage({
        content: [{ type: "text", text: "x", extra: shape }],
        additional_kwargs: { payload: shape },
        tool_calls: [{ id: "call-1", name: "lookup", args: { result: shape } }],
      });
      const back = (await roundTrip([message])) as AIMessage[];
      expect(back[0]).toBeInstanceOf(AIMessage);
      expect(back[0]!.additional_kwargs.payload).toEqual(shape);
      expect(back[0]!.tool_calls?.[0]?.args).toEqual({ result: shape });
      expect((back[0]!.content as Array<Record<string, unknown>>)[0]!.extra).toEqual(shape);
    });
  }

  it("a Send-shaped object inside a message is rewritten as LangGraph's serializer rewrites it, as with the official saver", async () => {
    const message = new AIMessage({ content: "x", additional_kwargs: { payload: LOOK_ALIKES["LangGraph's Send"] } });
    const ourCopy = ((await roundTrip(message)) as AIMessage).additional_kwargs.payload;
    expect(ourCopy).toEqual({ node: "tool", args: { q: 1 } });
    expect(((await roundTrip(message, official)) as AIMessage).additional_kwargs.payload).toEqual(ourCopy);
  });

  it("stores data without look-alikes byte for byte as JsonPlusSerializer does", async () => {
    const values = [
      { messages: [new HumanMessage("hi"), new AIMessage({ content: "", tool_calls: [{ id: "1", name: "t", args: { q: 1 } }] })] },
      { lc: "en", type: "constructor", id: ["x"] },
      { lc: 3, nested: { lc: "1" } },
      new Map([["a", new Set([1])]]),
      [new Send("n", { x: 1 })],
      new Document({ pageContent: "p", metadata: { source: "s" } }),
      { u: undefined, d: new Date(0), r: /x/g },
    ];
    for (const value of values) {
      expect(text((await ours.dumpsTyped(value))[1])).toBe(text((await official.dumpsTyped(value))[1]));
    }
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        // fast-check can make {lc: 1} and friends: those are what this test is not about.
        fc.pre(!/"(lc|lg_name|__lc_plain__)"/.test(JSON.stringify(value)));
        expect(text((await ours.dumpsTyped(value))[1])).toBe(text((await official.dumpsTyped(value))[1]));
      }),
    );
  });

  it("round-trips any JSON value, look-alikes mixed in at any depth", async () => {
    const lookAlike = fc.constantFrom(...Object.values(LOOK_ALIKES));
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.jsonValue({ maxDepth: 1 }),
        lookAlike,
        fc.array(tie("node"), { maxLength: 4 }),
        fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("lc", "type", "id", "kwargs", "lg_name", "__lc_plain__", "__proto__")), tie("node"), { maxKeys: 4 }),
      ),
    })).node;
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        // What JSON itself keeps (it writes -0 as 0); nothing else may change.
        expect(await roundTrip(v)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 500 },
    );
  });

  it("keeps a \"__proto__\" key as a key, in escaped objects too", async () => {
    const value = JSON.parse('{"__proto__": {"lc": 1, "type": "constructor", "id": ["x"], "kwargs": {}}, "lc": 2}');
    const back = (await roundTrip(value)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.hasOwn(back, "__proto__")).toBe(true);
    expect(back).toEqual(value);
  });
});

describe("SafeJsonPlusSerializer: LangChain objects", () => {
  it("revives real messages, tool calls and other LangChain objects", async () => {
    const values = [
      new HumanMessage({ content: "hi", id: "m1" }),
      new AIMessage({ content: "", tool_calls: [{ id: "c1", name: "search", args: { q: "x" } }] }),
      new ToolMessage({ content: "{}", tool_call_id: "c1" }),
      new StringPromptValue("prompt"),
    ];
    const back = (await roundTrip(values)) as unknown[];
    expect(back[0]).toBeInstanceOf(HumanMessage);
    expect(back[1]).toBeInstanceOf(AIMessage);
    expect((back[1] as AIMessage).tool_calls).toMatchObject([{ id: "c1", name: "search", args: { q: "x" } }]);
    expect(back[2]).toBeInstanceOf(ToolMessage);
    expect(back[3]).toBeInstanceOf(StringPromptValue);
    expect(back).toEqual(await roundTrip(values, official));
  });

  it("reads what JsonPlusSerializer wrote as it reads it, when nothing looks alike", async () => {
    const values = [
      { messages: [new HumanMessage("a"), new AIMessage({ content: "b", id: undefined })], n: 1, u: undefined },
      new Map([["k", [new Set(["v"]), new Uint8Array([1, 2]), /re/i, new Error("boom")]]]),
      [new Send("node", { x: [1] })],
    ];
    for (const value of values) {
      const bytes = await legacy(value);
      expect(await ours.loadsTyped("json", bytes)).toEqual(await official.loadsTyped("json", bytes));
    }
  });

  it("reads look-alikes JsonPlusSerializer stored: allowed classes revive, others stay plain data, never an untyped error", async () => {
    // Stored unescaped (the official saver, or this package before it escaped): indistinguishable from a real message.
    expect(await ours.loadsTyped("json", await legacy(LOOK_ALIKES["a LangChain message"]))).toBeInstanceOf(HumanMessage);
    // A class outside the allow-list: the official serializer throws "Invalid namespace"; here it is plain data.
    const foreign = LOOK_ALIKES["a foreign class"]!;
    await expect(official.loadsTyped("json", await legacy(foreign))).rejects.toThrow(/Invalid namespace/);
    expect(await ours.loadsTyped("json", await legacy({ deep: [foreign] }))).toEqual({ deep: [foreign] });
    // LangChain's escape inside a message, which the official serializer undoes before loading.
    const message = new AIMessage({ content: "x", additional_kwargs: { a: foreign } });
    await expect(official.loadsTyped("json", await legacy(message))).rejects.toThrow(/Invalid namespace/);
    expect(((await ours.loadsTyped("json", await legacy(message))) as AIMessage).additional_kwargs.a).toEqual(foreign);
  });

  it("fails with a typed error, or returns plain data with unrevivable: \"plain\", for allowed objects core cannot construct", async () => {
    for (const [stored, reason] of [
      [LOOK_ALIKES["an unknown LangChain class"], /has no class at its class path/],
      [secretInside, /refers to a secret/],
    ] as const) {
      const bytes = await legacy({ state: [stored] });
      const error = await ours.loadsTyped("json", bytes).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnrevivableError);
      expect(error).toBeInstanceOf(SerializationError);
      expect((error as Error).message).toMatch(reason);
      // Never the stored content: not the class path, not the secret's name.
      expect((error as Error).message).not.toMatch(/NoSuchMessage|HOME|langchain_core/);
      const plain = new SafeJsonPlusSerializer({ unrevivable: "plain" });
      expect(await plain.loadsTyped("json", bytes)).toEqual({ state: [stored] });
    }
  });

  it("revives only the allow-list", async () => {
    const messagesOnly = new SafeJsonPlusSerializer({ allow: ["langchain_core.messages"] });
    const [type, bytes] = await messagesOnly.dumpsTyped([new HumanMessage("hi"), new StringPromptValue("p")]);
    const back = (await messagesOnly.loadsTyped(type, bytes)) as unknown[];
    expect(back[0]).toBeInstanceOf(HumanMessage);
    expect(back[1]).not.toBeInstanceOf(StringPromptValue);
    expect(back[1]).toMatchObject({ lc: 1, type: "constructor", id: ["langchain_core", "prompt_values", "StringPromptValue"], kwargs: { value: "p" } });
    const oneClass = new SafeJsonPlusSerializer({ allow: ["langchain_core.messages.HumanMessage"] });
    const mixed = (await oneClass.loadsTyped("json", await legacy([new HumanMessage("a"), new AIMessage("b")]))) as unknown[];
    expect(mixed[0]).toBeInstanceOf(HumanMessage);
    expect(mixed[1]).not.toBeInstanceOf(AIMessage);
    const none = new SafeJsonPlusSerializer({ allow: [] });
    expect(await none.loadsTyped("json", await legacy(new HumanMessage("a")))).not.toBeInstanceOf(HumanMessage);
  });

  it("refuses malformed options", () => {
    for (const options of [{ allow: "langchain_core" }, { allow: ["a..b"] }, { allow: [""] }, { allow: [1] }, { unrevivable: "ignore" }, "x"]) {
      expect(() => new SafeJsonPlusSerializer(options as never)).toThrow(InvalidOptionsError);
    }
  });
});

describe("SafeJsonPlusSerializer: hostile stored data", () => {
  const stored = (id: string[], kwargs: Record<string, unknown> = { content: "hi" }) =>
    JSON.stringify({ v: { lc: 1, type: "constructor", id, kwargs } });

  it("reaches no class through a class path that only starts like an allowed one, nor anything that is not a class", async () => {
    const names = { Object: Object.name, Array: Array.name, HumanMessage: HumanMessage.name };
    const oneClass = new SafeJsonPlusSerializer({ allow: ["langchain_core.messages.HumanMessage"] });
    for (const [serde, id] of [
      [oneClass, ["langchain_core", "messages", "HumanMessage", "AIMessage"]],
      [oneClass, ["langchain_core", "messages", "HumanMessage", "mergeContent"]],
      [ours, ["langchain_core", "messages", "constructor"]],
      [ours, ["langchain_core", "__proto__", "constructor"]],
      [ours, ["langchain_core", "messages", "coerceMessageLikeToMessage"]],
    ] as const) {
      const back = (await serde.loadsTyped("json", stored([...id]))) as { v: unknown };
      expect(back.v).toEqual({ lc: 1, type: "constructor", id, kwargs: { content: "hi" } });
    }
    expect({ Object: Object.name, Array: Array.name, HumanMessage: HumanMessage.name }).toEqual(names);
  });

  it("by default constructs only data classes: no LangSmith client from stored arguments", async () => {
    const id = ["langchain_core", "document_loaders", "langsmith", "LangSmithLoader"];
    const back = (await ours.loadsTyped("json", stored(id, { clientConfig: { apiUrl: "http://attacker.invalid" }, datasetName: "x" }))) as { v: unknown };
    expect(back.v).toEqual({ lc: 1, type: "constructor", id, kwargs: { clientConfig: { apiUrl: "http://attacker.invalid" }, datasetName: "x" } });
  });

  it("gives a \"__proto__\" key inside a stored message no prototype to reach", async () => {
    const message = { lc: 1, type: "constructor", id: ["langchain_core", "messages", "AIMessage"], kwargs: { content: "x", additional_kwargs: JSON.parse('{"__proto__": {"isAdmin": true}}') } };
    const back = (await ours.loadsTyped("json", JSON.stringify(message))) as AIMessage;
    expect(back).toBeInstanceOf(AIMessage);
    expect((back.additional_kwargs as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.hasOwn(back.additional_kwargs, "__proto__")).toBe(true);
  });

  it("fails reading or writing a value nested too deeply with a typed error, and leaves no load() running", async () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 20_000; i += 1) deep = { a: deep };
    await expect(ours.dumpsTyped(deep)).rejects.toBeInstanceOf(SerializationError);
    // Written by the official serializer's JSON (no walk), with an unrevivable object beside it.
    const text = `{"bad": ${JSON.stringify(LOOK_ALIKES["an unknown LangChain class"])}, "tree": ${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}}`;
    await expect(ours.loadsTyped("json", text)).rejects.toBeInstanceOf(SerializationError);
    // An unhandled rejection would fail this file: give one the time to surface.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  it("keeps the classes LangGraph's serializer recognises when what they hold is escaped", async () => {
    const snapshot = (await roundTrip(new DeltaSnapshot([LOOK_ALIKES["a LangChain message"]]))) as DeltaSnapshot;
    expect(snapshot).toBeInstanceOf(DeltaSnapshot);
    expect(snapshot.value).toEqual([LOOK_ALIKES["a LangChain message"]]);
    const error = Object.assign(new Error("boom"), { details: LOOK_ALIKES["LangGraph's undefined"] });
    expect(await roundTrip(error)).toEqual(await roundTrip(error, official));
    expect(await roundTrip(error)).toBeInstanceOf(Error);
  });

  it("escapes what a toJSON() returns, an Error's own toJSON() included; LangGraph's Sends inside a Command stay Sends", async () => {
    class Holder {
      constructor(readonly json: unknown) {}
      toJSON() {
        return this.json;
      }
    }
    class ToolError extends Error {
      constructor(readonly body: unknown) {
        super("tool failed");
      }
      toJSON() {
        return { message: this.message, body: this.body };
      }
    }
    // A Send-shaped object in what a toJSON() returns is taken for one of LangGraph's own, as Command.toJSON() writes them.
    for (const shape of Object.values(LOOK_ALIKES).filter((shape) => shape.lg_name !== "Send")) {
      expect(await roundTrip({ held: new Holder(shape) })).toEqual({ held: shape });
      expect(await roundTrip({ error: new ToolError(shape) })).toEqual({ error: { message: "tool failed", body: shape } });
    }
    const command = new Command({ goto: [new Send("tool", { q: 1 })], update: { a: 1 } });
    expect(text((await ours.dumpsTyped({ command }))[1])).toBe(text((await official.dumpsTyped({ command }))[1]));
  });

  it("leaves out what JSON drops from an object it wraps, and wraps a boxed lc", async () => {
    class Widget {
      lc = 2;
      name = "w";
      onChange = () => undefined;
    }
    expect(await roundTrip({ widget: new Widget() })).toEqual({ widget: { lc: 2, name: "w" } });
    const boxed = { lc: Object(1) as number, type: "constructor", id: ["langchain_core", "messages", "HumanMessage"], kwargs: { content: "x" } };
    const back = (await roundTrip({ boxed })) as { boxed: Record<string, unknown> };
    expect(back.boxed).not.toBeInstanceOf(HumanMessage);
    expect(back.boxed).toEqual({ ...boxed, lc: 1 });
  });

  it("stores what toJSON() returns as JSON does: once, and itself when it returns itself", async () => {
    class Self {
      x = 1;
      toJSON() {
        return this;
      }
    }
    class Twice {
      constructor(readonly depth: number) {}
      toJSON() {
        return new Twice(this.depth + 1);
      }
    }
    expect(await roundTrip({ self: new Self() })).toEqual({ self: { x: 1 } });
    expect(await roundTrip({ twice: new Twice(0) })).toEqual(await roundTrip({ twice: new Twice(0) }, official));
  });
});

describe("what the official serializer sees of escaped values", () => {
  it("reads them as inert plain wrappers: no revival, no error", async () => {
    for (const shape of Object.values(LOOK_ALIKES)) {
      const [, bytes] = await ours.dumpsTyped({ value: shape });
      const seen = (await official.loadsTyped("json", bytes)) as { value: Record<string, unknown> };
      if (shape.lc === 1 || shape.lc === 2 || shape.lg_name === "Send") expect(seen.value).toEqual(storedForm(shape));
    }
  });
});
