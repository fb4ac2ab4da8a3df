/**
 * Which checkpoints of one thread namespace `keepLast` may delete. Pure, so
 * the Postgres and in-memory savers share it, and it is tested on its own.
 *
 * The newest `keepLast` checkpoints are kept, and with them every ancestor
 * their state still needs. A LangGraph `DeltaChannel` stores a full value
 * only now and then (a snapshot); in between, a checkpoint's value is
 * rebuilt by `getDeltaChannelHistory`, which walks up the parents to the
 * nearest checkpoint holding a snapshot and replays the writes stored on
 * every checkpoint on the way. So for each kept checkpoint, each delta
 * channel it replays keeps the ancestors up to and including its seed, with
 * their writes. Those ancestors are then kept checkpoints too, and their own
 * replayed channels are followed in turn, so every checkpoint that survives
 * can still be read whole (a `list()` shows it, a graph can be forked from it).
 * Likewise a checkpoint from before format v4 finds its pending sends in its
 * parent's writes, so that parent is kept with it.
 */
export interface CheckpointNode {
  id: string;
  parentId: string | null;
  /** Delta channels whose value at this checkpoint is rebuilt from its ancestors. */
  replays: readonly string[];
  /** Channels with a full stored value here: a delta channel's walk stops at this checkpoint. */
  seeds: readonly string[];
  /**
   * Its pending sends are its parent's writes (a checkpoint before format v4
   * whose parent has some): reading it needs the parent. @default false
   */
  sendsOnParent?: boolean;
}

export interface PrunePlan {
  /** Ids to delete, oldest first (so an interrupted prune leaves the newest history). */
  doomed: string[];
  /** Kept checkpoints whose parent is deleted, newest first: their parent link is cleared, as their history now starts there. */
  orphaned: string[];
}

/**
 * @param nodes every checkpoint of one thread and namespace, newest first,
 *   in the order the saver itself picks "the latest" by (Postgres: `ORDER BY
 *   checkpoint_id DESC`; MemorySaver: ids sorted as JS strings, reversed).
 * @param keepLast how many of the newest to keep; 0 deletes them all.
 */
export function planPrune(nodes: readonly CheckpointNode[], keepLast: number): PrunePlan {
  return planKeeping(nodes, nodes.slice(0, keepLast).map((node) => node.id));
}

/**
 * What deleting every checkpoint but `keep` may delete: `keep` stays, with
 * every ancestor its delta channels and pending sends need (see above); the
 * rest goes. `deleteForRuns` keeps what other runs wrote this way.
 */
export function planKeeping(nodes: readonly CheckpointNode[], keep: readonly string[]): PrunePlan {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const newestFirst = nodes.map((node) => node.id);
  const kept = new Set<string>();
  /** Channels whose walk has already passed each checkpoint: walking it again would retrace the same path. */
  const walked = new Map<string, Set<string>>();
  const pending: Array<[node: CheckpointNode, channels: string[]]> = [];

  const keepWithSends = (first: CheckpointNode): void => {
    // A loop, not recursion: a chain of pre-v4 checkpoints can be as long as the thread.
    for (let node: CheckpointNode | undefined = first; node !== undefined && !kept.has(node.id);) {
      kept.add(node.id);
      const own = new Set(node.seeds);
      const replays = node.replays.filter((channel) => !own.has(channel));
      if (replays.length > 0) pending.push([node, replays]);
      node = node.sendsOnParent && node.parentId !== null ? byId.get(node.parentId) : undefined;
    }
  };

  for (const id of keep) {
    const node = byId.get(id);
    if (node !== undefined) keepWithSends(node);
  }
  while (pending.length > 0) {
    const [child, channels] = pending.pop()!;
    let wanted = channels;
    let parentId = child.parentId;
    while (wanted.length > 0 && parentId !== null) {
      const parent = byId.get(parentId);
      if (parent === undefined) break; // already gone: nothing older can be kept for it
      const seen = walked.get(parent.id) ?? new Set<string>();
      walked.set(parent.id, seen);
      wanted = wanted.filter((channel) => !seen.has(channel));
      for (const channel of wanted) seen.add(channel);
      if (wanted.length === 0) break;
      keepWithSends(parent);
      const seeded = new Set(parent.seeds);
      wanted = wanted.filter((channel) => !seeded.has(channel));
      parentId = parent.parentId;
    }
  }

  const doomed = newestFirst.filter((id) => !kept.has(id)).reverse();
  const doomedSet = new Set(doomed);
  const orphaned = nodes
    .filter((node) => kept.has(node.id) && node.parentId !== null && doomedSet.has(node.parentId))
    .map((node) => node.id);
  return { doomed, orphaned };
}
