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
   * Vector search (pgvector), as the official store's `index`: items' text at
   * `fields` is embedded on put and `search({ query })` ranks by similarity.
   * `setup()` creates the extension, `store_vectors` and the indexes; a
   * server without pgvector is an `InvalidOptionsError` there.
   */
  index?: StoreIndexOptions;
  /** Postgres text search configuration for `search({ query })`. @default "english" */
  textSearchLanguage?: string;
}

/** An embeddings model: LangChain's `Embeddings`, or a function from texts to vectors. */
export type StoreEmbeddings =
  | ((texts: string[]) => Promise<number[][]>)
  | { embedDocuments(texts: string[]): Promise<number[][]>; embedQuery?(text: string): Promise<number[]> };

export interface StoreIndexOptions {
  /** Dimensions of the embeddings. */
  dims: number;
  embed: StoreEmbeddings;
  /** Paths of the text to embed in each value: "text", "meta.title", "tags[*]", "turns[-1].content"; "$" is the whole value. @default ["$"] */
  fields?: string[];
  /** @default "hnsw" */
  indexType?: "hnsw" | "ivfflat";
  /** @default "cosine" */
  distanceMetric?: "cosine" | "l2" | "inner_product";
  /** An index for each metric, not only `distanceMetric`'s. @default false */
  createAllMetricIndexes?: boolean;
  /** @default { m: 16, efConstruction: 200 } */
  hnsw?: { m?: number; efConstruction?: number };
  /** @default { lists: 100 } */
  ivfflat?: { lists?: number };
}

export interface ResolvedStoreIndex {
  dims: number;
  embed: StoreEmbeddings;
  fields: string[];
  indexType: "hnsw" | "ivfflat";
  distanceMetric: "cosine" | "l2" | "inner_product";
  createAllMetricIndexes: boolean;
  hnsw: { m: number; efConstruction: number };
  ivfflat: { lists: number };
}

export interface ResolvedStoreOptions {
  saver: ResolvedOptions;
  ensureTables: boolean;
  ttl: { defaultTtl: number | undefined; refreshOnRead: boolean; sweepIntervalMinutes: number | undefined };
  index: ResolvedStoreIndex | undefined;
  textSearchLanguage: string;
}

function resolveIndex(index: unknown): ResolvedStoreIndex | undefined {
  if (index === undefined) return undefined;
  if (typeof index !== "object" || index === null) throw new InvalidOptionsError(`index must be an object, got ${describe(index)}`);
  const o = index as StoreIndexOptions;
  const positive = (value: unknown, what: string, fallback: number, max = 2 ** 31 - 1): number => {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new InvalidOptionsError(`${what} must be an integer from 1 to ${max}, got ${describe(value)}`);
    }
    return value;
  };
  const dims = positive(o.dims, "index.dims", Number.NaN, 16_000);
  if (Number.isNaN(dims)) throw new InvalidOptionsError("index.dims is required: the embeddings' dimensions");
  const embed = o.embed as unknown;
  if (typeof embed !== "function" && (typeof embed !== "object" || embed === null || typeof (embed as { embedDocuments?: unknown }).embedDocuments !== "function")) {
    throw new InvalidOptionsError("index.embed must be a function from texts to vectors, or an Embeddings object with embedDocuments()");
  }
  const fields = o.fields ?? ["$"];
  if (!Array.isArray(fields) || fields.length === 0 || !fields.every((f) => typeof f === "string" && f !== "")) {
    throw new InvalidOptionsError(`index.fields must be a non-empty array of paths, got ${describe(fields)}`);
  }
  const indexType = o.indexType ?? "hnsw";
  if (indexType !== "hnsw" && indexType !== "ivfflat") throw new InvalidOptionsError(`index.indexType must be "hnsw" or "ivfflat", got ${describe(indexType)}`);
  const distanceMetric = o.distanceMetric ?? "cosine";
  if (!["cosine", "l2", "inner_product"].includes(distanceMetric)) {
    throw new InvalidOptionsError(`index.distanceMetric must be "cosine", "l2" or "inner_product", got ${describe(distanceMetric)}`);
  }
  return {
    dims,
    embed: embed as StoreEmbeddings,
    fields,
    indexType,
    distanceMetric,
    createAllMetricIndexes: o.createAllMetricIndexes === true,
    hnsw: { m: positive(o.hnsw?.m, "index.hnsw.m", 16, 100), efConstruction: positive(o.hnsw?.efConstruction, "index.hnsw.efConstruction", 200, 1000) },
    ivfflat: { lists: positive(o.ivfflat?.lists, "index.ivfflat.lists", 100, 32_768) },
  };
}

export function resolveStoreOptions(config: PostgresStoreConfig): ResolvedStoreOptions {
  if (typeof config !== "object" || config === null) throw new InvalidOptionsError(`PostgresStore needs a config object, got ${describe(config)}`);
  const { connectionOptions, ensureTables = true, ttl = {}, index, textSearchLanguage = "english", ...saverOptions } = config;
  if (typeof connectionOptions !== "string" && (typeof connectionOptions !== "object" || connectionOptions === null)) {
    throw new InvalidOptionsError(`connectionOptions must be a connection string or pool settings, got ${describe(connectionOptions)}`);
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
    index: resolveIndex(index),
    textSearchLanguage,
  };
}
