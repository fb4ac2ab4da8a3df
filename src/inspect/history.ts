import { ThreadNotFoundError } from "../errors.js";
import { OperationStats } from "../observe/instrument.js";
import type { HistoryRow } from "../sql/inspect.js";
import type { Database } from "../database.js";

/**
 * A thread's history as an operator reads it: which step wrote which
 * channels, and what is pending. Values are not printed, except the two an
 * operator needs to see: why a task failed (`__error__`) and what an
 * `interrupt()` asked (`__interrupt__`).
 */
export interface ThreadHistory {
  thread_id: string;
  /** Checkpoints of the thread (all namespaces); `entries` holds the newest `limit` of them. */
  checkpoints: number;
  namespaces: number;
  entries: HistoryEntry[];
}

export interface HistoryEntry {
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  ts: string | null;
  step: number | null;
  source: string | null;
  /** Channels whose version differs from the parent's (all of them when there is no parent). */
  channels_written: string[];
  pending_writes: PendingWriteSummary[];
}

export interface PendingWriteSummary {
  task_id: string;
  channel: string;
  idx: number;
  /** `__error__`: the error message. `__interrupt__`: the value(s) passed to `interrupt()`. Absent for other channels. */
  value?: unknown;
  /** Set instead of `value` when the stored value does not decode. */
  value_error?: string;
}

/** The newest `limit` checkpoints of `threadId`, every namespace. Throws `ThreadNotFoundError` for an unknown thread. */
export async function threadHistory(
  database: Database,
  threadId: string,
  options: { limit: number; unrevivable?: "throw" | "plain" | undefined },
): Promise<ThreadHistory> {
  const sql = database.sql.inspect;
  // One snapshot, so the count and the rows agree while graphs keep writing.
  const [size, rows] = await database.transaction("show", async (query) => [
    (await query<{ checkpoints: number; namespaces: number }>(sql.threadSize, [threadId]))[0]!,
    await query<HistoryRow>(sql.history, [threadId, options.limit]),
  ] as const, { readOnly: true });
  if (size.checkpoints === 0) throw new ThreadNotFoundError("show", threadId);
  const entries: HistoryEntry[] = [];
  for (const row of rows) {
    const pending: PendingWriteSummary[] = [];
    for (const [task_id, channel, idx, type, data] of row.writes ?? []) {
      const write: PendingWriteSummary = { task_id, channel, idx };
      if (data !== null) Object.assign(write, await shownValue(database, channel, type ?? "json", data, options.unrevivable));
      pending.push(write);
    }
    entries.push({
      checkpoint_ns: row.checkpoint_ns,
      checkpoint_id: row.checkpoint_id,
      parent_checkpoint_id: row.parent_checkpoint_id,
      ts: row.ts,
      step: typeof row.step === "number" ? row.step : null,
      source: row.source,
      channels_written: row.channels,
      pending_writes: pending,
    });
  }
  return { thread_id: threadId, checkpoints: size.checkpoints, namespaces: size.namespaces, entries };
}

/** An `__error__` write's message, or an `__interrupt__` write's interrupt values. */
async function shownValue(
  database: Database,
  channel: string,
  type: string,
  base64: string,
  unrevivable: "throw" | "plain" | undefined,
): Promise<Pick<PendingWriteSummary, "value" | "value_error">> {
  let value: unknown;
  try {
    // A loader per value: one that failed refuses everything after (see blobLoader).
    const load = database.loader(new OperationStats(), unrevivable === undefined ? undefined : { unrevivable });
    value = await load(type, Buffer.from(base64, "base64"));
  } catch (error) {
    return { value_error: error instanceof Error ? error.message : String(error) };
  }
  if (channel === "__error__") {
    // LangGraph stores a failed task's error as { message, name }.
    const message = (value as { message?: unknown } | null)?.message;
    return { value: typeof message === "string" ? message : value };
  }
  // LangGraph stores the interrupts a task raised as [{ id, value }, ...].
  if (Array.isArray(value) && value.every((i) => typeof i === "object" && i !== null && "value" in i)) {
    return { value: value.map((i: { value: unknown }) => i.value) };
  }
  return { value };
}
