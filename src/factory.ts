import { DEFAULT_EMBEDDED_DIR, type EmbeddedServer, startEmbeddedPostgres } from "./embedded/server.js";
import { optionsFromEnv, urlFromEnv } from "./config/env.js";
import { CheckpointerError, CheckpointerUnavailableError, InvalidOptionsError } from "./errors.js";
import { MemoryCheckpointer } from "./memory.js";
import { CheckpointMetrics } from "./observe/metrics.js";
import { describe } from "./config/checks.js";
import { defaultLogger } from "./config/observability.js";
import type { FactoryOptions } from "./config/factory.js";
import { redactConnectionString } from "./config/redact.js";
import { PostgresSaver } from "./saver.js";

export type Checkpointer = PostgresSaver | MemoryCheckpointer;

/**
 * The checkpointer a deployment asks for, ready to use: for Postgres it has
 * connected, run `setup()` and `warmup()`. Falls back to memory only at
 * startup and only as `fallback` allows, and then says so at error level;
 * it never switches backends later (runtime outages go through retries and
 * the circuit breaker).
 */
export async function createCheckpointer(options: FactoryOptions = {}): Promise<Checkpointer> {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidOptionsError(`createCheckpointer options must be an object, got ${describe(options)}`);
  }
  const env = options.env ?? process.env;
  const merged = mergeOptions(optionsFromEnv(env), options);
  const logger = merged.logger ?? defaultLogger;
  const url = options.url ?? urlFromEnv(env);
  const fallback = merged.fallback ?? (env.NODE_ENV === "production" ? "throw" : "memory");
  if (fallback !== "memory" && fallback !== "throw") {
    throw new InvalidOptionsError(`fallback must be "memory" or "throw", got ${JSON.stringify(fallback)}`);
  }

  if (url === "memory") {
    logger.info("using the in-memory checkpointer: checkpoints are lost when the process exits");
    return new MemoryCheckpointer(undefined, merged.serde, merged);
  }
  if (url === undefined || url === "") {
    return fallBack(
      "no database configured (set LANGGRAPH_CHECKPOINT_URL or DATABASE_URL, or pass url)",
      fallback,
      merged,
    );
  }

  let embedded: EmbeddedServer | undefined;
  let saver: PostgresSaver | undefined;
  try {
    if (url === "embedded") {
      embedded = await startEmbeddedPostgres({ dataDir: merged.embeddedDir ?? DEFAULT_EMBEDDED_DIR, persistent: true });
      logger.info("started an embedded PostgreSQL", { dataDir: embedded.dataDir, port: embedded.port });
    }
    saver = PostgresSaver.fromConnString(embedded?.url ?? url, merged);
    if (embedded) saver.onEnd(() => embedded!.stop());
    await saver.warmup();
    return saver;
  } catch (error) {
    await saver?.end().catch(() => undefined);
    if (!saver) await embedded?.stop().catch(() => undefined);
    // Only "cannot reach it" falls back; wrong options, a failed migration or
    // bad credentials are mistakes to fix, not outages to paper over.
    if (!(error instanceof CheckpointerUnavailableError)) throw error;
    const target = redactConnectionString(embedded?.url ?? url);
    return fallBack(`could not reach ${target}: ${redactConnectionString(error.message)}`, fallback, merged, error);
  }
}

function fallBack(reason: string, fallback: "memory" | "throw", options: FactoryOptions, cause?: CheckpointerError) {
  if (fallback === "throw") {
    throw cause ?? new CheckpointerUnavailableError("createCheckpointer", reason);
  }
  // Built first: it checks the options the counter below relies on.
  const memory = new MemoryCheckpointer(reason, options.serde, options);
  if (options.metrics !== false) CheckpointMetrics.for(options.metrics).fallbacks.inc();
  (options.logger ?? defaultLogger).error(
    `FALLING BACK TO THE IN-MEMORY CHECKPOINTER: ${reason}. Checkpoints will NOT survive a restart. ` +
      'Set fallback: "throw" (or LANGGRAPH_CHECKPOINT_FALLBACK=throw) to fail instead.',
    { backend: "memory", persistent: false },
  );
  return memory;
}

/** Code options over environment options, group by group. */
function mergeOptions(fromEnv: FactoryOptions, fromCode: FactoryOptions): FactoryOptions {
  const merged: Record<string, unknown> = { ...fromEnv };
  for (const [key, value] of Object.entries(fromCode)) {
    if (value === undefined) continue;
    const base = merged[key];
    merged[key] =
      isPlainObject(base) && isPlainObject(value) && key !== "logger" && key !== "serde" && key !== "env"
        ? { ...base, ...value }
        : value;
  }
  return merged as FactoryOptions;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
