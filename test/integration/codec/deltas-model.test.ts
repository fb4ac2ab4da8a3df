import { AIMessage, type BaseMessage, HumanMessage, RemoveMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { Annotation, END, MessagesAnnotation, START, type StateSnapshot, StateGraph } from "@langchain/langgraph";
import {
  BaseCheckpointSaver,
  type Checkpoint,
  type CheckpointTuple,
  type DeltaChannelHistory,
  JsonPlusSerializer,
  MemorySaver,
  emptyCheckpoint,
  uuid6,
} from "@langchain/langgraph-checkpoint";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32 } from "../../../src/codec/delta.js";
import { databaseOf } from "../../../src/database.js";
import { type CodecName, PostgresSaver } from "../../../src/index.js";
import { validateThreads } from "../../../src/inspect/validate.js";
import { OperationStats } from "../../../src/observe/instrument.js";
import type { ValueRow } from "../../../src/sql/index.js";
import { useTestDatabase } from "../../support/database.js";
import { chatGraph, plain, sentence, userTurn } from "../../support/graphs.js";

/**
 * Property-based tests that try to break channel values stored as deltas
 * (src/codec/delta.ts, delta-cache.ts): random sequences of what real
 * applications do to a chat, run on compiled LangGraph graphs against
 * several `PostgresSaver` instances sharing one schema (each with its own
 * base cache, as separate processes would have) and against LangGraph's
 * `MemorySaver` as the oracle. After each sequence every checkpoint of every
 * thread, in every namespace, must read back the same through
 * `getStateHistory`, `list`, `getTuple` by id and `getDeltaChannelHistory`.
 * A second property checks that stored bytes are exact: whatever the
 * encoder stores, the reader rebuilds `serde.dumpsTyped(value)` byte for byte.
 * The last section keeps the failures these properties led to (both fixed)
 * as small deterministic regression tests, each with its cause and fix.
 *
 * Both properties run with a fixed seed (about 20 s and 2 s on 2 cores).
 * Reproduce a failure with FC_SEED=<seed> FC_PATH=<path> from fast-check's
 * report; FC_NUM_RUNS=<n> runs more sequences (defaults: 20 and 30).
 */
const db = useTestDatabase();
let pool: pg.Pool;
const opened: PostgresSaver[] = [];

beforeAll(() => {
  pool = new pg.Pool({ connectionString: db.url(), max: 6 });
});
afterAll(async () => {
  for (const saver of opened) await saver.end();
  await pool?.end();
});

const SEED = Number(process.env.FC_SEED ?? 20_240_611);
const PATH = process.env.FC_PATH;
const runsOr = (fallback: number) => Number(process.env.FC_NUM_RUNS ?? fallback);
const fcParameters = (numRuns: number) => ({ seed: SEED, numRuns, ...(PATH === undefined ? {} : { path: PATH }) });

interface InstanceOptions {
  maxDeltaChain: number;
  /** undefined: the default (64 MiB); small values evict bases between steps. */
  deltaCacheBytes: number | undefined;
  /** 0 compresses every suffix that compresses; 1024 is the default. */
  thresholdBytes: number;
  codec: CodecName;
}

async function newSaver(schema: string, o: InstanceOptions, extra: { listPageSize?: number } = {}): Promise<PostgresSaver> {
  const saver = new PostgresSaver(pool, undefined, {
    schema,
    metrics: false,
    ...extra,
    compaction: { maxDeltaChain: o.maxDeltaChain, deltaCacheBytes: o.deltaCacheBytes, thresholdBytes: o.thresholdBytes, codec: o.codec },
  });
  opened.push(saver);
  await saver.setup();
  return saver;
}

