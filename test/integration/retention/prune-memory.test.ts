import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { MemorySaver } from "@langchain/langgraph";
import { type Checkpoint, JsonPlusSerializer } from "@langchain/langgraph-checkpoint";
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryCheckpointer, type PruneOptions } from "../../../src/index.js";
import {
  approve, deltaGraph, deltaGraphStart, plain, subgraphGraph, subgraphGraphStart, toolGraph, toolGraphStart,
} from "../../support/graphs.js";
import { ageThread, copyThread, idsByNamespace, quietLogger, readEverything, usePruneDatabase } from "../../support/prune.js";

/**
 * `MemoryCheckpointer.prune` follows the same rules as Postgres. Cross-check:
 * threads run on Postgres are copied into a `MemoryCheckpointer` (export →
 * import, so both hold the same checkpoint ids and values), both are pruned
 * alike, and the surviving ids of every namespace must be the same set.
 * Then the in-memory prune on its own storage (where a delta channel's
 * value is stored only on its snapshot checkpoints): every survivor reads
 * as before and the graph continues as an unpruned reference.
 */
const env = usePruneDatabase();

const config = (thread: string, checkpointId?: string) =>
  ({ recursionLimit: 100, configurable: { thread_id: thread, ...(checkpointId ? { checkpoint_id: checkpointId } : {}) } });
const memory = () => new MemoryCheckpointer(undefined, undefined, { logger: quietLogger, metrics: false });
const DAY = 86_400_000;
const TURNS = 30;

beforeAll(async () => {
  // Sources, each a different shape of history.
  const tools = toolGraph(env.saver, []);
  await tools.invoke(toolGraphStart(), config("src-tools"));
  await tools.invoke(approve(), config("src-tools")); // second interrupt: two rounds of pending tool writes
  await subgraphGraph(env.saver, []).invoke(subgraphGraphStart(), config("src-sub"));
  const delta = deltaGraph(env.saver, [], 14);
  await delta.invoke(deltaGraphStart(), config("src-delta"));
  await copyThread(env.pool, "src-delta", "src-fork");
  const ids = (await idsByNamespace(env.pool, "src-fork"))[""]!;
  await delta.updateState(config("src-fork", ids[ids.length - 6]), { messages: [new AIMessage({ id: "fork", content: "fork" })] });
});


function memoryIds(checkpointer: MemorySaver, thread: string): Record<string, string[]> {
  return Object.fromEntries(Object.entries(checkpointer.storage[thread] ?? {})
    .filter(([, checkpoints]) => Object.keys(checkpoints).length > 0)
    .map(([ns, checkpoints]) => [ns, Object.keys(checkpoints).sort()]));
}

/** Moves every checkpoint `ts` of a MemorySaver thread back by `ms`. */
async function ageMemoryThread(checkpointer: MemorySaver, thread: string, ms: number) {
  for (const checkpoints of Object.values(checkpointer.storage[thread] ?? {})) {
    for (const [id, [stored, metadata, parent]] of Object.entries(checkpoints)) {
      const checkpoint = (await checkpointer.serde.loadsTyped("json", stored)) as Checkpoint;
      checkpoint.ts = new Date(Date.parse(checkpoint.ts) - ms).toISOString();
      checkpoints[id] = [(await checkpointer.serde.dumpsTyped(checkpoint))[1], metadata, parent];
    }
  }
}

describe("same data, same prune, same survivors", () => {
  const sources = ["src-tools", "src-sub", "src-delta", "src-fork"];
  const cases: Array<[string, PruneOptions]> = [
    ["keepLast 1", { keepLast: 1 }],
    ["keepLast 2", { keepLast: 2 }],
    ["keepLast 3", { keepLast: 3 }],
    ["keepLast 5", { keepLast: 5 }],
  ];
  for (const [name, options] of cases) {
    it(`${name}: every namespace of every thread keeps the same ids, and counts agree`, async () => {
      const twin = memory();
      const threads = sources.map((source) => `${source}/${name}`);
      for (const [i, source] of sources.entries()) {
        await copyThread(env.pool, source, threads[i]!);
        await twin.importThread(await env.saver.exportThread(threads[i]!));
        expect(memoryIds(twin, threads[i]!)).toEqual(await idsByNamespace(env.pool, threads[i]!));
      }
      const onMemory = await twin.prune({ ...options, threadIds: threads });
      const onPostgres = await env.saver.prune({ ...options, threadIds: threads });
      for (const thread of threads) expect(memoryIds(twin, thread), thread).toEqual(await idsByNamespace(env.pool, thread));
      expect({ ...onMemory, blobs: 0 }).toEqual({ ...onPostgres, blobs: 0 });
      expect(onPostgres.checkpoints).toBeGreaterThan(0);
    });
  }

  it("olderThan with keepLast, and dryRun: same threads deleted, same survivors", async () => {
    const twin = memory();
    const threads = sources.map((source) => `${source}/old`);
    for (const [i, source] of sources.entries()) {
      await copyThread(env.pool, source, threads[i]!);
      if (i % 2 === 0) await ageThread(env.pool, threads[i]!, 40 * DAY);
      await twin.importThread(await env.saver.exportThread(threads[i]!));
    }
    const options: PruneOptions = { olderThan: "30d", keepLast: 2, threadIds: threads };
    const dry = await twin.prune({ ...options, dryRun: true });
    expect({ ...dry, blobs: 0 }).toEqual({ ...(await env.saver.prune({ ...options, dryRun: true })), blobs: 0 });
    const onMemory = await twin.prune(options);
    const onPostgres = await env.saver.prune(options);
    expect({ ...onMemory, blobs: 0 }).toEqual({ ...onPostgres, blobs: 0 });
    expect({ ...dry, dryRun: false }).toEqual(onMemory);
    expect(onMemory.threadsDeleted).toBe(2);
    for (const thread of threads) expect(memoryIds(twin, thread), thread).toEqual(await idsByNamespace(env.pool, thread));
  });
});

