import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { ERROR } from "@langchain/langgraph-checkpoint";
import { afterEach, describe, expect, it } from "vitest";
import { CheckpointerError, InvalidInputError, SerializationError } from "../../../src/index.js";
import { useSaver } from "../../support/saver.js";
import { checkpointWith, loopMetadata } from "../../support/fixtures.js";
import { countRows } from "../../support/rows.js";

/**
 * Bad input gets an exported, typed error whose message names the problem,
 * and nothing is written: every case checks the tables stay empty.
 */
const env = useSaver();
const good = checkpointWith({ a: 1 });
const thread = "bad-input-thread";

afterEach(async () => {
  expect(await countRows(env.pool)).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });
});

type ErrorClass = new (...args: never[]) => CheckpointerError;

const circular: Record<string, unknown> = { name: "loop" };
circular.self = circular;

const putCases: Array<[string, () => Promise<unknown>, RegExp, ErrorClass]> = [
  ["config without configurable", () => env.saver.put({} as never, good, loopMetadata, {}), /configurable is missing/, InvalidInputError],
  ["config that is not an object", () => env.saver.put(null as never, good, loopMetadata, {}), /config must be an object/, InvalidInputError],
  ["missing thread_id", () => env.saver.put({ configurable: {} }, good, loopMetadata, {}), /thread_id is missing/, InvalidInputError],
  ["empty thread_id", () => env.saver.put({ configurable: { thread_id: "" } }, good, loopMetadata, {}), /thread_id must be a non-empty string/, InvalidInputError],
  ["numeric thread_id", () => env.saver.put({ configurable: { thread_id: 42 } }, good, loopMetadata, {}), /thread_id must be a non-empty string, got the number 42/, InvalidInputError],
  ["thread_id with NUL", () => env.saver.put({ configurable: { thread_id: "a\u0000b" } }, good, loopMetadata, {}), /NUL/, InvalidInputError],
  ["non-string checkpoint_ns", () => env.saver.put({ configurable: { thread_id: thread, checkpoint_ns: 7 } }, good, loopMetadata, {}), /checkpoint_ns must be a string/, InvalidInputError],
  ["checkpoint that is a string", () => env.saver.put({ configurable: { thread_id: thread } }, "cp" as never, loopMetadata, {}), /checkpoint must be an object, got a string/, InvalidInputError],
  ["checkpoint that is null", () => env.saver.put({ configurable: { thread_id: thread } }, null as never, loopMetadata, {}), /checkpoint must be an object, got null/, InvalidInputError],
  ["checkpoint that is an array", () => env.saver.put({ configurable: { thread_id: thread } }, [] as never, loopMetadata, {}), /checkpoint must be an object, got an array/, InvalidInputError],
  ["checkpoint without id", () => env.saver.put({ configurable: { thread_id: thread } }, { ...good, id: undefined } as never, loopMetadata, {}), /checkpoint.id is missing/, InvalidInputError],
  ["metadata that is a string", () => env.saver.put({ configurable: { thread_id: thread } }, good, "meta" as never, good.channel_versions), /metadata must be an object/, InvalidInputError],
  ["metadata with a BigInt", () => env.saver.put({ configurable: { thread_id: thread } }, good, { ...loopMetadata, n: 1n } as never, good.channel_versions), /metadata\.n: it is a BigInt/, SerializationError],
  ["metadata with a cycle", () => env.saver.put({ configurable: { thread_id: thread } }, good, { ...loopMetadata, c: circular } as never, good.channel_versions), /circular reference/, SerializationError],
  ["a channel value holding a BigInt", () => { const cp = checkpointWith({ ok: 1, big: { n: 10n } }); return env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions); }, /channel "big"\.n: it is a BigInt/, SerializationError],
  ["a channel value holding a function", () => { const cp = checkpointWith({ fn: { callback: () => 1 } }); return env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions); }, /channel "fn"\.callback: it is a function/, SerializationError],
  ["a channel value holding NaN", () => { const cp = checkpointWith({ score: [1, Number.NaN] }); return env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions); }, /channel "score"\[1\]: it is NaN/, SerializationError],
  ["a channel value holding a symbol", () => { const cp = checkpointWith({ s: { tag: Symbol("x") } }); return env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions); }, /symbol/, SerializationError],
  ["a channel name with NUL", () => { const cp = checkpointWith({ "a\u0000": 1 }); return env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions); }, /channel name contains a NUL/, InvalidInputError],
  ["a version that is an object", () => env.saver.put({ configurable: { thread_id: thread } }, good, loopMetadata, { a: {} as never }), /newVersions\["a"\] must be a number or a non-empty string/, InvalidInputError],
];

