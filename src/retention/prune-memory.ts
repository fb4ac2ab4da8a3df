import { type Checkpoint, type CheckpointMetadata, type MemorySaver, TASKS } from "@langchain/langgraph-checkpoint";
import type { PruneCounts, PruneResult, ResolvedPrune } from "../config/retention.js";
import { expiryCutoff, isExpired } from "./expiry.js";
import { type CheckpointNode, planKeeping, planPrune } from "./plan.js";

/**
 * `prune()` for LangGraph's `MemorySaver` storage, with the same rules as on
 * Postgres (`planPrune`). Values live inside each stored checkpoint there,
 * so `blobs` is always 0. A thread's deletions happen at once, after its
 * plan is made, so a graph never sees half of one; an expired thread that
 * got a new checkpoint meanwhile is left alone.
 */
export async function pruneMemory(saver: MemorySaver, options: ResolvedPrune): Promise<PruneResult> {
  const result: PruneResult = { dryRun: options.dryRun, threads: 0, threadsDeleted: 0, checkpoints: 0, writes: 0, blobs: 0 };
  const cutoff = expiryCutoff(options);
  const threadIds = options.threadIds ?? Object.keys(saver.storage).sort();
  for (const threadId of threadIds) {
    const namespaces = saver.storage[threadId];
    if (namespaces === undefined || Object.keys(namespaces).length === 0) continue;
    const plans = new Map<string, { doomed: string[]; orphaned: string[] }>();
    let newest: { id: string; ts: unknown } | undefined;
    for (const [ns, checkpoints] of Object.entries(namespaces)) {
      const nodes = await skeleton(saver, threadId, ns, checkpoints);
      const latest = nodes[0];
      if (latest !== undefined && (newest === undefined || latest.id > newest.id)) newest = { id: latest.id, ts: latest.ts };
      if (options.keepLast !== undefined && nodes.length > options.keepLast) plans.set(ns, planPrune(nodes, options.keepLast));
    }
    if (options.deleteThreads) {
      removeThread(saver, threadId, options.dryRun, result);
    } else if (isExpired(newest?.ts, cutoff)) {
      // A graph may have written to it while the plan was made (the awaits
      // above): then it was resumed, and is left alone, as on Postgres.
      if (newestId(saver, threadId) === newest!.id) removeThread(saver, threadId, options.dryRun, result);
    } else {
      for (const [ns, { doomed, orphaned }] of plans) remove(saver, threadId, ns, doomed, orphaned, options.dryRun, result);
    }
    result.threads += 1;
    options.onProgress?.({ threads: result.threads, removed: { checkpoints: result.checkpoints, writes: result.writes, blobs: 0 } });
  }
  return result;
}

/** `deleteForRuns()` for `MemorySaver` storage, with the same rules as on Postgres (`planKeeping`). */
export async function deleteRunsMemory(saver: MemorySaver, runIds: readonly string[]): Promise<PruneCounts> {
  const result: PruneResult = { dryRun: false, threads: 0, threadsDeleted: 0, checkpoints: 0, writes: 0, blobs: 0 };
  if (runIds.length === 0) return { checkpoints: 0, writes: 0, blobs: 0 };
  const doomedRuns = new Set(runIds);
  for (const threadId of Object.keys(saver.storage).sort()) {
    const plans = new Map<string, { doomed: string[]; orphaned: string[] }>();
    for (const [ns, checkpoints] of Object.entries(saver.storage[threadId] ?? {})) {
      const nodes = await skeleton(saver, threadId, ns, checkpoints);
      if (!nodes.some((node) => node.runId !== null && doomedRuns.has(node.runId))) continue;
      plans.set(ns, planKeeping(nodes, nodes.filter((node) => node.runId === null || !doomedRuns.has(node.runId)).map((node) => node.id)));
    }
    // The thread's deletions at once, after its plans are made, as prune() does.
    for (const [ns, { doomed, orphaned }] of plans) remove(saver, threadId, ns, doomed, orphaned, false, result);
  }
  return { checkpoints: result.checkpoints, writes: result.writes, blobs: 0 };
}

