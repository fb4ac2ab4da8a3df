import { beforeAll, describe, expect, it } from "vitest";
import { THREADS, cli, cliInProcess, cliOnTerminal, parsed, populate } from "../../support/cli.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";

/** `prune` on real graph runs: the library's `prune()` with its flags, checked against the rows. */
const env = useSaver();
const run = (...args: string[]) => cli(args, { url: env.url() });

beforeAll(async () => {
  await populate(env.saver);
});

/** Nothing listens here: a command that tried to connect would fail with exit code 1, not 2. */
const CLOSED = "postgresql://operator:prune-secret-pw@127.0.0.1:1/nowhere";

describe("prune", () => {
  it("refuses bad values before connecting (exit 2, the database is never contacted)", async () => {
    // The built binary for the first; the same code in this process for the rest.
    const results = await Promise.all([
      cli(["prune", "--older-than", "7"], { url: CLOSED }),
      cliInProcess(["prune", "--older-than", "soon", "--keep-last", "3"], { url: CLOSED }),
      cliInProcess(["prune", "--keep-last", "0"], { url: CLOSED }),
      cliInProcess(["prune", "--keep-last", "5", "--batch-size", "many"], { url: CLOSED }),
      cliInProcess(["prune", "--dry-run"], { url: CLOSED }),
    ]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).not.toMatch(/unavailable|ECONNREFUSED|prune-secret-pw/);
    }
    expect(results[0]!.stderr).toBe(
      'error: --older-than must be a duration such as "7d", "12h", "1h30m", "90s" or "500ms" (units: ms, s, m, h, d, w), got "7"\n',
    );
    expect(results[1]!.stderr).toContain('--older-than must be a duration such as "7d"');
    expect(results[2]!.stderr).toContain('--keep-last must be a positive integer, got "0"');
    expect(results[3]!.stderr).toContain('--batch-size must be a positive integer, got "many"');
    expect(results[4]!.stderr).toContain("prune needs --keep-last N, --older-than DURATION, or both");
  });

  it("--dry-run counts exactly what prune then deletes; validate still passes afterwards", async () => {
    const before = await countRows(env.pool);
    const [dry, terminal] = await Promise.all([
      run("prune", "--keep-last", "1", "--dry-run", "--json"),
      cliOnTerminal(["prune", "--keep-last", "1", "--dry-run"], { url: env.url() }),
    ]);
    expect(dry.code).toBe(0);
    const planned = parsed(dry);
    expect(planned).toMatchObject({ dry_run: true, threads: 4, threads_deleted: 0 });
    expect(planned.checkpoints).toBeGreaterThan(0);
    expect(planned.writes).toBeGreaterThan(0);
    expect(planned.blobs).toBeGreaterThan(0);
    expect(await countRows(env.pool)).toEqual(before);
    // On a terminal: the progress bar, then the table of what would go.
    expect(terminal.stdout).toMatch(/\rprune \(dry run\) \[#{30}\] 4\/4 threads 100%/);
    expect(terminal.stdout).toContain("dry run: nothing was deleted");
    expect(terminal.stdout).toMatch(new RegExp(`checkpoints\\s+${planned.checkpoints}\\r?\\n`));
    expect(terminal.stdout).toMatch(new RegExp(`checkpoint_writes\\s+${planned.writes}\\r?\\n`));
    expect(terminal.stdout).toMatch(new RegExp(`checkpoint_blobs\\s+${planned.blobs}\\r?\\n`));

    const real = await run("prune", "--keep-last", "1", "--batch-size", "2", "--json");
    expect(real.code).toBe(0);
    expect(real.stderr).toBe(""); // not a terminal: no progress bar
    expect(parsed(real)).toEqual({ ...planned, dry_run: false });
    expect(await countRows(env.pool)).toEqual({
      checkpoints: before.checkpoints - planned.checkpoints,
      writes: before.writes - planned.writes,
      blobs: before.blobs - planned.blobs,
    });
    // Each namespace keeps its newest checkpoint, plus what delta channels need.
    const { rows } = await env.pool.query(
      "SELECT thread_id, checkpoint_ns, count(*)::int AS n FROM checkpoints GROUP BY 1, 2 ORDER BY 1, 2",
    );
    for (const row of rows) {
      if (row.thread_id === THREADS.delta) expect(row.n).toBeGreaterThanOrEqual(1);
      else expect(row.n).toBe(1);
    }

    const validate = await run("validate");
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain("no problems");
  });

  it("--thread limits the work; an unknown thread removes nothing and is not an error", async () => {
    const before = await countRows(env.pool);
    const failing = await countRows(env.pool, "public", THREADS.failing);
    const unknown = await run("prune", "--older-than", "1ms", "--thread", "no-such-thread", "--json");
    expect(unknown.code).toBe(0);
    expect(parsed(unknown)).toEqual({ dry_run: false, threads: 0, threads_deleted: 0, checkpoints: 0, writes: 0, blobs: 0 });
    expect(await countRows(env.pool)).toEqual(before);

    // Every thread is older than 1 ms; only the one named goes, whole.
    const one = await run("prune", "--older-than", "1ms", "--thread", THREADS.failing, "--thread", "no-such-thread");
    expect(one.code).toBe(0);
    expect(one.stdout).toBe(
      "threads looked at: 1; deleted whole (--older-than): 1\n" +
      "TABLE              DELETED\n" +
      `checkpoints        ${String(failing.checkpoints).padStart(7)}\n` +
      `checkpoint_writes  ${String(failing.writes).padStart(7)}\n` +
      `checkpoint_blobs   ${String(failing.blobs).padStart(7)}\n`,
    );
    expect(await countRows(env.pool, "public", THREADS.failing)).toEqual({ checkpoints: 0, writes: 0, blobs: 0 });
    expect(await countRows(env.pool)).toEqual({
      checkpoints: before.checkpoints - failing.checkpoints,
      writes: before.writes - failing.writes,
      blobs: before.blobs - failing.blobs,
    });
  });
});
