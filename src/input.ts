import type { RunnableConfig } from "@langchain/core/runnables";
import type { CheckpointListOptions } from "@langchain/langgraph-checkpoint";
import { InvalidInputError } from "./errors.js";
import { describe } from "./config/checks.js";

/**
 * Checks on what callers pass in, done before any serialization or SQL so a
 * bad call fails with a message that names the problem and writes nothing.
 */

export type Configurable = Record<string, unknown>;

export function requireConfigurable(config: unknown, operation: string): Configurable {
  if (typeof config !== "object" || config === null) {
    throw new InvalidInputError(`${operation}: config must be an object, got ${describe(config)}`);
  }
  const configurable = (config as RunnableConfig).configurable;
  if (typeof configurable !== "object" || configurable === null || Array.isArray(configurable)) {
    throw new InvalidInputError(
      `${operation}: config.configurable is missing; pass { configurable: { thread_id: "..." } }`,
    );
  }
  return configurable;
}

/** A key column value (thread id, checkpoint id, task id, channel): a non-empty string Postgres TEXT can hold. */
export function requireKey(value: unknown, field: string, operation: string): string {
  if (value === undefined || value === null) {
    throw new InvalidInputError(`${operation}: ${field} is missing`);
  }
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidInputError(`${operation}: ${field} must be a non-empty string, got ${describe(value)}`);
  }
  return assertText(value, field, operation);
}

/** `checkpoint_ns`: absent means the root namespace "". */
export function namespaceOf(configurable: Configurable, operation: string): string {
  const ns = configurable.checkpoint_ns;
  if (ns === undefined || ns === null) return "";
  if (typeof ns !== "string") {
    throw new InvalidInputError(`${operation}: checkpoint_ns must be a string, got ${describe(ns)}`);
  }
  return assertText(ns, "checkpoint_ns", operation);
}

/** An optional key: absent (undefined, null or "") gives undefined. */
export function optionalKey(value: unknown, field: string, operation: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  return requireKey(value, field, operation);
}

/** Postgres TEXT cannot hold NUL, and node-postgres turns unpaired surrogates into U+FFFD. */
function assertText(value: string, field: string, operation: string): string {
  if (value.includes("\u0000")) {
    throw new InvalidInputError(`${operation}: ${field} contains a NUL character, which Postgres text cannot store`);
  }
  if (!value.isWellFormed()) {
    throw new InvalidInputError(`${operation}: ${field} contains an unpaired UTF-16 surrogate`);
  }
  return value;
}

export function requirePlainObject(value: unknown, what: string, operation: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidInputError(`${operation}: ${what} must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Checkpoint metadata. Its top level is stored as it is (Postgres queries and
 * `list()` filters match its keys), so one shaped like LangGraph's `Send`
 * (`lg_name: "Send"`), which LangGraph's serializer would rewrite into
 * `{ node, args }` and lose, is refused instead.
 */
export function requireMetadata(value: unknown, operation: string): Record<string, unknown> {
  const metadata = requirePlainObject(value, "metadata", operation);
  if (metadata.lg_name === "Send") {
    throw new InvalidInputError(`${operation}: metadata must not have lg_name "Send" at its top level: LangGraph's serializer would rewrite it as a Send and lose the rest`);
  }
  return metadata;
}

/** `copyThread()`'s source and target: two different thread ids. */
export function copyThreadIds(source: unknown, target: unknown): [string, string] {
  const ids: [string, string] = [requireKey(source, "sourceThreadId", "copyThread"), requireKey(target, "targetThreadId", "copyThread")];
  if (ids[0] === ids[1]) throw new InvalidInputError("copyThread: the target thread must differ from the source");
  return ids;
}

/** `deleteForRuns()`'s run ids: non-empty strings, each once. */
export function requireRunIds(value: unknown, operation: string): string[] {
  if (!Array.isArray(value)) throw new InvalidInputError(`${operation}: runIds must be an array of run ids, got ${describe(value)}`);
  return [...new Set(value.map((id, i) => requireKey(id, `runIds[${i}]`, operation)))];
}

export interface ListQuery {
  threadId: string | null;
  ns: string | null;
  checkpointId: string | null;
  /** The metadata filter; null when absent or empty. */
  filter: Record<string, unknown> | null;
  before: string | null;
  /** Rows wanted in all; Infinity without a limit. */
  limit: number;
}

/** `list()`'s config and options, checked. */
export function listQuery(config: RunnableConfig, options: CheckpointListOptions | undefined): ListQuery {
  const configurable = (config?.configurable ?? {}) as Record<string, unknown>;
  const threadId = optionalKey(configurable.thread_id, "thread_id", "list");
  const ns = configurable.checkpoint_ns === undefined || configurable.checkpoint_ns === null
    ? null
    : namespaceOf(configurable, "list");
  const checkpointId = optionalKey(configurable.checkpoint_id, "checkpoint_id", "list");
  const before = optionalKey(options?.before?.configurable?.checkpoint_id, "before.checkpoint_id", "list");
  const filter = options?.filter === undefined || options.filter === null
    ? null
    : requirePlainObject(options.filter, "filter", "list");
  const limit = options?.limit;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new InvalidInputError(`list: limit must be a non-negative integer, got ${describe(limit)}`);
  }
  return {
    threadId: threadId ?? null,
    ns,
    checkpointId: checkpointId ?? null,
    filter: filter !== null && Object.keys(filter).length > 0 ? filter : null,
    before: before ?? null,
    limit: limit ?? Number.POSITIVE_INFINITY,
  };
}
