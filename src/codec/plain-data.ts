/**
 * How plain data that looks like a serialized LangChain object is stored.
 *
 * LangGraph's `JsonPlusSerializer` writes LangChain objects as
 * `{"lc": 1, "type": "constructor", "id": [...], "kwargs": {...}}` and its
 * own records (undefined, Set, Map, DeltaSnapshot, ...) as `{"lc": 2, ...}`,
 * and revives both shapes on read. A plain application object with the same
 * shape (a tool's JSON output, user input parsed into state) would come back
 * as a message, as `undefined`, or make the whole checkpoint unreadable. So a
 * plain object whose `lc` is the number 1 or 2 is stored wrapped, with `lc`
 * as a string:
 *
 *   {"lc": 1, "type": "constructor", ...}  →  {"__lc_plain__": {"lc": "1", "type": "constructor", ...}}
 *
 * and an object whose only key is the wrapper's is wrapped too, so every
 * stored wrapper means exactly one thing. The wrapped object's values are
 * escaped the same way, each on its own.
 *
 * Why this form: data without such objects (practically all of it) is stored
 * byte for byte as before; and what is stored is inert to every reviver that
 * matches `lc === 1 | 2`, LangGraph's official savers included: they read it
 * as the plain wrapper above rather than reviving it or failing.
 */
export const PLAIN_KEY = "__lc_plain__";

/** Whether a plain object must be stored wrapped. */
export function needsWrapping(object: Record<string, unknown>): boolean {
  const lc = object.lc;
  if (lc === 1 || lc === 2) return true;
  return Object.hasOwn(object, PLAIN_KEY) && isOnlyKey(object);
}

/** The stored form of a plain object that `needsWrapping` (its values already escaped). */
export function wrap(object: Record<string, unknown>): Record<string, unknown> {
  const lc = object.lc;
  // Spread defines own properties, so a "__proto__" key stays a key.
  const content = lc === 1 || lc === 2 ? { ...object, lc: String(lc) } : object;
  return { [PLAIN_KEY]: content };
}

/** The object a stored wrapper holds, or undefined when `object` is not one. */
export function wrapped(object: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!Object.hasOwn(object, PLAIN_KEY) || !isOnlyKey(object)) return undefined;
  const content = object[PLAIN_KEY];
  return content !== null && typeof content === "object" && !Array.isArray(content) ? (content as Record<string, unknown>) : undefined;
}

/** A wrapped object's `lc` as it was written (call on the copy being rebuilt). */
export function restoreLc(content: Record<string, unknown>): void {
  if (content.lc === "1" || content.lc === "2") content.lc = Number(content.lc);
}

function isOnlyKey(object: object): boolean {
  return Object.keys(object).length === 1;
}
