import { definedOnly, describe } from "./checks.js";
import { parseDuration } from "./duration.js";
import { InvalidInputError, InvalidOptionsError } from "../errors.js";

/**
 * What `prune()` removes. At least one of `keepLast`, `olderThan` and
 * `strategy` is required.
 */
export interface PruneOptions {
  /**
   * LangGraph Python's names (`prune(thread_ids, strategy=...)`), over
   * `threadIds`: `"keep_latest"` is `keepLast: 1`; `"delete"` deletes those
   * threads whole (it needs `threadIds`). Not combined with `keepLast` or `olderThan`.
   */
  strategy?: PruneStrategy;
  /**
   * Keep the newest N checkpoints of every thread and namespace (at least 1),
   * plus the ancestors LangGraph's delta channels need to rebuild their
   * state, with their pending writes. Older checkpoints, their writes, and
   * channel values no kept checkpoint uses are deleted.
   */
  keepLast?: number;
  /**
   * Delete whole threads whose newest checkpoint is older than this: a TTL
   * for abandoned threads. A duration such as `"7d"`, `"12h"`, `"1h30m"`, or
   * milliseconds (at least 1000: a smaller number is refused as a likely
   * mistake for days or seconds).
   */
  olderThan?: string | number;
  /** Only these threads. @default every thread */
  threadIds?: readonly string[];
  /** Count what would be deleted, delete nothing. @default false */
  dryRun?: boolean;
  /**
   * Most checkpoints deleted by one statement, with their pending writes
   * (small expired threads share statements up to this many checkpoints,
   * and take their channel values along); channel values no longer named
   * go at most this many per statement. Each batch is its own short
   * transaction, so a prune of a huge table never holds locks for long and
   * graphs keep writing meanwhile.
   * @default 500
   */
  batchSize?: number;
  /**
   * Told as threads are done, e.g. to draw a progress bar (expired threads
   * deleted by one statement are told at once).
   */
  onProgress?: (progress: PruneProgress) => void;
}

export type PruneStrategy = "keep_latest" | "delete";

export interface PruneProgress {
  /** Threads looked at so far. */
  threads: number;
  /** Rows removed (or that would be) so far. */
  removed: PruneCounts;
}

export interface PruneCounts {
  checkpoints: number;
  writes: number;
  blobs: number;
}

export interface PruneResult extends PruneCounts {
  dryRun: boolean;
  /** Threads looked at. */
  threads: number;
  /** Threads deleted whole by `olderThan`. */
  threadsDeleted: number;
}

export interface RetentionOptions {
  /** As `prune({ keepLast })`. */
  keepLast?: number;
  /** As `prune({ olderThan })`. */
  olderThan?: string | number;
  /**
   * How often to prune. Each replica runs its own timer, started with a
   * random offset so replicas do not all prune at once (pruning the same
   * rows twice is harmless). The timer never keeps the process alive.
   * @default "1h"
   */
  every?: string | number;
}

export const PRUNE_DEFAULTS = {
  /**
   * 500 checkpoints (with their writes) per statement: a few milliseconds of
   * row locks each, far from blocking a graph's writes, while a table of
   * millions of rows still takes only thousands of statements.
   */
  batchSize: 500,
} as const;

/** Pruning more often than this is a mistake (each run scans the thread list). */
const MIN_EVERY_MS = 1_000;
/** setTimeout fires at once for delays beyond 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Retention's settings when it is on (it is off unless `retention` is given). */
export const RETENTION_DEFAULTS = {
  keepLast: undefined,
  olderThan: undefined,
  /** Old rows do no harm for an hour; pruning more often only costs scans. */
  every: "1h",
} as const;

export interface ResolvedPrune {
  keepLast: number | undefined;
  /** `strategy: "delete"`: `threadIds` go whole. */
  deleteThreads?: boolean;
  olderThanMs: number | undefined;
  threadIds: string[] | undefined;
  dryRun: boolean;
  batchSize: number;
  onProgress: ((progress: PruneProgress) => void) | undefined;
}

/**
 * A number for `olderThan` is milliseconds. `olderThan: 30` meant as 30 days
 * would delete every thread idle for 30 ms, so numbers that small are taken
 * for the mistake they almost certainly are. A string says its unit.
 */
const MIN_NUMERIC_OLDER_THAN_MS = 1_000;

/**
 * `prune(options)`, or LangGraph Python's `prune(threadIds, { strategy })`
 * (strategy "keep_latest" by default, as there), as one set of options.
 */
export function pruneArguments(
  first: PruneOptions | readonly string[] | undefined,
  more: Omit<PruneOptions, "threadIds"> | undefined,
): PruneOptions | undefined {
  if (!Array.isArray(first)) return first as PruneOptions | undefined;
  const chosen = more?.strategy !== undefined || more?.keepLast !== undefined || more?.olderThan !== undefined;
  return { ...(chosen ? {} : { strategy: "keep_latest" as const }), ...more, threadIds: first as readonly string[] };
}

