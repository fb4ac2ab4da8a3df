export { PostgresSaver } from "./saver.js";
export { MemoryCheckpointer } from "./memory.js";
export type { MemoryCheckpointerOptions } from "./memory.js";
export type { PruneCounts, PruneOptions, PruneProgress, PruneResult, PruneStrategy, RetentionOptions } from "./config/retention.js";
export type { CopyResult } from "./transfer/postgres.js";
export { EXPORT_FORMAT, EXPORT_VERSION } from "./transfer/document.js";
export type { ExportedBlob, ExportedCheckpoint, ExportedWrite, ImportResult, ThreadExport } from "./transfer/document.js";
export { createCheckpointer } from "./factory.js";
export { createStore } from "./store/factory.js";
export type { StoreFactoryOptions } from "./store/factory.js";
export type { Checkpointer } from "./factory.js";
export type { FactoryOptions } from "./config/factory.js";
export { closeOnSignals } from "./connection/shutdown.js";
export { metricsHandler } from "./observe/http.js";
export type { MetricsRequest, MetricsResponse } from "./observe/http.js";
export type { CodecName, CompactionOptions } from "./config/payload.js";
export { SafeJsonPlusSerializer } from "./codec/serializer.js";
export { UnrevivableError } from "./codec/reviver.js";
export type { ReviveOptions } from "./config/revive.js";
export type { Logger, MetricsOptions, ObservabilityOptions } from "./config/observability.js";
export type { CloseOnSignalsOptions, ShutdownSignal } from "./connection/shutdown.js";
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
  ThreadExistsError,
  ThreadNotFoundError,
} from "./errors.js";
export type { CheckpointerErrorCode, StoredLocation } from "./errors.js";
export type { HealthReport } from "./connection/health.js";
export type { LastError } from "./connection/executor.js";
export type {
  CircuitBreakerOptions,
  HealthMonitorOptions,
  PoolOptions,
  PostgresSaverOptions,
  PreparedStatementsMode,
  RetryOptions,
} from "./config/options.js";
export type { PgPool, PgPoolClient, PoolStats } from "./connection/pool.js";
export type { CircuitState } from "./connection/resilience.js";
export { LATEST_VERSION as SCHEMA_VERSION } from "./schema/migrations.js";
