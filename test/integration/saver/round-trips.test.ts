import { TASKS, uuid6 } from "@langchain/langgraph-checkpoint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresSaver } from "../../../src/index.js";
import { type CountingPool, countingPool } from "../../support/counting-pool.js";
import { useTestDatabase } from "../../support/database.js";
import { checkpointWith, loopMetadata, threadId } from "../../support/fixtures.js";

/**
 * Counts the statements each operation sends to the server: the promise is
 * one round trip per operation whatever the number of channels or writes.
 */
const db = useTestDatabase();
let counting: CountingPool;
let saver: PostgresSaver;

beforeAll(async () => {
  counting = countingPool(db.url());
  saver = new PostgresSaver(counting.pool, undefined, { listPageSize: 100 });
  await saver.setup();
});
afterAll(async () => {
  await saver.end();
  await counting.pool.end();
});

/** Statements sent while `f` runs. */
async function statementsDuring(f: () => Promise<unknown>): Promise<string[]> {
  counting.reset();
  await f();
  return [...counting.statements];
}

function channels(n: number): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`channel_${i}`, { i, text: "x".repeat(i * 10) }]));
}

describe("one statement per operation", () => {
  it.each([1, 5, 20, 200])("put with %i channels sends one statement and no BEGIN/COMMIT", async (n) => {
    const thread = threadId();
    const cp = checkpointWith(channels(n));
    const sent = await statementsDuring(() =>
      saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions),
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]).not.toMatch(/^\s*(BEGIN|COMMIT)/i);
    const tuple = await saver.getTuple({ configurable: { thread_id: thread } });
    expect(Object.keys(tuple!.checkpoint.channel_values)).toHaveLength(n);
  });

  it.each([1, 4, 32, 500])("putWrites with %i writes sends one statement", async (n) => {
    const thread = threadId();
    const cp = checkpointWith({ a: 1 });
    const config = await saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const writes = Array.from({ length: n }, (_, i) => [`ch_${i % 7}`, { i }] as [string, unknown]);
    const sent = await statementsDuring(() => saver.putWrites(config, writes, "task-1", "path"));
    expect(sent).toHaveLength(1);
    const tuple = await saver.getTuple(config);
    expect(tuple!.pendingWrites).toHaveLength(n);
  });

  it("getTuple (latest and by id, with many pending writes) sends one statement", async () => {
    const thread = threadId();
    const parentConfig = await saver.put({ configurable: { thread_id: thread } }, checkpointWith({ a: 1 }), loopMetadata, { a: 1 });
    const childConfig = await saver.put(parentConfig, checkpointWith({ b: 2 }), loopMetadata, { b: 1 });
    await saver.putWrites(childConfig, Array.from({ length: 300 }, (_, i) => ["w", i] as [string, unknown]), "t2");

    let latest: Awaited<ReturnType<typeof saver.getTuple>>;
    expect(await statementsDuring(async () => (latest = await saver.getTuple({ configurable: { thread_id: thread } })))).toHaveLength(1);
    expect(latest!.pendingWrites).toHaveLength(300);
    expect(await statementsDuring(() => saver.getTuple(childConfig))).toHaveLength(1);
    expect(await statementsDuring(() => saver.getTuple(parentConfig))).toHaveLength(1);
  });

  it("a pre-v4 checkpoint with a parent costs one more statement, for its pending sends", async () => {
    const thread = threadId();
    const parent = { ...checkpointWith({ a: 1 }), v: 1 };
    const parentConfig = await saver.put({ configurable: { thread_id: thread } }, parent, loopMetadata, { a: 1 });
    await saver.putWrites(parentConfig, [[TASKS, "send-1"], [TASKS, "send-2"]], "t1");
    const child = { ...checkpointWith({ b: 2 }), v: 1 };
    await saver.put(parentConfig, child, loopMetadata, { b: 1 });

    let latest: Awaited<ReturnType<typeof saver.getTuple>>;
    expect(await statementsDuring(async () => (latest = await saver.getTuple({ configurable: { thread_id: thread } })))).toHaveLength(2);
    expect(latest!.checkpoint.channel_values[TASKS]).toEqual(["send-1", "send-2"]);
    // The parent has no parent: nothing to migrate, one statement.
    expect(await statementsDuring(() => saver.getTuple(parentConfig))).toHaveLength(1);
    // A fork: a second pre-v4 child of the same parent. A list page fetches the
    // sends of all its pre-v4 rows at once, and each row gets them once.
    await saver.put(parentConfig, { ...checkpointWith({ c: 3 }), v: 1 }, loopMetadata, { c: 1 });
    const listed: Array<Awaited<ReturnType<typeof saver.getTuple>>> = [];
    expect(await statementsDuring(async () => {
      for await (const tuple of saver.list({ configurable: { thread_id: thread } })) listed.push(tuple);
    })).toHaveLength(2);
    const children = listed.filter((tuple) => tuple!.parentConfig !== undefined);
    expect(children).toHaveLength(2);
    for (const child of children) expect(child!.checkpoint.channel_values[TASKS]).toEqual(["send-1", "send-2"]);
  });

  it("deleteThread sends one statement and removes every row of the thread", async () => {
    const thread = threadId();
    let config = { configurable: { thread_id: thread } } as Parameters<typeof saver.put>[0];
    for (let i = 0; i < 5; i += 1) {
      const cp = checkpointWith(channels(3), i + 1);
      config = await saver.put(config, cp, loopMetadata, cp.channel_versions);
      await saver.putWrites(config, [["x", i]], `task-${i}`);
    }
    expect(await statementsDuring(() => saver.deleteThread(thread))).toHaveLength(1);
    expect(await saver.getTuple({ configurable: { thread_id: thread } })).toBeUndefined();
    const { rows } = await counting.pool.query(
      `SELECT (SELECT count(*) FROM checkpoints WHERE thread_id = $1)::int +
              (SELECT count(*) FROM checkpoint_blobs WHERE thread_id = $1)::int +
              (SELECT count(*) FROM checkpoint_writes WHERE thread_id = $1)::int AS n`,
      [thread],
    );
    expect(rows[0].n).toBe(0);
  });

  it("getDeltaChannelHistory over a 30-checkpoint chain sends one statement", async () => {
    const thread = threadId();
    let config = await saver.put(
      { configurable: { thread_id: thread } },
      checkpointWith({ messages: ["seed"] }),
      loopMetadata,
      { messages: 1 },
    );
    for (let i = 0; i < 30; i += 1) {
      await saver.putWrites(config, [["messages", [`m${i}`]]], `task-${i}`);
      config = await saver.put(config, checkpointWith({}), loopMetadata, {});
    }
    let history: Awaited<ReturnType<typeof saver.getDeltaChannelHistory>> = {};
    const sent = await statementsDuring(async () => {
      history = await saver.getDeltaChannelHistory({ config, channels: ["messages"] });
    });
    expect(sent).toHaveLength(1);
    expect(history.messages!.seed).toEqual(["seed"]);
    expect(history.messages!.writes.map((w) => w[2])).toEqual(Array.from({ length: 30 }, (_, i) => [`m${i}`]));
  });

  it("setup() on a current schema sends one statement", async () => {
    expect(await statementsDuring(() => saver.setup())).toHaveLength(1);
  });
});

