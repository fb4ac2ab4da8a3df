import { AIMessage, type BaseMessage, HumanMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { Annotation, DeltaChannel, END, type Messages, START, StateGraph, messagesDeltaReducer } from "@langchain/langgraph";
import type { BaseCheckpointSaver, Checkpoint, CheckpointMetadata, ChannelVersions } from "@langchain/langgraph-checkpoint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidInputError,
  MemoryCheckpointer,
  PostgresSaver,
  ThreadExistsError,
  ThreadNotFoundError,
} from "../../../src/index.js";
import { threadId } from "../../support/fixtures.js";
import {
  type Log,
  approve,
  chatGraph,
  deltaGraph,
  deltaGraphStart,
  plain,
  subgraphGraph,
  subgraphGraphStart,
  toolGraph,
  toolGraphStart,
  userTurn,
} from "../../support/graphs.js";
import { useSaver } from "../../support/saver.js";

/**
 * The checkpointer methods LangGraph Python's BaseCheckpointSaver has grown
 * (its conformance suite's "extended" capabilities): `copyThread`,
 * `deleteForRuns` and `prune` with its strategy names, on real graphs, on
 * both backends.
 */
const env = useSaver();

/**
 * LangGraph JS stores no `run_id` in checkpoint metadata by itself; the
 * LangGraph Platform records the run that wrote each checkpoint there. These
 * savers do what it does: a run's `config.metadata.run_id` goes into the
 * metadata of the checkpoints it writes.
 */
class RunRecordingPostgres extends PostgresSaver {
  override put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, versions: ChannelVersions) {
    return super.put(config, checkpoint, withRunId(config, metadata), versions);
  }
}
class RunRecordingMemory extends MemoryCheckpointer {
  override put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata) {
    return super.put(config, checkpoint, withRunId(config, metadata));
  }
}
function withRunId(config: RunnableConfig, metadata: CheckpointMetadata): CheckpointMetadata {
  const runId = config.metadata?.run_id;
  return typeof runId === "string" ? ({ ...metadata, run_id: runId } as CheckpointMetadata) : metadata;
}

type Saver = BaseCheckpointSaver & Pick<PostgresSaver, "copyThread" | "deleteForRuns" | "prune" | "getTuple" | "list">;
const savers: Array<[string, () => Saver]> = [];
let postgres: RunRecordingPostgres;
beforeAll(() => {
  postgres = new RunRecordingPostgres(env.pool);
});
afterAll(async () => {
  await postgres?.end();
});
savers.push(["postgres", () => postgres], ["memory", () => new RunRecordingMemory()]);

