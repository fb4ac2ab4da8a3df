import { HumanMessage, isBaseMessage } from "@langchain/core/messages";
import { GraphRecursionError } from "@langchain/langgraph";
import {
  type BaseCheckpointSaver,
  type CheckpointTuple,
  DeltaSnapshot,
  JsonPlusSerializer,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import type { ThreadExport } from "../../src/index.js";
import {
  type Log,
  approve,
  deltaGraph,
  deltaGraphStart,
  failingGraph,
  plain,
  subgraphGraph,
  subgraphGraphStart,
  toolGraph,
  toolGraphStart,
} from "./graphs.js";

/**
 * What the export/import tests compare: a thread as every tuple `list()`
 * gives over all its namespaces, in a form `toStrictEqual` can judge.
 * Messages are reduced with `plain()`; every other class keeps its name, and
 * an own `undefined` stays distinct from a missing key.
 */

export interface TupleView {
  config: unknown;
  parentConfig: unknown;
  checkpoint: { channel_values: Record<string, unknown>; channel_versions: Record<string, unknown> } & Record<string, unknown>;
  metadata: unknown;
  pendingWrites: unknown;
}

/** Every checkpoint of the thread (all namespaces), oldest first within each namespace, namespaces in code point order. */
export async function threadTuples(saver: BaseCheckpointSaver, threadId: string): Promise<CheckpointTuple[]> {
  const tuples: CheckpointTuple[] = [];
  for await (const tuple of saver.list({ configurable: { thread_id: threadId } })) tuples.push(tuple);
  const key = (t: CheckpointTuple) => [t.config.configurable!.checkpoint_ns as string, t.config.configurable!.checkpoint_id as string];
  return tuples.sort((a, b) => {
    const [nsA, idA] = key(a);
    const [nsB, idB] = key(b);
    return nsA! < nsB! ? -1 : nsA! > nsB! ? 1 : idA! < idB! ? -1 : idA! > idB! ? 1 : 0;
  });
}

export async function threadView(saver: BaseCheckpointSaver, threadId: string): Promise<TupleView[]> {
  return (await threadTuples(saver, threadId)).map(view);
}

export function view(tuple: CheckpointTuple): TupleView {
  return {
    config: canon(tuple.config),
    parentConfig: canon(tuple.parentConfig),
    checkpoint: canon(tuple.checkpoint) as TupleView["checkpoint"],
    metadata: canon(tuple.metadata),
    pendingWrites: canon(tuple.pendingWrites),
  };
}

export function canon(value: unknown): unknown {
  if (value === undefined) return { $undefined: true };
  if (isBaseMessage(value)) return { $message: plain(value) };
  if (value instanceof DeltaSnapshot) return { $DeltaSnapshot: canon(value.value) };
  if (value instanceof Uint8Array) return { $bytes: [...value] };
  if (value instanceof Map) return { $Map: [...value].map(canon) };
  if (value instanceof Set) return { $Set: [...value].map(canon) };
  if (Array.isArray(value)) return value.map(canon);
  if (value !== null && typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    const entries = Object.entries(value).map(([k, v]) => [k, canon(v)]);
    const out = Object.fromEntries(entries);
    return proto === Object.prototype || proto === null ? out : { $class: proto.constructor?.name, ...out };
  }
  return value;
}

/**
 * A thread from the in-memory saver as a store of channel versions holds it
 * (PostgresSaver, or any saver reading an export document): a checkpoint's
 * values are its channels' values at the versions it names, and nothing else.
 * MemorySaver keeps each checkpoint's values whole, so it also holds values
 * of channels that have no version yet (reducer defaults) and lacks a delta
 * channel's snapshot on the checkpoints after the one that wrote it; neither
 * changes the state a graph reads, and neither can be stored per version.
 */
export function asVersionStore(views: TupleView[]): TupleView[] {
  const values = new Map<string, unknown>();
  const key = (v: TupleView, channel: string) =>
    JSON.stringify([(v.config as { configurable: { checkpoint_ns: string } }).configurable.checkpoint_ns, channel, String(v.checkpoint.channel_versions[channel])]);
  for (const v of views) {
    for (const channel of Object.keys(v.checkpoint.channel_versions)) {
      if (Object.hasOwn(v.checkpoint.channel_values, channel) && !values.has(key(v, channel))) {
        values.set(key(v, channel), v.checkpoint.channel_values[channel]);
      }
    }
  }
  return views.map((v) => ({
    ...v,
    checkpoint: {
      ...v.checkpoint,
      channel_values: Object.fromEntries(
        Object.keys(v.checkpoint.channel_versions).filter((ch) => values.has(key(v, ch))).map((ch) => [ch, values.get(key(v, ch))]),
      ),
    },
  }));
}

/** `getDeltaChannelHistory` at every checkpoint of the thread, for `channels`. */
export async function deltaHistories(saver: BaseCheckpointSaver, threadId: string, channels: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const tuple of await threadTuples(saver, threadId)) {
    out.push(canon(await saver.getDeltaChannelHistory({ config: tuple.config, channels })));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Real graph runs to move between savers
// ---------------------------------------------------------------------------

type Config = { configurable: { thread_id: string } };

export interface Scenario {
  name: string;
  /** DeltaChannels whose `getDeltaChannelHistory` must agree between copies. */
  deltaChannels: string[];
  /** Leaves the thread in the state to move (interrupted, failed, mid-way or finished). */
  start(saver: BaseCheckpointSaver, log: Log, config: Config): Promise<void>;
  /** Continues the thread to its end; returns the final state. */
  resume(saver: BaseCheckpointSaver, log: Log, config: Config): Promise<{ values: unknown; next: string[] }>;
  /** Work `start` stored, which a correct resume must not run again. */
  stored: Log;
}

async function finalState(graph: { getState(config: Config): Promise<{ values: unknown; next: string[] }> }, config: Config) {
  const state = await graph.getState(config);
  return { values: canon(state.values), next: state.next };
}

async function expectRecursionLimit(run: Promise<unknown>): Promise<void> {
  try {
    await run;
  } catch (error) {
    if (error instanceof GraphRecursionError) return;
    throw error;
  }
  throw new Error("expected the graph to stop at its recursion limit");
}

export const scenarios: Scenario[] = [
  {
    name: "toolGraph interrupted after its multi-tool step",
    deltaChannels: [],
    async start(saver, log, config) {
      await toolGraph(saver, log).invoke(toolGraphStart(), config);
    },
    async resume(saver, log, config) {
      const graph = toolGraph(saver, log);
      await graph.invoke(approve(), config);
      await graph.invoke(approve(), config);
      return finalState(graph, config);
    },
    stored: ["agent:1", "tool:call-add-1", "tool:call-mul-1", "tool:call-pow-1"],
  },
  {
    name: "deltaGraph finished",
    deltaChannels: ["messages", "notes"],
    async start(saver, log, config) {
      await deltaGraph(saver, log, 12).invoke(deltaGraphStart(), config);
    },
    async resume(saver, log, config) {
      // Two more turns on top of the twelve stored: the first one reads both delta channels back.
      const graph = deltaGraph(saver, log, 14);
      await graph.invoke({ messages: [new HumanMessage({ id: "human-2", content: "more" })] }, config);
      return finalState(graph, config);
    },
    stored: Array.from({ length: 12 }, (_, i) => `speak:${i + 1}`),
  },
  {
    name: "deltaGraph mid-way",
    deltaChannels: ["messages", "notes"],
    async start(saver, log, config) {
      await expectRecursionLimit(deltaGraph(saver, log, 12).invoke(deltaGraphStart(), { ...config, recursionLimit: 8 }));
    },
    async resume(saver, log, config) {
      const graph = deltaGraph(saver, log, 12);
      await graph.invoke(null, config);
      return finalState(graph, config);
    },
    stored: Array.from({ length: 8 }, (_, i) => `speak:${i + 1}`),
  },
  {
    name: "subgraphGraph interrupted inside the subgraph",
    deltaChannels: [],
    async start(saver, log, config) {
      await subgraphGraph(saver, log).invoke(subgraphGraphStart(), config);
    },
    async resume(saver, log, config) {
      const graph = subgraphGraph(saver, log);
      await graph.invoke(approve("ok"), config);
      return finalState(graph, config);
    },
    stored: ["prepare", "draft", "polish"],
  },
  {
    name: "failingGraph",
    deltaChannels: [],
    async start(saver, log, config) {
      await expectFailure(failingGraph(saver, log).invoke({ items: ["start"] }, config));
    },
    async resume(saver, log, config) {
      // Retrying runs the failed node again (and it fails again), never the one before it.
      const graph = failingGraph(saver, log);
      await expectFailure(graph.invoke(null, config));
      return finalState(graph, config);
    },
    stored: ["first"],
  },
];

async function expectFailure(run: Promise<unknown>): Promise<void> {
  try {
    await run;
  } catch (error) {
    if ((error as Error).message === "the tool server is down") return;
    throw error;
  }
  throw new Error("expected the graph to fail");
}

// ---------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------

/**
 * An export document with every value deserialized (and `exported_at`
 * dropped), so documents from different savers compare by what they hold
 * rather than by the serializer's byte layout.
 */
export async function documentView(doc: ThreadExport, serde: SerializerProtocol = new JsonPlusSerializer()): Promise<unknown> {
  const value = async (type: string, data: string | null) =>
    data === null ? null : canon(await serde.loadsTyped(type, new Uint8Array(Buffer.from(data, "base64"))));
  const { exported_at: _at, ...rest } = doc;
  return {
    ...rest,
    blobs: await Promise.all(doc.blobs.map(async ({ data, ...b }) => ({ ...b, value: await value(b.type, data) }))),
    writes: await Promise.all(doc.writes.map(async ({ data, ...w }) => ({ ...w, value: await value(w.type, data) }))),
  };
}
