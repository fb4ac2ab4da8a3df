import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../src/embedded/server.js";
import { findPgBouncer, startPgBouncer } from "./pgbouncer.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Connection string of a superuser on the test server's maintenance database. */
    adminUrl: string;
    /** Port of a PgBouncer in transaction mode in front of that server, or 0 when there is none. */
    bouncerPort: number;
  }
}

/**
 * Starts one real PostgreSQL for the whole run (or uses TEST_DATABASE_URL)
 * and a real PgBouncer in transaction mode in front of it; each test file
 * then creates its own database. PgBouncer is mandatory under CI=true; on a
 * machine without it, the PgBouncer leg is skipped with a warning.
 */
export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL;
  // Test data is disposable: skip durability work so the suite runs faster.
  const server = external ? undefined : await startEmbeddedPostgres({ flags: ["-c", "fsync=off", "-c", "full_page_writes=off"] });
  const adminUrl = external ?? server!.url;
  project.provide("adminUrl", adminUrl);

  let bouncer: Awaited<ReturnType<typeof startPgBouncer>> | undefined;
  if (findPgBouncer()) {
    bouncer = await startPgBouncer(adminUrl);
  } else if (process.env.CI === "true") {
    await server?.stop();
    throw new Error("CI=true but pgbouncer is not installed: the PgBouncer leg of the tests is mandatory in CI");
  } else {
    console.warn(
      "\n⚠️  pgbouncer not found: the PgBouncer (transaction mode) tests are SKIPPED. Install it with: apt-get install -y pgbouncer\n",
    );
  }
  project.provide("bouncerPort", bouncer?.port ?? 0);

  return async () => {
    await bouncer?.stop();
    await server?.stop();
  };
}
