import { THREAD_STATUSES, listThreads } from "../../inspect/threads.js";
import { oneOf, positiveInteger } from "../args.js";
import type { Command } from "../command.js";
import { withConnection } from "../connect.js";
import { bytes, json, namespace, plural, table } from "../format.js";

const DEFAULT_LIMIT = 50;

/**
 * Namespaces named in a row of the table. A subgraph's namespace carries the
 * id of the task that ran it, so a thread calling a subgraph every turn has
 * one per turn: thousands would make one cell of the table. `--json` lists all.
 */
const SHOWN_NAMESPACES = 3;

/** `threads`: which threads exist, newest first, and which are stuck. */
export const threads: Command = {
  name: "threads",
  usage: "[--status idle|interrupted|failed] [--limit N]",
  summary: "list threads, newest first, with status, checkpoints and size",
  details: `Lists threads newest first (by their newest checkpoint). For each: its status, how many
checkpoints it has, its namespaces ((root) is the root graph; subgraphs have their own; the
first ${SHOWN_NAMESPACES} and how many more, all of them with --json), when it was last updated
(the newest checkpoint's ts) and the bytes its rows take in the three tables as Postgres
stores them.

Status is read from the thread's newest checkpoint of the root namespace (the newest of any
namespace when it has no root one):
  failed        it holds an __error__ write (a task raised an error)
  interrupted   it holds an __interrupt__ write (an interrupt() waits for input)
  idle          anything else (finished, or between runs)`,
  options: {
    status: { type: "string", value: "STATUS", help: "only threads with this status: idle, interrupted or failed" },
    limit: { type: "string", value: "N", help: `at most N threads (default ${DEFAULT_LIMIT})` },
  },
  positionals: { min: 0, max: 0 },
  async run(context) {
    const status = oneOf(context.values.status, "--status", THREAD_STATUSES);
    const limit = positiveInteger(context.values.limit, "--limit") ?? DEFAULT_LIMIT;
    const list = await withConnection(context, ({ database }) => listThreads(database, { status, limit }));
    if (context.json) {
      await context.out(json({ matching: list.matching, threads: list.threads }));
      return 0;
    }
    const filter = status ? ` with status ${status}` : "";
    if (list.threads.length === 0) {
      await context.out(`no threads${filter}\n`);
      return 0;
    }
    await context.out(table(
      ["THREAD", "STATUS", "CHECKPOINTS>", "NAMESPACES", "LAST UPDATE", "SIZE>"],
      list.threads.map((t) => [
        t.thread_id, t.status, t.checkpoints, namespaces(t.namespaces), t.last_update ?? "-", bytes(t.bytes),
      ]),
    ));
    const more = list.matching > list.threads.length ? ` (showing the newest ${list.threads.length}; --limit to see more)` : "";
    await context.out(`${plural(list.matching, "thread")}${filter}${more}\n`);
    return 0;
  },
};

function namespaces(names: readonly string[]): string {
  const shown = names.slice(0, SHOWN_NAMESPACES).map(namespace).join(", ");
  return names.length > SHOWN_NAMESPACES ? `${shown} (+${names.length - SHOWN_NAMESPACES} more)` : shown;
}
