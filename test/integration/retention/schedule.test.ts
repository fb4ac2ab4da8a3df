import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import { type Checkpointer, MemoryCheckpointer, PostgresSaver, createCheckpointer } from "../../../src/index.js";
import { approve, toolGraph, toolGraphStart } from "../../support/graphs.js";
import { parseMetrics, valueOf } from "../../support/prometheus.js";
import { ageThread, idsByNamespace, quietLogger, recordingLogger, rowsPerThread, usePruneDatabase } from "../../support/prune.js";

/**
 * Automatic retention (`retention: { keepLast, olderThan, every }`): a real
 * saver prunes on its own timer, each run is visible in the metrics and
 * the logs, a failing run is logged and counted but never thrown, the
 * timer never keeps a process alive, `end()` stops it, and the
 * LANGGRAPH_CHECKPOINT_RETENTION_* variables turn it on through
 * `createCheckpointer()`.
 */
const env = usePruneDatabase();
const run = promisify(execFile);

const config = (thread: string) => ({ configurable: { thread_id: thread } });
const DAY = 86_400_000;
/** Generous: the first run comes within `every` ("1s"); this only bounds a broken test. */
const WAIT = { timeout: 15_000, interval: 100 };



/** A toolGraph thread at its second interrupt: several checkpoints, pending writes on the newest. */
async function toolThread(checkpointer: Checkpointer | PostgresSaver, thread: string) {
  const graph = toolGraph(checkpointer, []);
  await graph.invoke(toolGraphStart(), config(thread));
  await graph.invoke(approve(), config(thread));
}

async function metric(registry: Registry, name: string, labels: Record<string, string>) {
  return valueOf(parseMetrics(await registry.metrics()), name, labels);
}

describe("automatic retention", () => {
  it("prunes on its own; each run is counted and logged at info level with what it removed; end() stops it", async () => {
    await env.pool.query("TRUNCATE checkpoints, checkpoint_blobs, checkpoint_writes");
    await toolThread(env.saver, "auto-1");
    await toolThread(env.saver, "auto-2");
    const before = await rowsPerThread(env.pool);
    const registry = new Registry();
    const logger = recordingLogger();
    const auto = PostgresSaver.fromConnString(env.url(), { retention: { keepLast: 1, every: "1s" }, metrics: { registry }, logger });
    try {
      await vi.waitFor(async () => expect(await metric(registry, "langgraph_checkpoint_retention_runs_total", { status: "ok" })).toBeGreaterThanOrEqual(1), WAIT);
      for (const thread of ["auto-1", "auto-2"]) expect((await idsByNamespace(env.pool, thread))[""]).toHaveLength(1);
      const runs = logger.calls.filter((c) => c.message === "retention: pruned checkpoints");
      expect(runs.length).toBeGreaterThanOrEqual(1);
      for (const c of runs) expect(c.level).toBe("info");
      expect(runs[0]!.fields).toMatchObject({ keep_last: 1, threads: 2, threads_deleted: 0 });
      const after = await rowsPerThread(env.pool);
      const removed = (i: 0 | 1 | 2) => Object.keys(before).reduce((n, t) => n + before[t]![i] - after[t]![i], 0);
      expect(runs[0]!.fields).toMatchObject({ checkpoints: removed(0), blobs: removed(1), writes: removed(2) });
      expect(removed(0)).toBeGreaterThan(0);
      // Rows deleted, by table: exactly what went (whatever the number of runs so far).
      await auto.end();
      const total = (field: string) => logger.calls.filter((c) => c.message === "retention: pruned checkpoints")
        .reduce((n, c) => n + (c.fields![field] as number), 0);
      for (const [table, i] of [["checkpoints", 0], ["blobs", 1], ["writes", 2]] as const) {
        expect(await metric(registry, "langgraph_checkpoint_pruned_rows_total", { table })).toBe(removed(i));
        expect(total(table)).toBe(removed(i));
      }
      expect(await metric(registry, "langgraph_checkpoint_retention_runs_total", { status: "error" })).toBe(0);
      expect(logger.calls.filter((c) => c.level === "warn" || c.level === "error")).toEqual([]);
      // The runs are prune operations in the usual metrics too.
      const okRuns = await metric(registry, "langgraph_checkpoint_retention_runs_total", { status: "ok" });
      expect(await metric(registry, "langgraph_checkpoint_operation_duration_seconds_count", { operation: "prune", status: "ok" })).toBe(okRuns);
      // end() stopped the timer: no run in the next period and then some.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await metric(registry, "langgraph_checkpoint_retention_runs_total", { status: "ok" })).toBe(okRuns);
    } finally {
      await auto.end();
    }
  });

  it("olderThan: idle threads are deleted whole on their own, young ones stay", async () => {
    await toolThread(env.saver, "auto-old");
    await toolThread(env.saver, "auto-young");
    await ageThread(env.pool, "auto-old", 3 * DAY);
    const registry = new Registry();
    const auto = new PostgresSaver(env.pool, undefined, { retention: { olderThan: "2d", every: "1s" }, metrics: { registry }, logger: quietLogger });
    try {
      await vi.waitFor(async () => expect((await rowsPerThread(env.pool))["auto-old"]).toBeUndefined(), WAIT);
      expect((await rowsPerThread(env.pool))["auto-young"]).toBeDefined();
      expect(await metric(registry, "langgraph_checkpoint_retention_runs_total", { status: "ok" })).toBeGreaterThanOrEqual(1);
    } finally {
      await auto.end();
    }
  });

  it("a failing run (its schema dropped) is logged at warn level and counted as an error, never thrown; runs go on", async () => {
    const setup = new PostgresSaver(env.pool, undefined, { schema: "dropped", logger: quietLogger });
    await setup.setup();
    await env.pool.query("DROP SCHEMA dropped CASCADE");
    const registry = new Registry();
    const logger = recordingLogger();
    const auto = new PostgresSaver(env.pool, undefined, { schema: "dropped", retention: { keepLast: 3, every: "1s" }, metrics: { registry }, logger });
    try {
      await vi.waitFor(async () => expect(await metric(registry, "langgraph_checkpoint_retention_runs_total", { status: "error" })).toBeGreaterThanOrEqual(2), WAIT);
      const failures = logger.calls.filter((c) => c.message.startsWith("retention: prune failed"));
      expect(failures.length).toBeGreaterThanOrEqual(2);
      for (const c of failures) {
        expect(c.level).toBe("warn");
        expect(c.message).toContain("retrying in 1s");
        expect(c.fields).toMatchObject({ code: "42P01" });
      }
      expect(await metric(registry, "langgraph_checkpoint_retention_runs_total", { status: "ok" })).toBe(0);
      expect(logger.calls.filter((c) => c.message === "retention: pruned checkpoints")).toEqual([]);
    } finally {
      await auto.end();
      await setup.end();
    }
  });

  it("the timer never keeps a process alive (PostgresSaver and MemoryCheckpointer)", async () => {
    const dist = new URL("../../../dist/esm/index.js", import.meta.url).href;
    const script = `
      import { MemoryCheckpointer, PostgresSaver } from ${JSON.stringify(dist)};
      const saver = PostgresSaver.fromConnString(process.argv[1], { retention: { keepLast: 5, olderThan: "30d", every: "2s" }, metrics: false });
      await saver.setup();
      new MemoryCheckpointer(undefined, undefined, { retention: { keepLast: 5, every: "2s" }, metrics: false });
      console.log("ready");`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script, env.url()], { timeout: 20_000 });
    expect(stdout).toContain("ready");
    expect(fileURLToPath(dist)).toMatch(/dist/);
  });
});

