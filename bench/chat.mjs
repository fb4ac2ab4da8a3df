// A growing chat thread, our saver against the official
// @langchain/langgraph-checkpoint-postgres saver: a real compiled graph on
// MessagesAnnotation (bench/support/chat.mjs) runs 100, 300 and 1,000 turns
// on one thread per saver, the two savers taking turns, each in a fresh
// schema of one database and each through a byte-counting TCP proxy of its
// own. Reports what the thread leaves on disk, the bytes each turn sends,
// how per-turn time grows from the first turns to the last, and how long
// reading the thread back (getTuple) takes at the end. Writes
// bench/results/chat.md, chat.json (with every turn's time, per saver and
// length) and chat.svg (per-turn time over the turns and disk per length,
// drawn by bench/support/chat-chart.mjs).
//   npm run bench:chat                       (embedded PostgreSQL; 100, 300, 1000 turns)
//   npm run bench:chat -- --quick            (100 and 300 turns)
//   npm run bench:chat -- --turns 50,500
//   BENCH_DATABASE_URL=postgres://... npm run bench:chat
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import pg from "pg";
import { CHAT_CONTENDERS, WORDS_PER_MESSAGE, buildChatGraph, chatTableSizes, chatTurn } from "./support/chat.mjs";
import { SMOOTHING_TURNS, renderChatSvg } from "./support/chat-chart.mjs";
import { closeSaver } from "./support/contenders.mjs";
import { machine } from "./support/report.mjs";
import { benchDatabase, median } from "./support/database.mjs";
import { interleave, timeOperations } from "./support/measure.mjs";

const PRESETS = {
  full: { turns: [100, 300, 1000], getTupleWarmup: 20, getTupleCalls: 200 },
  quick: { turns: [100, 300], getTupleWarmup: 20, getTupleCalls: 200 },
  // For the test that keeps this program working.
  tiny: { turns: [20], getTupleWarmup: 2, getTupleCalls: 10 },
};
/**
 * Reading a long thread back takes long (about 0.3 s for the official saver
 * at 1,000 turns), so longer threads get fewer getTuple calls: at most
 * GET_TUPLE_BUDGET ÷ turns, never fewer than 50 (a p50 of 50 calls is
 * stable; the slow thread's own cost is what is being measured).
 */
const GET_TUPLE_BUDGET = 60_000;
const getTupleCalls = (turns) => Math.min(settings.getTupleCalls, Math.max(50, Math.round(GET_TUPLE_BUDGET / turns)));
/** Turns per window the first and last turns are compared over (turn 1, which opens connections, is left out). */
const WINDOW = 30;
const VACUUM = "VACUUM";

