import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The architecture, checked: `src/` is a stack of layers, and a file may
 * import only from its own folder or from a layer below its own. Layers on
 * one row are siblings: they never import each other. The README's "How the
 * code is organised" describes the same stack.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["errors.ts"],
  ["config/", "embedded/"],
  ["input.ts"],
  ["sql/"],
  ["connection/"],
  ["observe/"],
  ["codec/"],
  ["schema/"],
  ["database.ts"],
  ["retention/", "transfer/", "inspect/"],
  ["memory.ts", "saver.ts", "store/"],
  ["factory.ts"],
  ["cli/"],
  ["index.ts"],
];

/** The issue that set the layout asked for at most this many files directly in `src/`. */
const MAX_TOP_LEVEL_FILES = 12;

const root = fileURLToPath(new URL("../..", import.meta.url));
const src = join(root, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [relative(src, path)] : [];
  });
}

/** Every relative module a file names: static imports and re-exports (type-only ones too) and dynamic imports. */
function importsOf(file: string, text: string): string[] {
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.[^"']*)["']/gm),
    ...text.matchAll(/^\s*import\s*["'](\.[^"']*)["']/gm),
    ...text.matchAll(/\bimport\(\s*["'](\.[^"']*)["']\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers.map((specifier) => normalize(join(dirname(file), specifier.replace(/\.js$/, ".ts"))));
}

/** "codec/encode.ts" → "codec/", "saver.ts" → "saver.ts". */
const unitOf = (file: string): string => (file.includes("/") ? `${file.split("/")[0]}/` : file);

const rankOf = new Map(LAYERS.flatMap((row, rank) => row.map((unit) => [unit, rank] as const)));

/** Import cycles among `files`, each as the path that closes it. */
function cyclesIn(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, "visiting");
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "visiting") cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next) && graph.has(next)) visit(next);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

const files = sourceFiles(src);
const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(join(src, file), "utf8"))]));

describe("the layout of src/", () => {
  it("finds the imports it checks (type-only, multi-line and dynamic ones included)", () => {
    const text = [
      'import type { A } from "../config/options.js";',
      "import {",
      "  b,",
      '} from "./b.js";',
      'export { c } from "../c.js";',
      'const d = await import("../d.js");',
      '// "from" in a comment: not an import',
    ].join("\n");
    expect(importsOf("codec/x.ts", text)).toEqual(["config/options.ts", "codec/b.ts", "c.ts", "d.ts"]);
    expect(graph.get("saver.ts")).toContain("database.ts");
  });

  it("has no import cycle between source files", () => {
    expect(cyclesIn(new Map([["a.ts", ["b.ts"]], ["b.ts", ["a.ts"]]]))).toEqual([["a.ts", "b.ts", "a.ts"]]);
    expect(cyclesIn(graph)).toEqual([]);
  });

  it("puts every source file in a declared layer", () => {
    expect(files.filter((file) => !rankOf.has(unitOf(file)))).toEqual([]);
  });

  it("imports only from the file's own folder or from a layer below", () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      targets
        .filter((target) => unitOf(target) !== unitOf(file))
        .filter((target) => !((rankOf.get(unitOf(target)) ?? Infinity) < rankOf.get(unitOf(file))!))
        .map((target) => `${file} → ${target}`),
    );
    expect(upward).toEqual([]);
  });

  it(`keeps at most ${MAX_TOP_LEVEL_FILES} files directly in src/`, () => {
    expect(files.filter((file) => !file.includes("/")).length).toBeLessThanOrEqual(MAX_TOP_LEVEL_FILES);
  });

  it("mirrors src/ in test/unit/: every folder there is a layer's folder", () => {
    const folders = readdirSync(join(root, "test/unit"), { withFileTypes: true }).filter((e) => e.isDirectory());
    expect(folders.map((e) => `${e.name}/`).filter((unit) => !rankOf.has(unit))).toEqual([]);
  });
});
