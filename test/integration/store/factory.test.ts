import { InMemoryStore } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { Registry } from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointerUnavailableError, InvalidOptionsError } from "../../../src/index.js";
import { PostgresStore, createStore } from "../../../src/store/index.js";
import { useTestDatabase } from "../../support/database.js";

/**
 * `createStore()`, beside `createCheckpointer()`: the same environment
 * variables and fallback policy (memory only at startup, only as allowed,
 * and loudly).
 */
const db = useTestDatabase();
const opened: PostgresStore[] = [];
afterAll(async () => {
  for (const store of opened) await store.end();
});

function recordingLogger() {
  const lines: Array<[string, string]> = [];
  const log = (level: string) => (message: string) => lines.push([level, message]);
  return { lines, logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") } };
}

describe("createStore", () => {
  it("connects and sets up the store named by the environment", async () => {
    const store = await createStore({ env: { LANGGRAPH_CHECKPOINT_URL: db.url(), LANGGRAPH_CHECKPOINT_SCHEMA: "factory_store" }, metrics: { registry: new Registry() } });
    expect(store).toBeInstanceOf(PostgresStore);
    opened.push(store as PostgresStore);
    await store.put(["a"], "k", { v: 1 });
    const pool = new pg.Pool({ connectionString: db.url() });
    const { rows } = await pool.query("SELECT value FROM factory_store.store WHERE key = 'k'");
    await pool.end();
    expect(rows).toEqual([{ value: { v: 1 } }]);
  });

  it("falls back to an InMemoryStore, loudly, only as allowed", async () => {
    const registry = new Registry();
    const { lines, logger } = recordingLogger();
    const unreachable = "postgres://user:s3cret@127.0.0.1:1/nowhere";
    const fallen = await createStore({
      url: unreachable, logger, metrics: { registry }, env: {}, retry: { maxAttempts: 1 }, pool: { connectionTimeoutMillis: 500 },
    });
    expect(fallen).toBeInstanceOf(InMemoryStore);
    const errors = lines.filter(([level]) => level === "error").map(([, message]) => message);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^FALLING BACK TO THE IN-MEMORY STORE: could not reach postgres:\/\/user:\*\*\*@127\.0\.0\.1:1\/nowhere/);
    expect(errors[0]).not.toContain("s3cret");
    expect(await registry.getSingleMetricAsString("langgraph_checkpoint_fallbacks_total")).toMatch(/ 1$/m);

    expect(await createStore({ env: {}, logger })).toBeInstanceOf(InMemoryStore);
    await expect(createStore({ env: { NODE_ENV: "production" }, logger })).rejects.toBeInstanceOf(CheckpointerUnavailableError);
    await expect(createStore({ url: unreachable, fallback: "throw", env: {}, retry: { maxAttempts: 1 }, pool: { connectionTimeoutMillis: 500 } }))
      .rejects.toBeInstanceOf(CheckpointerUnavailableError);
    expect(await createStore({ url: "memory", logger })).toBeInstanceOf(InMemoryStore);
    await expect(createStore({ url: "embedded" })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(createStore({ fallback: "maybe" as never, env: {} })).rejects.toBeInstanceOf(InvalidOptionsError);
  });
});
