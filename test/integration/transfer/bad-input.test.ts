import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CheckpointerDatabaseError,
  type CheckpointerError,
  InvalidInputError,
  MemoryCheckpointer,
  PayloadTooLargeError,
  PostgresSaver,
  type ThreadExport,
  ThreadNotFoundError,
} from "../../../src/index.js";
import { toolGraph, toolGraphStart } from "../../support/graphs.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";

/**
 * A damaged document is refused with an error naming the field, and nothing
 * of it is stored, by either saver; a row the database itself rejects rolls
 * back the whole import, rows inserted before it included. Unknown threads
 * and bad thread ids are refused without writing anything.
 */

const env = useSaver();
const threadId = "bad-input";
let doc: ThreadExport;
let target: PostgresSaver;
let memory: MemoryCheckpointer;
const TARGET = "import_target";

beforeAll(async () => {
  await toolGraph(env.saver, []).invoke(toolGraphStart(), { configurable: { thread_id: threadId } });
  doc = await env.saver.exportThread(threadId);
  target = new PostgresSaver(env.pool, undefined, { schema: TARGET, maxPayloadBytes: 4096 });
  await target.setup();
  memory = new MemoryCheckpointer();
  // Both targets already hold another thread, which must stay as it is.
  const other = { ...doc, thread_id: "already-there" };
  await target.importThread(other);
  await memory.importThread(other);
});

afterAll(async () => {
  await target?.end();
});

/** A deep copy of the valid document with `edit` applied. */
function damaged(edit: (d: any) => void): ThreadExport {
  const copy = structuredClone(doc);
  edit(copy);
  return copy;
}

/** What both targets hold, to compare before and after a refused import. */
async function holdings() {
  return { rows: await countRows(env.pool, TARGET), memory: structuredClone({ storage: memory.storage, writes: memory.writes }) };
}

async function expectRefused(value: unknown, kind: new (...args: never[]) => CheckpointerError, message: string | RegExp, savers = [target, memory]) {
  const before = await holdings();
  for (const saver of savers) {
    const error = await saver.importThread(value as ThreadExport).then(() => undefined, (e: unknown) => e);
    expect(error, saver.constructor.name).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(message);
  }
  expect(await holdings()).toEqual(before);
}

describe("a malformed document imports nothing", () => {
  const counts = () => doc.counts;

  it.each([
    ["not an object", () => "langgraph-checkpoint-pg/thread", "the export document must be an object, got a string"],
    ["null", () => null, "the export document must be an object, got null"],
    ["another format", () => damaged((d) => (d.format = "something/else")), /format must be "langgraph-checkpoint-pg\/thread"/],
    ["a missing field (thread_id)", () => damaged((d) => delete d.thread_id), "thread_id must be a string, got undefined"],
    ["a missing field (writes[0].task_path)", () => damaged((d) => delete d.writes[0].task_path), "writes[0].task_path must be a string, got undefined"],
    ["a string field of another type", () => damaged((d) => (d.checkpoints[1].checkpoint_ns = 0)), "checkpoints[1].checkpoint_ns must be a string, got the number 0"],
    ["an integer field of another type", () => damaged((d) => (d.writes[3].idx = "3")), "writes[3].idx must be an integer, got a string"],
    ["a base64 field that is not base64", () => damaged((d) => (d.writes[2].data = "not base64!")), "writes[2].data must be base64, got a string"],
    ["an object field of another type", () => damaged((d) => (d.checkpoints[2].metadata = [])), "checkpoints[2].metadata must be an object, got an array"],
    ["an array field of another type", () => damaged((d) => (d.blobs = { 0: d.blobs[0] })), "blobs must be an array, got an object"],
    ["a duplicate checkpoint", () => damaged((d) => { d.checkpoints.push(d.checkpoints[0]); d.counts.checkpoints += 1; }), () => `checkpoints[${counts().checkpoints}] repeats checkpoint`],
    ["a compressed type tag", () => damaged((d) => (d.blobs[1].type = "json+br")), 'blobs[1].type is "json+br", a compressed type'],
    ["a truncated list (counts mismatch)", () => damaged((d) => d.writes.splice(-2)), () => `counts.writes is ${counts().writes} but the document holds ${counts().writes - 2} writes: it is truncated or was edited`],
    ["invalid base64", () => damaged((d) => (d.blobs[0].data = d.blobs[0].data.slice(1))), "blobs[0].data must be base64"],
    ["a NUL in an id", () => damaged((d) => (d.writes[1].task_id = "task\u0000")), "writes[1].task_id contains a NUL character"],
    ["a newer version", () => damaged((d) => (d.version = 3)), "version 3 was written by a newer langgraph-checkpoint-pg"],
  ] as Array<[string, () => unknown, string | RegExp | (() => string)]>)("%s", async (_name, make, message) => {
    await expectRefused(make(), InvalidInputError, typeof message === "function" ? message() : message);
  });

  it("a value over maxPayloadBytes: PayloadTooLargeError (Postgres)", async () => {
    const big = damaged((d) => (d.writes.at(-1).data = Buffer.from(JSON.stringify("x".repeat(5000))).toString("base64")));
    await expectRefused(big, PayloadTooLargeError, /importThread: a json value of 5002 bytes is more than maxPayloadBytes \(4096\)/, [target]);
  });

  it("a checkpoint JSONB cannot hold (NUL, lone surrogate) is refused before anything is written (Postgres)", async () => {
    const nul = damaged((d) => (d.checkpoints[1].checkpoint.versions_seen = { "node\u0000": {} }));
    await expectRefused(nul, InvalidInputError, "checkpoints[1].checkpoint contains a NUL character", [target]);
    const lone = damaged((d) => (d.checkpoints[2].checkpoint.versions_seen = { "node\udc00": {} }));
    await expectRefused(lone, InvalidInputError, "checkpoints[2].checkpoint contains an unpaired UTF-16 surrogate", [target]);
  });
});

