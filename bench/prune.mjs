// What pruning costs and what it does to graphs writing at the same time.
// THREADS threads of CHECKPOINTS checkpoints each (20 channels, every one
// changed at every step, 2 pending writes per checkpoint: the worst case for
// values per checkpoint) are pruned to KEEP_LAST per thread while LIVE
// writers keep putting checkpoints on threads of their own. Then the same
// table is pruned the way a hand-written cron job does it, one DELETE per
// table in one transaction, for comparison.
//   npm run bench:prune                    (embedded PostgreSQL, fsync on)
//   BENCH_DATABASE_URL=... npm run bench:prune
import fs from "node:fs";
import os from "node:os";
import pg from "pg";
import { PostgresSaver } from "../dist/esm/index.js";
import { benchDatabase, percentile } from "./support/database.mjs";
import { copyCheckpoints } from "./support/seed.mjs";
import { ThreadWriter } from "./support/threads.mjs";

const THREADS = Number(process.env.THREADS ?? 100);
const CHECKPOINTS = Number(process.env.CHECKPOINTS ?? 200);
const KEEP_LAST = Number(process.env.KEEP_LAST ?? 10);
const LIVE = Number(process.env.LIVE ?? 4);
const BASELINE_MS = 5_000;
const schema = "bench_prune";

const db = await benchDatabase();
const admin = new pg.Pool({ connectionString: db.url, max: 4 });
const timings = [];
// The saver's statements, each timed, to find the longest one (the longest any lock is held).
class TimedClient extends pg.Client {
  async query(...args) {
    const started = performance.now();
    try {
      return await super.query(...args);
    } finally {
      const text = typeof args[0] === "string" ? args[0] : args[0]?.text ?? "";
      if (/DELETE|UPDATE/.test(text)) timings.push(performance.now() - started);
    }
  }
}
const prunePool = new pg.Pool({ connectionString: db.url, max: 2, Client: TimedClient });
const pruner = new PostgresSaver(prunePool, undefined, { schema, metrics: false });
const writerSaver = PostgresSaver.fromConnString(db.url, { schema, metrics: false, pool: { max: LIVE + 2 } });

async function seed() {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pruner.setup();
  for (let t = 0; t < THREADS; t += 1) {
    const writer = new ThreadWriter(writerSaver, `old-${t}`);
    await writer.put(20);
    await copyCheckpoints(admin, schema, { from: `old-${t}`, to: `old-${t}`, count: CHECKPOINTS - 1 });
  }
  await admin.query(`
    INSERT INTO ${schema}.checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
    SELECT c.thread_id, '', c.checkpoint_id, 'task-' || i, '', 0, 'channel_0', 'json', convert_to('{"result":"' || repeat('x', 200) || '"}', 'UTF8')
    FROM ${schema}.checkpoints c, generate_series(1, 2) AS i`);
  await admin.query(`VACUUM ANALYZE ${schema}.checkpoints, ${schema}.checkpoint_blobs, ${schema}.checkpoint_writes`);
  return rowCounts();
}

async function rowCounts() {
  const { rows: [r] } = await admin.query(`SELECT
    (SELECT count(*) FROM ${schema}.checkpoints)::int AS checkpoints,
    (SELECT count(*) FROM ${schema}.checkpoint_writes)::int AS writes,
    (SELECT count(*) FROM ${schema}.checkpoint_blobs)::int AS blobs`);
  return r;
}

