import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresSaver, SCHEMA_VERSION } from "../../../src/index.js";
import { type CliResult, THREADS, cli, parsed, populate } from "../../support/cli.js";
import { createDatabase, dropDatabase, useTestDatabase } from "../../support/database.js";

/**
 * How the tool connects: `setup` from several processes at once, the
 * environment variables it reads, and connection strings never printed
 * with their password, whether the database is unreachable or live.
 * (Every run in the CLI tests is also checked for leaked passwords by
 * `cli()` itself; here they are asserted explicitly.)
 */
const db = useTestDatabase();
let pool: pg.Pool;
let saver: PostgresSaver;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url() });
  saver = new PostgresSaver(pool);
  await saver.setup();
  await populate(saver, ["failing"]);
});

afterAll(async () => {
  await saver?.end();
  await pool?.end();
});

function expectNoSecret(results: CliResult[], secret: string): void {
  expect(secret.length).toBeGreaterThan(5);
  for (const result of results) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
}

/** Nothing listens on port 1. One attempt instead of the default 8, so the failure comes at once. */
const secret = "Sup3r-Secret-Pw";
const closed = `postgresql://operator:${secret}@127.0.0.1:1/agents`;
const oneAttempt = { LANGGRAPH_CHECKPOINT_RETRY_MAX_ATTEMPTS: "1" };

it("setup is safe from four processes at once on a fresh database", async () => {
  const fresh = await createDatabase();
  try {
    const results = await Promise.all([
      ...Array.from({ length: 3 }, () => cli(["setup", "--json"], { url: fresh.url })),
      cli(["setup"], { url: fresh.url }),
    ]);
    expect(results.map((r) => [r.code, r.stderr])).toEqual(Array.from({ length: 4 }, () => [0, ""]));
    for (const result of results.slice(0, 3)) expect(parsed(result)).toEqual({ schema: "public", version: SCHEMA_VERSION });
    expect(results[3]!.stdout).toBe(`schema "public" is set up at version ${SCHEMA_VERSION}\n`);
    const client = new pg.Client({ connectionString: fresh.url });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT max(v) AS v, count(*)::int AS n FROM checkpoint_migrations");
      expect(rows[0]).toEqual({ v: SCHEMA_VERSION, n: SCHEMA_VERSION + 1 });
    } finally {
      await client.end();
    }
  } finally {
    await dropDatabase(fresh.name);
  }
});

describe("configuration", () => {
  it("takes LANGGRAPH_CHECKPOINT_URL before DATABASE_URL, and --schema before LANGGRAPH_CHECKPOINT_SCHEMA", async () => {
    const [preferred, missing] = await Promise.all([
      cli(["setup", "--json"], { env: { LANGGRAPH_CHECKPOINT_URL: db.url(), DATABASE_URL: closed, LANGGRAPH_CHECKPOINT_SCHEMA: "from_env" } }),
      // DATABASE_URL alone is enough: this reaches the database, which has no tables in that schema.
      cli(["threads", "--schema", "never_set_up"], { env: { DATABASE_URL: db.url(), LANGGRAPH_CHECKPOINT_SCHEMA: "ignored" } }),
    ]);
    expect(parsed(preferred)).toEqual({ schema: "from_env", version: SCHEMA_VERSION });
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM from_env.checkpoint_migrations");
    expect(rows[0].n).toBe(SCHEMA_VERSION + 1);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'error: threads failed (SQLSTATE 42P01): relation "never_set_up.checkpoints" does not exist\n' +
      'the tables are not there: check --schema, or create them with "langgraph-checkpoint-pg setup"\n',
    );
  });

  it("refuses a malformed saver variable (exit 2) before connecting", async () => {
    const bad = await cli(["threads"], { url: closed, env: { LANGGRAPH_CHECKPOINT_POOL_MAX: "many" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: LANGGRAPH_CHECKPOINT_POOL_MAX must be a non-negative integer, got "many"\n');
  });
});

describe("no secrets in output", () => {
  it("redacts the password when the database cannot be reached or the URL is malformed, without a stack trace", async () => {
    const results = await Promise.all([
      cli(["threads", "--url", closed], { env: oneAttempt }),
      cli(["copy", "--to", `postgresql://operator:${secret}@[not-a-host`], { url: db.url() }),
    ]);
    expect(results.map((r) => r.code)).toEqual([1, 2]);
    // "after 1 attempts": LANGGRAPH_CHECKPOINT_RETRY_MAX_ATTEMPTS applies (the default is 8).
    expect(results[0]!.stderr).toMatch(/^error: threads failed: the database is unavailable \(gave up after 1 attempts\): connect ECONNREFUSED [\d.]+:1\n$/);
    expect(results[1]!.stderr).toBe("error: not a valid connection string: postgresql://operator:***@[not-a-host\n");
    for (const result of results) expect(result.stderr).not.toMatch(/\n\s+at /);
    expectNoSecret(results, secret);
  });

  it("never prints the live server's password, in results or in errors", async () => {
    const live = db.url();
    const results = await Promise.all([
      cli(["show", "no-such-thread"], { url: live }),
      cli(["import", "-"], { url: live, input: "{ truncated" }),
      cli(["copy", "--to", live, "--to-schema", "copied"], { url: live }),
      cli(["copy", "--to", closed, "--thread", THREADS.failing], { url: live, env: oneAttempt }),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 0, 1]);
    expect(results[0]!).toEqual({ code: 2, stdout: "", stderr: 'error: show: no checkpoints found for thread "no-such-thread"\n' });
    expect(results[1]!.stderr).toMatch(/^error: stdin is not valid JSON at position \d+ of 11 \(.*\): the file is/);
    expect(results[2]!.stdout).toContain(`copied 1 thread to ${live.replace(/:[^:@/]*@/, ":***@")}`);
    expect(results[3]!.stderr).toMatch(/^error: setup failed: the database is unavailable/);
    expectNoSecret(results, decodeURIComponent(new URL(live).password));
    expectNoSecret(results, secret);
  });
});
