import { ERROR, INTERRUPT } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { useSaver } from "../../support/saver.js";
import { checkpointWith, loopMetadata, threadId } from "../../support/fixtures.js";
import { countRows } from "../../support/rows.js";

/**
 * A retry after an ambiguous network failure replays the same call. Replays
 * must leave exactly the rows one call leaves, without errors.
 */
const env = useSaver();


async function snapshot(thread: string) {
  const { rows } = await env.pool.query(
    `SELECT 'cp' AS t, checkpoint_id AS k, checkpoint::text || metadata::text AS v FROM checkpoints WHERE thread_id = $1
     UNION ALL SELECT 'blob', channel || '@' || version, encode(blob, 'hex') FROM checkpoint_blobs WHERE thread_id = $1
     UNION ALL SELECT 'write', checkpoint_id || '/' || task_id || '/' || idx, channel || ':' || encode(blob, 'hex') || ':' || task_path
       FROM checkpoint_writes WHERE thread_id = $1
     ORDER BY 1, 2`,
    [thread],
  );
  return rows;
}

describe("replaying writes", () => {
  it("put replayed (sequentially and concurrently) leaves the same rows", async () => {
    const thread = threadId();
    const cp = checkpointWith({ a: { deep: [1, 2, 3] }, b: "text" });
    const config = { configurable: { thread_id: thread } };
    await env.saver.put(config, cp, loopMetadata, cp.channel_versions);
    const once = await snapshot(thread);
    await env.saver.put(config, cp, loopMetadata, cp.channel_versions);
    await Promise.all(Array.from({ length: 10 }, () => env.saver.put(config, cp, loopMetadata, cp.channel_versions)));
    expect(await snapshot(thread)).toEqual(once);
    expect(await countRows(env.pool, "public", thread)).toEqual({ checkpoints: 1, blobs: 2, writes: 0 });
  });

  it("putWrites replayed leaves the same rows, and regular writes are never overwritten", async () => {
    const thread = threadId();
    const cp = checkpointWith({ a: 1 });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const writes: [string, unknown][] = [["a", 1], ["b", { x: "y" }], ["a", 3]];
    await env.saver.putWrites(config, writes, "task-1", "~path");
    const once = await snapshot(thread);
    await env.saver.putWrites(config, writes, "task-1", "~path");
    await Promise.all(Array.from({ length: 8 }, () => env.saver.putWrites(config, writes, "task-1", "~path")));
    expect(await snapshot(thread)).toEqual(once);

    // Same task and index with different values: the first value stays.
    await env.saver.putWrites(config, [["a", "changed"]], "task-1", "~path");
    const tuple = await env.saver.getTuple(config);
    expect(tuple!.pendingWrites).toEqual([
      ["task-1", "a", 1],
      ["task-1", "b", { x: "y" }],
      ["task-1", "a", 3],
    ]);
  });

  it("special writes (__error__, __interrupt__) overwrite, like the official savers", async () => {
    const thread = threadId();
    const cp = checkpointWith({ a: 1 });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    await env.saver.putWrites(config, [[ERROR, { message: "first" }]], "task-1");
    await env.saver.putWrites(config, [[ERROR, { message: "second" }]], "task-1");
    await env.saver.putWrites(config, [[INTERRUPT, ["ask"]], [INTERRUPT, ["ask again"]]], "task-2");
    const tuple = await env.saver.getTuple(config);
    expect(tuple!.pendingWrites).toEqual([
      ["task-1", ERROR, { message: "second" }],
      ["task-2", INTERRUPT, ["ask again"]],
    ]);
    expect((await countRows(env.pool, "public", thread)).writes).toBe(2);
  });

  it("blobs are immutable per (channel, version): a replayed put with a changed value keeps the stored one", async () => {
    // Same version means same value in LangGraph; the official saver also keeps the first blob.
    const thread = threadId();
    const config = { configurable: { thread_id: thread } };
    const cp = checkpointWith({ a: "original" });
    await env.saver.put(config, cp, loopMetadata, cp.channel_versions);
    await env.saver.put(config, { ...cp, channel_values: { a: "other" } }, loopMetadata, cp.channel_versions);
    expect((await env.saver.getTuple(config))!.checkpoint.channel_values).toEqual({ a: "original" });
  });
});
