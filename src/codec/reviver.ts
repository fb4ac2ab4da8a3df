import { load } from "@langchain/core/load";
import { DeltaSnapshot } from "@langchain/langgraph-checkpoint";
import { SerializationError } from "../errors.js";
import { define, fromEntries, wrapped } from "./plain-data.js";

/**
 * Turns parsed JSON from `JsonPlusSerializer` (or this package's serializer)
 * back into values. It revives what LangGraph's reviver revives, with these
 * differences, which keep plain data plain:
 *
 * - a stored wrapper (plain-data.ts) gives back the plain object it holds;
 * - a LangChain object is revived only when its class path is allowed
 *   (`allow`) and names a class the way LangChain writes one (lower-case
 *   module segments, then a capitalised class name: nothing that resolves
 *   through a prototype or to a function that is not a class); any other
 *   `{lc: 1, type: "constructor"}` object stays plain data;
 * - what `Serializable.toJSON()` escaped inside a LangChain object
 *   (`{"__lc_escaped__": ...}`) reaches @langchain/core's `load()` as it was
 *   stored, so `load()` returns it as the plain data it is (LangGraph's
 *   reviver revives inside it first, so a tool call whose arguments look like
 *   a message came back as a message, or made the checkpoint unreadable);
 *   and so does any object with a "__proto__" key, which `load()` would
 *   otherwise assign as a prototype.
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

/**
 * @param plainRoot the value itself is plain data whatever its keys (metadata,
 *   whose top level is never wrapped); only what it holds is revived
 */
export async function revive(json: unknown, settings: ReviveSettings, plainRoot = false): Promise<unknown> {
  const objects: Array<Record<string, unknown>> = [];
  let found: boolean;
  try {
    // Most values hold nothing to revive: they come back as parsed, without a copy.
    found = findRevivals(json, settings, objects, plainRoot);
  } catch (error) {
    throw tooDeep(error);
  }
  if (!found) return json;
  // Started only once the walk is done: a walk that fails leaves no load() running unobserved.
  const loaded = await Promise.all(objects.map((node) => reviveLangChain(node, settings)));
  const revived = new Map<object, unknown>(objects.map((node, i) => [node, loaded[i]]));
  try {
    return rebuild(json, revived, plainRoot);
  } catch (error) {
    throw tooDeep(error);
  }
}

function tooDeep(error: unknown): unknown {
  return error instanceof RangeError ? new SerializationError("a stored value is nested too deeply to be read") : error;
}

/**
 * Collects every allowed LangChain object in `node` (into `objects`);
 * returns whether anything in it needs reviving or unwrapping at all.
 */
function findRevivals(node: unknown, settings: ReviveSettings, objects: Array<Record<string, unknown>>, plainRoot = false): boolean {
  if (node === null || typeof node !== "object") return false;
  let found = false;
  if (Array.isArray(node)) {
    for (const item of node) found = findRevivals(item, settings, objects) || found;
    return found;
  }
  const record = node as Record<string, unknown>;
  const entries = plainRoot ? undefined : wrapped(record);
  if (entries !== undefined) {
    for (const entry of entries) findRevivals(entry[1], settings, objects);
    return true;
  }
  if (!plainRoot && isConstructor(record) && mayRevive(record.id as unknown[], settings.allow)) {
    objects.push(record);
    return true;
  }
  for (const key in record) found = findRevivals(record[key], settings, objects) || found;
  return found || (!plainRoot && record.lc === 2);
}

/** `node` with revived objects in place and wrappers unwrapped (parsed JSON is ours: changed in place). */
function rebuild(node: unknown, revived: Map<object, unknown>, plainRoot = false): unknown {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i += 1) node[i] = rebuild(node[i], revived);
    return node;
  }
  if (revived.has(node)) return revived.get(node);
  const record = node as Record<string, unknown>;
  const entries = plainRoot ? undefined : wrapped(record);
  if (entries !== undefined) return fromEntries(entries.map(([key, value]) => [key, rebuild(value, revived)] as const));
  // An own "__proto__" data property (JSON.parse makes one) is assigned as a property, not the prototype.
  for (const key in record) record[key] = rebuild(record[key], revived);
  return plainRoot ? record : reviveLangGraphRecord(record);
}

