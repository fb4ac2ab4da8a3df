/**
 * Output for people: aligned plain-text tables (no colour codes, so they
 * survive `less`, logs and copy-paste), sizes in binary units. Output for
 * programs is `--json`, printed by `json()`.
 */

export type Cell = string | number;

/** Columns whose header ends with ">" are right-aligned (the marker is not printed). */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  const right = headers.map((h) => h.endsWith(">"));
  const names = headers.map((h) => (h.endsWith(">") ? h.slice(0, -1) : h));
  const cells = rows.map((row) => row.map((cell) => oneLine(String(cell))));
  const widths = names.map((name, i) => Math.max(name.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(names), ...cells.map(line)].join("\n") + "\n";
}

/**
 * `value` as pretty JSON, with a final newline. JSON.stringify escapes C0
 * controls but not DEL, C1 controls (0x9b is a terminal's CSI), line
 * separators or bidirectional overrides: those are escaped too (they occur
 * only inside strings, so the JSON parses to the same value).
 */
export function json(value: unknown): string {
  return `${JSON.stringify(value, jsonSafe, 2).replace(UNESCAPED_BY_JSON, unicodeEscape)}\n`;
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** 3.4172 → "3.42x"; null → "n/a". */
export function ratio(value: number | null): string {
  return value === null ? "n/a" : `${value.toFixed(2)}x`;
}

/** The root namespace has an empty name; tables show it as "(root)". */
export function namespace(ns: string): string {
  return ns === "" ? "(root)" : ns;
}

/** A value in one line of at most `max` characters, for a table cell. */
export function preview(value: unknown, max = 120): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : (JSON.stringify(value, jsonSafe) ?? String(value));
  } catch {
    text = String(value);
  }
  text = oneLine(text);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function oneLine(text: string): string {
  return printable(text.replace(/\r?\n/g, "\\n").replace(/\t/g, " "));
}

/**
 * Characters that act on a terminal rather than show on it (C0 and C1
 * controls such as ESC and CR, DEL, line separators, bidirectional
 * overrides) as visible escapes. Thread ids, namespaces, error messages and
 * interrupt values are chosen by an application's users or a model: printed
 * raw they could recolour, rewrite or clear an operator's terminal, or make
 * one thread id look like another.
 */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (c) => {
    const escape = CONTROL_ESCAPES[c];
    return escape ?? unicodeEscape(c);
  });
}

function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNESCAPED_BY_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** BigInts as strings rather than a TypeError; Uint8Arrays as their length. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  return value;
}

/** "1 thread", "2 threads". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
