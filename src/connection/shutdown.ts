import { InvalidInputError } from "../errors.js";
import { describe } from "../config/checks.js";
import { type Logger, defaultLogger } from "../config/observability.js";

/** Signals a server is usually asked to stop with. */
export type ShutdownSignal = "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGQUIT" | "SIGUSR2";

interface Closable {
  end(): Promise<void>;
}

export interface CloseOnSignalsOptions {
  /** @default ["SIGTERM", "SIGINT"] */
  signals?: ShutdownSignal[];
  /**
   * Exit the process after closing (code 0, or 1 if closing failed). Set
   * false when your server has its own shutdown sequence that exits.
   * @default true
   */
  exit?: boolean;
  logger?: Logger;
}

/**
 * Opt-in helper for servers: on SIGTERM/SIGINT, `end()` each checkpointer
 * (draining operations in flight), then exit. Never installed by default.
 * Returns a function that removes the handlers.
 */
export function closeOnSignals(checkpointers: Closable | Closable[], options: CloseOnSignalsOptions = {}): () => void {
  const targets = Array.isArray(checkpointers) ? checkpointers : [checkpointers];
  for (const t of targets) {
    if (typeof (t as Partial<Closable> | null)?.end !== "function") {
      throw new InvalidInputError(`closeOnSignals needs checkpointers with an end() method, got ${describe(t)}`);
    }
  }
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const logger = options.logger ?? defaultLogger;
  let closing = false;
  const handler = (signal: ShutdownSignal) => {
    if (closing) return;
    closing = true;
    logger.info(`received ${signal}: closing checkpointers`);
    void Promise.allSettled(targets.map((t) => t.end())).then((results) => {
      const failed = results.filter((r) => r.status === "rejected");
      for (const f of failed) logger.error("closing a checkpointer failed", { error: String((f as PromiseRejectedResult).reason) });
      if (options.exit ?? true) process.exit(failed.length > 0 ? 1 : 0);
    });
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
