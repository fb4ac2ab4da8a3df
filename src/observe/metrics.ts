import { Counter, Gauge, Histogram, type Registry, register as globalRegistry } from "prom-client";
import type { MetricsOptions } from "../config/observability.js";
import type { PoolStats } from "../connection/pool.js";
import type { CircuitState } from "../connection/resilience.js";

/** What a live checkpointer reports at scrape time. */
export interface MetricSource {
  readonly backend: "postgres" | "memory";
  readonly persistent: boolean;
  /** The pool's identity: savers sharing one pool count its connections once. */
  readonly pool: object | undefined;
  poolStats(): PoolStats;
  circuitState(): CircuitState;
}

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, "half-open": 1, open: 2 };

/**
 * From half a millisecond (a cached-plan write on localhost) to 30 s (the
 * default operation deadline): a checkpoint operation's whole plausible range.
 */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** 256 B to 256 MiB (the default maxPayloadBytes) in steps of 4×. */
const BYTE_BUCKETS = Array.from({ length: 11 }, (_, i) => 256 * 4 ** i);

/**
 * Live checkpointers, kept on the gauge object itself under a global symbol,
 * so that two copies of this package in one process (ESM and CJS) that share
 * a registry also share the list. Weak, so a saver nobody ends is not kept alive.
 */
const SOURCES = Symbol.for("langgraph-checkpoint-pg.metric-sources");
type WithSources = { [SOURCES]?: Set<WeakRef<MetricSource>> };

/**
 * The package's metrics in one registry. Metric objects are shared by every
 * checkpointer using that registry (and prefix): creating a second saver
 * must not fail with "metric already registered".
 */
export class CheckpointMetrics {
  readonly operationDuration: Histogram<"operation" | "backend" | "status">;
  readonly operationErrors: Counter<"operation" | "code">;
  readonly payloadBytes: Histogram<"operation" | "stage">;
  readonly storedValues: Counter<"kind">;
  readonly slowOperations: Counter<"operation">;
  readonly retries: Counter<"operation">;
  readonly statements: Counter<"mode">;
  readonly healthChecks: Counter<"result">;
  readonly fallbacks: Counter;
  readonly prunedRows: Counter<"table">;
  readonly retentionRuns: Counter<"status">;
  private readonly poolConnections: Gauge<"state">;

  private readonly durationName: string;

