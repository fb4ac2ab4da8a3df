import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import { Annotation, type BaseCheckpointSaver, Command, END, MessagesAnnotation, START, StateGraph, interrupt } from "@langchain/langgraph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError, MemoryCheckpointer, PostgresSaver, SerializationError, UnrevivableError } from "../../../src/index.js";
import { checkpointWith, loopMetadata, metadataWith, threadId, versionsOf } from "../../support/fixtures.js";
import { LOOK_ALIKES, LegacySerializer, UNREVIVABLE, everyShape, messageSafeShapes, storedForm } from "../../support/look-alikes.js";
import { useSaver } from "../../support/saver.js";

/**
 * Values come back exactly as they went in: plain data shaped like a
 * serialized LangChain object (a tool's JSON output, user input) is not
 * revived and never makes a thread unreadable, on both backends, with
 * compaction on and off, through real graphs, export and import; what
 * cannot be revived fails with a typed error naming where it is.
 */
const env = useSaver();
const backends: Array<[string, () => BaseCheckpointSaver]> = [];
let compacted: PostgresSaver;
let uncompacted: PostgresSaver;

beforeAll(async () => {
  compacted = new PostgresSaver(env.pool);
  uncompacted = new PostgresSaver(env.pool, undefined, { compaction: false });
});
afterAll(async () => {
  await compacted?.end();
  await uncompacted?.end();
});
backends.push(["postgres, compaction on", () => compacted], ["postgres, compaction off", () => uncompacted], ["memory", () => new MemoryCheckpointer()]);

const TOOL_OUTPUT = JSON.stringify(everyShape());

