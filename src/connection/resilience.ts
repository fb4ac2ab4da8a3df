/**
 * Retry backoff and a circuit breaker. Pure: time comes from an injected
 * clock and randomness from an injected source, so both are unit-tested
 * without waiting.
 */

export interface BackoffOptions {
  /** Delay ceiling for the first retry. */
  baseDelayMs: number;
  /** No single wait is longer than this. */
  maxDelayMs: number;
}

/**
 * Exponential backoff with full jitter: a uniformly random wait in
 * [0, min(max, base * 2^(attempt-1))). Full jitter spreads the retries of
 * many replicas that failed at the same moment, so they do not stampede a
 * database that is coming back. `attempt` is 1 for the first retry.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

export type CircuitState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before letting one trial call through. */
  cooldownMs: number;
}

/**
 * closed → open after `failureThreshold` consecutive failures → half-open
 * once `cooldownMs` has passed, admitting a single trial call → closed when
 * it succeeds, open again when it fails. While open, callers fail fast
 * instead of queueing on a database that is down.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private trialInFlight = false;

  constructor(
    private readonly options: BreakerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): CircuitState {
    if (this.openedAt === undefined) return "closed";
    return this.now() - this.openedAt >= this.options.cooldownMs ? "half-open" : "open";
  }

  /** Milliseconds until an open circuit lets a trial call through (0 when not open). */
  get retryInMs(): number {
    if (this.openedAt === undefined) return 0;
    return Math.max(0, this.openedAt + this.options.cooldownMs - this.now());
  }

  /**
   * Whether a call may proceed now. In half-open state only one trial call
   * is admitted until it reports back.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "open" || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  onSuccess(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
  }

  onFailure(): void {
    this.failures += 1;
    const wasTrial = this.trialInFlight;
    this.trialInFlight = false;
    if (wasTrial || this.failures >= this.options.failureThreshold) this.openedAt = this.now();
  }

  /** A call that was admitted but ended without saying anything about the database (e.g. bad input). */
  onNeutral(): void {
    this.trialInFlight = false;
  }
}
