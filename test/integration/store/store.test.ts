import { PostgresStore as OfficialStore } from "@langchain/langgraph-checkpoint-postgres/store";
import pg from "pg";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError, InvalidOptionsError, PayloadTooLargeError, PostgresStore } from "../../../src/store/index.js";
import { targets, useTestDatabase } from "../../support/database.js";

/**
 * `langgraph-checkpoint-pg/store`: the official store's API and tables, so
 * either package reads and writes what the other wrote, on one database;
 * one statement per batch of writes; label-exact namespace matching; typed
 * errors for bad input; TTLs; directly and through PgBouncer.
 */
const db = useTestDatabase();
const stores: Array<{ end?: () => Promise<void>; stop?: () => Promise<void> }> = [];
let admin: pg.Pool;

beforeAll(() => {
  admin = new pg.Pool({ connectionString: db.url() });
});
afterAll(async () => {
  for (const store of stores) await (store.end?.() ?? store.stop?.());
  await admin?.end();
});

function ours(schema: string, extra: Partial<ConstructorParameters<typeof PostgresStore>[0]> = {}, url = db.url()): PostgresStore {
  const store = new PostgresStore({ connectionOptions: url, schema, metrics: { registry: new Registry() }, ...extra });
  stores.push(store);
  return store;
}

function official(schema: string): OfficialStore {
  const store = new OfficialStore({ connectionOptions: db.url(), schema });
  stores.push(store);
  return store;
}

const statements = async (registry: Registry) =>
  ((await registry.getSingleMetricAsString("langgraph_checkpoint_statements_total")).match(/ (\d+)$/gm) ?? [])
    .reduce((sum, n) => sum + Number(n), 0);

describe("interop with the official store on one database", () => {
  it("each reads and writes what the other wrote, whichever set the tables up", async () => {
    for (const [first, schema] of [["official", "interop_a"], ["ours", "interop_b"]] as const) {
      const theirs = official(schema);
      const mine = ours(schema);
      if (first === "official") await theirs.setup();
      await mine.setup();
      await theirs.setup();
      const { rows } = await admin.query(`SELECT max(v) AS v FROM ${schema}.store_migrations`);
      expect(rows[0].v).toBe(3);

      await theirs.put(["users", "alice"], "profile", { name: "Alice", age: 31, tags: ["a", "b"] });
      await mine.put(["users", "bob"], "profile", { name: "Bob", age: 45, tags: ["b"] });
      for (const store of [theirs, mine]) {
        expect((await store.get(["users", "alice"], "profile"))?.value).toEqual({ name: "Alice", age: 31, tags: ["a", "b"] });
        expect((await store.get(["users", "bob"], "profile"))?.value).toEqual({ name: "Bob", age: 45, tags: ["b"] });
        const found = await store.search(["users"], { filter: { age: { $gt: 40 } } });
        expect(found.map((i) => i.namespace)).toEqual([["users", "bob"]]);
        expect((await store.listNamespaces({ prefix: ["users"] })).sort()).toEqual([["users", "alice"], ["users", "bob"]]);
      }
      await mine.delete(["users", "alice"], "profile");
      expect(await theirs.get(["users", "alice"], "profile")).toBeNull();
      const item = (await mine.get(["users", "bob"], "profile"))!;
      expect(item.createdAt).toBeInstanceOf(Date);
      expect(item.updatedAt).toBeInstanceOf(Date);
    }
  });
});

