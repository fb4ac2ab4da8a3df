import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { MemorySaver } from "@langchain/langgraph";
import { beforeAll, describe, expect, it } from "vitest";
import { deltaGraph, deltaGraphStart, plain } from "../../support/graphs.js";
import { INTACT, copyThread, idsByNamespace, integrity, readEverything, usePruneDatabase } from "../../support/prune.js";
import { countRows } from "../../support/rows.js";

/**
 * `keepLast` on a thread whose state lives in LangGraph `DeltaChannel`s
 * (`deltaGraph`: `messages` snapshots every 3 updates, `notes` every 5): a
 * checkpoint between snapshots is rebuilt from its ancestors' writes by
 * `getDeltaChannelHistory`, so pruning must keep every ancestor up to each
 * channel's snapshot, for every checkpoint it keeps. Checked by reading
 * everything LangGraph reads (the histories it would ask for, `getState`,
 * `getStateHistory`) before and after, then continuing the graph and
 * comparing with an unpruned twin and with a run on `MemorySaver`.
 */
const env = usePruneDatabase();
/** What LangGraph reads of every checkpoint of SOURCE, and its state history, before any prune. */
let before: Awaited<ReturnType<typeof readEverything>>;
let history: Map<string, unknown>;

const DELTA = ["messages", "notes"];
const STEPS = 14;
const MORE_STEPS = 21;
const SOURCE = "delta-source";
const more = () => ({ messages: [new HumanMessage({ id: "human-2", content: "more" })] });
const config = (thread: string, checkpointId?: string) =>
  ({ configurable: { thread_id: thread, ...(checkpointId ? { checkpoint_id: checkpointId } : {}) } });

beforeAll(async () => {
  await deltaGraph(env.saver, [], STEPS).invoke(deltaGraphStart(), config(SOURCE));
  before = await readEverything(env.saver, deltaGraph(env.saver, [], STEPS), SOURCE, DELTA);
  history = await stateHistory(SOURCE);
});


async function stateHistory(thread: string) {
  const out = new Map<string, unknown>();
  for await (const s of deltaGraph(env.saver, [], STEPS).getStateHistory(config(thread))) {
    const { thread_id: _, ...metadata } = s.metadata as Record<string, unknown>; // copies differ only in it
    out.set(s.config.configurable!.checkpoint_id as string, plain({ values: s.values, next: s.next, metadata }));
  }
  return out;
}

/** Continues `thread` to MORE_STEPS turns with a new message; returns the log and the final state. */
async function continueThread(thread: string) {
  const log: string[] = [];
  const graph = deltaGraph(env.saver, log, MORE_STEPS);
  await graph.invoke(more(), config(thread));
  return { log, values: plain((await graph.getState(config(thread))).values) };
}

/** Everything LangGraph reads of `thread` that survived must read exactly as in `before`. */
async function expectSurvivorsUnchanged(thread: string, before: Awaited<ReturnType<typeof readEverything>>, history: Map<string, unknown>) {
  const after = await readEverything(env.saver, deltaGraph(env.saver, [], STEPS), thread, DELTA);
  for (const [id, read] of after) expect(read, `checkpoint ${id}`).toEqual(before.get(id));
  const afterHistory = await stateHistory(thread);
  expect(afterHistory.size).toBe(after.size);
  for (const [id, snapshot] of afterHistory) expect(snapshot, `history at ${id}`).toEqual(history.get(id));
  return after;
}

