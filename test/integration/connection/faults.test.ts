import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Annotation, type BaseCheckpointSaver, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import type { CheckpointMetadata } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CheckpointerUnavailableError,
  type Logger,
  PoolExhaustedError,
  PostgresSaver,
  type PostgresSaverOptions,
  SCHEMA_VERSION,
} from "../../../src/index.js";
import { createDatabase, dropDatabase, useTestDatabase } from "../../support/database.js";
import { type DedicatedServer, startDedicatedServer } from "../../support/dedicated-server.js";
import { checkpointWith, loopMetadata, threadId, versionsOf } from "../../support/fixtures.js";
import { type RunningBouncer, startPgBouncer } from "../../support/pgbouncer.js";

/**
 * Faults against real processes: backends killed with pg_terminate_backend,
 * the server crashed (`pg_ctl stop -m immediate`) and restarted, PgBouncer
 * restarted, the pool exhausted, the circuit breaker tripping while the
 * database is down, and 8 processes booting at once on an empty database.
 *
 * Each scenario drives a real compiled LangGraph graph and then checks the
 * one promise the saver makes under faults: every checkpoint whose `put()`
 * resolved (and every write whose `putWrites()` resolved) is still readable
 * afterwards, read back through a fresh saver on a fresh pool.
 *
 * Scenarios that stop the server run against a dedicated server of their
 * own, so the other test files sharing the global server are not disturbed.
 */

// ---------------------------------------------------------------------------
// The graph: plan → (fetch ‖ audit) → merge → finish, one superstep each
// ---------------------------------------------------------------------------

const State = Annotation.Root({
  visited: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  total: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
});
type GraphState = typeof State.State;
type NodeName = "plan" | "fetch" | "audit" | "merge" | "finish";

/** The superstep each node runs in: the checkpoint with that `metadata.step` records its completion. */
const SUPERSTEP: Record<NodeName, number> = { plan: 1, fetch: 2, audit: 2, merge: 3, finish: 4 };
const INPUT: GraphState = { visited: ["input"], total: 1 };

/**
 * `log` gets every node execution (re-executions show up); `onNode` runs
 * inside the node before it returns, which is where faults are injected.
 */
function buildGraph(
  checkpointer: BaseCheckpointSaver,
  log: string[],
  onNode: (node: NodeName) => Promise<void> | void = () => undefined,
) {
  const node = (name: NodeName, update: (s: GraphState) => Partial<GraphState>) => async (s: GraphState) => {
    log.push(name);
    await onNode(name);
    return { visited: [name], ...update(s) };
  };
  return new StateGraph(State)
    .addNode("plan", node("plan", (s) => ({ total: s.total + 1 })))
    .addNode("fetch", node("fetch", () => ({})))
    .addNode("audit", node("audit", () => ({})))
    .addNode("merge", node("merge", (s) => ({ total: s.total * 10 })))
    .addNode("finish", node("finish", (s) => ({ total: s.total + 3 })))
    .addEdge(START, "plan")
    .addEdge("plan", "fetch")
    .addEdge("plan", "audit")
    .addEdge(["fetch", "audit"], "merge")
    .addEdge("merge", "finish")
    .addEdge("finish", END)
    .compile({ checkpointer });
}
type Graph = ReturnType<typeof buildGraph>;

function configFor(thread: string) {
  return { configurable: { thread_id: thread } };
}

/** Re-invoking with no input resumes the thread from its latest checkpoint. */
function resume(graph: Graph, thread: string): Promise<GraphState> {
  return graph.invoke(null as unknown as GraphState, configFor(thread));
}

interface HistoryEntry {
  step: unknown;
  source: unknown;
  next: string[];
  values: unknown;
}

async function historyOf(graph: Graph, thread: string): Promise<HistoryEntry[]> {
  const entries: HistoryEntry[] = [];
  for await (const s of graph.getStateHistory(configFor(thread))) {
    entries.push({ step: s.metadata?.step, source: s.metadata?.source, next: [...s.next].sort(), values: s.values });
  }
  return entries;
}

interface Reference {
  final: GraphState;
  history: HistoryEntry[];
  /** Node executions, sorted (fetch and audit run concurrently). */
  log: string[];
}

let referenceRun: Promise<Reference> | undefined;

/** The same graph on LangGraph's MemorySaver with no fault: what every faulty run must end up with. */
function reference(): Promise<Reference> {
  referenceRun ??= (async () => {
    const log: string[] = [];
    const graph = buildGraph(new MemorySaver(), log);
    const final = await graph.invoke(INPUT, configFor("reference"));
    return { final, history: await historyOf(graph, "reference"), log: [...log].sort() };
  })();
  return referenceRun;
}

