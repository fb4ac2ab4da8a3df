import { createHash, randomBytes } from "node:crypto";
import { HumanMessage } from "@langchain/core/messages";
import { type Checkpoint, TASKS, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryCheckpointer, PostgresSaver, type ThreadExport } from "../../../src/index.js";
import { countingPool } from "../../support/counting-pool.js";
import { toolGraph } from "../../support/graphs.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";
import { documentView, threadView } from "../../support/transfer.js";

/**
 * Values that are easy to get wrong on the way through a document:
 * compressed rows (the document holds them inflated; the importer compacts
 * with its own settings), numeric versions Postgres prints differently from
 * JavaScript, metadata the saver escapes (NUL, U+FFFF, lone surrogates),
 * special writes with negative indexes, task paths that order writes
 * differently from task ids, raw bytes, empty versions and a pre-v4
 * checkpoint whose pending sends live on its parent's writes.
 */

const env = useSaver();
const savers: PostgresSaver[] = [];

async function schemaSaver(schema: string, options: ConstructorParameters<typeof PostgresSaver>[2] = {}): Promise<PostgresSaver> {
  const saver = new PostgresSaver(env.pool, undefined, { schema, ...options });
  await saver.setup();
  savers.push(saver);
  return saver;
}

afterAll(async () => {
  for (const saver of savers) await saver.end();
});

/** The type tags stored for a thread in a schema, blobs and writes together. */
async function storedTypes(schema: string, threadId: string): Promise<string[]> {
  const { rows } = await env.pool.query(
    `SELECT type FROM "${schema}".checkpoint_blobs WHERE thread_id = $1 UNION ALL SELECT type FROM "${schema}".checkpoint_writes WHERE thread_id = $1`,
    [threadId],
  );
  return rows.map((r: { type: string }) => r.type);
}

describe("compaction", () => {
  /** A tool-graph run whose first message is 8 KB: its values and writes pass the 1 KiB compaction threshold. */
  const longRun = (saver: PostgresSaver, threadId: string) =>
    toolGraph(saver, []).invoke(
      { messages: [new HumanMessage({ id: "human-1", content: "compute this: ".repeat(600) })] },
      { configurable: { thread_id: threadId } },
    );
  const compressed = (types: string[]) => types.filter((t) => t.endsWith("+br"));

  it("compressed rows are exported inflated and stored uncompressed by a saver with compaction: false", async () => {
    await longRun(env.saver, "compressed-origin");
    expect(compressed(await storedTypes("public", "compressed-origin")).length).toBeGreaterThanOrEqual(2);
    const doc = await env.saver.exportThread("compressed-origin");
    expect([...doc.blobs, ...doc.writes].map((v) => v.type).filter((t) => t.includes("+"))).toEqual([]);
    const plain = await schemaSaver("no_compaction", { compaction: false });
    await plain.importThread(doc);
    const types = await storedTypes("no_compaction", "compressed-origin");
    expect(types.length).toBe(doc.counts.blobs + doc.counts.writes);
    expect(compressed(types)).toEqual([]);
    expect(await threadView(plain, "compressed-origin")).toStrictEqual(await threadView(env.saver, "compressed-origin"));
  });

  it("uncompressed rows are compressed by an importer with the default compaction", async () => {
    const plain = await schemaSaver("plain_origin", { compaction: false });
    await longRun(plain, "plain-origin");
    expect(compressed(await storedTypes("plain_origin", "plain-origin"))).toEqual([]);
    const doc = await plain.exportThread("plain-origin");
    await env.saver.importThread(doc);
    expect(compressed(await storedTypes("public", "plain-origin")).length).toBeGreaterThanOrEqual(2);
    expect(await threadView(env.saver, "plain-origin")).toStrictEqual(await threadView(plain, "plain-origin"));
    // Inflated on the way out again: the same document.
    expect(await documentView(await env.saver.exportThread("plain-origin"))).toStrictEqual(await documentView(doc));
  });
});

