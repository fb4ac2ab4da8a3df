import { execFile, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { histogramQuantile } from "../../../bench/demo/stats.mjs";
import { PostgresSaver } from "../../../src/index.js";
import { useTestDatabase } from "../../support/database.js";
import { threadId } from "../../support/fixtures.js";

/**
 * `npm run demo` as a new user runs it (bench/demo/run.mjs on the built
 * package), pointed at this file's database with DATABASE_URL. stdout is a
 * pipe here, so the demo prints its plain one-line-per-event format, which
 * is what these tests read. No timing is asserted.
 */
const root = fileURLToPath(new URL("../../..", import.meta.url));
const DEMO = join(root, "bench/demo/run.mjs");
const PIPELINE = join(root, "bench/demo/pipeline.mjs");
const db = useTestDatabase();
let saver: PostgresSaver;

beforeAll(() => {
  expect(existsSync(join(root, "dist/esm/index.js")), "run `npm run build` first (npm test does)").toBe(true);
  saver = PostgresSaver.fromConnString(db.url(), { metrics: false });
});
afterAll(() => saver?.end());

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function demo(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [DEMO, ...args],
      { cwd: root, env: { ...process.env, DATABASE_URL: db.url() }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error.code as number | undefined) ?? null) : 0, stdout, stderr }),
    );
  });
}

/** Each run's section of the output: its pid and the stages it started and finished. */
function runs(stdout: string) {
  return stdout.split(/^(?=run \d+ · pid)/m).slice(1).map((section) => ({
    pid: Number(/^run \d+ · pid (\d+)/.exec(section)?.[1]),
    started: [...section.matchAll(/^ {2}▸ (\w+) started$/gm)].map((m) => m[1]),
    finished: [...section.matchAll(/^ {2}✓ (\w+) +\d/gm)].map((m) => m[1]),
    summary: /^run \d+: .*$/m.exec(section)?.[0],
  }));
}

async function stored(thread: string) {
  const tuple = await saver.getTuple({ configurable: { thread_id: thread } });
  let rows = 0;
  for await (const _ of saver.list({ configurable: { thread_id: thread } })) rows++;
  const values = (tuple?.checkpoint.channel_values ?? {}) as {
    exported?: { format: string; text: string; summary: { speakers: number; turns: number } };
    completed?: { stage: string; pid: number }[];
  };
  return { rows, exported: values.exported, completed: values.completed ?? [] };
}

/** What a crash-then-resume invocation must show, in the output and in the database. */
async function expectCrashAndResume(result: Result, thread: string) {
  // No stack trace and no saver complaint (a Node warning from the environment would be tolerated).
  expect(result.stderr).not.toMatch(/error|langgraph-checkpoint-pg/i);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  const [first, second, ...more] = runs(result.stdout);
  expect(more).toEqual([]);
  expect(first).toMatchObject({ started: ["convert", "diarize", "transcribe"], finished: ["convert", "diarize"] });
  expect(result.stdout).toMatch(/^ {2}✗ transcribe +crashed \(process exited with code 75\)$/m);
  expect(first!.summary).toBe("run 1: convert ✓  diarize ✓  transcribe ✗ crashed (process exited with code 75)");
  expect(second).toMatchObject({ started: ["transcribe", "merge", "export"], finished: ["transcribe", "merge", "export"] });
  expect(second!.summary).toBe("run 2: resumed after diarize: transcribe ✓  merge ✓  export ✓");

  const { rows, exported, completed } = await stored(thread);
  expect(exported?.format).toBe("srt");
  expect(exported?.text).toMatch(/^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\nS1: /);
  expect(exported?.summary.speakers).toBe(3);
  // The database's own record: which process ran which stage.
  expect(completed).toEqual([
    { stage: "convert", pid: first!.pid, ms: expect.any(Number) },
    { stage: "diarize", pid: first!.pid, ms: expect.any(Number) },
    { stage: "transcribe", pid: second!.pid, ms: expect.any(Number) },
    { stage: "merge", pid: second!.pid, ms: expect.any(Number) },
    { stage: "export", pid: second!.pid, ms: expect.any(Number) },
  ]);
  // Put operations counted by both children's metrics (the crashed one's snapshot included) = rows stored.
  const written = /checkpoints written +(\d+) \(put operations\); (\d+) checkpoint rows/.exec(result.stdout);
  expect(written, result.stdout).not.toBeNull();
  expect(Number(written![1])).toBe(rows);
  expect(Number(written![2])).toBe(rows);
  expect(result.stdout).toMatch(/bytes written +[\d.]+ (KiB|B) serialized → [\d.]+ (KiB|B) stored/);
  expect(result.stdout).toMatch(/^ {4}put +\d+ × +p50 +[\d.]+ ms +p99 +[\d.]+ ms$/m);
  expect(result.stdout).toContain("estimated from histogram buckets");
  const password = decodeURIComponent(new URL(db.url()).password);
  if (password) expect(result.stdout).not.toContain(password);
  return { first: first!, second: second!, rows };
}

