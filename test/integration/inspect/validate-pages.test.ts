import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ValidationReport, validateThreads } from "../../../src/inspect/validate.js";
import { PostgresSaver } from "../../../src/index.js";
import { databaseOf } from "../../../src/database.js";
import { THREADS, populate } from "../../support/cli.js";
import { countingPool } from "../../support/counting-pool.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";

/**
 * `validate` reads a thread's values a page at a time, bounded by count and
 * by bytes (a page of 200 values of several MiB each would otherwise arrive
 * in memory at once). Whatever the limits, every value is checked exactly
 * once and damage anywhere is found, including on the last value of a page.
 */
const env = useSaver();
let counting: ReturnType<typeof countingPool>;
let saver: PostgresSaver;

beforeAll(async () => {
  await populate(env.saver);
  counting = countingPool(env.url());
  saver = new PostgresSaver(counting.pool);
});

afterAll(async () => {
  await saver?.end();
  await counting?.pool.end();
});

const validate = (valuePage?: { rows: number; bytes: number }) =>
  validateThreads(databaseOf(saver), { threadIds: [THREADS.delta], ...(valuePage ? { valuePage } : {}) });
/** Pages of values and writes; metadata pages are counted on their own. */
const pages = () => counting.statements.filter((s) => s.includes("AS fetched") && !s.includes("metadata::text"));
const metadataPages = () => counting.statements.filter((s) => s.includes("AS fetched") && s.includes("metadata::text"));

describe("value pages", () => {
  it("check every value once, whether the count or the bytes end a page", async () => {
    const rows = await countRows(env.pool, "public", THREADS.delta);
    const expected: Partial<ValidationReport> = { threads: 1, blobs: rows.blobs, writes: rows.writes, problems: [] };
    counting.reset();
    expect(await validate()).toMatchObject(expected);
    // The defaults hold a small thread in one page of values, one of writes and one of metadata.
    expect(pages()).toHaveLength(2);
    expect(metadataPages()).toHaveLength(1);

    // One byte: every page holds one value with bytes (a page always holds at least one, however
    // large), and the values without bytes ("empty" versions) before it.
    const { rows: [{ n: sized }] } = await env.pool.query(
      `SELECT (SELECT count(*) FROM checkpoint_blobs WHERE thread_id = $1 AND octet_length(blob) > 0)
            + (SELECT count(*) FROM checkpoint_writes WHERE thread_id = $1 AND octet_length(blob) > 0) AS n`,
      [THREADS.delta],
    );
    counting.reset();
    expect(await validate({ rows: 1000, bytes: 1 })).toMatchObject(expected);
    // Plus, for each table, at most a last page of empty versions.
    expect(pages().length).toBeGreaterThanOrEqual(Number(sized));
    expect(pages().length).toBeLessThanOrEqual(Number(sized) + 2);

    // Three at most: pages end on the count, and the last one is short.
    counting.reset();
    expect(await validate({ rows: 3, bytes: 1 << 30 })).toMatchObject(expected);
    expect(pages()).toHaveLength(Math.floor(rows.blobs / 3) + 1 + Math.floor(rows.writes / 3) + 1);
    expect(metadataPages()).toHaveLength(Math.floor(rows.checkpoints / 3) + 1);
  });

  it("find damage wherever the pages end, and nothing else", async () => {
    // The thread's largest value is overwritten with bytes that do not decode.
    const { rows: [largest] } = await env.pool.query(
      `SELECT channel, version, octet_length(blob) AS n FROM checkpoint_blobs
       WHERE thread_id = $1 AND blob IS NOT NULL ORDER BY octet_length(blob) DESC, channel, version LIMIT 1`,
      [THREADS.delta],
    );
    await env.pool.query(
      "UPDATE checkpoint_blobs SET type = 'json', blob = convert_to('{not json', 'UTF8') WHERE thread_id = $1 AND channel = $2 AND version = $3",
      [THREADS.delta, largest.channel, largest.version],
    );
    const kinds = (report: ValidationReport) => report.problems.map((p) => [p.kind, p.channel, p.version]);
    const expected = [["undecodable_blob", largest.channel, largest.version]];
    expect(kinds(await validate())).toEqual(expected);
    expect(kinds(await validate({ rows: 1000, bytes: largest.n }))).toEqual(expected);
    expect(kinds(await validate({ rows: 2, bytes: 1 }))).toEqual(expected);
  });
});
