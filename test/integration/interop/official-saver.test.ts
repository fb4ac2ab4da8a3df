import {
  AIMessage,
  type BaseMessage,
  HumanMessage,
  ToolMessage,
  isBaseMessage,
} from "@langchain/core/messages";
import {
  Annotation,
  type BaseCheckpointSaver,
  Command,
  DeltaChannel,
  END,
  type Interrupt,
  MemorySaver,
  type Messages,
  MessagesAnnotation,
  START,
  type StateSnapshot,
  StateGraph,
  interrupt,
  messagesDeltaReducer,
} from "@langchain/langgraph";
import type { CheckpointPendingWrite, CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresSaver } from "../../../src/index.js";
import { type Target, createDatabase, dropDatabase, targets, useTestDatabase } from "../../support/database.js";

/**
 * Two-way compatibility with the official `@langchain/langgraph-checkpoint-postgres`
 * saver on the same database, driven by a real compiled LangGraph graph: a
 * deterministic tool-calling loop over messages state with a human approval
 * `interrupt()` before every tool round, resumed with `Command({ resume })`.
 *
 * Every run is compared with the same run on LangGraph's `MemorySaver`: node
 * executions, interrupt payloads, final state and the whole state history.
 * The graph is run twice over: once with the usual messages reducer
 * (`MessagesAnnotation`, full value in `checkpoint_blobs`) and once with a
 * `DeltaChannel` for messages, whose value is rebuilt from stored writes via
 * `getDeltaChannelHistory`, so each saver also has to replay writes the other
 * one stored.
 */

// ---------------------------------------------------------------------------
// The graph
// ---------------------------------------------------------------------------

interface Decision {
  approved: boolean;
  factor: number;
}

interface ApprovalRequest {
  question: string;
  round: number;
  calls: string[];
}

/** What the human answers at the first and the second approval. */
const DECISIONS: readonly Decision[] = [
  { approved: true, factor: 2 },
  { approved: true, factor: 3 },
];

/** round 1: add(2,3)·2 = 10, multiply(4,5)·2 = 40; round 2: add(10+40, 1)·3 = 153. */
const EXPECTED_ANSWER = "The answer is 153";

type Variant = "reducer" | "delta";

