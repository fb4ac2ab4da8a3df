import { load } from "@langchain/core/load";
import { DeltaSnapshot } from "@langchain/langgraph-checkpoint";
import { SerializationError } from "../errors.js";
import { restoreLc, wrapped } from "./plain-data.js";

/**
 * Turns parsed JSON from `JsonPlusSerializer` (or this package's serializer)
 * back into values. It revives what LangGraph's reviver revives, with three
 * differences that keep plain data plain:
 *
 * - a stored wrapper (plain-data.ts) gives back the plain object it holds;
 * - a LangChain object is revived only when its class path is allowed
 *   (`allow`); any other `{lc: 1, type: "constructor"}` stays plain data;
 * - what `Serializable.toJSON()` escaped inside a LangChain object
 *   (`{"__lc_escaped__": ...}`) reaches @langchain/core's `load()` as it was
 *   stored, so `load()` returns it as the plain data it is (LangGraph's
 *   reviver revives inside it first, so a tool call whose arguments look like
 *   a message came back as a message, or made the checkpoint unreadable).
 *
 * An allowed object that `load()` cannot construct (a class @langchain/core
 * does not have, a secret, which is never read from stored data, a
 * placeholder for something that was not serializable) is an
 * `UnrevivableError`, or with `unrevivable: "plain"` the stored object as
 * plain data. LangGraph's own records (`{lc: 2}`: undefined, Set, Map,
 * RegExp, Error, Uint8Array, DeltaSnapshot) are revived as it does.
 */
export interface ReviveSettings {
  /** Class paths (`id` prefixes) that may be revived. */
  allow: ReadonlyArray<readonly string[]>;
  unrevivable: "throw" | "plain";
}

/** A stored LangChain object that cannot be revived. The message says why, never what it holds. */
export class UnrevivableError extends SerializationError {}

const CORE_ESCAPE_KEY = "__lc_escaped__";

export async function revive(json: unknown, settings: ReviveSettings): Promise<unknown> {
  const objects = new Map<object, Promise<unknown>>();
  // Most values hold nothing to revive: they come back as parsed, without a copy.
  if (!findRevivals(json, settings, objects)) return json;
  const revived = new Map<object, unknown>();
  await Promise.all([...objects].map(async ([node, object]) => revived.set(node, await object)));
  return rebuild(json, revived);
}

/**
 * Starts reviving every allowed LangChain object in `node` (into `objects`,
 * by the node it comes from); returns whether anything in it needs reviving
 * or unwrapping at all.
 */
function findRevivals(node: unknown, settings: ReviveSettings, objects: Map<object, Promise<unknown>>): boolean {
  if (node === null || typeof node !== "object") return false;
  let found = false;
  if (Array.isArray(node)) {
    for (const item of node) found = findRevivals(item, settings, objects) || found;
    return found;
  }
  const record = node as Record<string, unknown>;
  const content = wrapped(record);
  if (content !== undefined) {
    for (const key in content) findRevivals(content[key], settings, objects);
    return true;
  }
  if (isConstructor(record) && isAllowed(record.id as unknown[], settings.allow)) {
    objects.set(record, reviveLangChain(record, settings));
    return true;
  }
  for (const key in record) found = findRevivals(record[key], settings, objects) || found;
  return found || record.lc === 2;
}

/** `node` with revived objects in place and wrappers unwrapped (parsed JSON is ours: changed in place). */
function rebuild(node: unknown, revived: Map<object, unknown>): unknown {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i += 1) node[i] = rebuild(node[i], revived);
    return node;
  }
  if (revived.has(node)) return revived.get(node);
  const record = node as Record<string, unknown>;
  const content = wrapped(record);
  if (content !== undefined) {
    // An own "__proto__" data property (JSON.parse makes one) is assigned as a property, not the prototype.
    for (const key in content) content[key] = rebuild(content[key], revived);
    restoreLc(content);
    return content;
  }
  for (const key in record) record[key] = rebuild(record[key], revived);
  return reviveLangGraphRecord(record);
}

async function reviveLangChain(node: Record<string, unknown>, settings: ReviveSettings): Promise<unknown> {
  let text: string;
  try {
    text = JSON.stringify(forLoad(node, settings.allow, false));
  } catch {
    throw new UnrevivableError("a stored LangChain object could not be prepared for loading");
  }
  try {
    return await load(text);
  } catch (error) {
    if (settings.unrevivable === "plain") return plainData(node);
    // @langchain/core's messages quote the stored object: only a reason of ours is kept.
    throw new UnrevivableError(`a stored LangChain object cannot be revived: ${reasonOf(error)}`);
  }
}

