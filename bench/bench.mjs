// Our saver, the official @langchain/langgraph-checkpoint-postgres saver and
// LangGraph's MemorySaver, side by side in one run on one PostgreSQL:
// directly, through a latency proxy (a database in the same region), and
// through PgBouncer when it is installed. Writes bench/results/latest.md,
// latest.json and latest.svg, then runs the growing conversation of
// bench/chat.mjs (chat.md, chat.json) and the store of bench/store.mjs (store.md, store.json). Absolute times depend on the machine;
// the ratios, measured interleaved in the same run, are what carry over.
//   npm run bench                 (embedded PostgreSQL, full sizes)
//   npm run bench -- --quick      (smaller sizes, under two minutes)
//   BENCH_DATABASE_URL=postgres://... npm run bench
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { CONTENDERS, closeSaver } from "./support/contenders.mjs";
import { benchDatabase } from "./support/database.mjs";
import { latencyUrl, runTransport } from "./support/transport.mjs";
import { findPgBouncer, startPgBouncer } from "./support/pgbouncer.mjs";
import { machine, writeReport } from "./support/report.mjs";
import { copyCheckpoints, copyMemoryCheckpoints } from "./support/seed.mjs";
import { evaluateTargets } from "./support/targets.mjs";
import { seedFixtures } from "./support/workloads.mjs";

const SIZES = {
  full: { warmup: 30, iterations: 300, listThread: 10_000, scanThread: 100_000, scans: 3, pendingWrites: 2_000, deleteThread: 1_000, messages: 200, concurrency: [1, 16, 64], graphWaves: [20, 4, 2] },
  quick: { warmup: 5, iterations: 40, listThread: 2_000, scanThread: 10_000, scans: 1, pendingWrites: 2_000, deleteThread: 200, messages: 200, concurrency: [1, 16], graphWaves: [4, 1] },
  // For the test that keeps this program working: every code path, tiny data.
  tiny: { warmup: 1, iterations: 3, listThread: 60, scanThread: 120, scans: 1, pendingWrites: 20, deleteThread: 10, messages: 20, concurrency: [1, 2], graphWaves: [1, 1] },
};

const usageError = (message) => {
  process.stderr.write(`bench: ${message} (see --help)\n`);
  process.exit(2);
};
let args;
try {
  ({ values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    tiny: { type: "boolean", default: false },
    out: { type: "string", default: fileURLToPath(new URL("./results/", import.meta.url)) },
    "delay-ms": { type: "string", default: "0.5" },
    "no-pgbouncer": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  }));
} catch (error) {
  usageError(error.message);
}
if (args.help) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--out <dir>] [--delay-ms <ms>] [--no-pgbouncer]
  --quick          smaller threads and fewer iterations (under two minutes)
  --tiny           tiny sizes, to check the program works (used by the tests)
  --out <dir>      where latest.md, latest.json and latest.svg (and chat.md, chat.json) go (default bench/results)
  --delay-ms <ms>  latency the proxy adds in each direction (default 0.5)
  --no-pgbouncer   skip the PgBouncer leg even when pgbouncer is installed
BENCH_DATABASE_URL selects the server; otherwise an embedded PostgreSQL is started.
`);
  process.exit(0);
}
const delayMs = Number(args["delay-ms"]);
if (!(delayMs >= 0)) usageError(`--delay-ms must be a number of milliseconds ≥ 0, got ${JSON.stringify(args["delay-ms"])}`);
const preset = args.tiny ? "tiny" : args.quick ? "quick" : "full";
const sizes = SIZES[preset];
const started = Date.now();
const log = (line) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

const db = await benchDatabase();
const admin = new pg.Pool({ connectionString: db.url, max: 2 });
// An idle connection the server drops as it stops (a pool's end() resolves before its sockets
// close) must not crash the run after the results are written.
admin.on("error", () => {});
const cleanups = [() => db.stop(), () => admin.end()];
try {
  const { rows: [server] } = await admin.query("SELECT version() AS version, current_setting('fsync') AS fsync");

  log("seeding: each contender writes its own fixtures, then big threads are copied in SQL");
  const seeded = {};
  for (const contender of CONTENDERS) {
    if (contender.database) await admin.query(`DROP SCHEMA IF EXISTS ${contender.schema} CASCADE; CREATE SCHEMA ${contender.schema}`);
    const saver = contender.create(db.url);
    if (contender.database) await saver.setup();
    const copy = contender.database
      ? (from, to, count) => copyCheckpoints(admin, contender.schema, { from, to, count })
      : async (from, to, count) => copyMemoryCheckpoints(saver, { from, to, count });
    seeded[contender.id] = { saver, copy, fixtures: await seedFixtures(saver, copy, sizes) };
  }
  for (const contender of CONTENDERS.filter((c) => c.database)) {
    await closeSaver(seeded[contender.id].saver);
    await admin.query(`VACUUM ANALYZE ${contender.schema}.checkpoints, ${contender.schema}.checkpoint_blobs, ${contender.schema}.checkpoint_writes`);
  }

  const transports = [{ id: "direct", label: "direct (localhost)", url: db.url }];
  const proxy = await latencyUrl(db.url, delayMs);
  cleanups.push(proxy.close);
  transports.push({ id: "proxy", label: `through a latency proxy (${delayMs} ms each way)`, url: proxy.url });
  if (!args["no-pgbouncer"] && findPgBouncer()) {
    try {
      const bouncer = await startPgBouncer(db.url);
      cleanups.push(bouncer.stop);
      transports.push({ id: "pgbouncer", label: "through PgBouncer (transaction mode)", url: bouncer.via(db.url) });
    } catch (error) {
      log(`PgBouncer leg skipped: ${error.message}`);
    }
  }

  const results = [];
  for (const transport of transports) {
    results.push(await runTransport(transport, { seeded, sizes, log }));
  }
  const result = {
    meta: {
      ...machine(),
      quick: preset !== "full",
      preset,
      delayMs,
      postgres: server.version.split(" on ")[0],
      fsync: server.fsync,
      sizes,
      contenders: CONTENDERS.map(({ id, label }) => ({ id, label })),
      durationSeconds: Math.round((Date.now() - started) / 1000),
    },
    transports: results,
  };
  result.targets = evaluateTargets(result);
  process.stdout.write(writeReport(result, args.out));
  log(`wrote latest.md, latest.json and latest.svg to ${args.out}`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

// The growing conversation (bench/chat.mjs: a chat on MessagesAnnotation, ours against the
// official saver, 100 to 1,000 turns) runs next, in a process of its own, at the same size.
// Its report goes to stderr and chat.md, so stdout stays latest.md.
const chat = spawnSync(
  process.execPath,
  [fileURLToPath(new URL("./chat.mjs", import.meta.url)), ...(preset === "full" ? [] : [`--${preset}`]), "--out", args.out],
  { stdio: ["ignore", 2, 2] },
);
if (chat.status !== 0) process.exitCode = chat.status ?? 1;

// The long-term memory store against the official one (bench/store.mjs: store.md, store.json).
const store = spawnSync(
  process.execPath,
  [fileURLToPath(new URL("./store.mjs", import.meta.url)), ...(preset === "full" ? [] : [`--${preset}`]), "--out", args.out],
  { stdio: ["ignore", 2, 2] },
);
if (store.status !== 0) process.exitCode = store.status ?? 1;
