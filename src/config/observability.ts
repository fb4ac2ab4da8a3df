import type { Registry } from "prom-client";
import { InvalidOptionsError } from "../errors.js";
import { definedOnly, describe, nonNegativeInteger } from "./checks.js";

/** Where the metrics go. */
export interface MetricsOptions {
  /**
   * A prom-client `Registry`.
   * @default prom-client's global `register`
   */
  registry?: Registry;
  /**
   * Put in front of every metric name, e.g. `"myapp_"` gives
   * `myapp_langgraph_checkpoint_operation_duration_seconds`.
   * @default ""
   */
  prefix?: string;
}

/** Any object with these four methods works: console, pino, winston, bunyan. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Checkpointer settings shared by both backends (Postgres and the in-memory fallback). */
export interface ObservabilityOptions {
  /**
   * Where warnings and errors go.
   * @default console (warn and error only)
   */
  logger?: Logger;
  /**
   * Prometheus metrics (prom-client). `false` turns them off.
   * @default { registry: prom-client's global register, prefix: "" }
   */
  metrics?: MetricsOptions | false;
  /**
   * Operations taking at least this many milliseconds are logged once at
   * warn level (ids, duration, sizes, attempts; never payload) and counted.
   * `false` turns the log off.
   * @default 250
   */
  slowOperationMs?: number | false;
  /**
   * A span per operation through `@opentelemetry/api` when it is installed
   * (a no-op until an SDK is registered).
   * @default true
   */
  tracing?: boolean;
}

export const OBSERVABILITY_DEFAULTS = {
  /** Metric names exactly as documented unless a prefix is asked for; the registry defaults to prom-client's global one. */
  metrics: { prefix: "" },
  /** Slower than a typical LLM token, far slower than a healthy checkpoint write (about 1 ms). */
  slowOperationMs: 250,
} as const;

export const defaultLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => console.warn(`[langgraph-checkpoint-pg] ${message}`, fields ?? ""),
  error: (message, fields) => console.error(`[langgraph-checkpoint-pg] ${message}`, fields ?? ""),
};

export interface ResolvedObservability {
  logger: Logger;
  metrics: MetricsOptions | false;
  slowOperationMs: number | false;
  tracing: boolean;
}

/** The options both backends share, checked. */
export function resolveObservability(o: ObservabilityOptions): ResolvedObservability {
  const logger = o.logger ?? defaultLogger;
  for (const method of ["debug", "info", "warn", "error"] as const) {
    if (typeof logger?.[method] !== "function") {
      throw new InvalidOptionsError(`logger must have debug, info, warn and error methods; ${method} is ${describe(logger?.[method])}`);
    }
  }
  if (typeof (o.metrics as { getSingleMetric?: unknown } | undefined)?.getSingleMetric === "function") {
    throw new InvalidOptionsError("metrics takes { registry }, not a Registry: write metrics: { registry }");
  }
  const metrics = o.metrics === false ? false : { ...OBSERVABILITY_DEFAULTS.metrics, ...definedOnly(o.metrics) };
  if (metrics && (typeof metrics.prefix !== "string" || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(metrics.prefix))) {
    throw new InvalidOptionsError(`metrics.prefix must be a valid Prometheus name prefix, got ${JSON.stringify(metrics.prefix)}`);
  }
  if (metrics && metrics.registry !== undefined && typeof metrics.registry?.getSingleMetric !== "function") {
    throw new InvalidOptionsError(`metrics.registry must be a prom-client Registry, got ${describe(metrics.registry)}`);
  }
  const slowOperationMs = o.slowOperationMs ?? OBSERVABILITY_DEFAULTS.slowOperationMs;
  if (slowOperationMs !== false) nonNegativeInteger("slowOperationMs", slowOperationMs);
  const tracing = o.tracing ?? true;
  if (typeof tracing !== "boolean") throw new InvalidOptionsError(`tracing must be true or false, got ${describe(tracing)}`);
  return { logger, metrics, slowOperationMs, tracing };
}
