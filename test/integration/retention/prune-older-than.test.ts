import { HumanMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { type PruneOptions } from "../../../src/index.js";
import { approve, deltaGraph, deltaGraphStart, plain, subgraphGraph, subgraphGraphStart, toolGraph, toolGraphStart } from "../../support/graphs.js";
import {
  INTACT, ageThread, copyThread, idsByNamespace, integrity, readEverything, rowsPerThread, usePruneDatabase } from "../../support/prune.js";

/**
 * `olderThan`: a thread whose newest checkpoint (in any namespace) has a
 * `ts` older than the cutoff is deleted whole, from all three tables;
 * younger threads are untouched (or pruned by `keepLast` when given);
 * `threadIds` restricts; `dryRun` reports exactly what the real run then
 * removes. Old threads are real graph runs whose `ts` is moved back in SQL.
 */
const env = usePruneDatabase({ recording: true });

const DAY = 86_400_000;
const config = (thread: string) => ({ configurable: { thread_id: thread } });

/** One of each graph shape; returns the thread ids, named `${prefix}-…`. */
async function makeThreads(prefix: string): Promise<string[]> {
  const tools = `${prefix}-tools`;
  const sub = `${prefix}-sub`;
  const delta = `${prefix}-delta`;
  await toolGraph(env.saver, []).invoke(toolGraphStart(), config(tools));
  await subgraphGraph(env.saver, []).invoke(subgraphGraphStart(), config(sub));
  await deltaGraph(env.saver, [], 6).invoke(deltaGraphStart(), config(delta));
  return [tools, sub, delta];
}



/** Deletes every row of every thread, so each test starts from an empty database. */
async function clear() {
  await env.pool.query("TRUNCATE checkpoints, checkpoint_blobs, checkpoint_writes");
}

describe("olderThan", () => {
  it("deletes idle threads whole (every namespace, all three tables); dryRun first reports exactly that and changes nothing", async () => {
    await clear();
    const old = await makeThreads("old");
    const young = await makeThreads("young");
    for (const thread of old) await ageThread(env.pool, thread, 31 * DAY);
    const before = await rowsPerThread(env.pool);
    const youngIds = await Promise.all(young.map((t) => idsByNamespace(env.pool, t)));

    const dry = await env.pruner.prune({ olderThan: "30d", dryRun: true });
    expect(await rowsPerThread(env.pool)).toEqual(before);
    const removed = old.map((t) => before[t]!).reduce((a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]]);
    expect(dry).toEqual({ dryRun: true, threads: 6, threadsDeleted: 3, checkpoints: removed[0], blobs: removed[1], writes: removed[2] });

    const real = await env.pruner.prune({ olderThan: "30d" });
    expect(real).toEqual({ ...dry, dryRun: false });
    const after = await rowsPerThread(env.pool);
    expect(Object.keys(after).sort()).toEqual([...young].sort());
    for (const thread of young) expect(after[thread]).toEqual(before[thread]);
    expect(await Promise.all(young.map((t) => idsByNamespace(env.pool, t)))).toEqual(youngIds);
    expect(await env.pruner.prune({ olderThan: "30d" })).toMatchObject({ threads: 3, threadsDeleted: 0, checkpoints: 0 });
  });

  it("the newest checkpoint of any namespace decides; durations in ms and compound forms work", async () => {
    await clear();
    await subgraphGraph(env.saver, []).invoke(subgraphGraphStart(), config("root-old"));
    await subgraphGraph(env.saver, []).invoke(subgraphGraphStart(), config("sub-old"));
    // The subgraph's checkpoints are the newest. Ageing only the root
    // namespace leaves the thread young; ageing only the subgraph's makes it old.
    await env.pool.query(`UPDATE checkpoints SET checkpoint = jsonb_set(checkpoint, '{ts}', '"2020-01-01T00:00:00.000Z"')
                      WHERE (thread_id = 'root-old' AND checkpoint_ns = '') OR (thread_id = 'sub-old' AND checkpoint_ns <> '')`);
    expect(await env.pruner.prune({ olderThan: "1d12h", dryRun: true })).toMatchObject({ threadsDeleted: 1 });
    expect(await env.pruner.prune({ olderThan: 36 * 3_600_000 })).toMatchObject({ threads: 2, threadsDeleted: 1 });
    expect(Object.keys(await rowsPerThread(env.pool))).toEqual(["root-old"]);
    expect(Object.keys(await idsByNamespace(env.pool, "root-old"))).toHaveLength(2);
  });

  it("with keepLast: old threads go whole, young ones keep their newest N per namespace; threadIds restricts both", async () => {
    await clear();
    const old = await makeThreads("old");
    const young = await makeThreads("young");
    for (const thread of old) await ageThread(env.pool, thread, 10 * DAY);
    const before = await rowsPerThread(env.pool);
    const youngIds = Object.fromEntries(await Promise.all(young.map(async (t) => [t, await idsByNamespace(env.pool, t)] as const)));

    // Restricted to one old and one young thread: the others are not touched.
    const only = [old[0]!, young[0]!];
    const options: PruneOptions = { olderThan: "7d", keepLast: 1, threadIds: only };
    const dry = await env.pruner.prune({ ...options, dryRun: true });
    expect(await rowsPerThread(env.pool)).toEqual(before);
    const real = await env.pruner.prune(options);
    expect(real).toEqual({ ...dry, dryRun: false });
    expect(real).toMatchObject({ threads: 2, threadsDeleted: 1 });
    const after = await rowsPerThread(env.pool);
    expect(after[old[0]!]).toBeUndefined();
    for (const thread of [...old.slice(1), ...young.slice(1)]) expect(after[thread]).toEqual(before[thread]);
    // keepLast 1 on the young tool thread: its interrupted checkpoint only, with its pending writes.
    expect(await idsByNamespace(env.pool, young[0]!)).toEqual({ "": youngIds[young[0]!]![""]!.slice(-1) });
    expect(after[young[0]!]![2]).toBe(before[young[0]!]![2] - (real.writes - before[old[0]!]![2]));
    expect(await integrity(env.pool)).toEqual(INTACT);

    // The young tool thread still resumes after all that.
    const log: string[] = [];
    const out = await toolGraph(env.saver, log).invoke(approve(), config(young[0]!));
    expect(log.filter((l) => l.startsWith("tool:"))).toHaveLength(3); // round 2's tools only
    expect(((out as Record<string, unknown>).__interrupt__ as Array<{ value: unknown }>)[0]!.value).toEqual({ round: 2 });
  });

  it("a thread larger than batchSize goes in bounded batches, and whole", async () => {
    await clear();
    await deltaGraph(env.saver, [], 12).invoke(deltaGraphStart(), config("big"));
    await subgraphGraph(env.saver, []).invoke(subgraphGraphStart(), config("big")); // a second namespace
    await ageThread(env.pool, "big", 2 * DAY);
    const before = (await rowsPerThread(env.pool)).big!;
    expect(before[0]).toBeGreaterThan(4 * 3);
    const dry = await env.pruner.prune({ olderThan: "1d", batchSize: 4, dryRun: true });
    env.recorder.statements.length = 0;
    const real = await env.pruner.prune({ olderThan: "1d", batchSize: 4 });
    expect(real).toEqual({ ...dry, dryRun: false });
    expect(real).toMatchObject({ threadsDeleted: 1, checkpoints: before[0], blobs: before[1], writes: before[2] });
    expect(await rowsPerThread(env.pool)).toEqual({});
    const deletes = env.recorder.statements.filter((s) => /^\s*(WITH[\s\S]*)?DELETE/i.test(s.text) && s.text.includes("still_idle"));
    expect(deletes.length).toBeGreaterThanOrEqual(Math.ceil(before[0] / 4));
    for (const s of deletes) expect((s.values[2] as string[]).length).toBeLessThanOrEqual(4);
  });
});

