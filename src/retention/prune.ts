import type { OperationStats } from "../observe/instrument.js";
import type { ReferencedValuesRow, SkeletonRow, ThreadPageRow } from "../sql/retention.js";
import type { Database } from "../database.js";
import { PRUNE_DEFAULTS, type PruneCounts, type PruneResult, type ResolvedPrune } from "../config/retention.js";
import { expiryCutoff, isExpired } from "./expiry.js";
import { type CheckpointNode, planKeeping, planPrune } from "./plan.js";

/** Threads fetched per statement while scanning: a page is a few KiB and one round trip per 100 threads. */
const THREAD_PAGE_SIZE = 100;

/** Value keys fetched per statement when looking for unreferenced values: about 200 KiB a page. */
const VALUE_PAGE_SIZE = 5_000;

interface ValueKey {
  channel: string;
  version: string;
}

const valueKey = (channel: string, version: string) => JSON.stringify([channel, version]);

/**
 * `prune()` on Postgres. Threads are visited a page at a time in id order.
 * An expired thread (`olderThan`) is deleted whole; every other thread
 * keeps its newest `keepLast` checkpoints per namespace, plus what their
 * delta channels need (`planPrune`). Every delete is one bounded statement.
 */
export async function prunePostgres(
  database: Database,
  options: ResolvedPrune,
  stats: OperationStats,
  /** Told about rows as they are deleted (not in a dry run), so a prune that fails halfway still counts what went. */
  onRemoved: (counts: PruneCounts) => void,
): Promise<PruneResult> {
  const run = new PruneRun(database, options, stats, onRemoved);
  await run.all();
  return run.result;
}

/**
 * `deleteForRuns()` on Postgres: every checkpoint whose metadata `run_id` is
 * one of `runIds`, with its writes, in every thread and namespace, except
 * those a remaining checkpoint still needs (`planKeeping`: the ancestors its
 * delta channels replay, a pre-v4 checkpoint's parent); then the values no
 * remaining checkpoint names. A remaining checkpoint whose parent went starts
 * its history there. Bounded batches, as `prune()`.
 */
export async function deleteRunsPostgres(
  database: Database,
  runIds: readonly string[],
  stats: OperationStats,
  onRemoved: (counts: PruneCounts) => void,
): Promise<PruneCounts> {
  const run = new PruneRun(database, {
    keepLast: undefined, olderThanMs: undefined, threadIds: undefined, dryRun: false, batchSize: PRUNE_DEFAULTS.batchSize, onProgress: undefined,
  }, stats, onRemoved, "deleteForRuns");
  await run.runs(runIds);
  const { checkpoints, writes, blobs } = run.result;
  return { checkpoints, writes, blobs };
}

class PruneRun {
  readonly result: PruneResult;
  private readonly sql;
  private readonly cutoff: number | undefined;

  constructor(
    private readonly database: Database,
    private readonly options: ResolvedPrune,
    private readonly stats: OperationStats,
    private readonly onRemoved: (counts: PruneCounts) => void,
    /** The operation its statements are counted under. */
    private readonly operation = "prune",
  ) {
    this.sql = database.sql.retention;
    this.cutoff = expiryCutoff(options);
    this.result = { dryRun: options.dryRun, threads: 0, threadsDeleted: 0, checkpoints: 0, writes: 0, blobs: 0 };
  }

  async all(): Promise<void> {
    if (this.options.threadIds?.length === 0) return;
    let cursor: string | null = null;
    for (;;) {
      const page: ThreadPageRow[] = await this.query<ThreadPageRow>(this.sql.threadPage, [cursor, this.options.threadIds ?? null, THREAD_PAGE_SIZE]);
      // strategy "delete": every listed thread goes whole, as an expired one does.
      const expired = this.options.deleteThreads ? page : page.filter((thread) => isExpired(thread.newest_ts, this.cutoff));
      await this.deleteWholeThreads(expired);
      for (const thread of page) {
        if (expired.includes(thread)) continue;
        await this.keepNewest(thread);
        this.done(1);
      }
      if (page.length < THREAD_PAGE_SIZE) return;
      cursor = page.at(-1)!.thread_id;
    }
  }