async function endSaver(saver: PostgresSaver): Promise<void> {
  await saver.end();
  opened.splice(opened.indexOf(saver), 1);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const instanceOptions: fc.Arbitrary<InstanceOptions> = fc.record({
  maxDeltaChain: fc.integer({ min: 2, max: 5 }),
  deltaCacheBytes: fc.constantFrom(undefined, 6_000, 20_000),
  thresholdBytes: fc.constantFrom(0, 1024),
  codec: fc.constantFrom<CodecName>("br", "gzip", "deflate"),
});

// ---------------------------------------------------------------------------
// Graphs: the chat of test/support/graphs.ts, and the same chat answered by a
// two-node subgraph, whose checkpoints live in a child namespace per turn.
// ---------------------------------------------------------------------------

/** The slice of a compiled graph's API the operations use (both graphs have it). */
interface Graph {
  invoke(input: unknown, config: RunnableConfig): Promise<unknown>;
  updateState(config: RunnableConfig, values: unknown): Promise<RunnableConfig>;
  getState(config: RunnableConfig): Promise<StateSnapshot>;
  getStateHistory(config: RunnableConfig): AsyncIterableIterator<StateSnapshot>;
}

type State = typeof MessagesAnnotation.State;

/** agent = a compiled subgraph (think → answer), so each turn adds checkpoints in an `agent:<task id>` namespace. */
function subgraphChat(checkpointer: BaseCheckpointSaver): Graph {
  const agent = new StateGraph(MessagesAnnotation)
    .addNode("think", (s: State) => ({ messages: [new AIMessage({ id: `think-${s.messages.length}`, content: sentence(500 + s.messages.length, 30) })] }))
    .addNode("answer", (s: State) => ({ messages: [new AIMessage({ id: `answer-${s.messages.length}`, content: sentence(700 + s.messages.length, 40) })] }))
    .addEdge(START, "think")
    .addEdge("think", "answer")
    .addEdge("answer", END)
    .compile();
  return new StateGraph(MessagesAnnotation)
    .addNode("agent", agent)
    .addEdge(START, "agent")
    .addEdge("agent", END)
    .compile({ checkpointer }) as unknown as Graph;
}

const THREADS = [
  { id: "chat-a", graph: (c: BaseCheckpointSaver) => chatGraph(c) as unknown as Graph },
  { id: "chat-b", graph: (c: BaseCheckpointSaver) => chatGraph(c) as unknown as Graph },
  { id: "sub", graph: subgraphChat },
] as const;
type Thread = (typeof THREADS)[number];

const config = (thread: string) => ({ configurable: { thread_id: thread } });

// ---------------------------------------------------------------------------
// Operations.
// ---------------------------------------------------------------------------

type Op =
  /** A user turn (and the graph's answer) on the thread's latest checkpoint. */
  | { kind: "turn"; by: number; thread: number }
  /** updateState with an existing message's id and new content. */
  | { kind: "edit"; by: number; thread: number; pick: number; text: number; long: boolean; unicode: boolean }
  /** updateState with a RemoveMessage of an existing message. */
  | { kind: "remove"; by: number; thread: number; pick: number }
  /** Time travel: a turn, edit or removal from an older checkpoint of the history. */
  | { kind: "fork"; by: number; thread: number; back: number; then: "turn" | "edit" | "remove"; pick: number; text: number }
  /** The instance in slot `by` is replaced by a new one (a restarted process: empty cache). */
  | { kind: "fresh"; by: number }
  /** deleteThread by one instance, then a new start of the thread by another. */
  | { kind: "restart"; by: number; next: number; thread: number }
  /** prune({ keepLast }) by one instance. */
  | { kind: "prune"; by: number; keepLast: number };

const slot = fc.nat({ max: 2 });
const thread = fc.nat({ max: THREADS.length - 1 });
/** Mostly the newest messages (where an edit becomes a small delta), sometimes any. */
const pickArb = fc.oneof({ weight: 3, arbitrary: fc.nat({ max: 1 }) }, { weight: 1, arbitrary: fc.nat({ max: 40 }) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("turn" as const), by: slot, thread }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("edit" as const), by: slot, thread, pick: pickArb, text: fc.nat({ max: 99 }), long: fc.boolean(), unicode: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), by: slot, thread, pick: pickArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("fork" as const), by: slot, thread, back: fc.nat({ max: 60 }),
      then: fc.constantFrom("turn" as const, "edit" as const, "remove" as const), pick: pickArb, text: fc.nat({ max: 99 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("fresh" as const), by: slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const), by: slot, next: slot, thread }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("prune" as const), by: slot, keepLast: fc.integer({ min: 1, max: 4 }) }) },
);

const UNICODE = ["é", "è", "🙂", "🙃"];

/**
 * New content for an edit. The unicode variants share a long ASCII prefix
 * and then differ inside a multi-byte character ("é"/"è" share their first
 * UTF-8 byte, the two emoji their first three), so a delta's prefix ends in
 * the middle of a character.
 */
function editText(text: number, long: boolean, unicode: boolean): string {
  const words = sentence(text, long ? 70 : 6);
  return unicode ? `${sentence(7, 20)} ${UNICODE[text % UNICODE.length]} ${words}` : words;
}

function edited(message: BaseMessage, content: string): BaseMessage {
  const fields = { id: message.id, content };
  return message.getType() === "human" ? new HumanMessage(fields) : new AIMessage(fields);
}

// ---------------------------------------------------------------------------
// A run: its savers, the oracle, and what the pruned Postgres history hides.
// ---------------------------------------------------------------------------

interface Run {
  schema: string;
  options: InstanceOptions[];
  /** The current instance in each slot; all on the same database and schema. */
  savers: PostgresSaver[];
  /** Reads for the comparisons, never writes (so the writers' caches stay as the operations left them). */
  reader: PostgresSaver;
  mem: MemorySaver;
  turn: number;
  /**
   * Per thread and namespace: how many of MemorySaver's oldest checkpoints
   * Postgres no longer has because `prune` deleted them. The Postgres
   * history must equal MemorySaver's without them.
   */
  hidden: Map<string, Map<string, number>>;
  lastWriter: Map<string, number>;
}

/** Counters over the whole property, to prove the generators reach what they are meant to. */
const stats = {
  runs: 0,
  turns: 0,
  crossInstanceTurns: 0,
  edits: 0,
  removals: 0,
  forks: 0,
  freshInstances: 0,
  restarts: 0,
  prunes: 0,
  prunedCheckpoints: 0,
  checkpointsCompared: 0,
  deltaHistoriesCompared: 0,
  deltaHistorySeeds: 0,
  deltaRows: 0,
  childNamespaceDeltaRows: 0,
  compressedDeltaRows: 0,
  keyframes: 0,
  longestChain: 0,
};

const saverOf = (run: Run, by: number) => run.savers[by % run.savers.length]!;

/** The same call on a Postgres instance's graph and on MemorySaver's. */
async function onBoth(run: Run, by: number, t: Thread, f: (graph: Graph, which: "pg" | "mem") => Promise<unknown>): Promise<void> {
  await f(t.graph(saverOf(run, by)), "pg");
  await f(t.graph(run.mem), "mem");
}

async function turn(run: Run, by: number, t: Thread, from?: { pg: RunnableConfig; mem: RunnableConfig }): Promise<void> {
  const n = run.turn++;
  const last = run.lastWriter.get(t.id);
  if (last !== undefined && last !== by % run.savers.length) stats.crossInstanceTurns += 1;
  run.lastWriter.set(t.id, by % run.savers.length);
  await onBoth(run, by, t, (graph, which) => graph.invoke(userTurn(n), from?.[which] ?? config(t.id)));
  stats.turns += 1;
}

function messagesOf(state: StateSnapshot): BaseMessage[] {
  return ((state.values as Partial<State>)?.messages ?? []) as BaseMessage[];
}

/** What getStateHistory shows of a state, as plain data. */
function stateView(state: StateSnapshot) {
  return { values: plain(state.values), next: state.next, step: state.metadata?.step, source: state.metadata?.source };
}