const config = (thread: string, runId?: string) => ({
  configurable: { thread_id: thread },
  ...(runId === undefined ? {} : { metadata: { run_id: runId } }),
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Every checkpoint of a thread (all namespaces), as plain data: what a copy must reproduce. */
async function history(saver: Saver, thread: string) {
  const tuples = await collect(saver.list({ configurable: { thread_id: thread } }));
  return tuples.map((t) => ({
    ns: t.config.configurable?.checkpoint_ns,
    id: t.checkpoint.id,
    parent: t.parentConfig?.configurable?.checkpoint_id,
    values: plain(t.checkpoint.channel_values),
    metadata: t.metadata,
    writes: plain(t.pendingWrites),
  }));
}

describe.each(savers)("copyThread on %s", (_name, saverOf) => {
  it("copies an interrupted run with parallel tool calls whole; the copy resumes on its own, the source is unchanged", async () => {
    const saver = saverOf();
    const [source, target] = [threadId("copy-src"), threadId("copy-dst")];
    const log: Log = [];
    const graph = toolGraph(saver, log);
    await graph.invoke(toolGraphStart(), config(source));
    const before = await history(saver, source);

    const copied = await saver.copyThread(source, target);
    expect(copied.checkpoints).toBe(before.length);
    expect(await history(saver, target)).toEqual(before);
    expect(await history(saver, source)).toEqual(before);

    // The copy resumes without re-running the tools stored as pending writes, and ends as the source does.
    const ranBefore = log.length;
    const copyDone = await graph.invoke(approve(), config(target));
    // (Round 2's tools run: the approval leads the agent to call them.)
    expect(log.slice(ranBefore).filter((l) => l.startsWith("tool:") && l.endsWith("-1"))).toEqual([]);
    expect(log.slice(ranBefore)).toContain("approval:1:yes");
    expect(await history(saver, source)).toEqual(before);
    const sourceDone = await graph.invoke(approve(), config(source));
    // Interrupt ids are new for each run; the state is the same.
    expect(plain({ ...copyDone, __interrupt__: undefined })).toEqual(plain({ ...sourceDone, __interrupt__: undefined }));
  });

  it("copies every namespace of a subgraph and the delta channels' ancestry", async () => {
    const saver = saverOf();
    for (const [graph, start] of [
      [subgraphGraph(saver, []), subgraphGraphStart()],
      [deltaGraph(saver, [], 6), deltaGraphStart()],
    ] as const) {
      const [source, target] = [threadId("copy-src"), threadId("copy-dst")];
      await graph.invoke(start as never, config(source));
      await saver.copyThread(source, target);
      expect(await history(saver, target)).toEqual(await history(saver, source));
      expect(plain((await graph.getState(config(target))).values)).toEqual(plain((await graph.getState(config(source))).values));
    }
  });

  it("refuses a target that exists, a missing source and bad ids, writing nothing", async () => {
    const saver = saverOf();
    const [source, existing, missing] = [threadId("copy-src"), threadId("copy-existing"), threadId("copy-missing")];
    const graph = chatGraph(saver);
    await graph.invoke(userTurn(1), config(source));
    await graph.invoke(userTurn(2), config(existing));
    const existingBefore = await history(saver, existing);
    await expect(saver.copyThread(source, existing)).rejects.toBeInstanceOf(ThreadExistsError);
    expect(await history(saver, existing)).toEqual(existingBefore);
    await expect(saver.copyThread(missing, threadId("copy-none"))).rejects.toBeInstanceOf(ThreadNotFoundError);
    for (const [a, b] of [[source, source], ["", "x"], [source, 5], [null, "x"]] as const) {
      await expect(saver.copyThread(a as string, b as string)).rejects.toBeInstanceOf(InvalidInputError);
    }
  });
});

/**
 * Four turns per run on a `DeltaChannel` of messages (a snapshot every third
 * write): the second run's first checkpoints rebuild their messages from
 * snapshots and writes the first run stored.
 */
function talkingGraph(checkpointer: BaseCheckpointSaver) {
  const State = Annotation.Root({
    messages: () => new DeltaChannel<BaseMessage[], Messages>(messagesDeltaReducer, { snapshotFrequency: 3 }),
    turns: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }),
  });
  return new StateGraph(State)
    .addNode("speak", (state: typeof State.State) => ({
      messages: [new AIMessage({ id: `m-${state.turns + 1}`, content: `turn ${state.turns + 1}` })],
      turns: 1,
    }))
    .addEdge(START, "speak")
    .addConditionalEdges("speak", (state: typeof State.State) => (state.turns % 4 === 0 ? END : "speak"), ["speak", END])
    .compile({ checkpointer });
}

