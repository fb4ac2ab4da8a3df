import { type ChannelVersions, type Checkpoint, TASKS, maxChannelVersion } from "@langchain/langgraph-checkpoint";
import type { LegacySendsRow, TupleRow } from "../sql/index.js";

/**
 * Checkpoints written before format v4 (by old LangGraph versions) keep
 * their pending sends on the parent's writes. Reading them costs one more
 * statement, sent only when a result holds such a checkpoint, as the
 * official saver does.
 */

/** Thread, namespace and parent id of each parent whose sends `rows` need; `fetch` is given them and returns the sends it found. */
export async function attachLegacySends(
  rows: TupleRow[],
  fetch: (parents: [threads: string[], namespaces: string[], ids: string[]]) => Promise<LegacySendsRow[]>,
): Promise<void> {
  const legacy = rows.filter((row) => row.parent_checkpoint_id !== null && (row.checkpoint.v as number) < 4);
  if (legacy.length === 0) return;
  const key = (thread: string, ns: string, id: string | null) => JSON.stringify([thread, ns, id]);
  // Siblings share a parent; asking for it twice would return its sends twice.
  const parents = [...new Map(legacy.map((row) => [key(row.thread_id, row.checkpoint_ns, row.parent_checkpoint_id), row])).values()];
  const found = await fetch([
    parents.map((row) => row.thread_id),
    parents.map((row) => row.checkpoint_ns),
    parents.map((row) => row.parent_checkpoint_id!),
  ]);
  const byParent = new Map(found.map((sends) => [key(sends.thread_id, sends.checkpoint_ns, sends.checkpoint_id), sends]));
  for (const row of legacy) {
    const sends = byParent.get(key(row.thread_id, row.checkpoint_ns, row.parent_checkpoint_id));
    if (sends) Object.assign(row, { send_index: sends.send_index, send_data: sends.send_data });
  }
}

/**
 * Checkpoints written before format v4 kept `Send` packets as writes on the
 * parent checkpoint's TASKS channel; LangGraph expects them as the child's
 * TASKS channel value, as the official savers present them.
 */
export function migratePendingSends(checkpoint: Checkpoint, sends: unknown[]): void {
  const versions: ChannelVersions = checkpoint.channel_versions;
  const existing = Object.values(versions);
  checkpoint.channel_values[TASKS] = sends;
  // Derived on every read, so it must be deterministic: the first integer
  // version (as the official savers give) when the checkpoint has none.
  versions[TASKS] = existing.length > 0 ? maxChannelVersion(...existing) : 1;
}
