import { MemorySaver, type SerializerProtocol } from "@langchain/langgraph-checkpoint";
import type { HealthReport } from "./health.js";

/**
 * LangGraph's `MemorySaver` with the same lifecycle surface as
 * `PostgresSaver` (`setup`, `warmup`, `health`, `isPersistent`, `end`), so
 * code written against the factory's result works with either. Checkpoints
 * live in this process only and are gone when it exits.
 */
export class MemoryCheckpointer extends MemorySaver {
  /**
   * @param fallbackReason why a requested database was not used; `health()`
   *   then reports "degraded" and carries the reason as `lastError`.
   */
  constructor(
    readonly fallbackReason?: string,
    serde?: SerializerProtocol,
  ) {
    super(serde);
  }

  async setup(): Promise<void> {}

  async warmup(): Promise<void> {}

  health(): HealthReport {
    return {
      status: this.fallbackReason === undefined ? "ok" : "degraded",
      backend: "memory",
      persistent: false,
      pool: { total: 0, idle: 0, waiting: 0 },
      circuit: "closed",
      lastError:
        this.fallbackReason === undefined
          ? null
          : { message: this.fallbackReason, code: "FALLBACK", operation: "createCheckpointer", at: this.createdAt },
    };
  }

  isPersistent(): boolean {
    return false;
  }

  async end(): Promise<void> {}

  private readonly createdAt = new Date().toISOString();
}