describe("put", () => {
  it.each(putCases)("%s is refused", async (_name, call, message, errorClass) => {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toBeInstanceOf(CheckpointerError);
    expect((error as Error).message).toMatch(message);
  });
});

describe("putWrites", () => {
  const config = { configurable: { thread_id: thread, checkpoint_ns: "", checkpoint_id: good.id } };
  const cases: Array<[string, () => Promise<unknown>, RegExp, ErrorClass]> = [
    ["config without configurable", () => env.saver.putWrites({}, [["a", 1]], "t"), /configurable is missing/, InvalidInputError],
    ["missing thread_id", () => env.saver.putWrites({ configurable: { checkpoint_id: good.id } }, [["a", 1]], "t"), /thread_id is missing/, InvalidInputError],
    ["missing checkpoint_id", () => env.saver.putWrites({ configurable: { thread_id: thread } }, [["a", 1]], "t"), /checkpoint_id is missing/, InvalidInputError],
    ["missing task id", () => env.saver.putWrites(config, [["a", 1]], undefined as never), /taskId is missing/, InvalidInputError],
    ["writes that are not an array", () => env.saver.putWrites(config, "nope" as never, "t"), /writes must be an array/, InvalidInputError],
    ["a write that is not a pair", () => env.saver.putWrites(config, [["a", 1], ["b"]] as never, "t"), /writes\[1\] must be a \[channel, value\] pair/, InvalidInputError],
    ["a bad value after good ones (nothing half-written)", () => env.saver.putWrites(config, [["a", 1], [ERROR, { e: 2n }]], "t"), /BigInt/, SerializationError],
  ];
  it.each(cases)("%s is refused", async (_name, call, message, errorClass) => {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errorClass);
    expect((error as Error).message).toMatch(message);
  });
});

describe("reads and deletes", () => {
  it("getTuple refuses a config without configurable and a non-string thread_id", async () => {
    await expect(env.saver.getTuple({})).rejects.toThrow(/configurable is missing/);
    await expect(env.saver.getTuple({ configurable: { thread_id: 5 } })).rejects.toThrow(InvalidInputError);
  });
  it("getTuple without thread_id finds nothing (the conformance suite requires undefined)", async () => {
    expect(await env.saver.getTuple({ configurable: {} })).toBeUndefined();
  });
  it("deleteThread refuses a non-string or empty id", async () => {
    await expect(env.saver.deleteThread(undefined as never)).rejects.toThrow(/threadId is missing/);
    await expect(env.saver.deleteThread("")).rejects.toThrow(InvalidInputError);
  });
  it("list refuses a bad filter or before", async () => {
    const drain = async (it: AsyncIterable<unknown>) => {
      for await (const _ of it) {
      }
    };
    await expect(drain(env.saver.list({}, { filter: "source" as never }))).rejects.toThrow(/filter must be an object/);
    await expect(drain(env.saver.list({}, { before: { configurable: { checkpoint_id: 3 } } }))).rejects.toThrow(InvalidInputError);
  });
});

describe("values JSON would change are stored faithfully or refused, never altered", () => {
  it("Map, Set, Uint8Array, undefined and LangChain messages round-trip", async () => {
    const values = {
      map: new Map<string, unknown>([["k", { v: 1 }]]),
      set: new Set([1, "two"]),
      bytes: new Uint8Array([0, 1, 255]),
      undef: undefined,
      messages: [new HumanMessage("hi"), new AIMessage({ content: "", tool_calls: [{ id: "1", name: "t", args: { q: 1 } }] })],
    };
    const cp = checkpointWith(values);
    const config = await env.saver.put({ configurable: { thread_id: "faithful" } }, cp, loopMetadata, cp.channel_versions);
    const stored = (await env.saver.getTuple(config))!.checkpoint.channel_values;
    expect(stored.map).toEqual(values.map);
    expect(stored.set).toEqual(values.set);
    expect(stored.bytes).toEqual(values.bytes);
    expect("undef" in stored && stored.undef === undefined).toBe(true);
    expect((stored.messages as HumanMessage[])[0]).toBeInstanceOf(HumanMessage);
    expect((stored.messages as AIMessage[])[1]!.tool_calls).toEqual((values.messages[1] as AIMessage).tool_calls);
    await env.saver.deleteThread("faithful");
  });
});
