import { beforeAll, describe, expect, it } from "vitest";
import { THREADS, cli, parsed, populate } from "../../support/cli.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";

/**
 * `threads`, `show` and `stats` on a database populated by real graph runs:
 * an interrupted tool graph, a failed graph, a finished delta-channel graph
 * and a graph interrupted inside its subgraph.
 */
const env = useSaver();
const run = (...args: string[]) => cli(args, { url: env.url() });

beforeAll(async () => {
  await populate(env.saver);
});

describe("threads", () => {
  it("lists every thread newest first, with a status derived from its stored writes", async () => {
    const [human, json] = await Promise.all([run("threads"), run("threads", "--json")]);
    expect(json.code).toBe(0);
    const list = parsed(json);
    // populate() wrote them in this order, so the subgraph thread is the newest.
    expect(list.threads.map((t: any) => t.thread_id)).toEqual([THREADS.subgraph, THREADS.delta, THREADS.failing, THREADS.tools]);
    expect(list.matching).toBe(4);
    const status = Object.fromEntries(list.threads.map((t: any) => [t.thread_id, t.status]));
    expect(status).toEqual({
      [THREADS.tools]: "interrupted",
      [THREADS.failing]: "failed",
      [THREADS.delta]: "idle",
      [THREADS.subgraph]: "interrupted",
    });
    for (const thread of list.threads) {
      expect(thread.checkpoints).toBe((await countRows(env.pool, "public", thread.thread_id)).checkpoints);
      const { rows: [newest] } = await env.pool.query(
        "SELECT checkpoint_id, checkpoint ->> 'ts' AS ts FROM checkpoints WHERE thread_id = $1 ORDER BY checkpoint_id DESC LIMIT 1",
        [thread.thread_id],
      );
      expect(thread.last_checkpoint_id).toBe(newest.checkpoint_id);
      expect(thread.last_update).toBe(newest.ts);
      expect(thread.bytes).toBeGreaterThan(0);
    }
    const subgraph = list.threads[0];
    expect(subgraph.namespaces).toHaveLength(2);
    expect(subgraph.namespaces[0]).toBe("");
    expect(subgraph.namespaces[1]).toMatch(/^review:/);

    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^THREAD\s+STATUS\s+CHECKPOINTS\s+NAMESPACES\s+LAST UPDATE\s+SIZE$/);
    expect(lines.slice(1, 5).map((l) => l.split(/\s+/).slice(0, 2))).toEqual(
      list.threads.map((t: any) => [t.thread_id, t.status]),
    );
    expect(lines[1]).toContain("(root), review:");
    expect(lines.at(-1)).toBe("4 threads");
    expect(human.stderr).toBe("");
  });

  it("filters by --status and cuts at --limit, newest first", async () => {
    const [interrupted, limited, failed] = await Promise.all([
      run("threads", "--status", "interrupted", "--json"),
      run("threads", "--limit", "2", "--json"),
      run("threads", "--status", "failed", "--limit", "1"),
    ]);
    const ids = (r: typeof interrupted) => parsed(r).threads.map((t: any) => t.thread_id);
    expect(ids(interrupted)).toEqual([THREADS.subgraph, THREADS.tools]);
    expect(parsed(interrupted).matching).toBe(2);
    expect(ids(limited)).toEqual([THREADS.subgraph, THREADS.delta]);
    expect(parsed(limited).matching).toBe(4);
    const lines = failed.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(new RegExp(`^${THREADS.failing}\\s+failed\\s+`));
    expect(lines[2]).toBe("1 thread with status failed");
  });
});

