import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidInputError, InvalidOptionsError, MemoryCheckpointer, PostgresSaver, type PruneOptions, createCheckpointer,
} from "../../../src/index.js";
import { countingPool } from "../../support/counting-pool.js";
import { useTestDatabase } from "../../support/database.js";
import { toolGraph, toolGraphStart } from "../../support/graphs.js";
import { quietLogger, rowsPerThread } from "../../support/prune.js";

/**
 * Bad input to `prune()` is refused with a typed `InvalidInputError` whose
 * message names the option, before anything reaches the database (the
 * counting pool sees no statement) and with nothing deleted; a bad
 * `retention` option is refused at construction with `InvalidOptionsError`.
 */
const db = useTestDatabase();
let counting: ReturnType<typeof countingPool>;
let saver: PostgresSaver;
const memory = new MemoryCheckpointer(undefined, undefined, { logger: quietLogger, metrics: false });

const config = (thread: string) => ({ configurable: { thread_id: thread } });

beforeAll(async () => {
  counting = countingPool(db.url());
  saver = new PostgresSaver(counting.pool, undefined, { logger: quietLogger });
  await saver.setup();
  for (const checkpointer of [saver, memory]) {
    await toolGraph(checkpointer, []).invoke(toolGraphStart(), config("a"));
    await toolGraph(checkpointer, []).invoke(toolGraphStart(), config("b"));
  }
});

afterAll(async () => {
  await saver?.end();
  await counting?.pool.end();
});

/** [what, options, a word the message must contain] */
const BAD: Array<[string, unknown, RegExp]> = [
  ["no options", undefined, /keepLast/],
  ["null", null, /keepLast/],
  // An array is LangGraph Python's prune(threadIds): its ids are checked as threadIds are.
  ["an array of non-ids", [1], /threadIds\[0\]/],
  ["neither keepLast nor olderThan", {}, /keepLast, olderThan/],
  ["only threadIds", { threadIds: ["a"] }, /keepLast, olderThan/],
  ["keepLast 0", { keepLast: 0 }, /keepLast/],
  ["keepLast -1", { keepLast: -1 }, /keepLast/],
  ["keepLast 1.5", { keepLast: 1.5 }, /keepLast/],
  ['keepLast "3"', { keepLast: "3" }, /keepLast/],
  ["keepLast NaN", { keepLast: Number.NaN }, /keepLast/],
  ["keepLast Infinity", { keepLast: Number.POSITIVE_INFINITY }, /keepLast/],
  ['olderThan "soon"', { olderThan: "soon" }, /olderThan/],
  ['olderThan "0d"', { olderThan: "0d" }, /olderThan/],
  ['olderThan "30" (no unit)', { olderThan: "30" }, /olderThan/],
  ['olderThan ""', { olderThan: "" }, /olderThan/],
  ['olderThan "-5m"', { olderThan: "-5m" }, /olderThan/],
  ['olderThan "7d and a bit"', { olderThan: "7d and a bit" }, /olderThan/],
  ["olderThan 0", { olderThan: 0 }, /olderThan/],
  ["olderThan -1", { olderThan: -1 }, /olderThan/],
  ["olderThan NaN", { olderThan: Number.NaN }, /olderThan/],
  ["olderThan an object", { olderThan: { days: 7 } }, /olderThan/],
  ['threadIds "x"', { keepLast: 1, threadIds: "x" }, /threadIds/],
  ["threadIds [\"\"]", { keepLast: 1, threadIds: [""] }, /threadIds\[0\]/],
  ["threadIds [1]", { keepLast: 1, threadIds: ["a", 1] }, /threadIds\[1\]/],
  ["threadIds with NUL", { keepLast: 1, threadIds: ["a\u0000b"] }, /threadIds\[0\]/],
  ["batchSize 0", { keepLast: 1, batchSize: 0 }, /batchSize/],
  ["batchSize 2.5", { keepLast: 1, batchSize: 2.5 }, /batchSize/],
  ['batchSize "10"', { keepLast: 1, batchSize: "10" }, /batchSize/],
  ['dryRun "yes"', { keepLast: 1, dryRun: "yes" }, /dryRun/],
  ["onProgress not a function", { keepLast: 1, onProgress: "log" }, /onProgress/],
];

