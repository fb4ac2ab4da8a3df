import { describe, expect, it } from "vitest";
import { PostgresSaver, type PruneProgress } from "../../../src/index.js";
import { countingPool } from "../../support/counting-pool.js";
import { approve, toolGraph, toolGraphStart } from "../../support/graphs.js";
import { INTACT, ageThread, idsByNamespace, integrity, quietLogger, rowsPerThread, usePruneDatabase } from "../../support/prune.js";

/**
 * Bounded batches: with a small `batchSize`, every statement that deletes
 * checkpoints names at most that many (read from its parameters), and the
 * number of statements is what the batches imply, on threads of a few
 * thousand checkpoints (copies of a real graph checkpoint, made in SQL as
 * bench/support/seed.mjs does) and on many small threads at once.
 */
const env = usePruneDatabase({ recording: true });

const config = (thread: string) => ({ configurable: { thread_id: thread } });
const DAY = 86_400_000;



/**
 * A toolGraph thread stopped at its first interrupt, with `count` older
 * copies of its first checkpoint before it (ids that sort before uuid6
 * ids, each naming the previous as parent, each with its own values and
 * two pending writes).
 */
async function bigThread(thread: string, count: number): Promise<void> {
  await toolGraph(env.saver, []).invoke(toolGraphStart(), config(thread));
  const id = (n: string) => `'00000000-0000-6000-8000-' || lpad(to_hex(${n}), 12, '0')`;
  await env.pool.query(`
WITH template AS (
  SELECT * FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id LIMIT 1
), template_blobs AS (
  SELECT b.channel, b.type, b.blob FROM template t, jsonb_each_text(t.checkpoint -> 'channel_versions') v, checkpoint_blobs b
  WHERE b.thread_id = $1 AND b.checkpoint_ns = '' AND b.channel = v.key AND b.version = v.value
), copies AS (
  INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
  SELECT $1, '', ${id("n")}, CASE WHEN n > 1 THEN ${id("n - 1")} END, t.type,
         jsonb_set(jsonb_set(t.checkpoint, '{id}', to_jsonb(${id("n")})), '{channel_versions}',
                   (SELECT jsonb_object_agg(channel, n) FROM template_blobs)),
         t.metadata
  FROM template t, generate_series(1, $2::int) AS n
), writes AS (
  INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
  SELECT $1, '', ${id("n")}, 'task-' || i, '', 0, 'messages', 'json', convert_to('"result"', 'UTF8')
  FROM generate_series(1, $2::int) AS n, generate_series(1, 2) AS i
)
INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
SELECT $1, '', b.channel, n::text, b.type, b.blob FROM template_blobs b, generate_series(1, $2::int) AS n`, [thread, count]);
}

const deletesCheckpoints = (text: string) => text.includes("still_idle");
const deletesThreads = (text: string) => text.includes("WITH idle AS");
const deletesBlobs = (text: string) => /DELETE FROM \S+ b USING unnest/.test(text);

