import type { GetOperation, ListNamespacesOperation, PutOperation, SearchOperation } from "@langchain/langgraph-checkpoint";
import { describe } from "../config/checks.js";
import type { ResolvedStoreOptions } from "../config/store.js";
import { InvalidInputError } from "../errors.js";
import {
  type StoreTables,
  hybridSearchStatement,
  listNamespacesPlainStatement,
  listNamespacesStatement,
  searchStatement,
  vectorSearchStatement,
} from "../sql/store.js";
import { filterConditions } from "./filter.js";
import { itemKey, itemValue, matchLabels, namespacePath, pageNumber, ttlMinutes } from "./input.js";

/** What one operation of a batch becomes: checked input, or a statement with its parameters. */
export type Prepared =
  | { kind: "get"; path: string; key: string }
  | { kind: "put"; path: string; key: string; value: string | null; ttl: number | null; fields: readonly string[] | undefined; original: unknown }
  | { kind: "search"; text: string; values: unknown[]; refresh: boolean; embedQuery: boolean }
  | { kind: "list"; text: string; values: unknown[] };


/**
 * Each operation of a batch checked and turned into what the batch sends,
 * before anything is: one bad operation refuses the whole batch.
 */
export function prepareOperation(op: unknown, i: number, options: ResolvedStoreOptions, tables: StoreTables): Prepared {
  const operation = "store.batch";
  if (typeof op !== "object" || op === null) throw new InvalidInputError(`${operation}: operations[${i}] must be an operation object, got ${describe(op)}`);
  if ("namespacePrefix" in op) {
    const { namespacePrefix, filter, limit, offset, query, refreshTtl, mode, similarityThreshold } = op as SearchOperation & {
      query?: unknown; refreshTtl?: unknown; mode?: unknown; similarityThreshold?: unknown;
    };
    const refresh = refreshTtl === true || (refreshTtl === undefined && options.ttl.refreshOnRead);
    if (mode !== undefined && !["auto", "vector", "text", "hybrid"].includes(mode as string)) {
      throw new InvalidInputError(`store.search: mode must be "auto", "vector", "text" or "hybrid", got ${describe(mode)}`);
    }
    const wantsVectors = query !== undefined && query !== null && query !== "" && mode !== "text";
    if ((mode === "vector" || mode === "hybrid") && options.index === undefined) {
      throw new InvalidInputError(`store.search: mode ${JSON.stringify(mode)} needs the store's index`);
    }
    if (wantsVectors && options.index !== undefined) {
      if (similarityThreshold !== undefined && (typeof similarityThreshold !== "number" || !Number.isFinite(similarityThreshold))) {
        throw new InvalidInputError(`store.search: similarityThreshold must be a number, got ${describe(similarityThreshold)}`);
      }
      const values: unknown[] = [
        pathLabels(namespacePrefix, "store.search").join(":"),
        checkedQuery(query),
        similarityThreshold ?? null,
        pageNumber(limit, 10, "limit", "store.search", 0),
        pageNumber(offset, 0, "offset", "store.search", 0),
      ];
      if (mode === "hybrid") {
        const { vectorWeight = 0.7 } = op as { vectorWeight?: unknown };
        if (typeof vectorWeight !== "number" || !(vectorWeight >= 0 && vectorWeight <= 1)) {
          throw new InvalidInputError(`store.search: vectorWeight must be a number from 0 to 1, got ${describe(vectorWeight)}`);
        }
        values.push(vectorWeight, query, options.textSearchLanguage);
        const conditions = filterConditions(filter, values, "store.search", "s.value");
        return { kind: "search", text: hybridSearchStatement(tables, conditions, options.index.distanceMetric), values, refresh, embedQuery: true };
      }
      const conditions = filterConditions(filter, values, "store.search", "s.value");
      return { kind: "search", text: vectorSearchStatement(tables, conditions, options.index.distanceMetric), values, refresh, embedQuery: true };
    }
    const values: unknown[] = [
      pathLabels(namespacePrefix, "store.search").join(":"),
      query === undefined || query === null || query === "" ? null : checkedQuery(query),
      options.textSearchLanguage,
      pageNumber(limit, 10, "limit", "store.search", 0),
      pageNumber(offset, 0, "offset", "store.search", 0),
    ];
    const conditions = filterConditions(filter, values, "store.search");
    return { kind: "search", text: searchStatement(tables, conditions), values, refresh, embedQuery: false };
  }
  if ("matchConditions" in op || ("limit" in op && !("key" in op))) {
    const { matchConditions = [], maxDepth, limit, offset } = op as ListNamespacesOperation;
    if (!Array.isArray(matchConditions)) throw new InvalidInputError(`store.listNamespaces: matchConditions must be an array`);
    const prefix = matchConditions.find((c) => c?.matchType === "prefix")?.path;
    const suffix = matchConditions.find((c) => c?.matchType === "suffix")?.path;
    const labels = matchLabels(prefix, "store.listNamespaces", "prefix");
    if (suffix === undefined && maxDepth === undefined && !labels?.includes("*")) {
      return {
        kind: "list",
        text: listNamespacesPlainStatement(tables),
        values: [
          labels === null || labels.length === 0 ? null : labels.join(":"),
          pageNumber(limit, 100, "limit", "store.listNamespaces", 0),
          pageNumber(offset, 0, "offset", "store.listNamespaces", 0),
        ],
      };
    }
    return {
      kind: "list",
      text: listNamespacesStatement(tables),
      values: [
        matchLabels(prefix, "store.listNamespaces", "prefix"),
        matchLabels(suffix, "store.listNamespaces", "suffix"),
        maxDepth === undefined ? null : pageNumber(maxDepth, 0, "maxDepth", "store.listNamespaces", 1),
        pageNumber(limit, 100, "limit", "store.listNamespaces", 0),
        pageNumber(offset, 0, "offset", "store.listNamespaces", 0),
        literalLead(matchLabels(prefix, "store.listNamespaces", "prefix")),
      ],
    };
  }
  if ("value" in op) {
    // Without a vector index, index fields are ignored, as the official store does.
    const { namespace, key, value, index } = op as PutOperation;
    if (index !== undefined && index !== false && (!Array.isArray(index) || !index.every((f) => typeof f === "string" && f !== ""))) {
      throw new InvalidInputError(`store.put: index must be false or an array of field paths, got ${describe(index)}`);
    }
    const ttlGiven = (op as { options?: { ttl?: unknown } }).options?.ttl ?? (op as { ttl?: unknown }).ttl;
    const deleting = value === null;
    return {
      kind: "put",
      path: namespacePath(namespace, deleting ? "store.delete" : "store.put", "namespace", deleting),
      key: itemKey(key, deleting ? "store.delete" : "store.put"),
      value: deleting ? null : itemValue(value, "store.put", options.saver.maxPayloadBytes),
      ttl: deleting ? null : ttlMinutes(ttlGiven, "store.put") ?? options.ttl.defaultTtl ?? null,
      fields: deleting || options.index === undefined ? undefined : index === false ? [] : index ?? options.index.fields,
      original: value,
    };
  }
  if ("key" in op && "namespace" in op) {
    const { namespace, key } = op as GetOperation;
    return { kind: "get", path: namespacePath(namespace, "store.get", "namespace", true), key: itemKey(key, "store.get") };
  }
  throw new InvalidInputError(`${operation}: operations[${i}] is not a get, put, search or listNamespaces operation`);
}


/** A prefix's labels up to its first "*", joined: what every matching namespace starts with (null: nothing to narrow by). */
function literalLead(prefix: string[] | null): string | null {
  const lead = prefix?.slice(0, prefix.includes("*") ? prefix.indexOf("*") : prefix.length) ?? [];
  return lead.length === 0 ? null : lead.join(":");
}

function pathLabels(prefix: unknown, operation: string): string[] {
  namespacePath(prefix, operation, "namespacePrefix", true);
  return prefix as string[];
}

function checkedQuery(query: unknown): string {
  if (typeof query !== "string" || query.includes("\u0000") || !query.isWellFormed()) {
    throw new InvalidInputError(`store.search: query must be a string without NUL, got ${describe(query)}`);
  }
  return query;
}
