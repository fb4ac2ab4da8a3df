import http from "node:http";
import type { AddressInfo } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import pg from "pg";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conversationMessages } from "../../../bench/support/conversation.mjs";
import {
  type Checkpointer,
  InvalidInputError,
  type Logger,
  PostgresSaver,
  createCheckpointer,
  metricsHandler,
} from "../../../src/index.js";
import { freePort } from "../../../src/embedded/server.js";
import { useTestDatabase } from "../../support/database.js";
import { startTcpProxy } from "../../support/tcp-proxy.js";
import { checkpointWith, loopMetadata, threadId } from "../../support/fixtures.js";
import { type Sample, has, parseMetrics, valueOf } from "../../support/prometheus.js";

/**
 * The scrape endpoint end to end: savers registered in one registry, real
 * graphs and real failures, then `/metrics` fetched over HTTP and every
 * metric checked against what was actually done.
 */
const db = useTestDatabase();
const registry = new Registry();
let server: http.Server;
let admin: pg.Pool;

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: db.url() });
  server = http.createServer(metricsHandler(registry));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await admin.end();
});

async function scrape(path = "/metrics"): Promise<{ status: number; type: string | null; samples: Sample[] }> {
  const { port } = server.address() as AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    samples: response.ok ? parseMetrics(text) : [],
  };
}

const M = "langgraph_checkpoint_";

type Counted = "put" | "putWrites" | "getTuple" | "list" | "deleteThread";

/** Counts the calls LangGraph (or the test) makes to the saver's methods. */
function countCalls(saver: Checkpointer): Record<Counted, number> {
  const calls: Record<Counted, number> = { put: 0, putWrites: 0, getTuple: 0, list: 0, deleteThread: 0 };
  const target = saver as unknown as Record<Counted, (...args: unknown[]) => unknown>;
  for (const name of Object.keys(calls) as Counted[]) {
    const original = target[name].bind(saver);
    target[name] = (...args: unknown[]) => {
      calls[name] += 1;
      return original(...args);
    };
  }
  return calls;
}

/** A three-step conversation graph whose replies are large, realistic messages (so they are compacted). */
function conversationGraph(checkpointer: Checkpointer) {
  const script = conversationMessages(60, 7).filter((m) => m.getType() === "ai");
  let turn = 0;
  const reply = () => ({ messages: [new AIMessage(String(script[turn++ % script.length]!.content))] });
  return new StateGraph(MessagesAnnotation)
    .addNode("plan", reply)
    .addNode("act", reply)
    .addNode("answer", reply)
    .addEdge(START, "plan")
    .addEdge("plan", "act")
    .addEdge("act", "answer")
    .addEdge("answer", END)
    .compile({ checkpointer });
}

async function runConversation(checkpointer: Checkpointer, thread: string, turns: number) {
  const graph = conversationGraph(checkpointer);
  const config = { configurable: { thread_id: thread }, durability: "sync" as const };
  for (let i = 0; i < turns; i += 1) {
    await graph.invoke({ messages: [new HumanMessage(`question ${i} about the quarterly report`)] }, config);
  }
  return graph.getState({ configurable: { thread_id: thread } });
}

/**
 * A read that fails once, mid-statement: it waits on a table lock, its
 * backend is terminated, and the retry succeeds once the lock is released.
 */
