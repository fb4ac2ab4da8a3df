import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ThreadExport } from "../../../src/index.js";
import { type CliResult, THREADS, cli, parsed, populate } from "../../support/cli.js";
import { useSaver } from "../../support/saver.js";

/**
 * What the tool prints is safe to print on an operator's terminal: thread
 * ids, namespaces and stored values are chosen by an application's users
 * (or a model) and reach the tables as they are, so control characters in
 * them are shown escaped, never sent to the terminal; a password the
 * URL-redaction pattern cannot see (an "@" or a space in it) is still masked;
 * and a thread with many subgraph namespaces stays one readable row.
 */
const env = useSaver();
const run = (...args: string[]) => cli(args, { url: env.url() });
let dir: string;

/** Clears the screen, recolours, rewrites the line from its start, reverses the text, rings the bell. */
const HOSTILE = "evil\u001b[2J\u001b[31m\rfake-thread\u202e\u0007";
const ESCAPED = "evil\\u001b[2J\\u001b[31m\\rfake-thread\\u202e\\u0007";
/** Any character that acts on a terminal, except the newlines the tool ends its lines with. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lgcp-cli-safety-"));
  await populate(env.saver, ["failing"]);
  // The failed thread again, under a hostile id, its error message hostile too.
  const doc: ThreadExport = await env.saver.exportThread(THREADS.failing);
  const error = doc.writes.find((w) => w.channel === "__error__")!;
  error.data = Buffer.from(JSON.stringify({ message: `down\u001b]0;owned\u0007\r${HOSTILE}`, name: "Error" })).toString("base64");
  await env.saver.importThread({ ...doc, thread_id: HOSTILE });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function expectPrintable(results: CliResult[]): void {
  for (const result of results) {
    expect(result.stdout, result.stdout).not.toMatch(CONTROL);
    expect(result.stderr, result.stderr).not.toMatch(CONTROL);
  }
}

describe("hostile thread ids and values", () => {
  it("are printed with their control characters escaped, by every command that prints them", async () => {
    const file = join(dir, "hostile.json");
    // A checkpoint of the hostile thread points at a parent whose id is hostile too, for validate to report.
    await env.pool.query(
      "UPDATE checkpoints SET parent_checkpoint_id = $2 WHERE thread_id = $1 AND checkpoint_id = (SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = $1)",
      [HOSTILE, `parent${HOSTILE}`],
    );
    const [threads, show, validate, exported] = await Promise.all([
      run("threads"), run("show", HOSTILE), run("validate", HOSTILE), run("export", HOSTILE, file),
    ]);
    const imported = await run("import", file, "--schema", "hostile_copy");
    expect([threads.code, show.code, validate.code, exported.code, imported.code]).toEqual([0, 0, 1, 0, 0]);
    expectPrintable([threads, show, validate, exported, imported]);

    // The escaped id is there to read, and the table's columns still line up.
    const row = threads.stdout.split("\n").find((line) => line.startsWith("evil"))!;
    expect(row).toMatch(new RegExp(`^${escapeRegExp(ESCAPED)}\\s+failed\\s+3\\s`));
    const header = threads.stdout.split("\n")[0]!;
    expect(row.indexOf("failed")).toBe(header.indexOf("STATUS"));
    expect(show.stdout).toContain(`thread ${ESCAPED}: 3 checkpoints`);
    expect(show.stdout).toMatch(/__error__\s+down\\u001b\]0;owned\\u0007\\revil\\u001b\[2J/);
    expect(validate.stdout).toContain(`problem (missing_parent): thread ${ESCAPED}, namespace (root)`);
    expect(validate.stdout).toContain(`parent checkpoint parent${ESCAPED} does not exist`);
    expect(exported.stdout).toContain(`exported thread ${ESCAPED} to `);
    expect(imported.stdout).toContain(`imported thread ${ESCAPED}: 3 checkpoints`);

    // --json needs no escaping of its own: JSON escapes control characters, and the ids come back exact.
    const json = await run("threads", "--json");
    expectPrintable([json]);
    expect(parsed(json).threads.map((t: { thread_id: string }) => t.thread_id)).toContain(HOSTILE);
  });
});

describe("passwords the redaction pattern cannot see", () => {
  it("are masked in copy's output, in text and JSON", async () => {
    // A role whose password has an "@" and a space: a URL parser accepts it unencoded (the user
    // info ends at the last "@"), so it connects; a pattern stopping at the first "@" does not hide it.
    const role = `lgcp_at_${process.pid}_${Date.now()}`;
    const password = "p@ss w0rd-Hidden";
    const { rows: [{ db }] } = await env.pool.query("SELECT current_database() AS db");
    await env.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    try {
      await env.pool.query(`GRANT CREATE ON DATABASE "${db}" TO ${role}`);
      const url = new URL(env.url());
      const target = `postgresql://${role}:${password}@${url.host}${url.pathname}`;
      const [text, json] = [
        await run("copy", "--to", target, "--to-schema", "at_target", "--thread", THREADS.failing),
        await run("copy", "--to", target, "--to-schema", "at_target", "--thread", THREADS.failing, "--json"),
      ];
      expect([text.code, json.code, text.stderr, json.stderr]).toEqual([0, 0, "", ""]);
      const masked = `postgresql://${role}:***@${url.host}${url.pathname}`;
      expect(text.stdout).toContain(`copied 1 thread to ${masked} (schema "at_target")`);
      expect(parsed(json).target).toBe(masked);
      for (const fragment of ["ss w0rd", "w0rd-Hidden", "Hidden"]) {
        expect(text.stdout).not.toContain(fragment);
        expect(json.stdout).not.toContain(fragment);
      }
    } finally {
      await env.pool.query(`DROP OWNED BY ${role}`);
      await env.pool.query(`DROP ROLE ${role}`);
    }
  });
});

describe("a thread with many subgraph namespaces", () => {
  it("names a few of them in the table and all of them in --json", async () => {
    // Each call of a subgraph checkpoints in a namespace of its own ("node:<task id>"): five more here.
    await env.pool.query(`
      INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
      SELECT thread_id, 'sub:' || n, checkpoint_id, NULL, checkpoint, metadata
      FROM checkpoints CROSS JOIN generate_series(1, 5) AS n
      WHERE thread_id = $1 AND checkpoint_ns = '' AND parent_checkpoint_id IS NULL`, [THREADS.failing]);
    const [text, json] = await Promise.all([run("threads"), run("threads", "--json")]);
    const row = text.stdout.split("\n").find((line) => line.startsWith(THREADS.failing))!;
    expect(row).toContain("(root), sub:1, sub:2 (+3 more)");
    expect(parsed(json).threads.find((t: { thread_id: string }) => t.thread_id === THREADS.failing).namespaces)
      .toEqual(["", "sub:1", "sub:2", "sub:3", "sub:4", "sub:5"]);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
