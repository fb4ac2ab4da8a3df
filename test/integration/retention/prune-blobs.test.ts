import { AIMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { TASKS, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryCheckpointer, PostgresSaver } from "../../../src/index.js";
import { loopMetadata } from "../../support/fixtures.js";
import {
  approve, deltaGraph, deltaGraphStart, failingGraph, subgraphGraph, subgraphGraphStart, toolGraph, toolGraphStart,
} from "../../support/graphs.js";
import { INTACT, idsByNamespace, integrity, quietLogger, usePruneDatabase } from "../../support/prune.js";
import { countRows } from "../../support/rows.js";

/**
 * Channel values after a prune: every (channel, version) a remaining
 * checkpoint names still has its row, every remaining row is named by a
 * remaining checkpoint of its thread and namespace (checked in SQL over
 * the whole database), and the rows that went are exactly those counted.
 * Also the shapes that stress it: forks (each branch has its own
 * versions), threads whose only checkpoints are in a subgraph's namespace,
 * a failed run, and checkpoints from before format v4, whose pending sends
 * are their parent's writes.
 */
const env = usePruneDatabase();
/** The newest checkpoint of the fork's original branch, abandoned by the fork. */
let abandonedLeaf: string;

const config = (thread: string, checkpointId?: string) =>
  ({ configurable: { thread_id: thread, ...(checkpointId ? { checkpoint_id: checkpointId } : {}) } });

beforeAll(async () => {
  const tools = toolGraph(env.saver, []);
  await tools.invoke(toolGraphStart(), config("tools"));
  await tools.invoke(approve(), config("tools"));
  await subgraphGraph(env.saver, []).invoke(subgraphGraphStart(), config("sub"));
  await deltaGraph(env.saver, [], 14).invoke(deltaGraphStart(), config("delta"));
  await failingGraph(env.saver, []).invoke({ items: ["x"] }, config("failed")).catch(() => undefined);
  // A fork: updateState on an older checkpoint starts a branch beside the original one.
  const graph = deltaGraph(env.saver, [], 14);
  await graph.invoke(deltaGraphStart(), config("fork"));
  const ids = (await idsByNamespace(env.pool, "fork"))[""]!;
  abandonedLeaf = ids.at(-1)!;
  await graph.updateState(config("fork", ids[4]), { messages: [new AIMessage({ id: "fork", content: "branch" })] });
  // Only a subgraph's namespace: the root's rows removed.
  await subgraphGraph(env.saver, []).invoke(subgraphGraphStart(), config("only-sub"));
  for (const table of ["checkpoints", "checkpoint_blobs", "checkpoint_writes"]) {
    await env.pool.query(`DELETE FROM ${table} WHERE thread_id = 'only-sub' AND checkpoint_ns = ''`);
  }
});


describe("channel values", () => {
  it("the graphs' own rows are intact to begin with (or the checks below prove nothing)", async () => {
    expect(await integrity(env.pool)).toEqual(INTACT);
  });

  for (const keepLast of [3, 1]) {
    it(`keepLast ${keepLast}: named values all stay, unnamed ones all go, and the counts say exactly what went`, async () => {
      const before = await countRows(env.pool);
      const blobsBefore = await blobKeys();
      const result = await env.saver.prune({ keepLast });
      const after = await countRows(env.pool);
      expect(result).toMatchObject({
        checkpoints: before.checkpoints - after.checkpoints,
        writes: before.writes - after.writes,
        blobs: before.blobs - after.blobs,
      });
      expect(result.blobs).toBeGreaterThan(0);
      expect(await integrity(env.pool)).toEqual(INTACT);
      // Nothing but deletions: the values left are byte for byte those that were there.
      const blobsAfter = await blobKeys();
      for (const [key, hash] of blobsAfter) expect(blobsBefore.get(key)).toBe(hash);
    });
  }

  it("the fork: the abandoned branch's leaf went, the branch the newest checkpoint is on reads and continues", async () => {
    expect(await env.saver.getTuple(config("fork", abandonedLeaf))).toBeUndefined();
    const state = await deltaGraph(env.saver, [], 14).getState(config("fork"));
    expect(state.values.messages.at(-1).id).toBe("fork");
    await deltaGraph(env.saver, [], 16).invoke(null, config("fork"));
    expect((await deltaGraph(env.saver, [], 16).getState(config("fork"))).values.turns).toBe(16);
    expect(await integrity(env.pool, "public", ["fork"])).toEqual(INTACT);
  });

  it("a thread with only a subgraph namespace is pruned like any other, and olderThan deletes it whole", async () => {
    expect(Object.values(await idsByNamespace(env.pool, "only-sub")).map((ids) => ids.length)).toEqual([1]);
    await env.pool.query(`UPDATE checkpoints SET checkpoint = jsonb_set(checkpoint, '{ts}', '"2001-01-01T00:00:00Z"') WHERE thread_id = 'only-sub'`);
    expect(await env.saver.prune({ olderThan: "1d", threadIds: ["only-sub", "tools"] })).toMatchObject({ threads: 2, threadsDeleted: 1 });
    expect(await countRows(env.pool, "public", "only-sub")).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });
  });

  it("a failed run keeps its error write on the newest checkpoint", async () => {
    const tuple = await env.saver.getTuple(config("failed"));
    expect(tuple!.pendingWrites!.map(([, channel]) => channel)).toContain("__error__");
  });
});