// ---------------------------------------------------------------------------
// What was acknowledged, and checking it is still there
// ---------------------------------------------------------------------------

interface CheckpointAck {
  thread: string;
  ns: string;
  id: string;
  step: number;
}

interface WritesAck {
  thread: string;
  ns: string;
  checkpointId: string;
  taskId: string;
  channels: string[];
}

interface Acks {
  checkpoints: CheckpointAck[];
  writes: WritesAck[];
}

/**
 * Wraps the saver's own `put` and `putWrites` (the real ones run) to record
 * what each resolved with: those are the acknowledgements LangGraph got.
 */
function recordAcks(saver: PostgresSaver): Acks {
  const acks: Acks = { checkpoints: [], writes: [] };
  const put = saver.put.bind(saver);
  const putWrites = saver.putWrites.bind(saver);
  saver.put = async (config, checkpoint, metadata: CheckpointMetadata, versions) => {
    const stored = await put(config, checkpoint, metadata, versions);
    const c = stored.configurable!;
    acks.checkpoints.push({
      thread: String(c.thread_id),
      ns: String(c.checkpoint_ns ?? ""),
      id: String(c.checkpoint_id),
      step: metadata.step,
    });
    return stored;
  };
  saver.putWrites = async (config, writes, taskId, taskPath) => {
    await putWrites(config, writes, taskId, taskPath);
    const c = config.configurable!;
    acks.writes.push({
      thread: String(c.thread_id),
      ns: String(c.checkpoint_ns ?? ""),
      checkpointId: String(c.checkpoint_id),
      taskId,
      channels: writes.map(([channel]) => channel),
    });
  };
  return acks;
}

/**
 * Every acknowledged checkpoint, read back through a brand-new saver and
 * pool, and every acknowledged write, found in `checkpoint_writes`. (Writes
 * are checked in the table rather than through `getTuple`: with LangGraph's
 * default "async" durability a task's writes can be acknowledged for a
 * checkpoint whose own `put()` had not yet been made when the fault hit.)
 */
async function expectNothingAcknowledgedLost(url: string, acks: Acks, options: PostgresSaverOptions = {}): Promise<void> {
  expect(acks.checkpoints.length, "the run acknowledged some checkpoints").toBeGreaterThan(0);
  const reader = PostgresSaver.fromConnString(url, { ...options, logger: quietLogger() });
  const client = new pg.Client({ connectionString: url });
  try {
    for (const ack of acks.checkpoints) {
      const tuple = await reader.getTuple({
        configurable: { thread_id: ack.thread, checkpoint_ns: ack.ns, checkpoint_id: ack.id },
      });
      expect(tuple?.checkpoint.id, `acknowledged checkpoint ${ack.id} (step ${ack.step})`).toBe(ack.id);
      expect(tuple?.metadata?.step).toBe(ack.step);
    }
    await client.connect();
    const schema = `"${(options.schema ?? "public").replaceAll('"', '""')}"`;
    for (const ack of acks.writes) {
      const { rows } = await client.query<{ channel: string }>(
        `SELECT channel FROM ${schema}.checkpoint_writes
          WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3 AND task_id = $4 ORDER BY idx`,
        [ack.thread, ack.ns, ack.checkpointId, ack.taskId],
      );
      expect(rows.map((r) => r.channel), `acknowledged writes of task ${ack.taskId} on ${ack.checkpointId}`).toEqual(
        expect.arrayContaining(ack.channels),
      );
    }
  } finally {
    await reader.end();
    await client.end().catch(() => undefined);
  }
}

/**
 * Resolves once the checkpoint of `step` on `thread` has been acknowledged.
 * Faults are injected only then, so they fall between two stored steps (as
 * they would when a node waits on an LLM) rather than while LangGraph's
 * asynchronous checkpoint writes are still catching up.
 */
function acknowledged(acks: Acks, thread: string, step: number): Promise<void> {
  return waitFor(
    async () => acks.checkpoints.some((a) => a.thread === thread && a.step >= step),
    `the checkpoint of step ${step} to be acknowledged`,
  ).then(() => undefined);
}

// ---------------------------------------------------------------------------
// Running through an outage: ride through on retries, or fail and resume
// ---------------------------------------------------------------------------

interface OutageRun {
  outcome: "rode through" | "failed, then resumed";
  error: unknown;
  /** Node executions of the first invocation. */
  firstLog: string[];
  /** Node executions of the resuming invocation (empty when it rode through). */
  resumeLog: string[];
  /** `metadata.step` of the checkpoint the resume started from. */
  resumedFrom: number | undefined;
  final: GraphState;
}

