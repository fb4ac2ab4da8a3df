import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { useTestDatabase } from "../../support/database.js";

/**
 * What a user gets from the registry: `npm pack`, install the tarball into a
 * fresh project, then import it with `import`, `require` and TypeScript, and
 * use it against a real database.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));
const db = useTestDatabase();
let project: string;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "lgcp-consumer-"));
  // npm test has just built dist/; --ignore-scripts avoids building again.
  await run("npm", ["pack", "--ignore-scripts", "--pack-destination", project], { cwd: root });
  const tarball = (await readdir(project)).find((f) => f.endsWith(".tgz"));
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", `./${tarball}`], { cwd: project, timeout: 240_000 });
}, 300_000);

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

const useIt = (load: string) => `
${load}
const saver = PostgresSaver.fromConnString(process.env.DB_URL, { schema: "consumer" });
await saver.setup();
const checkpoint = { v: 4, id: "1ef00000-0000-6000-8000-000000000001", ts: new Date().toISOString(),
  channel_values: { greeting: "hello" }, channel_versions: { greeting: 1 }, versions_seen: {} };
const config = await saver.put({ configurable: { thread_id: "pack" } }, checkpoint, { source: "input", step: -1, parents: {} }, { greeting: 1 });
const tuple = await saver.getTuple(config);
await saver.end();
console.log(tuple.checkpoint.channel_values.greeting);
`;

it("works from import (ESM)", async () => {
  await writeFile(join(project, "esm.mjs"), useIt(`import { PostgresSaver } from "langgraph-checkpoint-pg";`));
  const { stdout } = await run(process.execPath, ["esm.mjs"], { cwd: project, env: { ...process.env, DB_URL: db.url() } });
  expect(stdout.trim()).toBe("hello");
});

it("works from require (CommonJS)", async () => {
  await writeFile(
    join(project, "cjs.cjs"),
    `(async () => { ${useIt(`const { PostgresSaver, InvalidInputError } = require("langgraph-checkpoint-pg"); if (typeof InvalidInputError !== "function") throw new Error("no errors export");`)} })().catch((e) => { console.error(e); process.exit(1); });`,
  );
  const { stdout } = await run(process.execPath, ["cjs.cjs"], { cwd: project, env: { ...process.env, DB_URL: db.url() } });
  expect(stdout.trim()).toBe("hello");
});

it("works from langgraph-checkpoint-pg/store, with import and require", async () => {
  const useStore = (load: string) => `${load}
const store = PostgresStore.fromConnString(process.env.DB_URL, { schema: "consumer_store" });
await store.setup();
await store.put(["pack"], "k", { greeting: "hello" });
const item = await store.get(["pack"], "k");
await store.stop();
console.log(item.value.greeting);
`;
  await writeFile(join(project, "store.mjs"), useStore(`import { PostgresStore } from "langgraph-checkpoint-pg/store";`));
  await writeFile(
    join(project, "store.cjs"),
    `(async () => { ${useStore(`const { PostgresStore } = require("langgraph-checkpoint-pg/store");`)} })().catch((e) => { console.error(e); process.exit(1); });`,
  );
  for (const file of ["store.mjs", "store.cjs"]) {
    const { stdout } = await run(process.execPath, [file], { cwd: project, env: { ...process.env, DB_URL: db.url() } });
    expect(stdout.trim()).toBe("hello");
  }
});

it("ships types that resolve for both module systems", async () => {
  const source = (load: string) => `${load}
import pg from "pg";
const saver: PostgresSaver = new PostgresSaver(new pg.Pool(), undefined, { schema: "x" });
const error: CheckpointerError = new InvalidInputError("typed");
export const code: string = error.code + String(saver);
`;
  const withStore = (load: string) => `${source(load)}
import { PostgresStore, type PostgresStoreConfig } from "langgraph-checkpoint-pg/store";
const config: PostgresStoreConfig = { connectionOptions: "postgres://localhost/x", ttl: { defaultTtl: 5 } };
export const store: PostgresStore = new PostgresStore(config);
`;
  await writeFile(join(project, "types.mts"), withStore(`import { PostgresSaver, CheckpointerError, InvalidInputError } from "langgraph-checkpoint-pg";`));
  await writeFile(join(project, "types.cts"), withStore(`import { PostgresSaver, CheckpointerError, InvalidInputError } from "langgraph-checkpoint-pg";`));
  await writeFile(join(project, "pg.d.ts"), `declare module "pg" { const pg: { Pool: new () => any }; export default pg; }`);
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  await run(process.execPath, [tsc, "--strict", "--noEmit", "--module", "nodenext", "--moduleResolution", "nodenext", "--esModuleInterop", "--skipLibCheck", "false", "types.mts", "types.cts", "pg.d.ts"], { cwd: project }).catch((e) => {
    throw new Error(`tsc failed:\n${e.stdout}${e.stderr}`);
  });
});

it("installs the langgraph-checkpoint-pg command: npx runs it, --help and a command against the database", async () => {
  // npm_config_yes=false: npx may only run what the project installed, never fetch a package.
  const env = { ...process.env, npm_config_yes: "false", LANGGRAPH_CHECKPOINT_URL: db.url() };
  const npx = (...args: string[]) => run("npx", ["langgraph-checkpoint-pg", ...args], { cwd: project, env });
  const help = await npx("--help");
  expect(help.stdout).toContain("Usage: langgraph-checkpoint-pg <command> [options]");
  const setup = await npx("setup", "--schema", "consumer_cli", "--json");
  expect(JSON.parse(setup.stdout)).toMatchObject({ schema: "consumer_cli", version: expect.any(Number) });
});