describe("checkpoints from before format v4", () => {
  // p0 ← p1 ← p2 ← c, all v1; p1 holds pending sends (TASKS writes) that
  // belong to its child p2. keepLast 2 keeps c and p2, so p1 (its sends) stays.
  async function legacyThread(checkpointer: PostgresSaver | MemoryCheckpointer, thread: string) {
    const put = (parent: RunnableConfig, step: number) => {
      const checkpoint = { ...emptyCheckpoint(), v: 1, id: uuid6(-1), channel_values: { step }, channel_versions: { step } };
      return checkpointer.put(parent, checkpoint, { ...loopMetadata, step }, { step });
    };
    const p0 = await put(config(thread), 0);
    const p1 = await put(p0, 1);
    await checkpointer.putWrites(p1, [[TASKS, { node: "fan", arg: 1 }], [TASKS, { node: "fan", arg: 2 }]], "task-1");
    const p2 = await put(p1, 2);
    const c = await put(p2, 3);
    return { p0, p1, p2, c };
  }

  for (const backend of ["postgres", "memory"] as const) {
    it(`${backend}: a kept checkpoint keeps its parent when that parent holds its pending sends`, async () => {
      const checkpointer = backend === "postgres" ? env.saver : new MemoryCheckpointer(undefined, undefined, { logger: quietLogger, metrics: false });
      const { p0, p1, p2, c } = await legacyThread(checkpointer, `legacy-${backend}`);
      const sends = (await checkpointer.getTuple(p2))!.checkpoint.channel_values[TASKS];
      expect(sends).toEqual([{ node: "fan", arg: 1 }, { node: "fan", arg: 2 }]);
      const newest = (await checkpointer.getTuple(c))!.checkpoint;

      const result = await checkpointer.prune({ keepLast: 2, threadIds: [`legacy-${backend}`] });
      expect(result.checkpoints).toBe(1); // p0 only
      expect(await checkpointer.getTuple(p0)).toBeUndefined();
      expect((await checkpointer.getTuple(p2))!.checkpoint.channel_values[TASKS]).toEqual(sends);
      expect((await checkpointer.getTuple(p1))!.parentConfig).toBeUndefined(); // its history now starts there
      expect((await checkpointer.getTuple(c))!.checkpoint).toEqual(newest);
      // keepLast 1: c's parent p2 has no sends, so p2 and p1 may go.
      expect(await checkpointer.prune({ keepLast: 1, threadIds: [`legacy-${backend}`] })).toMatchObject({ checkpoints: 2 });
      if (backend === "postgres") expect(await integrity(env.pool, "public", ["legacy-postgres"])).toEqual(INTACT);
    });
  }
});

/** (thread, ns, channel, version) → md5 of type and bytes, for every blob row. */
async function blobKeys(): Promise<Map<string, string>> {
  const { rows } = await env.pool.query(
    `SELECT concat_ws('/', thread_id, checkpoint_ns, channel, version) AS k, md5(type || coalesce(encode(blob, 'hex'), '')) AS h FROM checkpoint_blobs`,
  );
  return new Map(rows.map((r) => [r.k, r.h]));
}