describe.each(targets())("the store ($name)", (target) => {
  let store: PostgresStore;
  let registry: Registry;
  const schema = `store_${target.name}`;
  beforeAll(async () => {
    registry = new Registry();
    store = ours(schema, { metrics: { registry } }, target.url(db.url()));
    await store.setup();
  });

  it("puts, gets, deletes, and writes a batch's puts and deletes in one statement", async () => {
    await store.put(["docs"], "a", { text: "the quick brown fox", n: 1 });
    await store.put(["docs"], "b", { text: "lazy dogs sleep", n: 2 });
    expect((await store.get(["docs"], "a"))?.value).toEqual({ text: "the quick brown fox", n: 1 });
    expect(await store.get(["docs"], "missing")).toBeNull();
    const before = await statements(registry);
    const results = await store.batch([
      { namespace: ["docs"], key: "a" },
      { namespace: ["docs"], key: "c", value: { text: "cats", n: 3 } },
      { namespace: ["docs"], key: "d", value: { text: "first", n: 4 } },
      { namespace: ["docs"], key: "d", value: { text: "last wins", n: 4 } },
      { namespace: ["docs"], key: "b", value: null },
    ]);
    // One statement for the get, one for all the writes.
    expect((await statements(registry)) - before).toBe(2);
    expect((results[0] as { value: unknown }).value).toEqual({ text: "the quick brown fox", n: 1 });
    expect((await store.get(["docs"], "d"))?.value).toEqual({ text: "last wins", n: 4 });
    expect(await store.get(["docs"], "b")).toBeNull();
  });

  it("searches with every filter operator, text queries and pages; prefixes match whole labels", async () => {
    const ns = ["catalog", target.name];
    const items = [
      { key: "p1", value: { kind: "book", price: 10, title: "Postgres internals", stock: 0 } },
      { key: "p2", value: { kind: "book", price: 25, title: "Graph theory", rating: null } },
      { key: "p3", value: { kind: "pen", price: 2, title: "Blue pen" } },
      { key: "p4", value: { kind: "lamp", price: "12", title: "Desk lamp" } },
    ];
    for (const { key, value } of items) await store.put(ns, key, value);
    await store.put([...ns.slice(0, 1), `${target.name}2`], "other", { kind: "book", price: 1, title: "x" });
    const keys = async (filter: Record<string, unknown>, query?: string) =>
      (await store.search(ns, { filter, ...(query ? { query } : {}) })).map((i) => i.key).sort();
    expect(await keys({ kind: "book" })).toEqual(["p1", "p2"]);
    expect(await keys({ kind: { $eq: "book" } })).toEqual(["p1", "p2"]);
    expect(await keys({ kind: { $ne: "book" } })).toEqual(["p3", "p4"]);
    expect(await keys({ price: { $gt: 5 } })).toEqual(["p1", "p2"]);
    expect(await keys({ price: { $gte: 10, $lt: 25 } })).toEqual(["p1"]);
    expect(await keys({ price: { $lte: 2 } })).toEqual(["p3"]);
    // A string is not a number: "12" is compared with strings only.
    expect(await keys({ price: { $gt: "1" } })).toEqual(["p4"]);
    expect(await keys({ kind: { $in: ["pen", "lamp"] } })).toEqual(["p3", "p4"]);
    expect(await keys({ kind: { $nin: ["pen", "lamp"] } })).toEqual(["p1", "p2"]);
    expect(await keys({ rating: { $exists: true } })).toEqual(["p2"]);
    expect(await keys({ rating: null })).toEqual(["p2"]);
    expect(await keys({ stock: 0 })).toEqual(["p1"]);
    expect(await keys({}, "graph")).toEqual(["p2"]);
    expect(await keys({ kind: "book" }, "postgres")).toEqual(["p1"]);
    // A filter key is data, never SQL.
    expect(await keys({ "kind'); DROP TABLE store; --": "book" })).toEqual([]);
    const page = await store.search(ns, { limit: 2, offset: 1 });
    expect(page).toHaveLength(2);
    // ["catalog", "direct"] does not match ["catalog", "direct2"].
    expect((await store.search(ns)).some((i) => i.key === "other")).toBe(false);
    expect((await store.search(["catalog"])).some((i) => i.key === "other")).toBe(true);
  });

  it("lists namespaces by prefix, suffix and wildcard, cut to a depth", async () => {
    for (const ns of [["org", "a", "users"], ["org", "a", "docs"], ["org", "b", "users"], ["other", "x"]]) {
      await store.put([...ns, target.name], "k", { v: 1 });
    }
    const list = (options: Parameters<PostgresStore["listNamespaces"]>[0]) => store.listNamespaces(options);
    expect(await list({ prefix: ["org", "*", "users"], maxDepth: 3 })).toEqual([["org", "a", "users"], ["org", "b", "users"]]);
    expect(await list({ prefix: ["org"], maxDepth: 2 })).toEqual([["org", "a"], ["org", "b"]]);
    expect(await list({ suffix: ["users", target.name] })).toEqual([["org", "a", "users", target.name], ["org", "b", "users", target.name]]);
    expect(await list({ prefix: ["org"], limit: 1, offset: 1 })).toEqual([["org", "a", "users", target.name]]);
  });

  it("refuses bad input with typed errors, before anything is sent", async () => {
    const before = await statements(registry);
    const bad: Array<[() => Promise<unknown>, new (...args: never[]) => Error]> = [
      [() => store.put(["a:b"], "k", { v: 1 }), InvalidInputError],
      [() => store.put(["a.b"], "k", { v: 1 }), InvalidInputError],
      [() => store.put(["%"], "k", { v: 1 }), InvalidInputError],
      [() => store.put([""], "k", { v: 1 }), InvalidInputError],
      [() => store.put(["a\u0000"], "k", { v: 1 }), InvalidInputError],
      [() => store.put([], "k", { v: 1 }), InvalidInputError],
      [() => store.put(["langgraph"], "k", { v: 1 }), InvalidInputError],
      [() => store.put([1 as never], "k", { v: 1 }), InvalidInputError],
      [() => store.put(["a"], "", { v: 1 }), InvalidInputError],
      [() => store.put(["a"], "k\u0000", { v: 1 }), InvalidInputError],
      [() => store.put(["a"], "k", "text" as never), InvalidInputError],
      [() => store.put(["a"], "k", { v: "nul \u0000 inside" }), InvalidInputError],
      [() => store.put(["a"], "k", { v: 1 }, undefined, { ttl: 0 }), InvalidInputError],
      [() => store.put(["a"], "k", { v: 1 }, undefined, { ttl: -5 }), InvalidInputError],
      [() => store.put(["a"], "k", { v: 1 }, undefined, { ttl: Number.NaN }), InvalidInputError],
      [() => store.search(["a"], { filter: { v: { $regex: "x" } } }), InvalidInputError],
      [() => store.search(["a"], { filter: { v: { $gt: {} } } }), InvalidInputError],
      [() => store.search(["a"], { limit: -1 }), InvalidInputError],
      [() => store.batch("nope" as never), InvalidInputError],
    ];
    for (const [call, type] of bad) await expect(call()).rejects.toBeInstanceOf(type);
    expect(await statements(registry)).toBe(before);
    const small = ours(schema, { maxPayloadBytes: 1024, ensureTables: false }, target.url(db.url()));
    await expect(small.put(["a"], "big", { v: "x".repeat(2000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(() => new PostgresStore({ connectionOptions: db.url(), index: { dims: 3 } } as never)).toThrow(InvalidOptionsError);
    expect(() => new PostgresStore({ connectionOptions: db.url(), ttl: { defaultTtl: 0 } })).toThrow(InvalidOptionsError);
  });

  it("expires items after their TTL, renews them on read when asked, sweeps them, and counts them", async () => {
    const ttlStore = ours(schema, { ttl: { defaultTtl: 0.02, refreshOnRead: true } }, target.url(db.url()));
    await ttlStore.put(["ttl", target.name], "short", { v: 1 });
    await ttlStore.put(["ttl", target.name], "long", { v: 2 }, undefined, { ttl: 60 });
    await store.put(["ttl", target.name], "forever", { v: 3 });
    // Read every 0.5 s: renewed each time, it outlives its 1.2 s TTL.
    for (let i = 0; i < 4; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await ttlStore.get(["ttl", target.name], "short")).not.toBeNull();
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await ttlStore.get(["ttl", target.name], "short")).toBeNull();
    expect((await ttlStore.getStats()).expiredItems).toBeGreaterThanOrEqual(1);
    expect(await ttlStore.sweepExpiredItems()).toBeGreaterThanOrEqual(1);
    expect((await store.search(["ttl", target.name])).map((i) => i.key).sort()).toEqual(["forever", "long"]);
  });
});

describe("review fixes", () => {
  it("refuses filters that would match everything or nothing by mistake, and options a timer cannot take", async () => {
    const store = ours("review_fixes");
    for (const filter of [{ n: undefined }, { $or: [{ n: 1 }] }, { n: { $gt: 0, foo: 1 } }, { n: 1n }]) {
      await expect(store.search(["a"], { filter: filter as never })).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect(() => new PostgresStore({ connectionOptions: db.url(), ttl: { sweepIntervalMinutes: 43_200 } })).toThrow(InvalidOptionsError);
    for (const value of [new Date(0), { toJSON: () => null }, { toJSON: () => undefined }]) {
      await expect(store.put(["a"], "k", value as never)).rejects.toBeInstanceOf(InvalidInputError);
    }
    await expect(store.put(["a"], "k", { v: 1 }, undefined, { ttl: 1e12 })).rejects.toBeInstanceOf(InvalidInputError);
    // Text that only looks like an escape is data.
    await store.put(["a"], "paths", { path: "C:\\udb2", code: '"\\ud83d\\ude00"' });
    expect((await store.get(["a"], "paths"))?.value).toEqual({ path: "C:\\udb2", code: '"\\ud83d\\ude00"' });
  });

  it("ignores index fields without an index, takes a batch put's options.ttl, and renews TTLs a search reads", async () => {
    const store = ours("review_ttl", { ttl: { defaultTtl: 1, refreshOnRead: true } });
    await store.put(["a"], "indexed", { text: "x" }, ["text"]);
    expect((await store.get(["a"], "indexed"))?.value).toEqual({ text: "x" });
    await store.batch([{ namespace: ["a"], key: "ttl", value: { v: 1 }, options: { ttl: 600 } } as never]);
    const expiry = async (key: string) =>
      (await admin.query("SELECT extract(epoch FROM expires_at - now())::float8 AS s FROM review_ttl.store WHERE key = $1", [key])).rows[0].s as number;
    expect(await expiry("ttl")).toBeGreaterThan(590 * 60);
    await admin.query("UPDATE review_ttl.store SET expires_at = now() + interval '10 seconds' WHERE key = 'indexed'");
    await store.search(["a"], { filter: { text: "x" } });
    expect(await expiry("indexed")).toBeGreaterThan(50);
  });

  it("runs concurrent batches that name the same keys in opposite orders without a deadlock", async () => {
    const store = ours("review_deadlock", { pool: { max: 4 } });
    await store.setup();
    const before = (await admin.query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")).rows[0].deadlocks;
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    await Promise.all(Array.from({ length: 8 }, (_, round) =>
      store.batch((round % 2 ? [...keys].reverse() : keys).map((key) => ({ namespace: ["d"], key, value: { round } })))));
    const after = (await admin.query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")).rows[0].deadlocks;
    expect(Number(after)).toBe(Number(before));
  });

  it("sets up beside the saver and the official store, all at once on a fresh schema", async () => {
    const { PostgresSaver } = await import("../../../src/index.js");
    for (let round = 0; round < 3; round += 1) {
      const schema = `together_${round}`;
      const saver = PostgresSaver.fromConnString(db.url(), { schema, metrics: false });
      const theirs = official(schema);
      try {
        // The official store's own setup can fail in such a race (it takes no lock): ours and the saver's must not.
        const [mine, savers] = await Promise.allSettled([ours(schema).setup(), saver.setup(), round === 0 ? Promise.resolve() : theirs.setup()]);
        expect([mine.status, savers.status]).toEqual(["fulfilled", "fulfilled"]);
        await theirs.setup();
      } finally {
        await saver.end();
      }
    }
  });
});

describe("setup", () => {
  it("from 8 stores at once on an empty schema: all succeed, once", async () => {
    const many = Array.from({ length: 8 }, () => ours("concurrent_setup"));
    await Promise.all(many.map((s) => s.setup()));
    const { rows } = await admin.query("SELECT array_agg(v ORDER BY v) AS v FROM concurrent_setup.store_migrations");
    expect(rows[0].v).toEqual([0, 1, 2, 3]);
  });
});