/**
 * Runs the graph with a fault injected by `onNode`. Either the run rides
 * through, or it fails with CheckpointerUnavailableError; then, once
 * `recovered()` resolves, the same thread is re-invoked and must resume from
 * the last completed step: nodes whose completion was acknowledged do not run
 * again, and the end state is the reference's.
 */
async function runThroughOutage(
  saver: PostgresSaver,
  acks: Acks,
  thread: string,
  onNode: (node: NodeName) => Promise<void> | void,
  recovered: () => Promise<void>,
): Promise<OutageRun> {
  const firstLog: string[] = [];
  const graph = buildGraph(saver, firstLog, onNode);
  let error: unknown;
  let final: GraphState | undefined;
  try {
    final = await within(graph.invoke(INPUT, configFor(thread)), 40_000, "the faulty run");
  } catch (e) {
    error = e;
  }
  await recovered();
  if (error === undefined) {
    return { outcome: "rode through", error, firstLog, resumeLog: [], resumedFrom: undefined, final: final! };
  }
  expect(error, `the run failed with ${String(error)}`).toBeInstanceOf(CheckpointerUnavailableError);

  const resumeLog: string[] = [];
  const resumer = buildGraph(saver, resumeLog);
  const before = await resumer.getState(configFor(thread));
  const resumedFrom = (before.metadata?.step as number | undefined) ?? -2;
  const lastAcked = Math.max(-2, ...acks.checkpoints.filter((a) => a.thread === thread).map((a) => a.step));
  // The thread resumes from the last acknowledged checkpoint or a later one that was stored.
  expect(resumedFrom).toBeGreaterThanOrEqual(lastAcked);
  const resumed = await within(resume(resumer, thread), 20_000, "the resumed run");
  // Nothing whose completion was stored runs again.
  for (const node of resumeLog) {
    expect(SUPERSTEP[node as NodeName], `${node} re-ran although step ${resumedFrom} was stored`).toBeGreaterThan(
      resumedFrom,
    );
  }
  return { outcome: "failed, then resumed", error, firstLog, resumeLog, resumedFrom, final: resumed };
}

async function expectReferenceEnd(outage: OutageRun, graph: Graph, thread: string): Promise<void> {
  const ref = await reference();
  expect(outage.final).toEqual(ref.final);
  expect((await graph.getState(configFor(thread))).values).toEqual(ref.final);
  if (outage.outcome === "rode through") {
    // Retries are invisible: same nodes, same checkpoints, same history as on MemorySaver.
    expect([...outage.firstLog].sort()).toEqual(ref.log);
    expect(await historyOf(graph, thread)).toEqual(ref.history);
  } else {
    // Every node ran at least once; visited (a concat reducer) proves each write applied exactly once.
    expect(new Set([...outage.firstLog, ...outage.resumeLog])).toEqual(new Set(ref.log));
  }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

const APP = "langgraph-checkpoint-pg";

/** Warnings the saver logs on purpose under faults are kept, not printed. */
function quietLogger(sink: string[] = []): Logger {
  return {
    debug() {},
    info() {},
    warn: (message) => void sink.push(message),
    error: (message) => void sink.push(message),
  };
}

/**
 * Exceptions nothing caught, such as an "error" event emitted by a pg client
 * that has no listener. The test runner survives them; a real process does
 * not (Node exits on an unhandled "error" event), so each one fails the test
 * it happened in.
 */
const uncaught: Error[] = [];
const onUncaught = (error: Error) => void uncaught.push(error);
beforeAll(() => {
  process.on("uncaughtException", onUncaught);
});
afterAll(() => {
  process.off("uncaughtException", onUncaught);
});

/** Things to close after each test, last opened first, whether the test passed or not. */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  const errors: unknown[] = [];
  while (cleanups.length > 0) {
    await cleanups.pop()!().catch((e: unknown) => errors.push(e));
  }
  if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
  const crashes = uncaught.splice(0);
  expect(
    crashes.map((e) => `${e.message} (${(e as { code?: string }).code ?? "no code"})`),
    "uncaught exceptions during the test: each one would have crashed a Node process using the saver",
  ).toEqual([]);
});

function openSaver(url: string, options: PostgresSaverOptions = {}): PostgresSaver {
  const saver = PostgresSaver.fromConnString(url, { logger: quietLogger(), drainTimeoutMs: 2_000, ...options });
  cleanups.push(() => saver.end());
  return saver;
}

async function openClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: "faults-test-admin" });
  client.on("error", () => undefined);
  await client.connect();
  cleanups.push(() => client.end());
  return client;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fails with `what` instead of hanging the file when `promise` takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Terminates every backend of the saver's pool on `database`; returns their pids once they are gone. */
