import type { RunnableConfig } from "@langchain/core/runnables";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { CheckpointerClosedError, InvalidInputError, InvalidOptionsError, PostgresSaver } from "../../../src/index.js";
import { useSaver } from "../../support/saver.js";
import { checkpointWith, loopMetadata, metadataWith, threadId } from "../../support/fixtures.js";
import { countRows } from "../../support/rows.js";

/** Each case is something the official saver gets wrong (see DESIGN notes). */
const env = useSaver();


describe("NUL characters round-trip", () => {
  const nul = "before\u0000after";

  it("in metadata keys and values, in channel values and in writes", async () => {
    const thread = threadId();
    const metadata = metadataWith({ note: nul, [`key${nul}`]: [nul, { inner: `\u0000${nul}\uffff` }], mark: "\uffffstarts with the escape mark" });
    const cp = checkpointWith({ text: nul, nested: { list: [nul, "\u0000"] } });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, metadata, cp.channel_versions);
    await env.saver.putWrites(config, [["text", `write ${nul}`]], "task\u00e9");
    const tuple = await env.saver.getTuple(config);
    expect(tuple!.metadata).toEqual(metadata);
    expect(tuple!.checkpoint.channel_values).toEqual(cp.channel_values);
    expect(tuple!.pendingWrites).toEqual([["task\u00e9", "text", `write ${nul}`]]);
  });

  it("list filters match metadata values that contain NUL", async () => {
    const thread = threadId();
    const cp = checkpointWith({ a: 1 });
    await env.saver.put({ configurable: { thread_id: thread } }, cp, metadataWith({ tag: nul }), cp.channel_versions);
    const found = [];
    for await (const t of env.saver.list({ configurable: { thread_id: thread } }, { filter: { tag: nul } })) found.push(t);
    expect(found).toHaveLength(1);
    const none = [];
    for await (const t of env.saver.list({ configurable: { thread_id: thread } }, { filter: { tag: "beforeafter" } })) none.push(t);
    expect(none).toHaveLength(0);
  });

  it("metadata without NUL is stored exactly as plain JSON (what the official saver reads)", async () => {
    const thread = threadId();
    const cp = checkpointWith({ a: 1 });
    await env.saver.put({ configurable: { thread_id: thread } }, cp, metadataWith({ plain: "é ü 😀" }), cp.channel_versions);
    const { rows } = await env.pool.query("SELECT metadata FROM checkpoints WHERE thread_id = $1", [thread]);
    expect(rows[0].metadata).toEqual({ ...loopMetadata, plain: "é ü 😀" });
  });
});

it("putWrites without checkpoint_ns stores the root namespace ''", async () => {
  const thread = threadId();
  const cp = checkpointWith({ a: 1 });
  const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
  await env.saver.putWrites({ configurable: { thread_id: thread, checkpoint_id: cp.id } }, [["a", 2]], "t");
  const { rows } = await env.pool.query("SELECT checkpoint_ns FROM checkpoint_writes WHERE thread_id = $1", [thread]);
  expect(rows).toEqual([{ checkpoint_ns: "" }]);
  expect((await env.saver.getTuple(config))!.pendingWrites).toEqual([["t", "a", 2]]);
});

describe("nothing the caller passes is pasted into SQL", () => {
  const hostile = `x'); DROP TABLE checkpoints; --`;

  it("list() refuses a limit that is not a non-negative integer", async () => {
    for (const limit of ["1; DROP TABLE checkpoints", -1, 1.5, Number.NaN]) {
      await expect(async () => {
        for await (const _ of env.saver.list({}, { limit: limit as number })) {
        }
      }).rejects.toThrow(InvalidInputError);
    }
    expect((await env.pool.query("SELECT to_regclass('checkpoints') IS NOT NULL AS ok")).rows[0].ok).toBe(true);
  });

  it("hostile thread ids, namespaces, channels and metadata filters are plain values", async () => {
    const cp = checkpointWith({ [hostile]: hostile });
    const config = await env.saver.put({ configurable: { thread_id: hostile, checkpoint_ns: hostile } }, cp, metadataWith({ [hostile]: hostile }), cp.channel_versions);
    await env.saver.putWrites(config, [[hostile, hostile]], hostile, hostile);
    const tuple = await env.saver.getTuple(config);
    expect(tuple!.checkpoint.channel_values).toEqual({ [hostile]: hostile });
    const matches = [];
    for await (const t of env.saver.list({ configurable: { thread_id: hostile } }, { filter: { [hostile]: hostile } })) matches.push(t);
    expect(matches).toHaveLength(1);
    const injected = [];
    for await (const t of env.saver.list({}, { filter: { "source') OR true --": "x", [`'${hostile}`]: { "\"": 1 } } })) injected.push(t);
    expect(injected).toHaveLength(0);
    expect((await env.pool.query("SELECT to_regclass('checkpoints') IS NOT NULL AS ok")).rows[0].ok).toBe(true);
  });
});

