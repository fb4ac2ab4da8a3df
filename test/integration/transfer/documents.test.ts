import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  InvalidInputError,
  MemoryCheckpointer,
  PostgresSaver,
  type ThreadExport,
} from "../../../src/index.js";
import { approve, toolGraph, toolGraphStart } from "../../support/graphs.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";
import { threadView } from "../../support/transfer.js";

/**
 * The document as a file format: versioned, self-describing, unchanged by
 * a trip through JSON text (what the command-line tool writes and reads),
 * and importing it is idempotent: a second import adds nothing, and a copy
 * that has moved on since keeps its newer checkpoints.
 */

const env = useSaver();
const threadId = "documents";
const config = { configurable: { thread_id: threadId } };
let doc: ThreadExport;
let exportedBetween: [number, number];
const savers: PostgresSaver[] = [];

/** A saver on its own schema of the test database, set up. */
async function schemaSaver(schema: string): Promise<PostgresSaver> {
  const saver = new PostgresSaver(env.pool, undefined, { schema });
  await saver.setup();
  savers.push(saver);
  return saver;
}

beforeAll(async () => {
  await toolGraph(env.saver, []).invoke(toolGraphStart(), config);
  const before = Date.now();
  doc = await env.saver.exportThread(threadId);
  exportedBetween = [before, Date.now()];
});

afterAll(async () => {
  for (const saver of savers) await saver.end();
});

describe("versioned and portable", () => {
  it("says what it is, when it was made and how many entries it holds", () => {
    expect(doc.format).toBe(EXPORT_FORMAT);
    expect(EXPORT_FORMAT).toBe("langgraph-checkpoint-pg/thread");
    expect(doc.version).toBe(EXPORT_VERSION);
    expect(EXPORT_VERSION).toBe(1);
    expect(doc.thread_id).toBe(threadId);
    const at = Date.parse(doc.exported_at);
    expect(new Date(at).toISOString()).toBe(doc.exported_at);
    expect(at).toBeGreaterThanOrEqual(exportedBetween[0]);
    expect(at).toBeLessThanOrEqual(exportedBetween[1]);
    expect(doc.counts).toEqual({ checkpoints: doc.checkpoints.length, blobs: doc.blobs.length, writes: doc.writes.length });
    // Interrupted in the tool step: the newest checkpoint holds the three tool results and the interrupt,
    // in writesSortKey order (task path first: the approval was pulled, the tools were pushed by Send).
    const newest = doc.checkpoints.at(-1)!.checkpoint_id;
    expect(doc.writes.filter((w) => w.checkpoint_id === newest).map((w) => [w.task_path.split(",")[0], w.idx, w.channel])).toEqual([
      ["~__pregel_pull", -3, "__interrupt__"],
      ...[0, 1, 2].flatMap(() => [["~__pregel_push", 0, "messages"], ["~__pregel_push", 1, "branch:to:agent"]]),
    ]);
  });

  it("imports from JSON text exactly as from the object", async () => {
    const text = JSON.stringify(doc);
    const fromObject = await schemaSaver("from_object");
    const fromText = await schemaSaver("from_text");
    const memory = new MemoryCheckpointer();
    const expected = { thread_id: threadId, imported: doc.counts, skipped: { checkpoints: 0, blobs: 0, writes: 0 } };
    expect(await fromObject.importThread(doc)).toEqual(expected);
    expect(await fromText.importThread(JSON.parse(text))).toEqual(expected);
    expect(await memory.importThread(JSON.parse(text))).toEqual(expected);
    const original = await threadView(env.saver, threadId);
    expect(await threadView(fromObject, threadId)).toStrictEqual(original);
    expect(await threadView(fromText, threadId)).toStrictEqual(original);
    expect(await threadView(memory, threadId)).toStrictEqual(original);
    // And an export of the copy is the same document, byte for byte but its date.
    const again = await fromText.exportThread(threadId);
    expect({ ...again, exported_at: "" }).toStrictEqual({ ...doc, exported_at: "" });
  });

  it("refuses a document from a newer version, saying so, and imports nothing", async () => {
    const target = await schemaSaver("newer");
    const memory = new MemoryCheckpointer();
    const newer = { ...doc, version: 2 } as unknown as ThreadExport;
    for (const saver of [target, memory]) {
      const refusal = saver.importThread(newer);
      await expect(refusal).rejects.toThrow(InvalidInputError);
      await expect(saver.importThread(newer)).rejects.toThrow(
        "importThread: version 2 was written by a newer langgraph-checkpoint-pg; this one reads version 1",
      );
    }
    expect(await countRows(env.pool, "newer")).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });
    expect(memory.storage).toEqual({});
  });
});

