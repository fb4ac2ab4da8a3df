import { SerializationError } from "../errors.js";

/**
 * LangGraph's default `JsonPlusSerializer` is JSON underneath, and JSON
 * silently changes some values: a BigInt becomes an error string, a function
 * or symbol property vanishes, NaN and Infinity become null, a cycle becomes
 * the string "[Circular]". A checkpointer that stores such a value hands back
 * something else on resume, with no error anywhere. This walk refuses them
 * before anything is written, naming where the value sits.
 *
 * Instances with their own `toJSON` (LangChain messages, Dates) are walked
 * through their own enumerable data properties: their methods are not data,
 * so only BigInt, symbols, non-finite numbers and cycles count there.
 */
export function assertFaithfullySerializable(value: unknown, where: string): void {
  walk(value, where, new Set(), true);
}

function walk(value: unknown, path: string, ancestors: Set<object>, plain: boolean): void {
  switch (typeof value) {
    case "bigint":
      return refuse(path, "a BigInt, which JSON cannot represent (it would come back as an error string)");
    case "symbol":
      return refuse(path, "a symbol, which JSON drops");
    case "function":
      if (plain) refuse(path, "a function, which JSON drops");
      return;
    case "number":
      if (!Number.isFinite(value)) refuse(path, `${value}, which JSON turns into null`);
      return;
    case "object":
      break;
    default:
      return;
  }
  if (value === null || ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return;
  if (ancestors.has(value)) return refuse(path, "a circular reference, which JSON cannot represent");
  ancestors.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, `${path}[${i}]`, ancestors, true));
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      walk(k, `${path}<map key>`, ancestors, true);
      walk(v, `${path}.get(${JSON.stringify(String(k))})`, ancestors, true);
    }
  } else if (value instanceof Set) {
    let i = 0;
    for (const item of value) walk(item, `${path}<set item ${i++}>`, ancestors, true);
  } else {
    const isPlain = isPlainObject(value);
    for (const key of Object.keys(value)) {
      walk((value as Record<string, unknown>)[key], `${path}.${key}`, ancestors, isPlain);
    }
  }
  ancestors.delete(value);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function refuse(path: string, what: string): never {
  throw new SerializationError(`Cannot store ${path}: it is ${what}. Convert it to a JSON value before it reaches the checkpointer.`);
}
