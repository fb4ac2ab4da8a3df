import { InMemoryStore } from "@langchain/langgraph-checkpoint";
import { describe } from "../config/checks.js";
import { optionsFromEnv, urlFromEnv } from "../config/env.js";
import { defaultLogger } from "../config/observability.js";
import { redactConnectionString } from "../config/redact.js";
import type { PostgresStoreConfig } from "../config/store.js";
import { CheckpointerUnavailableError, InvalidOptionsError } from "../errors.js";
import { CheckpointMetrics } from "../observe/metrics.js";
import { PostgresStore } from "./store.js";

/** `createStore()`'s options: the store's, plus where to find a database and what to do without one. */
export interface StoreFactoryOptions extends Omit<PostgresStoreConfig, "connectionOptions"> {
  /**
   * A postgres:// URL, or `"memory"` for LangGraph's `InMemoryStore`.
   * @default LANGGRAPH_CHECKPOINT_URL, else DATABASE_URL
   */
  url?: string;
  /**
   * Without a reachable database at startup: `"memory"` returns an
   * `InMemoryStore` and logs an error; `"throw"` rejects with `CheckpointerUnavailableError`.
   * @default LANGGRAPH_CHECKPOINT_FALLBACK, else "throw" when NODE_ENV is "production", else "memory"
   */
  fallback?: "memory" | "throw";
  /** Where environment variables are read from. @default process.env */
  env?: Record<string, string | undefined>;
}

/**
 * The store a deployment asks for, as `createCheckpointer()` gives the
 * checkpointer: the same environment variables and fallback policy. For
 * Postgres it has connected and run `setup()`; only a database that cannot
 * be reached at startup falls back to memory, and then loudly.
 */
export async function createStore(options: StoreFactoryOptions = {}): Promise<PostgresStore | InMemoryStore> {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidOptionsError(`createStore options must be an object, got ${describe(options)}`);
  }
  const { url: given, fallback: chosen, env: givenEnv, ...config } = options;
  const env = givenEnv ?? process.env;
  const fromEnv = optionsFromEnv(env);
  const logger = config.logger ?? defaultLogger;
  const url = given ?? urlFromEnv(env);
  const fallback = chosen ?? fromEnv.fallback ?? (env.NODE_ENV === "production" ? "throw" : "memory");
  if (fallback !== "memory" && fallback !== "throw") {
    throw new InvalidOptionsError(`fallback must be "memory" or "throw", got ${JSON.stringify(fallback)}`);
  }
  if (url === "memory") {
    logger.info("using the in-memory store: items are lost when the process exits");
    return new InMemoryStore();
  }
  if (url === "embedded") {
    throw new InvalidOptionsError('createStore: url "embedded" is createCheckpointer\'s; give the store a postgres:// URL');
  }
  const fallBack = (reason: string, cause?: CheckpointerUnavailableError) => {
    if (fallback === "throw") throw cause ?? new CheckpointerUnavailableError("createStore", reason);
    if (config.metrics !== false) CheckpointMetrics.for(config.metrics).fallbacks.inc();
    logger.error(
      `FALLING BACK TO THE IN-MEMORY STORE: ${reason}. Items will NOT survive a restart. ` +
        'Set fallback: "throw" (or LANGGRAPH_CHECKPOINT_FALLBACK=throw) to fail instead.',
      { backend: "memory", persistent: false },
    );
    return new InMemoryStore();
  };
  if (url === undefined || url === "") return fallBack("no database configured (set LANGGRAPH_CHECKPOINT_URL or DATABASE_URL, or pass url)");
  const { schema, pool, retry, circuitBreaker, preparedStatements, healthCheckIdleMs, drainTimeoutMs, maxPayloadBytes, metrics, slowOperationMs, tracing } = fromEnv;
  const envConfig = { schema, pool, retry, circuitBreaker, preparedStatements, healthCheckIdleMs, drainTimeoutMs, maxPayloadBytes, metrics, slowOperationMs, tracing };
  const defined = Object.fromEntries(Object.entries(envConfig).filter(([, v]) => v !== undefined));
  const store = new PostgresStore({ ...defined, ...config, connectionOptions: url });
  try {
    await store.setup();
    return store;
  } catch (error) {
    await store.end().catch(() => undefined);
    // Only "cannot reach it" falls back; wrong options or a failed migration are mistakes to fix.
    if (!(error instanceof CheckpointerUnavailableError)) throw error;
    return fallBack(`could not reach ${redactConnectionString(url)}: ${redactConnectionString(error.message)}`, error);
  }
}