describe("npm run demo", () => {
  const thread = threadId("demo");
  let firstRun: Awaited<ReturnType<typeof expectCrashAndResume>>;

  it("crashes a new thread in transcribe after convert and diarize, then resumes it in a second process", async () => {
    firstRun = await expectCrashAndResume(await demo("--thread", thread), thread);
  });

  it("on a complete thread runs no stage, shows the stored result and points to --force-restart", async () => {
    const result = await demo("--thread", thread);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${thread}: already complete`);
    expect(result.stdout).toContain("--force-restart");
    expect(result.stdout).toMatch(/\d+ s of audio → 3 speakers/);
    expect(runs(result.stdout)).toEqual([]);
    expect(result.stdout).not.toMatch(/started$/m);
    expect((await stored(thread)).rows).toBe(firstRun.rows);
  });

  it("--force-restart deletes the thread and runs it all again, crash and resume included", async () => {
    const result = await demo("--thread", thread, "--force-restart");
    expect(result.stdout).toContain(`deleted every checkpoint of thread "${thread}"`);
    const again = await expectCrashAndResume(result, thread);
    expect(again.rows).toBe(firstRun.rows); // replaced, not added to
    expect(again.first.pid).not.toBe(firstRun.first.pid);
  });

  it("resumes an unfinished thread (a crashed process nobody resumed) without crashing it again", async () => {
    const unfinished = threadId("demo-unfinished");
    const child = fork(PIPELINE, ["--thread", unfinished, "--crash-in", "transcribe"], {
      env: { ...process.env, DATABASE_URL: db.url() },
      execArgv: [],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const exitCode = await new Promise((resolve) => child.on("exit", resolve));
    expect(exitCode).toBe(75);

    const result = await demo("--thread", unfinished);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${unfinished}: unfinished (done: convert, diarize)`);
    const [only, ...more] = runs(result.stdout);
    expect(more).toEqual([]);
    expect(only).toMatchObject({ started: ["transcribe", "merge", "export"], finished: ["transcribe", "merge", "export"] });
    expect(only!.summary).toBe("run 1: resumed after diarize: transcribe ✓  merge ✓  export ✓");
    const { completed, exported } = await stored(unfinished);
    expect(completed.map((c) => c.stage)).toEqual(["convert", "diarize", "transcribe", "merge", "export"]);
    expect(completed[0]!.pid).toBe(child.pid);
    expect(exported?.format).toBe("srt");
  });

  it("refuses an unknown flag with exit code 2, before touching the database", async () => {
    const result = await demo("--nope");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option --nope");
    expect(result.stdout).toBe("");
  });

  it("--help prints the options and exits 0", async () => {
    const result = await demo("--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/--thread <id>[\s\S]*--force-restart/);
  });
});

describe("the demo's p50/p99, estimated from histogram buckets as Prometheus's histogram_quantile does", () => {
  const buckets = (counts: [number, number][]) => counts.map(([le, count]) => ({ le, count }));

  it("interpolates linearly inside the bucket holding the rank, from 0 in the first bucket", () => {
    // 10 observations: 4 in (0, 1 ms], 6 in (1 ms, 10 ms].
    const b = buckets([[0.001, 4], [0.01, 10], [Infinity, 10]]);
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.001 + 0.009 * (1 / 6), 12);
    expect(histogramQuantile(0.2, b)).toBeCloseTo(0.0005, 12);
    expect(histogramQuantile(0.99, b)).toBeCloseTo(0.001 + 0.009 * (5.9 / 6), 12);
  });

  it("answers the highest finite bound when the rank falls in +Inf, and NaN without observations", () => {
    expect(histogramQuantile(0.99, buckets([[0.001, 1], [0.01, 2], [Infinity, 5]]))).toBe(0.01);
    expect(histogramQuantile(0.5, buckets([[0.001, 0], [Infinity, 0]]))).toBeNaN();
  });
});