describe("the schema option is an identifier, never SQL", () => {
  it.each([`we"ird; DROP TABLE public.canary; --`, "with space", "UPPER lower", "ünïcode 🙂"])(
    "schema %j works and touches nothing else",
    async (schema) => {
      await env.pool.query("CREATE TABLE IF NOT EXISTS public.canary (x int)");
      const s = new PostgresSaver(env.pool, undefined, { schema });
      await s.setup();
      const thread = threadId();
      const cp = checkpointWith({ a: 1 });
      const config = await s.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
      expect((await s.getTuple(config))!.checkpoint.channel_values).toEqual({ a: 1 });
      expect(await countRows(env.pool, schema, thread)).toEqual({ checkpoints: 1, blobs: 1, writes: 0 });
      expect((await env.pool.query("SELECT to_regclass('public.canary') IS NOT NULL AS ok")).rows[0].ok).toBe(true);
      expect((await env.pool.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])).rowCount).toBe(1);
    },
  );

  it.each(["", "x".repeat(64), "nul\u0000byte", 42])("schema %j is refused with InvalidOptionsError", (schema) => {
    expect(() => new PostgresSaver(env.pool, undefined, { schema: schema as string })).toThrow(InvalidOptionsError);
  });
});

describe("connections and lifecycle", () => {
  it("an idle connection killed by the server does not crash the process; the saver carries on", async () => {
    const warn = vi.fn();
    const logger = { debug() {}, info() {}, warn, error() {} };
    const own = PostgresSaver.fromConnString(env.url(), { logger });
    await own.setup();
    const { rows } = await own.pool.query("SELECT pg_backend_pid() AS pid");
    // The connection is now idle in the pool; kill it from outside.
    await env.pool.query("SELECT pg_terminate_backend($1)", [(rows[0] as { pid: number }).pid]);
    await vi.waitFor(() => expect(warn).toHaveBeenCalled(), { timeout: 5000 });
    expect(String(warn.mock.calls[0]![0])).toMatch(/idle database connection/);
    const cp = checkpointWith({ a: 1 });
    const config = await own.put({ configurable: { thread_id: threadId() } }, cp, loopMetadata, cp.channel_versions);
    expect(await own.getTuple(config)).toBeDefined();
    await own.end();
  });

  it("end() closes a pool the saver created, but not one the caller passed in", async () => {
    const callerPool = new pg.Pool({ connectionString: env.url() });
    const borrowed = new PostgresSaver(callerPool);
    await borrowed.setup();
    await borrowed.end();
    expect((await callerPool.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    expect(callerPool.listenerCount("error")).toBe(0);
    await callerPool.end();

    const own = PostgresSaver.fromConnString(env.url());
    await own.setup();
    await own.end();
    await expect(own.pool.query("SELECT 1")).rejects.toThrow();
  });

  it("end() is idempotent and later operations fail with CheckpointerClosedError", async () => {
    const own = PostgresSaver.fromConnString(env.url());
    await Promise.all([own.end(), own.end()]);
    await own.end();
    await expect(own.getTuple({ configurable: { thread_id: "t" } })).rejects.toThrow(CheckpointerClosedError);
    await expect(own.setup()).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("JSON.stringify(saver) does not throw or leak the pool", () => {
    const own = PostgresSaver.fromConnString("postgresql://user:secret-password@127.0.0.1:1/db");
    const json = JSON.stringify({ configurable: { checkpointer: own } });
    expect(json).toContain("PostgresSaver");
    expect(json).not.toContain("secret-password");
    return own.end();
  });
});

describe("time travel", () => {
  it("a fork made with updateState on an older checkpoint reads its own value, not the abandoned branch's", async () => {
    const State = Annotation.Root({ x: Annotation<string> });
    const graph = new StateGraph(State)
      .addNode("exclaim", (s: { x: string }) => ({ x: `${s.x}!` }))
      .addNode("ask", (s: { x: string }) => ({ x: `${s.x}?` }))
      .addEdge(START, "exclaim")
      .addEdge("exclaim", "ask")
      .addEdge("ask", END)
      .compile({ checkpointer: env.saver });
    const config = { configurable: { thread_id: threadId("fork") } };
    await graph.invoke({ x: "a" }, config);
    expect((await graph.getState(config)).values.x).toBe("a!?");
    let afterExclaim: RunnableConfig | undefined;
    for await (const snapshot of graph.getStateHistory(config)) {
      if (snapshot.values.x === "a!") afterExclaim = snapshot.config;
    }
    const forked = await graph.updateState(afterExclaim!, { x: "FORK" }, "exclaim");
    expect((await graph.getState(forked)).values.x).toBe("FORK");
    await graph.invoke(null, forked);
    expect((await graph.getState(config)).values.x).toBe("FORK?");
  });
});
