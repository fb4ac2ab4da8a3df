// Child process for the concurrent setup() test: waits for a shared start
// time so every process calls setup() at the same moment, then reports.
// Imports the built package (npm test builds first), as an installed user would.
import { PostgresSaver } from "../../dist/esm/index.js";

const [url, schema, startAtText] = process.argv.slice(2);
const startAt = Number(startAtText);
const saver = PostgresSaver.fromConnString(url, { schema });
await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
try {
  await saver.setup();
  process.stdout.write(JSON.stringify({ ok: true, pid: process.pid }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error), cause: String(error?.cause) }));
  process.exitCode = 1;
} finally {
  await saver.end();
}
