import { PostgresStore as OfficialStore } from "@langchain/langgraph-checkpoint-postgres/store";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidOptionsError, PostgresStore } from "../../../src/store/index.js";
import { useTestDatabase } from "../../support/database.js";
import { usePgVector } from "../../support/pgvector.js";

/**
 * Vector search (pgvector) on a real pgvector (PGlite, see support/pgvector.ts):
 * HNSW and IVFFlat indexes, cosine, L2 and inner product, fields, filters,
 * deletes, and the official store reading and writing the same vectors. On
 * the embedded server, which has no pgvector, setup() says so.
 */
const vectorDb = usePgVector();
const plainDb = useTestDatabase();
const opened: Array<{ stop(): Promise<void> }> = [];
afterAll(async () => {
  for (const store of opened) await store.stop();
});

/** A deterministic model: each dimension counts one topic's words. */
const TOPICS = [["cat", "cats", "kitten"], ["dog", "dogs", "puppy"], ["car", "cars", "engine"]];
async function embed(texts: string[]): Promise<number[][]> {
  return texts.map((text) => {
    const words = text.toLowerCase().split(/\W+/);
    return TOPICS.map((topic) => words.filter((w) => topic.includes(w)).length + 0.01);
  });
}

function ours(schema: string, index: Record<string, unknown>): PostgresStore {
  const store = new PostgresStore({ connectionOptions: vectorDb.url(), schema, metrics: false, pool: { max: 2 }, index: { dims: 3, embed, ...index } as never });
  opened.push(store);
  return store;
}

async function seed(store: { put(ns: string[], key: string, value: Record<string, unknown>): Promise<void> }) {
  await store.put(["pets"], "c", { text: "my cat and her kitten", kind: "cat" });
  await store.put(["pets"], "d", { text: "a dog with a puppy", kind: "dog" });
  await store.put(["pets"], "v", { text: "cars and an engine", kind: "car" });
}

describe.each([
  ["hnsw", "cosine"],
  ["hnsw", "l2"],
  ["hnsw", "inner_product"],
  ["ivfflat", "cosine"],
] as const)("%s index, %s", (indexType, distanceMetric) => {
  it("ranks by similarity, with filters and a threshold, and forgets deleted items", async () => {
    const store = ours(`vec_${indexType}_${distanceMetric}`, { indexType, distanceMetric, fields: ["text"] });
    await store.setup();
    await seed(store);
    const found = await store.search(["pets"], { query: "kitten" });
    expect(found.map((i) => i.key).sort()).toEqual(["c", "d", "v"]);
    expect(found[0]!.key).toBe("c");
    expect(found[0]!.score).toBeGreaterThan(found[1]!.score!);
    expect(found[1]!.score).toBeGreaterThanOrEqual(found[2]!.score!);
    // A threshold between the best score and the next keeps the best only.
    const threshold = (found[0]!.score! + found[1]!.score!) / 2;
    expect((await store.search(["pets"], { query: "kitten", similarityThreshold: threshold })).map((i) => i.key)).toEqual(["c"]);
    expect((await store.search(["pets"], { query: "kitten", filter: { kind: { $ne: "cat" } } }))[0]!.key).not.toBe("c");
    expect((await store.search(["pets"], { query: "puppy", limit: 1 })).map((i) => i.key)).toEqual(["d"]);
    // Text mode still searches the text.
    expect((await store.search(["pets"], { query: "engine", mode: "text" })).map((i) => i.key)).toEqual(["v"]);
    await store.delete(["pets"], "c");
    expect((await store.search(["pets"], { query: "kitten" })).some((i) => i.key === "c")).toBe(false);
  });
});

describe("vector search", () => {
  it("embeds the fields asked for: per put, none with index: false, and every element of [*]", async () => {
    const store = ours("vec_fields", { fields: ["title", "tags[*]"] });
    await store.setup();
    await store.put(["docs"], "a", { title: "dogs", tags: ["cats", "engine"] });
    await store.put(["docs"], "b", { title: "nothing", body: "kitten kitten" }, ["body"]);
    await store.put(["docs"], "c", { title: "kitten" }, false);
    const admin = await import("pg");
    const pool = new admin.default.Pool({ connectionString: vectorDb.url(), max: 1 });
    const { rows } = await pool.query("SELECT key, field_path, text_content FROM vec_fields.store_vectors ORDER BY key, field_path");
    await pool.end();
    expect(rows).toEqual([
      { key: "a", field_path: "tags[0]", text_content: "cats" },
      { key: "a", field_path: "tags[1]", text_content: "engine" },
      { key: "a", field_path: "title", text_content: "dogs" },
      { key: "b", field_path: "body", text_content: "kitten kitten" },
    ]);
    // "c" was put with index: false, so it has no vector to be found by.
    expect((await store.search(["docs"], { query: "kitten" })).map((i) => i.key).sort()).toEqual(["a", "b"]);
  });

  it("has the official store's hybrid mode and its vectorSearch, hybridSearch and textSearch methods", async () => {
    const store = ours("vec_hybrid", { fields: ["text"] });
    await store.setup();
    await seed(store);
    // Text alone (weight 0) ranks the item whose text holds the word first; vectors alone (weight 1) the closest vector.
    expect((await store.search(["pets"], { query: "engine", mode: "hybrid", vectorWeight: 0 }))[0]!.key).toBe("v");
    expect((await store.hybridSearch(["pets"], "puppy", { vectorWeight: 1 }))[0]!.key).toBe("d");
    // An item that neither matches the text nor reaches the threshold is left out.
    const strict = await store.hybridSearch(["pets"], "engine", { vectorWeight: 0.5, similarityThreshold: 0.99 });
    expect(strict.map((i) => i.key)).toEqual(["v"]);
    expect((await store.vectorSearch(["pets"], "kitten", { limit: 1 })).map((i) => i.key)).toEqual(["c"]);
    expect((await store.textSearch(["pets"], { query: "puppy" })).map((i) => i.key)).toEqual(["d"]);
    await expect(store.search(["pets"], { query: "x", mode: "hybrid", vectorWeight: 2 })).rejects.toThrow(/vectorWeight/);
  });

  it("shares its tables and vectors with the official store, both ways", async () => {
    const index = { dims: 3, embed, fields: ["text"], indexType: "hnsw" as const, distanceMetric: "cosine" as const };
    const theirs = new OfficialStore({ connectionOptions: vectorDb.url(), schema: "vec_interop", index });
    opened.push(theirs);
    const mine = ours("vec_interop", index);
    await theirs.setup();
    await mine.setup();
    await theirs.put(["pets"], "c", { text: "my cat and her kitten" });
    await mine.put(["pets"], "d", { text: "a dog with a puppy" });
    for (const store of [theirs, mine]) {
      expect((await store.search(["pets"], { query: "kitten", limit: 1 })).map((i) => i.key)).toEqual(["c"]);
      expect((await store.search(["pets"], { query: "puppy", limit: 1 })).map((i) => i.key)).toEqual(["d"]);
    }
  });

  it("says at setup() that a server without pgvector cannot take an index", async () => {
    const store = new PostgresStore({ connectionOptions: plainDb.url(), schema: "no_vector", metrics: false, index: { dims: 3, embed } });
    opened.push(store);
    await expect(store.setup()).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(store.setup()).rejects.toThrow(/pgvector/);
    expect(() => new PostgresStore({ connectionOptions: plainDb.url(), index: { dims: 0, embed } })).toThrow(InvalidOptionsError);
    expect(() => new PostgresStore({ connectionOptions: plainDb.url(), index: { dims: 3, embed: "model" as never } })).toThrow(InvalidOptionsError);
  });
});
