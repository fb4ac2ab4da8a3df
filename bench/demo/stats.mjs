// The summary the demo prints, computed only from the saver's own Prometheus
// metrics: prom-client getMetricsAsJSON() snapshots, one per child process,
// summed across runs (each process had its own registry). Names and labels
// are the ones documented in the README's metrics table.

const DURATION = "langgraph_checkpoint_operation_duration_seconds";
const PAYLOAD = "langgraph_checkpoint_payload_bytes";
/** Operations whose payload is written to the database (get_tuple and list record bytes read). */
const WRITES = new Set(["put", "put_writes"]);

/**
 * @returns {{ checkpointsWritten: number, errors: number, written: { raw: number, stored: number },
 *   operations: { operation: string, count: number, p50: number, p99: number }[] }}
 */
export function summarize(snapshots) {
  /** operation → { count, buckets: Map<le, cumulative count> }, all statuses, as `sum by (le, operation)`. */
  const ops = new Map();
  const summary = { checkpointsWritten: 0, errors: 0, written: { raw: 0, stored: 0 }, operations: [] };
  for (const metric of snapshots.flat()) {
    for (const { metricName, labels, value } of metric.values) {
      if (metric.name === DURATION) {
        const op = ops.get(labels.operation) ?? { count: 0, buckets: new Map() };
        ops.set(labels.operation, op);
        if (metricName === `${DURATION}_bucket`) op.buckets.set(labels.le, (op.buckets.get(labels.le) ?? 0) + value);
        if (metricName === `${DURATION}_count`) {
          op.count += value;
          if (labels.status !== "ok") summary.errors += value;
          else if (labels.operation === "put") summary.checkpointsWritten += value;
        }
      } else if (metric.name === PAYLOAD && metricName === `${PAYLOAD}_sum` && WRITES.has(labels.operation)) {
        if (labels.stage === "raw" || labels.stage === "stored") summary.written[labels.stage] += value;
      }
    }
  }
  for (const [operation, { count, buckets }] of ops) {
    if (count === 0) continue;
    const list = [...buckets].map(([le, cumulative]) => ({ le: le === "+Inf" ? Infinity : Number(le), count: cumulative }));
    summary.operations.push({ operation, count, p50: histogramQuantile(0.5, list), p99: histogramQuantile(0.99, list) });
  }
  summary.operations.sort((a, b) => b.count - a.count);
  return summary;
}

/**
 * Prometheus's histogram_quantile(): find the bucket holding the q-th
 * observation and interpolate linearly inside it (from 0 for the first
 * bucket). A quantile in the +Inf bucket is the highest finite bound.
 * `buckets` are cumulative counts, `le` in seconds, +Inf as Infinity.
 */
export function histogramQuantile(q, buckets) {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  const b = sorted.findIndex((bucket) => bucket.count >= rank);
  if (sorted[b].le === Infinity) return sorted[b - 1]?.le ?? NaN;
  const below = b > 0 ? sorted[b - 1] : { le: 0, count: 0 };
  const inBucket = sorted[b].count - below.count;
  return below.le + (sorted[b].le - below.le) * ((rank - below.count) / inBucket);
}
