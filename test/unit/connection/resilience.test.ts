import { describe, expect, it } from "vitest";
import { CircuitBreaker, backoffDelay } from "../../../src/connection/resilience.js";

describe("backoffDelay (full jitter)", () => {
  const options = { baseDelayMs: 100, maxDelayMs: 2_000 };

  it("grows the ceiling exponentially from the base and caps it", () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, options, top))).toEqual([99, 199, 399, 799, 1599, 1999, 1999]);
  });

  it("draws uniformly below the ceiling", () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.5)).toBe(200);
  });

  it("never exceeds the cap, even for huge attempt numbers", () => {
    expect(backoffDelay(10_000, options, () => 0.999)).toBeLessThan(2_000);
  });
});

describe("CircuitBreaker with a fake clock", () => {
  function setup(threshold = 3, cooldownMs = 1_000) {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: threshold, cooldownMs }, () => now);
    return { breaker, advance: (ms: number) => (now += ms) };
  }

  it("opens after the threshold of consecutive failures and fails fast", () => {
    const { breaker } = setup();
    breaker.onFailure();
    breaker.onFailure();
    expect(breaker.state).toBe("closed");
    breaker.onFailure();
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.retryInMs).toBe(1_000);
  });

  it("a success resets the count of consecutive failures", () => {
    const { breaker } = setup();
    breaker.onFailure();
    breaker.onFailure();
    breaker.onSuccess();
    breaker.onFailure();
    breaker.onFailure();
    expect(breaker.state).toBe("closed");
  });

  it("goes half-open after the cooldown and admits exactly one trial", () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i += 1) breaker.onFailure();
    advance(999);
    expect(breaker.state).toBe("open");
    advance(1);
    expect(breaker.state).toBe("half-open");
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it("closes when the trial succeeds", () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i += 1) breaker.onFailure();
    advance(1_000);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess();
    expect(breaker.state).toBe("closed");
    expect(breaker.tryAcquire()).toBe(true);
  });

  it("reopens for a full cooldown when the trial fails", () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i += 1) breaker.onFailure();
    advance(1_000);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onFailure();
    expect(breaker.state).toBe("open");
    advance(500);
    expect(breaker.state).toBe("open");
    advance(500);
    expect(breaker.state).toBe("half-open");
  });

  it("a neutral outcome (bad input) frees the trial slot without closing or opening", () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i += 1) breaker.onFailure();
    advance(1_000);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onNeutral();
    expect(breaker.state).toBe("half-open");
    expect(breaker.tryAcquire()).toBe(true);
  });
});
