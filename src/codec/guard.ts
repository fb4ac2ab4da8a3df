import { SerializationError } from "../errors.js";
import { define, needsWrapping, wrap } from "./plain-data.js";

/**
 * One walk over a value before LangGraph's JSON serializer sees it, doing two jobs:
 *
 * - **strict**: JSON silently changes some values: a BigInt becomes an error
 *   string, a function or symbol property vanishes, NaN and Infinity become
 *   null, a cycle becomes the string "[Circular]". A checkpointer that stores
 *   such a value hands back something else on resume, with no error
 *   anywhere. The walk refuses them before anything is written, naming where
 *   the value sits.
 * - **escape**: plain objects the serializer would treat specially are
 *   replaced by their stored form (see plain-data.ts), copy on write: a value
 *   without any comes back as the very same object, and serializes to the
 *   same bytes as before.
 *
 * LangChain objects (`Serializable`: messages, prompt values) are walked
 * through their own enumerable data properties for the strict checks only:
 * their `toJSON()` escapes the plain data they hold itself. An `Error` is
 * stored as its message alone, so nothing in it is escaped. Other objects
 * with a `toJSON()` (LangGraph's `Send` and `Command`, whose `args`, `update`
 * and `resume` are application data) are walked through what it returns,
 * which is what JSON stores: the object it returns is the class's own form,
 * never escaped itself. Instances without one are stored as their own
 * enumerable properties, so those are walked, and copied with the same
 * prototype (the serializer recognises some classes, e.g. `DeltaSnapshot`).
 */
export interface WalkSettings {
  strict: boolean;
  escape: boolean;
  /**
   * Also wrap objects whose `lg_name` is "Send". Off inside what a `toJSON()`
   * returns: `Command.toJSON()` writes its `Send`s in that shape, and
   * LangGraph's serializer must rewrite those.
   */
  sendShapes?: boolean;
}

const STRICT_ONLY: WalkSettings = { strict: true, escape: false };

/** How the root of a walk is treated. */
type Root =
  /** Any value. */
  | "value"
  /** What a `toJSON()` returned: JSON.stringify does not call `toJSON()` on it again. */
  | "toJSON result"
  /** Metadata: never wrapped itself (Postgres queries and filters match its keys), only what it holds. */
  | "plain";

/**
 * `value` as it should be serialized; throws SerializationError (strict)
 * naming the path from `where`. `plainRoot`: the value itself is never
 * wrapped, only what it holds (metadata).
 */
export function prepareForJson(value: unknown, where: string, settings: WalkSettings, plainRoot = false): unknown {
  try {
    return walk(value, new Set(), true, settings, plainRoot ? "plain" : "value");
  } catch (error) {
    if (error instanceof Refusal) {
      throw new SerializationError(
        `Cannot store ${where}${error.path.join("")}: it is ${error.what}. Convert it to a JSON value before it reaches the checkpointer.`,
      );
    }
    if (error instanceof RangeError) {
      throw new SerializationError(`Cannot store ${where}: it is nested too deeply to be checked (${error.message})`);
    }
    throw error;
  }
}

/** Strict checks only (no escaping): refuses what JSON would silently change. */
export function assertFaithfullySerializable(value: unknown, where: string): void {
  prepareForJson(value, where, STRICT_ONLY);
}

/** The path is built only when something is refused: each level adds its step while the refusal passes up. */
class Refusal extends Error {
  readonly path: string[] = [];
  constructor(readonly what: string) {
    super(what);
  }
}

/** @param plain whether `value` sits in plain data (a function there is data JSON drops) */
function walk(value: unknown, ancestors: Set<object>, plain: boolean, settings: WalkSettings, root: Root = "value"): unknown {
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
  const result = walkObject(value, ancestors, settings, root);
  ancestors.delete(value);
  return result;
}

/** An object's contents walked (one frame per level with `walk`, so deep values go as deep as they can). */
function walkObject(value: object, ancestors: Set<object>, settings: WalkSettings, root: Root): unknown {
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
  if (!isPlain) {
    if (isSerializable(value)) {
      // Its toJSON() escapes what it holds; only the strict checks look inside.
      if (settings.strict) walkProperties(value, ancestors, STRICT_ONLY);
      return value;
    }
    if (root !== "toJSON result" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
      const json = (value as { toJSON(): unknown }).toJSON();
      if (json !== value) {
        // What JSON stores. Sends in it are LangGraph's own (Command.toJSON writes them so).
        const inner = settings.sendShapes === false ? settings : { ...settings, sendShapes: false };
        const prepared = walk(json, ancestors, true, inner, "toJSON result");
        return prepared === json ? value : prepared;
      }
    } else if (value instanceof Error) {
      // Stored as its message alone.
      if (settings.strict) walkProperties(value, ancestors, STRICT_ONLY);
      return value;
    }
  }
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    let prepared: unknown;
    try {
      prepared = walk(item, ancestors, isPlain, settings);
    } catch (error) {
      throw at(error, `.${key}`);
    }
    if (prepared !== item) define((copy ??= copyOf(value, proto)), key, prepared);
  }
  const object = copy ?? (value as Record<string, unknown>);
  return settings.escape && root !== "plain" && needsWrapping(object, settings.sendShapes !== false) ? wrap(object) : object;
}

/** Strict checks of `value`'s own enumerable properties (nothing is escaped there). */
function walkProperties(value: object, ancestors: Set<object>, settings: WalkSettings): void {
  for (const key of Object.keys(value)) {
    try {
      walk((value as Record<string, unknown>)[key], ancestors, false, settings);
    } catch (error) {
      throw at(error, `.${key}`);
    }
  }
}

/** A shallow copy with the same prototype; a "__proto__" key stays a key. */
function copyOf(value: object, proto: object | null): Record<string, unknown> {
  const copy = Object.create(proto) as Record<string, unknown>;
  for (const key of Object.keys(value)) define(copy, key, (value as Record<string, unknown>)[key]);
  return copy;
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
