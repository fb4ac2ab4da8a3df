import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { formatDuration, parseDuration } from "../../src/duration.js";
import { CheckpointerClosedError, CheckpointerDatabaseError, InvalidInputError, InvalidOptionsError } from "../../src/errors.js";
import { PRUNE_DEFAULTS, type PruneOptions, type PruneResult, resolvePrune, resolveRetention } from "../../src/retention/options.js";
import { RetentionSchedule } from "../../src/retention/schedule.js";
import { recordingLogger } from "../support/prune.js";

/** Durations, prune and retention option checks, and the retention schedule on a fake clock. */

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

describe("resolvePrune", () => {
  it("fills defaults, parses olderThan, drops duplicate threadIds", () => {
    expect(resolvePrune({ keepLast: 3 })).toEqual({
      keepLast: 3, olderThanMs: undefined, threadIds: undefined, dryRun: false, batchSize: PRUNE_DEFAULTS.batchSize, onProgress: undefined,
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

describe("RetentionSchedule on a fake clock", () => {
  const EVERY = 10_000;
  const done: PruneResult = { dryRun: false, threads: 4, threadsDeleted: 1, checkpoints: 30, writes: 12, blobs: 50 };

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(prune: (options: PruneOptions) => Promise<PruneResult>, random = 0) {
    const logger = recordingLogger();
    const runs: boolean[] = [];
    const calls: PruneOptions[] = [];
    const schedule = new RetentionSchedule(
      { keepLast: 5, olderThan: "30d", everyMs: EVERY },
      (options) => {
        calls.push(options);
        return prune(options);
      },
      logger,
      (ok) => runs.push(ok),
      () => random,
    );
    return { schedule, logger, runs, calls };
  }

  it("the first run comes after half to all of `every` (at random), then every `every`", async () => {
    for (const [random, first] of [[0, EVERY / 2], [0.5, EVERY * 0.75], [0.9, EVERY * 0.95]] as const) {
      const { schedule, calls } = setup(async () => done, random);
      schedule.start();
      await vi.advanceTimersByTimeAsync(first - 1);
      expect(calls).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toEqual([{ keepLast: 5, olderThan: "30d" }]);
      await vi.advanceTimersByTimeAsync(EVERY);
      expect(calls).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(3 * EVERY);
      expect(calls).toHaveLength(5);
      schedule.stop();
    }
  });

  it("each run is counted ok and logged at info level with what it removed", async () => {
    const { schedule, logger, runs } = setup(async () => done);
    schedule.start();
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toEqual([true]);
    expect(logger.calls).toEqual([{
      level: "info",
      message: "retention: pruned checkpoints",
      fields: {
        keep_last: 5, older_than: "30d", threads: 4, threads_deleted: 1, checkpoints: 30, writes: 12, blobs: 50, duration_ms: expect.any(Number),
      },
    }]);
    schedule.stop();
  });

  it("runs never overlap: the next one is timed from the end of a slow one", async () => {
    let active = 0;
    let most = 0;
    const { schedule, calls } = setup(async () => {
      active += 1;
      most = Math.max(most, active);
      await new Promise((resolve) => setTimeout(resolve, 3 * EVERY)); // slower than `every`
      active -= 1;
      return done;
    });
    schedule.start();
    await vi.advanceTimersByTimeAsync(EVERY / 2);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(3 * EVERY + EVERY - 1);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(most).toBe(1);
    schedule.stop();
  });

  it("a failing run is logged at warn level with its code and counted as an error, never thrown; the next run still comes", async () => {
    const cause = Object.assign(new Error('relation "checkpoints" does not exist'), { code: "42P01" });
    const failure = new CheckpointerDatabaseError("prune", cause);
    let fail = true;
    const { schedule, logger, runs } = setup(async () => {
      if (fail) throw failure;
      return done;
    });
    schedule.start();
    await vi.advanceTimersByTimeAsync(EVERY / 2);
    expect(runs).toEqual([false]);
    expect(logger.calls).toHaveLength(1);
    expect(logger.calls[0]).toMatchObject({ level: "warn", message: "retention: prune failed; retrying in 10s" });
    expect(logger.calls[0]!.fields).toEqual({ error: expect.stringContaining("does not exist"), code: "42P01" });
    fail = false;
    await vi.advanceTimersByTimeAsync(EVERY);
    expect(runs).toEqual([false, true]);
    schedule.stop();
  });

  it("a run cut short by end() (CheckpointerClosedError) is neither counted nor logged", async () => {
    const { schedule, logger, runs } = setup(async () => {
      throw new CheckpointerClosedError("prune");
    });
    await schedule.runOnce();
    expect(runs).toEqual([]);
    expect(logger.calls).toEqual([]);
  });

  it("a logger that throws neither breaks the schedule nor escapes", async () => {
    const { schedule, runs, logger } = setup(async () => done);
    logger.info = () => {
      throw new Error("log sink down");
    };
    schedule.start();
    await vi.advanceTimersByTimeAsync(EVERY / 2 + 2 * EVERY);
    expect(runs).toEqual([true, true, true]);
    schedule.stop();
  });

  it("stop() ends it, before the first run or during one", async () => {
    const before = setup(async () => done);
    before.schedule.start();
    before.schedule.stop();
    await vi.advanceTimersByTimeAsync(10 * EVERY);
    expect(before.calls).toHaveLength(0);

    let release!: () => void;
    const during = setup(() => new Promise((resolve) => (release = () => resolve(done))));
    during.schedule.start();
    await vi.advanceTimersByTimeAsync(EVERY / 2);
    expect(during.calls).toHaveLength(1);
    during.schedule.stop();
    release();
    await vi.advanceTimersByTimeAsync(10 * EVERY);
    expect(during.calls).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("RetentionSchedule on the real clock", () => {
  it("its timer does not keep the process alive", () => {
    const schedule = new RetentionSchedule({ keepLast: 1, olderThan: undefined, everyMs: 3_600_000 }, async () => {
      throw new Error("never runs");
    }, recordingLogger(), () => {});
    schedule.start();
    try {
      expect((schedule as unknown as { timer: NodeJS.Timeout }).timer.hasRef()).toBe(false);
    } finally {
      schedule.stop();
    }
  });
});