  /**
   * Expired threads go whole. Small ones share statements (up to a batch of
   * checkpoints each); a bigger one goes namespace by namespace, oldest
   * first. Either way a thread resumed meanwhile is left alone from then on.
   */
  private async deleteWholeThreads(threads: ThreadPageRow[]): Promise<void> {
    const { batchSize, dryRun } = this.options;
    if (dryRun) {
      if (threads.length === 0) return;
      const [found] = await this.query<PruneCounts>(this.sql.countThreads, [threads.map((t) => t.thread_id)]);
      this.add(found!);
      this.result.threadsDeleted += threads.length;
      this.done(threads.length);
      return;
    }
    let group: ThreadPageRow[] = [];
    let groupSize = 0;
    const flush = async () => {
      if (group.length === 0) return;
      const [gone] = await this.query<PruneCounts & { threads: number }>(this.sql.deleteIdleThreads, [
        group.map((t) => t.thread_id),
        group.map((t) => t.newest_id),
      ]);
      this.add(gone!);
      this.result.threadsDeleted += gone!.threads;
      this.done(group.length);
      group = [];
      groupSize = 0;
    };
    for (const thread of threads) {
      if (thread.checkpoints > batchSize) {
        await this.deleteLargeThread(thread);
        this.done(1);
        continue;
      }
      if (groupSize + thread.checkpoints > batchSize) await flush();
      group.push(thread);
      groupSize += thread.checkpoints;
    }
    await flush();
  }

  /**
   * A thread too big for one statement goes in two passes, so that after
   * every batch each remaining checkpoint still has every ancestor it
   * needs, and a graph resumed meanwhile finds a consistent state. First,
   * in every namespace, what `keepLast: 1` would delete (oldest first, as
   * any prune; safe while a graph writes, so not guarded). Then the rest,
   * newest first, each batch only while the thread is still idle: a thread
   * resumed in between continues from the newest checkpoint left, and is
   * left alone from then on. The root namespace goes last, so a graph
   * resumed in between still finds its own state.
   */
  private async deleteLargeThread(thread: ThreadPageRow): Promise<void> {
    const rest = new Map<string, string[]>();
    for (const [ns] of thread.namespaces) {
      const nodes = await this.skeleton(thread.thread_id, ns);
      const { doomed, orphaned } = planPrune(nodes, 1);
      await this.deleteCheckpoints(thread.thread_id, ns, doomed, orphaned, null);
      await this.deleteUnreferencedBlobs(thread.thread_id, ns);
      const gone = new Set(doomed);
      rest.set(ns, nodes.map((node) => node.id).filter((id) => !gone.has(id)));
    }
    const rootLast = [...rest.keys()].sort((a, b) => Number(a === "") - Number(b === ""));
    for (const ns of rootLast) {
      const complete = await this.deleteCheckpoints(thread.thread_id, ns, rest.get(ns)!, [], thread.newest_id);
      await this.deleteUnreferencedBlobs(thread.thread_id, ns);
      if (!complete) return; // resumed while we were deleting: what is left stays
    }
    for (;;) {
      const [gone] = await this.query<{ empty: boolean; writes: number; blobs: number }>(this.sql.deleteThreadLeftovers, [
        thread.thread_id,
        this.options.batchSize,
      ]);
      if (!gone!.empty) return; // resumed just now: not deleted after all
      this.add({ checkpoints: 0, writes: gone!.writes, blobs: gone!.blobs });
      if (gone!.writes < this.options.batchSize && gone!.blobs < this.options.batchSize) break;
    }
    this.result.threadsDeleted += 1;
  }

  /** Deletes what the runs `runIds` wrote (see `deleteRunsPostgres`). */
  async runs(runIds: readonly string[]): Promise<void> {
    if (runIds.length === 0) return;
    const doomedRuns = new Set(runIds);
    const threads = await this.query<{ thread_id: string; namespaces: string[] }>(this.sql.threadsOfRuns, [runIds]);
    for (const thread of threads) {
      for (const ns of thread.namespaces) {
        const nodes = await this.skeleton(thread.thread_id, ns);
        const keep = nodes.filter((node) => node.runId === null || !doomedRuns.has(node.runId)).map((node) => node.id);
        const { doomed, orphaned } = planKeeping(nodes, keep);
        if (doomed.length === 0) continue;
        await this.deleteCheckpoints(thread.thread_id, ns, doomed, orphaned, null);
        await this.deleteUnreferencedBlobs(thread.thread_id, ns);
      }
      this.done(1);
    }
  }