type Stored = MemorySaver["storage"][string][string];

/** The thread's newest checkpoint id now, in any namespace (as MemorySaver orders ids). */
function newestId(saver: MemorySaver, threadId: string): string | undefined {
  let newest: string | undefined;
  for (const checkpoints of Object.values(saver.storage[threadId] ?? {})) {
    for (const id of Object.keys(checkpoints)) if (newest === undefined || id > newest) newest = id;
  }
  return newest;
}

async function skeleton(
  saver: MemorySaver,
  threadId: string,
  ns: string,
  checkpoints: Stored,
): Promise<Array<CheckpointNode & { ts: unknown; runId: string | null }>> {
  // MemorySaver picks the latest by sorting ids as strings; so does this.
  const ids = Object.keys(checkpoints).sort().reverse();
  return Promise.all(ids.map(async (id) => {
    const [stored, storedMetadata, parentId] = checkpoints[id]!;
    const checkpoint = (await saver.serde.loadsTyped("json", stored)) as Checkpoint;
    const metadata = (await saver.serde.loadsTyped("json", storedMetadata)) as CheckpointMetadata & Record<string, unknown>;
    const counters = metadata?.counters_since_delta_snapshot;
    const versioned = metadata?.delta_writes_versioned === true;
    const versions = checkpoint.channel_versions ?? {};
    const values = checkpoint.channel_values ?? {};
    return {
      id,
      parentId: parentId ?? null,
      ts: checkpoint.ts,
      runId: typeof metadata?.run_id === "string" ? metadata.run_id : metadata?.run_id == null ? null : String(metadata.run_id),
      replays: typeof counters === "object" && counters !== null
        ? Object.keys(counters).filter((channel) => !versioned || Object.hasOwn(versions, channel))
        : [],
      seeds: Object.keys(values).filter((channel) => values[channel] !== undefined),
      // As MemorySaver reads it: a checkpoint before format v4 takes its pending sends from its parent's writes.
      sendsOnParent: checkpoint.v < 4 && parentId !== undefined &&
        Object.values(saver.writes[JSON.stringify([threadId, ns, parentId])] ?? {}).some(([, channel]) => channel === TASKS),
    };
  }));
}

function remove(
  saver: MemorySaver,
  threadId: string,
  ns: string,
  doomed: string[],
  orphaned: string[],
  dryRun: boolean,
  result: PruneResult,
): void {
  const checkpoints = saver.storage[threadId]?.[ns];
  if (checkpoints === undefined) return;
  for (const id of doomed) {
    const key = JSON.stringify([threadId, ns, id]);
    if (checkpoints[id] === undefined) continue;
    result.checkpoints += 1;
    result.writes += Object.keys(saver.writes[key] ?? {}).length;
    if (dryRun) continue;
    delete checkpoints[id];
    delete saver.writes[key];
  }
  if (dryRun) return;
  for (const id of orphaned) {
    const entry = checkpoints[id];
    if (entry !== undefined) checkpoints[id] = [entry[0], entry[1], undefined];
  }
  if (Object.keys(checkpoints).length === 0) delete saver.storage[threadId]![ns];
}

function removeThread(saver: MemorySaver, threadId: string, dryRun: boolean, result: PruneResult): void {
  for (const checkpoints of Object.values(saver.storage[threadId] ?? {})) result.checkpoints += Object.keys(checkpoints).length;
  for (const key of Object.keys(saver.writes)) {
    if ((JSON.parse(key) as string[])[0] !== threadId) continue;
    result.writes += Object.keys(saver.writes[key]!).length;
    if (!dryRun) delete saver.writes[key];
  }
  if (!dryRun) delete saver.storage[threadId];
  result.threadsDeleted += 1;
}
