import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresSaver } from "../../../src/index.js";
import { cli, config, parsed } from "../../support/cli.js";
import { checkpointWith, metadataWith, versionsOf } from "../../support/fixtures.js";
import { LegacySerializer, UNREVIVABLE, everyShape } from "../../support/look-alikes.js";
import { useSaver } from "../../support/saver.js";

/**
 * The CLI on stored LangChain objects @langchain/core cannot construct, as
 * rows written unescaped (by the official saver, or before look-alikes were
 * escaped) hold them: `validate` reports each as its own kind without
 * quoting it, `show` reports or (--unrevivable plain) shows an interrupt
 * holding one, `export`/`import` copy such a thread byte for byte. And a
 * thread whose plain data merely looks like LangChain objects is clean.
 */
const env = useSaver();
const run = (...args: string[]) => cli(args, { url: env.url() });
const LEGACY = "look-alike-legacy";
const CLEAN = "look-alike-clean";
// LangGraph stores special channels' writes at fixed negative indexes (WRITES_IDX_MAP): __interrupt__ at -3.
const INTERRUPT_IDX = -3;
let head: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lgcp-look-alike-"));
  const legacy = new PostgresSaver(env.pool, new LegacySerializer());
  const old = checkpointWith({ items: UNREVIVABLE.unknownClass });
  const stored = await legacy.put(config(LEGACY), old, metadataWith({ tool: UNREVIVABLE.secret }), versionsOf(old));
  await legacy.putWrites(stored, [["__interrupt__", [{ id: "i1", value: UNREVIVABLE.unknownClass }]]], "task-1");
  await legacy.end();
  head = stored.configurable!.checkpoint_id as string;

  const shapes = everyShape();
  const cp = checkpointWith({ shapes });
  const clean = await env.saver.put(config(CLEAN), cp, metadataWith({ shapes }), versionsOf(cp));
  await env.saver.putWrites(clean, [["shapes", shapes], ["__interrupt__", [{ id: "i2", value: shapes }]]], "task-2");
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("validate", () => {
  it("reports an unrevivable value, write and metadata, naming where but never what, whatever the unrevivable setting", async () => {
    const [json, plainEnv, clean] = await Promise.all([
      run("validate", LEGACY, "--json"),
      cli(["validate", LEGACY, "--json"], { url: env.url(), env: { LANGGRAPH_CHECKPOINT_UNREVIVABLE: "plain" } }),
      run("validate", CLEAN, "--json"),
    ]);
    const { rows: [blob] } = await env.pool.query("SELECT version FROM checkpoint_blobs WHERE thread_id = $1 AND channel = 'items'", [LEGACY]);
    const where = { thread_id: LEGACY, checkpoint_ns: "", checkpoint_id: head };
    const revived = expect.stringContaining("cannot be revived");
    expect(json.code).toBe(1);
    expect(parsed(json)).toMatchObject({ ok: false, threads: 1, checkpoints: 1 });
    expect(parsed(json).problems).toEqual([
      { kind: "unrevivable_blob", ...where, channel: "items", version: blob.version, message: revived },
      { kind: "unrevivable_write", ...where, channel: "__interrupt__", task_id: "task-1", idx: INTERRUPT_IDX, message: revived },
      { kind: "unrevivable_metadata", ...where, message: revived },
    ]);
    expect(parsed(json).problems[2].message).toContain("secret");
    // The messages say why, never what is stored.
    for (const text of [json.stdout, json.stderr]) {
      expect(text).not.toMatch(/NoSuchMessage|HOME|HumanMessage/);
    }

    // Reads set to return such objects as plain data: validate still reports them.
    expect(plainEnv.code).toBe(1);
    expect(parsed(plainEnv).problems).toEqual(parsed(json).problems);

    // Plain data shaped like every serialized form, written by the default saver: nothing to report.
    expect(clean.code).toBe(0);
    expect(parsed(clean)).toMatchObject({ ok: true, threads: 1, checkpoints: 1, blobs: 1, writes: 2, problems: [] });
  });
});

