import { describe } from "../config/checks.js";
import { InvalidInputError } from "../errors.js";
import { hasEscapedNul } from "../codec/metadata.js";
import { hasLoneSurrogate } from "./input.js";

/**
 * A `search` filter as SQL conditions on the item's `value`, every key and
 * operand a parameter (appended to `params`). Equality is JSON equality
 * (`value @> {"key": operand}`, which the GIN index serves), so 1 and "1"
 * differ, and `null` matches a stored null. `$gt`/`$gte`/`$lt`/`$lte`
 * compare numbers with numbers and strings with strings (code point order);
 * a stored value of another type never matches. Keys are top-level keys of
 * the value, as in the official store.
 */
export function filterConditions(filter: unknown, params: unknown[], operation: string, column = "value"): string[] {
  if (filter === undefined || filter === null) return [];
  if (typeof filter !== "object" || Array.isArray(filter)) {
    throw new InvalidInputError(`${operation}: filter must be an object, got ${describe(filter)}`);
  }
  const conditions: string[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  for (const [key, condition] of Object.entries(filter)) {
    if (key.startsWith("$")) throw new InvalidInputError(`${operation}: filter operator ${JSON.stringify(key)} is not supported at the top level; give field names, with $eq $ne $gt $gte $lt $lte $in $nin $exists under them`);
    if (key.includes("\u0000")) throw new InvalidInputError(`${operation}: a filter key contains a NUL character`);
    if (condition === undefined) throw new InvalidInputError(`${operation}: filter ${JSON.stringify(key)} is undefined; leave the key out to not filter on it`);
    if (isMixed(condition)) throw new InvalidInputError(`${operation}: filter ${JSON.stringify(key)} mixes operators ($...) with field names`);
    if (!isOperators(condition)) {
      conditions.push(`${column} @> ${param(json({ [key]: condition }, key, operation))}::jsonb`);
      continue;
    }
    for (const [op, operand] of Object.entries(condition)) {
      switch (op) {
        case "$eq":
          conditions.push(`${column} @> ${param(json({ [key]: operand }, key, operation))}::jsonb`);
          break;
        case "$ne":
          conditions.push(`NOT (${column} @> ${param(json({ [key]: operand }, key, operation))}::jsonb)`);
          break;
        case "$gt":
        case "$gte":
        case "$lt":
        case "$lte": {
          const sign = { $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" }[op];
          const k = param(key);
          if (typeof operand === "number" && Number.isFinite(operand)) {
            conditions.push(`(jsonb_typeof(${column} -> ${k}) = 'number' AND (${column} ->> ${k})::numeric ${sign} ${param(operand)}::numeric)`);
          } else if (typeof operand === "string" && !operand.includes("\u0000")) {
            conditions.push(`(jsonb_typeof(${column} -> ${k}) = 'string' AND (${column} ->> ${k}) COLLATE "C" ${sign} ${param(operand)}::text)`);
          } else {
            throw new InvalidInputError(`${operation}: filter ${JSON.stringify(key)} ${op} needs a number or a string, got ${describe(operand)}`);
          }
          break;
        }
        case "$in":
        case "$nin": {
          if (!Array.isArray(operand)) throw new InvalidInputError(`${operation}: filter ${JSON.stringify(key)} ${op} needs an array, got ${describe(operand)}`);
          const among = `coalesce((${column} -> ${param(key)}) = ANY (ARRAY(SELECT jsonb_array_elements(${param(json(operand, key, operation))}::jsonb))), false)`;
          conditions.push(op === "$in" ? among : `NOT ${among}`);
          break;
        }
        case "$exists":
          if (typeof operand !== "boolean") throw new InvalidInputError(`${operation}: filter ${JSON.stringify(key)} $exists needs true or false`);
          conditions.push(`${operand ? "" : "NOT "}(${column} ? ${param(key)})`);
          break;
        default:
          throw new InvalidInputError(`${operation}: filter ${JSON.stringify(key)} uses an unknown operator (${JSON.stringify(op)}); known: $eq $ne $gt $gte $lt $lte $in $nin $exists`);
      }
    }
  }
  return conditions;
}

/** An object with both operators and other keys: neither a condition nor a value anyone means. */
function isMixed(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.some((k) => k.startsWith("$")) && !keys.every((k) => k.startsWith("$"));
}

/** An object whose keys are all operators ($eq, ...): a condition, not a value to match. */
function isOperators(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith("$"));
}

function json(value: unknown, key: string, operation: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new InvalidInputError(`${operation}: filter ${JSON.stringify(key)} is not JSON (${(error as Error).message})`);
  }
  if (value === undefined || text === undefined || hasEscapedNul(text) || hasLoneSurrogate(text)) {
    throw new InvalidInputError(`${operation}: filter ${JSON.stringify(key)} has a value JSONB cannot hold`);
  }
  return text;
}