/** The root namespace's history on Postgres and, aligned with it, on MemorySaver (without what prune took). */
async function histories(run: Run, by: number, t: Thread): Promise<{ pg: StateSnapshot[]; mem: StateSnapshot[] }> {
  const pgHistory = await collect(t.graph(saverOf(run, by)).getStateHistory(config(t.id)));
  const memHistory = await collect(t.graph(run.mem).getStateHistory(config(t.id)));
  const mem = memHistory.slice(0, memHistory.length - (run.hidden.get(t.id)?.get("") ?? 0));
  expect(pgHistory.map(stateView), `history of ${t.id}`).toEqual(mem.map(stateView));
  return { pg: pgHistory, mem };
}

async function act(run: Run, op: Op): Promise<void> {
  switch (op.kind) {
    case "turn":
      return turn(run, op.by, THREADS[op.thread]!);
    case "edit":
    case "remove": {
      const t = THREADS[op.thread]!;
      // The state as the application sees it before it updates it (its getTuple is what LangGraph reads too).
      const pgState = await t.graph(saverOf(run, op.by)).getState(config(t.id));
      const memState = await t.graph(run.mem).getState(config(t.id));
      expect(stateView(pgState)).toEqual(stateView(memState));
      const messages = messagesOf(pgState);
      if (messages.length === 0) return turn(run, op.by, t);
      const target = messages[messages.length - 1 - (op.pick % messages.length)]!;
      const update = () =>
        op.kind === "edit"
          ? { messages: [edited(target, editText(op.text, op.long, op.unicode))] }
          : { messages: [new RemoveMessage({ id: target.id! })] };
      await onBoth(run, op.by, t, (graph) => graph.updateState(config(t.id), update()));
      if (op.kind === "edit") stats.edits += 1;
      else stats.removals += 1;
      return;
    }
    case "fork": {
      const t = THREADS[op.thread]!;
      const { pg: pgHistory, mem: memHistory } = await histories(run, op.by, t);
      if (pgHistory.length === 0) return turn(run, op.by, t);
      const i = op.back % pgHistory.length;
      const at = { pg: pgHistory[i]!.config, mem: memHistory[i]!.config };
      const messages = messagesOf(pgHistory[i]!);
      stats.forks += 1;
      if (op.then === "turn" || messages.length === 0) return turn(run, op.by, t, at);
      const target = messages[messages.length - 1 - (op.pick % messages.length)]!;
      const update = () =>
        op.then === "edit"
          ? { messages: [edited(target, editText(op.text, false, op.text % 2 === 0))] }
          : { messages: [new RemoveMessage({ id: target.id! })] };
      await onBoth(run, op.by, t, (graph, which) => graph.updateState(at[which], update()));
      return;
    }
    case "fresh": {
      const k = op.by % run.savers.length;
      await endSaver(run.savers[k]!);
      run.savers[k] = await newSaver(run.schema, run.options[k]!);
      stats.freshInstances += 1;
      return;
    }
    case "restart": {
      const t = THREADS[op.thread]!;
      await saverOf(run, op.by).deleteThread(t.id);
      await run.mem.deleteThread(t.id);
      run.hidden.delete(t.id);
      run.lastWriter.delete(t.id);
      stats.restarts += 1;
      return turn(run, op.next, t);
    }
    case "prune": {
      const before = new Map<string, Map<string, number>>();
      for (const t of THREADS) before.set(t.id, counts(await byNamespace(run.reader, t.id)));
      const result = await saverOf(run, op.by).prune({ keepLast: op.keepLast });
      let removed = 0;
      for (const t of THREADS) {
        const after = counts(await byNamespace(run.reader, t.id));
        // MessagesAnnotation has no DeltaChannel, so nothing older is needed: exactly the newest keepLast stay.
        const expected = new Map([...before.get(t.id)!].map(([ns, n]) => [ns, Math.min(n, op.keepLast)]));
        expect(after, `prune keepLast ${op.keepLast} on ${t.id}`).toEqual(expected);
        const hidden = run.hidden.get(t.id) ?? new Map<string, number>();
        for (const [ns, n] of before.get(t.id)!) {
          hidden.set(ns, (hidden.get(ns) ?? 0) + n - after.get(ns)!);
          removed += n - after.get(ns)!;
        }
        run.hidden.set(t.id, hidden);
      }
      expect(result.checkpoints).toBe(removed);
      stats.prunes += 1;
      stats.prunedCheckpoints += removed;
      // What remains reads the same right away, before anything continues the threads.
      for (const t of THREADS) await sweep(run, t, `after prune keepLast ${op.keepLast}`);
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// Comparisons.
// ---------------------------------------------------------------------------

const idOf = (t: CheckpointTuple) => String(t.config.configurable?.checkpoint_id);
const parentIdOf = (t: CheckpointTuple) => t.parentConfig?.configurable?.checkpoint_id as string | undefined;

/**
 * Every checkpoint of a thread, per namespace, newest first. Checkpoint ids
 * and subgraph task ids differ between the two savers (they come from the
 * clock and from checkpoint ids), so child namespaces are named by their
 * prefix and the order of their newest checkpoint, which both savers share.
 */
async function byNamespace(saver: BaseCheckpointSaver, threadId: string) {
  const groups = new Map<string, CheckpointTuple[]>();
  for (const t of await collect(saver.list(config(threadId)))) {
    const ns = String(t.config.configurable?.checkpoint_ns ?? "");
    groups.set(ns, [...(groups.get(ns) ?? []), t]);
  }
  for (const list of groups.values()) list.sort((a, b) => (idOf(a) < idOf(b) ? 1 : idOf(a) > idOf(b) ? -1 : 0));
  const children = [...groups.keys()].filter((ns) => ns !== "").sort((a, b) => (idOf(groups.get(a)![0]!) < idOf(groups.get(b)![0]!) ? -1 : 1));
  const names = new Map<string, string>([["", ""], ...children.map((ns, i): [string, string] => [ns, `${ns.split(":")[0]}#${i}`])]);
  const named = new Map<string, CheckpointTuple[]>();
  for (const [ns, list] of [...groups].sort(([a], [b]) => names.get(a)!.localeCompare(names.get(b)!))) named.set(names.get(ns)!, list);
  return { named, names };
}

function counts(found: Awaited<ReturnType<typeof byNamespace>>): Map<string, number> {
  return new Map([...found.named].map(([ns, list]) => [ns, list.length]));
}

/**
 * MemorySaver stores the whole checkpoint LangGraph hands it, including
 * values of channels that have no version (a reducer's default, such as
 * `messages: []` before the first write, and an empty `__pregel_tasks`).
 * A Postgres saver stores a value only under its version, as the official
 * one does, so those come back only from MemorySaver: the oracle's
 * unversioned values are dropped before comparing.
 */
function versionedValues(checkpoint: Checkpoint): Record<string, unknown> {
  return Object.fromEntries(Object.entries(checkpoint.channel_values).filter(([channel]) => Object.hasOwn(checkpoint.channel_versions, channel)));
}

/**
 * A tuple as both savers must return it, ids replaced by positions:
 * channel values (versioned ones, see above) and pending writes as plain
 * data, the parent as its position in the same (visible) history or null,
 * metadata's `parents` as positions in the root namespace. Versions are
 * random-fractioned in our saver and integers in MemorySaver: only which
 * channels have one is compared.
 */
function canonical(t: CheckpointTuple, positions: Map<string, number>, rootPositions: Map<string, number>, names: Map<string, string>, oracle: boolean) {
  const { parents, ...metadata } = (t.metadata ?? {}) as Record<string, unknown>;
  const parentId = parentIdOf(t);
  return {
    values: plain(oracle ? versionedValues(t.checkpoint) : t.checkpoint.channel_values),
    channels: Object.keys(t.checkpoint.channel_versions).sort(),
    seen: Object.entries(t.checkpoint.versions_seen ?? {}).map(([node, v]) => [node, Object.keys(v).sort()]).sort(),
    metadata: plain(metadata),
    parents: Object.entries((parents ?? {}) as Record<string, string>).map(([ns, id]) => [names.get(ns) ?? `?${ns}`, rootPositions.get(id) ?? null]),
    parent: parentId === undefined ? null : positions.get(parentId) ?? null,
    writes: (t.pendingWrites ?? []).map(([, channel, value]) => JSON.stringify([channel, plain(value)])).sort(),
  };
}

/** A tuple as plain data, ids and all: what getTuple by id must return for an entry of list(). */
function asData(t: CheckpointTuple) {
  return {
    config: t.config,
    parentConfig: t.parentConfig ?? null,
    checkpoint: { ...t.checkpoint, channel_values: plain(t.checkpoint.channel_values) },
    metadata: t.metadata,
    pendingWrites: (t.pendingWrites ?? []).map(([task, channel, value]) => [task, channel, plain(value)]),
  };
}

function deltaView(history: Record<string, DeltaChannelHistory>) {
  return Object.fromEntries(
    Object.entries(history).map(([channel, h]) => [
      channel,
      { seed: "seed" in h ? plain(h.seed) : "(no seed)", writes: h.writes.map(([, ch, value]) => [ch, plain(value)]) },
    ]),
  );
}

/**
 * getDeltaChannelHistory's reference: the base class's walk (one getTuple
 * per ancestor) over MemorySaver's tuples with only versioned values
 * (MemorySaver's own override would take the unversioned `messages: []` of
 * a thread's first checkpoint as a seed, which no Postgres saver stores).
 */
function oracleHistory(mem: MemorySaver, config: RunnableConfig, channels: string[]) {
  const view = Object.create(BaseCheckpointSaver.prototype) as BaseCheckpointSaver;
  view.getTuple = async (c: RunnableConfig) => {
    const t = await mem.getTuple(c);
    return t && { ...t, checkpoint: { ...t.checkpoint, channel_values: versionedValues(t.checkpoint) } };
  };
  return BaseCheckpointSaver.prototype.getDeltaChannelHistory.call(view, { config, channels });
}

/**
 * Whether the walk for entry `i` stays among the checkpoints Postgres still
 * has: it stops at the first ancestor holding a versioned `messages` value.
 * A walk that reaches a pruned ancestor finds a seed in MemorySaver and none
 * in Postgres (prune cleared the parent link).
 */
function walkStaysVisible(all: CheckpointTuple[], visible: number, i: number): boolean {
  const position = new Map(all.map((t, k) => [idOf(t), k]));
  for (let id = parentIdOf(all[i]!); id !== undefined; ) {
    const k = position.get(id);
    if (k === undefined) return true;
    if (k >= visible) return false;
    if (Object.hasOwn(versionedValues(all[k]!.checkpoint), "messages")) return true;
    id = parentIdOf(all[k]!);
  }
  return true;
}

/** Everything both savers hold of a thread, read every way LangGraph reads it. */
async function sweep(run: Run, t: Thread, label: string): Promise<void> {
  const where = `${label}: thread ${t.id}`;
  const ours = await byNamespace(run.reader, t.id);
  const oracle = await byNamespace(run.mem, t.id);
  expect([...ours.named.keys()], `${where}: namespaces`).toEqual([...oracle.named.keys()]);
  const hidden = run.hidden.get(t.id) ?? new Map<string, number>();
  const visible = (ns: string) => {
    const all = oracle.named.get(ns)!;
    return all.slice(0, all.length - (hidden.get(ns) ?? 0));
  };
  const positionsOf = (list: CheckpointTuple[]) => new Map(list.map((tuple, i) => [idOf(tuple), i]));
  const ourRoot = positionsOf(ours.named.get("") ?? []);
  const oracleRoot = positionsOf(oracle.named.has("") ? visible("") : []);
  for (const [ns, list] of ours.named) {
    const expected = visible(ns);
    const mine = positionsOf(list);
    const theirs = positionsOf(expected);
    expect(list.map((tuple) => canonical(tuple, mine, ourRoot, ours.names, false)), `${where}, namespace ${ns}: list()`).toEqual(
      expected.map((tuple) => canonical(tuple, theirs, oracleRoot, oracle.names, true)),
    );
    for (const [i, tuple] of list.entries()) {
      const byId = await run.reader.getTuple(tuple.config);
      expect(byId && asData(byId), `${where}, namespace ${ns}: getTuple of list()[${i}]`).toEqual(asData(tuple));
      stats.checkpointsCompared += 1;
      if (!walkStaysVisible(oracle.named.get(ns)!, expected.length, i)) continue;
      const channels = ["messages"];
      const actual = await run.reader.getDeltaChannelHistory({ config: tuple.config, channels });
      const reference = await oracleHistory(run.mem, expected[i]!.config, channels);
      expect(deltaView(actual), `${where}, namespace ${ns}: getDeltaChannelHistory of list()[${i}]`).toEqual(deltaView(reference));
      stats.deltaHistoriesCompared += 1;
      if ("seed" in actual.messages!) stats.deltaHistorySeeds += 1;
    }
  }
  // What the application sees: the graph's state history of the root namespace.
  const history = await collect(t.graph(run.reader).getStateHistory(config(t.id)));
  const reference = await collect(t.graph(run.mem).getStateHistory(config(t.id)));
  expect(history.map(stateView), `${where}: getStateHistory`).toEqual(
    reference.slice(0, reference.length - (hidden.get("") ?? 0)).map(stateView),
  );
}

/** After each operation: every thread's latest state, as the graph reads it. */
async function latestStates(run: Run, label: string): Promise<void> {
  for (const t of THREADS) {
    const ours = await t.graph(run.reader).getState(config(t.id));
    const oracle = await t.graph(run.mem).getState(config(t.id));
    expect(stateView(ours), `${label}: latest state of ${t.id}`).toEqual(stateView(oracle));
  }
}

interface BlobRow {
  thread_id: string;
  checkpoint_ns: string;
  channel: string;
  version: string;
  type: string;
  base: string | null;
}

/** Every chain ends at a stored full value within the longest maxDeltaChain any instance had. */
async function checkChains(run: Run): Promise<void> {
  const { rows } = await pool.query<BlobRow>(
    `SELECT thread_id, checkpoint_ns, channel, version, type,
            substring(type FROM '\\+delta:[0-9]+:[0-9a-f]{8}:([0-9A-Za-z._-]+)') AS base
     FROM "${run.schema}".checkpoint_blobs`,
  );
  const key = (r: { thread_id: string; checkpoint_ns: string; channel: string }, version: string) =>
    JSON.stringify([r.thread_id, r.checkpoint_ns, r.channel, version]);
  const byKey = new Map(rows.map((r) => [key(r, r.version), r]));
  const longest = Math.max(...run.options.map((o) => o.maxDeltaChain));
  for (const row of rows) {
    let hops = 0;
    let r: BlobRow | undefined = row;
    while (r?.base) {
      hops += 1;
      expect(hops, `chain of ${key(row, row.version)}`).toBeLessThanOrEqual(longest);
      r = byKey.get(key(r, r.base));
      expect(r, `base of ${key(row, row.version)} at hop ${hops}`).toBeDefined();
    }
    stats.longestChain = Math.max(stats.longestChain, hops);
    if (row.base !== null) {
      stats.deltaRows += 1;
      if (row.checkpoint_ns !== "") stats.childNamespaceDeltaRows += 1;
      if (/\+(br|gzip|deflate)$/.test(row.type)) stats.compressedDeltaRows += 1;
    } else if (row.channel === "messages") {
      stats.keyframes += 1;
    }
  }
  const report = await validateThreads(databaseOf(run.reader));
  expect(report.problems, "validate").toEqual([]);
}

let runCount = 0;

describe("random chats on several PostgresSaver instances, compared with MemorySaver", () => {
  it("every checkpoint of every thread reads back as on MemorySaver, whatever the deltas, caches, forks and prunes", { timeout: 600_000 }, async () => {
    const runArb = fc.record({
      instances: fc.array(instanceOptions, { minLength: 2, maxLength: 3 }),
      readerPageSize: fc.constantFrom(2, 5, 100),
      /** Turns before the operations (by any instance), so message lists are long enough for deltas from the start. */
      warmup: fc.array(fc.tuple(slot, thread), { minLength: 4, maxLength: 9 }),
      ops: fc.array(opArb, { minLength: 8, maxLength: 16 }),
    });
    await fc.assert(
      fc.asyncProperty(runArb, async ({ instances, readerPageSize, warmup, ops }) => {
        const schema = `model_${runCount++}`;
        const savers: PostgresSaver[] = [];
        for (const o of instances) savers.push(await newSaver(schema, o));
        const reader = await newSaver(schema, instances[0]!, { listPageSize: readerPageSize });
        const run: Run = {
          schema, options: instances, savers, reader, mem: new MemorySaver(), turn: 0, hidden: new Map(), lastWriter: new Map(),
        };
        try {
          for (const [by, t] of warmup) await turn(run, by, THREADS[t]!);
          for (const [i, op] of ops.entries()) {
            await act(run, op);
            await latestStates(run, `after op ${i} ${JSON.stringify(op)}`);
          }
          // Every thread continues on a new process, then everything is compared.
          await endSaver(run.savers[0]!);
          run.savers[0] = await newSaver(schema, instances[0]!);
          for (const t of THREADS) await turn(run, 0, t);
          for (const t of THREADS) await sweep(run, t, "end of sequence");
          await checkChains(run);
          stats.runs += 1;
        } finally {
          for (const saver of [...run.savers, reader]) if (opened.includes(saver)) await endSaver(saver);
          await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
        }
      }),
      fcParameters(runsOr(20)),
    );
    console.info("delta model:", JSON.stringify(stats));
    // The generators reached every kind of operation, and deltas were really stored and read.
    for (const [name, n] of Object.entries(stats)) expect(n, name).toBeGreaterThan(0);
    expect(stats.deltaRows).toBeGreaterThan(stats.runs * 5);
  });
});

// ---------------------------------------------------------------------------
// Stored bytes are exact.
// ---------------------------------------------------------------------------

interface Rec {
  id: number;
  text: string;
  pad: string;
}

type Kind = "records" | "bytes" | "text";
type Value = Rec[] | Uint8Array | string;

type Change =
  | { op: "append"; recs: Rec[]; bytes: Uint8Array; text: string }
  | { op: "edit"; fromEnd: number; rec: Rec; byte: number; text: string }
  | { op: "truncate"; k: number }
  | { op: "front"; rec: Rec; bytes: Uint8Array; text: string }
  /** The same content under a new version: a delta that adds no byte. */
  | { op: "same" };

interface Step {
  change: Change;
  writer: number;
  /** The writer reads the parent first (getTuple), as LangGraph does, so it knows the base even if another instance wrote it. */
  readFirst: boolean;
  /** 0: on the newest checkpoint; n: a fork from the n-th before it. */
  back: number;
  /**
   * After the writer read its parent, the other instance prunes the thread
   * to its newest checkpoint: the base the writer remembers may be gone
   * when it puts (what a prune or another process does between a read and
   * a write), which put must notice in its statement.
   */
  pruneFirst: boolean;
}

/** Strings JSON escapes or spells in several bytes: a change inside them moves a delta's prefix mid-escape or mid-character. */
const tricky = fc.constantFrom("é", "è", "🙂", "🙃", "\u2028", "\u2028", '"', "\\", "\ud800", "\u0000", "\t", "ü🙂|");
const textArb = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.array(fc.oneof(tricky, fc.string({ unit: "grapheme", maxLength: 4 })), { maxLength: 6 }).map((parts) => parts.join("")),
);
const recArb: fc.Arbitrary<Rec> = fc.record({ id: fc.nat({ max: 1_000_000 }), text: textArb, pad: fc.nat({ max: 99 }).map((s) => sentence(s, 6)) });
const changeArb: fc.Arbitrary<Change> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("append" as const), recs: fc.array(recArb, { minLength: 1, maxLength: 3 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 120 }), text: textArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("edit" as const), fromEnd: fc.oneof(fc.nat({ max: 2 }), fc.nat({ max: 400 })), rec: recArb, byte: fc.nat({ max: 255 }), text: textArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), k: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("front" as const), rec: recArb, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }), text: textArb }) },
  { weight: 1, arbitrary: fc.constant<Change>({ op: "same" }) },
);
const stepArb: fc.Arbitrary<Step> = fc.record({
  change: changeArb,
  writer: fc.nat({ max: 1 }),
  readFirst: fc.boolean(),
  back: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 5 }) }),
  pruneFirst: fc.nat({ max: 9 }).map((n) => n === 0),
});
const initialArb = (kind: Kind): fc.Arbitrary<Value> =>
  kind === "records"
    ? fc.array(recArb, { minLength: 8, maxLength: 25 })
    : kind === "bytes"
      ? fc.uint8Array({ minLength: 520, maxLength: 1500 })
      : fc.tuple(fc.nat({ max: 99 }), textArb).map(([s, t]) => `${sentence(s, 90)}${t}`);

