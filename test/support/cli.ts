import { spawn } from "node:child_process";
import { PassThrough, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import { runCli } from "../../src/cli/cli.js";
import {
  type Log,
  deltaGraph,
  deltaGraphStart,
  failingGraph,
  subgraphGraph,
  subgraphGraphStart,
  toolGraph,
  toolGraphStart,
} from "./graphs.js";

/**
 * Runs the built command-line tool (`dist/esm/cli/main.js`; `npm test`
 * builds it first) as a real child process, and populates databases for it
 * with real graph runs.
 */
const root = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = fileURLToPath(new URL("../../dist/esm/cli/main.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Put in LANGGRAPH_CHECKPOINT_URL (the tool's usual configuration). */
  url?: string;
  /** More environment variables; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** Written to the tool's stdin (otherwise stdin is closed at once). */
  input?: string;
}

/**
 * The environment the tool sees: this process's, minus any database
 * configuration it may carry (so a test controls exactly what the tool
 * is told), plus `options`.
 */
export function cliEnv(options: CliOptions = {}): Record<string, string> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith("LANGGRAPH_CHECKPOINT_") || name === "DATABASE_URL") delete env[name];
  }
  if (options.url !== undefined) env.LANGGRAPH_CHECKPOINT_URL = options.url;
  Object.assign(env, options.env);
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** `node dist/esm/cli/main.js ...args`; never rejects on a non-zero exit. */
export function cli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return collect(process.execPath, [CLI, ...args], options);
}

/**
 * The same on a pseudo-terminal (`script` runs it there), as an operator at
 * a terminal sees it: stdout and stderr arrive mixed in `stdout`.
 */
export function cliOnTerminal(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(" ");
  return collect("script", ["-qfec", command, "/dev/null"], options);
}

/**
 * Every run is also checked for leaked secrets: the password of any
 * connection string the tool was given (in its arguments or environment)
 * must appear nowhere in what it printed.
 */
async function collect(file: string, args: string[], options: CliOptions): Promise<CliResult> {
  const result = await spawnAndWait(file, args, options);
  const given = [...args, ...Object.values(cliEnv(options))];
  for (const password of given.flatMap(passwordsIn)) {
    if (result.stdout.includes(password) || result.stderr.includes(password)) {
      throw new Error(`the tool printed the password of a connection string it was given:\n${result.stdout}\n${result.stderr}`);
    }
  }
  return result;
}

/** Passwords of the postgres URLs in `text` (at least 4 characters, so a match means something). */
function passwordsIn(text: string): string[] {
  return [...text.matchAll(/postgres(?:ql)?:\/\/[^:/@\s]*:([^@\s]{4,})@/g)].flatMap((m) => [m[1]!, safeDecode(m[1]!)]);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function spawnAndWait(file: string, args: string[], options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: root, env: cliEnv(options), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The same command line through `runCli()` in this process: what the
 * binary runs, minus the cost of starting Node, for the many usage cases
 * that are refused before anything is loaded or connected.
 */
export async function cliInProcess(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const sink = (append: (text: string) => void) =>
    new Writable({ write: (chunk, _encoding, callback) => { append(String(chunk)); callback(); } });
  const stdin = new PassThrough();
  stdin.end(options.input ?? "");
  const code = await runCli(args, {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    stdin,
    env: cliEnv(options),
  });
  return { code, stdout, stderr };
}

/** `--json` output, parsed; a failure shows what the tool printed. */
export function parsed<T = any>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** The threads `populate` writes, in the order it writes them (so the newest last). */
export const THREADS = {
  tools: "cli-tools",
  failing: "cli-failing",
  delta: "cli-delta",
  subgraph: "cli-subgraph",
} as const;

export const config = (thread: string) => ({ configurable: { thread_id: thread } });

/**
 * Real runs through `saver`, one after another: a `toolGraph` thread stopped
 * at its approval interrupt (three tools' writes pending), a `failingGraph`
 * thread (an `__error__` write), a finished `deltaGraph` thread (compressed
 * values among its blobs) and a `subgraphGraph` thread interrupted inside
 * its subgraph (a second namespace).
 */
export async function populate(saver: BaseCheckpointSaver, which: ReadonlyArray<keyof typeof THREADS> = Object.keys(THREADS) as Array<keyof typeof THREADS>): Promise<Log> {
  const log: Log = [];
  for (const name of which) {
    const thread = config(THREADS[name]);
    if (name === "tools") await toolGraph(saver, log).invoke(toolGraphStart(), thread);
    if (name === "failing") {
      await failingGraph(saver, log).invoke({ items: ["start"] }, thread).then(
        () => { throw new Error("failingGraph did not fail"); },
        (error: Error) => { if (!error.message.includes("the tool server is down")) throw error; },
      );
    }
    if (name === "delta") await deltaGraph(saver, log).invoke(deltaGraphStart(), thread);
    if (name === "subgraph") await subgraphGraph(saver, log).invoke(subgraphGraphStart(), thread);
  }
  return log;
}
