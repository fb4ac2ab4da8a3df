import { beforeAll, describe, expect, it } from "vitest";
import { THREADS, cli, cliOnTerminal, parsed, populate } from "../../support/cli.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";

/**
 * `validate` on real graph runs: clean, then after deliberate damage made in
 * SQL, one kind per thread, each of which must be reported precisely.
 */
const env = useSaver();
const run = (...args: string[]) => cli(args, { url: env.url() });

beforeAll(async () => {
  await populate(env.saver);
});

describe("validate", () => {
  it("finds nothing wrong with what graphs wrote, and says what it checked", async () => {
    const [json, one, unknown, terminal] = await Promise.all([
      run("validate", "--json"),
      run("validate", THREADS.delta, "--json"),
      run("validate", "no-such-thread"),
      cliOnTerminal(["validate"], { url: env.url() }),
    ]);
    const rows = await countRows(env.pool);
    const { rows: [{ versions }] } = await env.pool.query(
      "SELECT sum((SELECT count(*) FROM jsonb_object_keys(checkpoint -> 'channel_versions')))::int AS versions FROM checkpoints",
    );
    expect(json.code).toBe(0);
    expect(parsed(json)).toEqual({
      ok: true, threads: 4, checkpoints: rows.checkpoints, channel_versions: versions, blobs: rows.blobs, writes: rows.writes, problems: [],
    });
    const delta = await countRows(env.pool, "public", THREADS.delta);
    expect(parsed(one)).toMatchObject({ ok: true, threads: 1, checkpoints: delta.checkpoints, blobs: delta.blobs, writes: delta.writes });

    // Not a terminal: no progress bar.
    expect(json.stderr).toBe("");
    // A terminal: the bar is drawn on stderr, then cleared before the summary.
    expect(terminal.code).toBe(0);
    expect(terminal.stdout).toMatch(/\rvalidate \[#{30}\] 4\/4 threads 100%\r +\r/);
    expect(terminal.stdout).toContain(
      `checked 4 threads, ${rows.checkpoints} checkpoints, ${versions} channel versions, ${rows.blobs} stored values, ` +
      `${rows.writes} pending writes: no problems\r\n`,
    );

    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toBe('error: validate: no checkpoints found for thread "no-such-thread"\n');
  });

  it("reports a missing value, a corrupt compressed value, a missing parent and an undecodable write, then exits 1", async () => {
    const q = async (text: string, values: unknown[] = []) => (await env.pool.query(text, values)).rows;

    // 1. The tool thread's newest checkpoint loses its messages value.
    const [head] = await q(
      "SELECT checkpoint_id, checkpoint -> 'channel_versions' ->> 'messages' AS version FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1",
      [THREADS.tools],
    );
    await q("DELETE FROM checkpoint_blobs WHERE thread_id = $1 AND checkpoint_ns = '' AND channel = 'messages' AND version = $2", [THREADS.tools, head.version]);
    const naming = await q(
      "SELECT checkpoint_id FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = '' AND checkpoint -> 'channel_versions' ->> 'messages' = $2 ORDER BY checkpoint_id",
      [THREADS.tools, head.version],
    );
    expect(naming.map((r) => r.checkpoint_id)).toContain(head.checkpoint_id);

    // 2. A compressed value of the delta thread is overwritten with garbage.
    const [packed] = await q(
      "SELECT channel, version, type FROM checkpoint_blobs WHERE thread_id = $1 AND type LIKE '%+br' ORDER BY channel, version LIMIT 1",
      [THREADS.delta],
    );
    expect(packed).toBeDefined();
    await q("UPDATE checkpoint_blobs SET blob = '\\xdeadbeef00112233'::bytea WHERE thread_id = $1 AND channel = $2 AND version = $3", [THREADS.delta, packed.channel, packed.version]);
    const [writer] = await q(
      "SELECT min(checkpoint_id) AS id FROM checkpoints WHERE thread_id = $1 AND checkpoint -> 'channel_versions' ->> $2 = $3",
      [THREADS.delta, packed.channel, packed.version],
    );

    // 3. A checkpoint inside the subgraph points at a parent that does not exist.
    const [inner] = await q(
      "SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns <> '' AND parent_checkpoint_id IS NOT NULL ORDER BY checkpoint_id DESC LIMIT 1",
      [THREADS.subgraph],
    );
    await q("UPDATE checkpoints SET parent_checkpoint_id = 'no-such-parent' WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3", [THREADS.subgraph, inner.checkpoint_ns, inner.checkpoint_id]);

    // 4. The failed thread's __error__ write is no longer JSON.
    const [failure] = await q(
      "UPDATE checkpoint_writes SET blob = convert_to('{not json', 'UTF8') WHERE thread_id = $1 AND channel = '__error__' RETURNING checkpoint_id, task_id, idx",
      [THREADS.failing],
    );

    const [json, human, one] = await Promise.all([run("validate", "--json"), run("validate"), run("validate", THREADS.subgraph, "--json")]);
    expect(json.code).toBe(1);
    const report = parsed(json);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      ...naming.map((r) => ({
        kind: "missing_blob", thread_id: THREADS.tools, checkpoint_ns: "", checkpoint_id: r.checkpoint_id,
        channel: "messages", version: head.version,
        message: `channel "messages" version ${head.version} is named by the checkpoint but has no row in checkpoint_blobs`,
      })),
      {
        kind: "undecodable_blob", thread_id: THREADS.delta, checkpoint_ns: "", checkpoint_id: writer.id,
        channel: packed.channel, version: packed.version, message: expect.stringMatching(/^the stored value of channel .* \(type json\+br, first named by checkpoint .*\) does not decode: a stored json\+br blob is corrupt/),
      },
      {
        kind: "missing_parent", thread_id: THREADS.subgraph, checkpoint_ns: inner.checkpoint_ns, checkpoint_id: inner.checkpoint_id,
        parent_checkpoint_id: "no-such-parent", message: "parent checkpoint no-such-parent does not exist in this thread and namespace",
      },
      {
        kind: "undecodable_write", thread_id: THREADS.failing, checkpoint_ns: "", checkpoint_id: failure.checkpoint_id,
        channel: "__error__", task_id: failure.task_id, idx: failure.idx,
        message: expect.stringMatching(/^the pending write of task .* to channel "__error__" \(idx -1, type json\) does not decode: a stored json blob could not be deserialized/),
      },
    ].sort((a, b) => (a.thread_id < b.thread_id ? -1 : a.thread_id > b.thread_id ? 1 : 0)));

    expect(human.code).toBe(1);
    const lines = human.stdout.trim().split("\n");
    expect(lines).toHaveLength(report.problems.length + 1);
    expect(lines.at(-1)).toMatch(new RegExp(`: ${report.problems.length} problems found$`));
    expect(human.stdout).toContain(`problem (missing_blob): thread ${THREADS.tools}, namespace (root), checkpoint ${head.checkpoint_id}: channel "messages" version ${head.version}`);
    expect(human.stdout).toContain(`problem (undecodable_blob): thread ${THREADS.delta}, namespace (root), checkpoint ${writer.id}: the stored value of channel ${JSON.stringify(packed.channel)} version ${packed.version}`);
    expect(human.stdout).toContain(`problem (missing_parent): thread ${THREADS.subgraph}, namespace ${inner.checkpoint_ns}, checkpoint ${inner.checkpoint_id}: parent checkpoint no-such-parent does not exist`);
    expect(human.stdout).toContain(`problem (undecodable_write): thread ${THREADS.failing}, namespace (root), checkpoint ${failure.checkpoint_id}: the pending write of task ${failure.task_id}`);

    // One thread: only its own problem.
    expect(one.code).toBe(1);
    expect(parsed(one).problems.map((p: any) => p.kind)).toEqual(["missing_parent"]);
  });
});