/** LIVE threads putting checkpoints back to back until `stop()`; returns each put's latency in ms. */
function liveWriters(phase) {
  let running = true;
  const latencies = [];
  const loops = Array.from({ length: LIVE }, async (_, i) => {
    const writer = new ThreadWriter(writerSaver, `live-${phase}-${i}`);
    while (running) {
      const started = performance.now();
      await writer.put(5);
      latencies.push(performance.now() - started);
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
    return latencies;
  };
}

const summary = (xs) => ({ puts: xs.length, p50: percentile(xs, 0.5), p99: percentile(xs, 0.99), max: Math.max(...xs) });
const ms = (x) => `${x.toFixed(2)} ms`;
const results = {};

const seeded = await seed();
let stop = liveWriters("baseline");
await new Promise((resolve) => setTimeout(resolve, BASELINE_MS));
results.baseline = summary(await stop());

timings.length = 0;
stop = liveWriters("ours");
let started = performance.now();
const pruned = await pruner.prune({ keepLast: KEEP_LAST, threadIds: Array.from({ length: THREADS }, (_, t) => `old-${t}`) });
const oursMs = performance.now() - started;
results.ours = { ...summary(await stop()), wallMs: oursMs, statements: timings.length, longestStatementMs: Math.max(...timings) };
const afterOurs = await rowCounts();

await seed();
stop = liveWriters("naive");
started = performance.now();
const client = await admin.connect();
await client.query("BEGIN");
await client.query(`
  WITH doomed AS (
    SELECT thread_id, checkpoint_ns, checkpoint_id FROM (
      SELECT thread_id, checkpoint_ns, checkpoint_id,
             row_number() OVER (PARTITION BY thread_id, checkpoint_ns ORDER BY checkpoint_id DESC) AS rn
      FROM ${schema}.checkpoints WHERE thread_id LIKE 'old-%') ranked
    WHERE rn > $1
  ), w AS (
    DELETE FROM ${schema}.checkpoint_writes x USING doomed d
    WHERE x.thread_id = d.thread_id AND x.checkpoint_ns = d.checkpoint_ns AND x.checkpoint_id = d.checkpoint_id
  )
  DELETE FROM ${schema}.checkpoints x USING doomed d
  WHERE x.thread_id = d.thread_id AND x.checkpoint_ns = d.checkpoint_ns AND x.checkpoint_id = d.checkpoint_id`, [KEEP_LAST]);
await client.query(`
  DELETE FROM ${schema}.checkpoint_blobs b WHERE b.thread_id LIKE 'old-%' AND NOT EXISTS (
    SELECT 1 FROM ${schema}.checkpoints c
    WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns
      AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)`);
await client.query("COMMIT");
client.release();
results.naive = { ...summary(await stop()), wallMs: performance.now() - started };

await pruner.end();
await prunePool.end();
await writerSaver.end();
await admin.end();
await db.stop();

const removed = pruned.checkpoints + pruned.writes + pruned.blobs;
const lines = [
  `# Pruning ${THREADS} threads of ${CHECKPOINTS} checkpoints to the newest ${KEEP_LAST}, with ${LIVE} graphs writing`,
  "",
  `Node ${process.version} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"} · PostgreSQL with fsync on · ${new Date().toISOString()}`,
  "",
  `Table before: ${seeded.checkpoints} checkpoints, ${seeded.writes} writes, ${seeded.blobs} values (20 channels, all changed at every step).`,
  `\`prune({ keepLast: ${KEEP_LAST} })\` removed ${pruned.checkpoints} checkpoints, ${pruned.writes} writes and ${pruned.blobs} values`,
  `(left: ${afterOurs.checkpoints} checkpoints, ${afterOurs.writes} writes, ${afterOurs.blobs} values, the live writers' included)`,
  `in ${(oursMs / 1000).toFixed(1)} s: ${Math.round(removed / (oursMs / 1000))} rows/s, in ${results.ours.statements} delete statements (batches of 500),`,
  `the longest of which took ${ms(results.ours.longestStatementMs)}.`,
  "",
  "A put of a live graph (5 changed channels) while each ran:",
  "",
  "| While | Puts | p50 | p99 | max | Pruning took |",
  "|---|---:|---:|---:|---:|---:|",
  `| nothing (baseline, ${BASELINE_MS / 1000} s) | ${results.baseline.puts} | ${ms(results.baseline.p50)} | ${ms(results.baseline.p99)} | ${ms(results.baseline.max)} | — |`,
  `| \`prune()\` | ${results.ours.puts} | ${ms(results.ours.p50)} | ${ms(results.ours.p99)} | ${ms(results.ours.max)} | ${(results.ours.wallMs / 1000).toFixed(1)} s |`,
  `| one transaction of DELETEs (a hand-written cron job) | ${results.naive.puts} | ${ms(results.naive.p50)} | ${ms(results.naive.p99)} | ${ms(results.naive.max)} | ${(results.naive.wallMs / 1000).toFixed(1)} s |`,
  "",
  "The hand-written version holds every deleted row locked until it commits, and ignores what delta channels need.",
];
const report = lines.join("\n") + "\n";
process.stdout.write(report);
fs.mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
fs.writeFileSync(new URL("./results/prune.md", import.meta.url), report);