async function terminatePool(admin: pg.Client, database: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number; terminated: boolean }>(
    `SELECT pid, pg_terminate_backend(pid, 5000) AS terminated FROM pg_stat_activity
      WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()`,
    [database, APP],
  );
  expect(rows.every((r) => r.terminated)).toBe(true);
  return rows.map((r) => r.pid);
}

async function poolPids(admin: pg.Client, database: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
    [database, APP],
  );
  return rows.map((r) => r.pid);
}

// ---------------------------------------------------------------------------
// Scenarios on the shared test server
// ---------------------------------------------------------------------------

const db = useTestDatabase();

/** Quick retries: enough to reconnect after a killed connection, short enough to fail fast. */
const quickRetry = { maxAttempts: 6, baseDelayMs: 20, maxDelayMs: 200, operationTimeoutMs: 10_000 };

describe("connections killed with pg_terminate_backend", () => {
  beforeAll(async () => {
    const saver = PostgresSaver.fromConnString(db.url(), { logger: quietLogger() });
    try {
      await saver.setup();
    } finally {
      await saver.end();
    }
  });

  it("every pool connection killed between two graph steps: the next step succeeds and the run matches MemorySaver", async () => {
    const saver = openSaver(db.url(), { retry: quickRetry });
    await saver.warmup();
    const acks = recordAcks(saver);
    const admin = await openClient(db.url());
    const thread = threadId("terminate-in-node");
    const killed: number[] = [];
    const log: string[] = [];
    const graph = buildGraph(saver, log, async (node) => {
      // Between superstep 2 (fetch ‖ audit) and 3 (merge): merge's own checkpoint writes come next.
      if (node !== "merge") return;
      await acknowledged(acks, thread, 2);
      killed.push(...(await terminatePool(admin, db.name())));
    });

    const final = await within(graph.invoke(INPUT, configFor(thread)), 30_000, "the run");

    expect(killed.length, "the saver's pool had connections to kill").toBeGreaterThan(0);
    const ref = await reference();
    expect(final).toEqual(ref.final);
    expect([...log].sort()).toEqual(ref.log);
    expect(await historyOf(graph, thread)).toEqual(ref.history);
    // The saver carried on over new connections.
    const now = await poolPids(admin, db.name());
    expect(now.length).toBeGreaterThan(0);
    expect(now.filter((pid) => killed.includes(pid))).toEqual([]);
    await expectNothingAcknowledgedLost(db.url(), acks);
  });

  it("every pool connection killed between two stream steps: streaming continues without an error", async () => {
    const saver = openSaver(db.url(), { retry: quickRetry });
    await saver.warmup();
    const acks = recordAcks(saver);
    const admin = await openClient(db.url());
    const thread = threadId("terminate-in-stream");
    const log: string[] = [];
    const graph = buildGraph(saver, log);
    const updates: string[] = [];
    const killed: number[] = [];
    const stream = await graph.stream(INPUT, { ...configFor(thread), streamMode: "updates" });
    for await (const chunk of stream) {
      updates.push(...Object.keys(chunk));
      if (updates.length === 1) {
        await acknowledged(acks, thread, 1);
        killed.push(...(await terminatePool(admin, db.name())));
      }
    }

    expect(killed.length).toBeGreaterThan(0);
    const ref = await reference();
    expect([...updates].sort()).toEqual(ref.log);
    expect([...log].sort()).toEqual(ref.log);
    expect((await graph.getState(configFor(thread))).values).toEqual(ref.final);
    expect(await historyOf(graph, thread)).toEqual(ref.history);
    await expectNothingAcknowledgedLost(db.url(), acks);
  });

  it("the backend running a put is killed mid-statement: the put is retried on a new connection, invisibly", async () => {
    const saver = openSaver(db.url(), { retry: quickRetry });
    await saver.warmup();
    const acks = recordAcks(saver);
    const locker = await openClient(db.url());
    const admin = await openClient(db.url());
    const thread = threadId("terminate-mid-put");
    const log: string[] = [];
    let fault: Promise<number[]> | undefined;
    const graph = buildGraph(saver, log, async (node) => {
      if (node !== "merge") return;
      await acknowledged(acks, thread, 2);
      // Writers to `checkpoints` now wait: the put that records merge's step blocks on this lock.
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE public.checkpoints IN SHARE MODE");
      fault = (async () => {
        try {
          const blocked = await waitFor(async () => {
            const { rows } = await admin.query<{ pid: number }>(
              `SELECT pid FROM pg_stat_activity
                WHERE datname = $1 AND application_name = $2 AND wait_event_type = 'Lock'`,
              [db.name(), APP],
            );
            return rows.length > 0 ? rows.map((r) => r.pid) : undefined;
          }, "a put blocked on the lock");
          await terminatePool(admin, db.name());
          return blocked;
        } finally {
          await locker.query("COMMIT");
        }
      })();
    });

    const final = await within(graph.invoke(INPUT, configFor(thread)), 30_000, "the run");
    const blocked = await fault!;

    expect(blocked.length).toBeGreaterThan(0);
    // The failure happened and was retried: the saver saw the termination (57P01) during a put.
    expect(saver.health().lastError).toMatchObject({ operation: "put", code: "57P01" });
    const ref = await reference();
    expect(final).toEqual(ref.final);
    expect([...log].sort()).toEqual(ref.log);
    expect(await historyOf(graph, thread)).toEqual(ref.history);
    await expectNothingAcknowledgedLost(db.url(), acks);
  });
});