const usageError = (message) => {
  process.stderr.write(`bench:chat: ${message} (see --help)\n`);
  process.exit(2);
};
let args;
try {
  ({ values: args } = parseArgs({
    options: {
      turns: { type: "string" },
      quick: { type: "boolean", default: false },
      tiny: { type: "boolean", default: false },
      out: { type: "string", default: fileURLToPath(new URL("./results/", import.meta.url)) },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (error) {
  usageError(error.message);
}
if (args.help) {
  process.stdout.write(`usage: npm run bench:chat -- [--turns 100,300,1000] [--quick] [--tiny] [--out <dir>]
  --turns <list>  conversation lengths to run, comma-separated (default 100,300,1000)
  --quick         100 and 300 turns
  --tiny          20 turns and few getTuple calls, to check the program works (used by the tests)
  --out <dir>     where chat.md, chat.json and chat.svg go (default bench/results)
BENCH_DATABASE_URL selects the server; otherwise an embedded PostgreSQL is started.
`);
  process.exit(0);
}
const preset = args.tiny ? "tiny" : args.quick ? "quick" : "full";
const settings = { ...PRESETS[preset] };
if (args.turns !== undefined) {
  settings.turns = args.turns.split(",").map((s) => Number(s.trim()));
  if (!settings.turns.every((n) => Number.isInteger(n) && n >= 3)) {
    usageError(`--turns must be whole numbers of at least 3, comma-separated, got ${JSON.stringify(args.turns)}`);
  }
}

const started = Date.now();
const log = (line) => process.stderr.write(`[bench:chat ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

// ---------------------------------------------------------------- byte counting

// A zero-latency TCP proxy that counts the bytes going each way. It runs on a
// worker thread, so forwarding does not compete with the savers for the
// benchmark's event loop, and publishes its counts in shared memory, so
// reading them between turns costs nothing.
const COUNTING_PROXY = `
const { parentPort, workerData } = require("node:worker_threads");
const { Socket, createServer } = require("node:net");
const counts = new BigInt64Array(workerData.counts);
const server = createServer((client) => {
  const upstream = new Socket();
  for (const s of [client, upstream]) s.setNoDelay(true);
  upstream.connect(workerData.port, workerData.host);
  client.on("data", (chunk) => Atomics.add(counts, 0, BigInt(chunk.length)));
  upstream.on("data", (chunk) => Atomics.add(counts, 1, BigInt(chunk.length)));
  client.pipe(upstream);
  upstream.pipe(client);
  const drop = () => { client.destroy(); upstream.destroy(); };
  for (const s of [client, upstream]) { s.on("error", drop); s.on("close", drop); }
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port));`;

/** A counting proxy in front of `url`'s server: `{ url, counts() → { sent, received }, close() }`. */
async function countingProxy(url) {
  const target = new URL(url);
  const counts = new BigInt64Array(new SharedArrayBuffer(16));
  const worker = new Worker(COUNTING_PROXY, {
    eval: true,
    workerData: { counts: counts.buffer, port: Number(target.port || 5432), host: target.hostname },
  });
  const port = await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  worker.unref();
  target.hostname = "127.0.0.1";
  target.port = String(port);
  return {
    url: target.toString(),
    counts: () => ({ sent: Number(Atomics.load(counts, 0)), received: Number(Atomics.load(counts, 1)) }),
    close: () => worker.terminate(),
  };
}

// ---------------------------------------------------------------- one conversation length

/**
 * Both savers hold a conversation of `turns` turns on one thread each, taking
 * turns (who goes first alternates), so whatever drifts during the run
 * touches both alike. Returns every measurement for this length.
 */
async function runLength(turns, admin, url) {
  const runStarted = Date.now();
  const threadId = `chat-${turns}`;
  const sides = [];
  for (const c of CHAT_CONTENDERS) {
    await admin.query(`DROP SCHEMA IF EXISTS "${c.schema}" CASCADE; CREATE SCHEMA "${c.schema}"`);
    const proxy = await countingProxy(url);
    const saver = c.create(proxy.url);
    await saver.setup();
    sides.push({ ...c, proxy, saver, graph: buildChatGraph(saver), turnMs: [], sent: [], received: [] });
  }
  try {
    await interleave(sides, turns, async (side, round) => {
      const turn = round + 1;
      const before = side.proxy.counts();
      const t0 = performance.now();
      await chatTurn(side.graph, threadId, turn);
      side.turnMs.push(performance.now() - t0);
      const after = side.proxy.counts();
      side.sent.push(after.sent - before.sent);
      side.received.push(after.received - before.received);
      const lastThisRound = side === sides[(round + sides.length - 1) % sides.length]; // interleave's order
      if (turn % 100 === 0 && lastThisRound) log(`${turns} turns: turn ${turn}`);
    });
    const config = { configurable: { thread_id: threadId, checkpoint_ns: "" } };
    for (const side of sides) {
      const tuple = await side.saver.getTuple(config);
      const messages = tuple?.checkpoint.channel_values.messages?.length;
      if (messages !== 2 * turns) throw new Error(`${side.id}: getTuple returned ${messages} messages, expected ${2 * turns}`);
    }
    const calls = getTupleCalls(turns);
    log(`${turns} turns: getTuple on the final thread, ${calls} calls each, interleaved`);
    const getTuple = await timeOperations(
      sides.map((side) => ({ id: side.id, op: () => side.saver.getTuple(config) })),
      { warmup: Math.min(settings.getTupleWarmup, Math.ceil(calls / 10)), iterations: calls, batch: Math.min(10, calls) },
    );
    for (const side of sides) {
      await closeSaver(side.saver);
      await side.proxy.close();
      side.closed = true;
    }
    log(`${turns} turns: ${VACUUM} and table sizes`);
    const results = {};
    for (const side of sides) {
      results[side.id] = {
        ...(await chatTableSizes(admin, side.schema, { vacuum: VACUUM })),
        ...windows(side, turns),
        getTuple: getTuple[side.id],
        // Every turn's wall time in ms, turn 1 first, to the microsecond: what chat.svg draws.
        turnMsEach: side.turnMs.map((x) => Math.round(x * 1000) / 1000),
      };
      await admin.query(`DROP SCHEMA "${side.schema}" CASCADE`);
    }
    const { ours, official } = results;
    return {
      turns,
      messages: 2 * turns,
      seconds: (Date.now() - runStarted) / 1000,
      results,
      ratios: {
        disk: official.diskBytes / ours.diskBytes,
        payload: official.payloadBytes / ours.payloadBytes,
        sentPerTurnLast: official.sentPerTurn.last / ours.sentPerTurn.last,
        sentTotal: official.sentTotal / ours.sentTotal,
        turnMsLast: official.turnMs.last / ours.turnMs.last,
        getTupleP50: official.getTuple.p50 / ours.getTuple.p50,
      },
    };
  } finally {
    for (const side of sides) {
      if (side.closed) continue;
      await closeSaver(side.saver).catch(() => {});
      await side.proxy.close();
    }
  }
}

/** Medians over the first and the last turns (turn 1 left out), and the totals. */
function windows(side, turns) {
  const w = Math.min(WINDOW, Math.floor((turns - 1) / 2));
  const first = (xs) => median(xs.slice(1, 1 + w));
  const last = (xs) => median(xs.slice(turns - w));
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  return {
    window: { turns: w, first: [2, 1 + w], last: [turns - w + 1, turns] },
    turnMs: { first: first(side.turnMs), last: last(side.turnMs), growth: last(side.turnMs) / first(side.turnMs), total: sum(side.turnMs) },
    sentPerTurn: { first: first(side.sent), last: last(side.sent) },
    receivedPerTurn: { first: first(side.received), last: last(side.received) },
    sentTotal: sum(side.sent),
    receivedTotal: sum(side.received),
  };
}

// ---------------------------------------------------------------- report

const isNum = (x) => typeof x === "number" && Number.isFinite(x);
const DASH = "—";
const int = (n) => (isNum(n) ? Math.round(n).toLocaleString("en-US") : DASH);
const times = (x) => (isNum(x) ? `${x.toFixed(2)}×` : DASH);
function bytes(n) {
  if (!isNum(n)) return DASH;
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}
function ms(x) {
  if (!isNum(x)) return DASH;
  if (x >= 1000) return `${(x / 1000).toFixed(2)} s`;
  return `${x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0)} ms`;
}
const table = (head, align, rows) =>
  [head, align, ...rows].map((cells, i) => (i === 1 ? `|${cells.join("|")}|` : `| ${cells.join(" | ")} |`)).join("\n");

function renderMarkdown(result) {
  const { meta, runs } = result;
  const rows = runs.flatMap((run) =>
    meta.contenders.map(({ id }) => {
      const r = run.results[id];
      return [int(run.turns), id, bytes(r.diskBytes), bytes(r.payloadBytes), int(r.rows.checkpoints), int(r.rows.blobs), int(r.rows.writes),
        bytes(r.sentPerTurn.first), bytes(r.sentPerTurn.last), bytes(r.sentTotal), bytes(r.receivedPerTurn.last),
        ms(r.turnMs.first), ms(r.turnMs.last), times(r.turnMs.growth), ms(r.getTuple.p50), ms(r.getTuple.p99), int(r.getTuple.n)];
    }),
  );
  const ratioRows = runs.map((run) => {
    const q = run.ratios;
    return [int(run.turns), times(q.disk), times(q.payload), times(q.sentPerTurnLast), times(q.sentTotal), times(q.turnMsLast), times(q.getTupleP50), `${run.seconds.toFixed(0)} s`];
  });
  const w = runs[0]?.results.ours.window;
  return [
    "# Growing chat thread: langgraph-checkpoint-pg vs the official PostgreSQL saver",
    `${meta.date.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC")} · Node ${meta.node} · ${meta.cpu} (${meta.cores} cores) · ` +
      `${meta.postgres}, fsync ${meta.fsync} · ${meta.preset} run (${meta.turns.join(", ")} turns), took ${meta.durationSeconds} s.`,
    `A compiled LangGraph graph on \`MessagesAnnotation\` (bench/support/chat.mjs): each turn is one \`graph.invoke\` with a ${WORDS_PER_MESSAGE}-word ` +
      `HumanMessage, answered by one node with a ${WORDS_PER_MESSAGE}-word AIMessage, on one thread per saver; the two savers take turns. ` +
      `Contenders: ${meta.contenders.map((c) => `${c.id} = ${c.label}`).join("; ")}, each with its default options (ours without metrics), ` +
      "in a fresh schema of one database, each through a zero-latency byte-counting TCP proxy of its own.",
    `Disk is \`pg_total_relation_size\` of checkpoints + checkpoint_blobs + checkpoint_writes (heap, TOAST, indexes) after \`${meta.vacuum}\` ` +
      "(the savers only insert here, so VACUUM FULL has nothing to reclaim: it measured the same within 1%); " +
      "payload is `sum(octet_length(blob))` over blobs and writes: the serialized values as stored, before TOAST compresses them. " +
      `"Sent" is client→server bytes of one turn (every statement of it, SQL text included), "received" server→client; "first"/"last" the medians over turns ${w?.first.join("–")} and the last ${w?.turns} turns (turn 1 opens connections); ` +
      `turn time likewise; growth = last ÷ first. getTuple: the finished thread read back by each saver, interleaved, after untimed warm-up calls (fewer calls on longer threads).`,
    "## Per saver",
    table(
      ["Turns", "Saver", "Disk", "Payload", "Checkpoints", "Blob rows", "Write rows", "Sent/turn, first", "Sent/turn, last", "Sent, all turns", "Received/turn, last", "Turn, first", "Turn, last", "Growth", "getTuple p50", "getTuple p99", "getTuple calls"],
      ["---:", "---", ...Array(15).fill("---:")],
      rows,
    ),
    "## Official ÷ ours",
    "Above 1× means ours stores, sends or takes less.",
    table(
      ["Turns", "Disk", "Payload", "Sent/turn, last", "Sent, all turns", "Turn time, last", "getTuple p50", "Run took"],
      ["---:", ...Array(7).fill("---:")],
      ratioRows,
    ),
    `![Per-turn time over the conversation (rolling median of ${SMOOTHING_TURNS} turns) and tables on disk, per saver](chat.svg)`,
  ].join("\n\n") + "\n";
}

/**
 * JSON.stringify(…, null, 2), but arrays of numbers on one line (turnMsEach has a number per turn).
 * Only arrays laid out over lines match: a string in JSON holds no raw line break.
 */
const toJson = (value) =>
  JSON.stringify(value, null, 2).replace(/\[\n\s*(-?[\d.e+-]+(?:,\n\s*-?[\d.e+-]+)*)\n\s*\]/g, (_, list) => `[${list.split(/,\s*/).join(", ")}]`);

// ---------------------------------------------------------------- main

let exitCode = 0;
const db = await benchDatabase();
const admin = new pg.Pool({ connectionString: db.url, max: 2 });
// An idle connection the server drops as it stops (a pool's end() resolves before its sockets
// close) must not crash the run after the results are written.
admin.on("error", () => {});
try {
  const { rows: [server] } = await admin.query("SELECT version() AS version, current_setting('fsync') AS fsync");
  const runs = [];
  for (const turns of settings.turns) {
    log(`${turns} turns, ${CHAT_CONTENDERS.map((c) => c.id).join(" and ")} taking turns`);
    runs.push(await runLength(turns, admin, db.url));
  }
  const result = {
    meta: {
      ...machine(),
      postgres: server.version.split(" on ")[0].match(/^PostgreSQL \S+/)?.[0] ?? server.version,
      fsync: server.fsync,
      preset,
      turns: settings.turns,
      wordsPerMessage: WORDS_PER_MESSAGE,
      vacuum: VACUUM,
      getTupleCalls: Object.fromEntries(settings.turns.map((t) => [t, getTupleCalls(t)])),
      contenders: CHAT_CONTENDERS.map(({ id, label }) => ({ id, label })),
      durationSeconds: Math.round((Date.now() - started) / 1000),
    },
    runs,
  };
  const markdown = renderMarkdown(result);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, "chat.md"), markdown);
  writeFileSync(join(args.out, "chat.json"), toJson(result) + "\n");
  writeFileSync(join(args.out, "chat.svg"), renderChatSvg(result));
  process.stdout.write(markdown);
  log(`wrote chat.md, chat.json and chat.svg to ${args.out}`);
} catch (error) {
  process.stderr.write(`bench:chat failed: ${error?.stack ?? error}\n`);
  exitCode = 1;
} finally {
  await admin.end();
  await db.stop();
}
process.exit(exitCode);
