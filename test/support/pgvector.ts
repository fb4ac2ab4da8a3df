import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { afterAll, beforeAll } from "vitest";

/**
 * A PostgreSQL with pgvector for the tests that need it: PGlite (Postgres
 * compiled to WebAssembly) with its `vector` extension, served over the wire
 * protocol, so node-postgres, our store and the official one connect to it
 * as to any server. Neither the embedded server nor Debian's packages here
 * have pgvector. PGlite runs one session for every connection: tests use
 * schemas of their own and no session state.
 */
export function usePgVector(): { url: () => string } {
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    // More connections than all the pools of a file together: a pool replaces a connection after an error.
    server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1", maxConnections: 32 });
    await server.start();
    url = `postgres://postgres@${server.getServerConn()}/postgres`;
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await db?.close();
  });
  return { url: () => url! };
}