describe("pool exhausted", () => {
  it("callers wait up to the acquire timeout, get PoolExhaustedError, nothing hangs, and the pool works again afterwards", async () => {
    const acquireTimeout = 300;
    const saver = openSaver(db.url(), { pool: { max: 2, min: 0, connectionTimeoutMillis: acquireTimeout } });
    await saver.setup();
    const acks = recordAcks(saver);
    const admin = await openClient(db.url());
    const thread = threadId("exhausted");
    const lockKey = 0x1a2b3c;

    // Two statements through the saver's own pool that hold both connections until the test lets them go.
    await admin.query("SELECT pg_advisory_lock($1)", [lockKey]);
    let released = false;
    cleanups.push(async () => {
      if (!released) await admin.query("SELECT pg_advisory_unlock($1)", [lockKey]);
    });
    let blockers: Promise<unknown> | undefined;
    let blockersDone = false;
    const holdThePool = async () => {
      blockers = Promise.all([0, 1].map(() => saver.pool.query("SELECT pg_advisory_xact_lock($1)", [lockKey]))).finally(
        () => {
          blockersDone = true;
        },
      );
      await waitFor(async () => {
        // Only this database's waiters on this key: other test files take advisory locks too.
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid = $1 AND objsubid = 1
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [lockKey],
        );
        return rows[0]!.n === 2;
      }, "both pool connections blocked");
    };

    // 1. The graph hits the exhausted pool after merge: the run fails with PoolExhaustedError.
    let held = false;
    const firstLog: string[] = [];
    const graph = buildGraph(saver, firstLog, async (node) => {
      if (node === "merge" && !held) {
        held = true;
        await acknowledged(acks, thread, 2);
        await holdThePool();
      }
    });
    const runError = await within(graph.invoke(INPUT, configFor(thread)), 20_000, "the run").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(runError).toBeInstanceOf(PoolExhaustedError);
    expect(blockersDone, "the pool was still held when the error came").toBe(false);

    // 2. More concurrent operations than connections: each waits out the acquire timeout, then fails.
    const started = Date.now();
    const attempts = await within(
      Promise.allSettled([
        ...Array.from({ length: 4 }, () => saver.getTuple(configFor(thread)).then(() => Date.now())),
        (async () => {
          for await (const _ of saver.list(configFor(thread))) void _;
          return Date.now();
        })(),
        saver.deleteThread("nobody").then(() => Date.now()),
        (async () => {
          const cp = checkpointWith({ visited: ["never stored"] });
          await saver.put(configFor(thread), cp, loopMetadata, versionsOf(cp));
          return Date.now();
        })(),
      ]),
      10_000,
      "operations on an exhausted pool",
    );
    const waited = Date.now() - started;
    for (const attempt of attempts) {
      expect(attempt.status).toBe("rejected");
      const reason = (attempt as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(PoolExhaustedError);
      expect(reason).toMatchObject({ code: "POOL_EXHAUSTED" });
    }
    // They did wait for a connection (a lower bound, not a performance threshold).
    expect(waited).toBeGreaterThanOrEqual(acquireTimeout - 50);
    expect(blockersDone).toBe(false);
    // A full pool is not an outage: the circuit stays closed, nobody is left waiting.
    expect(saver.health().circuit).toBe("closed");
    expect(saver.health().pool.waiting).toBe(0);

    // 3. Load gone: operations succeed again and the thread resumes where it stopped.
    await admin.query("SELECT pg_advisory_unlock($1)", [lockKey]);
    released = true;
    await within(blockers!, 10_000, "the statements holding the pool");
    const resumeLog: string[] = [];
    const resumer = buildGraph(saver, resumeLog);
    const before = await resumer.getState(configFor(thread));
    const resumedFrom = before.metadata?.step as number;
    expect(resumedFrom).toBeGreaterThanOrEqual(Math.max(...acks.checkpoints.map((a) => a.step)));
    const final = await within(resume(resumer, thread), 20_000, "the resumed run");
    const ref = await reference();
    expect(final).toEqual(ref.final);
    for (const node of resumeLog) expect(SUPERSTEP[node as NodeName]).toBeGreaterThan(resumedFrom);
    expect(new Set([...firstLog, ...resumeLog])).toEqual(new Set(ref.log));
    expect(saver.health().circuit).toBe("closed");
    await expectNothingAcknowledgedLost(db.url(), acks);
  });
});

