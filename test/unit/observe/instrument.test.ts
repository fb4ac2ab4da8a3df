import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { Instrumentation } from "../../../src/observe/instrument.js";
import { CheckpointMetrics } from "../../../src/observe/metrics.js";

/** A logger that records what it is told. */
function recordingLogger() {
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push([level, message, fields]);
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

describe("the slow-operation log", () => {
  it("logs a slow checkpoint operation, but not maintenance operations, which are slow by nature; all are timed", async () => {
    const registry = new Registry();
    const metrics = CheckpointMetrics.for({ registry });
    const { lines, logger } = recordingLogger();
    const instrumentation = new Instrumentation({ backend: "postgres", metrics, logger, slowOperationMs: 0, tracing: false });
    for (const operation of ["put", "prune", "exportThread", "importThread"]) {
      await instrumentation.run(operation, { threadId: "t" }, async () => undefined);
    }
    expect(lines.filter(([level]) => level === "warn").map(([, , fields]) => fields?.operation)).toEqual(["put"]);
    const slow = await registry.getSingleMetric("langgraph_checkpoint_slow_operations_total")!.get();
    expect(slow.values.map((v) => [v.labels.operation, v.value])).toEqual([["put", 1]]);
    const timed = await registry.getSingleMetric("langgraph_checkpoint_operation_duration_seconds")!.get();
    const counts = timed.values.filter((v) => (v as { metricName?: string }).metricName?.endsWith("_count"));
    expect(counts.map((v) => v.labels.operation).sort()).toEqual(["export_thread", "import_thread", "prune", "put"]);
  });

  it("counts pruned rows by table and retention runs by outcome", async () => {
    const registry = new Registry();
    const metrics = CheckpointMetrics.for({ registry });
    const { logger } = recordingLogger();
    const instrumentation = new Instrumentation({ backend: "postgres", metrics, logger, slowOperationMs: false, tracing: false });
    instrumentation.pruned({ checkpoints: 3, writes: 0, blobs: 7 });
    instrumentation.pruned({ checkpoints: 1, writes: 2, blobs: 0 });
    instrumentation.retentionRan(true);
    instrumentation.retentionRan(false);
    instrumentation.retentionRan(true);
    const pruned = await registry.getSingleMetric("langgraph_checkpoint_pruned_rows_total")!.get();
    expect(Object.fromEntries(pruned.values.map((v) => [v.labels.table, v.value]))).toEqual({ checkpoints: 4, writes: 2, blobs: 7 });
    const runs = await registry.getSingleMetric("langgraph_checkpoint_retention_runs_total")!.get();
    expect(Object.fromEntries(runs.values.map((v) => [v.labels.status, v.value]))).toEqual({ ok: 2, error: 1 });
  });
});
