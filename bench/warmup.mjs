// Does warmup() make the first graph step after boot cost what a steady-state
// step costs? Boots a fresh saver many times, with setup() only and with
// warmup(), times the first step of a compiled graph, and compares it with
// the median steady-state step. Absolute times are machine-dependent; the
// ratios are the point.
//   npm run bench:warmup            (embedded PostgreSQL)
//   BENCH_DATABASE_URL=... npm run bench:warmup
import { performance } from "node:perf_hooks";
import { Annotation, END, MemorySaver, START, StateGraph } from "@langchain/langgraph";
import { startEmbeddedPostgres } from "../dist/esm/embedded/server.js";
import { PostgresSaver } from "../dist/esm/index.js";

const BOOTS = Number(process.env.BOOTS ?? 15);
const STEADY_STEPS = 40;

const server = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres();
const url = process.env.BENCH_DATABASE_URL ?? server.url;

// A step that writes like an agent step: a few channels, fan-out to two nodes (concurrent putWrites).
const State = Annotation.Root({
  messages: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }),
  notes: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
const graphFor = (checkpointer) =>
  new StateGraph(State)
    .addNode("plan", () => ({ messages: ["plan"] }))
    .addNode("toolA", () => ({ notes: ["a"] }))
    .addNode("toolB", () => ({ notes: ["b"] }))
    .addEdge(START, "plan")
    .addEdge("plan", "toolA")
    .addEdge("plan", "toolB")
    .addEdge("toolA", END)
    .addEdge("toolB", END)
    .compile({ checkpointer });

async function timeStep(graph, thread) {
  const started = performance.now();
  await graph.invoke({ messages: ["hi"] }, { configurable: { thread_id: thread } });
  return performance.now() - started;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const setupSaver = PostgresSaver.fromConnString(url);
await setupSaver.setup();
await setupSaver.end();

// LangGraph itself makes a graph instance's first step slower than its next
// ones (lazy initialization), whatever the checkpointer: measured with
// MemorySaver as the baseline to subtract.
const modes = {
  "setup() only, connections opened on demand": { warm: false, min: 0 },
  "warmup(), pool.min 2 (default)": { warm: true, min: 2 },
  "warmup(), pool.min 5 (this graph's peak concurrency)": { warm: true, min: 5 },
};
const firsts = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
const memoryFirst = [];
const memorySteady = [];
const steady = [];
for (let boot = 0; boot < BOOTS; boot += 1) {
  const memory = graphFor(new MemorySaver());
  memoryFirst.push(await timeStep(memory, `m-${boot}-1`));
  memorySteady.push(await timeStep(memory, `m-${boot}-2`));
  for (const [name, { warm, min }] of Object.entries(modes)) {
    const saver = PostgresSaver.fromConnString(url, { pool: { min } });
    if (warm) await saver.warmup();
    else await saver.setup();
    const graph = graphFor(saver);
    firsts[name].push(await timeStep(graph, `${boot}-${min}-first`));
    if (boot === 0 && min === 5) {
      for (let i = 0; i < STEADY_STEPS; i += 1) steady.push(await timeStep(graph, `steady-${i}`));
    }
    await saver.end();
  }
}

const steadyMs = median(steady);
const framework = median(memoryFirst) - median(memorySteady);
console.log("\n| first graph step after boot | median ms | minus LangGraph's own first-step cost | ÷ steady state |\n|---|---|---|---|");
for (const [name, xs] of Object.entries(firsts)) {
  const ms = median(xs);
  console.log(`| ${name} | ${ms.toFixed(1)} | ${(ms - framework).toFixed(1)} | ${((ms - framework) / steadyMs).toFixed(2)}× |`);
}
console.log(`| steady-state step (median of ${STEADY_STEPS}) | ${steadyMs.toFixed(1)} | | 1.00× |`);
console.log(`\nLangGraph's own first-step cost (MemorySaver first − second step): ${framework.toFixed(1)} ms.`);
console.log(`${BOOTS} boots; absolute times are machine-dependent.`);
await server?.stop();
