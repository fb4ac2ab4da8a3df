import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import pg from "pg";
import { Registry } from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryCheckpointer, PostgresSaver, type ThreadExport } from "../../../src/index.js";
import { createDatabase, dropDatabase, targets } from "../../support/database.js";
import { type Log, approve, deltaGraph, deltaGraphStart, toolGraph, toolGraphStart } from "../../support/graphs.js";
import { parseMetrics, valueOf } from "../../support/prometheus.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";
import { canon, scenarios, threadView } from "../../support/transfer.js";

/**
 * Export and import where they run in production: on a database only the
 * official saver has used, while a graph is writing the thread, through
 * PgBouncer in transaction mode, and in the saver's metrics.
 */

const env = useSaver();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("a database written by the official saver (schema v4, no task_path)", () => {
  it("exports without setup(), imports into a fresh database, and the graph resumes there", async () => {
    const { url, name } = await createDatabase();
    const official = OfficialSaver.fromConnString(url);
    const pool = new pg.Pool({ connectionString: url });
    cleanups.push(async () => {
      await official.end();
      await pool.end();
      await dropDatabase(name);
    });
    await official.setup();
    const config = { configurable: { thread_id: "official" } };
    await toolGraph(official, []).invoke(toolGraphStart(), config);

    const ours = new PostgresSaver(pool);
    const doc = await ours.exportThread("official");
    await ours.end();
    // Still the official schema: export migrated nothing.
    expect((await pool.query("SELECT max(v) AS v FROM checkpoint_migrations")).rows[0].v).toBe(4);
    expect((await pool.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE column_name = 'task_path'")).rows[0].n).toBe(0);
    expect(doc.counts).toEqual(await countRows(pool));
    expect(new Set(doc.writes.map((w) => w.task_path))).toEqual(new Set([""]));

    expect((await env.saver.importThread(doc)).imported).toEqual(doc.counts);
    const expectedLog: Log = [];
    const log: Log = [];
    const resume = async (saver: OfficialSaver | PostgresSaver, into: Log) => {
      const graph = toolGraph(saver, into);
      await graph.invoke(approve(), config);
      await graph.invoke(approve(), config);
      return canon((await graph.getState(config)).values);
    };
    const expected = await resume(official, expectedLog);
    expect(await resume(env.saver, log)).toStrictEqual(expected);
    expect(log).toStrictEqual(expectedLog);
    expect(log).not.toContain("tool:call-add-1");
    expect(expected).toMatchObject({ approvals: ["yes", "yes"] });
  });
});

describe("one snapshot", () => {
  it("exports taken while a graph writes the thread are each whole, and import", async () => {
    const threadId = "busy";
    const config = { configurable: { thread_id: threadId } };
    let running = true;
    const run = deltaGraph(env.saver, [], 30)
      // "sync": each checkpoint is stored before the writes of the tasks that run from it (with the default
      // "async", a step's writes may land before its checkpoint, and a snapshot would rightly hold them alone).
      .invoke(deltaGraphStart(), { ...config, recursionLimit: 100, durability: "sync" })
      .then(() => undefined, (error: unknown) => error)
      .finally(() => (running = false));
    const docs: ThreadExport[] = [];
    while (running) {
      try {
        docs.push(await env.saver.exportThread(threadId));
      } catch (error) {
        if ((error as { code?: string }).code !== "THREAD_NOT_FOUND") throw error;
      }
    }
    const failure = await run;
    if (failure !== undefined) throw failure;
    const final = await env.saver.exportThread(threadId);
    const midway = docs.filter((d) => d.counts.checkpoints < final.counts.checkpoints);
    // At least two different moments of the run (more on a quiet machine): the race must have happened.
    expect(new Set(midway.map((d) => d.counts.checkpoints)).size).toBeGreaterThanOrEqual(2);
    // Every snapshot is checked; a few of them (first, middle, last) are also imported into a schema of their own.
    const imported = new Set([midway[0], midway[Math.floor(midway.length / 2)], midway.at(-1)]);
    for (const [i, doc] of midway.entries()) {
      const blobs = new Set(doc.blobs.map((b) => JSON.stringify([b.checkpoint_ns, b.channel, b.version])));
      const checkpoints = new Set(doc.checkpoints.map((c) => c.checkpoint_id));
      for (const cp of doc.checkpoints) {
        for (const [channel, version] of Object.entries(cp.checkpoint.channel_versions as Record<string, unknown>)) {
          expect(blobs.has(JSON.stringify([cp.checkpoint_ns, channel, String(version)])), `${channel}@${version}`).toBe(true);
        }
        if (cp.parent_checkpoint_id !== null) expect(checkpoints.has(cp.parent_checkpoint_id)).toBe(true);
      }
      for (const write of doc.writes) expect(checkpoints.has(write.checkpoint_id)).toBe(true);
      // Each snapshot is a thread a graph can read.
      const copy = imported.has(doc) ? new PostgresSaver(env.pool, undefined, { schema: `snapshot_${i}` }) : new MemoryCheckpointer();
      await copy.setup();
      cleanups.push(() => copy.end());
      expect((await copy.importThread(doc)).imported).toEqual(doc.counts);
      // The state there is the original's at the snapshot's newest checkpoint.
      const at = { configurable: { thread_id: threadId, checkpoint_id: doc.checkpoints.at(-1)!.checkpoint_id } };
      const state = await deltaGraph(copy, [], 30).getState(at);
      expect(canon(state.values)).toStrictEqual(canon((await deltaGraph(env.saver, [], 30).getState(at)).values));
    }
  });
});

describe.each(targets())("through $name", (target) => {
  it("exports and imports, and the graph resumes on the copy", async () => {
    const scenario = scenarios[0]!;
    const config = { configurable: { thread_id: "via" } };
    // A database of its own: PgBouncer keeps server connections to it open, which the cleanup closes before dropping it.
    const { url, name } = await createDatabase();
    const direct = PostgresSaver.fromConnString(url);
    const source = PostgresSaver.fromConnString(target.url(url));
    const copy = PostgresSaver.fromConnString(target.url(url), { schema: "copy" });
    cleanups.push(async () => {
      for (const saver of [direct, source, copy]) await saver.end();
      // The savers' own pools keep listening for errors after end(), so their closing connections may be ended too.
      await env.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
      await dropDatabase(name);
    });
    await direct.setup();
    await copy.setup();
    await scenario.start(direct, [], config);
    const doc = await source.exportThread("via");
    expect(doc.counts).toEqual(await countRows(direct.pool as pg.Pool));
    expect((await copy.importThread(doc)).imported).toEqual(doc.counts);
    expect((await copy.importThread(doc)).imported).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });
    expect(await threadView(copy, "via")).toStrictEqual(await threadView(direct, "via"));
    const expectedLog: Log = [];
    const log: Log = [];
    const expected = await scenario.resume(direct, expectedLog, config);
    expect(await scenario.resume(copy, log, config)).toStrictEqual(expected);
    expect(log).toStrictEqual(expectedLog);
  });
});

