import { type BaseCheckpointSaver, MemorySaver } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { MemoryCheckpointer } from "../../../src/index.js";
import { approve, plain, subgraphGraph, subgraphGraphStart, toolGraph, toolGraphStart } from "../../support/graphs.js";
import { INTACT, copyThread, idsByNamespace, integrity, quietLogger, usePruneDatabase } from "../../support/prune.js";
import { countRows } from "../../support/rows.js";

/**
 * `keepLast` on real graphs that stop mid-run: pending writes of kept
 * checkpoints survive, so an interrupted thread resumes after pruning
 * without re-running finished work, in the root namespace and inside a
 * subgraph's namespace, on Postgres and on `MemoryCheckpointer` alike.
 * Each run is compared with the same run on LangGraph's `MemorySaver`,
 * never pruned.
 */
const env = usePruneDatabase();

const config = (thread: string) => ({ configurable: { thread_id: thread } });





/** toolGraph to its first interrupt, then `between(thread)` before each approval; returns the log and final state. */
async function toolRun(checkpointer: BaseCheckpointSaver, thread: string, between: () => Promise<void>) {
  const log: string[] = [];
  const graph = toolGraph(checkpointer, log);
  const interrupts: unknown[] = [];
  let out = await graph.invoke(toolGraphStart(), config(thread));
  while ("__interrupt__" in out) {
    interrupts.push(plain((out.__interrupt__ as Array<{ value: unknown }>).map((i) => i.value)));
    await between();
    out = await graph.invoke(approve(), config(thread));
  }
  return { log, interrupts, values: plain((await graph.getState(config(thread))).values) };
}

async function subgraphRun(checkpointer: BaseCheckpointSaver, thread: string, between: () => Promise<void>) {
  const log: string[] = [];
  const graph = subgraphGraph(checkpointer, log);
  await graph.invoke(subgraphGraphStart(), config(thread));
  const interrupted = [...log];
  await between();
  log.length = 0;
  await graph.invoke(approve("ok"), config(thread));
  return { interrupted, resumed: [...log], values: plain((await graph.getState(config(thread))).values) };
}

describe("interrupted threads resume after keepLast 1", () => {
  it("toolGraph: the three tools' writes on the interrupted checkpoint survive; tools never re-run", async () => {
    const reference = await toolRun(new MemorySaver(), "ref", async () => {});
    expect(reference.interrupts).toEqual([[{ round: 1 }], [{ round: 2 }]]);
    expect(reference.log.filter((l) => l.startsWith("tool:"))).toHaveLength(6);

    const thread = "tools";
    const seen: Array<{ checkpoints: number; writes: number; pendingWrites: number }> = [];
    const pruned = await toolRun(env.saver, thread, async () => {
      const before = await countRows(env.pool, "public", thread);
      await env.saver.prune({ keepLast: 1, threadIds: [thread] });
      const after = await countRows(env.pool, "public", thread);
      const tuple = await env.saver.getTuple(config(thread));
      seen.push({ checkpoints: after.checkpoints, writes: before.writes - after.writes, pendingWrites: tuple!.pendingWrites!.length });
      expect(await integrity(env.pool, "public", [thread])).toEqual(INTACT);
    });
    // Each prune left one checkpoint holding 3 tool results + the interrupt (at least).
    for (const s of seen) {
      expect(s.checkpoints).toBe(1);
      expect(s.pendingWrites).toBeGreaterThanOrEqual(4);
    }
    expect(pruned).toEqual(reference);
  });

  it("toolGraph on MemoryCheckpointer: the same", async () => {
    const reference = await toolRun(new MemorySaver(), "ref", async () => {});
    const memory = new MemoryCheckpointer(undefined, undefined, { logger: quietLogger, metrics: false });
    const pruned = await toolRun(memory, "tools", async () => {
      await memory.prune({ keepLast: 1 });
      expect(Object.keys(memory.storage.tools![""]!)).toHaveLength(1);
    });
    expect(pruned).toEqual(reference);
  });

  it("subgraphGraph interrupted inside the subgraph: both namespaces keep their newest; draft and polish never re-run", async () => {
    const reference = await subgraphRun(new MemorySaver(), "ref", async () => {});
    expect(reference.interrupted).toEqual(["prepare", "draft", "polish", "confirm:asked"]);
    expect(reference.resumed).toEqual(["confirm:asked", "confirm:ok", "publish"]);

    const thread = "subgraph";
    const pruned = await subgraphRun(env.saver, thread, async () => {
      const before = await idsByNamespace(env.pool, thread);
      const namespaces = Object.keys(before);
      expect(namespaces).toHaveLength(2);
      expect(namespaces.find((ns) => ns.startsWith("review:"))).toBeDefined();
      for (const ids of Object.values(before)) expect(ids.length).toBeGreaterThan(1);
      await env.saver.prune({ keepLast: 1, threadIds: [thread] });
      const after = await idsByNamespace(env.pool, thread);
      expect(after).toEqual(Object.fromEntries(Object.entries(before).map(([ns, ids]) => [ns, [ids.at(-1)]])));
      expect(await integrity(env.pool, "public", [thread])).toEqual(INTACT);
    });
    expect(pruned).toEqual(reference);

    const memory = new MemoryCheckpointer(undefined, undefined, { logger: quietLogger, metrics: false });
    const prunedInMemory = await subgraphRun(memory, thread, async () => {
      await memory.prune({ keepLast: 1 });
      for (const checkpoints of Object.values(memory.storage[thread]!)) expect(Object.keys(checkpoints)).toHaveLength(1);
    });
    expect(prunedInMemory).toEqual(reference);
  });
});

describe("keepLast N keeps exactly the N newest of every namespace", () => {
  it("toolGraph and subgraphGraph threads, N = 1..5, with pending writes of exactly those", async () => {
    await toolRun(env.saver, "exact-tools", async () => {});
    await subgraphGraph(env.saver, []).invoke(subgraphGraphStart(), config("exact-sub"));
    for (const source of ["exact-tools", "exact-sub"]) {
      const before = await idsByNamespace(env.pool, source);
      for (const keepLast of [1, 2, 3, 5]) {
        const thread = `${source}-${keepLast}`;
        await copyThread(env.pool, source, thread);
        const writesBefore = await writesPerCheckpoint(thread);
        const result = await env.saver.prune({ keepLast, threadIds: [thread] });
        const after = await idsByNamespace(env.pool, thread);
        expect(after).toEqual(Object.fromEntries(Object.entries(before).map(([ns, ids]) => [ns, ids.slice(-keepLast)])));
        const writesAfter = await writesPerCheckpoint(thread);
        const kept = new Set(Object.values(after).flat());
        expect(writesAfter).toEqual(Object.fromEntries(Object.entries(writesBefore).filter(([id]) => kept.has(id))));
        const removed = Object.values(before).flat().length - kept.size;
        expect(result.checkpoints).toBe(removed);
        expect(result.writes).toBe(Object.entries(writesBefore).filter(([id]) => !kept.has(id)).reduce((n, [, w]) => n + w, 0));
        expect(await integrity(env.pool, "public", [thread])).toEqual(INTACT);
      }
    }
  });
});

async function writesPerCheckpoint(thread: string): Promise<Record<string, number>> {
  const { rows } = await env.pool.query(
    "SELECT checkpoint_id, count(*)::int AS n FROM checkpoint_writes WHERE thread_id = $1 GROUP BY checkpoint_id",
    [thread],
  );
  return Object.fromEntries(rows.map((r) => [r.checkpoint_id, r.n]));
}