  private constructor(registry: Registry, prefix: string) {
    const name = (suffix: string) => `${prefix}langgraph_checkpoint_${suffix}`;
    this.durationName = name("operation_duration_seconds");
    const shared = <M>(metricName: string, create: () => M): M =>
      (registry.getSingleMetric(metricName) as M | undefined) ?? create();
    const registers = [registry];

    this.operationDuration = shared(name("operation_duration_seconds"), () => new Histogram({
      name: name("operation_duration_seconds"),
      help: "Checkpointer operation time, from the call to the result (serialization, retries and decoding included)",
      labelNames: ["operation", "backend", "status"] as const,
      buckets: DURATION_BUCKETS,
      registers,
    }));
    this.operationErrors = shared(name("operation_errors_total"), () => new Counter({
      name: name("operation_errors_total"),
      help: "Failed checkpointer operations, by SQLSTATE or error code",
      labelNames: ["operation", "code"] as const,
      registers,
    }));
    this.payloadBytes = shared(name("payload_bytes"), () => new Histogram({
      name: name("payload_bytes"),
      help: "Bytes of serialized state per operation: raw (serialized) and stored (after compaction)",
      labelNames: ["operation", "stage"] as const,
      buckets: BYTE_BUCKETS,
      registers,
    }));
    this.storedValues = shared(name("stored_values_total"), () => new Counter({
      name: name("stored_values_total"),
      help: "Channel values written by put(), by how they were stored: whole (full) or as a delta against the parent's version",
      labelNames: ["kind"] as const,
      registers,
    }));
    this.slowOperations = shared(name("slow_operations_total"), () => new Counter({
      name: name("slow_operations_total"),
      help: "Operations slower than the slow-operation threshold",
      labelNames: ["operation"] as const,
      registers,
    }));
    this.retries = shared(name("retries_total"), () => new Counter({
      name: name("retries_total"),
      help: "Attempts retried after a transient database failure",
      labelNames: ["operation"] as const,
      registers,
    }));
    this.statements = shared(name("statements_total"), () => new Counter({
      name: name("statements_total"),
      help: "Checkpoint statements sent, by mode: prepared (a plan cached on the connection) or unprepared (parsed and planned on every call)",
      labelNames: ["mode"] as const,
      registers,
    }));
    this.healthChecks = shared(name("health_checks_total"), () => new Counter({
      name: name("health_checks_total"),
      help: "SELECT 1 probes of pooled connections (checkout checks and the health monitor)",
      labelNames: ["result"] as const,
      registers,
    }));
    this.fallbacks = shared(name("fallbacks_total"), () => new Counter({
      name: name("fallbacks_total"),
      help: "Times createCheckpointer fell back to the in-memory checkpointer",
      registers,
    }));
    this.prunedRows = shared(name("pruned_rows_total"), () => new Counter({
      name: name("pruned_rows_total"),
      help: "Rows deleted by prune() and automatic retention, by table (checkpoints, writes, blobs)",
      labelNames: ["table"] as const,
      registers,
    }));
    this.retentionRuns = shared(name("retention_runs_total"), () => new Counter({
      name: name("retention_runs_total"),
      help: "Automatic retention runs, by outcome (ok, error)",
      labelNames: ["status"] as const,
      registers,
    }));
    this.poolConnections = shared(name("pool_connections"), () => new Gauge({
      name: name("pool_connections"),
      help: "Pooled database connections, read at scrape time",
      labelNames: ["state"] as const,
      registers,
      collect(this: Gauge<"state">) {
        const sum = { total: 0, idle: 0, waiting: 0 };
        const counted = new Set<object>();
        for (const source of liveSources(this)) {
          if (source.backend !== "postgres" || source.pool === undefined || counted.has(source.pool)) continue;
          counted.add(source.pool);
          const stats = source.poolStats();
          sum.total += stats.total;
          sum.idle += stats.idle;
          sum.waiting += stats.waiting;
        }
        for (const [state, value] of Object.entries(sum)) this.set({ state }, value);
      },
    }));
    const circuit = shared(name("circuit_state"), () => new Gauge({
      name: name("circuit_state"),
      help: "Circuit breaker state: 0 closed, 1 half-open, 2 open (the worst over this process's checkpointers)",
      registers,
      collect(this: Gauge) {
        let worst = 0;
        for (const source of liveSources(this)) worst = Math.max(worst, CIRCUIT_VALUE[source.circuitState()]);
        this.set(worst);
      },
    }));
    const backendInfo = shared(name("backend_info"), () => new Gauge({
      name: name("backend_info"),
      help: "1 for each backend in use; persistent=\"false\" means checkpoints live only in memory",
      labelNames: ["backend", "persistent"] as const,
      registers,
      collect(this: Gauge<"backend" | "persistent">) {
        this.reset();
        for (const source of liveSources(this)) {
          this.set({ backend: source.backend, persistent: String(source.persistent) }, 1);
        }
      },
    }));
    this.sourceGauges = [this.poolConnections, circuit, backendInfo];
    // Series that exist from the start, so an alert on their rate has something to match.
    for (const result of ["ok", "failed"]) this.healthChecks.inc({ result }, 0);
    for (const table of ["checkpoints", "writes", "blobs"]) this.prunedRows.inc({ table }, 0);
    for (const status of ["ok", "error"]) this.retentionRuns.inc({ status }, 0);
    for (const kind of ["full", "delta"]) this.storedValues.inc({ kind }, 0);
  }

  /** Still the registry's metrics (not dropped by `registry.clear()`)? */
  private isRegisteredIn(registry: Registry): boolean {
    return registry.getSingleMetric(this.durationName) === this.operationDuration;
  }

  private readonly sourceGauges: Gauge<string>[];

  /** The shared metrics for `options` (prom-client's global registry by default). */
  static for(options: MetricsOptions = {}): CheckpointMetrics {
    const registry = options.registry ?? globalRegistry;
    const prefix = options.prefix ?? "";
    let byPrefix = instances.get(registry);
    if (byPrefix === undefined) instances.set(registry, (byPrefix = new Map()));
    let metrics = byPrefix.get(prefix);
    if (metrics === undefined || !metrics.isRegisteredIn(registry)) {
      byPrefix.set(prefix, (metrics = new CheckpointMetrics(registry, prefix)));
    }
    return metrics;
  }

  /** Report `source` in the scrape-time gauges until the returned function is called. */
  attach(source: MetricSource): () => void {
    const ref = new WeakRef(source);
    const sets = this.sourceGauges.map((gauge) => ((gauge as WithSources)[SOURCES] ??= new Set()));
    for (const set of sets) {
      // Forget checkpointers collected without end(), even if nothing ever scrapes.
      for (const old of set) if (old.deref() === undefined) set.delete(old);
      set.add(ref);
    }
    return () => {
      for (const set of sets) set.delete(ref);
    };
  }
}

const instances = new WeakMap<Registry, Map<string, CheckpointMetrics>>();

function* liveSources(gauge: object): Generator<MetricSource> {
  const set = (gauge as WithSources)[SOURCES];
  if (set === undefined) return;
  for (const ref of set) {
    const source = ref.deref();
    if (source === undefined) set.delete(ref);
    else yield source;
  }
}
