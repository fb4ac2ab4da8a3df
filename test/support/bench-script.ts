import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect } from "vitest";
import { useTestDatabase } from "./database.js";

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A benchmark program (`bench/<script>`, on the built package) as a test
 * runs it: against the file's own database (BENCH_DATABASE_URL), writing
 * into a temporary folder (`out()`) that goes after the file's tests.
 */
export function useBenchScript(script: string): { run: (...args: string[]) => Promise<ScriptRun>; out: () => string } {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const db = useTestDatabase();
  let out: string | undefined;
  beforeAll(async () => {
    expect(existsSync(join(root, "dist/esm/index.js")), "run `npm run build` first (npm test does)").toBe(true);
    out = await mkdtemp(join(tmpdir(), `lgcp-${script.replace(/\W/g, "-")}-`));
  });
  afterAll(() => (out === undefined ? undefined : rm(out, { recursive: true, force: true })));
  const run = (...args: string[]) =>
    new Promise<ScriptRun>((resolve) => {
      execFile(
        process.execPath,
        [join(root, "bench", script), ...args],
        { cwd: root, env: { ...process.env, BENCH_DATABASE_URL: db.url() }, timeout: 120_000, maxBuffer: 16 << 20 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  return { run, out: () => out! };
}