async function reviveLangChain(node: Record<string, unknown>, settings: ReviveSettings): Promise<unknown> {
  let instance: unknown;
  try {
    instance = await load(JSON.stringify(forLoad(node, settings.allow, false)));
  } catch (error) {
    return unrevivable(node, settings, reasonOf(error));
  }
  // load() builds whatever its import map resolves; only a LangChain object is one.
  if (instance === null || typeof instance !== "object" || !("lc_serializable" in instance)) {
    return unrevivable(node, settings, "its class path does not name a LangChain class");
  }
  return instance;
}

function unrevivable(node: Record<string, unknown>, settings: ReviveSettings, why: string): unknown {
  if (settings.unrevivable === "plain") return plainData(node);
  // @langchain/core's messages quote the stored object: only a reason of ours is kept.
  throw new UnrevivableError(`a stored LangChain object cannot be revived: ${why}`);
}

/**
 * A copy of `node` as `load()` should see it, LangGraph's own records
 * revived as LangGraph's reviver does before it calls `load()`. Inside an
 * escape (`raw`), `load()` returns the data as it is; elsewhere it revives
 * LangChain objects, so one that may not be revived is escaped here, as is
 * an object with a "__proto__" key.
 */
function forLoad(node: unknown, allow: ReviveSettings["allow"], raw: boolean): unknown {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) return node.map((item) => forLoad(item, allow, raw));
  const record = node as Record<string, unknown>;
  if (!raw) {
    if (isCoreEscape(record)) return { [CORE_ESCAPE_KEY]: escapedContent(record[CORE_ESCAPE_KEY], allow) };
    if ((isConstructor(record) && !mayRevive(record.id as unknown[], allow)) || Object.hasOwn(record, "__proto__")) {
      return { [CORE_ESCAPE_KEY]: escapedContent(record, allow) };
    }
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

/** A stored object as plain data: LangGraph's own records revived, wrappers unwrapped, nothing of LangChain's. */
function plainData(node: unknown): unknown {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) return node.map(plainData);
  const record = node as Record<string, unknown>;
  const entries = wrapped(record);
  if (entries !== undefined) return fromEntries(entries.map(([key, value]) => [key, plainData(value)] as const));
  return reviveLangGraphRecord(copyWith(record, plainData));
}

function copyWith(record: Record<string, unknown>, map: (item: unknown) => unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in record) define(copy, key, map(record[key]));
  return copy;
}

function isConstructor(record: Record<string, unknown>): boolean {
  return record.lc === 1 && record.type === "constructor" && Array.isArray(record.id);
}

function isCoreEscape(record: Record<string, unknown>): boolean {
  return Object.hasOwn(record, CORE_ESCAPE_KEY) && Object.keys(record).length === 1;
}

/** Lower-case module segments, as LangChain's class paths have. */
const MODULE_SEGMENT = /^[a-z][a-z0-9_]*$/;
/** A class name: capitalised, so never a function export, `constructor` or `__proto__`. */
const CLASS_NAME = /^[A-Z][A-Za-z0-9_]*$/;

/**
 * Whether a stored class path may reach `load()`: it starts with an allowed
 * prefix, and has the shape of a LangChain class path. `load()` finds the
 * module by dropping trailing segments until one matches, then takes the last
 * segment from it by name: without the shape check,
 * `["langchain_core", "messages", "HumanMessage", "AIMessage"]` would pass an
 * allow-list of `HumanMessage` and build an `AIMessage`, and a last segment
 * such as "constructor" would reach `Object` through the prototype chain.
 */
export function mayRevive(id: readonly unknown[], allow: ReviveSettings["allow"]): boolean {
  if (id.length < 3 || !id.every((segment) => typeof segment === "string")) return false;
  const path = id as readonly string[];
  if (!MODULE_SEGMENT.test(path[0]!) || !CLASS_NAME.test(path.at(-1)!)) return false;
  if (!path.slice(1, -1).every((segment) => MODULE_SEGMENT.test(segment))) return false;
  return allow.some((prefix) => prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment));
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (message.startsWith("Missing secret")) return "it refers to a secret, and secrets are never read from stored data";
  if (message.includes("doesn't implement serialization")) return "it is the placeholder of an object that could not be serialized";
  if (/^(Invalid namespace|Invalid identi|Missing key)/.test(message)) return "@langchain/core has no class at its class path";
  if (message.startsWith("Maximum recursion depth") || error instanceof RangeError) return "it is nested more deeply than @langchain/core loads";
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
