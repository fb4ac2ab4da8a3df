import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useBenchScript } from "../../support/bench-script.js";

/**
 * Keeps `npm run bench:chat` working: the real program (bench/chat.mjs on
 * the built package) with a tiny conversation, against this file's database,
 * into a temporary folder. It checks that every contender ran every
 * conversation length and that every number is there, finite and positive;
 * it asserts no timing (that is what the benchmark itself is for).
 */
const { run: chat, out: outDir } = useBenchScript("chat.mjs");

/**
 * Whether `xml` is well-formed as far as a hand-written SVG goes: one root
 * element, every tag closed in order, attributes quoted, and no raw "<" or
 * stray "&" in text or attribute values. Returns the problem, or null.
 */
function xmlProblem(xml: string): string | null {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, "").trim();
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  const entity = /&(?:#\d+|#x[\da-fA-F]+|amp|lt|gt|quot|apos);/g;
  const open: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < body.length) {
    const next = body.indexOf("<", i);
    const textRun = body.slice(i, next === -1 ? body.length : next);
    if (textRun.replace(entity, "").includes("&")) return `stray "&" in text at ${i}`;
    if (open.length === 0 && textRun.trim() !== "") return `text outside the root at ${i}`;
    if (next === -1) break;
    tag.lastIndex = next;
    const m = tag.exec(body);
    if (!m) return `malformed tag at ${next}: ${body.slice(next, next + 60)}`;
    const [, closing, name = "", attributes = "", selfClosing] = m;
    if (attributes.replace(entity, "").includes("&")) return `stray "&" in an attribute of <${name}> at ${next}`;
    if (closing) {
      if (open.pop() !== name) return `</${name}> at ${next} closes nothing open`;
    } else if (!selfClosing) {
      if (open.length === 0) roots += 1;
      open.push(name);
    } else if (open.length === 0) {
      roots += 1;
    }
    i = tag.lastIndex;
  }
  if (open.length > 0) return `unclosed <${open.at(-1)}>`;
  return roots === 1 ? null : `${roots} root elements`;
}

/** Every number in `value`, with the path to it. */
function numbers(value: unknown, path = ""): [string, number][] {
  if (typeof value === "number") return [[path, value]];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => numbers(v, path ? `${path}.${k}` : k));
}

describe("npm run bench:chat -- --tiny", () => {
  it("runs every conversation length for both savers and writes chat.md, chat.json and chat.svg", async () => {
    const run = await chat("--tiny", "--out", outDir());
    expect(run.code, run.stderr).toBe(0);

    const result = JSON.parse(readFileSync(join(outDir(), "chat.json"), "utf8"));
    expect(result.meta.contenders.map((c: { id: string }) => c.id)).toEqual(["ours", "official"]);
    expect(result.meta.turns.length).toBeGreaterThan(0);
    expect(result.runs.map((r: { turns: number }) => r.turns)).toEqual(result.meta.turns);
    for (const run of result.runs) {
      expect(run.messages).toBe(2 * run.turns);
      expect(Object.keys(run.results).sort()).toEqual(["official", "ours"]);
      for (const [id, r] of Object.entries<{ rows: Record<string, number>; getTuple: { n: number }; turnMsEach: number[] }>(run.results)) {
        // Three checkpoints per turn (input, start, agent): every turn was stored.
        expect(r.rows.checkpoints, `${run.turns} ${id}`).toBe(3 * run.turns);
        // Every turn's time, which chat.svg draws (each one finite and positive, below).
        expect(r.turnMsEach, `${run.turns} ${id}`).toHaveLength(run.turns);
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

    const markdown = readFileSync(join(outDir(), "chat.md"), "utf8");
    expect(run.stdout).toBe(markdown);
    expect(markdown).toMatch(/^# Growing chat thread/);
    for (const heading of ["## Per saver", "## Official ÷ ours"]) expect(markdown).toContain(heading);
    for (const r of result.runs) expect(markdown).toContain(`| ${r.turns} | ours |`);
    expect(markdown).toContain("](chat.svg)");

    const svg = readFileSync(join(outDir(), "chat.svg"), "utf8");
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(xmlProblem(svg)).toBeNull();
    // Per conversation length, one line of per-turn time per saver, with a point per turn but the first,
    // and one bar of disk per saver.
    for (const r of result.runs) {
      for (const { id } of result.meta.contenders) {
        const lines = [...svg.matchAll(new RegExp(`<polyline[^>]*class="turn-ms" data-saver="${id}" data-turns="${r.turns}"[^>]*>`, "g"))];
        expect(lines, `${r.turns} ${id}`).toHaveLength(1);
        const points = (lines[0]?.[0] ?? "").match(/ points="([^"]*)"/)?.[1]?.trim().split(/\s+/) ?? [];
        expect(points, `${r.turns} ${id}`).toHaveLength(r.turns - 1);
        for (const p of points) expect(p, `${r.turns} ${id}`).toMatch(/^-?\d+(\.\d+)?,-?\d+(\.\d+)?$/);
        expect(svg.match(new RegExp(`<rect[^>]*class="disk" data-saver="${id}" data-turns="${r.turns}"`, "g")), `${r.turns} ${id}`)
          .toHaveLength(1);
      }
    }
    expect(svg.match(/class="turn-ms"/g)).toHaveLength(result.runs.length * result.meta.contenders.length);
  }, 180_000);

  it("refuses a bad option before touching the database", async () => {
    const run = await chat("--turns", "many", "--out", outDir());
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--turns");
  });
});
