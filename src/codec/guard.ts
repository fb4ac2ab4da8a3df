import { SerializationError } from "../errors.js";
import { needsWrapping, wrap } from "./plain-data.js";

/**
 * One walk over a value before LangGraph's JSON serializer sees it, doing two jobs:
 *
 * - **strict**: JSON silently changes some values: a BigInt becomes an error
 *   string, a function or symbol property vanishes, NaN and Infinity become
 *   null, a cycle becomes the string "[Circular]". A checkpointer that stores
 *   such a value hands back something else on resume, with no error
 *   anywhere. The walk refuses them before anything is written, naming where
 *   the value sits.
 * - **escape**: plain objects shaped like serialized LangChain data are
 *   replaced by their stored form (see plain-data.ts), copy on write: a value
 *   without any comes back as the very same object, and serializes to the
 *   same bytes as before.
 *
 * LangChain objects (`Serializable`: messages, documents) are walked through
 * their own enumerable data properties for the strict checks only: their
 * `toJSON()` escapes the plain data they hold itself. Other objects with a
 * `toJSON()` (LangGraph's `Send` and `Command`, whose `args`, `update` and
 * `resume` are application data) are walked through what it returns, which
 * is what JSON stores. Instances without one are stored as their own
 * enumerable properties, so that is what is walked (and copied, to escape).
 */
export interface WalkSettings {
  strict: boolean;
  escape: boolean;
}

const STRICT_ONLY: WalkSettings = { strict: true, escape: false };

/** `value` as it should be serialized; throws SerializationError (strict) naming the path from `where`. */
export function prepareForJson(value: unknown, where: string, settings: WalkSettings): unknown {
  try {
    return walk(value, new Set(), true, settings);
  } catch (error) {
    if (error instanceof Refusal) {
      throw new SerializationError(
        `Cannot store ${where}${error.path.join("")}: it is ${error.what}. Convert it to a JSON value before it reaches the checkpointer.`,
      );
    }
    throw error;
  }
}

/** Strict checks only (no escaping): refuses what JSON would silently change. */
export function assertFaithfullySerializable(value: unknown, where: string): void {
  prepareForJson(value, where, { strict: true, escape: false });
}

/** The path is built only when something is refused: each level adds its step while the refusal passes up. */
class Refusal extends Error {
  readonly path: string[] = [];
  constructor(readonly what: string) {
    super(what);
  }
}

function walk(value: unknown, ancestors: Set<object>, plain: boolean, settings: WalkSettings): unknown {
  switch (typeof value) {
    case "bigint":
      if (settings.strict) throw new Refusal("a BigInt, which JSON cannot represent (it would come back as an error string)");
      return value;
    case "symbol":
      if (settings.strict) throw new Refusal("a symbol, which JSON drops");
      return value;
    case "function":
      if (plain && settings.strict) throw new Refusal("a function, which JSON drops");
      return value;
    case "number":
      if (settings.strict && !Number.isFinite(value)) throw new Refusal(`${value}, which JSON turns into null`);
      return value;
    case "object":
      break;
    default:
      return value;
  }
  if (value === null || ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return value;
  if (ancestors.has(value)) {
    if (settings.strict) throw new Refusal("a circular reference, which JSON cannot represent");
    return value;
  }
  ancestors.add(value);
  const result = walkObject(value, ancestors, settings);
  ancestors.delete(value);
  return result;
}

function walkObject(value: object, ancestors: Set<object>, settings: WalkSettings): unknown {
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i += 1) {
      const item = value[i];
      let prepared: unknown;
      try {
        prepared = walk(item, ancestors, true, settings);
      } catch (error) {
        throw at(error, `[${i}]`);
      }
      if (prepared !== item) (copy ??= value.slice())[i] = prepared;
    }
    return copy ?? value;
  }
  if (value instanceof Map || value instanceof Set) return walkCollection(value, ancestors, settings);
  const proto = Object.getPrototypeOf(value);
  const isPlain = proto === Object.prototype || proto === null;
  if (!isPlain && isSerializable(value)) {
    // Its toJSON() escapes what it holds; only the strict checks look inside.
    return settings.strict ? (walkProperties(value, ancestors, false, STRICT_ONLY), value) : value;
  }
  if (!isPlain && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    const json = (value as { toJSON(): unknown }).toJSON();
    const prepared = walk(json, ancestors, true, settings);
    return prepared === json ? value : prepared;
  }
  const object = walkProperties(value, ancestors, isPlain, settings);
  return settings.escape && needsWrapping(object) ? wrap(object) : object;
}

/** `value`'s own enumerable properties walked; a plain copy when one of them changed. */
function walkProperties(value: object, ancestors: Set<object>, isPlain: boolean, settings: WalkSettings): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    let prepared: unknown;
    try {
      prepared = walk(item, ancestors, isPlain, settings);
    } catch (error) {
      throw at(error, `.${key}`);
    }
    if (prepared !== item) (copy ??= { ...value })[key] = prepared;
  }
  return copy ?? (value as Record<string, unknown>);
}

/** A Map or Set with its items walked; a new one when one of them changed. */
function walkCollection(value: Map<unknown, unknown> | Set<unknown>, ancestors: Set<object>, settings: WalkSettings): unknown {
  let changed = false;
  const prepare = (item: unknown, path: () => string) => {
    let prepared: unknown;
    try {
      prepared = walk(item, ancestors, true, settings);
    } catch (error) {
      throw at(error, path());
    }
    changed ||= prepared !== item;
    return prepared;
  };
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [prepare(k, () => "<map key>"), prepare(v, () => `.get(${JSON.stringify(String(k))})`)] as const);
    return changed ? new Map(entries) : value;
  }
  const items = [...value].map((item, i) => prepare(item, () => `<set item ${i}>`));
  return changed ? new Set(items) : value;
}

/** `error`, with `path` added in front when it is a refusal passing up. */
function at(error: unknown, path: string): unknown {
  if (error instanceof Refusal) error.path.unshift(path);
  return error;
}

/** A LangChain `Serializable` (duck-typed, as @langchain/core does): its `toJSON()` escapes what it holds. */
function isSerializable(value: object): boolean {
  return "lc_serializable" in value && typeof (value as { toJSON?: unknown }).toJSON === "function";
}