/** The next value, always a new object: the caller never changes what it handed to put() (see the aliasing test below). */
function applyChange(value: Value, change: Change): Value {
  if (change.op === "same") return typeof value === "string" ? value : Array.isArray(value) ? [...value] : value.slice();
  if (Array.isArray(value)) {
    const at = (n: number) => value.length - 1 - (n % value.length);
    if (change.op === "append") return [...value, ...change.recs];
    if (change.op === "edit") return value.map((r, i) => (i === at(change.fromEnd) ? change.rec : r));
    if (change.op === "truncate") return value.slice(0, Math.max(1, value.length - change.k));
    return [change.rec, ...value];
  }
  if (value instanceof Uint8Array) {
    if (change.op === "append") return new Uint8Array(Buffer.concat([value, change.bytes]));
    if (change.op === "edit") {
      const copy = value.slice();
      copy[value.length - 1 - (change.fromEnd % value.length)] = change.byte;
      return copy;
    }
    if (change.op === "truncate") return value.slice(0, Math.max(1, value.length - change.k * 40));
    return new Uint8Array(Buffer.concat([change.bytes, value]));
  }
  if (change.op === "append") return value + change.text;
  if (change.op === "edit") {
    const i = value.length - 1 - (change.fromEnd % value.length);
    return value.slice(0, i) + change.text + value.slice(i + 1);
  }
  if (change.op === "truncate") return value.slice(0, Math.max(1, value.length - change.k * 15));
  return change.text + value;
}

