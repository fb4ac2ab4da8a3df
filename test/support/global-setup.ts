import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../bench/embedded.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    /** Connection string of a superuser on the test server's maintenance database. */
    adminUrl: string;
  }
}

/**
 * Starts one real PostgreSQL for the whole run (or uses TEST_DATABASE_URL);
 * each test file then creates its own database on it.
 */
export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    project.provide("adminUrl", external);
    return;
  }
  // Test data is disposable: skip durability work so the suite runs faster.
  const server = await startEmbeddedPostgres({ flags: ["-c", "fsync=off", "-c", "full_page_writes=off"] });
  project.provide("adminUrl", server.url);
  return () => server.stop();
}