const extraChannels = {
  auditTrail: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  decisions: Annotation<Decision[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
};

const ReducerState = Annotation.Root({ ...MessagesAnnotation.spec, ...extraChannels });
const DeltaState = Annotation.Root({
  messages: () => new DeltaChannel<BaseMessage[], Messages>(messagesDeltaReducer, { snapshotFrequency: 3 }),
  ...extraChannels,
});

/** The state every node sees, whichever channel holds the messages. */
interface GraphState {
  messages: BaseMessage[];
  auditTrail: string[];
  decisions: Decision[];
}

function toolRounds(messages: BaseMessage[]): AIMessage[] {
  return messages.filter((m): m is AIMessage => AIMessage.isInstance(m) && (m.tool_calls?.length ?? 0) > 0);
}

function lastToolRequest(messages: BaseMessage[]): AIMessage {
  const last = messages.at(-1);
  if (last === undefined || !AIMessage.isInstance(last) || (last.tool_calls?.length ?? 0) === 0) {
    throw new Error(`expected the last message to be an AIMessage with tool calls, got ${last?.getType()}`);
  }
  return last;
}

/**
 * A stand-in for a model: decides from the conversation alone. Round 1 asks
 * for two tools, round 2 asks for one whose argument is computed from the
 * round 1 results, then it answers with the last result.
 */
function agent(state: GraphState, log: string[]): { messages: BaseMessage[] } {
  const round = toolRounds(state.messages).length + 1;
  log.push(`agent:${round}`);
  const results = state.messages.filter((m) => ToolMessage.isInstance(m)).map((m) => Number(m.content));
  if (round === 1) {
    return {
      messages: [
        new AIMessage({
          id: "ai-1",
          content: "",
          tool_calls: [
            { id: "call-1a", name: "add", args: { a: 2, b: 3 }, type: "tool_call" },
            { id: "call-1b", name: "multiply", args: { a: 4, b: 5 }, type: "tool_call" },
          ],
        }),
      ],
    };
  }
  if (round === 2) {
    const sum = results.reduce((a, b) => a + b, 0);
    return {
      messages: [
        new AIMessage({
          id: "ai-2",
          content: "one more step",
          tool_calls: [{ id: "call-2a", name: "add", args: { a: sum, b: 1 }, type: "tool_call" }],
        }),
      ],
    };
  }
  return { messages: [new AIMessage({ id: `ai-${round}`, content: `The answer is ${results.at(-1)}` })] };
}

function approval(state: GraphState, log: string[]): { decisions: Decision[] } {
  const request = lastToolRequest(state.messages);
  const round = toolRounds(state.messages).length;
  log.push(`approval:${round}:start`);
  const decision = interrupt<ApprovalRequest, Decision>({
    question: "run these tools?",
    round,
    calls: (request.tool_calls ?? []).map((c) => c.name),
  });
  log.push(`approval:${round}:resumed:${JSON.stringify(decision)}`);
  return { decisions: [decision] };
}

/** Runs in the same superstep as `approval`, so its writes are pending when approval interrupts. */
function audit(state: GraphState, log: string[]): { auditTrail: string[] } {
  const request = lastToolRequest(state.messages);
  const round = toolRounds(state.messages).length;
  log.push(`audit:${round}`);
  return { auditTrail: [`round ${round}: ${(request.tool_calls ?? []).map((c) => c.name).join("+")}`] };
}

function tools(state: GraphState, log: string[]): { messages: BaseMessage[] } {
  const request = lastToolRequest(state.messages);
  const decision = state.decisions.at(-1);
  if (decision === undefined) throw new Error("tools ran without a decision");
  log.push(`tools:${toolRounds(state.messages).length}`);
  return {
    messages: (request.tool_calls ?? []).map((call) => {
      const { a, b } = call.args as { a: number; b: number };
      const raw = call.name === "add" ? a + b : a * b;
      return new ToolMessage({
        id: `result-${call.id}`,
        tool_call_id: call.id ?? "",
        name: call.name,
        content: decision.approved ? String(raw * decision.factor) : "rejected",
      });
    }),
  };
}

function route(state: GraphState): Array<"approval" | "audit"> | typeof END {
  const last = state.messages.at(-1);
  return last !== undefined && AIMessage.isInstance(last) && (last.tool_calls?.length ?? 0) > 0
    ? ["approval", "audit"]
    : END;
}

/** Node executions are appended to `log`, so re-executed nodes show up. */
function compile(variant: Variant, checkpointer: BaseCheckpointSaver, log: string[]) {
  // Both state definitions hand the nodes the same GraphState; only the messages channel differs.
  const schema = variant === "reducer" ? ReducerState : (DeltaState as unknown as typeof ReducerState);
  const builder = new StateGraph(schema)
    .addNode("agent", (s: GraphState) => agent(s, log))
    .addNode("approval", (s: GraphState) => approval(s, log))
    .addNode("audit", (s: GraphState) => audit(s, log))
    .addNode("tools", (s: GraphState) => tools(s, log))
    .addEdge(START, "agent")
    .addConditionalEdges("agent", route, ["approval", "audit", END])
    .addEdge(["approval", "audit"], "tools")
    .addEdge("tools", "agent");
  return builder.compile({ checkpointer });
}

// ---------------------------------------------------------------------------
// Running a thread step by step, possibly switching savers between steps
// ---------------------------------------------------------------------------

/** Step 0 starts the thread; steps 1 and 2 answer the two approvals. */
const STEP_COUNT = 3;

type GraphInput = Parameters<ReturnType<typeof compile>["invoke"]>[0];

function stepInput(step: number): GraphInput {
  return step === 0
    ? { messages: [new HumanMessage({ id: "human-1", content: "compute it, please" })] }
    : (new Command({ resume: DECISIONS[step - 1] }) as GraphInput);
}

interface ThreadRun {
  /** Interrupt payloads returned by steps 0 and 1. */
  interrupts: unknown[];
  final: GraphState;
  /** Node executions over all steps. */
  log: string[];
  /** Checkpoint ids each step added to the thread, in step order. */
  idsByStep: string[][];
  /** `graph.getState` after each step, through the saver that ran the step. */
  states: SnapshotDescription[];
}

interface RunOptions {
  /** Runs before each step: switching savers may need a migration or checks in between. */
  beforeStep?: (step: number) => Promise<void>;
  /** Savers that must report the same `getState` as the step's saver after that step. */
  observers?: (step: number) => BaseCheckpointSaver[];
}

/** Runs the three steps of the scenario on one thread, step `i` with `savers[i]`. */
async function runThread(
  variant: Variant,
  savers: BaseCheckpointSaver[],
  threadId: string,
  options: RunOptions = {},
): Promise<ThreadRun> {
  expect(savers).toHaveLength(STEP_COUNT);
  const run: ThreadRun = { interrupts: [], final: undefined as unknown as GraphState, log: [], idsByStep: [], states: [] };
  const config = { configurable: { thread_id: threadId } };
  const seen = new Set<string>();
  for (let step = 0; step < STEP_COUNT; step += 1) {
    await options.beforeStep?.(step);
    const saver = savers[step]!;
    const result = (await compile(variant, saver, run.log).invoke(stepInput(step), config)) as GraphState & {
      __interrupt__?: Interrupt[];
    };
    const pending = result.__interrupt__ ?? [];
    if (step < STEP_COUNT - 1) {
      expect(pending, `step ${step} should stop at an approval`).toHaveLength(1);
      run.interrupts.push(pending[0]!.value);
    } else {
      expect(pending, "the last step should run to the end").toHaveLength(0);
      run.final = result;
    }
    const ids = (await checkpointIds(saver, threadId)).filter((id) => !seen.has(id));
    ids.forEach((id) => seen.add(id));
    run.idsByStep.push(ids);
    const state = await stateVia(variant, saver, threadId);
    for (const observer of options.observers?.(step) ?? []) {
      expect(await stateVia(variant, observer, threadId), `getState after step ${step}`).toEqual(state);
    }
    run.states.push(state);
  }
  return run;
}

/** The run matches the reference run step by step: what was asked, what ran, what each step left, the end state. */
function expectSameRun(run: ThreadRun, reference: ThreadRun): void {
  expect(run.interrupts).toEqual(reference.interrupts);
  expect(run.log).toEqual(reference.log);
  expect(run.states).toEqual(reference.states);
  expect(run.idsByStep.map((ids) => ids.length)).toEqual(reference.idsByStep.map((ids) => ids.length));
  expectSameFinalState(run.final, reference.final);
}

async function stateVia(variant: Variant, saver: BaseCheckpointSaver, threadId: string): Promise<SnapshotDescription> {
  return describeSnapshot(await compile(variant, saver, []).getState({ configurable: { thread_id: threadId } }));
}

async function checkpointIds(saver: BaseCheckpointSaver, threadId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const tuple of saver.list({ configurable: { thread_id: threadId } })) {
    ids.push(tuple.config.configurable!.checkpoint_id as string);
  }
  return ids;
}