// ---------------------------------------------------------------------------
// Scenarios that stop the server: a dedicated one
// ---------------------------------------------------------------------------

describe("on a dedicated server that is crashed and restarted", () => {
  let server: DedicatedServer | undefined;
  beforeAll(async () => {
    server = await startDedicatedServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    // A failed test must not leave the next one without a server.
    if (server !== undefined && !server.running) await server.start();
  });
  /** Which way each outage went (ride through or fail-and-resume), printed once at the end. */
  const outcomes: string[] = [];
  afterAll(() => {
    if (outcomes.length > 0) console.info(`outage outcomes: ${outcomes.join("; ")}`);
  });
  const srv = () => server ?? (() => { throw new Error("the dedicated server did not start"); })();

  /** Options for scenarios 2 and 3: many quick retries, and a breaker that does not trip on one outage. */
  const rideThrough = (schema: string): PostgresSaverOptions => ({
    schema,
    retry: { maxAttempts: 40, baseDelayMs: 50, maxDelayMs: 300, operationTimeoutMs: 20_000 },
    circuitBreaker: { failureThreshold: 1_000, cooldownMs: 200 },
    pool: { connectionTimeoutMillis: 2_000 },
  });

  it("pg_ctl stop -m immediate while a put is in flight, restarted while retries run: nothing acknowledged is lost", async () => {
    const options = rideThrough("crash_restart");
    const saver = openSaver(srv().url, options);
    await saver.setup();
    await saver.warmup();
    const acks = recordAcks(saver);
    const locker = await openClient(srv().url);
    const watcher = await openClient(srv().url);
    const thread = threadId("crash");
    let inFlight: number[] = [];
    let restarted: Promise<void> | undefined;
    const outage = await runThroughOutage(
      saver,
      acks,
      thread,
      async (node) => {
        if (node !== "merge" || restarted) return;
        await acknowledged(acks, thread, 2);
        // The put recording merge's step will be on the wire, blocked on this lock, when the server dies.
        await locker.query("BEGIN");
        await locker.query(`LOCK TABLE ${options.schema}.checkpoints IN SHARE MODE`);
        restarted = (async () => {
          inFlight = await waitFor(async () => {
            const { rows } = await watcher.query<{ pid: number }>(
              "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
              [APP],
            );
            return rows.length > 0 ? rows.map((r) => r.pid) : undefined;
          }, "a put in flight");
          await srv().crash();
          await sleep(300);
          await srv().start();
        })();
      },
      async () => {
        await restarted;
        await waitFor(async () => saver.health().circuit !== "open", "the circuit to let calls through");
      },
    );
    outcomes.push(`crash with a put in flight: ${outage.outcome}`);
    expect(inFlight.length, "a put was in flight when the server crashed").toBeGreaterThan(0);
    expect(saver.health().lastError, "the saver saw the outage").not.toBeNull();
    await expectReferenceEnd(outage, buildGraph(saver, []), thread);
    await expectNothingAcknowledgedLost(srv().url, acks, { schema: options.schema });
  });

  it("pg_ctl stop -m immediate mid-run, down until the run gives up: CheckpointerUnavailableError, then the re-invoke resumes", async () => {
    const options: PostgresSaverOptions = {
      schema: "crash_give_up",
      retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 50, operationTimeoutMs: 5_000 },
      circuitBreaker: { failureThreshold: 5, cooldownMs: 200 },
      pool: { connectionTimeoutMillis: 1_000 },
    };
    const saver = openSaver(srv().url, options);
    await saver.warmup();
    const acks = recordAcks(saver);
    const thread = threadId("crash-give-up");
    let crashed = false;
    const outage = await runThroughOutage(
      saver,
      acks,
      thread,
      async (node) => {
        if (node !== "merge" || crashed) return;
        crashed = true;
        await acknowledged(acks, thread, 2);
        await srv().crash();
      },
      async () => {
        await srv().start();
        await waitFor(async () => saver.health().circuit !== "open", "the circuit to let calls through");
      },
    );
    outcomes.push(`crash until the run gives up: ${outage.outcome}`);
    expect(outage.outcome).toBe("failed, then resumed");
    // The crash came after step 2 was stored and before merge finished: the resume starts at step 2 and runs merge, finish.
    expect(outage.resumedFrom).toBe(2);
    expect([...outage.resumeLog].sort()).toEqual(["finish", "merge"]);
    await expectReferenceEnd(outage, buildGraph(saver, []), thread);
    await expectNothingAcknowledgedLost(srv().url, acks, { schema: options.schema });
  });

  it("PgBouncer restarted mid-run: nothing acknowledged is lost", async () => {
    const bouncer: RunningBouncer = await startPgBouncer(srv().url);
    cleanups.push(() => bouncer.stop());
    const options = rideThrough("bouncer_restart");
    const url = bouncer.via(srv().url);
    const saver = openSaver(url, options);
    await saver.warmup();
    const acks = recordAcks(saver);
    const thread = threadId("bouncer");
    let restarted: Promise<void> | undefined;
    const outage = await runThroughOutage(
      saver,
      acks,
      thread,
      async (node) => {
        if (node !== "merge" || restarted) return;
        await acknowledged(acks, thread, 2);
        // Not awaited: the steps that follow meet a PgBouncer that is going away and coming back.
        restarted = bouncer.restart();
      },
      async () => {
        await restarted;
        await waitFor(async () => saver.health().circuit !== "open", "the circuit to let calls through");
      },
    );
    outcomes.push(`PgBouncer restart: ${outage.outcome}`);
    expect(restarted, "the restart happened").toBeDefined();
    await expectReferenceEnd(outage, buildGraph(saver, []), thread);
    await expectNothingAcknowledgedLost(url, acks, { schema: options.schema });
  });

  it("the circuit breaker opens while the database is down (fast failures, health down) and closes once it is back", async () => {
    const cooldownMs = 1_000;
    const options: PostgresSaverOptions = {
      schema: "breaker",
      retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20, operationTimeoutMs: 3_000 },
      circuitBreaker: { failureThreshold: 3, cooldownMs },
      pool: { connectionTimeoutMillis: 1_000 },
    };
    const saver = openSaver(srv().url, options);
    await saver.warmup();
    expect(saver.health()).toMatchObject({ status: "ok", circuit: "closed" });
    const acks = recordAcks(saver);
    const thread = threadId("breaker");
    const firstLog: string[] = [];
    let stopped = false;
    const graph = buildGraph(saver, firstLog, async (node) => {
      if (node === "merge" && !stopped) {
        stopped = true;
        await acknowledged(acks, thread, 2);
        await srv().shutdown();
      }
    });
    const runError = await within(graph.invoke(INPUT, configFor(thread)), 20_000, "the run").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(runError).toBeInstanceOf(CheckpointerUnavailableError);

    // Keep calling until the breaker has seen enough failures to open.
    const config = configFor(thread);
    for (let i = 0; i < 10 && saver.health().circuit !== "open"; i += 1) {
      await expect(saver.getTuple(config)).rejects.toBeInstanceOf(CheckpointerUnavailableError);
    }
    expect(saver.health()).toMatchObject({ circuit: "open", status: "down" });
    // Open: calls fail fast, before touching the database, and say when to try again.
    const fast = await saver.getTuple(config).catch((e: unknown) => e);
    expect(fast).toBeInstanceOf(CheckpointerUnavailableError);
    expect((fast as CheckpointerUnavailableError).message).toMatch(/circuit breaker open/);
    expect((fast as CheckpointerUnavailableError).retryInMs).toBeGreaterThan(0);
    expect((fast as CheckpointerUnavailableError).retryInMs).toBeLessThanOrEqual(cooldownMs);

    // The database returns; after the cooldown one trial call goes through and closes the circuit.
    await srv().start();
    await waitFor(async () => saver.health().circuit !== "open", "the cooldown to end", 10_000);
    expect(saver.health().circuit).toBe("half-open");
    const latest = await saver.getTuple(config);
    expect(latest).toBeDefined();
    expect(saver.health().circuit).toBe("closed");
    expect(saver.health().status).not.toBe("down");

    // The thread resumes from its last stored step and ends as on MemorySaver.
    const resumeLog: string[] = [];
    const resumer = buildGraph(saver, resumeLog);
    const resumedFrom = (await resumer.getState(config)).metadata?.step as number;
    expect(resumedFrom).toBeGreaterThanOrEqual(Math.max(...acks.checkpoints.map((a) => a.step)));
    const final = await within(resume(resumer, thread), 20_000, "the resumed run");
    const ref = await reference();
    expect(final).toEqual(ref.final);
    for (const node of resumeLog) expect(SUPERSTEP[node as NodeName]).toBeGreaterThan(resumedFrom);
    expect(saver.health().circuit).toBe("closed");
    await expectNothingAcknowledgedLost(srv().url, acks, { schema: options.schema });
  });
});

