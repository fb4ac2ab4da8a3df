/**
 * Metadata lives in a JSONB column (the official schema), and JSONB cannot
 * hold the NUL character (U+0000): the official saver strips it, changing the
 * data. Here, any string (key or value) that contains NUL is stored in a
 * reversible escaped form instead:
 *
 *   MARK + the string with NUL → MARK "0", MARK → MARK "1", and an
 *   unpaired surrogate (also refused by JSONB) → MARK "u" + its 4 hex digits
 *
 * MARK is U+FFFF, a Unicode noncharacter that text essentially never holds.
 * Every string containing MARK is escaped too, so decoding is exact for all
 * inputs. Metadata without any of these (practically all of it) is stored
 * byte-for-byte as the serializer produced it, so the official saver and
 * `metadata @>` filters see exactly what they expect. Filters are escaped the
 * same way, so they match escaped values.
 */
const MARK = "\uffff";
/** NUL, the mark itself, and unpaired UTF-16 surrogates (JSONB rejects those too). */
const SPECIAL = /[\u0000\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const NEEDS_ESCAPE = new RegExp(SPECIAL.source);

/** JSON text of serialized metadata → JSON text JSONB accepts. */
export function toStorableJson(json: string): string {
  // JSON.stringify writes unpaired surrogates as \udXXX escapes, which JSONB refuses.
  if (!hasEscapedNul(json) && !json.includes(MARK) && !/\\ud[89a-f]/i.test(json)) return json;
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
  return (
    MARK +
    s.replace(SPECIAL, (c) =>
      c === "\u0000" ? `${MARK}0` : c === MARK ? `${MARK}1` : `${MARK}u${c.charCodeAt(0).toString(16)}`,
    )
  );
}

function unescape(s: string): string {
  if (!s.startsWith(MARK)) return s;
  return s.slice(1).replace(/\uffff(0|1|u[0-9a-f]{4})/g, (_, code: string) =>
    code === "0" ? "\u0000" : code === "1" ? MARK : String.fromCharCode(Number.parseInt(code.slice(1), 16)),
  );
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
