import { validateThreads } from "../../inspect/validate.js";
import type { Command } from "../command.js";
import { withConnection } from "../connect.js";
import { json, namespace, plural } from "../format.js";

/** `validate [thread]`: is every thread readable, as stored? */
export const validate: Command = {
  name: "validate",
  usage: "[thread]",
  summary: "check integrity: values, parents and that every value decodes",
  details: `Checks that what reads depend on is intact:
  - every channel version a checkpoint names has its row in checkpoint_blobs
  - every parent checkpoint id exists in the same thread and namespace
  - every stored value and pending write decodes (compressed ones are inflated, then
    deserialized)
Reports every problem with its thread, namespace, checkpoint, channel and version, and what
is wrong. Without a thread, checks every thread, a page at a time (a progress bar on stderr
when it is a terminal). Each thread is read in one snapshot, so graphs may keep running.

Exit code 0 when nothing is wrong, 1 when a problem was found, 2 for an unknown thread.`,
  options: {},
  positionals: { min: 0, max: 1 },
  async run(context) {
    const thread = context.positionals[0];
    const report = await withConnection(context, async ({ database }) => {
      const progress = context.progress("validate", "threads");
      try {
        return await validateThreads(database, {
          ...(thread === undefined ? {} : { threadIds: [thread] }),
          // Only for the bar: a progress callback makes validateThreads count the threads first.
          ...(progress.enabled ? { onProgress: (done: number, total: number) => progress.update(done, total) } : {}),
        });
      } finally {
        progress.finish();
      }
    });
    const ok = report.problems.length === 0;
    if (context.json) {
      await context.out(json({ ok, ...report }));
      return ok ? 0 : 1;
    }
    for (const p of report.problems) {
      const where = [
        `thread ${p.thread_id}`,
        `namespace ${namespace(p.checkpoint_ns)}`,
        p.checkpoint_id === null ? undefined : `checkpoint ${p.checkpoint_id}`,
      ].filter(Boolean).join(", ");
      // Ids, namespaces and task ids come from the stored rows: printed with control characters escaped.
      await context.out(`${context.shown(`problem (${p.kind}): ${where}: ${p.message}`)}\n`);
    }
    const checked = `checked ${plural(report.threads, "thread")}, ${plural(report.checkpoints, "checkpoint")}, ` +
      `${plural(report.channel_versions, "channel version")}, ${plural(report.blobs, "stored value")}, ` +
      `${plural(report.writes, "pending write")}`;
    await context.out(ok ? `${checked}: no problems\n` : `${checked}: ${plural(report.problems.length, "problem")} found\n`);
    return ok ? 0 : 1;
  },
};
