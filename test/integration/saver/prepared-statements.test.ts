import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { Registry } from "prom-client";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Logger, PostgresSaver, type PostgresSaverOptions } from "../../../src/index.js";
import { databaseOf } from "../../../src/database.js";
import type { TupleRow } from "../../../src/sql/index.js";
import { useTestDatabase } from "../../support/database.js";
import { checkpointWith, loopMetadata, threadId } from "../../support/fixtures.js";
import { findPgBouncer, type RunningBouncer, startPgBouncer } from "../../support/pgbouncer.js";

/**
 * Cached plans: the saver sends its statements as named prepared
 * statements, keeps index seeks in their generic plans, falls back (once,
 * logged) behind a pooler that does not keep them, and a list page carries
 * each stored value once.
 */
const db = useTestDatabase();

interface LogLine {
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push({ level, message, fields });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A saver on a pool of one connection (so a test can look at that connection), with its own metrics. */
function saverOn(url: string, options: PostgresSaverOptions = {}) {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const registry = new Registry();
  const lines: LogLine[] = [];
  const saver = new PostgresSaver(pool, undefined, { metrics: { registry }, logger: recordingLogger(lines), ...options });
  const statements = async (mode: "prepared" | "unprepared") => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === "langgraph_checkpoint_statements_total");
    return (metric?.values ?? []).find((v) => v.labels.mode === mode)?.value ?? 0;
  };
  const close = async () => {
    await saver.end();
    await pool.end();
  };
  return { saver, pool, lines, statements, close };
}

async function writeThread(saver: PostgresSaver, thread: string, steps: number) {
  let config: { configurable?: Record<string, unknown> } = { configurable: { thread_id: thread, checkpoint_ns: "" } };
  for (let step = 0; step < steps; step += 1) {
    const checkpoint = checkpointWith({ counter: step, notes: { text: `step ${step}` } }, step + 1);
    config = await saver.put(config, checkpoint, { ...loopMetadata, step }, checkpoint.channel_versions);
  }
  return config;
}

/** Everything each reader returns for a thread, comparable across savers. */
async function readEverything(saver: PostgresSaver, thread: string, at: string) {
  const all = [];
  for await (const t of saver.list({ configurable: { thread_id: thread } })) all.push(t);
  const paged = [];
  for await (const t of saver.list({ configurable: { thread_id: thread } }, { limit: 3, before: { configurable: { checkpoint_id: at } } })) paged.push(t);
  const filtered = [];
  for await (const t of saver.list({ configurable: { thread_id: thread } }, { filter: { step: 2 } })) filtered.push(t);
  return {
    latest: await saver.getTuple({ configurable: { thread_id: thread } }),
    byId: await saver.getTuple({ configurable: { thread_id: thread, checkpoint_id: at } }),
    all,
    paged,
    filtered,
  };
}

