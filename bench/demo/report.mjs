// The end of the demo: the pipeline's result as stored in PostgreSQL, and
// what the checkpointer did, from its own metrics (never from our timers).
import { summarize } from "./stats.mjs";

const kib = (bytes) => (bytes < 1024 ? `${Math.round(bytes)} B` : `${(bytes / 1024).toFixed(1)} KiB`);
const ms = (seconds) => (Number.isNaN(seconds) ? "n/a" : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`);

/** "convert, diarize (pid 11) → transcribe, merge, export (pid 12)": the crash and the resume, as the database recorded them. */
function byProcess(completed) {
  const groups = [];
  for (const { stage, pid } of completed) {
    if (groups.at(-1)?.pid === pid) groups.at(-1).stages.push(stage);
    else groups.push({ pid, stages: [stage] });
  }
  return groups.map((g) => `${g.stages.join(", ")} (pid ${g.pid})`).join(" → ");
}

export async function report(ui, { saver, thread, status, runs }) {
  const { exported, completed } = status.values;
  const { seconds, speakers, turns, words } = exported.summary;
  ui.line(`\nresult, read back from PostgreSQL:`);
  ui.line(`  ${seconds} s of audio → ${speakers} speakers, ${turns} turns, ${words} words; exported as ${exported.format.toUpperCase()} (${kib(exported.bytes)})`);
  ui.line(`  stages ran in: ${byProcess(completed)}`);
  for (const cue of exported.text.split("\n\n").slice(0, 2)) {
    const [, time, text] = cue.split("\n");
    ui.line(ui.dim(`    ${time}  ${text.length > 72 ? `${text.slice(0, 71)}…` : text}`));
  }

  let rows = 0;
  for await (const _ of saver.list({ configurable: { thread_id: thread } })) rows++;
  if (runs.length === 0) {
    ui.line(`  ${rows} checkpoints of this thread are in PostgreSQL (counted with saver.list)`);
    return;
  }
  const m = summarize(runs.map((r) => r.metrics));
  const ratio = m.written.stored > 0 ? (m.written.raw / m.written.stored).toFixed(1) : "n/a";
  ui.line(`\ncheckpointer metrics, from the saver's own prom-client registry (${runs.length === 1 ? "1 run" : `${runs.length} runs summed`}):`);
  ui.line(`  checkpoints written  ${m.checkpointsWritten} (put operations); ${rows} checkpoint rows for this thread in PostgreSQL (saver.list)`);
  ui.line(`  bytes written        ${kib(m.written.raw)} serialized → ${kib(m.written.stored)} stored (${ratio}× smaller after compaction)`);
  if (m.errors > 0) ui.line(`  failed operations    ${m.errors}`);
  ui.line(`  latency              p50 / p99 per operation, estimated from histogram buckets:`);
  for (const op of m.operations) {
    ui.line(`    ${op.operation.padEnd(11)} ${String(op.count).padStart(3)} ×   p50 ${ms(op.p50).padStart(8)}   p99 ${ms(op.p99).padStart(8)}`);
  }
}