async function retriedRead(saver: PostgresSaver, thread: string): Promise<void> {
  const locker = await admin.connect();
  try {
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE checkpoints IN ACCESS EXCLUSIVE MODE");
    const read = saver.getTuple({ configurable: { thread_id: thread } });
    const waiting = async () =>
      (await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'metrics-retry' AND wait_event_type = 'Lock'")).rows;
    let pids = await waiting();
    while (pids.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      pids = await waiting();
    }
    await admin.query("SELECT pg_terminate_backend($1)", [pids[0].pid]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await locker.query("COMMIT");
    await read;
  } finally {
    locker.release();
  }
}

function capturingLogger(): Logger & { lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push({ level, message, fields });
  };
  return { lines, debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

describe("GET /metrics", () => {
  it("serves the Prometheus text format, and 404 elsewhere", async () => {
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect((await scrape("/other")).status).toBe(404);
  });

  it("shows every metric with values matching the operations a real graph ran", async () => {
    const logger = capturingLogger();
    // slowOperationMs 0: every operation is "slow", so the slow log and counter can be checked exactly.
    const saver = PostgresSaver.fromConnString(db.url(), {
      metrics: { registry },
      slowOperationMs: 0,
      logger,
      pool: { applicationName: "metrics-main" },
    });
    // A second saver on the same registry must share the metric objects, not throw "already registered".
    const retrying = PostgresSaver.fromConnString(db.url(), {
      metrics: { registry },
      slowOperationMs: false,
      healthCheckIdleMs: 0,
      pool: { applicationName: "metrics-retry", min: 1 },
    });
    // Through a proxy that can make its connections silently dead, so a probe fails.
    const proxy = await startTcpProxy(Number(new URL(db.url()).port));
    const proxied = new URL(db.url());
    proxied.port = String(proxy.port);
    const probing = PostgresSaver.fromConnString(proxied.toString(), {
      metrics: { registry },
      slowOperationMs: false,
      healthCheckIdleMs: 1,
      pool: { applicationName: "metrics-probe", min: 1 },
    });
    try {
      await saver.setup();
      const calls = countCalls(saver);
      const thread = threadId("metrics");
      const state = await runConversation(saver, thread, 2);
      expect(state.values.messages).toHaveLength(8);
      await saver.deleteThread(threadId("gone"));
      const listed = [];
      for await (const tuple of saver.list({ configurable: { thread_id: thread } })) listed.push(tuple);
      expect(listed.length).toBe(calls.put);
      const puts = calls.put;
      await expect(saver.put({ configurable: {} }, checkpointWith({}), loopMetadata, {})).rejects.toBeInstanceOf(
        InvalidInputError,
      );
      // A database error keeps its SQLSTATE as the code: this schema has no tables.
      const unset = PostgresSaver.fromConnString(db.url(), { metrics: { registry }, schema: "never_set_up", slowOperationMs: false });
      await expect(unset.getTuple({ configurable: { thread_id: "x" } })).rejects.toMatchObject({ sqlstate: "42P01" });
      await unset.end();

      // A retry: the connection is killed while its statement waits for a lock.
      await retriedRead(retrying, thread);

      // Health checks: an idle connection is probed before use; a silently dead one fails its probe.
      await probing.getTuple({ configurable: { thread_id: thread } });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await probing.getTuple({ configurable: { thread_id: thread } });
      proxy.blackhole();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await probing.getTuple({ configurable: { thread_id: thread } });

      const { samples } = await scrape();
      const duration = `${M}operation_duration_seconds`;
      const ok = { backend: "postgres", status: "ok" };
      expect(puts).toBeGreaterThanOrEqual(8);
      expect(valueOf(samples, `${duration}_count`, { ...ok, operation: "put" })).toBe(puts);
      expect(valueOf(samples, `${duration}_count`, { ...ok, operation: "put_writes" })).toBe(calls.putWrites);
      expect(calls.putWrites).toBeGreaterThan(0);
      // getTuple: the graph's own reads plus the retry and probe savers' four.
      expect(valueOf(samples, `${duration}_count`, { ...ok, operation: "get_tuple" })).toBe(calls.getTuple + 4);
      expect(valueOf(samples, `${duration}_count`, { ...ok, operation: "delete_thread" })).toBe(1);
      expect(valueOf(samples, `${duration}_count`, { ...ok, operation: "setup" })).toBe(1);
      expect(valueOf(samples, `${duration}_count`, { ...ok, operation: "list" })).toBe(1);
      expect(valueOf(samples, `${duration}_sum`, { ...ok, operation: "put" })).toBeGreaterThan(0);
      expect(valueOf(samples, `${duration}_bucket`, { ...ok, operation: "put", le: "+Inf" })).toBe(puts);
      expect(valueOf(samples, `${duration}_count`, { backend: "postgres", status: "error", operation: "put" })).toBe(1);

      expect(valueOf(samples, `${M}operation_errors_total`, { operation: "put", code: "INVALID_INPUT" })).toBe(1);
      expect(valueOf(samples, `${M}operation_errors_total`, { operation: "get_tuple", code: "42P01" })).toBe(1);

      // Every put stores documents, so each has raw and stored sizes; the large replies are compacted.
      const bytes = `${M}payload_bytes`;
      expect(valueOf(samples, `${bytes}_count`, { operation: "put", stage: "raw" })).toBe(puts);
      expect(valueOf(samples, `${bytes}_count`, { operation: "put", stage: "stored" })).toBe(puts);
      const raw = valueOf(samples, `${bytes}_sum`, { operation: "put", stage: "raw" });
      const stored = valueOf(samples, `${bytes}_sum`, { operation: "put", stage: "stored" });
      expect(stored).toBeGreaterThan(0);
      expect(raw / stored).toBeGreaterThan(1.5);
      expect(valueOf(samples, `${bytes}_sum`, { operation: "get_tuple", stage: "raw" })).toBeGreaterThan(
        valueOf(samples, `${bytes}_sum`, { operation: "get_tuple", stage: "stored" }),
      );

      // Failed operations are timed and logged too: the invalid put is the one extra.
      const slowPuts = valueOf(samples, `${M}slow_operations_total`, { operation: "put" });
      expect(slowPuts).toBe(puts + 1);
      const slowLines = logger.lines.filter((l) => l.level === "warn" && l.message === "slow checkpoint operation");
      expect(slowLines.filter((l) => l.fields?.operation === "put")).toHaveLength(puts + 1);
      const line = slowLines.find((l) => l.fields?.operation === "put")!;
      expect(line.fields).toMatchObject({ thread_id: thread, checkpoint_ns: "", attempts: 1 });
      expect(line.fields?.checkpoint_id).toEqual(expect.any(String));
      expect(line.fields?.duration_ms).toBeGreaterThan(0);
      expect(line.fields?.bytes).toBeGreaterThan(0);
      expect(line.fields?.rows).toBeGreaterThan(0);

      expect(valueOf(samples, `${M}retries_total`, { operation: "get_tuple" })).toBe(1);
      // A direct connection keeps prepared statements: every statement an operation sent was one.
      expect(valueOf(samples, `${M}statements_total`, { mode: "prepared" })).toBeGreaterThanOrEqual(puts + calls.putWrites + calls.getTuple + 1);
      expect(valueOf(samples, `${M}statements_total`, { mode: "unprepared" })).toBe(0);
      expect(valueOf(samples, `${M}health_checks_total`, { result: "ok" })).toBeGreaterThanOrEqual(1);
      expect(valueOf(samples, `${M}health_checks_total`, { result: "failed" })).toBeGreaterThanOrEqual(1);

      const pools = [saver, retrying, probing].map((s) => s.health().pool);
      expect(valueOf(samples, `${M}pool_connections`, { state: "total" })).toBe(pools.reduce((n, p) => n + p.total, 0));
      expect(valueOf(samples, `${M}pool_connections`, { state: "idle" })).toBe(pools.reduce((n, p) => n + p.idle, 0));
      expect(valueOf(samples, `${M}pool_connections`, { state: "waiting" })).toBe(0);
      expect(valueOf(samples, `${M}pool_connections`, { state: "total" })).toBeGreaterThanOrEqual(3);
      expect(valueOf(samples, `${M}circuit_state`)).toBe(0);
      expect(valueOf(samples, `${M}backend_info`, { backend: "postgres", persistent: "true" })).toBe(1);
      expect(has(samples, `${M}fallbacks_total`)).toBe(true);
    } finally {
      await Promise.all([saver.end(), retrying.end(), probing.end()]);
      await proxy.close();
    }
    // Ended savers leave the scrape-time gauges.
    const { samples } = await scrape();
    expect(valueOf(samples, `${M}pool_connections`, { state: "total" })).toBe(0);
    expect(has(samples, `${M}backend_info`, { backend: "postgres" })).toBe(false);
  });

  it("a live saver stays in the scrape-time gauges through garbage collection", async () => {
    const saver = PostgresSaver.fromConnString(db.url(), { metrics: { registry }, pool: { min: 2 } });
    await saver.warmup();
    setFlagsFromString("--expose-gc");
    (runInNewContext("gc") as () => void)();
    await new Promise((resolve) => setImmediate(resolve));
    (runInNewContext("gc") as () => void)();
    const { samples } = await scrape();
    expect(valueOf(samples, `${M}pool_connections`, { state: "total" })).toBe(saver.health().pool.total);
    expect(saver.health().pool.total).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, `${M}backend_info`, { backend: "postgres", persistent: "true" })).toBe(1);
    await saver.end();
  });

  it("counts a pool shared by two savers once, and survives registry.clear()", async () => {
    const shared = new pg.Pool({ connectionString: db.url(), max: 3 });
    const own = new Registry();
    const a = new PostgresSaver(shared, undefined, { metrics: { registry: own } });
    const b = new PostgresSaver(shared, undefined, { metrics: { registry: own } });
    await a.setup();
    await Promise.all([a.getTuple({ configurable: { thread_id: "x" } }), b.getTuple({ configurable: { thread_id: "y" } })]);
    const total = async () =>
      valueOf(parseMetrics(await own.metrics()), `${M}pool_connections`, { state: "total" });
    expect(await total()).toBe(shared.totalCount);
    expect(shared.totalCount).toBeGreaterThan(0);
    await a.end();
    await b.end();

    own.clear();
    const c = new PostgresSaver(shared, undefined, { metrics: { registry: own } });
    await c.getTuple({ configurable: { thread_id: "z" } });
    const samples = parseMetrics(await own.metrics());
    expect(valueOf(samples, `${M}operation_duration_seconds_count`, { operation: "get_tuple", status: "ok" })).toBe(1);
    await c.end();
    await shared.end();
  });

  it("shows an open circuit as 2, and back to 0 when that saver is gone", async () => {
    const port = await freePort();
    const dead = PostgresSaver.fromConnString(`postgresql://nobody@127.0.0.1:${port}/none`, {
      metrics: { registry },
      slowOperationMs: false,
      retry: { maxAttempts: 1 },
      circuitBreaker: { failureThreshold: 1, cooldownMs: 60_000 },
      pool: { connectionTimeoutMillis: 500 },
    });
    await expect(dead.getTuple({ configurable: { thread_id: "t" } })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(dead.getTuple({ configurable: { thread_id: "t" } })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    let { samples } = await scrape();
    expect(valueOf(samples, `${M}circuit_state`)).toBe(2);
    expect(valueOf(samples, `${M}operation_errors_total`, { operation: "get_tuple", code: "UNAVAILABLE" })).toBe(2);
    await dead.end();
    ({ samples } = await scrape());
    expect(valueOf(samples, `${M}circuit_state`)).toBe(0);
  });

  it("shows the fallback to memory: fallbacks_total, backend_info persistent=\"false\", and memory operations", async () => {
    const port = await freePort();
    const logger = capturingLogger();
    const before = valueOf((await scrape()).samples, `${M}fallbacks_total`);
    const checkpointer = await createCheckpointer({
      url: `postgresql://nobody:pw@127.0.0.1:${port}/none`,
      fallback: "memory",
      metrics: { registry },
      logger,
      retry: { maxAttempts: 1 },
      pool: { connectionTimeoutMillis: 500 },
      env: {},
    });
    expect(checkpointer.isPersistent()).toBe(false);
    const calls = countCalls(checkpointer);
    await runConversation(checkpointer, threadId("memory"), 1);
    const { samples } = await scrape();
    expect(valueOf(samples, `${M}fallbacks_total`)).toBe(before + 1);
    expect(valueOf(samples, `${M}backend_info`, { backend: "memory", persistent: "false" })).toBe(1);
    const duration = `${M}operation_duration_seconds_count`;
    expect(valueOf(samples, duration, { backend: "memory", status: "ok", operation: "put" })).toBe(calls.put);
    expect(valueOf(samples, duration, { backend: "memory", status: "ok", operation: "put_writes" })).toBe(calls.putWrites);
    expect(calls.put).toBeGreaterThan(0);
    await checkpointer.end();
    expect(has((await scrape()).samples, `${M}backend_info`, { backend: "memory" })).toBe(false);
  });

  it("metrics: false registers nothing; a prefix renames every metric", async () => {
    const empty = new Registry();
    const off = PostgresSaver.fromConnString(db.url(), { metrics: false });
    await off.setup();
    await off.getTuple({ configurable: { thread_id: "t" } });
    await off.end();
    expect(await empty.getMetricsAsJSON()).toEqual([]);

    const prefixed = new Registry();
    const saver = PostgresSaver.fromConnString(db.url(), { metrics: { registry: prefixed, prefix: "myapp_" } });
    await saver.getTuple({ configurable: { thread_id: "t" } });
    const names = (await prefixed.getMetricsAsJSON()).map((m) => m.name);
    await saver.end();
    expect(names).toContain("myapp_langgraph_checkpoint_operation_duration_seconds");
    expect(names).toContain("myapp_langgraph_checkpoint_pruned_rows_total");
    expect(names).toContain("myapp_langgraph_checkpoint_retention_runs_total");
    expect(names).toContain("myapp_langgraph_checkpoint_stored_values_total");
    expect(names.every((n) => n.startsWith("myapp_langgraph_checkpoint_"))).toBe(true);
    expect(names).toContain("myapp_langgraph_checkpoint_statements_total");
    expect(names).toHaveLength(14);
  });
});
