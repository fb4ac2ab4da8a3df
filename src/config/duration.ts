import { InvalidInputError } from "../errors.js";
import { describe } from "./checks.js";

/**
 * Durations as operators write them: `"7d"`, `"12h"`, `"1h30m"`, `"90s"`,
 * `"500ms"`, `"2w"`, or a number of milliseconds. A bare number in a string
 * is refused: `"30"` could mean seconds or days, and pruning is not the place
 * to guess.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

/** Milliseconds in `value`; anything unparseable, zero or negative is refused with an error naming `what`. */
export function parseDuration(value: unknown, what: string): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value > 0) return value;
    throw new InvalidInputError(`${what} must be a positive duration, got ${describe(value)}`);
  }
  if (typeof value !== "string") {
    throw new InvalidInputError(`${what} must be a duration such as "7d" or "12h", got ${describe(value)}`);
  }
  const text = value.trim().toLowerCase();
  let total = 0;
  let end = 0;
  PART.lastIndex = 0;
  for (let match = PART.exec(text); match !== null; match = PART.exec(text)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    end = PART.lastIndex;
  }
  if (text.length === 0 || end !== text.length) {
    throw new InvalidInputError(
      `${what} must be a duration such as "7d", "12h", "1h30m", "90s" or "500ms" (units: ms, s, m, h, d, w), got ${JSON.stringify(value)}`,
    );
  }
  if (!(total > 0) || !Number.isFinite(total)) {
    throw new InvalidInputError(`${what} must be a positive duration, got ${JSON.stringify(value)}`);
  }
  return total;
}

/** `90061000` → `"1d1h1m1s"`: the shortest exact form, for logs and reports. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms);
  if (rest === 0) return "0ms";
  let out = "";
  for (const unit of ["w", "d", "h", "m", "s", "ms"] as const) {
    const size = UNIT_MS[unit]!;
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