describe.each(savers)("deleteForRuns on %s", (_name, saverOf) => {
  it("deletes what one run of a chat wrote; the other runs' checkpoints read as before and the thread continues", async () => {
    const saver = saverOf();
    const thread = threadId("runs");
    const graph = chatGraph(saver);
    for (const turn of [1, 2, 3]) await graph.invoke(userTurn(turn), config(thread, `run-${turn}`));
    const before = await history(saver, thread);
    const byRun = (runId: string) => before.filter((c) => (c.metadata as Record<string, unknown>).run_id === runId);
    expect(byRun("run-2").length).toBeGreaterThan(0);

    const removed = await saver.deleteForRuns(["run-2", "no-such-run"]);
    expect(removed.checkpoints).toBe(byRun("run-2").length);
    const after = await history(saver, thread);
    expect(after.map((c) => c.id)).toEqual(before.filter((c) => !byRun("run-2").includes(c)).map((c) => c.id));
    // Every remaining checkpoint reads as it did; one whose parent went starts its history there.
    for (const checkpoint of after) {
      const was = before.find((c) => c.id === checkpoint.id)!;
      expect({ ...checkpoint, parent: undefined }).toEqual({ ...was, parent: undefined });
      if (checkpoint.parent !== undefined) expect(after.some((c) => c.id === checkpoint.parent)).toBe(true);
    }
    const next = await graph.invoke(userTurn(4), config(thread, "run-4"));
    expect(next.messages.map((m) => m.id)).toContain("user-4");
  });

  it("keeps what delta channels of the remaining checkpoints replay, in every namespace", async () => {
    const saver = saverOf();
    const thread = threadId("runs-delta");
    const graph = talkingGraph(saver);
    await graph.invoke({ messages: [new HumanMessage({ id: "h", content: "go" })] }, config(thread, "first"));
    await graph.invoke({ turns: 0 }, config(thread, "second"));
    const latest = plain((await graph.getState(config(thread))).values);
    const firstRun = (await history(saver, thread)).filter((c) => (c.metadata as Record<string, unknown>).run_id === "first");
    // Deleting the first run whole would take the ancestors the second run's checkpoints replay their messages from.
    const removed = await saver.deleteForRuns(["first"]);
    const kept = (await history(saver, thread)).filter((c) => (c.metadata as Record<string, unknown>).run_id === "first");
    expect(kept.length).toBeGreaterThan(0);
    expect(removed.checkpoints).toBe(firstRun.length - kept.length);
    expect(plain((await graph.getState(config(thread))).values)).toEqual(latest);
    for await (const snapshot of graph.getStateHistory(config(thread))) expect(snapshot.values.messages.length).toBeGreaterThan(0);

    const sub = threadId("runs-sub");
    const subgraph = subgraphGraph(saver, []);
    await subgraph.invoke(subgraphGraphStart(), config(sub, "ask"));
    const namespaces = new Set((await collect(saver.list({ configurable: { thread_id: sub } }))).map((t) => t.config.configurable?.checkpoint_ns));
    expect(namespaces.size).toBeGreaterThan(1);
    await saver.deleteForRuns(["ask"]);
    expect(await collect(saver.list({ configurable: { thread_id: sub } }))).toEqual([]);
  });

  it("is a no-op for no run ids, and refuses bad ones", async () => {
    const saver = saverOf();
    expect(await saver.deleteForRuns([])).toEqual({ checkpoints: 0, writes: 0, blobs: 0 });
    for (const bad of ["run-1", [""], [1], null]) {
      await expect(saver.deleteForRuns(bad as never)).rejects.toBeInstanceOf(InvalidInputError);
    }
  });
});

describe.each(savers)("prune with LangGraph Python's strategies on %s", (_name, saverOf) => {
  it("keep_latest keeps each listed thread's newest checkpoint per namespace; delete removes listed threads whole", async () => {
    const saver = saverOf();
    const [a, b, untouched] = [threadId("strategy-a"), threadId("strategy-b"), threadId("strategy-c")];
    const chat = chatGraph(saver);
    for (const thread of [a, b, untouched]) for (const turn of [1, 2]) await chat.invoke(userTurn(turn), config(thread));
    const untouchedBefore = await history(saver, untouched);
    const newest = (await saver.getTuple(config(a)))!.checkpoint.id;

    const kept = await saver.prune([a], { strategy: "keep_latest" });
    expect(kept.checkpoints).toBeGreaterThan(0);
    expect((await history(saver, a)).map((c) => c.id)).toEqual([newest]);
    // The default strategy is keep_latest, as in Python; a dry run deletes nothing.
    const dry = await saver.prune([b], { strategy: "delete", dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, threadsDeleted: 1 });
    expect((await history(saver, b)).length).toBeGreaterThan(1);
    await saver.prune([b], { strategy: "delete" });
    expect(await history(saver, b)).toEqual([]);
    expect(await history(saver, untouched)).toEqual(untouchedBefore);
    await saver.prune([]);
    expect(await history(saver, untouched)).toEqual(untouchedBefore);
    await saver.prune({ threadIds: [untouched], strategy: "keep_latest" });
    expect(await history(saver, untouched)).toHaveLength(1);
  });

  it("refuses a strategy it does not know, delete without threads, and a strategy mixed with keepLast", async () => {
    const saver = saverOf();
    for (const options of [{ strategy: "everything" }, { strategy: "delete" }, { strategy: "keep_latest", keepLast: 3 }]) {
      await expect(saver.prune(options as never)).rejects.toBeInstanceOf(InvalidInputError);
    }
  });
});
