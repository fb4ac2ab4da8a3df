// Stored bytes for the same message-heavy states: our saver (default
// compaction, and with compaction off) against the official
// @langchain/langgraph-checkpoint-postgres saver, whose large blobs Postgres
// already compresses with TOAST (pglz). Each saver gets its own schema in one
// database; each stores the same STATES conversations of MESSAGES messages.
//   npm run bench:storage          (embedded PostgreSQL)
//   BENCH_DATABASE_URL=... npm run bench:storage
import fs from "node:fs";
import os from "node:os";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { PostgresSaver } from "../dist/esm/index.js";
import { conversationMessages } from "./support/conversation.mjs";
import { benchDatabase } from "./support/database.mjs";

const STATES = Number(process.env.STATES ?? 20);
const MESSAGES = Number(process.env.MESSAGES ?? 200);

const db = await benchDatabase();
const admin = new pg.Pool({ connectionString: db.url });
const contenders = {
  "official saver": { schema: "bench_official", create: (url) => OfficialSaver.fromConnString(url, { schema: "bench_official" }) },
  "ours, compaction: false": {
    schema: "bench_ours_plain",
    create: (url) => PostgresSaver.fromConnString(url, { schema: "bench_ours_plain", compaction: false, metrics: false }),
  },
  "ours (default compaction)": {
    schema: "bench_ours",
    create: (url) => PostgresSaver.fromConnString(url, { schema: "bench_ours", metrics: false }),
  },
};

const results = [];
for (const [name, { schema, create }] of Object.entries(contenders)) {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  const saver = create(db.url);
  await saver.setup();
  for (let seed = 1; seed <= STATES; seed += 1) {
    const checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { messages: conversationMessages(MESSAGES, seed) }, channel_versions: { messages: 1 } };
    await saver.put({ configurable: { thread_id: `t${seed}`, checkpoint_ns: "" } }, checkpoint, { source: "loop", step: 1, parents: {} }, { messages: 1 });
  }
  await saver.end();
  await admin.query(`VACUUM ANALYZE ${schema}.checkpoint_blobs, ${schema}.checkpoints`);
  const { rows: [sizes] } = await admin.query(`
    SELECT (SELECT sum(octet_length(blob)) FROM ${schema}.checkpoint_blobs)::bigint AS sent,
           (SELECT sum(pg_column_size(blob)) FROM ${schema}.checkpoint_blobs)::bigint AS blob_stored,
           (SELECT sum(pg_column_size(checkpoint) + pg_column_size(metadata)) FROM ${schema}.checkpoints)::bigint AS documents,
           (SELECT pg_total_relation_size('${schema}.checkpoint_blobs') + pg_total_relation_size('${schema}.checkpoints')
                 + pg_total_relation_size('${schema}.checkpoint_writes'))::bigint AS relations,
           (SELECT string_agg(DISTINCT type, ',') FROM ${schema}.checkpoint_blobs) AS types`);
  results.push({ name, ...Object.fromEntries(Object.entries(sizes).map(([k, v]) => [k, k === "types" ? v : Number(v)])) });
}
await admin.end();
await db.stop();

const official = results.find((r) => r.name === "official saver");
const kib = (n) => (n / 1024).toFixed(1);
const lines = [
  `# Stored bytes: ${STATES} conversation states of ${MESSAGES} messages`,
  "",
  `Node ${process.version} · ${os.cpus()[0]?.model ?? "cpu"} · ${new Date().toISOString()}. Sizes do not depend on the machine.`,
  `States from bench/support/conversation.mjs (seeds 1–${STATES}), one checkpoint each, put through each saver into its own schema.`,
  "\"Blob, as stored\" is `pg_column_size(blob)`: after Postgres's own TOAST compression (pglz), which the official saver relies on.",
  "",
  "| Saver | Blob type | Blob bytes sent, per state | Blob, as stored, per state | Checkpoint + metadata, per state | Tables on disk (all states) | Official ÷ this (stored state) |",
  "|---|---|---:|---:|---:|---:|---:|",
  ...results.map((r) => {
    const perState = (r.blob_stored + r.documents) / STATES;
    const officialPerState = (official.blob_stored + official.documents) / STATES;
    return `| ${r.name} | ${r.types} | ${kib(r.sent / STATES)} KiB | ${kib(r.blob_stored / STATES)} KiB | ${kib(r.documents / STATES)} KiB | ${kib(r.relations)} KiB | ${(officialPerState / perState).toFixed(2)}× |`;
  }),
];
const report = lines.join("\n") + "\n";
process.stdout.write(report);
fs.mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
fs.writeFileSync(new URL("./results/storage.md", import.meta.url), report);
