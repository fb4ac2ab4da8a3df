import type { LastError } from "./executor.js";
import type { HealthMonitorOptions } from "../config/options.js";
import type { PoolStats } from "./pool.js";
import type { CircuitState } from "./resilience.js";

export interface HealthReport {
  /** "down": circuit open or the monitor's probes keep failing; "degraded": recovering or recent transient failures. */
  status: "ok" | "degraded" | "down";
  backend: "postgres" | "memory";
  /** false when checkpoints live only in this process's memory (the fallback). */
  persistent: boolean;
  pool: PoolStats;
  circuit: CircuitState;
  lastError: LastError | null;
}

/** A transient failure this recent (even one retries recovered from) reports "degraded". */
export const DEGRADED_WINDOW_MS = 60_000;

export function healthStatus(input: {
  circuit: CircuitState;
  monitorDown: boolean;
  monitorFailures: number;
  lastError: LastError | undefined;
  now: number;
}): HealthReport["status"] {
  if (input.circuit === "open" || input.monitorDown) return "down";
  const recentError = input.lastError !== undefined && input.now - Date.parse(input.lastError.at) < DEGRADED_WINDOW_MS;
  if (input.circuit === "half-open" || input.monitorFailures > 0 || recentError) return "degraded";
  return "ok";
}

/**
 * Probes the database every `intervalMs` and reports it down after
 * `failuresBeforeDown` consecutive failures. Its timer is unref'd: it never
 * keeps the process alive.
 */
export class HealthMonitor {
  consecutiveFailures = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly options: Required<HealthMonitorOptions>,
    private readonly probe: () => Promise<void>,
  ) {}

  get isDown(): boolean {
    return this.consecutiveFailures >= this.options.failuresBeforeDown;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One probe now (the timer calls this; tests may too). */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.probe();
      this.consecutiveFailures = 0;
    } catch {
      this.consecutiveFailures += 1;
    } finally {
      this.running = false;
    }
  }
}
