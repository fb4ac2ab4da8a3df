import { CheckpointerDatabaseError, CheckpointerError, sqlstateOf } from "../errors.js";
import type { Logger } from "../config/observability.js";
import type { CheckpointMetrics } from "./metrics.js";
import { type Attributes, SPAN_STATUS_ERROR, type SpanLike, inSpan } from "./trace.js";

/** Identifies the checkpoint an operation touched, for logs and spans. Never payload. */
export interface OperationTarget {
  threadId?: string | undefined;
  checkpointNs?: string | undefined;
  checkpointId?: string | undefined;
}

/** The ids in a (possibly malformed) config, for logs and spans; never throws. */
export function targetOf(config: unknown): OperationTarget {
  const configurable = (config as { configurable?: Record<string, unknown> } | null | undefined)?.configurable;
  return {
    threadId: textOrUndefined(configurable?.thread_id),
    checkpointNs: textOrUndefined(configurable?.checkpoint_ns),
    checkpointId: textOrUndefined(configurable?.checkpoint_id),
  };
}

export function textOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Filled in while an operation runs; read when it ends. */
export class OperationStats {
  /** Serialized bytes before compaction. */
  rawBytes = 0;
  /** Bytes as stored (after compaction), written or read. */
  storedBytes = 0;
  /** Rows written or returned. */
  rows = 0;
  /** Database attempts (1 unless retried). */
  attempts = 0;
  /** Channel values written (put), and how many of them as deltas. */
  values = 0;
  deltas = 0;

  /** Back to nothing written or read, for an operation that starts over (attempts keep counting). */
  reset(): void {
    this.rawBytes = 0;
    this.storedBytes = 0;
    this.rows = 0;
    this.values = 0;
    this.deltas = 0;
  }
}

export interface InstrumentationSettings {
  backend: "postgres" | "memory";
  metrics: CheckpointMetrics | undefined;
  logger: Logger;
  /** Log and count operations at least this slow; false: never. */
  slowOperationMs: number | false;
  tracing: boolean;
}

/**
 * Wraps every checkpointer operation, once: duration and error metrics,
 * payload sizes, the slow-operation log line and the trace span all come
 * from here, so the SQL code carries no instrumentation.
 */
export class Instrumentation {
  private readonly labels = new Map<string, string>();

  constructor(private readonly settings: InstrumentationSettings) {}

  run<T>(operation: string, target: OperationTarget, work: (stats: OperationStats) => Promise<T>): Promise<T> {
    const label = this.label(operation);
    if (!this.settings.tracing) return this.measure(operation, label, target, work, undefined);
    return inSpan(`langgraph.checkpoint.${label}`, (span) => this.measure(operation, label, target, work, span));
  }

  retried(operation: string): void {
    this.safely(() => this.settings.metrics?.retries.inc({ operation: this.label(operation) }));
  }

  /** A statement went to the server, prepared or not. */
  statementSent(mode: "prepared" | "unprepared"): void {
    this.safely(() => this.settings.metrics?.statements.inc({ mode }));
  }

  /** Rows prune() deleted, by table. */
  pruned(counts: { checkpoints: number; writes: number; blobs: number }): void {
    this.safely(() => {
      for (const table of ["checkpoints", "writes", "blobs"] as const) {
        if (counts[table] > 0) this.settings.metrics?.prunedRows.inc({ table }, counts[table]);
      }
    });
  }

  /** An automatic retention run ended. */
  retentionRan(ok: boolean): void {
    this.safely(() => this.settings.metrics?.retentionRuns.inc({ status: ok ? "ok" : "error" }));
  }

  healthChecked(ok: boolean): void {
    this.safely(() => this.settings.metrics?.healthChecks.inc({ result: ok ? "ok" : "failed" }));
  }

  private async measure<T>(
    operation: string,
    label: string,
    target: OperationTarget,
    work: (stats: OperationStats) => Promise<T>,
    span: SpanLike | undefined,
  ): Promise<T> {
    const stats = new OperationStats();
    const started = performance.now();
    let failure: unknown;
    try {
      return await work(stats);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.safely(() => this.record(label, stats, seconds, failure));
      if (span !== undefined) this.safely(() => finishSpan(span, target, stats, failure, this.settings.backend));
      const { slowOperationMs } = this.settings;
      if (slowOperationMs !== false && seconds * 1000 >= slowOperationMs && !MAINTENANCE.has(operation)) {
        this.safely(() => this.logSlow(operation, label, target, stats, seconds));
      }
    }
  }

