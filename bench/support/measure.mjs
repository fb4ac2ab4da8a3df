// Timing, interleaved. Contenders take turns in short batches, in an order
// that rotates every round, so whatever drifts during a run (autovacuum, CPU
// frequency, a noisy neighbour, a growing table) touches all of them alike.
// A ratio of two numbers measured minutes apart on a shared machine is noise.
import { performance } from "node:perf_hooks";

/**
 * Runs `turn(contender, round)` for every contender in every round, rotating
 * who goes first.
 */
export async function interleave(contenders, rounds, turn) {
  for (let round = 0; round < rounds; round += 1) {
    for (let k = 0; k < contenders.length; k += 1) {
      await turn(contenders[(round + k) % contenders.length], round);
    }
  }
}

/**
 * Times single operations. Each contender is `{ id, op(i), prepare?(i) }`:
 * `prepare` runs untimed before each timed `op` (e.g. to create the thread a
 * delete will remove). `warmup` untimed operations each come first.
 */
export async function timeOperations(contenders, { warmup, iterations, batch = 10 }) {
  const samples = new Map(contenders.map((c) => [c.id, []]));
  const next = new Map(contenders.map((c) => [c.id, 0]));
  const once = async (c) => {
    const i = next.get(c.id);
    next.set(c.id, i + 1);
    if (c.prepare) await c.prepare(i);
    const start = performance.now();
    await c.op(i);
    return performance.now() - start;
  };
  await interleave(contenders, warmup, once);
  const rounds = Math.ceil(iterations / batch);
  await interleave(contenders, rounds, async (c) => {
    for (let k = 0; k < batch; k += 1) samples.get(c.id).push(await once(c));
  });
  return Object.fromEntries([...samples].map(([id, xs]) => [id, summarize(xs)]));
}

/** p50, p99 and mean in milliseconds; ops/s for one caller doing one operation after another. */
export function summarize(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), mean, opsPerSec: 1000 / mean };
}
