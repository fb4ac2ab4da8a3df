// A TCP proxy that delays every chunk by a fixed time in each direction, so a
// database on localhost behaves like one in the same region (0.5 ms each way
// ≈ 1 ms round trip). Round trips, not CPU, dominate real deployments, and a
// benchmark on bare localhost hides them.
//
// It runs in a child process of its own so its timing never competes with
// the benchmark's event loop. Node timers have a 1 ms granularity, too coarse
// for 0.5 ms, and polling the clock would burn a core that the database and
// the benchmark need, so a worker thread sleeps with Atomics.wait (which
// takes fractional milliseconds) until the oldest chunk is due, then wakes
// the proxy.
import { fork } from "node:child_process";
import { Socket, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/** Starts the proxy in a child process; resolves to `{ port, close() }`. */
export async function startLatencyProxy({ targetPort, targetHost = "127.0.0.1", delayMs = 0.5 }) {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, LATENCY_PROXY: JSON.stringify({ targetPort, targetHost, delayMs }) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const port = await new Promise((resolve, reject) => {
    child.once("message", (m) => resolve(m.port));
    child.once("exit", (code) => reject(new Error(`latency proxy exited with code ${code}`)));
  });
  child.unref();
  child.channel?.unref();
  return {
    port,
    delayMs,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill();
      }),
  };
}

// Sleeps until each requested time (ms since the epoch of performance.now in
// the worker's clock domain, which is shared through performance.timeOrigin).
const SLEEPER = `
const { parentPort } = require("node:worker_threads");
const nap = new Int32Array(new SharedArrayBuffer(4));
parentPort.on("message", (dueAt) => {
  const remaining = dueAt - (performance.timeOrigin + performance.now());
  if (remaining > 0) Atomics.wait(nap, 0, 0, remaining);
  parentPort.postMessage(0);
});`;

/** How long before a chunk is due the worker wakes this thread, which then polls (about 0.15 ms: a worker wake-up's latency). */
const WAKE_UP_MS = 0.15;

function serve({ targetPort, targetHost, delayMs }) {
  const now = () => performance.timeOrigin + performance.now();
  const sleeper = new Worker(SLEEPER, { eval: true });
  // Constant delay, so one FIFO queue is also ordered by due time; at most one
  // wake-up is requested at a time, for the oldest chunk.
  const queue = [];
  let waiting = false;
  const flush = () => {
    waiting = false;
    const at = now();
    while (queue.length > 0 && queue[0].due <= at) {
      const { socket, chunk } = queue.shift();
      if (!socket.destroyed) socket.write(chunk);
    }
    if (queue.length === 0) return;
    // The last stretch is polled: waking through the worker takes too long.
    if (queue[0].due - at <= WAKE_UP_MS) {
      waiting = true;
      setImmediate(flush);
    } else wakeAt(queue[0].due - WAKE_UP_MS);
  };
  const wakeAt = (due) => {
    waiting = true;
    sleeper.postMessage(due);
  };
  sleeper.on("message", flush);
  const forward = (to) => (chunk) => {
    queue.push({ due: now() + delayMs, socket: to, chunk });
    if (!waiting) wakeAt(queue[0].due - WAKE_UP_MS);
  };

  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = new Socket();
    upstream.setNoDelay(true);
    upstream.connect(targetPort, targetHost);
    client.on("data", forward(upstream));
    upstream.on("data", forward(client));
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on("error", drop);
      s.on("close", drop);
    }
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
  process.on("disconnect", () => process.exit(0));
}

if (process.env.LATENCY_PROXY && process.send) serve(JSON.parse(process.env.LATENCY_PROXY));