  /**
   * Observing must never change an operation's outcome: a checkpoint that
   * was stored is reported stored even if a logger throws or a metric of the
   * same name was registered with other labels.
   */
  private safely(observe: () => void): void {
    try {
      observe();
    } catch (error) {
      if (this.observerFailureReported) return;
      this.observerFailureReported = true;
      try {
        this.settings.logger.error("checkpoint instrumentation failed; operations are unaffected", {
          error: error instanceof Error ? error.message : String(error),
        });
      } catch {
        // The logger itself is what fails.
      }
    }
  }

  private observerFailureReported = false;

  private record(label: string, stats: OperationStats, seconds: number, failure: unknown): void {
    const { metrics, backend } = this.settings;
    if (metrics === undefined) return;
    const status = failure === undefined ? "ok" : "error";
    metrics.operationDuration.observe({ operation: label, backend, status }, seconds);
    if (failure !== undefined) metrics.operationErrors.inc({ operation: label, code: errorCode(failure) });
    if (stats.rawBytes > 0) metrics.payloadBytes.observe({ operation: label, stage: "raw" }, stats.rawBytes);
    if (stats.storedBytes > 0) metrics.payloadBytes.observe({ operation: label, stage: "stored" }, stats.storedBytes);
    if (stats.values > 0 && failure === undefined) {
      metrics.storedValues.inc({ kind: "full" }, stats.values - stats.deltas);
      if (stats.deltas > 0) metrics.storedValues.inc({ kind: "delta" }, stats.deltas);
    }
  }

  private logSlow(operation: string, label: string, target: OperationTarget, stats: OperationStats, seconds: number): void {
    this.settings.metrics?.slowOperations.inc({ operation: label });
    this.settings.logger.warn("slow checkpoint operation", {
      operation,
      thread_id: target.threadId,
      checkpoint_ns: target.checkpointNs,
      checkpoint_id: target.checkpointId,
      duration_ms: Math.round(seconds * 1e4) / 10,
      bytes: stats.storedBytes,
      raw_bytes: stats.rawBytes,
      rows: stats.rows,
      attempts: stats.attempts,
    });
  }

  /** `putWrites` → `put_writes`, the label dashboards use. */
  private label(operation: string): string {
    let label = this.labels.get(operation);
    if (label === undefined) this.labels.set(operation, (label = operation.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
    return label;
  }
}

function finishSpan(
  span: SpanLike,
  target: OperationTarget,
  stats: OperationStats,
  failure: unknown,
  backend: InstrumentationSettings["backend"],
): void {
  if (span.isRecording()) {
    const attributes: Attributes = {
      "langgraph.checkpoint.backend": backend,
      "langgraph.checkpoint.bytes": stats.storedBytes,
      "langgraph.checkpoint.raw_bytes": stats.rawBytes,
      "langgraph.checkpoint.rows": stats.rows,
      "langgraph.checkpoint.attempts": stats.attempts,
    };
    if (backend === "postgres") attributes["db.system.name"] = "postgresql";
    if (target.threadId !== undefined) attributes["langgraph.thread_id"] = target.threadId;
    if (target.checkpointNs !== undefined) attributes["langgraph.checkpoint_ns"] = target.checkpointNs;
    if (target.checkpointId !== undefined) attributes["langgraph.checkpoint_id"] = target.checkpointId;
    span.setAttributes(attributes);
    if (failure !== undefined) {
      // Our error messages name channels and ids, never values, so they are safe to export.
      const error = failure instanceof Error ? failure : new Error(String(failure));
      span.recordException({ name: error.name, message: error.message, stack: error.stack });
      span.setStatus({ code: SPAN_STATUS_ERROR, message: error.message });
    }
  }
  span.end();
}

/**
 * Operations that take seconds by nature (they walk whole threads or
 * tables): timed like the rest, but a slow one is not news, so it is not
 * logged or counted as slow. Their own results say what they did.
 */
const MAINTENANCE = new Set(["prune", "exportThread", "importThread"]);

/** The `code` label: the SQLSTATE for database errors, else our error code, else the error's class. */
export function errorCode(error: unknown): string {
  if (error instanceof CheckpointerDatabaseError) return error.sqlstate ?? error.code;
  if (error instanceof CheckpointerError) return error.code;
  return sqlstateOf(error) ?? (error instanceof Error ? error.name : "unknown");
}
