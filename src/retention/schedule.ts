import { formatDuration } from "../config/duration.js";
import { CheckpointerClosedError } from "../errors.js";
import { errorCode } from "../observe/instrument.js";
import type { Logger } from "../config/observability.js";
import type { PruneOptions, PruneResult, ResolvedRetention } from "../config/retention.js";

/** A started schedule when `settings` turn retention on; undefined when it is off. */
export function startRetention(
  settings: ResolvedRetention | false,
  prune: (options: PruneOptions) => Promise<PruneResult>,
  logger: Logger,
  onRun: (ok: boolean) => void,
): RetentionSchedule | undefined {
  if (!settings) return undefined;
  const schedule = new RetentionSchedule(settings, prune, logger, onRun);
  schedule.start();
  return schedule;
}

/**
 * Automatic retention: `prune()` on a timer. Runs never overlap (the next
 * is scheduled when one ends), the timer never keeps the process alive, and
 * a failed run is logged and counted, never thrown: the next run tries again.
 */
export class RetentionSchedule {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly settings: ResolvedRetention,
    private readonly prune: (options: PruneOptions) => Promise<PruneResult>,
    private readonly logger: Logger,
    /** Told how each run ended (the retention runs metric). */
    private readonly onRun: (ok: boolean) => void,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * The first run comes after half to all of `every`, at random, so replicas
   * started together do not all prune at the same moment.
   */
  start(): void {
    this.schedule(this.settings.everyMs * (0.5 + this.random() / 2));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One run now; resolves when it is done (it never rejects). */
  async runOnce(): Promise<void> {
    const { keepLast, olderThan } = this.settings;
    const started = performance.now();
    try {
      const result = await this.prune({ keepLast, olderThan });
      this.onRun(true);
      this.log("info", "retention: pruned checkpoints", {
        keep_last: keepLast,
        older_than: olderThan,
        threads: result.threads,
        threads_deleted: result.threadsDeleted,
        checkpoints: result.checkpoints,
        writes: result.writes,
        blobs: result.blobs,
        duration_ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      if (error instanceof CheckpointerClosedError) return; // end() was called mid-run
      this.onRun(false);
      this.log("warn", `retention: prune failed; retrying in ${formatDuration(this.settings.everyMs)}`, {
        error: error instanceof Error ? error.message : String(error),
        // As the errors metric labels it: the SQLSTATE ("42P01") says more than "DATABASE".
        code: errorCode(error),
      });
    }
  }

  /** A logger that throws must not end the schedule (or surface as an unhandled rejection). */
  private log(level: "info" | "warn", message: string, fields: Record<string, unknown>): void {
    try {
      this.logger[level](message, fields);
    } catch {
      // Nothing else to tell.
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      await this.runOnce();
      this.schedule(this.settings.everyMs);
    }, delayMs);
    this.timer.unref();
  }
}
