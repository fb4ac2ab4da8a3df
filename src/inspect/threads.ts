import { InvalidInputError } from "../errors.js";
import type { ThreadRow } from "../sql/inspect.js";
import type { Database } from "../database.js";

/**
 * What an operator asks first: which threads exist, which are stuck. The
 * status is derived from stored rows only, never guessed: a thread whose
 * head checkpoint (the newest of the root namespace, else the newest of
 * all) holds an `__error__` write failed, one holding an `__interrupt__`
 * write waits for input, anything else is idle.
 */
export const THREAD_STATUSES = ["idle", "interrupted", "failed"] as const;
export type ThreadStatus = (typeof THREAD_STATUSES)[number];

export interface ThreadSummary {
  thread_id: string;
  status: ThreadStatus;
  checkpoints: number;
  /** Every namespace holding a checkpoint; "" is the root graph's. */
  namespaces: string[];
  /** Id of the newest checkpoint (what orders the list). */
  last_checkpoint_id: string;
  /** `ts` of that checkpoint, as LangGraph wrote it. */
  last_update: string | null;
  /** Bytes of the thread's rows in the three tables, as Postgres stores them. */
  bytes: number;
}

export interface ThreadList {
  /** Threads matching the filter, before the limit. */
  matching: number;
  threads: ThreadSummary[];
}

/** Threads newest first (by newest checkpoint id), optionally only those with `status`. */
export async function listThreads(database: Database, options: { status?: ThreadStatus; limit: number }): Promise<ThreadList> {
  const { status, limit } = options;
  if (status !== undefined && !THREAD_STATUSES.includes(status)) {
    throw new InvalidInputError(`status must be one of ${THREAD_STATUSES.join(", ")}, got ${JSON.stringify(status)}`);
  }
  if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidInputError(`limit must be a positive integer, got ${limit}`);
  const rows = await database.query<ThreadRow>("threads", database.sql.inspect.threads, [status ?? null, limit]);
  return {
    matching: rows[0]?.matching ?? 0,
    threads: rows.map((row) => ({
      thread_id: row.thread_id,
      status: row.status,
      checkpoints: row.checkpoints,
      namespaces: row.namespaces,
      last_checkpoint_id: row.newest_id,
      last_update: row.last_update,
      bytes: Number(row.bytes),
    })),
  };
}

/** Thread page size of scans: one round trip per 500 ids, a few KiB each. */
const THREAD_PAGE_SIZE = 500;

/** Every thread id, in id order, a page at a time (memory stays bounded by one page). */
export async function* allThreadIds(database: Database): AsyncGenerator<string> {
  let after: string | null = null;
  for (;;) {
    const page: Array<{ thread_id: string }> = await database.query("threads", database.sql.inspect.threadIds, [after, THREAD_PAGE_SIZE]);
    for (const row of page) yield row.thread_id;
    if (page.length < THREAD_PAGE_SIZE) return;
    after = page.at(-1)!.thread_id;
  }
}

/** How many threads hold checkpoints (for progress bars). */
export async function countThreads(database: Database): Promise<number> {
  const [row] = await database.query<{ n: number }>("threads", database.sql.inspect.threadCount, []);
  return row?.n ?? 0;
}

/** The ids among `threadIds` that have no checkpoint. */
export async function missingThreads(database: Database, threadIds: readonly string[]): Promise<string[]> {
  if (threadIds.length === 0) return [];
  const rows = await database.query<{ id: string }>("threads", database.sql.inspect.missingThreads, [threadIds]);
  return rows.map((row) => row.id);
}
