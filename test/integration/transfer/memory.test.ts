import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError, MemoryCheckpointer, type ThreadExport } from "../../../src/index.js";
import type { Log } from "../../support/graphs.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";
import { asVersionStore, canon, deltaHistories, scenarios, threadView } from "../../support/transfer.js";

/**
 * Threads between PostgresSaver and MemoryCheckpointer, both ways, for the
 * same real graph runs as transfer-round-trips; then what only the in-memory
 * saver can get wrong: values of `undefined`, raw bytes, names it cannot
 * hold, and how it counts what it imported.
 */

const env = useSaver();
const meta = { source: "input", step: -1, parents: {} } as never;

describe.each(scenarios.map((scenario, i) => ({ scenario, i })))("$scenario.name", ({ scenario, i }) => {
  const fromPostgres = { configurable: { thread_id: `pg-to-memory-${i}` } };
  const fromMemory = { configurable: { thread_id: `memory-to-pg-${i}` } };
  const memorySource = new MemoryCheckpointer();
  const memoryCopy = new MemoryCheckpointer();

  beforeAll(async () => {
    await scenario.start(env.saver, [], fromPostgres);
    await scenario.start(memorySource, [], fromMemory);
  });

  it("Postgres → MemoryCheckpointer: the same tuples and delta histories, and it resumes", async () => {
    const threadId = fromPostgres.configurable.thread_id;
    const doc = await env.saver.exportThread(threadId);
    const result = await memoryCopy.importThread(doc);
    expect(result.imported).toEqual(doc.counts);
    expect(await threadView(memoryCopy, threadId)).toStrictEqual(await threadView(env.saver, threadId));
    if (scenario.deltaChannels.length > 0) {
      expect(await deltaHistories(memoryCopy, threadId, scenario.deltaChannels)).toStrictEqual(
        await deltaHistories(env.saver, threadId, scenario.deltaChannels),
      );
    }
    const expectedLog: Log = [];
    const log: Log = [];
    const expected = await scenario.resume(env.saver, expectedLog, fromPostgres);
    expect(await scenario.resume(memoryCopy, log, fromPostgres)).toStrictEqual(expected);
    expect(log).toStrictEqual(expectedLog);
    for (const stored of scenario.stored) expect(log).not.toContain(stored);
  });

  it("MemoryCheckpointer → Postgres: the same tuples and delta histories, and it resumes", async () => {
    const threadId = fromMemory.configurable.thread_id;
    const doc = await memorySource.exportThread(threadId);
    const result = await env.saver.importThread(doc);
    expect(result.imported).toEqual(doc.counts);
    expect(doc.counts).toEqual(await countRows(env.pool, "public", threadId));
    expect(await threadView(env.saver, threadId)).toStrictEqual(asVersionStore(await threadView(memorySource, threadId)));
    if (scenario.deltaChannels.length > 0) {
      expect(await deltaHistories(env.saver, threadId, scenario.deltaChannels)).toStrictEqual(
        await deltaHistories(memorySource, threadId, scenario.deltaChannels),
      );
    }
    const expectedLog: Log = [];
    const log: Log = [];
    const expected = await scenario.resume(memorySource, expectedLog, fromMemory);
    expect(await scenario.resume(env.saver, log, fromMemory)).toStrictEqual(expected);
    expect(log).toStrictEqual(expectedLog);
    for (const stored of scenario.stored) expect(log).not.toContain(stored);
  });
});