// ---------------------------------------------------------------------------
// 8 processes booting at once
// ---------------------------------------------------------------------------

const BUILT = fileURLToPath(new URL("../../../dist/esm/index.js", import.meta.url));
const PROJECT = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * One booting process: waits for "go" on stdin (so all start at the same
 * moment), calls createCheckpointer({ url }), stores one checkpoint and
 * reports. Imports the built package, as an installed user would.
 */
const BOOT_CHILD = `
import { createCheckpointer, PostgresSaver } from ${JSON.stringify(pathToFileURL(BUILT).href)};
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
const url = process.argv[1];
const go = new Promise((resolve) => process.stdin.once("data", resolve));
process.stdout.write("ready\\n");
await go;
let saver;
try {
  saver = await createCheckpointer({ url });
  const report = { pid: process.pid, isPostgresSaver: saver instanceof PostgresSaver, persistent: saver.isPersistent(), health: saver.health() };
  const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1) };
  const stored = await saver.put({ configurable: { thread_id: "boot-" + process.pid } }, checkpoint, { source: "input", step: -1, parents: {} }, {});
  process.stdout.write(JSON.stringify({ ok: true, ...report, stored: stored.configurable }) + "\\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error), cause: String(error?.cause) }) + "\\n");
  process.exitCode = 1;
} finally {
  await saver?.end();
  process.stdin.destroy();
}
`;