describe("retention from the environment, through createCheckpointer()", () => {
  it("LANGGRAPH_CHECKPOINT_RETENTION_KEEP_LAST / _OLDER_THAN / _EVERY turn it on, on Postgres and in memory", async () => {
    await env.pool.query("TRUNCATE checkpoints, checkpoint_blobs, checkpoint_writes");
    await toolThread(env.saver, "env-keep");
    await toolThread(env.saver, "env-old");
    await ageThread(env.pool, "env-old", 10 * DAY);
    const variables = {
      LANGGRAPH_CHECKPOINT_RETENTION_KEEP_LAST: "2",
      LANGGRAPH_CHECKPOINT_RETENTION_OLDER_THAN: "7d",
      LANGGRAPH_CHECKPOINT_RETENTION_EVERY: "1s",
    };
    const logger = recordingLogger();
    const fromEnv = await createCheckpointer({ url: env.url(), env: variables, logger, metrics: { registry: new Registry() } });
    const memory = await createCheckpointer({ url: "memory", env: variables, logger: quietLogger, metrics: { registry: new Registry() } });
    try {
      expect(fromEnv).toBeInstanceOf(PostgresSaver);
      await vi.waitFor(async () => expect(Object.keys(await rowsPerThread(env.pool))).toEqual(["env-keep"]), WAIT);
      await vi.waitFor(async () => expect((await idsByNamespace(env.pool, "env-keep"))[""]).toHaveLength(2), WAIT);
      expect(logger.calls.find((c) => c.message === "retention: pruned checkpoints")!.fields)
        .toMatchObject({ keep_last: 2, older_than: "7d" });

      expect(memory).toBeInstanceOf(MemoryCheckpointer);
      await toolThread(memory, "env-memory");
      const stored = (memory as MemoryCheckpointer).storage["env-memory"]![""]!;
      expect(Object.keys(stored).length).toBeGreaterThan(2);
      await vi.waitFor(() => expect(Object.keys(stored)).toHaveLength(2), WAIT);
    } finally {
      await fromEnv.end();
      await memory.end();
    }
  });
});
