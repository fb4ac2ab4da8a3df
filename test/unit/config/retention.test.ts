import { describe, expect, it } from "vitest";
import { PRUNE_DEFAULTS, type PruneOptions, resolvePrune, resolveRetention } from "../../../src/config/retention.js";
import { InvalidInputError, InvalidOptionsError } from "../../../src/errors.js";

/** prune()'s options and the retention option, checked before anything touches the database. */

describe("resolvePrune", () => {
  it("fills defaults, parses olderThan, drops duplicate threadIds", () => {
    expect(resolvePrune({ keepLast: 3 })).toEqual({
      keepLast: 3, deleteThreads: false, olderThanMs: undefined, threadIds: undefined, dryRun: false, batchSize: PRUNE_DEFAULTS.batchSize,
      onProgress: undefined,
    });
    expect(resolvePrune({ olderThan: "1h", threadIds: ["a", "b", "a"], dryRun: true, batchSize: 7 })).toMatchObject({
      olderThanMs: 3_600_000, threadIds: ["a", "b"], dryRun: true, batchSize: 7,
    });
    expect(PRUNE_DEFAULTS.batchSize).toBe(500);
    expect(resolvePrune({ olderThan: 90_000 }).olderThanMs).toBe(90_000);
    expect(resolvePrune({ olderThan: "30ms" }).olderThanMs).toBe(30);
  });

  it.each<[unknown, RegExp]>([
    [undefined, /prune needs options/],
    [{}, /give keepLast, olderThan or both/],
    [{ keepLast: 0 }, /keepLast must be a positive integer/],
    [{ olderThan: 30 }, /olderThan 30 is milliseconds and would delete nearly every thread; write a duration with its unit, such as "30d"/],
    [{ keepLast: 2 ** 53 }, /keepLast/],
    [{ keepLast: 1, threadIds: new Set(["a"]) }, /threadIds must be an array/],
    [{ keepLast: 1, threadIds: ["\ud800"] }, /threadIds\[0\]/],
    [{ keepLast: 1, batchSize: -3 }, /batchSize/],
  ])("%j → InvalidInputError %s", (options, message) => {
    expect(() => resolvePrune(options as PruneOptions)).toThrow(InvalidInputError);
    expect(() => resolvePrune(options as PruneOptions)).toThrow(message);
  });
});

describe("resolveRetention", () => {
  it("is off unless given; every defaults to an hour", () => {
    expect(resolveRetention(undefined)).toBe(false);
    expect(resolveRetention(false)).toBe(false);
    expect(resolveRetention({ keepLast: 10 })).toEqual({ keepLast: 10, olderThan: undefined, everyMs: 3_600_000 });
    expect(resolveRetention({ olderThan: "30d", every: "15m", keepLast: undefined })).toEqual({ keepLast: undefined, olderThan: "30d", everyMs: 900_000 });
    expect(resolveRetention({ keepLast: 1, every: 1_000 })).toMatchObject({ everyMs: 1_000 });
  });

  it.each<[unknown, RegExp]>([
    [true, /^retention must be an object/],
    [{}, /^retention: give keepLast, olderThan or both/],
    [{ keepLast: -1 }, /^retention: keepLast/],
    [{ olderThan: "forever" }, /^retention: olderThan/],
    [{ keepLast: 1, every: 999 }, /^retention: every must be between 1s and 24d/],
    [{ keepLast: 1, every: "25d" }, /^retention: every must be between 1s and 24d/],
    [{ keepLast: 1, every: "hourly" }, /^retention: every/],
  ])("%j → InvalidOptionsError %s", (option, message) => {
    expect(() => resolveRetention(option as never)).toThrow(InvalidOptionsError);
    expect(() => resolveRetention(option as never)).toThrow(message);
  });
});