describe("idempotent", () => {
  it("a second import of the same document adds nothing (Postgres)", async () => {
    const target = await schemaSaver("twice");
    expect((await target.importThread(doc)).imported).toEqual(doc.counts);
    const rows = await countRows(env.pool, "twice");
    expect(rows).toEqual(doc.counts);
    const second = await target.importThread(JSON.parse(JSON.stringify(doc)));
    expect(second).toEqual({ thread_id: threadId, imported: { checkpoints: 0, blobs: 0, writes: 0 }, skipped: doc.counts });
    expect(await countRows(env.pool, "twice")).toEqual(rows);
    expect(await threadView(target, threadId)).toStrictEqual(await threadView(env.saver, threadId));
  });

  it("a second import of the same document adds nothing (MemoryCheckpointer)", async () => {
    const memory = new MemoryCheckpointer();
    expect((await memory.importThread(doc)).imported).toEqual(doc.counts);
    const before = structuredClone({ storage: memory.storage, writes: memory.writes });
    expect(await memory.importThread(doc)).toEqual({ thread_id: threadId, imported: { checkpoints: 0, blobs: 0, writes: 0 }, skipped: doc.counts });
    expect({ storage: memory.storage, writes: memory.writes }).toEqual(before);
  });

  it.each(["postgres", "memory"] as const)("a copy that moved on keeps its newer checkpoints (%s)", async (kind) => {
    const target = kind === "postgres" ? await schemaSaver("moved_on") : new MemoryCheckpointer();
    await target.importThread(doc);
    // The copy goes on: the approval is given there, and the agent's second round interrupts again.
    await toolGraph(target, []).invoke(approve(), config);
    const moved = await threadView(target, threadId);
    expect(moved.length).toBeGreaterThan(doc.counts.checkpoints);
    const result = await target.importThread(doc);
    expect(result.imported).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });
    expect(result.skipped).toEqual(doc.counts);
    expect(await threadView(target, threadId)).toStrictEqual(moved);
    const latest = await target.getTuple(config);
    expect(latest!.checkpoint.id).toBe(moved.map((v) => String(v.checkpoint.id)).sort().at(-1));
  });

  it("an older export fills in only what the copy lacks", async () => {
    const target = await schemaSaver("partial");
    const older: ThreadExport = JSON.parse(JSON.stringify(doc));
    // The first half of the checkpoints, and only the writes and values they own.
    const kept = new Set(older.checkpoints.slice(0, 2).map((c) => c.checkpoint_id));
    older.checkpoints = older.checkpoints.filter((c) => kept.has(c.checkpoint_id));
    older.writes = older.writes.filter((w) => kept.has(w.checkpoint_id));
    const named = new Set(older.checkpoints.flatMap((c) =>
      Object.entries(c.checkpoint.channel_versions as Record<string, unknown>).map(([ch, v]) => `${ch}@${String(v)}`)));
    older.blobs = older.blobs.filter((b) => named.has(`${b.channel}@${b.version}`));
    older.counts = { checkpoints: older.checkpoints.length, blobs: older.blobs.length, writes: older.writes.length };
    expect(await target.importThread(older)).toMatchObject({ imported: older.counts });
    const result = await target.importThread(doc);
    expect(result.imported).toEqual({
      checkpoints: doc.counts.checkpoints - older.counts.checkpoints,
      blobs: doc.counts.blobs - older.counts.blobs,
      writes: doc.counts.writes - older.counts.writes,
    });
    expect(result.skipped).toEqual(older.counts);
    expect(await threadView(target, threadId)).toStrictEqual(await threadView(env.saver, threadId));
  });
});
