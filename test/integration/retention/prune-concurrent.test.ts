import { HumanMessage } from "@langchain/core/messages";
import { type BaseCheckpointSaver, MemorySaver } from "@langchain/langgraph";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresSaver, type PruneResult } from "../../../src/index.js";
import { useTestDatabase } from "../../support/database.js";
import { approve, deltaGraph, deltaGraphStart, plain, toolGraph, toolGraphStart } from "../../support/graphs.js";
import { INTACT, ageThread, copyThread, integrity, quietLogger, recordingPool, rowsPerThread } from "../../support/prune.js";

/**
 * Pruning while graphs write: tool-calling and delta-channel threads run
 * concurrently while `prune()` runs in a loop with tiny batches (so its
 * statements interleave with the graphs' puts and writes), deleting expired
 * threads at the same time. Afterwards every thread ends exactly as the same
 * run on `MemorySaver` without pruning, every thread resumes, and no row
 * dangles.
 */
const db = useTestDatabase();
let pool: pg.Pool;
let writer: ReturnType<typeof recordingPool>;
let saver: PostgresSaver;
let pruner: PostgresSaver;

const config = (thread: string) => ({ recursionLimit: 100, configurable: { thread_id: thread } });
const TURNS = 24;
const ROUNDS = 3;
const more = () => ({ messages: [new HumanMessage({ id: "human-2", content: "more" })] });

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url() });
  writer = recordingPool(db.url(), { max: 12 });
  saver = new PostgresSaver(writer.pool, undefined, { logger: quietLogger });
  await saver.setup();
  pruner = PostgresSaver.fromConnString(db.url(), { logger: quietLogger, pool: { max: 2 } });
});

afterAll(async () => {
  await pruner?.end();
  await saver?.end();
  await writer?.pool.end();
  await pool?.end();
});

/** toolGraph to its last interrupt (start, then approve all but the last round). */
async function toolRun(checkpointer: BaseCheckpointSaver, thread: string, log: string[]) {
  const graph = toolGraph(checkpointer, log, ROUNDS);
  await graph.invoke(toolGraphStart(), config(thread));
  for (let round = 1; round < ROUNDS; round += 1) await graph.invoke(approve(), config(thread));
}

async function deltaRun(checkpointer: BaseCheckpointSaver, thread: string, log: string[]) {
  await deltaGraph(checkpointer, log, TURNS).invoke(deltaGraphStart(), config(thread));
}

/** What each thread does after the concurrent phase: the tool threads' last approval, more turns for the delta ones. */
async function resume(checkpointer: BaseCheckpointSaver, thread: string, log: string[]) {
  if (thread.startsWith("tools")) await toolGraph(checkpointer, log, ROUNDS).invoke(approve(), config(thread));
  else await deltaGraph(checkpointer, log, TURNS + 6).invoke(more(), config(thread));
}

async function finalState(checkpointer: BaseCheckpointSaver, thread: string) {
  const graph = thread.startsWith("tools") ? toolGraph(checkpointer, [], ROUNDS) : deltaGraph(checkpointer, [], TURNS + 6);
  const state = await graph.getState(config(thread));
  return plain({ values: state.values, next: state.next });
}

describe("prune while graphs write", () => {
  it("3 tool threads and 3 delta threads run while prune loops; all end as unpruned references, all resume, nothing dangles", async () => {
    const threads = ["tools-1", "tools-2", "tools-3", "delta-1", "delta-2", "delta-3"];
    const run = (checkpointer: BaseCheckpointSaver, thread: string, log: string[]) =>
      (thread.startsWith("tools") ? toolRun : deltaRun)(checkpointer, thread, log);

    // References: the same runs, one after another, on MemorySaver.
    const reference = new MemorySaver();
    const expected = new Map<string, { log: string[]; resumedLog: string[]; state: unknown }>();
    for (const thread of threads) {
      const log: string[] = [];
      const resumedLog: string[] = [];
      await run(reference, thread, log);
      await resume(reference, thread, resumedLog);
      expected.set(thread, { log, resumedLog, state: await finalState(reference, thread) });
    }

    // Expired threads for olderThan to delete during the same loop.
    await deltaRun(saver, "expired-source", []);
    for (const i of [1, 2, 3]) {
      await copyThread(pool, "expired-source", `expired-${i}`);
      await ageThread(pool, `expired-${i}`, 3 * 86_400_000);
    }
    await saver.deleteThread("expired-source");

    // Two loops beside the graphs: keepLast on the live threads, olderThan on the expired ones.
    let running = true;
    let waiting: Array<() => void> = [];
    const loop = (options: { keepLast?: number; olderThan?: string; threadIds: string[] }) => (async () => {
      const results: PruneResult[] = [];
      for (let i = 0; running || i < 2; i += 1) {
        results.push(await pruner.prune({ ...options, ...(options.keepLast ? { keepLast: options.keepLast + (i % 2) } : {}), batchSize: 2 }));
        if (options.keepLast) for (const wake of waiting.splice(0)) wake();
      }
      return results;
    })();
    // Every 4th checkpoint a graph writes, that graph waits for the next keepLast run to end:
    // however fast the graphs are, prunes interleave with their writes, many times.
    let puts = 0;
    writer.after = async (statement) => {
      if (!/INSERT INTO \S+\.checkpoints \(/.test(statement.text) || ++puts % 4 !== 0) return;
      await new Promise<void>((wake) => waiting.push(wake));
    };
    const keeping = loop({ keepLast: 1, threadIds: threads });
    const expiring = loop({ olderThan: "2d", threadIds: ["expired-1", "expired-2", "expired-3"] });
    const logs = new Map(threads.map((t) => [t, [] as string[]]));
    try {
      await Promise.all(threads.map((thread) => run(saver, thread, logs.get(thread)!)));
    } finally {
      running = false;
      writer.after = undefined;
    }
    const [kept, expired] = await Promise.all([keeping, expiring]);
    waiting = [];
    // The loops did run alongside, and did delete things.
    expect(puts).toBeGreaterThan(60);
    expect(kept.length).toBeGreaterThan(puts / 4 / threads.length);
    expect(kept.reduce((n, r) => n + r.checkpoints, 0)).toBeGreaterThan(0);
    expect(expired.reduce((n, r) => n + r.threadsDeleted, 0)).toBe(3);
    expect(Object.keys(await rowsPerThread(pool)).filter((t) => t.startsWith("expired"))).toEqual([]);

    expect(await integrity(pool)).toEqual(INTACT);
    for (const thread of threads) {
      expect(logs.get(thread), thread).toEqual(expected.get(thread)!.log);
      const resumedLog: string[] = [];
      await resume(saver, thread, resumedLog);
      expect(resumedLog, thread).toEqual(expected.get(thread)!.resumedLog);
      expect(await finalState(saver, thread), thread).toEqual(expected.get(thread)!.state);
    }
    await pruner.prune({ keepLast: 1 });
    expect(await integrity(pool)).toEqual(INTACT);
    for (const thread of threads) expect(await finalState(saver, thread), thread).toEqual(expected.get(thread)!.state);
  });
});