const State = Annotation.Root({
  ...MessagesAnnotation.spec,
  results: Annotation<unknown[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  answer: Annotation<unknown>(),
});

/** agent (a tool call whose arguments look alike) → tool (parses its JSON output into state) → review (interrupts with it). */
function lookAlikeGraph(checkpointer: BaseCheckpointSaver) {
  return new StateGraph(State)
    .addNode("agent", () => ({
      messages: [new AIMessage({ id: "ai-1", content: "", tool_calls: [{ id: "call-1", name: "fetch", args: { query: LOOK_ALIKES["a foreign class"] } }] })],
    }))
    .addNode("tool", () => {
      const parsed = JSON.parse(TOOL_OUTPUT) as unknown;
      const artifact = messageSafeShapes();
      return { messages: [new ToolMessage({ id: "tool-1", tool_call_id: "call-1", content: TOOL_OUTPUT, artifact })], results: [parsed] };
    })
    .addNode("review", (state: typeof State.State) => ({ answer: interrupt(state.results[0]) }))
    .addEdge(START, "agent")
    .addEdge("agent", "tool")
    .addEdge("tool", "review")
    .addEdge("review", END)
    .compile({ checkpointer });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe.each(backends)("%s", (_name, saverOf) => {
  it("a tool's look-alike JSON lands in state, writes and an interrupt; the thread resumes with every value unchanged", async () => {
    const saver = saverOf();
    const graph = lookAlikeGraph(saver);
    const config = { configurable: { thread_id: threadId("graph") } };
    await graph.invoke({ messages: [new HumanMessage({ id: "human-1", content: "go" })] }, config);

    const waiting = await graph.getState(config);
    expect(waiting.values.results).toEqual([everyShape()]);
    expect(waiting.tasks[0]?.interrupts[0]?.value).toEqual(everyShape());
    const [human, ai, tool] = waiting.values.messages;
    expect(human).toBeInstanceOf(HumanMessage);
    expect(ai).toBeInstanceOf(AIMessage);
    expect((ai as AIMessage).tool_calls?.[0]?.args).toEqual({ query: LOOK_ALIKES["a foreign class"] });
    expect(tool).toBeInstanceOf(ToolMessage);
    expect((tool as ToolMessage).artifact).toEqual(messageSafeShapes());
    // The interrupt is a pending write of the checkpoint the thread waits on.
    const tuple = await saver.getTuple(config);
    expect(tuple?.pendingWrites?.find(([, channel]) => channel === "__interrupt__")?.[2]).toMatchObject([{ value: everyShape() }]);

    const done = await graph.invoke(new Command({ resume: everyShape() }), config);
    expect(done.answer).toEqual(everyShape());
    expect(done.results).toEqual([everyShape()]);
    // Every checkpoint of the history reads.
    let checkpoints = 0;
    for await (const snapshot of graph.getStateHistory(config)) {
      checkpoints += 1;
      for (const message of snapshot.values.messages ?? []) expect(message.constructor.name).toMatch(/Message$/);
    }
    expect(checkpoints).toBeGreaterThanOrEqual(5);
  });

  it("every shape, top level and nested, in channel values, pending writes and metadata", async () => {
    const saver = saverOf();
    const thread = threadId("direct");
    const values = { ...everyShape(), messages: [new HumanMessage("hi"), new AIMessage({ content: "", tool_calls: [{ id: "c", name: "t", args: messageSafeShapes() }] })] };
    const checkpoint = checkpointWith(values);
    const config = await saver.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, metadataWith({ shapes: everyShape() }), versionsOf(checkpoint));
    await saver.putWrites(config, Object.entries(everyShape()).map(([channel, value]) => [channel, value]), "task-1");
    await saver.putWrites(config, [["__interrupt__", [{ id: "i", value: everyShape() }]]], "task-2");

    for (const tuple of [await saver.getTuple(config), ...(await collect(saver.list({ configurable: { thread_id: thread } })))]) {
      const { messages, ...plain } = tuple!.checkpoint.channel_values as typeof values;
      expect(plain).toEqual(everyShape());
      expect(messages[0]).toBeInstanceOf(HumanMessage);
      expect((messages[1] as AIMessage).tool_calls?.[0]?.args).toEqual(messageSafeShapes());
      expect((tuple!.metadata as Record<string, unknown>).shapes).toEqual(everyShape());
      const writes = Object.fromEntries(tuple!.pendingWrites!.map(([, channel, value]) => [channel, value]));
      expect(writes).toEqual({ ...everyShape(), __interrupt__: [{ id: "i", value: everyShape() }] });
    }
    if (saver instanceof PostgresSaver) {
      // A metadata filter is compared with metadata as stored: escaped alike, it finds the checkpoint.
      const found = await collect(saver.list({ configurable: { thread_id: thread } }, { filter: { shapes: everyShape() } }));
      expect(found.map((t) => t.checkpoint.id)).toEqual([checkpoint.id]);
      const foreign = await collect(saver.list({ configurable: { thread_id: thread } }, { filter: { shapes: { "a foreign class": LOOK_ALIKES["a foreign class"] } } }));
      expect(foreign).toHaveLength(1);
      // Containment, as for any metadata: part of the object matches, a different part does not.
      expect(await collect(saver.list({ configurable: { thread_id: thread } }, { filter: { shapes: { "a foreign class": { lc: 1 } } } }))).toHaveLength(1);
      expect(await collect(saver.list({ configurable: { thread_id: thread } }, { filter: { shapes: { "a foreign class": { lc: 2 } } } }))).toHaveLength(0);
    }
  });
});

describe.each(backends)("%s: metadata whose top level looks alike", (_name, saverOf) => {
  it("is stored with its keys where queries and filters find them, and reads back unchanged", async () => {
    const saver = saverOf();
    const thread = threadId("metadata-root");
    const metadata = metadataWith({ ...LOOK_ALIKES["a foreign class"], extra: LOOK_ALIKES["LangGraph's undefined"] });
    const checkpoint = checkpointWith({ a: 1 });
    const config = await saver.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, metadata, versionsOf(checkpoint));
    expect((await saver.getTuple(config))?.metadata).toEqual(metadata);
    const listed = await collect(saver.list({ configurable: { thread_id: thread } }, { filter: { source: "loop" } }));
    expect(listed.map((t) => t.metadata)).toEqual([metadata]);
    if (saver instanceof PostgresSaver) {
      const { rows: [row] } = await env.pool.query("SELECT metadata ->> 'source' AS source, metadata -> 'lc' AS lc FROM checkpoints WHERE thread_id = $1", [thread]);
      expect(row).toEqual({ source: "loop", lc: 1 });
      expect(await collect(saver.list({ configurable: { thread_id: thread } }, { filter: { lc: 1, type: "constructor" } }))).toHaveLength(1);
    }
  });
});

describe("metadata filters on objects stored as entries", () => {
  it("match the same objects a filter on plain metadata would, and refuse a Send-shaped top level", async () => {
    const thread = threadId("filters");
    const checkpoint = checkpointWith({ a: 1 });
    await compacted.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, metadataWith({ user: { lc: 2, name: "bob", tier: 1 } }), versionsOf(checkpoint));
    const matches = async (filter: Record<string, unknown>) =>
      (await collect(compacted.list({ configurable: { thread_id: thread } }, { filter }))).length;
    expect(await matches({ user: { lc: 2, name: "bob", tier: 1 } })).toBe(1);
    expect(await matches({ user: { lc: 2, name: "bob" } })).toBe(1);
    // A key never matches a value, nor a value a key.
    expect(await matches({ user: { lc: 2, bob: "name" } })).toBe(0);
    expect(await matches({ user: { lc: 2, name: "tier" } })).toBe(0);
    expect(await matches({ user: { lc: 1, name: "bob" } })).toBe(0);

    for (const saver of [compacted, new MemoryCheckpointer()]) {
      const sendShaped = threadId("send-metadata");
      const refused = await saver
        .put({ configurable: { thread_id: sendShaped, checkpoint_ns: "" } }, checkpointWith({ a: 1 }), metadataWith({ lg_name: "Send", node: "x" }), { a: 1 })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(InvalidInputError);
      expect(await saver.getTuple({ configurable: { thread_id: sendShaped } })).toBeUndefined();
    }
  });
});

