// Stored bytes for the same message-heavy states: our saver (default
// compaction, and with compaction off) against the official
// @langchain/langgraph-checkpoint-postgres saver, whose large blobs Postgres
// already compresses with TOAST (pglz). Each saver gets its own schema in one
// database; each stores the same STATES conversations of MESSAGES messages.
// Then the growing chat thread of bench/support/chat.mjs (npm run bench:chat
// measures it in full): CHAT_TURNS turns on one thread per saver, where every
// checkpoint holds the whole conversation so far.
//   npm run bench:storage          (embedded PostgreSQL)
//   CHAT_TURNS=100,300,1000 npm run bench:storage
//   BENCH_DATABASE_URL=... npm run bench:storage
import fs from "node:fs";
import os from "node:os";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { PostgresSaver } from "../dist/esm/index.js";
import { CHAT_CONTENDERS, chatTableSizes, runChat } from "./support/chat.mjs";
import { conversationMessages } from "./support/conversation.mjs";
import { benchDatabase } from "./support/database.mjs";

const STATES = Number(process.env.STATES ?? 20);
const MESSAGES = Number(process.env.MESSAGES ?? 200);
const CHAT_TURNS = (process.env.CHAT_TURNS ?? "100,300").split(",").map(Number);

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

const chat = [];
for (const turns of CHAT_TURNS) {
  for (const { id, schema, create } of CHAT_CONTENDERS) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    const saver = create(db.url);
    await saver.setup();
    await runChat(saver, { turns });
    await saver.end();
    chat.push({ turns, id, ...(await chatTableSizes(admin, schema)) });
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  }
}
await admin.end();
await db.stop();

const official = results.find((r) => r.name === "official saver");
const kib = (n) => (n / 1024).toFixed(1);
const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const lines = [
  "# Stored bytes",
  "",
  `## ${STATES} conversation states of ${MESSAGES} messages`,
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
  "",
  `## A growing chat thread: ${CHAT_TURNS.join(" and ")} turns`,
  "",
  "One thread of a compiled graph on `MessagesAnnotation` (bench/support/chat.mjs): each turn adds a 60-word user message and a 60-word reply,",
  "and every checkpoint holds the whole conversation so far. Each saver with its default options (ours: compaction on), one after the other.",
  "Payload is `sum(octet_length(blob))` of checkpoint_blobs and checkpoint_writes (before TOAST); disk is the three tables after VACUUM.",
  "Per-turn bytes and time: `npm run bench:chat`.",
  "",
  "| Turns | Saver | Checkpoints | Payload | Tables on disk | Official ÷ this (payload) | Official ÷ this (disk) |",
  "|---:|---|---:|---:|---:|---:|---:|",
  ...chat.map((r) => {
    const official = chat.find((o) => o.turns === r.turns && o.id === "official");
    return `| ${r.turns} | ${r.id} | ${r.rows.checkpoints} | ${mib(r.payloadBytes)} | ${mib(r.diskBytes)} | ` +
      `${(official.payloadBytes / r.payloadBytes).toFixed(2)}× | ${(official.diskBytes / r.diskBytes).toFixed(2)}× |`;
  }),
];
const report = lines.join("\n") + "\n";
process.stdout.write(report);
fs.mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
fs.writeFileSync(new URL("./results/storage.md", import.meta.url), report);
