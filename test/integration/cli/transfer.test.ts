import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresSaver } from "../../../src/index.js";
import { THREADS, cli, cliOnTerminal, config, parsed, populate } from "../../support/cli.js";
import { createDatabase, dropDatabase } from "../../support/database.js";
import { type Log, approve, plain, toolGraph, toolGraphStart } from "../../support/graphs.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";

/**
 * `export`, `import` and `copy` between schemas and databases, each proven
 * by resuming the interrupted tool graph on the copy with our saver: the
 * three tools that already ran must not run again, and the final state must
 * be what the original gives.
 */
const env = useSaver();
let dir: string;
const run = (...args: string[]) => cli(args, { url: env.url() });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lgcp-cli-"));
  await populate(env.saver, ["tools"]);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Approves the interrupted tool thread on `saver`; the node executions and the final state. */
async function resume(saver: PostgresSaver | OfficialSaver, thread: string): Promise<{ log: Log; state: unknown }> {
  const log: Log = [];
  const graph = toolGraph(saver, log);
  await graph.invoke(approve(), config(thread));
  return { log, state: plain((await graph.getState(config(thread))).values) };
}

const toolRuns = (log: Log) => log.filter((entry) => /^tool:.*-1$/.test(entry));

describe("export and import", () => {
  it("exports to a file or stdout, imports into another schema (twice: nothing added), and the graph resumes there", async () => {
    const file = join(dir, "tools.json");
    const [written, stdout, unknown, summary] = await Promise.all([
      run("export", THREADS.tools, file),
      run("export", THREADS.tools),
      run("export", "no-such-thread", join(dir, "unknown.json")),
      run("export", THREADS.tools, join(dir, "again.json"), "--json"),
    ]);
    expect(written.code).toBe(0);
    const rows = await countRows(env.pool, "public", THREADS.tools);
    const doc = JSON.parse(await readFile(file, "utf8"));
    expect(doc).toMatchObject({ format: "langgraph-checkpoint-pg/thread", version: 1, thread_id: THREADS.tools, counts: rows });
    expect(written.stdout).toMatch(new RegExp(`^exported thread ${THREADS.tools} to .*tools\\.json \\(.*\\): ${rows.checkpoints} checkpoints, ${rows.blobs} values, ${rows.writes} pending writes\\n$`));
    expect(stdout.code).toBe(0);
    expect({ ...parsed(stdout), exported_at: null }).toEqual({ ...doc, exported_at: null });
    const again = await readFile(join(dir, "again.json"), "utf8");
    expect(parsed(summary)).toEqual({ thread_id: THREADS.tools, file: join(dir, "again.json"), bytes: Buffer.byteLength(again), counts: rows });

    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('error: exportThread: no checkpoints found for thread "no-such-thread"\n');
    expect(existsSync(join(dir, "unknown.json"))).toBe(false);

    const first = await run("import", file, "--schema", "imported", "--json");
    expect(first.code).toBe(0);
    expect(parsed(first)).toEqual({ thread_id: THREADS.tools, imported: rows, skipped: { checkpoints: 0, blobs: 0, writes: 0 } });
    // Again, from stdin: everything is already there.
    const second = await cli(["import", "-", "--schema", "imported"], { url: env.url(), input: await readFile(file, "utf8") });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(
      `imported thread ${THREADS.tools}: 0 checkpoints, 0 values, 0 pending writes ` +
      `(already present, kept: ${rows.checkpoints} checkpoints, ${rows.blobs} values, ${rows.writes} pending writes)\n`,
    );
    expect(await countRows(env.pool, "imported")).toEqual(rows);

    const copy = new PostgresSaver(env.pool, undefined, { schema: "imported" });
    const [resumed, original] = await Promise.all([resume(copy, THREADS.tools), resume(env.saver, THREADS.tools)]);
    expect(toolRuns(resumed.log)).toEqual([]);
    expect(resumed.log).toEqual(original.log);
    expect(resumed.log).toContain("approval:1:yes");
    expect(resumed.state).toEqual(original.state);
  });

  it("refuses a truncated or edited file with exit code 2 and imports nothing", async () => {
    const text = JSON.stringify(await env.saver.exportThread(THREADS.tools));
    const truncated = join(dir, "truncated.json");
    await writeFile(truncated, text.slice(0, Math.floor(text.length / 2)));
    const doc = JSON.parse(text);
    doc.writes.pop();
    const edited = join(dir, "edited.json");
    await writeFile(edited, JSON.stringify(doc));
    const empty = new PostgresSaver(env.pool, undefined, { schema: "untouched" });
    await empty.setup();

    const [cut, changed, missing] = await Promise.all([
      run("import", truncated, "--schema", "untouched"),
      run("import", edited, "--schema", "untouched"),
      run("import", join(dir, "missing.json"), "--schema", "untouched"),
    ]);
    expect(cut.code).toBe(2);
    expect(cut.stderr).toMatch(
      new RegExp(`^error: .*truncated\\.json is not valid JSON at position ${Math.floor(text.length / 2)} of ${Math.floor(text.length / 2)} \\(.*\\): the file is likely truncated\\n$`),
    );
    expect(changed.code).toBe(2);
    expect(changed.stderr).toBe(
      `error: ${edited} is not a valid thread export: counts.writes is ${doc.counts.writes} but the document holds ${doc.counts.writes - 1} writes: it is truncated or was edited\n`,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: cannot read the export file .*missing\.json: ENOENT/);
    for (const result of [cut, changed, missing]) expect(result.stdout).toBe("");
    expect(await countRows(env.pool, "untouched")).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });
  });
  it("refuses a document Postgres cannot store before creating any table, then sets up a fresh or official (v4) schema for a good one", async () => {
    const doc = await env.saver.exportThread(THREADS.tools);
    const hostile = structuredClone(doc);
    (hostile.checkpoints[0]!.checkpoint as Record<string, unknown>).note = "a\u0000b";
    const file = join(dir, "nul.json");
    await writeFile(file, JSON.stringify(hostile));
    const refused = await run("import", file, "--schema", "never_created");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: importThread: checkpoints\[0\]\.checkpoint contains a NUL character/);
    const { rows } = await env.pool.query("SELECT 1 FROM pg_namespace WHERE nspname = 'never_created'");
    expect(rows).toEqual([]);

    const good = join(dir, "good.json");
    await writeFile(good, JSON.stringify(doc));
    const official = OfficialSaver.fromConnString(env.url(), { schema: "official_v4" });
    await official.setup();
    await official.end();
    for (const schema of ["fresh_schema", "official_v4"]) {
      const result = await run("import", good, "--schema", schema, "--json");
      expect({ schema, code: result.code, stderr: result.stderr }).toEqual({ schema, code: 0, stderr: "" });
      expect(await countRows(env.pool, schema)).toEqual(doc.counts);
    }
  });

  it("reads a file an editor saved with a byte order mark, or PowerShell re-encoded as UTF-16", async () => {
    const text = JSON.stringify(await env.saver.exportThread(THREADS.tools));
    const files = {
      "bom.json": Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, "utf8")]),
      "utf16le.json": Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]),
      "utf16be.json": Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]),
    };
    for (const [name, bytes] of Object.entries(files)) {
      await writeFile(join(dir, name), bytes);
      const result = await run("import", join(dir, name), "--schema", "encodings", "--json");
      expect({ name, code: result.code, stderr: result.stderr }).toEqual({ name, code: 0, stderr: "" });
      expect(parsed(result).thread_id).toBe(THREADS.tools);
    }
    expect(await countRows(env.pool, "encodings")).toEqual(await countRows(env.pool, "public", THREADS.tools));
  });
});

