// One leg of the benchmark: every workload, for every contender, over one
// way of reaching the database. MemorySaver runs only in the direct leg (it
// has no database to reach), and sits out the workloads on huge threads.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CONTENDERS, closeSaver } from "./contenders.mjs";
import { measureFloor } from "./floor.mjs";
import { GRAPH_STEPS, buildGraph, timeGraphs } from "./graph.mjs";
import { startLatencyProxy } from "./latency-proxy.mjs";
import { interleave, summarize, timeOperations } from "./measure.mjs";
import { saverWorkloads } from "./workloads.mjs";

/** A latency proxy in front of `url`'s server; resolves to `{ url, close }` with `url` going through it. */
export async function latencyUrl(url, delayMs) {
  const target = new URL(url);
  const proxy = await startLatencyProxy({ targetPort: Number(target.port || 5432), targetHost: target.hostname, delayMs });
  target.hostname = "127.0.0.1";
  target.port = String(proxy.port);
  return { url: target.toString(), close: proxy.close };
}

export async function runTransport(transport, { seeded, sizes, log }) {
  const contenders = CONTENDERS.filter((c) => c.database || transport.id === "direct");
  const savers = new Map(contenders.map((c) => [c.id, c.database ? c.create(transport.url) : seeded[c.id].saver]));
  const timing = { warmup: sizes.warmup, iterations: sizes.iterations, batch: Math.min(10, sizes.iterations) };
  const workloads = [];
  try {
    for (const workload of saverWorkloads(sizes)) {
      log(`${transport.id}: ${workload.label}`);
      const racers = [];
      for (const c of contenders) {
        if (workload.bigThread && !c.database) continue;
        const { fixtures, copy } = seeded[c.id];
        racers.push({ id: c.id, ...(await workload.setup({ saver: savers.get(c.id), fixtures, copy, transport: transport.id })) });
      }
      const results = await timeOperations(racers, timing);
      workloads.push({ id: workload.id, group: workload.group, label: workload.label, unit: "op", results, speedup: results.official.p50 / results.ours.p50 });
    }
    log(`${transport.id}: full scan of ${sizes.scanThread} checkpoints, one process per scan`);
    workloads.push(await fullScans(contenders.filter((c) => c.database), transport.url, sizes));
    for (const [i, concurrency] of sizes.concurrency.entries()) {
      log(`${transport.id}: ${GRAPH_STEPS}-step graph, ${concurrency} thread(s) at once`);
      const apps = contenders.map((c) => ({ id: c.id, app: buildGraph(savers.get(c.id)) }));
      const results = await timeGraphs(apps, { concurrency, waves: sizes.graphWaves[i], prefix: `e2e-${transport.id}-${concurrency}` });
      workloads.push({
        id: `e2e-${concurrency}`,
        group: "end to end",
        label: `${GRAPH_STEPS}-step graph, ${concurrency === 1 ? "1 thread" : `${concurrency} threads at once`}`,
        unit: "step",
        results,
        speedup: results.ours.stepsPerSec / results.official.stepsPerSec,
      });
    }
    log(`${transport.id}: floor (SELECT 1, one-row INSERT)`);
    const floor = await measureFloor(transport.url, timing);
    return { id: transport.id, label: transport.label, workloads, floor };
  } finally {
    for (const c of contenders) if (c.database) await closeSaver(savers.get(c.id));
  }
}

const run = promisify(execFile);
const scanner = fileURLToPath(new URL("./full-scan.mjs", import.meta.url));

async function fullScans(contenders, url, sizes) {
  const scans = new Map(contenders.map((c) => [c.id, []]));
  await interleave(contenders, sizes.scans, async (c) => {
    const { stdout } = await run(process.execPath, [scanner, c.id, url, "big"], { maxBuffer: 1 << 20 });
    scans.get(c.id).push(JSON.parse(stdout));
  });
  const results = Object.fromEntries(
    [...scans].map(([id, runs]) => {
      const { n, p50, p99 } = summarize(runs.map((r) => r.ms));
      return [id, { n, p50, p99, checkpoints: runs[0].checkpoints, peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)) }];
    }),
  );
  return {
    id: `scan-${sizes.scanThread}`,
    group: "list",
    label: `full scan of ${sizes.scanThread.toLocaleString("en-US")} checkpoints`,
    unit: "scan",
    results,
    speedup: results.official.p50 / results.ours.p50,
  };
}