async function history(variant: Variant, saver: BaseCheckpointSaver, threadId: string): Promise<StateSnapshot[]> {
  const snapshots: StateSnapshot[] = [];
  for await (const s of compile(variant, saver, []).getStateHistory({ configurable: { thread_id: threadId } })) {
    snapshots.push(s);
  }
  return snapshots;
}

// ---------------------------------------------------------------------------
// Comparing runs
// ---------------------------------------------------------------------------

/** A message as plain data: everything the graph depends on, nothing random. */
function describeMessage(m: BaseMessage) {
  return {
    type: m.getType(),
    id: m.id,
    content: m.content,
    name: m.name,
    ...(AIMessage.isInstance(m) ? { tool_calls: m.tool_calls } : {}),
    ...(ToolMessage.isInstance(m) ? { tool_call_id: m.tool_call_id } : {}),
  };
}

/** Values with every message replaced by `describeMessage`. */
function plain(value: unknown): unknown {
  if (isBaseMessage(value)) return describeMessage(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

type SnapshotDescription = ReturnType<typeof describeSnapshot>;

function describeSnapshot(s: StateSnapshot) {
  return {
    step: s.metadata?.step,
    source: s.metadata?.source,
    next: [...s.next].sort(),
    values: plain(s.values),
    hasParent: s.parentConfig !== undefined,
    tasks: [...s.tasks]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((t) => ({
        name: t.name,
        interrupts: t.interrupts.map((i) => i.value),
        result: plain(t.result),
        error: t.error === undefined ? undefined : String(t.error),
      })),
  };
}

const EXPECTED_CLASSES = [HumanMessage, AIMessage, ToolMessage, ToolMessage, AIMessage, ToolMessage, AIMessage];

/** The final state is the reference's, with real message classes, not plain objects. */
function expectSameFinalState(actual: GraphState, reference: GraphState): void {
  expect(plain(actual)).toEqual(plain(reference));
  expect(actual.messages).toHaveLength(EXPECTED_CLASSES.length);
  actual.messages.forEach((m, i) => expect(m).toBeInstanceOf(EXPECTED_CLASSES[i]!));
  expect(actual.messages.at(-1)!.content).toBe(EXPECTED_ANSWER);
}

/**
 * Pending writes as a multiset. The savers order them differently: the
 * official one by (task_id, idx), ours by (task_path, task_id, idx) as the
 * `BaseCheckpointSaver` contract asks, and the official saver stores no task
 * path, so even one task's writes can come back in another order when both
 * savers wrote some of them (an interrupt by one, the resumed writes by the other).
 */
function sortedWrites(writes: CheckpointPendingWrite[] | undefined): string[] {
  return (writes ?? []).map(([taskId, channel, value]) => JSON.stringify([taskId, channel, plain(value)])).sort();
}

/**
 * Both savers return the same tuples for every checkpoint of the thread,
 * whoever wrote them: same ids in the same order, same checkpoint document
 * and channel values (deeply, message classes included), same metadata,
 * same parent, same pending writes. Returns the number of checkpoints.
 */
async function expectSaversAgree(
  variant: Variant,
  ours: PostgresSaver,
  official: OfficialSaver,
  threadId: string,
): Promise<number> {
  const config = { configurable: { thread_id: threadId } };
  const fromOurs: CheckpointTuple[] = [];
  const fromOfficial: CheckpointTuple[] = [];
  for await (const t of ours.list(config)) fromOurs.push(t);
  for await (const t of official.list(config)) fromOfficial.push(t);
  expect(fromOurs.length).toBeGreaterThan(0);
  expect(fromOurs.map((t) => t.config)).toEqual(fromOfficial.map((t) => t.config));
  for (const [i, mine] of fromOurs.entries()) {
    const theirs = fromOfficial[i]!;
    const [got, gotOfficial] = await Promise.all([ours.getTuple(mine.config), official.getTuple(mine.config)]);
    for (const [a, b] of [[mine, theirs], [got!, gotOfficial!], [mine, got!]] as const) {
      expect(a.checkpoint).toStrictEqual(b.checkpoint);
      expect(a.metadata).toStrictEqual(b.metadata);
      expect(a.parentConfig).toEqual(b.parentConfig);
      expect(sortedWrites(a.pendingWrites)).toEqual(sortedWrites(b.pendingWrites));
    }
  }
  expectMessagesStorage(variant, fromOurs);
  return fromOurs.length;
}

/**
 * How the messages channel is stored, newest checkpoint first: the reducer
 * variant keeps the whole list in every checkpoint after the input one; the
 * delta variant stores an occasional snapshot and nothing in between, so
 * reading those checkpoints really goes through `getDeltaChannelHistory`.
 */
function expectMessagesStorage(variant: Variant, tuples: CheckpointTuple[]): void {
  const kinds = tuples.map(({ checkpoint: { channel_values: values } }) =>
    !("messages" in values) ? "none" : Array.isArray(values.messages) ? "list" : "snapshot",
  );
  if (variant === "reducer") {
    expect(kinds).toEqual([...Array<string>(tuples.length - 1).fill("list"), "none"]);
  } else {
    expect(kinds).not.toContain("list");
    expect(kinds).toContain("snapshot");
    expect(kinds.filter((k) => k === "none").length).toBeGreaterThan(1);
  }
}

/** History through `saver` matches the reference history snapshot for snapshot. */
async function expectSameHistory(
  variant: Variant,
  saver: BaseCheckpointSaver,
  threadId: string,
  reference: StateSnapshot[],
): Promise<StateSnapshot[]> {
  const snapshots = await history(variant, saver, threadId);
  expect(snapshots.map(describeSnapshot)).toEqual(reference.map(describeSnapshot));
  return snapshots;
}

function idsOf(snapshots: StateSnapshot[]): string[] {
  return snapshots.map((s) => s.config.configurable!.checkpoint_id as string);
}

// ---------------------------------------------------------------------------
// Database helpers
// ---------------------------------------------------------------------------

/**
 * Options for every saver of ours in this file: the official saver reads
 * what ours writes in every test, and it cannot read compacted rows (type
 * `json+br`, ours by default for blobs of 1 KiB and more; the messages
 * channel here grows past that). `compaction: false` stores rows exactly as
 * the official saver does. test/integration/interop/compaction.test.ts covers
 * the default and mixed threads.
 */
const OFFICIAL_READABLE = { compaction: false } as const;

async function withClient<T>(url: string, f: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await f(client);
  } finally {
    await client.end();
  }
}

/** Everything `setup()` could change: recorded versions, columns, indexes, row counts. */
async function schemaState(url: string) {
  return withClient(url, async (c) => {
    const { rows } = await c.query(`
      SELECT (SELECT array_agg(v ORDER BY v) FROM public.checkpoint_migrations) AS versions,
             (SELECT json_agg(json_build_array(table_name, column_name, data_type, is_nullable, column_default)
                              ORDER BY table_name, column_name)
                FROM information_schema.columns WHERE table_schema = 'public') AS columns,
             (SELECT json_agg(indexdef ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
             (SELECT count(*)::int FROM public.checkpoints) AS checkpoints,
             (SELECT count(*)::int FROM public.checkpoint_blobs) AS blobs,
             (SELECT count(*)::int FROM public.checkpoint_writes) AS writes`);
    return rows[0] as {
      versions: number[];
      columns: Array<[string, string, string, string, string | null]>;
      indexes: string[];
      checkpoints: number;
      blobs: number;
      writes: number;
    };
  });
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * Ends a saver and waits until its connections are really gone. pg-pool's
 * `end()` resolves once it has *asked* its clients to close, so dropping the
 * database right away (`DROP DATABASE ... WITH (FORCE)`) can terminate a
 * backend whose client is still closing, and the resulting "terminating
 * connection due to administrator command" error reaches a pool that no
 * longer has an "error" listener: an uncaught exception.
 */
async function endFully(saver: PostgresSaver | OfficialSaver): Promise<void> {
  // Both savers made their pool in fromConnString (the official one declares the field private).
  const pool = (saver as unknown as { pool: pg.Pool }).pool;
  const open = pool.totalCount;
  let removed = 0;
  const gone = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on("remove", () => {
      removed += 1;
      if (removed === open) resolve();
    });
  });
  await saver.end();
  await gone;
}