describe("MemoryCheckpointer on its own storage", () => {
  // A delta channel's value is stored only on its snapshot checkpoints here
  // (Postgres stores it once and every later checkpoint names it), so walks
  // are longer: 30 turns give `notes` (a snapshot every 5 notes) 3 snapshots.
  it("delta channels: survivors read as before, the graph continues as an unpruned MemorySaver run", async () => {
    const reference = new MemorySaver();
    const more = () => ({ messages: [new HumanMessage({ id: "human-2", content: "more" })] });
    await deltaGraph(reference, [], TURNS).invoke(deltaGraphStart(), config("t"));
    const refLog: string[] = [];
    await deltaGraph(reference, refLog, TURNS + 7).invoke(more(), config("t"));
    const expected = plain((await deltaGraph(reference, [], TURNS + 7).getState(config("t"))).values);

    const kept: number[] = [];
    for (const keepLast of [1, 2, 3, 4]) {
      const checkpointer = memory();
      const graph = deltaGraph(checkpointer, [], TURNS);
      await graph.invoke(deltaGraphStart(), config("t"));
      const before = await readEverything(checkpointer, graph, "t", ["messages", "notes"]);
      const result = await checkpointer.prune({ keepLast });
      const after = await readEverything(checkpointer, graph, "t", ["messages", "notes"]);
      expect(result.checkpoints).toBe(before.size - after.size);
      for (const id of [...before.keys()].slice(0, keepLast)) expect(after.has(id)).toBe(true);
      for (const [id, read] of after) expect(read, `checkpoint ${id}`).toEqual(before.get(id));
      kept.push(after.size);
      const log: string[] = [];
      await deltaGraph(checkpointer, log, TURNS + 7).invoke(more(), config("t"));
      expect(log).toEqual(refLog);
      expect(plain((await deltaGraph(checkpointer, [], TURNS + 7).getState(config("t"))).values)).toEqual(expected);
    }
    expect(kept[0]).toBeLessThan(TURNS + 2);
  });

  it("an expired thread a graph writes to while the prune reads it is left alone", async () => {
    let hook: (() => Promise<void>) | undefined;
    /** Runs `hook` once, inside the first read the prune makes: a graph step lands between its awaits. */
    class HookedSerde extends JsonPlusSerializer {
      override async loadsTyped(type: string, data: Uint8Array | string) {
        const run = hook;
        hook = undefined;
        if (run) await run();
        return super.loadsTyped(type, data);
      }
    }
    const checkpointer = new MemoryCheckpointer(undefined, new HookedSerde(), { logger: quietLogger, metrics: false });
    await toolGraph(checkpointer, []).invoke(toolGraphStart(), config("old"));
    await ageMemoryThread(checkpointer, "old", 2 * DAY);
    const before = memoryIds(checkpointer, "old")[""]!;
    const log: string[] = [];
    hook = async () => {
      await toolGraph(checkpointer, log).invoke(approve(), config("old"));
    };
    const result = await checkpointer.prune({ olderThan: "1d" });
    expect(log).toContain("approval:1:yes");
    expect(result).toMatchObject({ threads: 1, threadsDeleted: 0, checkpoints: 0 });
    const after = memoryIds(checkpointer, "old")[""]!;
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBeGreaterThan(before.length);
  });

  it("olderThan deletes whole idle threads (every namespace, every write); younger ones untouched", async () => {
    const checkpointer = memory();
    await subgraphGraph(checkpointer, []).invoke(subgraphGraphStart(), config("old"));
    await subgraphGraph(checkpointer, []).invoke(subgraphGraphStart(), config("young"));
    await ageMemoryThread(checkpointer, "old", 2 * DAY);
    const young = memoryIds(checkpointer, "young");
    const writes = Object.keys(checkpointer.writes).filter((key) => JSON.parse(key)[0] === "old").length;
    expect(writes).toBeGreaterThan(0);
    const result = await checkpointer.prune({ olderThan: "1d" });
    expect(result).toMatchObject({ threads: 2, threadsDeleted: 1, checkpoints: 7 });
    expect(checkpointer.storage.old).toBeUndefined();
    expect(Object.keys(checkpointer.writes).filter((key) => JSON.parse(key)[0] === "old")).toEqual([]);
    expect(memoryIds(checkpointer, "young")).toEqual(young);
  });
});

