// What do metrics, the slow-operation log and (no-op) tracing cost? Two
// savers on one database run the same operations, interleaved in rounds:
// one with everything on (metrics in a registry, slow log armed, tracing
// through @opentelemetry/api with no SDK), one with metrics: false,
// slowOperationMs: false, tracing: false. Also times the wrapper alone
// around an empty operation.
// Then what keeping look-alike data plain costs: the default serializer
// (escaping walk, allow-listed reviver) against LangGraph's JsonPlusSerializer
// as it was used before (strict walk only, its own reviver), on a state of
// real messages with tool calls. Absolute times are machine-dependent.
//   npm run bench:instrumentation
import fs from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { JsonPlusSerializer, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { Registry } from "prom-client";
import { PostgresSaver } from "../dist/esm/index.js";
import { Instrumentation } from "../dist/esm/observe/instrument.js";
import { CheckpointMetrics } from "../dist/esm/observe/metrics.js";
import { tracingReady } from "../dist/esm/observe/trace.js";
import { benchDatabase, median } from "./support/database.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const OPS_PER_ROUND = Number(process.env.OPS ?? 50);

await tracingReady();
const db = await benchDatabase();
const quiet = { pool: { min: 2, max: 2 } };
const savers = {
  instrumented: PostgresSaver.fromConnString(db.url, { ...quiet, metrics: { registry: new Registry() } }),
  bare: PostgresSaver.fromConnString(db.url, { ...quiet, metrics: false, slowOperationMs: false, tracing: false }),
  // A second bare saver: the difference between two identical savers is the noise floor.
  control: PostgresSaver.fromConnString(db.url, { ...quiet, metrics: false, slowOperationMs: false, tracing: false }),
};
await savers.bare.setup();
await Promise.all(Object.values(savers).map((s) => s.warmup()));

const operations = {
  put: async (saver, thread, i) => {
    const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { messages: [`message ${i}`], step: i }, channel_versions: { messages: i + 1, step: i + 1 } };
    return saver.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, { source: "loop", step: i, parents: {} }, { messages: i + 1, step: i + 1 });
  },
  putWrites: (saver, thread, i) =>
    saver.putWrites({ configurable: { thread_id: thread, checkpoint_ns: "", checkpoint_id: `cp-${i}` } }, [["messages", `w${i}`], ["step", i]], `task-${i}`),
  getTuple: (saver, thread) => saver.getTuple({ configurable: { thread_id: thread, checkpoint_ns: "" } }),
};

const times = Object.fromEntries(Object.keys(operations).map((op) => [op, { instrumented: [], bare: [], control: [] }]));
for (let round = 0; round < ROUNDS; round += 1) {
  // Rotate which saver goes first.
  const names = Object.keys(savers);
  const order = names.map((_, i) => names[(i + round) % names.length]);
  // Interleaved operation by operation, so drift on a noisy machine hits every saver alike.
  for (const [op, run] of Object.entries(operations)) {
    for (let i = 0; i < OPS_PER_ROUND; i += 1) {
      for (const name of order) {
        const started = performance.now();
        await run(savers[name], `${name}-${round}`, i);
        times[op][name].push(performance.now() - started);
      }
    }
  }
}
await Promise.all(Object.values(savers).map((s) => s.end()));

// Keeping look-alike data plain, on a chat state: 24 real messages (tool calls, tool results) and a results object.
class UnescapedSerializer extends JsonPlusSerializer {}
const unescapedPool = new pg.Pool({ connectionString: db.url, max: 2 });
// The saver stops listening at end(); a connection the stopping server drops must not crash the run.
unescapedPool.on("error", () => {});
const serializers = {
  escaping: PostgresSaver.fromConnString(db.url, { ...quiet, metrics: false, slowOperationMs: false, tracing: false }),
  unescaped: new PostgresSaver(unescapedPool, new UnescapedSerializer(), { metrics: false, slowOperationMs: false, tracing: false }),
  control: PostgresSaver.fromConnString(db.url, { ...quiet, metrics: false, slowOperationMs: false, tracing: false }),
};
await Promise.all(Object.values(serializers).map((s) => s.warmup()));
const chatMessages = Array.from({ length: 6 }, (_, turn) => [
  new HumanMessage({ id: `h${turn}`, content: `Question ${turn}: what is the status of order ${1000 + turn}?` }),
  new AIMessage({ id: `a${turn}`, content: "", tool_calls: [{ id: `c${turn}`, name: "lookup_order", args: { order: 1000 + turn, fields: ["status", "eta"] } }] }),
  new ToolMessage({ id: `t${turn}`, tool_call_id: `c${turn}`, content: JSON.stringify({ order: 1000 + turn, status: "shipped", eta: "2026-12-24" }) }),
  new AIMessage({ id: `r${turn}`, content: `Order ${1000 + turn} has shipped and should arrive on December 24.` }),
]).flat();
const chatState = (i) => ({ messages: chatMessages, results: { orders: chatMessages.length, step: i, tags: ["a", "b"] } });
const chatOperations = {
  put: async (saver, thread, i) => {
    const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: chatState(i), channel_versions: { messages: i + 1, results: i + 1 } };
    return saver.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpoint, { source: "loop", step: i, parents: {} }, { messages: i + 1, results: i + 1 });
  },
  getTuple: (saver, thread) => saver.getTuple({ configurable: { thread_id: thread, checkpoint_ns: "" } }),
};
const chatTimes = Object.fromEntries(Object.keys(chatOperations).map((op) => [op, { escaping: [], unescaped: [], control: [] }]));
for (let round = 0; round < ROUNDS; round += 1) {
  const names = Object.keys(serializers);
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const [op, run] of Object.entries(chatOperations)) {
    for (let i = 0; i < OPS_PER_ROUND; i += 1) {
      for (const name of order) {
        const started = performance.now();
        await run(serializers[name], `chat-${name}-${round}`, i);
        chatTimes[op][name].push(performance.now() - started);
      }
    }
  }
}
await Promise.all(Object.values(serializers).map((s) => s.end()));
await unescapedPool.end();
await db.stop();