describe("one transaction", () => {
  it("a write the database rejects rolls back the checkpoints and values inserted before it", async () => {
    const schema = "rejecting";
    const saver = new PostgresSaver(env.pool, undefined, { schema });
    await saver.setup();
    try {
      // Writes go in last: the trigger fires with every checkpoint and blob of the document already inserted, and says how many.
      await env.pool.query(`
        CREATE FUNCTION ${schema}.reject_interrupts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.channel = '__interrupt__' THEN
            RAISE EXCEPTION 'this test rejects interrupt writes (% checkpoints, % blobs inserted)',
              (SELECT count(*) FROM ${schema}.checkpoints), (SELECT count(*) FROM ${schema}.checkpoint_blobs);
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER reject_interrupts BEFORE INSERT ON ${schema}.checkpoint_writes
          FOR EACH ROW EXECUTE FUNCTION ${schema}.reject_interrupts();`);
      const error = await saver.importThread(doc).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointerDatabaseError);
      expect((error as CheckpointerDatabaseError).sqlstate).toBe("P0001");
      expect((error as Error).message).toContain(
        `this test rejects interrupt writes (${doc.counts.checkpoints} checkpoints, ${doc.counts.blobs} blobs inserted)`,
      );
      expect(await countRows(env.pool, schema)).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });
      // Without the trigger the same document imports whole: the refusal was the database's.
      await env.pool.query(`DROP TRIGGER reject_interrupts ON ${schema}.checkpoint_writes`);
      expect((await saver.importThread(doc)).imported).toEqual(doc.counts);
    } finally {
      await saver.end();
    }
  });
});

describe("unknown threads and bad thread ids", () => {
  it.each(["postgres", "memory"] as const)("exportThread of an unknown thread: ThreadNotFoundError, nothing written (%s)", async (kind) => {
    const saver = kind === "postgres" ? target : memory;
    const before = await holdings();
    const error = await saver.exportThread("nope").then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ThreadNotFoundError);
    expect(error).toMatchObject({ code: "THREAD_NOT_FOUND", threadId: "nope", message: 'exportThread: no checkpoints found for thread "nope"' });
    expect(await holdings()).toEqual(before);
  });

  it.each([
    [42, "exportThread: threadId must be a non-empty string, got the number 42"],
    [undefined, "exportThread: threadId is missing"],
    ["", "exportThread: threadId must be a non-empty string, got an empty string"],
    [{ thread_id: "bad-input" }, "exportThread: threadId must be a non-empty string, got an object"],
    ["bad\u0000input", "exportThread: threadId contains a NUL character, which Postgres text cannot store"],
  ])("exportThread(%j): InvalidInputError", async (threadId, message) => {
    for (const saver of [target, memory]) {
      const error = await saver.exportThread(threadId as string).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toBe(message);
    }
  });
});