describe("rows stored before escaping, or by another saver", () => {
  /** A thread whose value, write and metadata hold `stored`, as the official serializer stores it. */
  async function legacyThread(stored: unknown) {
    const legacy = new PostgresSaver(env.pool, new LegacySerializer(), { compaction: false });
    const thread = threadId("legacy");
    const checkpoint = checkpointWith({ state: { nested: [stored] }, fine: "ok" });
    const config = await legacy.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, metadataWith({ tool: stored }), versionsOf(checkpoint));
    await legacy.putWrites(config, [["__interrupt__", [{ id: "i", value: stored }]]], "task-1");
    await legacy.end();
    return { thread, config, id: checkpoint.id };
  }

  it("a class outside the allow-list is plain data (the official saver cannot read the thread at all)", async () => {
    const { thread, config } = await legacyThread(LOOK_ALIKES["a foreign class"]);
    const official = new OfficialSaver(env.pool);
    await expect(official.getTuple(config)).rejects.toThrow(/Invalid namespace/);
    const tuple = await compacted.getTuple({ configurable: { thread_id: thread } });
    expect(tuple?.checkpoint.channel_values.state).toEqual({ nested: [LOOK_ALIKES["a foreign class"]] });
    expect((tuple?.metadata as Record<string, unknown>).tool).toEqual(LOOK_ALIKES["a foreign class"]);
  });

  it("an allowed object core cannot construct: a typed error naming the value, write or metadata, never its content", async () => {
    for (const stored of [UNREVIVABLE.unknownClass, UNREVIVABLE.secret]) {
      const { thread, id } = await legacyThread(stored);
      const error = await compacted.getTuple({ configurable: { thread_id: thread } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnrevivableError);
      expect(error).toBeInstanceOf(SerializationError);
      const { location, message } = error as UnrevivableError;
      expect(location).toMatchObject({ threadId: thread, checkpointNs: "", checkpointId: id });
      expect(["value", "write", "metadata"]).toContain(location?.part);
      expect(message).toContain(`of thread ${JSON.stringify(thread)}`);
      expect(message).not.toMatch(/NoSuchMessage|HOME|langchain_core|kwargs/);
      // Each part on its own says where it is.
      await expect(collect(compacted.list({ configurable: { thread_id: thread } }))).rejects.toBeInstanceOf(UnrevivableError);
      const plain = new PostgresSaver(env.pool, undefined, { revive: { unrevivable: "plain" } });
      const tuple = await plain.getTuple({ configurable: { thread_id: thread } });
      await plain.end();
      expect(tuple?.checkpoint.channel_values.state).toEqual({ nested: [stored] });
      expect((tuple?.metadata as Record<string, unknown>).tool).toEqual(stored);
      expect(tuple?.pendingWrites?.[0]?.[2]).toEqual([{ id: "i", value: stored }]);
    }
  });

  it("names the channel, the write and the metadata: each fails on its own", async () => {
    const legacy = new PostgresSaver(env.pool, new LegacySerializer(), { compaction: false });
    const cases: Array<[string, (config: { configurable: Record<string, string> }, checkpoint: ReturnType<typeof checkpointWith>) => Promise<void>, RegExp]> = [
      ["value", async () => {}, /^cannot read channel "bad" version 1 of thread .* \(checkpoint ".*"\): a stored LangChain object cannot be revived: @langchain\/core has no class at its class path$/],
      ["write", async (config) => legacy.putWrites(config, [["side", UNREVIVABLE.unknownClass]], "task-9"), /^cannot read the pending write of task "task-9" to channel "side" \(idx 0\) of thread/],
      ["metadata", async () => {}, /^cannot read the metadata of thread .*: a stored LangChain object cannot be revived: it refers to a secret/],
    ];
    for (const [part, extra, message] of cases) {
      const thread = threadId(part);
      const checkpoint = checkpointWith(part === "value" ? { bad: UNREVIVABLE.unknownClass } : { good: 1 });
      const metadata = part === "metadata" ? metadataWith({ tool: UNREVIVABLE.secret }) : loopMetadata;
      const config = await legacy.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, metadata, versionsOf(checkpoint));
      await extra(config as { configurable: Record<string, string> }, checkpoint);
      for (const saver of [compacted, uncompacted]) {
        const error = (await saver.getTuple({ configurable: { thread_id: thread } }).catch((e: unknown) => e)) as UnrevivableError;
        expect(error.location?.part).toBe(part);
        expect(error.message).toMatch(message);
      }
    }
    await legacy.end();
  });
});

