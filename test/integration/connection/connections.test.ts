import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CheckpointerClosedError, PostgresSaver } from "../../../src/index.js";
import { countingPool } from "../../support/counting-pool.js";
import { useTestDatabase } from "../../support/database.js";
import { checkpointWith, loopMetadata, threadId } from "../../support/fixtures.js";
import { startTcpProxy } from "../../support/tcp-proxy.js";

/** Pool lifecycle and connection health, against a real server. */
const run = promisify(execFile);
const db = useTestDatabase();
let admin: pg.Pool;

beforeAll(() => {
  admin = new pg.Pool({ connectionString: db.url() });
});
afterAll(() => admin.end());

const isProbe = (sql: string) => sql.trim() === "SELECT 1";

async function killConnectionsOf(applicationName: string): Promise<number> {
  const { rows } = await admin.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
    [applicationName],
  );
  return rows.length;
}

async function putOne(saver: PostgresSaver) {
  const cp = checkpointWith({ value: Math.random() });
  return saver.put({ configurable: { thread_id: threadId() } }, cp, loopMetadata, cp.channel_versions);
}

describe("cached connection health checks", () => {
  it("a busy pool sends no health-check queries", async () => {
    const counting = countingPool(db.url(), { max: 4 });
    const saver = new PostgresSaver(counting.pool);
    await saver.setup();
    counting.reset();
    for (let i = 0; i < 300; i += 1) await putOne(saver);
    await Promise.all(Array.from({ length: 100 }, () => putOne(saver)));
    expect(counting.statements.filter(isProbe)).toHaveLength(0);
    expect(counting.statements).toHaveLength(400);
    await saver.end();
    await counting.pool.end();
  });

  it("a connection that died silently while idle (NAT/load balancer drop) is detected before use and replaced", async () => {
    const proxy = await startTcpProxy(Number(new URL(db.url()).port));
    const url = new URL(db.url());
    url.port = String(proxy.port);
    const counting = countingPool(url.toString(), { max: 3 });
    const saver = new PostgresSaver(counting.pool, undefined, { healthCheckIdleMs: 20 });
    await saver.setup();
    await Promise.all([putOne(saver), putOne(saver), putOne(saver)]);
    proxy.blackhole();
    await new Promise((r) => setTimeout(r, 60));
    counting.reset();
    const config = await putOne(saver);
    expect(await saver.getTuple(config)).toBeDefined();
    // A probe went unanswered and its connection was dropped; the operation itself never failed.
    expect(counting.statements.filter(isProbe).length).toBeGreaterThan(0);
    expect(saver.health()).toMatchObject({ status: "ok", lastError: null });
    await saver.end();
    await counting.pool.end();
    await proxy.close();
  });

  it("connections the server terminated while idle are discarded and never reach an operation", async () => {
    const name = `hc-${process.pid}`;
    const saver = PostgresSaver.fromConnString(db.url(), { pool: { max: 3, min: 3, applicationName: name } });
    await saver.warmup();
    expect(await killConnectionsOf(name)).toBe(3);
    await vi.waitFor(() => expect(saver.health().pool.total).toBe(0));
    const config = await putOne(saver);
    expect(await saver.getTuple(config)).toBeDefined();
    expect(saver.health()).toMatchObject({ status: "ok", lastError: null });
    await saver.end();
  });

  it("a connection terminated in the middle of an operation is retried on a fresh one, visibly in health()", async () => {
    const name = `retry-${process.pid}`;
    const saver = PostgresSaver.fromConnString(db.url(), { schema: "retry", pool: { max: 2, min: 0, applicationName: name } });
    await saver.setup();
    const locker = await admin.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE retry.checkpoints IN ACCESS EXCLUSIVE MODE");
    const put = putOne(saver);
    // The put is now waiting for the lock on its connection: kill that connection.
    await vi.waitFor(async () => {
      const { rows } = await admin.query(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [name],
      );
      expect(rows).toHaveLength(1);
    });
    await vi.waitFor(() => expect(saver.health().lastError).not.toBeNull());
    await locker.query("COMMIT");
    locker.release();
    const config = await put;
    expect(await saver.getTuple(config)).toBeDefined();
    const health = saver.health();
    expect(health.status).toBe("degraded");
    expect(health.lastError).toMatchObject({ operation: "put", code: "57P01" });
    expect(health.circuit).toBe("closed");
    await saver.end();
  });
});

