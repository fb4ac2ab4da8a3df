// What do metrics, the slow-operation log and (no-op) tracing cost? Two
// savers on one database run the same operations, interleaved in rounds:
// one with everything on (metrics in a registry, slow log armed, tracing
// through @opentelemetry/api with no SDK), one with metrics: false,
// slowOperationMs: false, tracing: false. Also times the wrapper alone
// around an empty operation. Absolute times are machine-dependent.
//   npm run bench:instrumentation
import fs from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
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
await db.stop();

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
].join("\n");
process.stdout.write(report);
fs.mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
fs.writeFileSync(new URL("./results/instrumentation.md", import.meta.url), report);