describe("maintenance operations", () => {
  it("exportThread reads a thread in one snapshot: BEGIN, 4 reads, COMMIT; importThread writes it in one transaction", async () => {
    const thread = threadId();
    const cp = checkpointWith(channels(5));
    const config = await saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    await saver.putWrites(config, [["a", 1], ["b", 2]], "task-1");
    let doc: Awaited<ReturnType<typeof saver.exportThread>> | undefined;
    const exported = await statementsDuring(async () => (doc = await saver.exportThread(thread)));
    expect(exported).toHaveLength(6);
    expect(exported[0]).toMatch(/^BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY$/);
    expect(exported.at(-1)).toBe("COMMIT");
    await saver.deleteThread(thread);
    const imported = await statementsDuring(() => saver.importThread(doc!));
    expect(imported.map((sql) => sql.trim().split(/\s+/).slice(0, 3).join(" "))).toEqual([
      "BEGIN", "INSERT INTO \"public\".checkpoints", "INSERT INTO \"public\".checkpoint_blobs", "INSERT INTO \"public\".checkpoint_writes", "COMMIT",
    ]);
  });
});

describe("list streams with keyset pagination", () => {
  const thread = threadId("list");
  const total = 250;

  beforeAll(async () => {
    let config = { configurable: { thread_id: thread, checkpoint_ns: "" } } as Parameters<typeof saver.put>[0];
    for (let i = 0; i < total; i += 1) {
      const cp = { ...checkpointWith({ n: i }, i + 1), id: uuid6(-1) };
      config = await saver.put(config, cp, { ...loopMetadata, step: i }, cp.channel_versions);
    }
  });

  it("sends one statement per page and returns every checkpoint once, newest first", async () => {
    const seen: string[] = [];
    const sent = await statementsDuring(async () => {
      for await (const tuple of saver.list({ configurable: { thread_id: thread } })) seen.push(tuple.checkpoint.id);
    });
    // 250 rows at 100 per page: pages of 100, 100, 50.
    expect(sent).toHaveLength(3);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it("fetches lazily: taking the first rows costs one statement", async () => {
    const sent = await statementsDuring(async () => {
      let taken = 0;
      for await (const _ of saver.list({ configurable: { thread_id: thread } })) {
        if (++taken === 5) break;
      }
    });
    expect(sent).toHaveLength(1);
  });

  it("a limit within one page costs one statement and the limit is a parameter, not SQL text", async () => {
    const ten = await statementsDuring(async () => {
      const got = [];
      for await (const t of saver.list({ configurable: { thread_id: thread } }, { limit: 10 })) got.push(t);
      expect(got).toHaveLength(10);
    });
    const fifty = await statementsDuring(async () => {
      for await (const _ of saver.list({ configurable: { thread_id: thread } }, { limit: 50 })) {
      }
    });
    expect(ten).toHaveLength(1);
    expect(fifty).toHaveLength(1);
    expect(ten[0]).toBe(fifty[0]);
  });

  it("pages across namespaces and threads without duplicates or gaps", async () => {
    const small = new PostgresSaver(counting.pool, undefined, { listPageSize: 7 });
    const other = threadId("list-other");
    for (const ns of ["", "child"]) {
      let config = { configurable: { thread_id: other, checkpoint_ns: ns } } as Parameters<typeof saver.put>[0];
      for (let i = 0; i < 10; i += 1) {
        const cp = checkpointWith({ n: i }, i + 1);
        config = await small.put(config, cp, loopMetadata, cp.channel_versions);
      }
    }
    const seen: string[] = [];
    for await (const t of small.list({ configurable: { thread_id: other } })) {
      seen.push(`${t.config.configurable?.checkpoint_ns}/${t.checkpoint.id}`);
    }
    expect(seen).toHaveLength(20);
    expect(new Set(seen).size).toBe(20);
    const all: string[] = [];
    for await (const t of small.list({})) all.push(`${t.config.configurable?.thread_id}/${t.checkpoint.id}`);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(total + 20);
  });
});