describe("awkward values", () => {
  const threadId = "awkward";
  const meta = (extra: Record<string, unknown>) => ({ source: "loop", step: 1, parents: {}, ...extra }) as never;
  let doc: ThreadExport;

  beforeAll(async () => {
    const saver = env.saver;
    const root = { configurable: { thread_id: threadId, checkpoint_ns: "" } };
    const first: Checkpoint = {
      ...emptyCheckpoint(),
      id: uuid6(-1),
      channel_values: { huge: 1, tiny: "t", python: "p", nothing: undefined, long: "long ".repeat(400) },
      // Postgres prints 1e21 as 1000000000000000000000 and 1.5e-7 as 0.00000015; the Python saver's versions are strings.
      channel_versions: { huge: 1e21, tiny: 1.5e-7, python: "00000000000000000000000000000002.0.4242", nothing: 3, long: 4, cleared: 5 },
    };
    const metadata = JSON.parse('{"__proto__": {"kept": "as an own key"}}');
    Object.assign(metadata, { nul: "a\u0000b", mark: "\uffff1", lone: "x\ud800y", ["key\u0000"]: "\udc00" });
    const firstConfig = await saver.put(root, first, meta(metadata), { ...first.channel_versions });
    // Writes whose task paths order them differently from their task ids, special writes (negative idx) among them.
    await saver.putWrites(firstConfig, [["tiny", "from b"], ["__error__", { message: "boom" }]], "task-b", "~a");
    await saver.putWrites(firstConfig, [["tiny", "from a"], ["__interrupt__", [{ value: "ask", id: "i-1" }]]], "task-a", "~b");
    // Pending sends the pre-v4 way: on the parent's TASKS channel.
    await saver.putWrites(firstConfig, [[TASKS, { node: "worker", args: { n: 1 } }], [TASKS, { node: "worker", args: { n: 2 } }]], "task-c", "~c");
    const legacy = { ...emptyCheckpoint(), v: 1, id: uuid6(-1), channel_values: { tiny: "t" }, channel_versions: { tiny: 1.5e-7 } } as Checkpoint;
    await saver.put(firstConfig, legacy, meta({ step: 2 }), {});
    // A subgraph's namespace.
    const child = { configurable: { thread_id: threadId, checkpoint_ns: "sub:1" } };
    const childCheckpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { raw: new Uint8Array([0, 255, 7]) }, channel_versions: { raw: 2.5 } };
    await saver.put(child, childCheckpoint, meta({ step: 1 }), { raw: 2.5 });
    doc = await saver.exportThread(threadId);
  });

  it("the document spells versions as the checkpoints do, holds raw bytes and empty versions, and escapes nothing", () => {
    const blob = (channel: string) => doc.blobs.find((b) => b.channel === channel)!;
    expect(blob("huge").version).toBe(String(1e21));
    expect(blob("tiny").version).toBe(String(1.5e-7));
    expect(blob("python").version).toBe("00000000000000000000000000000002.0.4242");
    expect(blob("cleared")).toEqual({ checkpoint_ns: "", channel: "cleared", version: "5", type: "empty", data: null });
    expect(blob("raw")).toEqual({ checkpoint_ns: "sub:1", channel: "raw", version: "2.5", type: "bytes", data: Buffer.from([0, 255, 7]).toString("base64") });
    expect(blob("long").type).toBe("json");
    const metadata = doc.checkpoints[0]!.metadata;
    expect(Object.getOwnPropertyNames(metadata)).toContain("__proto__");
    expect(metadata).toMatchObject({ nul: "a\u0000b", mark: "\uffff1", lone: "x\ud800y", ["key\u0000"]: "\udc00" });
    expect(doc.writes.filter((w) => w.checkpoint_ns === "").map((w) => [w.task_path, w.task_id, w.idx])).toEqual([
      ["~a", "task-b", -1], ["~a", "task-b", 0], ["~b", "task-a", -3], ["~b", "task-a", 0], ["~c", "task-c", 0], ["~c", "task-c", 1],
    ]);
  });

  it("Postgres → another schema → the same tuples and the same document, byte for byte", async () => {
    const copy = await schemaSaver("awkward_copy");
    expect((await copy.importThread(JSON.parse(JSON.stringify(doc)))).imported).toEqual(doc.counts);
    const original = await threadView(env.saver, threadId);
    expect(await threadView(copy, threadId)).toStrictEqual(original);
    const legacy = original.find((v) => v.checkpoint.v === 1)!;
    expect(legacy.checkpoint.channel_values[TASKS]).toStrictEqual([{ node: "worker", args: { n: 1 } }, { node: "worker", args: { n: 2 } }]);
    expect({ ...(await copy.exportThread(threadId)), exported_at: "" }).toStrictEqual({ ...doc, exported_at: "" });
  });

  it("Postgres → MemoryCheckpointer → Postgres: the same tuples and document", async () => {
    const memory = new MemoryCheckpointer();
    expect((await memory.importThread(doc)).imported).toEqual(doc.counts);
    expect(await threadView(memory, threadId)).toStrictEqual(await threadView(env.saver, threadId));
    const fromMemory = await memory.exportThread(threadId);
    expect(await documentView(fromMemory)).toStrictEqual(await documentView(doc));
    const back = await schemaSaver("awkward_back");
    await back.importThread(fromMemory);
    expect(await threadView(back, threadId)).toStrictEqual(await threadView(env.saver, threadId));
    expect({ ...(await back.exportThread(threadId)), exported_at: "" }).toStrictEqual({ ...doc, exported_at: "" });
  });
});

