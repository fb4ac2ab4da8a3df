import { describe } from "./checks.js";
import { InvalidOptionsError } from "../errors.js";
import { type PostgresSaverOptions, type ResolvedOptions, resolveOptions } from "./options.js";

/** 100 years, as store/input.ts's per-put limit. */
const MAX_TTL_MINUTES = 100 * 365 * 24 * 60;

/** TTL settings, as the official store's `ttl`. Minutes. */
export interface StoreTtlOptions {
  /** Items put without a `ttl` expire this many minutes after they are written. @default no expiry */
  defaultTtl?: number;
  /** Reading an item (get, search) renews its TTL (items stored without one keep none). @default false */
  refreshOnRead?: boolean;
  /** Delete expired items every this many minutes (the timer never keeps the process alive). @default off */
  sweepIntervalMinutes?: number;
}

/**
 * `PostgresStore`'s constructor config: the official store's fields, plus
 * the saver's pool, retry, breaker, observability and payload options.
 */
export interface PostgresStoreConfig
  extends Pick<
    PostgresSaverOptions,
    "schema" | "pool" | "retry" | "circuitBreaker" | "preparedStatements" | "healthCheckIdleMs" | "drainTimeoutMs" | "maxPayloadBytes" | "metrics" | "logger" | "slowOperationMs" | "tracing"
  > {
  /**
   * A connection string, or node-postgres `Pool` settings (`{ host, user,
   * password, database, max, ... }`; typed loosely so this package's types
   * need no `@types/pg`).
   */
  connectionOptions: string | Record<string, unknown>;
  /** Create or migrate the tables before the first operation (`setup()`). @default true */
  ensureTables?: boolean;
  ttl?: StoreTtlOptions;
  /**
   * Vector search (pgvector) settings of the official store. Not supported
   * by this store yet: giving it is refused, rather than searching without vectors.
   */
  index?: unknown;
  /** Postgres text search configuration for `search({ query })`. @default "english" */
  textSearchLanguage?: string;
}

export interface ResolvedStoreOptions {
  saver: ResolvedOptions;
  ensureTables: boolean;
  ttl: { defaultTtl: number | undefined; refreshOnRead: boolean; sweepIntervalMinutes: number | undefined };
  index: undefined;
  textSearchLanguage: string;
}

export function resolveStoreOptions(config: PostgresStoreConfig): ResolvedStoreOptions {
  if (typeof config !== "object" || config === null) throw new InvalidOptionsError(`PostgresStore needs a config object, got ${describe(config)}`);
  const { connectionOptions, ensureTables = true, ttl = {}, index, textSearchLanguage = "english", ...saverOptions } = config;
  if (typeof connectionOptions !== "string" && (typeof connectionOptions !== "object" || connectionOptions === null)) {
    throw new InvalidOptionsError(`connectionOptions must be a connection string or pool settings, got ${describe(connectionOptions)}`);
  }
  if (index !== undefined) {
    throw new InvalidOptionsError("index: vector search (pgvector) is not supported by this store yet; leave index out to use the store without it");
  }
  if (typeof ensureTables !== "boolean") throw new InvalidOptionsError(`ensureTables must be true or false, got ${describe(ensureTables)}`);
  if (typeof ttl !== "object" || ttl === null) throw new InvalidOptionsError(`ttl must be an object, got ${describe(ttl)}`);
  const minutes = (value: unknown, what: string): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_TTL_MINUTES) {
      throw new InvalidOptionsError(`${what} must be a positive number of minutes, got ${describe(value)}`);
    }
    return value;
  };
  if (ttl.refreshOnRead !== undefined && typeof ttl.refreshOnRead !== "boolean") {
    throw new InvalidOptionsError(`ttl.refreshOnRead must be true or false, got ${describe(ttl.refreshOnRead)}`);
  }
  if (typeof textSearchLanguage !== "string" || !/^[A-Za-z_][\w.]*$/.test(textSearchLanguage)) {
    throw new InvalidOptionsError(`textSearchLanguage must name a text search configuration, such as "english", got ${describe(textSearchLanguage)}`);
  }
  const sweepIntervalMinutes = minutes(ttl.sweepIntervalMinutes, "ttl.sweepIntervalMinutes");
  // A Node timer beyond 2^31 - 1 ms fires every millisecond instead.
  if (sweepIntervalMinutes !== undefined && sweepIntervalMinutes * 60_000 > 2 ** 31 - 1) {
    throw new InvalidOptionsError(`ttl.sweepIntervalMinutes must be at most ${Math.floor((2 ** 31 - 1) / 60_000)} (a Node timer's range), got ${sweepIntervalMinutes}`);
  }
  return {
    saver: resolveOptions(saverOptions),
    ensureTables,
    ttl: {
      defaultTtl: minutes(ttl.defaultTtl, "ttl.defaultTtl"),
      refreshOnRead: ttl.refreshOnRead ?? false,
      sweepIntervalMinutes,
    },
    index: undefined,
    textSearchLanguage,
  };
}