describe("show", () => {
  it("prints the interrupted tool thread's history, the tools' pending writes and the interrupt value", async () => {
    const json = await run("show", THREADS.tools, "--json");
    expect(json.code).toBe(0);
    const history = parsed(json);
    const { rows } = await env.pool.query(
      "SELECT checkpoint_id, parent_checkpoint_id, metadata FROM checkpoints WHERE thread_id = $1 ORDER BY checkpoint_id DESC",
      [THREADS.tools],
    );
    expect(history.checkpoints).toBe(rows.length);
    expect(history.entries.map((e: any) => [e.checkpoint_id, e.parent_checkpoint_id, e.step, e.source])).toEqual(
      rows.map((r) => [r.checkpoint_id, r.parent_checkpoint_id, r.metadata.step, r.metadata.source]),
    );
    const [head] = history.entries;
    // The step that sent the three tools and the approval: the tools finished (their writes
    // are pending on the checkpoint), the approval interrupted.
    const interrupt = head.pending_writes.find((w: any) => w.channel === "__interrupt__");
    expect(interrupt.value).toEqual([{ round: 1 }]);
    expect(head.pending_writes.filter((w: any) => w.channel === "messages")).toHaveLength(3);
    expect(head.pending_writes.filter((w: any) => w.channel === "messages").every((w: any) => !("value" in w))).toBe(true);
    expect(head.channels_written).toEqual(expect.arrayContaining(["messages", "branch:to:approval"]));
    expect(history.entries.at(-1).channels_written).toEqual(["__start__"]);
  });

  it("shows a failed task's error message", async () => {
    const [human, json] = await Promise.all([run("show", THREADS.failing), run("show", THREADS.failing, "--json")]);
    expect([human.code, json.code]).toEqual([0, 0]);
    const error = parsed(json).entries[0].pending_writes.find((w: any) => w.channel === "__error__");
    expect(error.value).toBe("the tool server is down");
    expect(human.stdout).toMatch(/__error__\s+the tool server is down/);
  });

  it("shows every namespace of a subgraph thread, the interrupt's value, and only the newest --limit checkpoints", async () => {
    const [all, human] = await Promise.all([
      run("show", THREADS.subgraph, "--json"),
      run("show", THREADS.subgraph, "--limit", "2"),
    ]);
    const history = parsed(all);
    expect(history.namespaces).toBe(2);
    expect(history.entries).toHaveLength((await countRows(env.pool, "public", THREADS.subgraph)).checkpoints);
    const ids = history.entries.map((e: any) => e.checkpoint_id);
    expect(ids).toEqual([...ids].sort().reverse());
    const inner = history.entries.filter((e: any) => e.checkpoint_ns.startsWith("review:"));
    expect(inner.length).toBeGreaterThan(0);
    const question = history.entries.flatMap((e: any) => e.pending_writes).filter((w: any) => w.channel === "__interrupt__");
    expect(question.map((w: any) => w.value)).toContainEqual(["confirm the draft?"]);

    expect(human.stdout).toContain(`in 2 namespaces (showing the newest 2; --limit to see more)`);
    const table = human.stdout.split("\n\n")[1]!.trim().split("\n");
    expect(table.slice(1).map((line) => line.split(/\s+/)[0])).toEqual(ids.slice(0, 2));
    // The newest checkpoint is the subgraph's, waiting at its interrupt.
    expect(human.stdout).toMatch(new RegExp(`\\n${ids[0]}\\s+review:\\S+\\s+\\S+\\s+__interrupt__\\s+\\["confirm the draft\\?"\\]\\n`));
  });
});

describe("stats", () => {
  it("reports rows, bytes, compression and the largest threads consistently with the tables", async () => {
    const [json, human, listed] = await Promise.all([run("stats", "--json"), run("stats", "--top", "2"), run("threads", "--json")]);
    expect(json.code).toBe(0);
    const stats = parsed(json);
    const rows = await countRows(env.pool);
    expect(stats.threads).toBe(4);
    expect(Object.fromEntries(stats.tables.map((t: any) => [t.table, t.rows]))).toEqual({
      checkpoints: rows.checkpoints,
      checkpoint_blobs: rows.blobs,
      checkpoint_writes: rows.writes,
    });
    for (const t of stats.tables) expect(t.bytes).toBeGreaterThan(0);

    const { rows: [values] } = await env.pool.query(`
      SELECT count(*) FILTER (WHERE type ~ '\\+(br|deflate|gzip)$')::int AS compressed,
             count(*) FILTER (WHERE type !~ '\\+(br|deflate|gzip)$')::int AS plain,
             sum(octet_length(blob))::float8 / sum(pg_column_size(blob)) AS toast
      FROM (SELECT type, blob FROM checkpoint_blobs WHERE blob IS NOT NULL
            UNION ALL SELECT type, blob FROM checkpoint_writes) v`);
    // The delta graph's snapshots are over 1 KiB: stored compressed.
    expect(values.compressed).toBeGreaterThan(0);
    const { compressed, uncompressed, compaction_sample: sample, toast } = stats.compression;
    expect([compressed.values, uncompressed.values]).toEqual([values.compressed, values.plain]);
    expect(toast.ratio).toBeCloseTo(values.toast, 10);
    expect(sample.values).toBe(values.compressed);
    expect(sample.unreadable).toBe(0);
    expect(sample.inflated_bytes).toBeGreaterThan(sample.compressed_bytes);
    expect(sample.ratio).toBeCloseTo(sample.inflated_bytes / sample.compressed_bytes, 10);

    const largest = stats.largest_threads;
    expect(largest.map((t: any) => t.thread_id).sort()).toEqual(Object.values(THREADS).sort());
    expect(largest.map((t: any) => t.bytes)).toEqual([...largest.map((t: any) => t.bytes)].sort((a, b) => b - a));
    const threads = parsed(listed).threads;
    for (const t of largest) {
      const listed = threads.find((x: any) => x.thread_id === t.thread_id);
      expect([t.bytes, t.checkpoints]).toEqual([listed.bytes, listed.checkpoints]);
    }

    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`checkpoints\\s+${rows.checkpoints}\\s`));
    expect(human.stdout).toMatch(new RegExp(`checkpoint_blobs\\s+${rows.blobs}\\s`));
    expect(human.stdout).toMatch(/compaction ratio \(this package\): \d+\.\d\dx \(inflated a random sample of \d+ compressed values/);
    expect(human.stdout).toMatch(/TOAST ratio \(Postgres\): \d+\.\d\dx/);
    // --top 2: the two largest threads.
    const top = human.stdout.split("largest threads\n")[1]!.trim().split("\n");
    expect(top.slice(1).map((line) => line.split(/\s+/)[0])).toEqual(largest.slice(0, 2).map((t: any) => t.thread_id));
  });
});