describe("a thread too large for one statement", () => {
  it("goes in several statements of one transaction: all of it, or none of it", async () => {
    const threadId = "large";
    await env.saver.put({ configurable: { thread_id: threadId } }, { ...emptyCheckpoint(), id: uuid6(-1) }, { source: "input", step: -1, parents: {} } as never, {});
    const doc = await env.saver.exportThread(threadId);
    // Three 11 MiB values that do not compress: 33 MiB of writes, over the importer's 32 MiB per statement.
    const values = [0, 1, 2].map(() => randomBytes(11 * 1024 * 1024));
    doc.writes = values.map((value, idx) => ({
      checkpoint_ns: "", checkpoint_id: doc.checkpoints[0]!.checkpoint_id, task_id: "task", task_path: "", idx,
      channel: `part-${idx}`, type: "bytes", data: value.toString("base64"),
    }));
    doc.counts.writes = 3;
    const counting = countingPool(env.url());
    const saver = new PostgresSaver(counting.pool, undefined, { schema: "large_copy", compaction: false });
    const inserts = () => counting.statements.filter((s) => s.includes("INSERT INTO") && s.includes("checkpoint_writes"));
    try {
      await saver.setup();
      // The database refuses the last write, which travels in the second statement.
      await env.pool.query("ALTER TABLE large_copy.checkpoint_writes ADD CONSTRAINT no_part_2 CHECK (channel <> 'part-2')");
      counting.reset();
      await expect(saver.importThread(doc)).rejects.toThrow(/no_part_2/);
      expect(inserts()).toHaveLength(2);
      expect(counting.statements.at(-1)).toBe("ROLLBACK");
      expect(await countRows(env.pool, "large_copy")).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });
      await env.pool.query("ALTER TABLE large_copy.checkpoint_writes DROP CONSTRAINT no_part_2");
      counting.reset();
      expect((await saver.importThread(doc)).imported).toEqual(doc.counts);
      expect(inserts()).toHaveLength(2);
      const { rows } = await env.pool.query("SELECT channel, md5(blob) AS md5 FROM large_copy.checkpoint_writes ORDER BY channel");
      expect(rows).toEqual(values.map((value, i) => ({ channel: `part-${i}`, md5: createHash("md5").update(value).digest("hex") })));
    } finally {
      await saver.end();
      await counting.pool.end();
    }
  });
});