describe("on a direct connection", () => {
  it("statements are prepared once per connection, and read back what unprepared ones do", async () => {
    const prepared = saverOn(db.url(), { listPageSize: 4 });
    const unprepared = saverOn(db.url(), { preparedStatements: false, listPageSize: 4 });
    try {
      await prepared.saver.setup();
      const thread = threadId();
      const config = await writeThread(prepared.saver, thread, 9);
      const at = String(config.configurable!.checkpoint_id);
      const viaPrepared = await readEverything(prepared.saver, thread, at);
      const viaUnprepared = await readEverything(unprepared.saver, thread, at);
      expect(viaPrepared).toEqual(viaUnprepared);
      expect(viaPrepared.all).toHaveLength(9);
      expect(viaPrepared.paged).toHaveLength(3);
      expect(viaPrepared.filtered.map((t) => t.metadata?.step)).toEqual([2]);

      const names = async (pool: pg.Pool) =>
        (await pool.query<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE name LIKE 'lgcp_%'")).rows.map((r) => r.name);
      // put, getTuple latest and by id, and the list shapes used (all, before + limit, filter; each with a cursor).
      expect((await names(prepared.pool)).length).toBeGreaterThanOrEqual(6);
      expect(await names(unprepared.pool)).toEqual([]);
      expect(await prepared.statements("prepared")).toBeGreaterThan(9);
      expect(await prepared.statements("unprepared")).toBe(0);
      expect(await unprepared.statements("prepared")).toBe(0);
      expect(await unprepared.statements("unprepared")).toBeGreaterThan(0);
      expect(prepared.lines.filter((l) => l.level === "info")).toEqual([]);
    } finally {
      await prepared.close();
      await unprepared.close();
    }
  });

  it("the generic plans Postgres caches for them stay index seeks", async () => {
    const { saver, close } = saverOn(db.url());
    const client = new pg.Client(db.url());
    await client.connect();
    try {
      await saver.setup();
      const thread = threadId("big");
      const config = await writeThread(saver, thread, 2);
      // 5,000 more checkpoints, copied in SQL: enough that a scan of the thread costs more than a seek.
      await client.query(
        `INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
         SELECT $1, '', '0-' || lpad(n::text, 8, '0'), NULL, checkpoint, metadata
         FROM checkpoints, generate_series(1, 5000) AS n WHERE thread_id = $1 AND checkpoint_id = $2`,
        [thread, config.configurable!.checkpoint_id],
      );
      await client.query("ANALYZE checkpoints");
      await client.query("SET plan_cache_mode = force_generic_plan");
      const sql = databaseOf(saver).sql.checkpoints;
      const at = "0-00002500";
      const list = (query: Partial<Parameters<typeof sql.listPage>[0]>) =>
        sql.listPage({ threadId: thread, ns: null, checkpointId: null, filter: null, before: null, cursor: null, limit: 10, ...query });
      const cases: Record<string, { text: string; values: unknown[] }> = {
        "getTuple latest": { text: sql.getTupleLatest, values: [thread, ""] },
        "getTuple by id": { text: sql.getTupleById, values: [thread, "", at] },
        "list a namespace": list({ ns: "" }),
        "list a namespace by id": list({ ns: "", checkpointId: at }),
        "list a namespace before an id": list({ ns: "", before: at }),
        "list a namespace from a cursor": list({ ns: "", cursor: [at, thread, ""] }),
        "list a namespace with a filter": list({ ns: "", filter: JSON.stringify({ step: 1 }) }),
        "getDeltaChannelHistory latest": { text: sql.deltaHistoryLatest, values: [thread, "", "{counter}"] },
        "getDeltaChannelHistory by id": { text: sql.deltaHistoryById, values: [thread, "", at, "{counter}"] },
        // Across namespaces no index gives checkpoint_id order: both savers read the thread's rows by index and sort them.
        "list every namespace of a thread": list({}),
      };
      for (const [label, { text, values }] of Object.entries(cases)) {
        const name = `plan_${label.replaceAll(" ", "_")}`;
        await client.query(`PREPARE ${name} AS ${text}`);
        const literals = values.map((v) => (v === null ? "NULL" : `'${String(v).replaceAll("'", "''")}'`));
        const plan = (await client.query(`EXPLAIN EXECUTE ${name}(${literals.join(", ")})`)).rows.map((r) => r["QUERY PLAN"]).join("\n");
        expect(plan, label).not.toMatch(/Seq Scan on checkpoints\b/);
        if (label === "list every namespace of a thread") {
          expect(plan, label).toMatch(/Index Cond: \(thread_id = \$1\)/);
          continue;
        }
        // A seek into the primary key on (thread, namespace[, id]), never a walk of the thread filtered row by row.
        expect(plan, label).toMatch(/Index Scan( Backward)? using checkpoints_pkey on checkpoints/);
        expect(plan, label).toMatch(/Index Cond: \(\(thread_id = \$1\) AND \(checkpoint_ns = \$2\)/);
        if (/by id|before|cursor/.test(label)) expect(plan, label).toMatch(/Index Cond: \(\(thread_id = \$1\) AND \(checkpoint_ns = \$2\) AND \(checkpoint_id [<=]+ \$3\)/);
      }
    } finally {
      await client.end();
      await close();
    }
  });

  it("a connection whose prepared statements the server dropped is replaced, not handed out again", async () => {
    const { saver, pool, close } = saverOn(db.url(), { preparedStatements: true, retry: { maxAttempts: 1 } });
    try {
      await saver.setup();
      const thread = threadId();
      await writeThread(saver, thread, 2);
      const config = { configurable: { thread_id: thread } };
      expect(await saver.getTuple(config)).toBeDefined();
      // Someone else on the same pool (one connection) drops every prepared statement of the session.
      await pool.query("DEALLOCATE ALL");
      const failure = await saver.getTuple(config).then(() => undefined, (error: unknown) => error);
      expect(failure).toMatchObject({ name: "CheckpointerDatabaseError", sqlstate: "26000" });
      // The next operation gets a fresh connection and prepares its statement there.
      expect((await saver.getTuple(config))?.checkpoint.channel_values.counter).toBe(1);
      expect((await saver.getTuple(config))?.checkpoint.channel_values.counter).toBe(1);
    } finally {
      await close();
    }
  });

  it("a list page carries each stored value once, however many of its checkpoints hold it", async () => {
    const { saver, pool, close } = saverOn(db.url());
    try {
      await saver.setup();
      const thread = threadId();
      const big = { text: "y".repeat(20_000) };
      let config: { configurable?: Record<string, unknown> } = { configurable: { thread_id: thread, checkpoint_ns: "" } };
      for (let step = 0; step < 8; step += 1) {
        // "big" is written once and kept at version 1; "counter" changes every step.
        const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { big, counter: step }, channel_versions: { big: 1, counter: step + 1 } };
        const changed = step === 0 ? { big: 1, counter: 1 } : { counter: step + 1 };
        config = await saver.put(config, checkpoint, { ...loopMetadata, step }, changed as Record<string, number>);
      }
      const sql = databaseOf(saver).sql.checkpoints;
      const { text, values } = sql.listPage({ threadId: thread, ns: null, checkpointId: null, filter: null, before: null, cursor: null, limit: 8 });
      const { rows } = await pool.query<TupleRow>(text, values);
      expect(rows).toHaveLength(8);
      const index = rows.flatMap((row) => row.value_index ?? []);
      // "big" comes once, with the first row of the page (every row holds it),
      // naming every row that holds it; each row brings its own "counter".
      const bigEntries = index.filter(([, channel]) => channel === "big");
      expect(bigEntries).toHaveLength(1);
      expect([...bigEntries[0]![0]].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(rows[0]!.value_index!.filter(([, channel]) => channel === "big")).toHaveLength(1);
      rows.forEach((row, i) => expect(row.value_index!.filter(([ordinals, channel]) => channel === "counter" && ordinals[0] === i + 1)).toHaveLength(1));
      const sent = rows.reduce((n, row) => n + (row.value_data?.byteLength ?? 0), 0);
      expect(sent).toBeLessThan(2 * 20_000);

      const tuples = [];
      for await (const t of saver.list({ configurable: { thread_id: thread } })) tuples.push(t);
      expect(tuples.map((t) => t.checkpoint.channel_values.counter)).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
      for (const t of tuples) expect(t.checkpoint.channel_values.big).toEqual(big);
      // Each tuple has a value of its own: changing one changes no other.
      (tuples[0]!.checkpoint.channel_values.big as { text: string }).text = "changed";
      expect(tuples[1]!.checkpoint.channel_values.big).toEqual(big);
    } finally {
      await close();
    }
  });
});

describe.runIf(findPgBouncer() !== undefined || process.env.CI === "true")("behind PgBouncer 1.18 in transaction mode (no prepared statements)", () => {
  let bouncer: RunningBouncer;
  beforeAll(async () => {
    const direct = saverOn(db.url());
    await direct.saver.setup();
    await direct.close();
  });
  beforeEach(async () => {
    // A PgBouncer of its own per test, so the test decides which server connections exist.
    bouncer = await startPgBouncer(db.url());
  });
  afterEach(async () => {
    await bouncer?.stop();
  });

  /**
   * Prepares the saver's getTuple on the only server connection there is,
   * then holds that connection in a transaction of another client: the
   * saver's next statement lands on a new server connection, where its
   * prepared statement does not exist.
   */
  async function onAnotherServerConnection<T>(saver: PostgresSaver, config: object, then: () => Promise<T>): Promise<T> {
    await saver.getTuple(config as never);
    const blocker = new pg.Client(bouncer.via(db.url()));
    await blocker.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT 1");
      return await then();
    } finally {
      await blocker.query("COMMIT").catch(() => undefined);
      await blocker.end();
    }
  }

  it('"auto" falls back to unprepared statements once, logged at info, and no operation fails', async () => {
    const { saver, lines, statements, close } = saverOn(bouncer.via(db.url()));
    try {
      const thread = threadId();
      const config = await writeThread(saver, thread, 3);
      const tuple = await onAnotherServerConnection(saver, { configurable: { thread_id: thread } }, () =>
        saver.getTuple({ configurable: { thread_id: thread } }),
      );
      expect(tuple?.checkpoint.channel_values.counter).toBe(2);
      expect(tuple?.config.configurable?.checkpoint_id).toBe(config.configurable!.checkpoint_id);
      const fallbacks = lines.filter((l) => l.message.includes("prepared statements are not kept"));
      expect(fallbacks).toHaveLength(1);
      expect(fallbacks[0]).toMatchObject({ level: "info", fields: { code: "26000" } });
      const preparedBefore = await statements("prepared");

      // From now on every statement goes unprepared, and everything works.
      await writeThread(saver, thread, 2);
      for await (const _ of saver.list({ configurable: { thread_id: thread } }));
      await onAnotherServerConnection(saver, { configurable: { thread_id: thread } }, () => saver.deleteThread(thread));
      expect(await saver.getTuple({ configurable: { thread_id: thread } })).toBeUndefined();
      expect(await statements("prepared")).toBe(preparedBefore);
      expect(await statements("unprepared")).toBeGreaterThan(5);
      expect(lines.filter((l) => l.message.includes("prepared statements are not kept"))).toHaveLength(1);
    } finally {
      await close();
    }
  });

  it("true never falls back: the statement fails with the server's error", async () => {
    const { saver, lines, close } = saverOn(bouncer.via(db.url()), { preparedStatements: true, retry: { maxAttempts: 1 } });
    try {
      const thread = threadId();
      await writeThread(saver, thread, 1);
      const failure = await onAnotherServerConnection(saver, { configurable: { thread_id: thread } }, () =>
        saver.getTuple({ configurable: { thread_id: thread } }).then(() => undefined, (error: unknown) => error),
      );
      expect(failure).toMatchObject({ name: "CheckpointerDatabaseError", sqlstate: "26000" });
      expect(lines.filter((l) => l.message.includes("prepared statements are not kept"))).toEqual([]);
    } finally {
      await close();
    }
  });
});
