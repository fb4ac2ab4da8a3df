import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useBenchScript } from "../../support/bench-script.js";

/**
 * Keeps `npm run bench:store` working: the real program (bench/store.mjs on
 * the built package, ours against the official store) at a tiny size,
 * against this file's database. Every workload must have run for both
 * stores with finite, positive numbers; no timing is asserted.
 */
const { run, out } = useBenchScript("store.mjs");

describe("npm run bench:store -- --tiny", () => {
  it("times every workload for both stores and writes store.md and store.json", async () => {
    const result = await run("--tiny", "--out", out());
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(out(), "store.json"), "utf8"));
    expect(Object.keys(json.operations)).toEqual(["put", "get", "search with a filter", "listNamespaces", "batch of 10 puts"]);
    for (const timings of Object.values(json.operations) as Array<Record<string, { n: number; p50: number; p99: number }>>) {
      for (const store of ["ours", "official"]) {
        expect(timings[store]!.n).toBeGreaterThanOrEqual(5);
        expect(Number.isFinite(timings[store]!.p50) && timings[store]!.p50 > 0).toBe(true);
      }
    }
    const markdown = readFileSync(join(out(), "store.md"), "utf8");
    expect(markdown).toMatch(/^# Long-term memory store/);
    expect(markdown.match(/^\| (put|get|search with a filter|listNamespaces|batch of 10 puts) \|/gm)).toHaveLength(5);
  });

  it("refuses a bad option before touching the database", async () => {
    const result = await run("--nope");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^bench:store: /);
  });
});
