/**
 * How plain data that looks like something LangGraph's serializer treats
 * specially is stored.
 *
 * LangGraph's `JsonPlusSerializer` writes LangChain objects as
 * `{"lc": 1, "type": "constructor", "id": [...], "kwargs": {...}}` and its
 * own records (undefined, Set, Map, DeltaSnapshot, ...) as `{"lc": 2, ...}`,
 * and revives both shapes on read; it also rewrites any object whose
 * `lg_name` is "Send" as a `Send`. A plain application object of such a
 * shape (a tool's JSON output, user input parsed into state) would come back
 * as a message, as `undefined`, without its other keys, or make the whole
 * checkpoint unreadable. So such an object is stored as its entries:
 *
 *   {"lc": 1, "type": "constructor", ...}  →  {"__lc_plain__": [{"k": "lc", "v": 1}, {"k": "type", "v": "constructor"}, ...]}
 *
 * and so is an object whose only key is the wrapper's, so that every stored
 * wrapper means exactly one thing. The entries' values are escaped the same
 * way, each on its own; a function or symbol, which JSON drops from an
 * object, is left out.
 *
 * Why this form: data without such objects (practically all of it) is stored
 * byte for byte as before; what is stored is inert to every reviver that
 * matches objects by their keys, LangGraph's official savers included (they
 * read it as the plain wrapper above rather than reviving it or failing); it
 * needs no rule of its own for any key; and JSONB containment (`list()`
 * metadata filters) keeps its meaning: each entry is an object, so a key
 * never matches a value, and a filter giving some of the entries matches.
 */
export const PLAIN_KEY = "__lc_plain__";

/** Whether a plain object must be stored as its entries (`sendShape`: also when LangGraph would rewrite it as a Send). */
export function needsWrapping(object: Record<string, unknown>, sendShape = true): boolean {
  const lc = object.lc instanceof Number ? object.lc.valueOf() : object.lc;
  if (lc === 1 || lc === 2 || (sendShape && object.lg_name === "Send")) return true;
  return Object.hasOwn(object, PLAIN_KEY) && Object.keys(object).length === 1;
}

/** The stored form of an object that `needsWrapping` (its values already escaped). */
export function wrap(object: Record<string, unknown>): Record<string, unknown> {
  const entries = Object.entries(object).filter(([, v]) => typeof v !== "function" && typeof v !== "symbol");
  return { [PLAIN_KEY]: entries.map(([k, v]) => ({ k, v })) };
}

/** The entries a stored wrapper holds, or undefined when `object` is not one. */
export function wrapped(object: Record<string, unknown>): Array<[string, unknown]> | undefined {
  if (!Object.hasOwn(object, PLAIN_KEY) || Object.keys(object).length !== 1) return undefined;
  const entries = object[PLAIN_KEY];
  if (!Array.isArray(entries)) return undefined;
  const pairs: Array<[string, unknown]> = [];
  for (const entry of entries) {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return undefined;
    const { k } = entry as { k?: unknown };
    if (typeof k !== "string" || !Object.hasOwn(entry, "v") || Object.keys(entry).length !== 2) return undefined;
    pairs.push([k, (entry as { v: unknown }).v]);
  }
  return pairs;
}

/** An object from entries; a "__proto__" key stays a key instead of setting the prototype. */
export function fromEntries(entries: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) define(object, key, value);
  return object;
}

export function define(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}