describe("the memory backend, with values stored before escaping", () => {
  it("reads them as the Postgres saver does, and names what it cannot read", async () => {
    const legacy = new MemoryCheckpointer(undefined, new LegacySerializer());
    const thread = threadId("memory");
    const checkpoint = checkpointWith({ foreign: LOOK_ALIKES["a foreign class"], bad: UNREVIVABLE.unknownClass });
    await legacy.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, loopMetadata);
    const memory = new MemoryCheckpointer();
    memory.storage = legacy.storage;
    memory.writes = legacy.writes;
    const error = (await memory.getTuple({ configurable: { thread_id: thread } }).catch((e: unknown) => e)) as UnrevivableError;
    expect(error).toBeInstanceOf(UnrevivableError);
    expect(error.location).toEqual({ threadId: thread, checkpointNs: "", checkpointId: checkpoint.id, part: "value", channel: "bad", version: "1" });
    await expect(collect(memory.list({ configurable: { thread_id: thread } }))).rejects.toMatchObject({ location: { part: "value", channel: "bad" } });
    const plain = new MemoryCheckpointer(undefined, undefined, { revive: { unrevivable: "plain" } });
    plain.storage = legacy.storage;
    expect((await plain.getTuple({ configurable: { thread_id: thread } }))?.checkpoint.channel_values).toEqual({
      foreign: LOOK_ALIKES["a foreign class"], bad: UNREVIVABLE.unknownClass,
    });
  });
});

describe("switching back: the official saver reads what this one wrote with compaction off", () => {
  it("sees real messages as messages and each look-alike as its inert wrapper, never an error", async () => {
    const thread = threadId("switch-back");
    const values = { shapes: everyShape(), messages: [new HumanMessage("hi"), new AIMessage({ content: "", tool_calls: [{ id: "c", name: "t", args: { q: 1 } }] })] };
    const checkpoint = checkpointWith(values);
    const config = await uncompacted.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, metadataWith({ shapes: everyShape() }), versionsOf(checkpoint));
    await uncompacted.putWrites(config, [["shapes", everyShape()]], "task-1");
    const tuple = await new OfficialSaver(env.pool).getTuple(config);
    const messages = tuple?.checkpoint.channel_values.messages as unknown[];
    expect(messages.map((m) => m?.constructor.name)).toEqual(["HumanMessage", "AIMessage"]);
    const wrapped = storedForm;
    for (const seen of [
      tuple?.checkpoint.channel_values.shapes, (tuple?.metadata as Record<string, unknown>).shapes, tuple?.pendingWrites?.[0]?.[2],
    ] as Array<Record<string, unknown>>) {
      expect(seen["a foreign class"]).toEqual(wrapped(LOOK_ALIKES["a foreign class"]!));
      expect(seen["LangGraph's undefined"]).toEqual(wrapped(LOOK_ALIKES["LangGraph's undefined"]!));
      expect(seen["this package's wrapper"]).toEqual(storedForm(LOOK_ALIKES["this package's wrapper"]!));
      // Only the object whose lc is a number is wrapped, however deep.
      expect(seen["LangChain's escape"]).toEqual({ __lc_escaped__: wrapped(LOOK_ALIKES["LangChain's escape"]!.__lc_escaped__ as Record<string, unknown>) });
    }
  });
});

describe("export and import", () => {
  it("carry look-alikes unchanged between schemas and backends", async () => {
    const thread = threadId("transfer");
    const graph = lookAlikeGraph(compacted);
    const config = { configurable: { thread_id: thread } };
    await graph.invoke({ messages: [new HumanMessage("go")] }, config);
    const original = await compacted.getTuple(config);

    const other = new PostgresSaver(env.pool, undefined, { schema: "look_alike_copy" });
    await other.setup();
    const memory = new MemoryCheckpointer();
    await other.importThread(await compacted.exportThread(thread));
    await memory.importThread(await compacted.exportThread(thread));
    const back = new PostgresSaver(env.pool, undefined, { schema: "look_alike_back" });
    await back.setup();
    await back.importThread(await memory.exportThread(thread));
    for (const saver of [other, memory, back]) {
      const copy = await saver.getTuple(config);
      expect(copy?.checkpoint.channel_values).toEqual(original?.checkpoint.channel_values);
      expect(copy?.pendingWrites).toEqual(original?.pendingWrites);
      expect(copy?.metadata).toEqual(original?.metadata);
      // The copy resumes like the original.
      const done = await lookAlikeGraph(saver).invoke(new Command({ resume: everyShape() }), config);
      expect(done.answer).toEqual(everyShape());
    }
    await other.end();
    await back.end();
  });
});
