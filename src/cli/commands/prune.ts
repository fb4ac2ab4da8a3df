import { parseDuration } from "../../config/duration.js";
import { countThreads } from "../../inspect/threads.js";
import { UsageError, positiveInteger } from "../args.js";
import type { Command } from "../command.js";
import { withConnection } from "../connect.js";
import { json, table } from "../format.js";

/** `prune`: `saver.prune()` for cron jobs and operators. */
export const prune: Command = {
  name: "prune",
  usage: "[--keep-last N] [--older-than DURATION] [--thread ID ...] [--dry-run] [--batch-size N]",
  summary: "delete old checkpoints and abandoned threads",
  details: `Deletes old checkpoints, as saver.prune() does:
  --keep-last N        keep the newest N checkpoints of every thread and namespace (and the
                       ancestors delta channels need); delete the older ones, their pending
                       writes, and values no kept checkpoint uses
  --older-than D       delete whole threads whose newest checkpoint is older than D: 7d, 12h,
                       1h30m, 90s, 500ms, 2w (units ms, s, m, h, d, w)
At least one of the two is required. Runs in bounded batches, each its own short transaction,
so graphs keep running meanwhile. --dry-run counts what would go and deletes nothing.
Prints the rows deleted (or that would be) per table. A progress bar on stderr when it is a
terminal. A --thread with no checkpoints is not an error: nothing is removed from it.`,
  options: {
    "keep-last": { type: "string", value: "N", help: "keep the newest N checkpoints per thread and namespace" },
    "older-than": { type: "string", value: "DURATION", help: "delete threads idle for longer than this (7d, 12h, 1h30m)" },
    thread: { type: "string", multiple: true, value: "ID", help: "only this thread (repeat for more); default: every thread" },
    "dry-run": { type: "boolean", help: "count what would be deleted, delete nothing" },
    "batch-size": { type: "string", value: "N", help: "most checkpoints (or values) deleted per statement (default 500)" },
  },
  positionals: { min: 0, max: 0 },
  async run(context) {
    // Every value is checked before connecting: a typo must never reach the database.
    const keepLast = positiveInteger(context.values["keep-last"], "--keep-last");
    // Checked here, and handed on as written: the library refuses small bare numbers, not "500ms".
    const olderThan = context.string("older-than");
    if (olderThan !== undefined) parseDuration(olderThan, "--older-than");
    const batchSize = positiveInteger(context.values["batch-size"], "--batch-size");
    if (keepLast === undefined && olderThan === undefined) {
      throw new UsageError("prune needs --keep-last N, --older-than DURATION, or both");
    }
    const threadIds = context.strings("thread");
    if (threadIds.some((id) => id.length === 0)) throw new UsageError("--thread needs a thread id");
    const dryRun = context.values["dry-run"] === true;

    const result = await withConnection(context, async ({ saver, database }) => {
      const progress = context.progress(dryRun ? "prune (dry run)" : "prune", "threads");
      try {
        const total = threadIds.length > 0 ? new Set(threadIds).size : progress.enabled ? await countThreads(database) : 0;
        return await saver.prune({
          keepLast,
          olderThan,
          ...(threadIds.length > 0 ? { threadIds } : {}),
          dryRun,
          batchSize,
          onProgress: ({ threads }) => progress.update(threads, Math.max(total, threads)),
        });
      } finally {
        progress.finish();
      }
    });
    if (context.json) {
      const { dryRun: dry_run, threads, threadsDeleted: threads_deleted, checkpoints, writes, blobs } = result;
      await context.out(json({ dry_run, threads, threads_deleted, checkpoints, writes, blobs }));
      return 0;
    }
    await context.out(
      `${result.dryRun ? "dry run: nothing was deleted\n" : ""}` +
      `threads looked at: ${result.threads}; deleted whole (--older-than): ${result.threadsDeleted}\n` +
      table(["TABLE", `${result.dryRun ? "WOULD DELETE" : "DELETED"}>`], [
        ["checkpoints", result.checkpoints],
        ["checkpoint_writes", result.writes],
        ["checkpoint_blobs", result.blobs],
      ]),
    );
    return 0;
  },
};
