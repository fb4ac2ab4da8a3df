// Child process for the lifecycle tests (imports the built package).
//   idle:   use a saver with a health monitor, never call end(); the process must exit by itself.
//   signal: install closeOnSignals(), print "ready", wait to be signalled.
import { PostgresSaver, closeOnSignals } from "../../dist/esm/index.js";

const [url, mode] = process.argv.slice(2);
const saver = PostgresSaver.fromConnString(url, {
  schema: `lifecycle_${mode}`,
  healthMonitor: { intervalMs: 50, failuresBeforeDown: 3 },
});
await saver.setup();
const checkpoint = { v: 4, id: `1ef00000-0000-6000-8000-${String(process.pid).padStart(12, "0")}`, ts: new Date().toISOString(),
  channel_values: { a: 1 }, channel_versions: { a: 1 }, versions_seen: {} };
await saver.put({ configurable: { thread_id: "lifecycle" } }, checkpoint, { source: "input", step: -1, parents: {} }, { a: 1 });
console.log("stored");
if (mode === "signal") {
  closeOnSignals(saver, { logger: { debug() {}, info() {}, warn() {}, error: console.error } });
  console.log("ready");
  // Keep the process busy until the signal arrives.
  setInterval(() => {}, 1000);
}
