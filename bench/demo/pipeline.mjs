// One run of the audio pipeline graph on one thread, checkpointed in PostgreSQL.
// Started by run.mjs with child_process.fork (never directly): it reports
// progress and the saver's metrics over IPC, and with --crash-in <stage> it
// really dies (process.exit) halfway through that stage, like a killed pod.
//   argv: --thread <id> [--crash-in <stage>]     env: DATABASE_URL
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { Registry } from "prom-client";
import { createCheckpointer } from "../../dist/esm/index.js";
import * as work from "./audio.mjs";
import { CRASH_EXIT_CODE, SEED, STAGES } from "./protocol.mjs";

if (!process.send) {
  console.error("bench/demo/pipeline.mjs is started by bench/demo/run.mjs: run `npm run demo`");
  process.exit(2);
}
const { values: args } = parseArgs({ options: { thread: { type: "string" }, "crash-in": { type: "string" } } });

/** Resolves once the message is handed to the parent, so nothing is lost when we exit right after. */
const send = (message) => new Promise((resolve, reject) => process.send(message, (e) => (e ? reject(e) : resolve())));

const State = Annotation.Root({
  seed: Annotation(),
  audio: Annotation(),
  segments: Annotation(),
  transcript: Annotation(),
  turns: Annotation(),
  speakers: Annotation(),
  exported: Annotation(),
  // Which process ran each stage: the database's own record of the crash and the resume.
  completed: Annotation({ reducer: (done, more) => done.concat(more), default: () => [] }),
});

/** The work of each stage: a generator from audio.mjs that yields progress and returns the state update. */
const WORK = {
  convert: (s) => work.convert(s.seed),
  diarize: (s) => work.diarize(s.audio),
  transcribe: (s) => work.transcribe(s.seed, s.segments),
  merge: (s) => work.merge(s.transcript),
  export: (s) => work.exportSrt(s.audio, s.turns, s.speakers),
};

/** Simulated service time per stage (ms): the real work takes a few ms, a real ASR service would not. */
const SERVICE_MS = { convert: 300, diarize: 250, transcribe: 450, merge: 200, export: 250 };

const registry = new Registry();
const snapshot = async () => send({ type: "metrics", metrics: await registry.getMetricsAsJSON() });

function node(stage) {
  return async (state) => {
    // With durability "sync" every earlier checkpoint is stored by now, so this snapshot counts them.
    await snapshot();
    await send({ type: "stage", stage, event: "start" });
    const started = performance.now();
    const steps = WORK[stage](state);
    let done = 0;
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) {
        const ms = Math.round(performance.now() - started);
        await send({ type: "stage", stage, event: "done", ms });
        return { ...step.value, completed: [{ stage, pid: process.pid, ms }] };
      }
      await sleep(SERVICE_MS[stage] * (step.value - done));
      done = step.value;
      await send({ type: "stage", stage, event: "progress", fraction: done });
      if (stage === args["crash-in"] && done >= 0.5) {
        await snapshot(); // this process's metrics die with it
        process.exit(CRASH_EXIT_CODE); // a real crash: no cleanup, no saver.end()
      }
    }
  };
}

let builder = new StateGraph(State);
for (const stage of STAGES) builder = builder.addNode(stage, node(stage));
builder = builder.addEdge(START, STAGES[0]).addEdge(STAGES.at(-1), END);
for (let i = 1; i < STAGES.length; i++) builder = builder.addEdge(STAGES[i - 1], STAGES[i]);

const checkpointer = await createCheckpointer({
  url: process.env.DATABASE_URL,
  fallback: "throw", // a memory fallback could not be resumed by the next process
  metrics: { registry },
  pool: { min: 1 },
  // The saver's warnings go to the parent, which prints them without breaking its progress line.
  logger: {
    debug() {},
    info() {},
    warn: (message, fields) => void send({ type: "log", level: "warn", message, fields }).catch(() => {}),
    error: (message, fields) => void send({ type: "log", level: "error", message, fields }).catch(() => {}),
  },
});
try {
  const graph = builder.compile({ checkpointer });
  const config = { configurable: { thread_id: args.thread } };
  // A thread with a checkpoint resumes from it: LangGraph re-runs only the stages after it.
  const existing = await checkpointer.getTuple(config);
  // "sync": each step's checkpoint is stored before the next stage starts, so a crash loses only the stage in flight.
  await graph.invoke(existing ? null : { seed: SEED }, { ...config, durability: "sync" });
  await snapshot();
} finally {
  await checkpointer.end();
}