// The serializers alone, on the same state: CPU only.
const { SafeJsonPlusSerializer } = await import("../dist/esm/index.js");
const { prepareForJson, assertFaithfullySerializable } = await import("../dist/esm/codec/guard.js");
const safe = new SafeJsonPlusSerializer();
const plainJson = new JsonPlusSerializer();
const state = chatState(1);
const [, stateBytes] = await plainJson.dumpsTyped(state);
const perCall = async (fn, n = 2_000) => {
  for (let i = 0; i < 200; i += 1) await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1) await fn();
  return ((performance.now() - t0) / n) * 1000;
};
const cpu = {
  write: {
    unescaped: await perCall(async () => { assertFaithfullySerializable(state, "state"); await plainJson.dumpsTyped(state); }),
    escaping: await perCall(async () => safe.dumpsPrepared(prepareForJson(state, "state", { strict: true, escape: true }))),
  },
  read: {
    unescaped: await perCall(() => plainJson.loadsTyped("json", stateBytes)),
    escaping: await perCall(() => safe.loadsTyped("json", stateBytes)),
  },
};

// The wrapper alone, around an operation that does nothing.
const wrapper = new Instrumentation({
  backend: "postgres", metrics: CheckpointMetrics.for({ registry: new Registry() }), logger: console, slowOperationMs: 250, tracing: true,
});
const target = { threadId: "t", checkpointNs: "", checkpointId: "c" };
const empty = async (stats) => { stats.rawBytes = 100; stats.storedBytes = 100; };
for (let i = 0; i < 20_000; i += 1) await wrapper.run("put", target, empty);
const N = 200_000;
let started = performance.now();
for (let i = 0; i < N; i += 1) await wrapper.run("put", target, empty);
const wrapped = (performance.now() - started) / N;
started = performance.now();
for (let i = 0; i < N; i += 1) await empty({});
const unwrapped = (performance.now() - started) / N;
const wrapperUs = (wrapped - unwrapped) * 1000;

const rows = Object.entries(times).map(([op, t]) => {
  const on = median(t.instrumented);
  const off = median(t.bare);
  const control = median(t.control);
  const pct = (x) => `${(((x - off) / off) * 100).toFixed(1)}%`;
  return `| ${op} | ${(off * 1000).toFixed(0)} µs | ${(on * 1000).toFixed(0)} µs | ${pct(on)} | ${pct(control)} | ${((wrapperUs / (off * 1000)) * 100).toFixed(2)}% |`;
});
const chatRows = Object.entries(chatTimes).map(([op, t]) => {
  const before = median(t.unescaped);
  const pct = (x) => `${(((x - before) / before) * 100).toFixed(1)}%`;
  return `| ${op} | ${(before * 1000).toFixed(0)} µs | ${(median(t.escaping) * 1000).toFixed(0)} µs | ${pct(median(t.escaping))} | ${pct(median(t.control))} |`;
});
const cpuRows = Object.entries(cpu).map(([what, t]) =>
  `| ${what} | ${t.unescaped.toFixed(0)} µs | ${t.escaping.toFixed(0)} µs | ${(((t.escaping - t.unescaped) / t.unescaped) * 100).toFixed(1)}% |`);
const report = [
  "# Instrumentation overhead",
  "",
  `Node ${process.version} · ${os.cpus()[0]?.model ?? "cpu"} · ${os.cpus().length} cores · ${new Date().toISOString()}. Absolute times are machine-dependent.`,
  `${ROUNDS} rounds × ${OPS_PER_ROUND} operations per saver and operation, interleaved; medians. Embedded PostgreSQL on localhost (the worst case for relative overhead: the fastest database round trip).`,
  "",
  "| Operation | Bare (metrics, slow log, tracing off) | Instrumented (defaults, no OTel SDK) | Instrumented vs bare | Noise floor: a second bare saver vs bare | Wrapper alone ÷ bare time |",
  "|---|---:|---:|---:|---:|---:|",
  ...rows,
  "",
  `The wrapper alone (histogram, payload histograms, slow-log check, no-op span) costs ${wrapperUs.toFixed(2)} µs per operation; compare the instrumented difference with the noise floor measured between two identical savers.`,
  "",
  "## Keeping look-alike data plain",
  "",
  `A chat state of ${chatMessages.length} real messages (tool calls, tool results; ${stateBytes.byteLength} bytes serialized) and a results object, same rounds.`,
  "Escaping: the default serializer (one walk does the strict checks and escapes look-alikes; the reviver allow-lists). Unescaped: LangGraph's JsonPlusSerializer as this package used it before (the strict walk, then its own reviver).",
  "",
  "| Operation | Unescaped | Escaping | Escaping vs unescaped | Repeat: a second escaping saver vs unescaped |",
  "|---|---:|---:|---:|---:|",
  ...chatRows,
  "",
  "The serializers alone on the same state (CPU only, 2,000 calls each):",
  "",
  "| Work | Unescaped | Escaping | Difference |",
  "|---|---:|---:|---:|",
  ...cpuRows,
  "",
].join("\n");
process.stdout.write(report);
fs.mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
fs.writeFileSync(new URL("./results/instrumentation.md", import.meta.url), report);
