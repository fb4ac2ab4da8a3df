import { ThreadNotFoundError } from "../../errors.js";
import { allThreadIds, countThreads, missingThreads } from "../../inspect/threads.js";
import type { ThreadExport } from "../../transfer/document.js";
import { UsageError } from "../args.js";
import type { Command, Context } from "../command.js";
import { checkUrl, connect, withConnection } from "../connect.js";
import { json, plural, table } from "../format.js";

/** `copy --to <url>`: threads into another database or schema, e.g. off the official saver's. */
export const copy: Command = {
  name: "copy",
  usage: "--to URL [--to-schema NAME] [--thread ID ...] | --thread ID --as NEW_ID",
  summary: "copy threads to another database or schema, or one thread under a new id",
  details: `Copies threads (all of them by default, a page at a time; or each --thread) from the
database given by --url/--schema to the one given by --to/--to-schema: runs setup on the
target, then exports each thread from the source and imports it into the target, each thread
in one transaction. Rows already in the target are kept, so running it again copies only what
is new. The source is only read and never migrated, so it may be a database the official
@langchain/langgraph-checkpoint-postgres saver created. A progress bar on stderr when it is a
terminal. A --thread the source does not have is an error (exit code 2), before anything is
written.

With --as, copies the one --thread under a new thread id in the same database and schema
(saver.copyThread(): every namespace, checkpoint, value and pending write, in one statement). A
new id that already has checkpoints is an error (exit code 2), and nothing is written.`,
  options: {
    to: { type: "string", value: "URL", help: "connection string of the target database (required)" },
    "to-schema": { type: "string", value: "NAME", help: "schema in the target (default: the source's schema)" },
    thread: { type: "string", multiple: true, value: "ID", help: "only this thread (repeat for more); default: every thread" },
    as: { type: "string", value: "NEW_ID", help: "copy the one --thread under this id, in the same database" },
  },
  positionals: { min: 0, max: 0 },
  async run(context) {
    const as = context.string("as");
    if (as !== undefined) return copyAs(context, as);
    const to = context.string("to");
    if (to === undefined || to.trim() === "") throw new UsageError("copy needs --to URL, the target database");
    const target = { url: checkUrl(to, "--to"), schema: context.string("to-schema") ?? context.schema };
    const only = [...new Set(context.strings("thread"))];
    if (only.some((id) => id.length === 0)) throw new UsageError("--thread needs a thread id");

    const copied = await withConnection(context, async (source) => {
      const [missing] = await missingThreads(source.database, only);
      if (missing !== undefined) throw new ThreadNotFoundError("copy", missing);
      const destination = await connect(context, target);
      const progress = context.progress("copy", "threads");
      const rows: Array<{ thread_id: string; copied: Counts; skipped: Counts }> = [];
      /** The thread being copied, and whether the whole copy went through. */
      let current: string | undefined;
      let done = false;
      try {
        await destination.saver.setup();
        // Counted only for the bar: a full scan of the thread ids is wasted on a pipe or a log.
        const total = only.length > 0 ? only.length : progress.enabled ? await countThreads(source.database) : 0;
        progress.update(0, total);
        for await (const threadId of only.length > 0 ? only : allThreadIds(source.database)) {
          current = threadId;
          let doc: ThreadExport;
          try {
            doc = await source.saver.exportThread(threadId);
          } catch (error) {
            // Deleted since the scan listed it (e.g. by retention): nothing left to copy.
            if (error instanceof ThreadNotFoundError && only.length === 0) {
              current = undefined;
              continue;
            }
            throw error;
          }
          const result = await destination.saver.importThread(doc);
          rows.push({ thread_id: threadId, copied: result.imported, skipped: result.skipped });
          progress.update(rows.length, Math.max(total, rows.length));
          current = undefined;
        }
        done = true;
        return rows;
      } finally {
        progress.finish();
        await destination.saver.end();
        // The error says what failed but not where: the threads copied before it are in the target.
        if (!done && (current !== undefined || rows.length > 0)) {
          const at = current === undefined ? "" : ` at thread ${context.shown(current)}`;
          await context.note(
            `copy stopped${at} after copying ${plural(rows.length, "thread")}; running copy again resumes, keeping what is already there\n`,
          );
        }
      }
    });

    // The URL as given, password masked even where a pattern would miss it (see secrets.ts).
    const shownUrl = context.shown(target.url);
    const where = `${shownUrl} (schema ${JSON.stringify(target.schema)})`;
    if (context.json) {
      await context.out(json({ target: shownUrl, target_schema: target.schema, threads: copied }));
      return 0;
    }
    if (copied.length > 0) {
      await context.out(table(
        ["THREAD", "CHECKPOINTS>", "VALUES>", "WRITES>", "ALREADY THERE>"],
        copied.map((t) => [t.thread_id, t.copied.checkpoints, t.copied.blobs, t.copied.writes, t.skipped.checkpoints + t.skipped.blobs + t.skipped.writes]),
      ));
    }
    await context.out(`copied ${plural(copied.length, "thread")} to ${where}\n`);
    return 0;
  },
};

interface Counts {
  checkpoints: number;
  blobs: number;
  writes: number;
}

/** `copy --thread ID --as NEW_ID`: one thread under a new id, in the source database. */
async function copyAs(context: Context, as: string): Promise<number> {
  if (context.string("to") !== undefined || context.string("to-schema") !== undefined) {
    throw new UsageError("--as copies within the source database: give --to/--to-schema, or --as, not both");
  }
  const only = [...new Set(context.strings("thread"))];
  if (only.length !== 1 || only[0] === "") throw new UsageError("--as needs exactly one --thread, the thread to copy");
  if (as === "") throw new UsageError("--as needs a thread id");
  const source = only[0]!;
  const copied = await withConnection(context, ({ saver }) => saver.copyThread(source, as));
  if (context.json) {
    await context.out(json({ source, target: as, copied }));
    return 0;
  }
  await context.out(
    `copied thread ${context.shown(source)} as ${context.shown(as)}: ${plural(copied.checkpoints, "checkpoint")}, ` +
      `${plural(copied.blobs, "value")}, ${plural(copied.writes, "pending write")}\n`,
  );
  return 0;
}