describe("metrics", () => {
  it("count export_thread and import_thread, with their errors, for both savers", async () => {
    const registry = new Registry();
    const saver = new PostgresSaver(env.pool, undefined, { schema: "metered", metrics: { registry } });
    await saver.setup();
    cleanups.push(() => saver.end());
    const memory = new MemoryCheckpointer(undefined, undefined, { metrics: { registry } });
    await toolGraph(saver, []).invoke(toolGraphStart(), { configurable: { thread_id: "metered" } });
    const doc = await saver.exportThread("metered");
    await memory.importThread(doc);
    await memory.exportThread("metered");
    await saver.importThread(doc);
    await saver.importThread(doc);
    await expect(saver.exportThread("nope")).rejects.toThrow("no checkpoints found");
    await expect(memory.exportThread("nope")).rejects.toThrow("no checkpoints found");
    await expect(saver.importThread({ ...doc, version: 9 } as never)).rejects.toThrow("newer");
    await expect(memory.importThread(null as never)).rejects.toThrow("must be an object");

    const samples = parseMetrics(await registry.metrics());
    const ops = "langgraph_checkpoint_operation_duration_seconds_count";
    const errors = "langgraph_checkpoint_operation_errors_total";
    expect(valueOf(samples, ops, { operation: "export_thread", backend: "postgres", status: "ok" })).toBe(1);
    expect(valueOf(samples, ops, { operation: "export_thread", backend: "postgres", status: "error" })).toBe(1);
    expect(valueOf(samples, ops, { operation: "import_thread", backend: "postgres", status: "ok" })).toBe(2);
    expect(valueOf(samples, ops, { operation: "import_thread", backend: "postgres", status: "error" })).toBe(1);
    expect(valueOf(samples, ops, { operation: "export_thread", backend: "memory", status: "ok" })).toBe(1);
    expect(valueOf(samples, ops, { operation: "export_thread", backend: "memory", status: "error" })).toBe(1);
    expect(valueOf(samples, ops, { operation: "import_thread", backend: "memory", status: "ok" })).toBe(1);
    expect(valueOf(samples, ops, { operation: "import_thread", backend: "memory", status: "error" })).toBe(1);
    expect(valueOf(samples, errors, { operation: "export_thread", code: "THREAD_NOT_FOUND" })).toBe(2);
    expect(valueOf(samples, errors, { operation: "import_thread", code: "INVALID_INPUT" })).toBe(2);
    // Values read out of and written into the tables, before and after compaction.
    for (const operation of ["export_thread", "import_thread"]) {
      for (const stage of ["raw", "stored"]) {
        expect(valueOf(samples, "langgraph_checkpoint_payload_bytes_count", { operation, stage }), `${operation} ${stage}`).toBeGreaterThan(0);
      }
    }
  });
});
