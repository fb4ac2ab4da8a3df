import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../../src/config/duration.js";
import { InvalidInputError } from "../../../src/errors.js";

describe("parseDuration", () => {
  it.each([
    ["7d", 7 * 86_400_000],
    ["12h", 12 * 3_600_000],
    ["1h30m", 90 * 60_000],
    ["90s", 90_000],
    ["500ms", 500],
    ["2w", 14 * 86_400_000],
    ["1.5h", 5_400_000],
    [" 1D ", 86_400_000],
    ["1d2h3m4s5ms", 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_000 + 5],
    ["5m5s", 305_000],
    [1_000, 1_000],
    [0.5, 0.5],
  ])("%j → %d ms", (value, ms) => {
    expect(parseDuration(value, "olderThan")).toBe(ms);
  });

  it.each([
    ["30"], ["soon"], [""], ["  "], ["0d"], ["0ms"], ["-5m"], ["5"], ["d"], ["1x"], ["1h 30m"], ["1e3ms"], [".5h"], ["5."],
    ["7d and a bit"], [0], [-1], [Number.NaN], [Number.POSITIVE_INFINITY], [null], [undefined], [{ days: 7 }], [["7d"]], [true],
  ])("%j is refused with an InvalidInputError naming the option", (value) => {
    expect(() => parseDuration(value, "prune: olderThan")).toThrow(InvalidInputError);
    expect(() => parseDuration(value, "prune: olderThan")).toThrow(/^prune: olderThan/);
  });

  it("a bare number in a string says why it is refused (seconds or days?)", () => {
    expect(() => parseDuration("30", "olderThan")).toThrow(/units: ms, s, m, h, d, w/);
  });
});

describe("formatDuration", () => {
  it.each([
    [90_061_000, "1d1h1m1s"],
    [0, "0ms"],
    [3_600_000, "1h"],
    [604_800_000, "1w"],
    [1_500, "1s500ms"],
    [1_000.4, "1s"],
  ])("%d → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("parseDuration reads back what formatDuration writes, for any whole number of ms", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 40 }), (ms) => {
      expect(parseDuration(formatDuration(ms), "x")).toBe(ms);
    }));
  });
});