const exactStats = {
  runs: 0, puts: 0, deltas: 0, emptyDeltas: 0, compressedDeltas: 0, bytesDeltas: 0, textDeltas: 0, recordDeltas: 0, forks: 0, values: 0,
  prunes: 0, prunedAway: 0, longestChain: 0,
};

describe("stored bytes are exact", () => {
  const serde = new JsonPlusSerializer();
  const schema = "exact";
  const root = (thread: string) => ({ configurable: { thread_id: thread, checkpoint_ns: "" } });

  async function put(saver: PostgresSaver, parent: RunnableConfig, value: Value, previous: string | number | undefined, step: number) {
    const version = saver.getNextVersion(previous as never) as string | number;
    const checkpoint: Checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { doc: value }, channel_versions: { doc: version } };
    const written = await saver.put(parent, checkpoint, { source: "loop", step, parents: {} }, { doc: version });
    return { config: written, version };
  }

  /** The stored rows of a value and its chain, rebuilt by the reader as getTuple and validate do. */
  async function rebuiltBytes(saver: PostgresSaver, thread: string, version: string) {
    const database = databaseOf(saver);
    const rows = await database.query<ValueRow>("getTuple", database.sql.checkpoints.valueRows, [thread, "", "doc", version]);
    const chain = new Map(rows.map((r) => [r.version, r]));
    const loaded = await database.loader(new OperationStats()).channelValue(rows[0]!, (v) => chain.get(v), { threadId: thread, checkpointNs: "", part: "value", channel: "doc", version });
    return { stored: rows[0]!, known: loaded.known!, hops: rows.length - 1 };
  }

  it("whatever the encoder stores (whole, delta, compressed suffix, empty suffix), every reader rebuilds serde.dumpsTyped(value) byte for byte", { timeout: 600_000 }, async () => {
    const writerOptions = fc.record({
      maxDeltaChain: fc.integer({ min: 1, max: 5 }),
      deltaCacheBytes: fc.constant(undefined),
      thresholdBytes: fc.constantFrom(0, 256, 1024),
      codec: fc.constantFrom<CodecName>("br", "gzip", "deflate"),
    });
    const kindArb = fc.constantFrom<Kind>("records", "bytes", "text");
    const runArb = kindArb.chain((kind) =>
      fc.record({
        kind: fc.constant(kind),
        initial: initialArb(kind),
        writers: fc.tuple(writerOptions, writerOptions),
        steps: fc.array(stepArb, { minLength: 4, maxLength: 14 }),
      }),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(runArb, async ({ kind, initial, writers, steps }) => {
        const thread = `exact-${n++}`;
        const savers = [await newSaver(schema, writers[0]), await newSaver(schema, writers[1])];
        const reader = await newSaver(schema, writers[0]);
        try {
          const written: Array<{ config: RunnableConfig; version: string | number; value: Value; pruned?: boolean }> = [];
          const first = await put(savers[0]!, root(thread), initial, undefined, 0);
          written.push({ ...first, value: initial });
          for (const [i, step] of steps.entries()) {
            const parent = written[Math.max(0, written.length - 1 - step.back)]!;
            if (step.back > 0) exactStats.forks += 1;
            const saver = savers[step.writer]!;
            if (step.readFirst || step.pruneFirst) await saver.getTuple(parent.config);
            if (step.pruneFirst) {
              // keepLast 1 keeps the newest checkpoint, i.e. the last one written (ids grow), and the values its value needs.
              await savers[1 - step.writer]!.prune({ keepLast: 1, threadIds: [thread] });
              for (const w of written.slice(0, -1)) w.pruned = true;
              exactStats.prunes += 1;
            }
            const value = applyChange(parent.value, step.change);
            const next = await put(saver, parent.config, value, parent.version, i + 1);
            written.push({ ...next, value });
          }
          exactStats.puts += written.length;
          const exported = await reader.exportThread(thread);
          const longest = Math.max(writers[0].maxDeltaChain, writers[1].maxDeltaChain);
          for (const [i, w] of written.entries()) {
            const where = `${kind} value ${i} of ${written.length}`;
            if (w.pruned) {
              expect(await reader.getTuple(w.config), `${where}: pruned`).toBeUndefined();
              exactStats.prunedAway += 1;
              continue;
            }
            const [type, bytes] = await serde.dumpsTyped(w.value);
            const expected = Buffer.from(bytes);
            // The version's text as stored (what the reader joins on).
            const version = String(w.version);
            const { stored, known, hops } = await rebuiltBytes(reader, thread, version);
            expect(hops, `${where}: deltas in its chain`).toBeLessThanOrEqual(longest);
            exactStats.longestChain = Math.max(exactStats.longestChain, hops);
            expect(known.type, where).toBe(type);
            expect(Buffer.from(known.bytes).equals(expected), `${where}: rebuilt bytes (${known.bytes.byteLength} vs ${expected.byteLength}) from a ${stored.type} row`).toBe(true);
            const delta = /\+delta:(\d+):([0-9a-f]{8}):/.exec(stored.type);
            if (delta) {
              expect(Number.parseInt(delta[2]!, 16), `${where}: checksum in ${stored.type}`).toBe(crc32(expected));
              expect(Number(delta[1]), where).toBeLessThanOrEqual(expected.byteLength);
              exactStats.deltas += 1;
              if ((stored.blob?.byteLength ?? -1) === 0) exactStats.emptyDeltas += 1;
              if (/\+(br|gzip|deflate)$/.test(stored.type)) exactStats.compressedDeltas += 1;
              if (kind === "bytes") exactStats.bytesDeltas += 1;
              else if (kind === "text") exactStats.textDeltas += 1;
              else exactStats.recordDeltas += 1;
            }
            // getTuple (the chain walked in SQL) returns the value itself.
            const tuple = await reader.getTuple(w.config);
            const read = tuple?.checkpoint.channel_values.doc;
            expect(read, where).toEqual(w.value);
            const [readType, readBytes] = await serde.dumpsTyped(read);
            expect(readType, where).toBe(type);
            expect(Buffer.from(readBytes).equals(expected), `${where}: getTuple value serializes to other bytes`).toBe(true);
            // exportThread rebuilds deltas on its own path, and writes every value whole.
            const blob = exported.blobs.find((b) => b.channel === "doc" && b.version === version);
            expect(blob?.type, where).toBe(type);
            expect(Buffer.from(blob!.data!, "base64").equals(expected), `${where}: exported bytes`).toBe(true);
            exactStats.values += 1;
          }
          exactStats.runs += 1;
        } finally {
          for (const saver of [...savers, reader]) await endSaver(saver);
        }
      }),
      fcParameters(runsOr(30)),
    );
    console.info("exact bytes:", JSON.stringify(exactStats));
    for (const [name, count] of Object.entries(exactStats)) expect(count, name).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------
// Failures the properties above found (fixed), kept as small deterministic tests.
// ---------------------------------------------------------------------------

describe("found while breaking deltas", () => {
  /**
   * Found and fixed (src/codec/encode.ts, Encoder.blobs):
   * for a Uint8Array value, `JsonPlusSerializer.dumpsTyped` returns the
   * caller's own array as the "serialized bytes", and the encoder keeps that
   * very array in the saver's delta cache as the base of the next version.
   * If the application then changes the array in place (a node that updates
   * a binary state value and returns the same array), the cached base
   * changes with it while the stored row does not, so the next put computes
   * its delta against bytes that were never stored: that checkpoint is
   * written, but every read of it fails its checksum (SerializationError)
   * and the thread can no longer be resumed. MemorySaver and the official
   * saver serialize at put time, so in-place changes after put never affect
   * what they stored. Fix: the encoder copies bytes that share the value's
   * memory before storing them or keeping them as a base.
   */
  it("a Uint8Array channel value changed in place after put() leaves the next checkpoint readable", async () => {
    const saver = await newSaver("aliasing", { maxDeltaChain: 32, deltaCacheBytes: undefined, thresholdBytes: 1024, codec: "br" });
    const thread = { configurable: { thread_id: "bytes-in-place", checkpoint_ns: "" } };
    const buffer = new Uint8Array(1000).fill(7);
    const put = async (parent: RunnableConfig, version: number, step: number) => {
      const checkpoint: Checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { doc: buffer }, channel_versions: { doc: version } };
      return saver.put(parent, checkpoint, { source: "loop", step, parents: {} }, { doc: version });
    };
    const first = await put(thread, 1.5, 1);
    buffer[999] = 8; // the application updates its state in place, then checkpoints it again
    const second = await put(first, 2.5, 2);
    expect(Array.from((await saver.getTuple(first))!.checkpoint.channel_values.doc as Uint8Array).slice(-2)).toEqual([7, 7]);
    const latest = await saver.getTuple(second);
    expect(Array.from(latest!.checkpoint.channel_values.doc as Uint8Array).slice(-2)).toEqual([7, 8]);
  });

  /** The same bug from a compiled graph: a node that updates a binary state value in place, checkpointed with durability "sync". */
  it("a graph whose node changes a Uint8Array state value in place reads back as with the official saver and deltaCacheBytes: 0", async () => {
    const Binary = Annotation.Root({ buf: Annotation<Uint8Array>(), n: Annotation<number>() });
    const graph = (checkpointer: BaseCheckpointSaver) =>
      new StateGraph(Binary)
        .addNode("grow", (s: typeof Binary.State) => {
          s.buf[s.n] = 1;
          return { buf: s.buf, n: s.n + 1 };
        })
        .addEdge(START, "grow")
        .addConditionalEdges("grow", (s: typeof Binary.State) => (s.n < 3 ? "grow" : END), ["grow", END])
        .compile({ checkpointer });
    const run = async (checkpointer: BaseCheckpointSaver) => {
      const thread = { configurable: { thread_id: "binary-in-place" } };
      await graph(checkpointer).invoke({ buf: new Uint8Array(2000), n: 0 }, { ...thread, durability: "sync" });
      const states = await collect(graph(checkpointer).getStateHistory(thread));
      return states.map((s) => (s.values.buf === undefined ? null : Array.from(s.values.buf.slice(0, 4)).join("")));
    };
    const official = OfficialSaver.fromConnString(db.url(), { schema: "in_place_official" });
    try {
      await official.setup();
      expect(await run(official as unknown as BaseCheckpointSaver)).toEqual(["1110", "1100", "1000", "0000", null]);
    } finally {
      await official.end();
    }
    const withoutDeltas = await newSaver("in_place_plain", { maxDeltaChain: 32, deltaCacheBytes: 0, thresholdBytes: 1024, codec: "br" });
    expect(await run(withoutDeltas)).toEqual(["1110", "1100", "1000", "0000", null]);
    const withDeltas = await newSaver("in_place", { maxDeltaChain: 32, deltaCacheBytes: undefined, thresholdBytes: 1024, codec: "br" });
    expect(await run(withDeltas)).toEqual(["1110", "1100", "1000", "0000", null]);
  });

  /**
   * Found and fixed (src/saver.ts put → DeltaCache.remember; src/sql/checkpoints.ts):
   * value rows are inserted with ON CONFLICT DO NOTHING, so when a
   * (channel, version) row already exists with other content, the row keeps
   * the old content, yet put remembers the bytes it tried to store as the
   * base for that version. Versions repeat with other content whenever a
   * caller uses integer versions (BaseCheckpointSaver.getNextVersion, as a
   * wrapping checkpointer would) and forks: the second branch reuses the
   * first one's version numbers. The official saver and this one with
   * `compaction: { deltas: false }` then return the first branch's value for
   * the fork's own checkpoint (their known stale read) but the next
   * checkpoint correctly; with deltas, the next checkpoint is stored as a
   * delta against bytes that were never stored, and every read of it fails
   * its checksum. Fix: the statement returns the channels whose rows it
   * inserted, and put remembers only those.
   */
  it("after a put whose value row already existed with other content, the next checkpoint is readable", async () => {
    const saver = await newSaver("collision", { maxDeltaChain: 32, deltaCacheBytes: undefined, thresholdBytes: 1024, codec: "br" });
    const log = (n: number) => Array.from({ length: n }, (_, i) => sentence(i, 20));
    const put = (parent: RunnableConfig, value: string[], version: number) => {
      const checkpoint: Checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { log: value }, channel_versions: { log: version } };
      return saver.put(parent, checkpoint, { source: "loop", step: version, parents: {} }, { log: version });
    };
    const first = await put({ configurable: { thread_id: "integer-versions", checkpoint_ns: "" } }, log(10), 1);
    await put(first, log(11), 2); // branch A: version 2
    const fork = await put(first, [...log(10), "fork"], 2); // branch B: version 2 again, other content
    const next = await put(fork, [...log(10), "fork", "more"], 3);
    const tuple = await saver.getTuple(next);
    expect((tuple!.checkpoint.channel_values.log as string[]).slice(10)).toEqual(["fork", "more"]);
  });
});