describe("a thread resumed while it is being deleted", () => {
  // 8 turns: `notes` (a snapshot every 5 notes) never snapshots, so the newest
  // checkpoint's notes are rebuilt from writes back to the first checkpoint:
  // the whole thread is needed. 14 turns: most of it is not.
  for (const turns of [8, 14]) {
    it(`${turns} turns: the state stays consistent; it continues as an undeleted copy resumed from the same checkpoint`, async () => {
      await clear();
      await deltaGraph(env.saver, [], turns).invoke(deltaGraphStart(), config("resumed"));
      await copyThread(env.pool, "resumed", "copy");
      await ageThread(env.pool, "resumed", 2 * DAY);
      const before = await readEverything(env.saver, deltaGraph(env.saver, [], turns), "resumed", ["messages", "notes"]);

      const more = () => ({ messages: [new HumanMessage({ id: "human-2", content: "more" })] });
      let resumedFrom: string | undefined;
      const resumedLog: string[] = [];
      env.recorder.after = async (statement) => {
        if (!statement.text.includes("still_idle")) return;
        env.recorder.after = undefined;
        // Between two batches of the deletion, the user comes back.
        resumedFrom = (await env.saver.getTuple(config("resumed")))!.checkpoint.id;
        await deltaGraph(env.saver, resumedLog, turns + 4).invoke(more(), config("resumed"));
      };
      const result = await env.pruner.prune({ olderThan: "1d", batchSize: 3 });
      expect(resumedFrom).toBeDefined();
      expect(result.threadsDeleted).toBe(0);

      // The copy, cut back to the checkpoint the resumed run started from, resumed the same way.
      await env.pool.query("DELETE FROM checkpoints WHERE thread_id = 'copy' AND checkpoint_id > $1", [resumedFrom]);
      const copyLog: string[] = [];
      await deltaGraph(env.saver, copyLog, turns + 4).invoke(more(), config("copy"));
      expect(resumedLog).toEqual(copyLog);
      const state = async (thread: string) => plain((await deltaGraph(env.saver, [], turns + 4).getState(config(thread))).values);
      expect(await state("resumed")).toEqual(await state("copy"));

      // What is left of the old history reads as before, and nothing dangles.
      const after = await readEverything(env.saver, deltaGraph(env.saver, [], turns), "resumed", ["messages", "notes"]);
      for (const [id, read] of after) if (before.has(id)) expect(read, id).toEqual(before.get(id));
      expect(await integrity(env.pool, "public", ["resumed"])).toEqual(INTACT);
    });
  }
});
