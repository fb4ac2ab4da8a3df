// The database a benchmark runs against: BENCH_DATABASE_URL, or an embedded
// PostgreSQL started for the run (stopped by the returned `stop`).
import { startEmbeddedPostgres } from "../../dist/esm/embedded/server.js";

export async function benchDatabase() {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, stop: async () => {} };
  const server = await startEmbeddedPostgres();
  return { url: server.url, stop: () => server.stop() };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
