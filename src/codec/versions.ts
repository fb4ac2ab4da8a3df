import { InvalidInputError } from "../errors.js";

/**
 * Next channel version: the next integer plus a random fraction.
 *
 * LangGraph numbers a step's new channel versions from the highest version
 * of the checkpoint it continues. With plain integers (the official JS
 * savers), a fork — time travel, `updateState` on an older checkpoint —
 * reuses the numbers of the branch it abandoned, and since a blob is stored
 * once per (channel, version), the fork reads the abandoned branch's values.
 * The random fraction makes every branch's versions its own, as the Python
 * saver's random suffix does. Versions stay numbers, so the official JS saver
 * can continue a thread started here (it adds 1), and they stay far from
 * exponent notation so their text is the same in JS and in Postgres JSON.
 *
 * String versions in the Python saver's format ("000…0042.<random>") are
 * continued in that format, so a thread started by the Python saver resumes.
 */
export function nextChannelVersion(current: number | string | undefined, random: () => number = Math.random): number | string {
  const fraction = (1 + Math.floor(random() * (FRACTION_SCALE - 1))) / FRACTION_SCALE;
  if (current === undefined) return 1 + fraction;
  if (typeof current === "number" && Number.isFinite(current)) return Math.floor(current) + 1 + fraction;
  if (typeof current === "string") {
    const match = /^(\d+)\./.exec(current);
    if (match) {
      const next = (BigInt(match[1]!) + 1n).toString().padStart(PYTHON_INTEGER_WIDTH, "0");
      return `${next}.${fraction.toFixed(FRACTION_DIGITS)}`;
    }
  }
  throw new InvalidInputError(`getNextVersion: cannot continue channel version ${JSON.stringify(current)}`);
}

/** 9 random digits: two branches collide with probability 1e-9 per channel and step. */
const FRACTION_DIGITS = 9;
const FRACTION_SCALE = 10 ** FRACTION_DIGITS;
/** The Python saver zero-pads the integer part to 32 digits so versions sort as text. */
const PYTHON_INTEGER_WIDTH = 32;
