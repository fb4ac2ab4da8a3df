import type { RunnableConfig } from "@langchain/core/runnables";
import {
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointTuple,
  MemorySaver,
  type PendingWrite,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import type { HealthReport } from "./connection/health.js";
import { Instrumentation, targetOf, textOrUndefined } from "./observe/instrument.js";
import { CheckpointMetrics, type MetricSource } from "./observe/metrics.js";
import { type ObservabilityOptions, resolveObservability } from "./config/observability.js";
import { copyThreadIds, requireKey, requireMetadata, requireRunIds } from "./input.js";
import { nextChannelVersion } from "./codec/versions.js";
import { serializerFor } from "./codec/serializer.js";
import { locateUnreadable } from "./codec/memory-locations.js";
import { SerializationError } from "./errors.js";
import type { ReviveOptions } from "./config/revive.js";
import {
  type PruneCounts,
  type PruneOptions,
  type PruneResult,
  type RetentionOptions,
  pruneArguments,
  resolvePrune,
  resolveRetention,
} from "./config/retention.js";
import { deleteRunsMemory, pruneMemory } from "./retention/prune-memory.js";
import { type RetentionSchedule, startRetention } from "./retention/schedule.js";
import { type ImportResult, type ThreadExport, threadIdOf } from "./transfer/document.js";
import { copyMemory, exportMemory, importMemory } from "./transfer/memory.js";

export interface MemoryCheckpointerOptions extends ObservabilityOptions {
  /** Prune on a timer, as `PostgresSaver`'s `retention`. @default false */
  retention?: RetentionOptions | false;
  /** As `PostgresSaver`'s `revive`. */
  revive?: ReviveOptions;
}

/**
 * LangGraph's `MemorySaver` with the same lifecycle surface as
 * `PostgresSaver` (`setup`, `warmup`, `health`, `isPersistent`, `end`) and
 * the same metrics, logs and spans (labelled `backend="memory"`), so code and
 * dashboards written against the factory's result work with either.
 * Checkpoints live in this process only and are gone when it exits.
 */
export class MemoryCheckpointer extends MemorySaver {
  private readonly instrumentation: Instrumentation;
  private readonly detachMetrics: () => void;
  /** What the scrape-time gauges read. The metrics hold it weakly, so the saver must hold it. */
  private readonly metricSource: MetricSource;
  private readonly retention: RetentionSchedule | undefined;

  /**
   * @param fallbackReason why a requested database was not used; `health()`
   *   then reports "degraded" and carries the reason as `lastError`.
   */
  constructor(
    readonly fallbackReason?: string,
    serde?: SerializerProtocol,
    options: MemoryCheckpointerOptions = {},
  ) {
    super(serializerFor(serde, options.revive));
    const { metrics: metricsOptions, ...settings } = resolveObservability(options);
    const retention = resolveRetention(options.retention);
    const metrics = metricsOptions === false ? undefined : CheckpointMetrics.for(metricsOptions);
    this.instrumentation = new Instrumentation({ backend: "memory", metrics, ...settings });
    this.metricSource = {
      backend: "memory",
      persistent: false,
      pool: undefined,
      poolStats: () => ({ total: 0, idle: 0, waiting: 0 }),
      circuitState: () => "closed",
    };
    this.detachMetrics = metrics?.attach(this.metricSource) ?? (() => {});
    this.retention = startRetention(retention, (o) => this.prune(o), settings.logger, (ok) => this.instrumentation.retentionRan(ok));
  }

  async setup(): Promise<void> {}

  async warmup(): Promise<void> {}

  health(): HealthReport {
    return {
      status: this.fallbackReason === undefined ? "ok" : "degraded",
      backend: "memory",
      persistent: false,
      pool: { total: 0, idle: 0, waiting: 0 },
      circuit: "closed",
      lastError:
        this.fallbackReason === undefined
          ? null
          : { message: this.fallbackReason, code: "FALLBACK", operation: "createCheckpointer", at: this.createdAt },
    };
  }

  isPersistent(): boolean {
    return false;
  }

  override getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    return this.instrumentation.run("getTuple", targetOf(config), async (stats) => {
      const tuple = await this.located(() => super.getTuple(config), config, { single: true });
      stats.rows = tuple === undefined ? 0 : 1;
      return tuple;
    });
  }

  override async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const tuples = await this.instrumentation.run("list", targetOf(config), async (stats) => {
      const all: CheckpointTuple[] = [];
      await this.located(async () => {
        for await (const tuple of super.list(config, options)) all.push(tuple);
      }, config, options);
      stats.rows = all.length;
      return all;
    });
    yield* tuples;
  }

  override put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata): Promise<RunnableConfig> {
    const target = { ...targetOf(config), checkpointId: textOrUndefined((checkpoint as { id?: unknown } | undefined)?.id) };
    return this.instrumentation.run("put", target, () => {
      // As PostgresSaver refuses it; anything else MemorySaver takes as it always did.
      if (typeof metadata === "object" && metadata !== null) requireMetadata(metadata, "put");
      return super.put(config, checkpoint, metadata);
    });
  }

  override putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    return this.instrumentation.run("putWrites", targetOf(config), async (stats) => {
      stats.rows = Array.isArray(writes) ? writes.length : 0;
      await super.putWrites(config, writes, taskId, taskPath);
    });
  }

  override deleteThread(threadId: string): Promise<void> {
    return this.instrumentation.run("deleteThread", { threadId }, () => super.deleteThread(threadId));
  }

  /**
   * Runs a read; a SerializationError from the serializer (which cannot
   * know where it is) is replaced by one naming the thread, checkpoint and
   * channel, write or metadata, as `PostgresSaver`'s do.
   */
  private async located<T>(read: () => Promise<T>, config: RunnableConfig, scope: Parameters<typeof locateUnreadable>[2]): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof SerializationError) || error.location !== undefined) throw error;
      throw (await locateUnreadable(this, config, scope)) ?? error;
    }
  }

  /** As `PostgresSaver.prune()`; values live inside checkpoints here, so `blobs` is always 0. */
  prune(options: PruneOptions | readonly string[], more?: Omit<PruneOptions, "threadIds">): Promise<PruneResult> {
    return this.instrumentation.run("prune", {}, async (stats) => {
      const result = await pruneMemory(this, resolvePrune(pruneArguments(options, more)));
      stats.rows = result.checkpoints + result.writes;
      if (!result.dryRun) this.instrumentation.pruned(result);
      return result;
    });
  }

  /** As `PostgresSaver.deleteForRuns()` (`blobs` is always 0: values live inside checkpoints here). */
  deleteForRuns(runIds: readonly string[]): Promise<PruneCounts> {
    return this.instrumentation.run("deleteForRuns", {}, async (stats) => {
      const removed = await deleteRunsMemory(this, requireRunIds(runIds, "deleteForRuns"));
      stats.rows = removed.checkpoints + removed.writes;
      this.instrumentation.pruned(removed);
      return removed;
    });
  }

  /** As `PostgresSaver.copyThread()`: the copy appears whole, or not at all. */
  copyThread(sourceThreadId: string, targetThreadId: string): Promise<{ checkpoints: number; blobs: number; writes: number }> {
    return this.instrumentation.run("copyThread", { threadId: textOrUndefined(sourceThreadId) }, async (stats) => {
      const copied = copyMemory(this, ...copyThreadIds(sourceThreadId, targetThreadId));
      stats.rows = copied.checkpoints + copied.writes;
      return copied;
    });
  }

  /** As `PostgresSaver.exportThread()`: the same document, which either saver imports. */
  exportThread(threadId: string): Promise<ThreadExport> {
    return this.instrumentation.run("exportThread", { threadId: textOrUndefined(threadId) }, async (stats) => {
      const doc = await exportMemory(this, requireKey(threadId, "threadId", "exportThread"));
      stats.rows = doc.counts.checkpoints + doc.counts.blobs + doc.counts.writes;
      return doc;
    });
  }

  /** As `PostgresSaver.importThread()`: all or nothing, and importing twice changes nothing. */
  importThread(doc: ThreadExport): Promise<ImportResult> {
    return this.instrumentation.run("importThread", { threadId: threadIdOf(doc) }, async (stats) => {
      const result = await importMemory(this, doc);
      stats.rows = result.imported.checkpoints + result.imported.blobs + result.imported.writes;
      return result;
    });
  }

  /**
   * LangGraph's integer versions, and the Python saver's string versions
   * ("000…0042.<random>") continued in their format, so a thread imported
   * from a database the Python saver wrote resumes here too.
   */
  override getNextVersion(current: number | string | undefined): number {
    return (typeof current === "string" ? nextChannelVersion(current) : super.getNextVersion(current as number | undefined)) as number;
  }

  /** Stops reporting this checkpointer in the metrics, and stops automatic retention. */
  async end(): Promise<void> {
    this.retention?.stop();
    this.detachMetrics();
  }

  private readonly createdAt = new Date().toISOString();
}
