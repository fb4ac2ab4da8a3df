import { InvalidOptionsError } from "../errors.js";
import type { FactoryOptions } from "./factory.js";

/**
 * Environment variables → factory options, so a deployment configures the
 * checkpointer without code. Options passed in code win over these.
 * Every variable is listed in the README.
 */
type Parse = (raw: string, name: string) => unknown;

const integer: Parse = (raw, name) => {
  if (!/^\d+$/.test(raw.trim())) throw new InvalidOptionsError(`${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw.trim());
};
const boolean: Parse = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new InvalidOptionsError(`${name} must be true or false, got "${raw}"`);
};
const text: Parse = (raw) => raw;
/** "false"/"off" turns a feature off; "true"/"on" leaves its defaults (and any sub-settings) in place. */
const offSwitch: Parse = (raw, name) => (boolean(raw, name) ? undefined : false);
const integerOrOff: Parse = (raw, name) =>
  ["off", "false"].includes(raw.trim().toLowerCase()) ? false : integer(raw, name);
const autoOrBoolean: Parse = (raw, name) => {
  if (raw.trim().toLowerCase() === "auto") return "auto";
  try {
    return boolean(raw, name);
  } catch {
    throw new InvalidOptionsError(`${name} must be auto, true or false, got "${raw}"`);
  }
};
/** Comma-separated; "none" for an empty list. */
const list: Parse = (raw) =>
  raw.trim().toLowerCase() === "none" ? [] : raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
const unrevivable: Parse = (raw, name) => {
  if (raw === "throw" || raw === "plain") return raw;
  throw new InvalidOptionsError(`${name} must be "throw" or "plain", got "${raw}"`);
};
const fallback: Parse = (raw, name) => {
  if (raw === "memory" || raw === "throw") return raw;
  throw new InvalidOptionsError(`${name} must be "memory" or "throw", got "${raw}"`);
};

/** [variable, option path, parser] */
export const ENVIRONMENT: ReadonlyArray<readonly [string, string, Parse]> = [
  ["LANGGRAPH_CHECKPOINT_FALLBACK", "fallback", fallback],
  ["LANGGRAPH_CHECKPOINT_SCHEMA", "schema", text],
  ["LANGGRAPH_CHECKPOINT_EMBEDDED_DIR", "embeddedDir", text],
  ["LANGGRAPH_CHECKPOINT_LIST_PAGE_SIZE", "listPageSize", integer],
  ["LANGGRAPH_CHECKPOINT_PREPARED_STATEMENTS", "preparedStatements", autoOrBoolean],
  ["LANGGRAPH_CHECKPOINT_POOL_MAX", "pool.max", integer],
  ["LANGGRAPH_CHECKPOINT_POOL_MIN", "pool.min", integer],
  ["LANGGRAPH_CHECKPOINT_POOL_IDLE_TIMEOUT_MS", "pool.idleTimeoutMillis", integer],
  ["LANGGRAPH_CHECKPOINT_CONNECT_TIMEOUT_MS", "pool.connectionTimeoutMillis", integer],
  ["LANGGRAPH_CHECKPOINT_POOL_MAX_LIFETIME_S", "pool.maxLifetimeSeconds", integer],
  ["LANGGRAPH_CHECKPOINT_KEEPALIVE", "pool.keepAlive", boolean],
  ["LANGGRAPH_CHECKPOINT_APPLICATION_NAME", "pool.applicationName", text],
  ["LANGGRAPH_CHECKPOINT_HEALTHCHECK_IDLE_MS", "healthCheckIdleMs", integer],
  ["LANGGRAPH_CHECKPOINT_RETRY_MAX_ATTEMPTS", "retry.maxAttempts", integer],
  ["LANGGRAPH_CHECKPOINT_RETRY_BASE_DELAY_MS", "retry.baseDelayMs", integer],
  ["LANGGRAPH_CHECKPOINT_RETRY_MAX_DELAY_MS", "retry.maxDelayMs", integer],
  ["LANGGRAPH_CHECKPOINT_OPERATION_TIMEOUT_MS", "retry.operationTimeoutMs", integer],
  ["LANGGRAPH_CHECKPOINT_STATEMENT_TIMEOUT_MS", "retry.statementTimeoutMs", integer],
  ["LANGGRAPH_CHECKPOINT_BREAKER_THRESHOLD", "circuitBreaker.failureThreshold", integer],
  ["LANGGRAPH_CHECKPOINT_BREAKER_COOLDOWN_MS", "circuitBreaker.cooldownMs", integer],
  ["LANGGRAPH_CHECKPOINT_DRAIN_TIMEOUT_MS", "drainTimeoutMs", integer],
  ["LANGGRAPH_CHECKPOINT_HEALTH_INTERVAL_MS", "healthMonitor.intervalMs", integer],
  ["LANGGRAPH_CHECKPOINT_HEALTH_FAILURES", "healthMonitor.failuresBeforeDown", integer],
  ["LANGGRAPH_CHECKPOINT_METRICS", "metrics", offSwitch],
  ["LANGGRAPH_CHECKPOINT_METRICS_PREFIX", "metrics.prefix", text],
  ["LANGGRAPH_CHECKPOINT_SLOW_MS", "slowOperationMs", integerOrOff],
  ["LANGGRAPH_CHECKPOINT_TRACING", "tracing", boolean],
  ["LANGGRAPH_CHECKPOINT_COMPACTION", "compaction", offSwitch],
  ["LANGGRAPH_CHECKPOINT_COMPACTION_THRESHOLD", "compaction.thresholdBytes", integer],
  ["LANGGRAPH_CHECKPOINT_COMPACTION_CODEC", "compaction.codec", text],
  ["LANGGRAPH_CHECKPOINT_COMPACTION_LEVEL", "compaction.level", integer],
  ["LANGGRAPH_CHECKPOINT_COMPACTION_DELTAS", "compaction.deltas", boolean],
  ["LANGGRAPH_CHECKPOINT_COMPACTION_MAX_DELTA_CHAIN", "compaction.maxDeltaChain", integer],
  ["LANGGRAPH_CHECKPOINT_COMPACTION_DELTA_CACHE_BYTES", "compaction.deltaCacheBytes", integer],
  ["LANGGRAPH_CHECKPOINT_MAX_PAYLOAD_BYTES", "maxPayloadBytes", integer],
  ["LANGGRAPH_CHECKPOINT_RETENTION_KEEP_LAST", "retention.keepLast", integer],
  ["LANGGRAPH_CHECKPOINT_RETENTION_OLDER_THAN", "retention.olderThan", text],
  ["LANGGRAPH_CHECKPOINT_RETENTION_EVERY", "retention.every", text],
  ["LANGGRAPH_CHECKPOINT_REVIVE_ALLOW", "revive.allow", list],
  ["LANGGRAPH_CHECKPOINT_UNREVIVABLE", "revive.unrevivable", unrevivable],
];

/** Options found in `env`; a malformed value is refused, naming the variable. */
export function optionsFromEnv(env: Record<string, string | undefined>): FactoryOptions {
  const options: Record<string, unknown> = {};
  for (const [name, path, parse] of ENVIRONMENT) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const [group, key] = path.split(".") as [string, string | undefined];
    const value = parse(raw, name);
    if (value === undefined) continue;
    if (key === undefined) options[group] = value;
    // A feature switched off stays off, whatever its sub-settings say.
    else if (options[group] !== false) options[group] = { ...(options[group] as object | undefined), [key]: value };
  }
  return options as FactoryOptions;
}

/** The database URL: LANGGRAPH_CHECKPOINT_URL, else DATABASE_URL. */
export function urlFromEnv(env: Record<string, string | undefined>): string | undefined {
  return env.LANGGRAPH_CHECKPOINT_URL || env.DATABASE_URL || undefined;
}