/** `prune()`'s options, checked before anything touches the database. */
export function resolvePrune(options: PruneOptions | undefined, operation = "prune"): ResolvedPrune {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidInputError(`${operation} needs options such as { keepLast: 20 } or { olderThan: "30d" }, got ${describe(options)}`);
  }
  const { strategy, olderThan, threadIds, dryRun, batchSize, onProgress } = options;
  let keepLast = options.keepLast;
  if (strategy !== undefined) {
    if (strategy !== "keep_latest" && strategy !== "delete") {
      throw new InvalidInputError(`${operation}: strategy must be "keep_latest" or "delete", got ${describe(strategy)}`);
    }
    if (keepLast !== undefined || olderThan !== undefined) {
      throw new InvalidInputError(`${operation}: give strategy, or keepLast/olderThan, not both`);
    }
    if (strategy === "delete" && threadIds === undefined) {
      throw new InvalidInputError(`${operation}: strategy "delete" deletes whole threads, so it needs threadIds`);
    }
    if (strategy === "keep_latest") keepLast = 1;
  } else if (keepLast === undefined && olderThan === undefined) {
    throw new InvalidInputError(`${operation}: give keepLast, olderThan or both; without them there is nothing to prune`);
  }
  if (keepLast !== undefined && (!Number.isSafeInteger(keepLast) || keepLast < 1)) {
    throw new InvalidInputError(
      `${operation}: keepLast must be a positive integer (the newest checkpoint always stays), got ${describe(keepLast)}`,
    );
  }
  if (threadIds !== undefined) {
    if (!Array.isArray(threadIds)) throw new InvalidInputError(`${operation}: threadIds must be an array of thread ids, got ${describe(threadIds)}`);
    threadIds.forEach((id, i) => {
      if (typeof id !== "string" || id.length === 0 || id.includes("\u0000") || !id.isWellFormed()) {
        throw new InvalidInputError(`${operation}: threadIds[${i}] must be a non-empty string without NUL, got ${describe(id)}`);
      }
    });
  }
  if (dryRun !== undefined && typeof dryRun !== "boolean") {
    throw new InvalidInputError(`${operation}: dryRun must be true or false, got ${describe(dryRun)}`);
  }
  if (batchSize !== undefined && (!Number.isSafeInteger(batchSize) || batchSize < 1)) {
    throw new InvalidInputError(`${operation}: batchSize must be a positive integer, got ${describe(batchSize)}`);
  }
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new InvalidInputError(`${operation}: onProgress must be a function, got ${describe(onProgress)}`);
  }
  if (typeof olderThan === "number" && olderThan > 0 && olderThan < MIN_NUMERIC_OLDER_THAN_MS) {
    throw new InvalidInputError(
      `${operation}: olderThan ${olderThan} is milliseconds and would delete nearly every thread; ` +
        `write a duration with its unit, such as "30d" (a number must be at least ${MIN_NUMERIC_OLDER_THAN_MS})`,
    );
  }
  return {
    keepLast,
    deleteThreads: strategy === "delete",
    olderThanMs: olderThan === undefined ? undefined : parseDuration(olderThan, `${operation}: olderThan`),
    threadIds: threadIds === undefined ? undefined : [...new Set(threadIds)],
    dryRun: dryRun ?? false,
    batchSize: batchSize ?? PRUNE_DEFAULTS.batchSize,
    onProgress,
  };
}

export interface ResolvedRetention {
  keepLast: number | undefined;
  olderThan: string | number | undefined;
  everyMs: number;
}

/** The `retention` option: off when absent or `false`; otherwise checked like `prune()`'s options. */
export function resolveRetention(option: RetentionOptions | false | undefined): ResolvedRetention | false {
  if (option === undefined || option === false) return false;
  if (typeof option !== "object" || option === null || Array.isArray(option)) {
    throw new InvalidOptionsError(`retention must be an object such as { keepLast: 20, olderThan: "30d" } or false, got ${describe(option)}`);
  }
  const o = definedOnly(option);
  try {
    resolvePrune({ keepLast: o.keepLast, olderThan: o.olderThan }, "retention");
    const everyMs = Math.round(parseDuration(o.every ?? RETENTION_DEFAULTS.every, "retention: every"));
    if (everyMs < MIN_EVERY_MS || everyMs > MAX_TIMER_MS) {
      throw new InvalidInputError(`retention: every must be between 1s and 24d (a Node timer's range), got ${JSON.stringify(o.every)}`);
    }
    return { keepLast: o.keepLast, olderThan: o.olderThan, everyMs };
  } catch (error) {
    if (error instanceof InvalidInputError) throw new InvalidOptionsError(error.message);
    throw error;
  }
}
