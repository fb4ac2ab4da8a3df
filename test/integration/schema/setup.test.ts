import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresSaver, SCHEMA_VERSION } from "../../../src/index.js";
import { targets, useTestDatabase } from "../../support/database.js";
import { checkpointWith, loopMetadata } from "../../support/fixtures.js";

const run = promisify(execFile);
const child = fileURLToPath(new URL("../../support/setup-child.mjs", import.meta.url));
const built = fileURLToPath(new URL("../../../dist/esm/index.js", import.meta.url));

const db = useTestDatabase();
let pool: pg.Pool;
beforeAll(() => {
  pool = new pg.Pool({ connectionString: db.url() });
});
afterAll(() => pool.end());

async function versions(schema: string): Promise<number[]> {
  const { rows } = await pool.query(`SELECT v FROM "${schema}".checkpoint_migrations ORDER BY v`);
  return rows.map((r) => r.v);
}

const allVersions = Array.from({ length: SCHEMA_VERSION + 1 }, (_, v) => v);

describe("setup()", () => {
  it.each(targets())("8 processes calling setup() at the same moment on an empty database all succeed ($name)", async (target) => {
    expect(existsSync(built), "run `npm run build` first (npm test does)").toBe(true);
    const schema = `concurrent_setup_${target.name}`;
    const startAt = Date.now() + 1500;
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        run(process.execPath, [child, target.url(db.url()), schema, String(startAt)], { timeout: 60_000 }).then(
          ({ stdout }) => JSON.parse(stdout),
          (error) => ({ ok: false, error: String(error), stdout: error.stdout }),
        ),
      ),
    );
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(await versions(schema)).toEqual(allVersions);
    const { rows } = await pool.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE '%thread_id_idx' ORDER BY 1`,
      [schema],
    );
    expect(rows.map((r) => r.indexname)).toEqual([
      "checkpoint_blobs_thread_id_idx",
      "checkpoint_writes_thread_id_idx",
      "checkpoints_thread_id_idx",
    ]);
  });

  it("many savers in one process calling setup() concurrently all succeed", async () => {
    const savers = Array.from({ length: 8 }, () => PostgresSaver.fromConnString(db.url(), { schema: "in_process" }));
    await Promise.all(savers.map((s) => s.setup()));
    await Promise.all(savers.map((s) => s.end()));
    expect(await versions("in_process")).toEqual(allVersions);
  });

  it("uses a database created by the Python saver (v0–v9, indexes built CONCURRENTLY) as is", async () => {
    const schema = "python_made";
    await pool.query(`CREATE SCHEMA ${schema}`);
    // The Python saver's own migration statements, run the way it runs them.
    const statements = [
      `CREATE TABLE IF NOT EXISTS ${schema}.checkpoint_migrations (v INTEGER PRIMARY KEY)`,
      `CREATE TABLE IF NOT EXISTS ${schema}.checkpoints (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL DEFAULT '', checkpoint_id TEXT NOT NULL, parent_checkpoint_id TEXT, type TEXT, checkpoint JSONB NOT NULL, metadata JSONB NOT NULL DEFAULT '{}', PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id))`,
      `CREATE TABLE IF NOT EXISTS ${schema}.checkpoint_blobs (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL DEFAULT '', channel TEXT NOT NULL, version TEXT NOT NULL, type TEXT NOT NULL, blob BYTEA, PRIMARY KEY (thread_id, checkpoint_ns, channel, version))`,
      `CREATE TABLE IF NOT EXISTS ${schema}.checkpoint_writes (thread_id TEXT NOT NULL, checkpoint_ns TEXT NOT NULL DEFAULT '', checkpoint_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL, channel TEXT NOT NULL, type TEXT, blob BYTEA NOT NULL, PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx))`,
      `ALTER TABLE ${schema}.checkpoint_blobs ALTER COLUMN blob DROP not null`,
      `SELECT 1`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoints_thread_id_idx ON ${schema}.checkpoints(thread_id)`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoint_blobs_thread_id_idx ON ${schema}.checkpoint_blobs(thread_id)`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoint_writes_thread_id_idx ON ${schema}.checkpoint_writes(thread_id)`,
      `ALTER TABLE ${schema}.checkpoint_writes ADD COLUMN IF NOT EXISTS task_path TEXT NOT NULL DEFAULT ''`,
    ];
    for (const [v, sql] of statements.entries()) {
      await pool.query(sql);
      await pool.query(`INSERT INTO ${schema}.checkpoint_migrations (v) VALUES ($1)`, [v]);
    }
    const saver = new PostgresSaver(pool, undefined, { schema });
    await saver.setup();
    expect(await versions(schema)).toEqual(allVersions);
    const cp = checkpointWith({ a: "from ours" });
    const config = await saver.put({ configurable: { thread_id: "t" } }, cp, loopMetadata, cp.channel_versions);
    await saver.putWrites(config, [["a", "w"]], "task", "path");
    expect((await saver.getTuple(config))!.pendingWrites).toEqual([["task", "a", "w"]]);
    await saver.end();
  });

  it("a failed migration rolls back completely and reports its version", async () => {
    const schema = "broken";
    await pool.query(`CREATE SCHEMA ${schema}`);
    // A view where the tables go: v2 skips it (IF NOT EXISTS), then v4 fails to alter it.
    await pool.query(`CREATE VIEW ${schema}.checkpoint_blobs AS SELECT 1 AS x`);
    const saver = new PostgresSaver(pool, undefined, { schema });
    const error = await saver.setup().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "MigrationError", code: "MIGRATION", version: 4 });
    const { rows } = await pool.query(`SELECT to_regclass('${schema}.checkpoints') IS NULL AS gone`);
    expect(rows[0].gone).toBe(true);
    await saver.end();
  });
});
