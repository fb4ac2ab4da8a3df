import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryCheckpointer, PostgresSaver, type ThreadExport } from "../../../src/index.js";
import { createDatabase, dropDatabase } from "../../support/database.js";
import type { Log } from "../../support/graphs.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";
import { deltaHistories, documentView, scenarios, threadView } from "../../support/transfer.js";

/**
 * A thread moves from one PostgreSQL to another database, to another schema
 * of the same database, and through the in-memory saver back to
 * PostgreSQL, for real graph runs left interrupted, failed, mid-way and
 * finished. Every copy must list exactly the tuples of the original (values,
 * metadata, pending writes in order, parents, every namespace), rebuild delta
 * channels the same way, and resume to the same end without redoing stored work.
 */

const source = useSaver();
let otherDb: { url: string; name: string };
let otherPool: pg.Pool;
/** Each destination, with the saver a test imports into. */
const copies: Record<"another database" | "another schema" | "memory, then Postgres", PostgresSaver> = {} as never;

beforeAll(async () => {
  otherDb = await createDatabase();
  otherPool = new pg.Pool({ connectionString: otherDb.url });
  copies["another database"] = new PostgresSaver(otherPool);
  copies["another schema"] = new PostgresSaver(source.pool, undefined, { schema: "copy of public" });
  copies["memory, then Postgres"] = new PostgresSaver(otherPool, undefined, { schema: "via_memory" });
  for (const saver of Object.values(copies)) await saver.setup();
});

afterAll(async () => {
  for (const saver of Object.values(copies)) await saver?.end();
  await otherPool?.end();
  if (otherDb) await dropDatabase(otherDb.name);
});

describe.each(scenarios.map((scenario, i) => ({ scenario, threadId: `round-trip-${i}` })))("$scenario.name", ({ scenario, threadId }) => {
  const config = { configurable: { thread_id: threadId } };
  let doc: ThreadExport;

  beforeAll(async () => {
    await scenario.start(source.saver, [], config);
    doc = await source.saver.exportThread(threadId);
  });

  it("the document counts what the database holds", async () => {
    expect(doc.counts).toEqual(await countRows(source.pool, "public", threadId));
    expect(doc.counts.checkpoints).toBeGreaterThan(1);
    expect(doc.counts.writes).toBeGreaterThan(0);
  });

  it.each(["another database", "another schema"] as const)("→ %s: the same tuples and delta histories", async (where) => {
    const copy = copies[where];
    const result = await copy.importThread(doc);
    expect(result).toEqual({ thread_id: threadId, imported: doc.counts, skipped: { checkpoints: 0, blobs: 0, writes: 0 } });
    expect(await threadView(copy, threadId)).toStrictEqual(await threadView(source.saver, threadId));
    if (scenario.deltaChannels.length > 0) {
      expect(await deltaHistories(copy, threadId, scenario.deltaChannels)).toStrictEqual(
        await deltaHistories(source.saver, threadId, scenario.deltaChannels),
      );
    }
  });

  it("→ MemoryCheckpointer → Postgres: the same tuples, delta histories and document", async () => {
    const memory = new MemoryCheckpointer();
    expect((await memory.importThread(doc)).imported).toEqual(doc.counts);
    const fromMemory = await memory.exportThread(threadId);
    const copy = copies["memory, then Postgres"];
    expect((await copy.importThread(fromMemory)).imported).toEqual(doc.counts);
    expect(await threadView(copy, threadId)).toStrictEqual(await threadView(source.saver, threadId));
    if (scenario.deltaChannels.length > 0) {
      expect(await deltaHistories(copy, threadId, scenario.deltaChannels)).toStrictEqual(
        await deltaHistories(source.saver, threadId, scenario.deltaChannels),
      );
    }
    // Both savers export the thread as the same entries in the same order.
    expect(await documentView(fromMemory)).toStrictEqual(await documentView(doc));
    expect(await documentView(await copy.exportThread(threadId))).toStrictEqual(await documentView(doc));
  });

  it("resumes on every copy as on the original, without redoing stored work", async () => {
    const expectedLog: Log = [];
    const expected = await scenario.resume(source.saver, expectedLog, config);
    for (const stored of scenario.stored) expect(expectedLog).not.toContain(stored);
    for (const [where, copy] of Object.entries(copies)) {
      const log: Log = [];
      const final = await scenario.resume(copy, log, config);
      expect({ where, log, final }).toStrictEqual({ where, log: expectedLog, final: expected });
    }
  });
});
