import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PruneOptions, PruneResult } from "../../../src/config/retention.js";
import { CheckpointerClosedError, CheckpointerDatabaseError } from "../../../src/errors.js";
import { RetentionSchedule } from "../../../src/retention/schedule.js";
import { recordingLogger } from "../../support/prune.js";

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
