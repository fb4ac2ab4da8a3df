// How long a chain of deltas may grow (compaction.maxDeltaChain, "K"):
// the 300-turn chat of bench:chat written with each K, then the tables on
// disk and the final getTuple, which fetches up to K deltas per channel.
// Also LangGraph's MemorySaver on the same chat: the per-turn growth that
// no database can remove (every turn reads and revives the whole list).
//   npm run bench:delta-chain            (K = 1, 4, 8, 16, 32, 64, 128)
//   TURNS=100 npm run bench:delta-chain
import fs from "node:fs";
import os from "node:os";
import { MemorySaver } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { PostgresSaver } from "../dist/esm/index.js";
import { chatTableSizes, runChat } from "./support/chat.mjs";
import { benchDatabase } from "./support/database.mjs";

const TURNS = Number(process.env.TURNS ?? 300);
const CHAINS = (process.env.CHAINS ?? "1,4,8,16,32,64,128").split(",").map(Number);
const READS = 100;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const growth = (ms) => median(ms.slice(-30)) / median(ms.slice(1, 31));

const db = await benchDatabase();
const admin = new pg.Pool({ connectionString: db.url });
const rows = [];
try {
  for (const chain of CHAINS) {
    const schema = `bench_chain_${chain}`;
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    const saver = PostgresSaver.fromConnString(db.url, { schema, metrics: false, slowOperationMs: false, compaction: { maxDeltaChain: chain } });
    await saver.setup();
    const ms = await runChat(saver, { turns: TURNS });
    // A fresh saver reads, as another replica would: nothing cached.
    const reader = PostgresSaver.fromConnString(db.url, { schema, metrics: false, slowOperationMs: false });
    const config = { configurable: { thread_id: "chat" } };
    for (let i = 0; i < 10; i += 1) await reader.getTuple(config);
    const reads = [];
    for (let i = 0; i < READS; i += 1) {
      const started = performance.now();
      await reader.getTuple(config);
      reads.push(performance.now() - started);
    }
    await Promise.all([saver.end(), reader.end()]);
    const sizes = await chatTableSizes(admin, schema);
    rows.push({ chain, diskBytes: sizes.diskBytes, payloadBytes: sizes.payloadBytes, turnGrowth: growth(ms), lastTurnMs: median(ms.slice(-30)), getTupleMs: median(reads) });
    console.error(`K=${chain}: ${JSON.stringify(rows.at(-1))}`);
  }
  const memory = new MemorySaver();
  const ms = await runChat(memory, { turns: TURNS });
  rows.push({ chain: "MemorySaver", turnGrowth: growth(ms), lastTurnMs: median(ms.slice(-30)) });
} finally {
  await admin.end();
  await db.stop();
}

const mib = (n) => (n === undefined ? "—" : `${(n / 2 ** 20).toFixed(2)} MiB`);
const lines = [
  `# Delta chain length (compaction.maxDeltaChain) on a ${TURNS}-turn chat`,
  "",
  `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · Node ${process.version} · ${os.cpus()[0]?.model ?? "cpu"} (${os.cpus().length} cores). ` +
    "The chat of bench:chat (bench/support/chat.mjs) written by our saver with each K; disk after VACUUM; getTuple by a fresh saver (nothing cached), p50 of " +
    `${READS}; turn growth = median of the last 30 turns ÷ turns 2–31. MemorySaver (no database) shows the growth LangGraph itself brings: every turn reads and revives the whole message list.`,
  "",
  "| K | Tables on disk | Payload | getTuple p50 | Turn, last 30 | Turn growth |",
  "|---:|---:|---:|---:|---:|---:|",
  ...rows.map((r) => `| ${r.chain} | ${mib(r.diskBytes)} | ${mib(r.payloadBytes)} | ${r.getTupleMs?.toFixed(2) ?? "—"} ms | ${r.lastTurnMs.toFixed(1)} ms | ${r.turnGrowth.toFixed(2)}× |`),
];
const report = lines.join("\n") + "\n";
process.stdout.write(report);
fs.writeFileSync(new URL("./results/delta-chain.md", import.meta.url), report);
process.exit(0);
