import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useBenchScript } from "../../support/bench-script.js";
import { findPgBouncer } from "../../support/pgbouncer.js";

/**
 * Keeps `npm run bench` working: the real program (bench/bench.mjs on the
 * built package) with tiny sizes, against this file's database, into a
 * temporary folder. It checks that every workload ran for every contender
 * over every leg and that the three result files are complete; it asserts
 * no timing (that is what the benchmark itself is for).
 */
const { run: bench, out: outDir } = useBenchScript("bench.mjs");

interface Stats {
  p50?: number;
  stepsPerSec?: number;
  peakRssMb?: number;
}
interface Workload {
  id: string;
  unit: string;
  results: Record<string, Stats>;
  speedup: number;
}

describe("npm run bench -- --tiny", () => {
  it("runs every workload for every contender on every leg and writes latest.md, latest.json and latest.svg", async () => {
    const run = await bench("--tiny", "--out", outDir());
    expect(run.code, run.stderr).toBe(0);

    const result = JSON.parse(readFileSync(join(outDir(), "latest.json"), "utf8"));
    const legs = result.transports.map((t: { id: string }) => t.id);
    expect(legs).toEqual(findPgBouncer() ? ["direct", "proxy", "pgbouncer"] : ["direct", "proxy"]);
    const expected = [
      "put-1", "put-5", "put-20", "put-messages-20", "putWrites-1", "putWrites-4", "putWrites-32",
      "getTuple-latest-0", "getTuple-id-0", "getTuple-latest-20", "getTuple-id-20", "list-10", "list-50",
      "deleteThread-10", "flat-put-small", "flat-put-big", "flat-getTuple-small", "flat-getTuple-big",
      "scan-120", "e2e-1", "e2e-2",
    ];
    for (const leg of result.transports) {
      expect(leg.workloads.map((w: Workload) => w.id)).toEqual(expected);
      for (const w of leg.workloads as Workload[]) {
        for (const contender of ["ours", "official"]) {
          const stats = w.results[contender]!;
          const headline = w.unit === "step" ? stats.stepsPerSec : stats.p50;
          expect(headline, `${leg.id} ${w.id} ${contender}`).toBeGreaterThan(0);
        }
        expect(Number.isFinite(w.speedup), `${leg.id} ${w.id}`).toBe(true);
        // MemorySaver has no database to reach: it runs in the direct leg only, and not on the huge threads.
        const memory = leg.id === "direct" && !/big|scan/.test(w.id);
        expect(w.results.memory !== undefined, `${leg.id} ${w.id} memory`).toBe(memory);
      }
      expect(leg.floor.select1.p50).toBeGreaterThan(0);
      expect(leg.floor.insert.p50).toBeGreaterThan(0);
    }
    const scan = result.transports[0].workloads.find((w: Workload) => w.unit === "scan");
    expect(scan.results.ours.checkpoints).toBeGreaterThanOrEqual(120);

    expect(result.targets.length).toBeGreaterThanOrEqual(10);
    for (const target of result.targets) {
      expect(typeof target.met, target.id).toBe("boolean");
      expect(Number.isFinite(target.measured), target.id).toBe(true);
    }

    const markdown = readFileSync(join(outDir(), "latest.md"), "utf8");
    expect(run.stdout).toBe(markdown);
    expect(markdown).toMatch(/^# Benchmark/);
    expect(markdown).toContain("## Targets");
    for (const leg of result.transports) expect(markdown).toContain(`## ${leg.label}`);
    const svg = readFileSync(join(outDir(), "latest.svg"), "utf8");
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.trim().endsWith("</svg>")).toBe(true);

    // The growing conversation ran after, at the same (tiny) size, into the same folder.
    const chat = JSON.parse(readFileSync(join(outDir(), "chat.json"), "utf8"));
    expect(chat.runs.map((r: { turns: number }) => r.turns)).toEqual([20]);
    expect(readFileSync(join(outDir(), "chat.md"), "utf8")).toMatch(/^# Growing chat thread/);
    expect(run.stderr).toContain("# Growing chat thread");
  }, 180_000);

  it("refuses a bad option before touching the database", async () => {
    const run = await bench("--delay-ms", "soon", "--out", outDir());
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("--delay-ms");
  });
});
