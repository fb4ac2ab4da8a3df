import { DEFAULT_SAMPLE_SIZE, storageStats } from "../../inspect/stats.js";
import { positiveInteger } from "../args.js";
import type { Command } from "../command.js";
import { withConnection } from "../connect.js";
import { bytes, json, plural, ratio, table } from "../format.js";

const DEFAULT_TOP = 10;

/** `stats`: where the bytes are, and what compression saves. */
export const stats: Command = {
  name: "stats",
  usage: "[--top N]",
  summary: "rows and bytes per table, compression, the largest threads",
  details: `Prints rows and total size (with indexes and TOAST) of each table; how many stored values
this package compressed (types ending in +br, +deflate, +gzip) and how many it did not, with
their bytes as Postgres keeps them; the compaction ratio, estimated by inflating a random
sample of up to ${DEFAULT_SAMPLE_SIZE} compressed values; Postgres's own TOAST ratio over all values
(sum(octet_length(blob)) / sum(pg_column_size(blob))); and the largest threads by bytes.`,
  options: {
    top: { type: "string", value: "N", help: `the N largest threads (default ${DEFAULT_TOP})` },
  },
  positionals: { min: 0, max: 0 },
  async run(context) {
    const top = positiveInteger(context.values.top, "--top") ?? DEFAULT_TOP;
    const s = await withConnection(context, ({ database }) => storageStats(database, { top }));
    if (context.json) {
      await context.out(json(s));
      return 0;
    }
    const { compressed, uncompressed, compaction_sample: sample, toast } = s.compression;
    const sampleText = sample.values === 0
      ? "no compressed values"
      : `${ratio(sample.ratio)} (inflated a random sample of ${plural(sample.values, "compressed value")}: ` +
        `${bytes(sample.compressed_bytes)} -> ${bytes(sample.inflated_bytes)}` +
        `${sample.unreadable > 0 ? `; ${sample.unreadable} did not inflate, see validate` : ""})`;
    await context.out([
      `${plural(s.threads, "thread")}\n`,
      table(["TABLE", "ROWS>", "TOTAL SIZE>"], s.tables.map((t) => [t.table, t.rows, bytes(t.bytes)])),
      "\n",
      table(["VALUES", "COUNT>", "STORED>"], [
        ["compressed by this package", compressed.values, bytes(compressed.stored_bytes)],
        ["not compressed", uncompressed.values, bytes(uncompressed.stored_bytes)],
      ]),
      `compaction ratio (this package): ${sampleText}\n`,
      `TOAST ratio (Postgres): ${ratio(toast.ratio)} (${bytes(toast.octets)} of values stored in ${bytes(toast.stored_bytes)})\n`,
      "\n",
      s.largest_threads.length === 0
        ? "no threads\n"
        : `largest threads\n${table(["THREAD", "CHECKPOINTS>", "SIZE>"], s.largest_threads.map((t) => [t.thread_id, t.checkpoints, bytes(t.bytes)]))}`,
    ].join(""));
    return 0;
  },
};