  /** `keepLast` in every namespace of `thread` that has more checkpoints than that. */
  private async keepNewest(thread: ThreadPageRow): Promise<void> {
    const { keepLast, dryRun } = this.options;
    if (keepLast === undefined) return;
    for (const [ns, count] of thread.namespaces) {
      if (count <= keepLast) continue;
      const { doomed, orphaned } = planPrune(await this.skeleton(thread.thread_id, ns), keepLast);
      if (doomed.length === 0) continue;
      if (dryRun) {
        const [found] = await this.query<{ writes: number }>(this.sql.countWrites, [thread.thread_id, ns, doomed]);
        this.add({ checkpoints: doomed.length, writes: found!.writes, blobs: 0 });
        await this.deleteUnreferencedBlobs(thread.thread_id, ns, doomed);
        continue;
      }
      await this.deleteCheckpoints(thread.thread_id, ns, doomed, orphaned, null);
      await this.deleteUnreferencedBlobs(thread.thread_id, ns);
    }
  }

  private async skeleton(threadId: string, ns: string): Promise<Array<CheckpointNode & { runId: string | null }>> {
    const rows = await this.query<SkeletonRow>(this.sql.skeleton, [threadId, ns]);
    return rows.map((row) => ({
      id: row.id, parentId: row.parent_id, replays: row.replays, seeds: row.seeds, sendsOnParent: row.sends_on_parent, runId: row.run_id,
    }));
  }

  /**
   * `ids` in batches, in the order given, with their writes. With
   * `idleSince`, stops as soon as the thread has a checkpoint newer than
   * that; returns whether every batch went.
   */
  private async deleteCheckpoints(
    threadId: string,
    ns: string,
    ids: string[],
    orphaned: string[],
    idleSince: string | null,
  ): Promise<boolean> {
    const { batchSize } = this.options;
    for (let start = 0; start < ids.length; start += batchSize) {
      const batch = ids.slice(start, start + batchSize);
      const [gone] = await this.query<{ idle: boolean; checkpoints: number; writes: number }>(this.sql.deleteCheckpoints, [
        threadId, ns, batch, orphaned, idleSince,
      ]);
      if (!gone!.idle) return false;
      this.add({ checkpoints: gone!.checkpoints, writes: gone!.writes, blobs: 0 });
    }
    return true;
  }

  /**
   * Deletes the values of (thread, ns) that no remaining checkpoint names
   * (in a dry run: counts those no checkpoint but `doomed` names). Pages
   * through the values in key order, compares each page with the set of
   * referenced values here, and deletes in batches.
   */
  private async deleteUnreferencedBlobs(threadId: string, ns: string, doomed: string[] = []): Promise<void> {
    const { batchSize, dryRun } = this.options;
    const [found] = await this.query<ReferencedValuesRow>(this.sql.referencedValues, [threadId, ns, doomed]);
    const referenced = new Set(found!.referenced.map(([channel, version]) => valueKey(channel, version)));
    let cursor: [string, string] | [null, null] = [null, null];
    for (;;) {
      const page: ValueKey[] = await this.query<ValueKey>(this.sql.valuePage, [threadId, ns, ...cursor, VALUE_PAGE_SIZE]);
      const unused = page.filter((v) => !referenced.has(valueKey(v.channel, v.version)));
      for (let start = 0; start < unused.length; start += batchSize) {
        const batch = unused.slice(start, start + batchSize);
        if (dryRun) {
          this.add({ checkpoints: 0, writes: 0, blobs: batch.length });
          continue;
        }
        const [gone] = await this.query<{ blobs: number }>(this.sql.deleteValues, [
          threadId, ns, batch.map((v) => v.channel), batch.map((v) => v.version), found!.newest_id,
        ]);
        this.add({ checkpoints: 0, writes: 0, blobs: gone!.blobs });
      }
      if (page.length < VALUE_PAGE_SIZE) return;
      const last: ValueKey = page.at(-1)!;
      cursor = [last.channel, last.version];
    }
  }

  /** `count` more threads looked at, told to `onProgress` with what is removed so far. */
  private done(count: number): void {
    this.result.threads += count;
    this.options.onProgress?.({ threads: this.result.threads, removed: this.counts() });
  }

  private add(counts: PruneCounts): void {
    this.result.checkpoints += counts.checkpoints;
    this.result.writes += counts.writes;
    this.result.blobs += counts.blobs;
    this.stats.rows = this.result.checkpoints + this.result.writes + this.result.blobs;
    if (!this.options.dryRun) this.onRemoved(counts);
  }

  private counts(): PruneCounts {
    const { checkpoints, writes, blobs } = this.result;
    return { checkpoints, writes, blobs };
  }

  private query<Row>(text: string, values: unknown[]): Promise<Row[]> {
    return this.database.query<Row>(this.operation, text, values, this.stats);
  }
}