/** A database of its own, dropped afterwards, with every saver opened on it closed first. */
async function withFreshDatabase(
  target: Target,
  f: (url: string, open: { ours(): PostgresSaver; official(): OfficialSaver }) => Promise<void>,
): Promise<void> {
  const { url, name } = await createDatabase();
  const savers: Array<PostgresSaver | OfficialSaver> = [];
  try {
    await f(url, {
      ours: () => {
        const s = PostgresSaver.fromConnString(target.url(url), OFFICIAL_READABLE);
        savers.push(s);
        return s;
      },
      official: () => {
        const s = OfficialSaver.fromConnString(target.url(url));
        savers.push(s);
        return s;
      },
    });
  } finally {
    for (const s of savers) await endFully(s);
    await dropDatabase(name);
  }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

// Every case runs directly and, when PgBouncer is available, through PgBouncer in transaction mode.
const cases = targets().flatMap((target) => (["reducer", "delta"] as Variant[]).map((variant) => ({ variant, target })));

describe.each(cases)("interop with the official saver ($variant messages channel, $target.name)", ({ variant, target }) => {
  const db = useTestDatabase();
  let reference: ThreadRun;
  let referenceHistory: StateSnapshot[];
  let sharedOurs: PostgresSaver | undefined;
  let sharedOfficial: OfficialSaver | undefined;

  /** Savers on the file's database, whose schema the official saver created and ours then migrated. */
  const shared = () => ({ ours: sharedOurs!, official: sharedOfficial! });

  beforeAll(async () => {
    const memory = new MemorySaver();
    reference = await runThread(variant, [memory, memory, memory], "reference");
    referenceHistory = await history(variant, memory, "reference");
    sharedOfficial = OfficialSaver.fromConnString(target.url(db.url()));
    await sharedOfficial.setup();
    sharedOurs = PostgresSaver.fromConnString(target.url(db.url()), OFFICIAL_READABLE);
    await sharedOurs.setup();
  });

  afterAll(async () => {
    if (sharedOurs) await endFully(sharedOurs);
    if (sharedOfficial) await endFully(sharedOfficial);
  });

  it("the reference run on MemorySaver is the scenario these tests expect", () => {
    expect(reference.interrupts).toEqual([
      { question: "run these tools?", round: 1, calls: ["add", "multiply"] },
      { question: "run these tools?", round: 2, calls: ["add"] },
    ]);
    // approval runs again on resume; audit, having completed, does not.
    expect(reference.log).toEqual([
      "agent:1",
      "approval:1:start",
      "audit:1",
      "approval:1:start",
      `approval:1:resumed:${JSON.stringify(DECISIONS[0])}`,
      "tools:1",
      "agent:2",
      "approval:2:start",
      "audit:2",
      "approval:2:start",
      `approval:2:resumed:${JSON.stringify(DECISIONS[1])}`,
      "tools:2",
      "agent:3",
    ]);
    expect(plain(reference.final.messages)).toEqual([
      { type: "human", id: "human-1", content: "compute it, please", name: undefined },
      {
        type: "ai",
        id: "ai-1",
        content: "",
        name: undefined,
        tool_calls: [
          { id: "call-1a", name: "add", args: { a: 2, b: 3 }, type: "tool_call" },
          { id: "call-1b", name: "multiply", args: { a: 4, b: 5 }, type: "tool_call" },
        ],
      },
      { type: "tool", id: "result-call-1a", content: "10", name: "add", tool_call_id: "call-1a" },
      { type: "tool", id: "result-call-1b", content: "40", name: "multiply", tool_call_id: "call-1b" },
      {
        type: "ai",
        id: "ai-2",
        content: "one more step",
        name: undefined,
        tool_calls: [{ id: "call-2a", name: "add", args: { a: 50, b: 1 }, type: "tool_call" }],
      },
      { type: "tool", id: "result-call-2a", content: "153", name: "add", tool_call_id: "call-2a" },
      { type: "ai", id: "ai-3", content: EXPECTED_ANSWER, name: undefined, tool_calls: [] },
    ]);
    expect(reference.final.auditTrail).toEqual(["round 1: add+multiply", "round 2: add"]);
    expect(reference.final.decisions).toEqual(DECISIONS);
    // While approval waits, audit's write is pending: getState already shows it and only approval is left.
    expect(reference.states[0]!.next).toEqual(["approval"]);
    expect(reference.states[0]!.values).toMatchObject({ auditTrail: ["round 1: add+multiply"], decisions: [] });
    expect(reference.states[2]!.next).toEqual([]);
    // input, 0 agent, 1 approval+audit, 2 tools, 3 agent, 4 approval+audit, 5 tools, 6 agent, 7 done.
    expect(referenceHistory.map((s) => s.metadata?.step)).toEqual([7, 6, 5, 4, 3, 2, 1, 0, -1]);
  });

  it("official saver runs to the interrupt, ours migrates the schema, resumes the thread and finishes it", async () => {
    await withFreshDatabase(target, async (url, open) => {
      const official = open.official();
      const ours = open.ours();
      let officialIds: string[] = [];
      const run = await runThread(variant, [official, ours, ours], "t1", {
        observers: (step) => (step === 0 ? [] : [official]),
        async beforeStep(step) {
          if (step === 0) {
            await official.setup();
            expect((await schemaState(url)).versions).toEqual(range(0, 4));
          }
          if (step === 1) {
            officialIds = await checkpointIds(official, "t1");
            expect(officialIds).toHaveLength(reference.idsByStep[0]!.length);
            // Upgrading a database that already holds the official saver's data.
            await ours.setup();
            const migrated = await schemaState(url);
            expect(migrated.versions).toEqual(range(0, 9));
            expect(migrated.columns).toContainEqual(["checkpoint_writes", "task_path", "text", "NO", "''::text"]);
            expect(migrated.indexes.filter((d) => d.includes("_thread_id_idx ON"))).toHaveLength(3);
            expect(migrated.checkpoints).toBe(officialIds.length);
            // Ours sees the thread exactly where the official saver left it: pending approval, audit's write.
            expect(await stateVia(variant, ours, "t1")).toEqual(reference.states[0]);
          }
        },
      });
      // Among other things: audit ran once per round, so ours used the write the
      // official saver stored while approval was interrupted instead of re-running it.
      expectSameRun(run, reference);

      const snapshots = await expectSameHistory(variant, ours, "t1", referenceHistory);
      expect(idsOf(snapshots)).toEqual(expect.arrayContaining(officialIds));
      expect(idsOf(snapshots).slice(-officialIds.length)).toEqual(officialIds);
      // The official saver can still read the whole thread, including what ours wrote.
      await expectSameHistory(variant, official, "t1", referenceHistory);
      expect(await expectSaversAgree(variant, ours, official, "t1")).toBe(referenceHistory.length);
    });
  });

  it("ours creates the schema and runs to the interrupt; the official saver's setup() changes nothing and it finishes the thread", async () => {
    await withFreshDatabase(target, async (url, open) => {
      const ours = open.ours();
      const official = open.official();
      let ourIds: string[] = [];
      const run = await runThread(variant, [ours, official, official], "t2", {
        observers: (step) => (step === 0 ? [] : [ours]),
        async beforeStep(step) {
          if (step === 0) {
            await ours.setup();
            expect((await schemaState(url)).versions).toEqual(range(0, 9));
          }
          if (step === 1) {
            ourIds = await checkpointIds(ours, "t2");
            const before = await schemaState(url);
            expect(before.checkpoints).toBe(ourIds.length);
            await official.setup();
            expect(await schemaState(url)).toEqual(before);

            // The official saver reads the checkpoint ours wrote exactly as ours does...
            const latest = { configurable: { thread_id: "t2" } };
            const [mine, theirs] = await Promise.all([ours.getTuple(latest), official.getTuple(latest)]);
            expect(mine).toBeDefined();
            expect(theirs).toBeDefined();
            expect(theirs!.config).toEqual(mine!.config);
            expect(theirs!.checkpoint.channel_values).toStrictEqual(mine!.checkpoint.channel_values);
            expect(theirs!.checkpoint).toStrictEqual(mine!.checkpoint);
            expect(theirs!.metadata).toStrictEqual(mine!.metadata);
            expect(theirs!.parentConfig).toEqual(mine!.parentConfig);
            expect(sortedWrites(theirs!.pendingWrites)).toEqual(sortedWrites(mine!.pendingWrites));
            // ... and that checkpoint carries the interrupt and audit's completed write.
            expect((mine!.pendingWrites ?? []).map(([, channel]) => channel)).toEqual(
              expect.arrayContaining(["__interrupt__", "auditTrail"]),
            );
            expect(await stateVia(variant, official, "t2")).toEqual(reference.states[0]);
          }
        },
      });
      expectSameRun(run, reference);

      const snapshots = await expectSameHistory(variant, official, "t2", referenceHistory);
      expect(idsOf(snapshots).slice(-ourIds.length)).toEqual(ourIds);
      await expectSameHistory(variant, ours, "t2", referenceHistory);
      expect(await expectSaversAgree(variant, ours, official, "t2")).toBe(referenceHistory.length);
    });
  });

  it.each([
    ["official, ours, official", ["official", "ours", "official"]],
    ["ours, official, ours", ["ours", "official", "ours"]],
  ] as const)("both savers take turns on one thread (%s)", async (label, order) => {
    const { ours, official } = shared();
    const threadId = `interleaved ${label}`;
    const savers = order.map((who) => (who === "ours" ? ours : official));
    const run = await runThread(variant, savers, threadId, { observers: () => [ours, official] });
    expectSameRun(run, reference);
    for (const saver of [ours, official]) {
      const snapshots = await expectSameHistory(variant, saver, threadId, referenceHistory);
      expect(idsOf(snapshots).sort()).toEqual(run.idsByStep.flat().sort());
    }
    expect(await expectSaversAgree(variant, ours, official, threadId)).toBe(referenceHistory.length);
  });

  it("deleteThread of either saver removes a thread the other one wrote", async () => {
    const { ours, official } = shared();
    const byOfficial = await runThread(variant, [official, official, official], "written by official");
    const byOurs = await runThread(variant, [ours, ours, ours], "written by ours");
    expectSameRun(byOfficial, reference);
    expectSameRun(byOurs, reference);
    await ours.deleteThread("written by official");
    await official.deleteThread("written by ours");
    const counts = await withClient(db.url(), async (c) => {
      const { rows } = await c.query<{ thread_id: string; n: number }>(
        `SELECT thread_id, count(*)::int AS n FROM (
           SELECT thread_id FROM checkpoints UNION ALL SELECT thread_id FROM checkpoint_blobs
           UNION ALL SELECT thread_id FROM checkpoint_writes) t
         WHERE thread_id IN ('written by official', 'written by ours') GROUP BY thread_id`,
      );
      return rows;
    });
    expect(counts).toEqual([]);
    for (const thread of ["written by official", "written by ours"]) {
      expect(await ours.getTuple({ configurable: { thread_id: thread } })).toBeUndefined();
      expect(await official.getTuple({ configurable: { thread_id: thread } })).toBeUndefined();
    }
  });
});
