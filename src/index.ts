export { PostgresSaver } from "./saver.js";
export { MemoryCheckpointer } from "./memory.js";
export type { MemoryCheckpointerOptions } from "./memory.js";
export type { PruneCounts, PruneOptions, PruneProgress, PruneResult, RetentionOptions } from "./retention/options.js";
export { EXPORT_FORMAT, EXPORT_VERSION } from "./transfer/document.js";
export type { ExportedBlob, ExportedCheckpoint, ExportedWrite, ImportResult, ThreadExport } from "./transfer/document.js";
export { createCheckpointer } from "./factory.js";
export type { Checkpointer, FactoryOptions } from "./factory.js";
export { closeOnSignals } from "./shutdown.js";
export { metricsHandler } from "./observe/http.js";
export type { MetricsRequest, MetricsResponse } from "./observe/http.js";
export type { MetricsOptions } from "./observe/metrics.js";
export type { CodecName, CompactionOptions } from "./compaction.js";
export type { Logger, ObservabilityOptions } from "./observe/options.js";
export type { CloseOnSignalsOptions, ShutdownSignal } from "./shutdown.js";
export {
  CheckpointerError,
  CheckpointerClosedError,
  CheckpointerDatabaseError,
  CheckpointerUnavailableError,
  InvalidInputError,
  InvalidOptionsError,
  MigrationError,
  PayloadTooLargeError,
  PoolExhaustedError,
  SerializationError,
  ThreadNotFoundError,
} from "./errors.js";
export type { CheckpointerErrorCode } from "./errors.js";
export type { HealthReport } from "./health.js";
export type { LastError } from "./executor.js";
export type {
  CircuitBreakerOptions,
  HealthMonitorOptions,
  PoolOptions,
  PostgresSaverOptions,
  RetryOptions,
} from "./options.js";
export type { PgPool, PgPoolClient, PoolStats } from "./pool.js";
export type { CircuitState } from "./resilience.js";
export { LATEST_VERSION as SCHEMA_VERSION } from "./migrations.js";
