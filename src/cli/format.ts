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

/** `value` as pretty JSON, with a final newline. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, jsonSafe, 2)}\n`;
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
  return text.replace(/\r?\n/g, "\\n").replace(/\t/g, " ");
}

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