interface BootReport {
  ok: boolean;
  isPostgresSaver?: boolean;
  persistent?: boolean;
  health?: { backend: string; persistent: boolean };
  stored?: { thread_id: string; checkpoint_ns: string; checkpoint_id: string };
  error?: string;
}

describe("boot", () => {
  it("8 processes calling createCheckpointer({ url }) at the same moment on an empty database all get a working PostgresSaver", async () => {
    expect(existsSync(BUILT), "run `npm run build` first (npm test does)").toBe(true);
    const { url, name } = await createDatabase();
    cleanups.push(() => dropDatabase(name));
    // No inherited configuration: the children see only the url they are given.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("LANGGRAPH_CHECKPOINT_") && k !== "DATABASE_URL"),
    );
    const children = Array.from({ length: 8 }, () => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", BOOT_CHILD, url], {
        cwd: PROJECT,
        env,
        stdio: ["pipe", "pipe", "pipe"],
      });
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
      const ready = waitFor(async () => stdout.startsWith("ready\n") || (child.exitCode !== null ? "exited" : false), "a child to load", 30_000);
      const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
        child.once("close", (code) => resolve({ code, stdout, stderr })),
      );
      return { child, ready, done };
    });
    await within(Promise.all(children.map((c) => c.ready)), 40_000, "the children to load");
    for (const { child } of children) child.stdin.write("go\n");
    const results = await within(Promise.all(children.map((c) => c.done)), 40_000, "the children to boot");

    const reports = results.map(({ code, stdout, stderr }) => {
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      const report: BootReport = line ? JSON.parse(line) : { ok: false, error: `no report (exit ${code}): ${stderr}` };
      return { ...report, code, stderr };
    });
    expect(reports.filter((r) => !r.ok || r.code !== 0)).toEqual([]);
    for (const r of reports) {
      expect(r).toMatchObject({ isPostgresSaver: true, persistent: true, health: { backend: "postgres", persistent: true } });
      // A fallback to memory would have logged at error level.
      expect(r.stderr).not.toMatch(/FALLING BACK/);
    }

    const admin = await openClient(url);
    const { rows } = await admin.query<{ v: number }>("SELECT v FROM public.checkpoint_migrations ORDER BY v");
    expect(rows.map((r) => r.v)).toEqual(Array.from({ length: SCHEMA_VERSION + 1 }, (_, v) => v));
    // What each process stored (and got acknowledged) is there.
    const acks: Acks = {
      checkpoints: reports.map((r) => ({
        thread: r.stored!.thread_id,
        ns: r.stored!.checkpoint_ns,
        id: r.stored!.checkpoint_id,
        step: -1,
      })),
      writes: [],
    };
    expect(new Set(acks.checkpoints.map((a) => a.thread)).size).toBe(8);
    await expectNothingAcknowledgedLost(url, acks);
  });
});
