import type { StoreEmbeddings } from "../config/store.js";
import { InvalidInputError } from "../errors.js";

/**
 * The texts of a value to embed, each with the path it came from. A path
 * is dot-separated keys, each optionally indexed: `[2]`, `[-1]` (the last
 * element) or `[*]` (every element, each under its own index); `$` is the
 * whole value. Strings are embedded as they are, other values as JSON;
 * missing and empty ones are skipped.
 */
export function textsToEmbed(value: unknown, fields: readonly string[]): Array<[path: string, text: string]> {
  const found: Array<[string, string]> = [];
  for (const field of fields) {
    if (field === "$") {
      found.push(["$", JSON.stringify(value)]);
      continue;
    }
    collect(value, field.split("."), "", found);
  }
  return found.filter(([, text]) => text.trim() !== "").map(([path, text]) => [path, text.trim()]);
}

function collect(node: unknown, steps: readonly string[], path: string, found: Array<[string, string]>): void {
  if (node === null || node === undefined) return;
  if (steps.length === 0) {
    found.push([path, typeof node === "string" ? node : typeof node === "object" ? JSON.stringify(node) : String(node)]);
    return;
  }
  const [step, ...rest] = steps as [string, ...string[]];
  const match = /^([^[\]]*)(?:\[(\*|-?\d+)\])?$/.exec(step);
  if (match === null) return;
  const [, key, index] = match;
  const here = key === "" ? node : typeof node === "object" ? (node as Record<string, unknown>)[key!] : undefined;
  const at = path === "" ? key! : key === "" ? path : `${path}.${key}`;
  if (index === undefined) return collect(here, rest, at, found);
  if (!Array.isArray(here)) return;
  if (index === "*") {
    here.forEach((item, i) => collect(item, rest, `${at}[${i}]`, found));
    return;
  }
  const i = Number(index) < 0 ? here.length + Number(index) : Number(index);
  if (i >= 0 && i < here.length) collect(here[i], rest, `${at}[${i}]`, found);
}

/** The embeddings of `texts`, checked: one vector of `dims` finite numbers each. */
export async function embedDocuments(embed: StoreEmbeddings, texts: string[], dims: number): Promise<number[][]> {
  if (texts.length === 0) return [];
  const vectors = typeof embed === "function" ? await embed(texts) : await embed.embedDocuments(texts);
  if (!Array.isArray(vectors) || vectors.length !== texts.length) {
    throw new InvalidInputError(`store: the embeddings model returned ${Array.isArray(vectors) ? vectors.length : "no"} vectors for ${texts.length} texts`);
  }
  return vectors.map((vector) => checked(vector, dims));
}

/** The embedding of a search query. */
export async function embedQuery(embed: StoreEmbeddings, text: string, dims: number): Promise<number[]> {
  if (typeof embed !== "function" && typeof embed.embedQuery === "function") return checked(await embed.embedQuery(text), dims);
  const [vector] = await embedDocuments(embed, [text], dims);
  return vector!;
}

function checked(vector: unknown, dims: number): number[] {
  if (!Array.isArray(vector) || vector.length !== dims || !vector.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw new InvalidInputError(`store: the embeddings model returned a vector that is not ${dims} finite numbers`);
  }
  return vector;
}

/** pgvector's text form of a vector. */
export const vectorText = (vector: readonly number[]): string => `[${vector.join(",")}]`;
