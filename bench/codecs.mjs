// Which node:zlib codec (and level) should compress checkpoint blobs, and below
// what size is compressing not worth it? Blobs are the exact bytes
// JsonPlusSerializer.dumpsTyped() produces for a realistic "messages" channel
// (see support/conversation.mjs). Synchronous zlib calls, median of many reps.
// No database involved.
//   node bench/codecs.mjs        -> prints tables, writes bench/results/codecs.md
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import zlib from "node:zlib";
import { HumanMessage } from "@langchain/core/messages";
import { JsonPlusSerializer } from "@langchain/langgraph-checkpoint";
import { conversationMessages, serializedMessagesBlob } from "./support/conversation.mjs";

const SEED = 1;
const STATES = [1, 10, 50, 200];
const TARGETS = [256, 512, 1024, 2048, 4096, 8192, 16384];
const { BROTLI_PARAM_MODE, BROTLI_MODE_TEXT, BROTLI_PARAM_QUALITY, BROTLI_PARAM_SIZE_HINT } = zlib.constants;

const CODECS = [
  ...[1, 3, 6].map((level) => ({ name: `gzip-${level}`, c: (b) => zlib.gzipSync(b, { level }), d: (b) => zlib.gunzipSync(b) })),
  ...[1, 3, 6].map((level) => ({ name: `deflate-raw-${level}`, c: (b) => zlib.deflateRawSync(b, { level }), d: (b) => zlib.inflateRawSync(b) })),
  ...[1, 3, 5].map((q) => ({
    name: `brotli-${q}`,
    c: (b) => zlib.brotliCompressSync(b, { params: { [BROTLI_PARAM_MODE]: BROTLI_MODE_TEXT, [BROTLI_PARAM_QUALITY]: q, [BROTLI_PARAM_SIZE_HINT]: b.length } }),
    d: (b) => zlib.brotliDecompressSync(b),
  })),
];

const serde = new JsonPlusSerializer();
const dumps = async (msgs) => (await serde.dumpsTyped(msgs))[1];
const asBuffer = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);

// A valid serialized messages blob as close to `target` bytes as possible (never above):
// the longest conversation prefix that leaves room for one more message, then a final
// HumanMessage whose content (taken from the following real messages' text) is sized
// by binary search. Re-serialized each time, so it is valid JSON, never truncated bytes.
async function blobNear(target, msgs) {
  let k = 0;
  while (k < msgs.length && (await dumps(msgs.slice(0, k + 1))).length + 250 <= target) k++;
  const prefix = msgs.slice(0, k);
  const pool = msgs.slice(k).map((m) => (typeof m.content === "string" ? m.content : "")).join(" ");
  const withFiller = (len) => dumps([...prefix, new HumanMessage({ id: msgs[k].id, content: pool.slice(0, len) })]);
  let lo = 0, hi = pool.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await withFiller(mid)).length <= target) lo = mid;
    else hi = mid - 1;
  }
  return withFiller(lo);
}

const ROUNDS = 5;
const sample = (fn, n, into) => {
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    fn();
    into.push(Number(process.hrtime.bigint() - s) / 1000);
  }
};
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];

// Codecs are interleaved over ROUNDS rounds (samples pooled) so drift, GC and
// turbo effects on this shared machine do not favour whichever codec runs first.
function measure(raw) {
  const buf = asBuffer(raw);
  const reps = Math.max(100, Math.min(3000, Math.floor(2e7 / buf.length)));
  const runs = CODECS.map((codec) => {
    const packed = codec.c(buf);
    if (!codec.d(packed).equals(buf)) throw new Error(`${codec.name}: round trip mismatch`);
    for (let i = 0; i < Math.max(20, reps >> 3); i++) codec.d(codec.c(buf)); // warm up
    return { codec, packed, c: [], d: [] };
  });
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of runs) {
      sample(() => r.codec.c(buf), reps / ROUNDS, r.c);
      sample(() => r.codec.d(r.packed), reps / ROUNDS, r.d);
    }
  }
  return Object.fromEntries(runs.map(({ codec, packed, c, d }) => {
    const cUs = median(c), dUs = median(d), saved = buf.length - packed.length;
    return [codec.name, { raw: buf.length, comp: packed.length, ratio: buf.length / packed.length, saved, cUs, dUs, score: saved / (cUs + dUs), reps }];
  }));
}

