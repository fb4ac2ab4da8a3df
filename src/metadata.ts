/**
 * Metadata lives in a JSONB column (the official schema), and JSONB cannot
 * hold the NUL character (U+0000): the official saver strips it, changing the
 * data. Here, any string (key or value) that contains NUL is stored in a
 * reversible escaped form instead:
 *
 *   MARK + the string with NUL → MARK "0" and MARK → MARK "1"
 *
 * MARK is U+FFFF, a Unicode noncharacter that text essentially never holds.
 * Every string containing MARK is escaped too, so decoding is exact for all
 * inputs. Metadata without NUL or MARK (practically all of it) is stored
 * byte-for-byte as the serializer produced it, so the official saver and
 * `metadata @>` filters see exactly what they expect. Filters are escaped the
 * same way, so they match escaped values.
 */
const MARK = "\uffff";
const NEEDS_ESCAPE = /[\u0000\uffff]/;

/** JSON text of serialized metadata → JSON text JSONB accepts. */
export function toStorableJson(json: string): string {
  if (!hasEscapedNul(json) && !json.includes(MARK)) return json;
  return JSON.stringify(mapStrings(JSON.parse(json), escape));
}

/** JSON text read from JSONB → the JSON text originally serialized. */
export function fromStoredJson(json: string): string {
  if (!json.includes(MARK)) return json;
  return JSON.stringify(mapStrings(JSON.parse(json), unescape));
}

/** A `list()` metadata filter → the JSON text to compare with `@>`. */
export function filterToStorableJson(filter: Record<string, unknown>): string {
  return JSON.stringify(mapStrings(filter, escape));
}

function escape(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return MARK + s.replace(/[\u0000\uffff]/g, (c) => (c === "\u0000" ? `${MARK}0` : `${MARK}1`));
}

function unescape(s: string): string {
  if (!s.startsWith(MARK)) return s;
  return s.slice(1).replace(/\uffff([01])/g, (_, d: string) => (d === "0" ? "\u0000" : MARK));
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === "string") return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === "object") {
    // Null prototype: a "__proto__" key stays an ordinary key instead of setting the prototype.
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(value)) out[f(k)] = mapStrings(v, f);
    return out;
  }
  return value;
}

/** Whether JSON text contains an escaped NUL (`\u0000` not preceded by an escaping backslash). */
export function hasEscapedNul(json: string): boolean {
  return /(?<!\\)(?:\\\\)*\\u0000/.test(json);
}