/**
 * A copy of `node` as `load()` should see it, LangGraph's own records
 * revived as LangGraph's reviver does before it calls `load()`. Inside an
 * escape (`raw`), `load()` returns the data as it is; elsewhere it revives
 * LangChain objects, so one whose class is not allowed is escaped here.
 */
function forLoad(node: unknown, allow: ReviveSettings["allow"], raw: boolean): unknown {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) return node.map((item) => forLoad(item, allow, raw));
  const record = node as Record<string, unknown>;
  if (!raw && isCoreEscape(record)) return { [CORE_ESCAPE_KEY]: escapedContent(record[CORE_ESCAPE_KEY], allow) };
  if (!raw && isConstructor(record) && !isAllowed(record.id as unknown[], allow)) {
    return { [CORE_ESCAPE_KEY]: escapedContent(record, allow) };
  }
  return reviveLangGraphRecord(copyWith(record, (item) => forLoad(item, allow, raw)));
}

/**
 * What an escape holds: application data (that is why it is escaped), so
 * the object itself is never a record; LangGraph's serializer may have put
 * its records (undefined, Set, ...) inside it.
 */
function escapedContent(node: unknown, allow: ReviveSettings["allow"]): unknown {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return forLoad(node, allow, true);
  return copyWith(node as Record<string, unknown>, (item) => forLoad(item, allow, true));
}

function copyWith(record: Record<string, unknown>, map: (item: unknown) => unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in record) define(copy, key, map(record[key]));
  return copy;
}

/** A stored object as plain data: LangGraph's own records revived, wrappers unwrapped, nothing of LangChain's. */
function plainData(node: unknown): unknown {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) return node.map(plainData);
  const record = node as Record<string, unknown>;
  const content = wrapped(record);
  const copy = copyWith(content ?? record, plainData);
  if (content !== undefined) {
    restoreLc(copy);
    return copy;
  }
  return reviveLangGraphRecord(copy);
}

function define(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

function isConstructor(record: Record<string, unknown>): boolean {
  return record.lc === 1 && record.type === "constructor" && Array.isArray(record.id);
}

function isCoreEscape(record: Record<string, unknown>): boolean {
  return Object.hasOwn(record, CORE_ESCAPE_KEY) && Object.keys(record).length === 1;
}

/** Whether a class path starts with one of the allowed prefixes. */
export function isAllowed(id: readonly unknown[], allow: ReviveSettings["allow"]): boolean {
  return allow.some((prefix) => prefix.length <= id.length && prefix.every((segment, i) => id[i] === segment));
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (message.startsWith("Missing secret")) return "it refers to a secret, and secrets are never read from stored data";
  if (message.includes("doesn't implement serialization")) return "it is the placeholder of an object that could not be serialized";
  if (/^(Invalid namespace|Invalid identi|Missing key)/.test(message)) return "@langchain/core has no class at its class path";
  if (message.startsWith("Maximum recursion depth")) return "it is nested more deeply than @langchain/core loads";
  return `its constructor failed (${error instanceof Error ? error.name : typeof error})`;
}

/** LangGraph's own records (`{lc: 2}`), revived as its `JsonPlusSerializer` does; anything else as it is. */
function reviveLangGraphRecord(record: Record<string, unknown>): unknown {
  if (record.lc !== 2) return record;
  if (record.type === "undefined") return undefined;
  if (record.type === "delta_snapshot" && Object.hasOwn(record, "value")) return new DeltaSnapshot(record.value);
  if (record.type === "constructor") return reviveBuiltIn(record) ?? record;
  return record;
}

/** The closed set of built-ins LangGraph stores as constructor records; anything else stays inert. */
function reviveBuiltIn(record: Record<string, unknown>): unknown {
  const { id, method, args } = record;
  if (!Array.isArray(id) || id.length !== 1 || !Array.isArray(args)) return undefined;
  const noMethod = method === undefined || method === null;
  const single = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : undefined;
  switch (id[0]) {
    case "Set":
      return noMethod && single ? new Set(single) : undefined;
    case "Map":
      return noMethod && single && single.every((entry) => Array.isArray(entry) && entry.length === 2)
        ? new Map(single as Array<[unknown, unknown]>)
        : undefined;
    case "RegExp":
      if (!noMethod || args.length !== 2 || typeof args[0] !== "string" || typeof args[1] !== "string") return undefined;
      try {
        return new RegExp(args[0], args[1]);
      } catch {
        return undefined;
      }
    case "Error":
      return noMethod && args.length === 1 && typeof args[0] === "string" ? new Error(args[0]) : undefined;
    case "Uint8Array":
      return (noMethod || method === "from") && single && single.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255)
        ? new Uint8Array(single as number[])
        : undefined;
    default:
      return undefined;
  }
}