describe("pool lifecycle", () => {
  it("fromConnString applies the production defaults", async () => {
    const saver = PostgresSaver.fromConnString(db.url());
    const options = (saver.pool as unknown as pg.Pool).options as pg.PoolConfig & { min: number; maxLifetimeSeconds: number; allowExitOnIdle: boolean };
    expect(options).toMatchObject({
      max: 10,
      min: 2,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 5_000,
      maxLifetimeSeconds: 1_800,
      keepAlive: true,
      application_name: "langgraph-checkpoint-pg",
      allowExitOnIdle: true,
    });
    await saver.end();
  });

  it("warmup() opens the minimum of connections and sets up the schema, once", async () => {
    const saver = PostgresSaver.fromConnString(db.url(), { schema: "warm", pool: { min: 3 } });
    await Promise.all([saver.warmup(), saver.warmup()]);
    const pool = saver.pool as unknown as pg.Pool;
    expect(pool.totalCount).toBe(3);
    expect(pool.idleCount).toBe(3);
    const { rows } = await admin.query("SELECT max(v) AS v FROM warm.checkpoint_migrations");
    expect(rows[0].v).toBe(9);
    expect(saver.health().pool).toEqual({ total: 3, idle: 3, waiting: 0 });
    await saver.end();
  });

  it("end() refuses new operations at once, lets the ones in flight finish, then closes the pool", async () => {
    const saver = PostgresSaver.fromConnString(db.url(), { schema: "drain" });
    await saver.setup();
    const locker = await admin.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE drain.checkpoints IN ACCESS EXCLUSIVE MODE");
    const inFlight = putOne(saver);
    await vi.waitFor(async () => {
      const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted");
      expect(rows[0].n).toBeGreaterThan(0);
    });
    const ending = saver.end();
    await expect(putOne(saver)).rejects.toBeInstanceOf(CheckpointerClosedError);
    let ended = false;
    void ending.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(ended).toBe(false);
    await locker.query("COMMIT");
    locker.release();
    const config = await inFlight;
    await ending;
    expect((saver.pool as unknown as pg.Pool).ended).toBe(true);
    const { rows } = await admin.query("SELECT count(*)::int AS n FROM drain.checkpoints WHERE checkpoint_id = $1", [
      config.configurable?.checkpoint_id,
    ]);
    expect(rows[0].n).toBe(1);
  });

  it("end() gives up waiting after drainTimeoutMs and says so", async () => {
    const warn = vi.fn();
    const saver = PostgresSaver.fromConnString(db.url(), {
      schema: "drain_timeout",
      drainTimeoutMs: 50,
      logger: { debug() {}, info() {}, warn, error() {} },
    });
    await saver.setup();
    const locker = await admin.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE drain_timeout.checkpoints IN ACCESS EXCLUSIVE MODE");
    const inFlight = putOne(saver).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const ending = saver.end();
    await vi.waitFor(() => expect(warn).toHaveBeenCalledWith(expect.stringMatching(/drain timeout/), expect.objectContaining({ pending: 1 })));
    await locker.query("COMMIT");
    locker.release();
    await inFlight;
    await ending;
  });
});

describe("processes", () => {
  const child = fileURLToPath(new URL("../../support/lifecycle-child.mjs", import.meta.url));

  it("an idle saver with a health monitor does not keep the process alive", async () => {
    const { stdout } = await run(process.execPath, [child, db.url(), "idle"], { timeout: 20_000 });
    expect(stdout).toContain("stored");
  });

  it("closeOnSignals() drains and exits cleanly on SIGTERM", async () => {
    const proc = execFile(process.execPath, [child, db.url(), "signal"], { timeout: 20_000 });
    let out = "";
    proc.stdout?.on("data", (d) => {
      out += d;
      if (out.includes("ready")) proc.kill("SIGTERM");
    });
    const code = await new Promise<number | null>((resolve) => proc.on("exit", resolve));
    expect(code).toBe(0);
    expect(out).toContain("ready");
  });
});

describe("health monitor", () => {
  it("reports down after consecutive failed probes and ok when they succeed again", async () => {
    const saver = PostgresSaver.fromConnString("postgresql://postgres:x@127.0.0.1:1/none", {
      healthMonitor: { intervalMs: 20, failuresBeforeDown: 2 },
      pool: { connectionTimeoutMillis: 200 },
    });
    await vi.waitFor(() => expect(saver.health().status).toBe("down"), { timeout: 5_000 });
    expect(saver.health().persistent).toBe(true);
    await saver.end();

    const healthy = PostgresSaver.fromConnString(db.url(), { healthMonitor: { intervalMs: 20, failuresBeforeDown: 2 } });
    await new Promise((r) => setTimeout(r, 100));
    expect(healthy.health().status).toBe("ok");
    await healthy.end();
  });
});