describe("keepLast on delta channels", () => {
  it("the source thread is long enough for both channels to have snapshotted (or the test proves nothing)", async () => {
    const { rows } = await env.pool.query(
      `SELECT channel, count(*)::int AS n FROM checkpoint_blobs WHERE thread_id = $1 AND channel = ANY ($2) AND type <> 'empty' GROUP BY channel`,
      [SOURCE, DELTA],
    );
    expect(Object.fromEntries(rows.map((r) => [r.channel, r.n]))).toEqual({ messages: expect.any(Number), notes: expect.any(Number) });
    expect(await integrity(env.pool, "public", [SOURCE])).toEqual(INTACT);
  });

  it("keepLast 1..5 and 100: the newest N survive, every survivor reads as before, the graph continues as an unpruned twin", async () => {
    const newestFirst = [...before.keys()];
    expect(newestFirst.length).toBe(STEPS + 2); // input + one per turn + the last turn's END checkpoint

    await copyThread(env.pool, SOURCE, "delta-twin");
    const twin = await continueThread("delta-twin");
    const reference = new MemorySaver();
    await deltaGraph(reference, [], STEPS).invoke(deltaGraphStart(), config("ref"));
    const refLog: string[] = [];
    await deltaGraph(reference, refLog, MORE_STEPS).invoke(more(), config("ref"));
    expect(twin.values).toEqual(plain((await deltaGraph(reference, [], MORE_STEPS).getState(config("ref"))).values));
    expect(twin.log).toEqual(refLog);

    const kept: Record<number, number> = {};
    for (const keepLast of [1, 2, 3, 4, 5, 100]) {
      const thread = `delta-keep-${keepLast}`;
      await copyThread(env.pool, SOURCE, thread);
      const rowsBefore = await countRows(env.pool, "public", thread);
      const result = await env.saver.prune({ keepLast, threadIds: [thread] });
      const rowsAfter = await countRows(env.pool, "public", thread);
      expect(result).toMatchObject({
        dryRun: false, threads: 1, threadsDeleted: 0,
        checkpoints: rowsBefore.checkpoints - rowsAfter.checkpoints,
        writes: rowsBefore.writes - rowsAfter.writes,
        blobs: rowsBefore.blobs - rowsAfter.blobs,
      });

      const after = await expectSurvivorsUnchanged(thread, before, history);
      for (const id of newestFirst.slice(0, keepLast)) expect(after.has(id), `newest ${keepLast}: ${id}`).toBe(true);
      expect(await integrity(env.pool, "public", [thread])).toEqual(INTACT);
      kept[keepLast] = after.size;

      if (keepLast === 1 || keepLast === 5) {
        const continued = await continueThread(thread);
        expect(continued.values, `continued after keepLast ${keepLast}`).toEqual(twin.values);
        expect(continued.log).toEqual(twin.log);
      }
    }
    // Pruning did remove something when few are kept, and more is kept as N grows.
    expect(kept[1]).toBeLessThan(newestFirst.length / 2);
    expect(kept[100]).toBe(newestFirst.length);
    for (const n of [2, 3, 4, 5]) expect(kept[n]).toBeGreaterThanOrEqual(kept[n - 1]!);
  });

  it("pruning again, or with a smaller N after a larger one, still leaves every survivor readable", async () => {
    const thread = "delta-repeat";
    await copyThread(env.pool, SOURCE, thread);
    for (const keepLast of [6, 3, 1]) {
      await env.saver.prune({ keepLast, threadIds: [thread] });
      await expectSurvivorsUnchanged(thread, before, history);
      expect(await integrity(env.pool, "public", [thread])).toEqual(INTACT);
    }
    const again = await env.saver.prune({ keepLast: 1, threadIds: [thread] });
    expect(again).toMatchObject({ checkpoints: 0, writes: 0, blobs: 0 });
  });

  it("a fork (updateState on an older checkpoint) keeps the branch it is on readable and continuable", async () => {
    const source = "delta-fork-source";
    await copyThread(env.pool, SOURCE, source);
    const graph = deltaGraph(env.saver, [], STEPS);
    const ids = [...(await idsByNamespace(env.pool, source))[""]!].reverse(); // newest first
    const forkAt = ids[7]!;
    await graph.updateState(config(source, forkAt), { messages: [new AIMessage({ id: "fork-1", content: "forked" })] });
    const before = await readEverything(env.saver, graph, source, DELTA);
    const history = await stateHistory(source);
    expect(before.size).toBe(ids.length + 1);

    await copyThread(env.pool, source, "delta-fork-twin");
    const twin = await continueThread("delta-fork-twin");
    for (const keepLast of [1, 2]) {
      const thread = `delta-fork-${keepLast}`;
      await copyThread(env.pool, source, thread);
      await env.saver.prune({ keepLast, threadIds: [thread] });
      const after = await expectSurvivorsUnchanged(thread, before, history);
      for (const id of [...before.keys()].slice(0, keepLast)) expect(after.has(id)).toBe(true);
      expect(await integrity(env.pool, "public", [thread])).toEqual(INTACT);
      const continued = await continueThread(thread);
      expect(continued).toEqual(twin);
    }
  });
});