describe("copy", () => {
  it("that fails part way says at which thread, keeps what it copied, and a second run finishes the job", async () => {
    await populate(env.saver, ["failing"]);
    const schema = "stopping";
    const target = new PostgresSaver(env.pool, undefined, { schema });
    await target.setup();
    await target.end();
    // The target refuses the tool thread's rows; threads are copied in id order, so the failing thread goes first.
    expect(THREADS.failing < THREADS.tools).toBe(true);
    await env.pool.query(`
      CREATE FUNCTION ${schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.thread_id = '${THREADS.tools}' THEN RAISE EXCEPTION 'this test refuses thread %', NEW.thread_id; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse BEFORE INSERT ON ${schema}.checkpoints FOR EACH ROW EXECUTE FUNCTION ${schema}.refuse();`);
    const failed = await run("copy", "--to", env.url(), "--to-schema", schema);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toMatch(new RegExp(
      `^copy stopped at thread ${THREADS.tools} after copying 1 thread; running copy again resumes, keeping what is already there\n` +
      `error: importThread failed \\(SQLSTATE P0001\\): this test refuses thread ${THREADS.tools}\n$`,
    ));
    expect(await countRows(env.pool, schema, THREADS.failing)).toEqual(await countRows(env.pool, "public", THREADS.failing));
    expect(await countRows(env.pool, schema, THREADS.tools)).toEqual({ checkpoints: 0, blobs: 0, writes: 0 });

    await env.pool.query(`DROP TRIGGER refuse ON ${schema}.checkpoints`);
    const again = parsed(await run("copy", "--to", env.url(), "--to-schema", schema, "--json"));
    expect(again.threads.map((t: any) => [t.thread_id, t.copied.checkpoints > 0, t.skipped.checkpoints > 0])).toEqual([
      [THREADS.failing, false, true],
      [THREADS.tools, true, false],
    ]);
    expect(await countRows(env.pool, schema)).toEqual(await countRows(env.pool));
  });

  it("--as copies one thread under a new id in the same database, where the graph resumes; an existing id is refused", async () => {
    const [copied, mixed, many] = await Promise.all([
      run("copy", "--thread", THREADS.tools, "--as", "tools-copy", "--json"),
      run("copy", "--thread", THREADS.tools, "--as", "x", "--to", env.url()),
      run("copy", "--as", "x"),
    ]);
    expect(copied.code).toBe(0);
    const source = await countRows(env.pool, "public", THREADS.tools);
    expect(parsed(copied)).toEqual({ source: THREADS.tools, target: "tools-copy", copied: source });
    expect(await countRows(env.pool, "public", "tools-copy")).toEqual(source);
    const refused = await run("copy", "--thread", THREADS.tools, "--as", "tools-copy");
    expect([refused.code, refused.stderr]).toEqual([2, 'error: copyThread: thread "tools-copy" already has checkpoints\n']);
    expect([mixed.code, many.code]).toEqual([2, 2]);
    // The copy resumes without running again the tools its pending writes hold; the source stays as it was.
    const before = await countRows(env.pool, "public", THREADS.tools);
    const resumed = await resume(env.saver, "tools-copy");
    const approved = Number(resumed.log.find((entry) => /^approval:\d+:yes$/.test(entry))?.split(":")[1]);
    expect(approved).toBeGreaterThan(0);
    expect(resumed.log.filter((entry) => /^tool:.*-(\d+)$/.test(entry) && Number(entry.split("-").at(-1)) <= approved)).toEqual([]);
    expect(await countRows(env.pool, "public", THREADS.tools)).toEqual(before);
  });

  it("copies a database the official saver wrote to a fresh one, where our saver resumes the graph", async () => {
    const source = await createDatabase();
    const target = await createDatabase();
    const official = OfficialSaver.fromConnString(source.url);
    try {
      await official.setup();
      const log: Log = [];
      await toolGraph(official, log).invoke(toolGraphStart(), config("official-tools"));
      expect(toolRuns(log)).toHaveLength(3);

      const copied = await cli(["copy", "--to", target.url, "--json"], { url: source.url });
      // Not a terminal: no progress bar on stderr.
      expect([copied.code, copied.stderr]).toEqual([0, ""]);
      const report = parsed(copied);
      const sourcePool = new pg.Pool({ connectionString: source.url });
      const targetPool = new pg.Pool({ connectionString: target.url });
      try {
        const rows = await countRows(sourcePool);
        expect(report.threads).toEqual([{ thread_id: "official-tools", copied: rows, skipped: { checkpoints: 0, blobs: 0, writes: 0 } }]);
        expect(report.target).not.toContain(new URL(target.url).password);
        expect(await countRows(targetPool)).toEqual(rows);
        // The source was only read: still the official saver's schema version.
        const { rows: [{ v }] } = await sourcePool.query("SELECT max(v) AS v FROM checkpoint_migrations");
        expect(v).toBe(4);

        // Again, at a terminal: a progress bar, and nothing new to copy. And a thread the
        // source lacks: refused before the target is touched.
        const [again, unknown] = await Promise.all([
          cliOnTerminal(["copy", "--to", target.url], { url: source.url }),
          cli(["copy", "--to", target.url, "--to-schema", "not_created", "--thread", "nope"], { url: source.url }),
        ]);
        expect(again.code).toBe(0);
        expect(again.stdout).toMatch(/\rcopy \[#{30}\] 1\/1 threads 100%/);
        expect(again.stdout).toMatch(/official-tools\s+0\s+0\s+0\s+\d+/);
        expect(again.stdout).toContain(`copied 1 thread to ${target.url.replace(/:[^:@/]*@/, ":***@")} (schema "public")`);
        expect(again.stdout).not.toContain(new URL(target.url).password);

        expect(unknown.code).toBe(2);
        expect(unknown.stderr).toBe('error: copy: no checkpoints found for thread "nope"\n');
        const { rows: [{ exists }] } = await targetPool.query("SELECT to_regclass('not_created.checkpoints') IS NOT NULL AS exists");
        expect(exists).toBe(false);
      } finally {
        await sourcePool.end();
        await targetPool.end();
      }

      const ours = PostgresSaver.fromConnString(target.url);
      try {
        const [resumed, original] = await Promise.all([resume(ours, "official-tools"), resume(official, "official-tools")]);
        expect(toolRuns(resumed.log)).toEqual([]);
        expect(resumed.log).toEqual(original.log);
        expect(resumed.state).toEqual(original.state);
      } finally {
        await ours.end();
      }
    } finally {
      await official.end();
      await dropDatabase(source.name);
      await dropDatabase(target.name);
    }
  });
});