describe("prune() refuses bad input before touching anything", () => {
  for (const [what, options, names] of BAD) {
    it(`${what}: InvalidInputError naming the option; no statement sent, nothing deleted`, async () => {
      const before = await rowsPerThread(counting.pool);
      const stored = JSON.stringify(memory.storage);
      counting.reset();
      const failure = await saver.prune(options as PruneOptions).catch((error: unknown) => error);
      expect(counting.statements).toEqual([]);
      expect(failure).toBeInstanceOf(InvalidInputError);
      expect((failure as InvalidInputError).code).toBe("INVALID_INPUT");
      expect((failure as Error).message).toMatch(names);
      expect((failure as Error).message).toMatch(/^prune/);
      expect(await rowsPerThread(counting.pool)).toEqual(before);

      const onMemory = await memory.prune(options as PruneOptions).catch((error: unknown) => error);
      expect(onMemory).toBeInstanceOf(InvalidInputError);
      expect((onMemory as Error).message).toBe((failure as Error).message);
      expect(JSON.stringify(memory.storage)).toBe(stored);
    });
  }

  it("durations operators write are accepted (and prune nothing on fresh threads)", async () => {
    for (const olderThan of ["7d", "12h", "1h30m", "90s", "600000ms", "2w", " 1D ", "1.5h", "1d2h3m4s5ms", 600_000]) {
      expect(await saver.prune({ olderThan, dryRun: true })).toMatchObject({ threads: 2, threadsDeleted: 0 });
    }
  });
});

/** [what, retention option, a word the message must contain] */
const BAD_RETENTION: Array<[string, unknown, RegExp]> = [
  ["true", true, /retention/],
  ["a string", "7d", /retention/],
  ["null", null, /retention/],
  ["nothing to prune", {}, /retention.*keepLast, olderThan/],
  ["every only", { every: "1h" }, /retention.*keepLast, olderThan/],
  ["keepLast 0", { keepLast: 0 }, /retention.*keepLast/],
  ['olderThan "30"', { olderThan: "30" }, /retention.*olderThan/],
  ['every "500ms" (under 1s)', { keepLast: 5, every: "500ms" }, /retention.*every/],
  ['every "30d" (over a timer\'s range)', { keepLast: 5, every: "30d" }, /retention.*every/],
  ['every "soon"', { keepLast: 5, every: "soon" }, /retention.*every/],
];

describe("the retention option is checked at construction", () => {
  for (const [what, retention, names] of BAD_RETENTION) {
    it(`${what}: InvalidOptionsError naming it, from PostgresSaver, MemoryCheckpointer and createCheckpointer`, async () => {
      counting.reset();
      const attempts: Array<() => unknown> = [
        () => new PostgresSaver(counting.pool, undefined, { retention: retention as never }),
        () => PostgresSaver.fromConnString(db.url(), { retention: retention as never }),
        () => new MemoryCheckpointer(undefined, undefined, { retention: retention as never }),
      ];
      for (const attempt of attempts) {
        let failure: unknown;
        try {
          attempt();
        } catch (error) {
          failure = error;
        }
        expect(failure).toBeInstanceOf(InvalidOptionsError);
        expect((failure as Error).message).toMatch(names);
      }
      await expect(createCheckpointer({ url: "memory", retention: retention as never, env: {} })).rejects.toThrow(InvalidOptionsError);
      expect(counting.statements).toEqual([]);
    });
  }

  it("the environment variables are checked too, naming what is wrong", async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ LANGGRAPH_CHECKPOINT_RETENTION_KEEP_LAST: "many" }, /LANGGRAPH_CHECKPOINT_RETENTION_KEEP_LAST/],
      [{ LANGGRAPH_CHECKPOINT_RETENTION_KEEP_LAST: "0" }, /keepLast/],
      [{ LANGGRAPH_CHECKPOINT_RETENTION_OLDER_THAN: "30" }, /olderThan/],
      [{ LANGGRAPH_CHECKPOINT_RETENTION_KEEP_LAST: "5", LANGGRAPH_CHECKPOINT_RETENTION_EVERY: "100ms" }, /every/],
      [{ LANGGRAPH_CHECKPOINT_RETENTION_EVERY: "1h" }, /keepLast, olderThan/],
    ];
    for (const [env, names] of cases) {
      for (const url of ["memory", db.url()]) {
        const failure = await createCheckpointer({ url, env, logger: quietLogger }).catch((error: unknown) => error);
        expect(failure, JSON.stringify(env)).toBeInstanceOf(InvalidOptionsError);
        expect((failure as Error).message).toMatch(names);
      }
    }
  });
});