describe("bounded batches", () => {
  it("keepLast on a thread of 3,000 checkpoints: ceil(doomed / batchSize) deletes, none over batchSize; the thread resumes", async () => {
    await bigThread("big", 3_000);
    const before = (await idsByNamespace(env.pool, "big"))[""]!;
    const rows = (await rowsPerThread(env.pool)).big!;
    expect(await integrity(env.pool, "public", ["big"])).toEqual(INTACT);
    env.recorder.statements.length = 0;
    const batchSize = 250;
    const result = await env.pruner.prune({ keepLast: 2, batchSize });
    const doomed = before.length - 2;
    expect(result).toMatchObject({ threads: 1, checkpoints: doomed, writes: doomed * 2 });

    const checkpointDeletes = env.recorder.statements.filter((s) => deletesCheckpoints(s.text));
    expect(checkpointDeletes).toHaveLength(Math.ceil(doomed / batchSize));
    for (const s of checkpointDeletes) expect((s.values[2] as string[]).length).toBeLessThanOrEqual(batchSize);
    expect(checkpointDeletes.flatMap((s) => s.values[2] as string[]).sort()).toEqual(before.slice(0, doomed));
    // Values: statements of at most batchSize rows each.
    const blobDeletes = env.recorder.statements.filter((s) => deletesBlobs(s.text));
    expect(result.blobs).toBe(rows[1] - (await rowsPerThread(env.pool)).big![1]);
    expect(result.blobs).toBeGreaterThan(batchSize);
    expect(blobDeletes.length).toBeGreaterThanOrEqual(Math.ceil(result.blobs / batchSize));
    for (const s of blobDeletes) expect((s.values[2] as string[]).length).toBeLessThanOrEqual(batchSize);
    expect(blobDeletes.reduce((n, s) => n + (s.values[2] as string[]).length, 0)).toBe(result.blobs);

    expect((await idsByNamespace(env.pool, "big"))[""]).toEqual(before.slice(-2));
    expect(await integrity(env.pool, "public", ["big"])).toEqual(INTACT);
    const log: string[] = [];
    await toolGraph(env.saver, log).invoke(approve(), config("big"));
    expect(log).toEqual(["approval:1:asked", "approval:1:yes", "agent:2", "tool:call-add-2", "tool:call-mul-2", "tool:call-pow-2", "approval:2:asked"]);
  });

  it("olderThan on a thread of 2,000 checkpoints: every delete names at most batchSize checkpoints", async () => {
    await bigThread("old-big", 2_000);
    await ageThread(env.pool, "old-big", 2 * DAY);
    const rows = (await rowsPerThread(env.pool))["old-big"]!;
    env.recorder.statements.length = 0;
    const batchSize = 300;
    const result = await env.pruner.prune({ olderThan: "1d", batchSize, threadIds: ["old-big"] });
    expect(result).toMatchObject({ threads: 1, threadsDeleted: 1, checkpoints: rows[0], blobs: rows[1], writes: rows[2] });
    expect((await rowsPerThread(env.pool))["old-big"]).toBeUndefined();
    const checkpointDeletes = env.recorder.statements.filter((s) => deletesCheckpoints(s.text));
    expect(checkpointDeletes.length).toBeGreaterThanOrEqual(Math.ceil(rows[0] / batchSize));
    expect(checkpointDeletes.length).toBeLessThanOrEqual(Math.ceil(rows[0] / batchSize) + 1);
    for (const s of checkpointDeletes) expect((s.values[2] as string[]).length).toBeLessThanOrEqual(batchSize);
    expect(checkpointDeletes.reduce((n, s) => n + (s.values[2] as string[]).length, 0)).toBe(rows[0]);
    expect(env.recorder.statements.filter((s) => deletesThreads(s.text))).toHaveLength(0);
  });

  it("many small expired threads share statements, up to batchSize checkpoints each; onProgress is told as they go", async () => {
    await env.pool.query("TRUNCATE checkpoints, checkpoint_blobs, checkpoint_writes");
    const threads = Array.from({ length: 12 }, (_, i) => `small-${String(i).padStart(2, "0")}`);
    for (const thread of threads) {
      await toolGraph(env.saver, []).invoke(toolGraphStart(), config(thread));
      if (thread !== "small-05") await ageThread(env.pool, thread, 2 * DAY);
    }
    const perThread = (await rowsPerThread(env.pool))["small-00"]![0];
    expect(perThread).toBeGreaterThan(1);
    env.recorder.statements.length = 0;
    const batchSize = 2 * perThread + 1; // two threads per statement
    const progress: PruneProgress[] = [];
    const result = await env.pruner.prune({ olderThan: "1d", batchSize, onProgress: (p) => progress.push(structuredClone(p)) });
    expect(result).toMatchObject({ threads: 12, threadsDeleted: 11, checkpoints: 11 * perThread });
    const groups = env.recorder.statements.filter((s) => deletesThreads(s.text)).map((s) => s.values[0] as string[]);
    expect(groups.map((g) => g.length)).toEqual([2, 2, 2, 2, 2, 1]);
    expect(groups.flat()).toEqual(threads.filter((t) => t !== "small-05"));
    expect(Object.keys(await rowsPerThread(env.pool))).toEqual(["small-05"]);

    // Told as each statement's threads are gone (with exactly their rows), then the young thread.
    expect(progress.map((p) => p.threads)).toEqual([2, 4, 6, 8, 10, 11, 12]);
    expect(progress.map((p) => p.removed.checkpoints)).toEqual([2, 4, 6, 8, 10, 11, 11].map((n) => n * perThread));
    const { checkpoints, writes, blobs } = result;
    expect(progress.at(-1)!.removed).toEqual({ checkpoints, writes, blobs });
  });

  it("a thread with nothing to prune costs one statement per page of threads, and deletes nothing", async () => {
    const counting = countingPool(env.url());
    const quiet = new PostgresSaver(counting.pool, undefined, { logger: quietLogger });
    try {
      const before = await rowsPerThread(env.pool);
      counting.reset();
      expect(await quiet.prune({ keepLast: 100, olderThan: "30d" })).toMatchObject({ threads: 1, checkpoints: 0, writes: 0, blobs: 0 });
      expect(counting.statements).toHaveLength(1);
      expect(await rowsPerThread(env.pool)).toEqual(before);
    } finally {
      await quiet.end();
      await counting.pool.end();
    }
  });
});
