import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../../support/database.js";

/**
 * Keeps `npm run bench:chat` working: the real program (bench/chat.mjs on
 * the built package) with a tiny conversation, against this file's database,
 * into a temporary folder. It checks that every contender ran every
 * conversation length and that every number is there, finite and positive;
 * it asserts no timing (that is what the benchmark itself is for).
 */
const root = fileURLToPath(new URL("../../..", import.meta.url));
const db = useTestDatabase();
let out: string;

beforeAll(async () => {
  expect(existsSync(join(root, "dist/esm/index.js")), "run `npm run build` first (npm test does)").toBe(true);
  out = await mkdtemp(join(tmpdir(), "lgcp-bench-chat-"));
});
afterAll(() => rm(out, { recursive: true, force: true }));

function chat(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "bench/chat.mjs"), ...args],
      { cwd: root, env: { ...process.env, BENCH_DATABASE_URL: db.url() }, timeout: 120_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Every number in `value`, with the path to it. */
function numbers(value: unknown, path = ""): [string, number][] {
  if (typeof value === "number") return [[path, value]];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => numbers(v, path ? `${path}.${k}` : k));
}

describe("npm run bench:chat -- --tiny", () => {
  it("runs every conversation length for both savers and writes chat.md and chat.json", async () => {
    const run = await chat("--tiny", "--out", out);
    expect(run.code, run.stderr).toBe(0);

    const result = JSON.parse(readFileSync(join(out, "chat.json"), "utf8"));
    expect(result.meta.contenders.map((c: { id: string }) => c.id)).toEqual(["ours", "official"]);
    expect(result.meta.turns.length).toBeGreaterThan(0);
    expect(result.runs.map((r: { turns: number }) => r.turns)).toEqual(result.meta.turns);
    for (const run of result.runs) {
      expect(run.messages).toBe(2 * run.turns);
      expect(Object.keys(run.results).sort()).toEqual(["official", "ours"]);
      for (const [id, r] of Object.entries<{ rows: Record<string, number>; getTuple: { n: number } }>(run.results)) {
        // Three checkpoints per turn (input, start, agent): every turn was stored.
        expect(r.rows.checkpoints, `${run.turns} ${id}`).toBe(3 * run.turns);
        expect(r.getTuple.n, `${run.turns} ${id}`).toBe(result.meta.getTupleCalls[run.turns]);
        const found = numbers(r).map(([path]) => path);
        for (const key of ["diskBytes", "payloadBytes", "sentPerTurn.first", "sentPerTurn.last", "sentTotal",
          "receivedPerTurn.last", "turnMs.first", "turnMs.last", "turnMs.growth", "getTuple.p50", "getTuple.p99"]) {
          expect(found, `${run.turns} ${id}`).toContain(key);
        }
        for (const [path, n] of numbers(r)) {
          expect(Number.isFinite(n) && n > 0, `${run.turns} ${id} ${path} = ${n}`).toBe(true);
        }
      }
      for (const key of ["disk", "payload", "sentPerTurnLast", "sentTotal", "turnMsLast", "getTupleP50"]) {
        const ratio = run.ratios[key];
        expect(Number.isFinite(ratio) && ratio > 0, `${run.turns} ratio ${key} = ${ratio}`).toBe(true);
      }
    }

    const markdown = readFileSync(join(out, "chat.md"), "utf8");
    expect(run.stdout).toBe(markdown);
    expect(markdown).toMatch(/^# Growing chat thread/);
    for (const heading of ["## Per saver", "## Official ÷ ours"]) expect(markdown).toContain(heading);
    for (const r of result.runs) expect(markdown).toContain(`| ${r.turns} | ours |`);
  }, 180_000);

  it("refuses a bad option before touching the database", async () => {
    const run = await chat("--turns", "many", "--out", out);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--turns");
  });
});