describe("what the in-memory saver holds", () => {
  /** One checkpoint with `values` (each channel at version 2) on a fresh MemoryCheckpointer. */
  async function memoryThread(threadId: string, values: Record<string, unknown>) {
    const memory = new MemoryCheckpointer();
    const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: values, channel_versions: Object.fromEntries(Object.keys(values).map((k) => [k, 2])) };
    const config = await memory.put({ configurable: { thread_id: threadId, checkpoint_ns: "" } }, checkpoint, meta);
    return { memory, config };
  }

  it("a channel whose value is undefined keeps its value (not exported as empty)", async () => {
    const { memory, config } = await memoryThread("undefined-value", { gone: undefined, kept: "x" });
    const doc = await memory.exportThread("undefined-value");
    expect(doc.blobs.map((b) => [b.channel, b.type])).toEqual([["gone", "json"], ["kept", "json"]]);
    await env.saver.importThread(doc);
    const [copy] = await threadView(env.saver, "undefined-value");
    const [original] = await threadView(memory, "undefined-value");
    expect(copy!.checkpoint.channel_values).toStrictEqual({ gone: { $undefined: true }, kept: "x" });
    expect(copy).toStrictEqual(original);
    expect(config.configurable?.checkpoint_id).toBe(doc.checkpoints[0]!.checkpoint_id);
  });

  it("Uint8Array values come back as Uint8Array (serializer type bytes) both ways", async () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    const { memory } = await memoryThread("bytes-value", { raw: bytes });
    const doc = await memory.exportThread("bytes-value");
    expect(doc.blobs).toMatchObject([{ channel: "raw", type: "bytes", data: Buffer.from(bytes).toString("base64") }]);
    await env.saver.importThread(doc);
    const back = await env.saver.exportThread("bytes-value");
    const again = new MemoryCheckpointer();
    await again.importThread(back);
    const tuple = await again.getTuple({ configurable: { thread_id: "bytes-value" } });
    expect(tuple!.checkpoint.channel_values.raw).toBeInstanceOf(Uint8Array);
    expect(canon(tuple!.checkpoint.channel_values.raw)).toStrictEqual(canon(bytes));
  });

  it("refuses what MemorySaver cannot read back, importing nothing: a bytes write, a reserved id, a __proto__ channel", async () => {
    const config = await env.saver.put({ configurable: { thread_id: "bytes-write" } }, { ...emptyCheckpoint(), id: uuid6(-1) }, meta, {});
    await env.saver.putWrites(config, [["ok", 1], ["raw", new Uint8Array([1, 2])]], "task-1");
    const doc = await env.saver.exportThread("bytes-write");
    const memory = new MemoryCheckpointer();
    await expect(memory.importThread(doc)).rejects.toThrow(/writes\[1\] holds a value the serializer stores as "bytes"/);
    const reservedId = structuredClone(doc);
    reservedId.writes = [];
    reservedId.counts.writes = 0;
    reservedId.checkpoints[0]!.checkpoint_id = reservedId.checkpoints[0]!.checkpoint.id = "constructor";
    await expect(memory.importThread(reservedId)).rejects.toThrow(/checkpoints\[0\]\.checkpoint_id is "constructor"/);
    const proto = structuredClone(reservedId);
    proto.checkpoints[0]!.checkpoint_id = proto.checkpoints[0]!.checkpoint.id = "c-1";
    proto.checkpoints[0]!.checkpoint.channel_versions = JSON.parse('{"__proto__": 1}');
    await expect(memory.importThread(proto)).rejects.toThrow(InvalidInputError);
    await expect(memory.importThread(proto)).rejects.toThrow(/channel_versions has a channel called "__proto__"/);
    expect(memory.storage).toEqual({});
    expect(memory.writes).toEqual({});
  });

  it("counts a value as imported only where no stored checkpoint names it already", async () => {
    const threadId = "blob-accounting";
    const first = await env.saver.put({ configurable: { thread_id: threadId } }, { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { a: 1, b: 1 }, channel_versions: { a: 1, b: 1 } }, meta, { a: 1, b: 1 });
    await env.saver.put(first, { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { a: 1, b: 2 }, channel_versions: { a: 1, b: 2 } }, meta, { b: 2 });
    const doc: ThreadExport = await env.saver.exportThread(threadId);
    expect(doc.counts).toEqual({ checkpoints: 2, blobs: 3, writes: 0 });
    const older: ThreadExport = { ...doc, checkpoints: doc.checkpoints.slice(0, 1), blobs: doc.blobs.filter((b) => b.version === "1"), counts: { checkpoints: 1, blobs: 2, writes: 0 } };
    const memory = new MemoryCheckpointer();
    expect(await memory.importThread(older)).toMatchObject({ imported: { checkpoints: 1, blobs: 2 }, skipped: { checkpoints: 0, blobs: 0 } });
    // The newer checkpoint brings one new value (b@2); a@1 and b@1 were there already.
    expect(await memory.importThread(doc)).toMatchObject({ imported: { checkpoints: 1, blobs: 1 }, skipped: { checkpoints: 1, blobs: 2 } });
    expect(await memory.importThread(doc)).toMatchObject({ imported: { checkpoints: 0, blobs: 0, writes: 0 }, skipped: doc.counts });
    expect(await threadView(memory, threadId)).toStrictEqual(await threadView(env.saver, threadId));
  });
});