const started = performance.now();
const msgs = conversationMessages(Math.max(...STATES), SEED);
measure(await serializedMessagesBlob(1, SEED)); // throwaway pass: JIT, zlib/brotli allocator and CPU warm-up
const states = [];
for (const n of STATES) states.push({ n, r: measure(await serializedMessagesBlob(n, SEED)) });
const sized = [];
for (const target of TARGETS) sized.push({ target, r: measure(await blobNear(target, msgs)) });

const f = (x, d = 1) => x.toFixed(d);
const kib = (b) => (b >= 1024 ? `${b / 1024} KiB` : `${b} B`);
const table = (head, rows) => [`| ${head.join(" | ")} |`, `|${head.map((h, i) => (i ? "---:" : "---")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
const names = CODECS.map((c) => c.name);

const out = [];
out.push("# node:zlib codecs for checkpoint blobs", "");
out.push(`Node ${process.version} · ${os.cpus()[0]?.model ?? "unknown CPU"} · ${os.cpus().length} cores · ${new Date().toISOString()}`, "");
out.push("Absolute times are machine-dependent; compare ratios and relative times. Synchronous zlib calls, median of " +
  "100–3000 reps (more for small blobs) after warm-up, codecs interleaved over 5 rounds. Blobs: `JsonPlusSerializer.dumpsTyped()` of a seeded synthetic agent " +
  `conversation (bench/support/conversation.mjs, seed ${SEED}). MB/s = 10^6 raw bytes per second.`, "");

out.push("## Conversation states (messages channel blob)", "");
out.push(table(["Messages", "Raw B", "Codec", "Compressed B", "Ratio", "Compress µs", "Decompress µs", "Compress MB/s", "Decompress MB/s"],
  states.flatMap(({ n, r }) => names.map((c) => [n, r[c].raw, c, r[c].comp, f(r[c].ratio, 2), f(r[c].cUs), f(r[c].dUs), f(r[c].raw / r[c].cUs), f(r[c].raw / r[c].dUs)]))), "");

const s200 = states.find((s) => s.n === 200).r, s4k = sized.find((s) => s.target === 4096).r;
const rank = (r) => Object.fromEntries([...names].sort((a, b) => r[b].score - r[a].score).map((c, i) => [c, i + 1]));
const rk200 = rank(s200), rk4k = rank(s4k);
out.push(`## Combined score: bytes saved per µs of (compress + decompress)`, "");
out.push(`200 messages = ${s200[names[0]].raw} B raw; 4 KiB blob = ${s4k[names[0]].raw} B raw. Higher score is better.`, "");
out.push(table(["Codec", "200 msgs ratio", "saved B", "C+D µs", "score B/µs", "rank", "4 KiB ratio", "saved B", "C+D µs", "score B/µs", "rank"],
  names.map((c) => [c, f(s200[c].ratio, 2), s200[c].saved, f(s200[c].cUs + s200[c].dUs), f(s200[c].score), rk200[c],
    f(s4k[c].ratio, 2), s4k[c].saved, f(s4k[c].cUs + s4k[c].dUs), f(s4k[c].score), rk4k[c]])), "");

out.push("## Threshold-sized single blobs", "");
out.push("Each cell: ratio · bytes saved · compress+decompress µs. Column header: target (actual raw bytes).", "");
out.push(table(["Codec", ...sized.map(({ target, r }) => `${kib(target)} (${r[names[0]].raw})`)],
  names.map((c) => [c, ...sized.map(({ r }) => `${f(r[c].ratio, 2)}× · ${r[c].saved} · ${f(r[c].cUs + r[c].dUs)}`)])), "");

const md = out.join("\n");
console.log(md);
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/codecs.md", import.meta.url), md + "\n");
console.error(`wrote bench/results/codecs.md in ${f((performance.now() - started) / 1000)} s`);