describe("show", () => {
  it("reports an unrevivable interrupt value as not decoding, or with --unrevivable plain shows it as stored", async () => {
    const [reported, plain, plainEnv, flagWins, bogus, clean] = await Promise.all([
      run("show", LEGACY, "--json"),
      run("show", LEGACY, "--json", "--unrevivable", "plain"),
      cli(["show", LEGACY, "--json"], { url: env.url(), env: { LANGGRAPH_CHECKPOINT_UNREVIVABLE: "plain" } }),
      cli(["show", LEGACY, "--json", "--unrevivable", "throw"], { url: env.url(), env: { LANGGRAPH_CHECKPOINT_UNREVIVABLE: "plain" } }),
      run("show", LEGACY, "--unrevivable", "bogus"),
      run("show", CLEAN, "--json"),
    ]);
    const interrupt = (result: typeof reported) => parsed(result).entries[0].pending_writes.find((w: any) => w.channel === "__interrupt__");
    expect(reported.code).toBe(0);
    expect(parsed(reported).entries.map((e: any) => e.checkpoint_id)).toEqual([head]);
    expect(interrupt(reported)).toEqual({ task_id: "task-1", channel: "__interrupt__", idx: INTERRUPT_IDX, value_error: expect.stringContaining("cannot be revived") });
    expect(reported.stdout).not.toContain("NoSuchMessage");
    expect(interrupt(flagWins).value_error).toContain("cannot be revived");

    expect(plain.code).toBe(0);
    expect(interrupt(plain)).toEqual({ task_id: "task-1", channel: "__interrupt__", idx: INTERRUPT_IDX, value: [UNREVIVABLE.unknownClass] });
    expect(interrupt(plainEnv)).toEqual(interrupt(plain));

    // Look-alikes written by the default saver come back as the plain data they are.
    expect(interrupt(clean).value).toEqual([everyShape()]);

    expect(bogus).toMatchObject({ code: 2, stdout: "" });
    expect(bogus.stderr).toMatch(/^error: --unrevivable must be one of throw, plain, got "bogus"\n/);
    expect(bogus.stderr).toMatch(/\nrun "langgraph-checkpoint-pg --help" for usage\n$/);
  });
});

describe("export and import", () => {
  it("export copies unrevivable values as stored, and import reproduces the rows byte for byte", async () => {
    const file = join(dir, "legacy.json");
    const exported = await run("export", LEGACY, file);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/: 1 checkpoints, 1 values, 1 pending writes\n$/);
    const imported = await run("import", file, "--schema", "look_alike_copy", "--json");
    expect(imported.code).toBe(0);

    const rows = async (schema: string) => {
      const q = async (text: string) => (await env.pool.query(text.replaceAll("$schema", schema), [LEGACY])).rows;
      return {
        checkpoints: await q("SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, metadata::text, checkpoint::text FROM $schema.checkpoints WHERE thread_id = $1 ORDER BY 1, 2"),
        blobs: await q("SELECT checkpoint_ns, channel, version, type, blob FROM $schema.checkpoint_blobs WHERE thread_id = $1 ORDER BY 1, 2, 3"),
        writes: await q("SELECT checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob FROM $schema.checkpoint_writes WHERE thread_id = $1 ORDER BY 1, 2, 3, 4"),
      };
    };
    const [original, copy] = await Promise.all([rows("public"), rows("look_alike_copy")]);
    expect(original.blobs).toHaveLength(1);
    expect(original.writes).toHaveLength(1);
    // The unescaped stored forms are there, unchanged by the trip.
    expect(original.checkpoints[0].metadata).toContain('"HOME"');
    expect(original.blobs[0].blob.toString()).toContain("NoSuchMessage");
    expect(JSON.stringify(original)).not.toContain("__lc_plain__");
    expect(copy).toEqual(original);
  });
});
