// The long-term memory store, ours (langgraph-checkpoint-pg/store) against
// the official @langchain/langgraph-checkpoint-postgres/store, side by side
// in one run on one PostgreSQL, each in a schema of its own, interleaved:
// put, get, search with a filter (1,000 items in the namespace searched),
// listNamespaces, and a batch of 10 puts. Writes bench/results/store.md and
// store.json. Absolute times depend on the machine; the ratios, measured
// interleaved in the same run, are what carry over.
//   npm run bench:store                 (embedded PostgreSQL; run by npm run bench)
//   npm run bench:store -- --quick
//   BENCH_DATABASE_URL=postgres://... npm run bench:store
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PostgresStore as OfficialStore } from "@langchain/langgraph-checkpoint-postgres/store";
import { PostgresStore } from "../dist/esm/store/index.js";
import { machine } from "./support/report.mjs";
import { benchDatabase } from "./support/database.mjs";
import { timeOperations } from "./support/measure.mjs";

const PRESETS = {
  full: { warmup: 30, iterations: 500, items: 1_000, namespaces: 200 },
  quick: { warmup: 10, iterations: 100, items: 300, namespaces: 50 },
  // For the test that keeps this program working.
  tiny: { warmup: 1, iterations: 5, items: 20, namespaces: 5 },
};

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      tiny: { type: "boolean", default: false },
      out: { type: "string", default: fileURLToPath(new URL("./results/", import.meta.url)) },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (error) {
  process.stderr.write(`bench:store: ${error.message} (see --help)\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write("usage: npm run bench:store -- [--quick | --tiny] [--out <dir>]\n");
  process.exit(0);
}
const preset = args.tiny ? "tiny" : args.quick ? "quick" : "full";
const settings = PRESETS[preset];
const log = (message) => process.stderr.write(`bench:store: ${message}\n`);

const db = await benchDatabase();
const stores = {
  ours: new PostgresStore({ connectionOptions: db.url, schema: "bench_store_ours", metrics: false, slowOperationMs: false, tracing: false }),
  official: new OfficialStore({ connectionOptions: db.url, schema: "bench_store_official" }),
};
// The official store's pool has no error listener: an idle connection dropped while the
// server stops at the end would crash the run.
stores.official.core?.pool?.on("error", () => {});
const result = { machine: machine(), preset, settings, operations: {} };
try {
  for (const store of Object.values(stores)) await store.setup();
  log(`seeding ${settings.items} items and ${settings.namespaces} namespaces per store`);
  for (const store of Object.values(stores)) {
    for (let i = 0; i < settings.items; i += 1) {
      await store.put(["catalog"], `item-${i}`, { kind: i % 10 === 0 ? "rare" : "common", price: i % 97, title: `item number ${i}` });
    }
    for (let i = 0; i < settings.namespaces; i += 1) await store.put(["users", `user-${i}`, "memories"], "profile", { name: `user ${i}` });
  }
  const contenders = (op) => Object.entries(stores).map(([id, store]) => ({ id, op: (i) => op(store, i) }));
  const workloads = {
    put: (store, i) => store.put(["users", `user-${i % settings.namespaces}`, "memories"], `note-${i}`, { text: `note ${i}`, at: i }),
    get: (store, i) => store.get(["catalog"], `item-${i % settings.items}`),
    "search with a filter": (store) => store.search(["catalog"], { filter: { kind: "rare", price: { $gt: 10 } }, limit: 10 }),
    listNamespaces: (store) => store.listNamespaces({ prefix: ["users"], limit: 100 }),
    "batch of 10 puts": (store, i) =>
      store.batch(Array.from({ length: 10 }, (_, k) => ({ namespace: ["batch"], key: `b-${i}-${k}`, value: { k } }))),
  };
  for (const [name, op] of Object.entries(workloads)) {
    log(name);
    result.operations[name] = await timeOperations(contenders(op), settings);
  }
} finally {
  await stores.ours.stop();
  await stores.official.stop();
  await db.stop();
}

const rows = Object.entries(result.operations).map(([name, r]) => {
  const ratio = r.official.p50 / r.ours.p50;
  return `| ${name} | ${r.official.p50.toFixed(3)} ms | ${r.ours.p50.toFixed(3)} ms | ${ratio.toFixed(2)}× | ${r.official.p99.toFixed(2)} / ${r.ours.p99.toFixed(2)} ms |`;
});
const report = [
  "# Long-term memory store",
  "",
  `Node ${result.machine.node} · ${result.machine.cpu} · ${result.machine.cores} cores · ${result.machine.date}. Preset ${preset}: ${settings.iterations} timed operations per store and workload after ${settings.warmup} untimed, interleaved in batches of 10; medians.`,
  `Each store in its own schema of one database, seeded with ${settings.items} items in ["catalog"] and ${settings.namespaces} user namespaces.`,
  "",
  "| Operation | Official p50 | Ours p50 | Ours, × faster | p99 official / ours |",
  "|---|---:|---:|---:|---:|",
  ...rows,
  "",
].join("\n");
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, "store.md"), report);
writeFileSync(join(args.out, "store.json"), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(report);
