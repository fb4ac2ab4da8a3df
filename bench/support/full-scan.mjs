// Lists one whole thread in a fresh process and reports how long it took and
// how much the process's peak RSS grew: a process of its own, so the peak is
// the scan's and not something earlier in the benchmark.
//   node bench/support/full-scan.mjs <contender id> <url> <thread id>
import { performance } from "node:perf_hooks";
import { CONTENDERS, closeSaver } from "./contenders.mjs";

const [contenderId, url, threadId] = process.argv.slice(2);
const saver = CONTENDERS.find((c) => c.id === contenderId).create(url);
const config = { configurable: { thread_id: threadId, checkpoint_ns: "" } };
// Connect and load everything first, so the growth measured is the scan's own.
await saver.getTuple(config);
const before = process.resourceUsage().maxRSS;
const start = performance.now();
let checkpoints = 0;
for await (const _ of saver.list(config)) checkpoints += 1;
const ms = performance.now() - start;
const peakRssMb = (process.resourceUsage().maxRSS - before) / 1024;
await closeSaver(saver);
process.stdout.write(JSON.stringify({ checkpoints, ms, peakRssMb }) + "\n");
