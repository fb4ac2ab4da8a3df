import { describe, expect, it } from "vitest";
import { ENVIRONMENT, optionsFromEnv, urlFromEnv } from "../../../src/config/env.js";
import { InvalidOptionsError, isTransient } from "../../../src/errors.js";
import { DEFAULTS, resolveOptions } from "../../../src/config/options.js";
import { redactConnectionString } from "../../../src/config/redact.js";

describe("environment variables", () => {
  it("map onto options, nested groups included", () => {
    expect(
      optionsFromEnv({
        LANGGRAPH_CHECKPOINT_SCHEMA: "agents",
        LANGGRAPH_CHECKPOINT_POOL_MAX: "25",
        LANGGRAPH_CHECKPOINT_POOL_MIN: "0",
        LANGGRAPH_CHECKPOINT_KEEPALIVE: "false",
        LANGGRAPH_CHECKPOINT_RETRY_MAX_ATTEMPTS: "3",
        LANGGRAPH_CHECKPOINT_FALLBACK: "throw",
        LANGGRAPH_CHECKPOINT_HEALTH_INTERVAL_MS: "5000",
      }),
    ).toEqual({
      schema: "agents",
      pool: { max: 25, min: 0, keepAlive: false },
      retry: { maxAttempts: 3 },
      fallback: "throw",
      healthMonitor: { intervalMs: 5000 },
    });
  });

  it("switch observability and compaction off, or tune them", () => {
    expect(
      optionsFromEnv({
        LANGGRAPH_CHECKPOINT_METRICS: "false",
        LANGGRAPH_CHECKPOINT_METRICS_PREFIX: "ignored_",
        LANGGRAPH_CHECKPOINT_SLOW_MS: "off",
        LANGGRAPH_CHECKPOINT_TRACING: "0",
        LANGGRAPH_CHECKPOINT_COMPACTION: "off",
        LANGGRAPH_CHECKPOINT_COMPACTION_LEVEL: "5",
        LANGGRAPH_CHECKPOINT_MAX_PAYLOAD_BYTES: "1048576",
      }),
    ).toEqual({ metrics: false, slowOperationMs: false, tracing: false, compaction: false, maxPayloadBytes: 1_048_576 });
    expect(
      optionsFromEnv({
        LANGGRAPH_CHECKPOINT_METRICS: "true",
        LANGGRAPH_CHECKPOINT_METRICS_PREFIX: "myapp_",
        LANGGRAPH_CHECKPOINT_SLOW_MS: "100",
        LANGGRAPH_CHECKPOINT_COMPACTION: "on",
        LANGGRAPH_CHECKPOINT_COMPACTION_THRESHOLD: "4096",
        LANGGRAPH_CHECKPOINT_COMPACTION_CODEC: "deflate",
      }),
    ).toEqual({ metrics: { prefix: "myapp_" }, slowOperationMs: 100, compaction: { thresholdBytes: 4096, codec: "deflate" } });
    expect(
      optionsFromEnv({
        LANGGRAPH_CHECKPOINT_COMPACTION_DELTAS: "false",
        LANGGRAPH_CHECKPOINT_COMPACTION_MAX_DELTA_CHAIN: "8",
        LANGGRAPH_CHECKPOINT_COMPACTION_DELTA_CACHE_BYTES: "1048576",
      }),
    ).toEqual({ compaction: { deltas: false, maxDeltaChain: 8, deltaCacheBytes: 1_048_576 } });
    expect(resolveOptions(optionsFromEnv({ LANGGRAPH_CHECKPOINT_COMPACTION_DELTAS: "no" })).compaction).toMatchObject({ deltas: false });
    expect(() => optionsFromEnv({ LANGGRAPH_CHECKPOINT_COMPACTION_DELTAS: "sometimes" })).toThrow(/LANGGRAPH_CHECKPOINT_COMPACTION_DELTAS must be true or false/);
    expect(() => resolveOptions(optionsFromEnv({ LANGGRAPH_CHECKPOINT_COMPACTION_MAX_DELTA_CHAIN: "0" }))).toThrow(/compaction\.maxDeltaChain/);
    expect(() => resolveOptions(optionsFromEnv({ LANGGRAPH_CHECKPOINT_COMPACTION_CODEC: "zstd" }))).toThrow(
      /compaction.codec must be one of deflate, gzip, br/,
    );
    expect(() => resolveOptions(optionsFromEnv({ LANGGRAPH_CHECKPOINT_METRICS_PREFIX: "my-app" }))).toThrow(InvalidOptionsError);
  });

  it("choose prepared statements: auto, on or off", () => {
    expect(resolveOptions(undefined).preparedStatements).toBe("auto");
    expect(optionsFromEnv({ LANGGRAPH_CHECKPOINT_PREPARED_STATEMENTS: "AUTO" })).toEqual({ preparedStatements: "auto" });
    expect(optionsFromEnv({ LANGGRAPH_CHECKPOINT_PREPARED_STATEMENTS: "true" })).toEqual({ preparedStatements: true });
    expect(optionsFromEnv({ LANGGRAPH_CHECKPOINT_PREPARED_STATEMENTS: "off" })).toEqual({ preparedStatements: false });
    expect(() => optionsFromEnv({ LANGGRAPH_CHECKPOINT_PREPARED_STATEMENTS: "sometimes" })).toThrow(
      /LANGGRAPH_CHECKPOINT_PREPARED_STATEMENTS must be auto, true or false/,
    );
    expect(() => resolveOptions({ preparedStatements: "yes" as never })).toThrow('preparedStatements must be "auto", true or false, got a string');
  });

  it("choose what is revived: an allow-list of class paths, and what an unrevivable object does", () => {
    expect(resolveOptions(undefined).revive).toEqual({
      allow: [["langchain_core", "messages"], ["langchain_core", "documents"], ["langchain_core", "prompt_values"], ["langchain_core", "outputs"]],
      unrevivable: "throw",
    });
    const fromEnv = optionsFromEnv({
      LANGGRAPH_CHECKPOINT_REVIVE_ALLOW: " langchain_core.messages , langchain_core.prompt_values.StringPromptValue ",
      LANGGRAPH_CHECKPOINT_UNREVIVABLE: "plain",
    });
    expect(fromEnv).toEqual({ revive: { allow: ["langchain_core.messages", "langchain_core.prompt_values.StringPromptValue"], unrevivable: "plain" } });
    expect(resolveOptions(fromEnv).revive).toEqual({
      allow: [["langchain_core", "messages"], ["langchain_core", "prompt_values", "StringPromptValue"]], unrevivable: "plain",
    });
    expect(optionsFromEnv({ LANGGRAPH_CHECKPOINT_REVIVE_ALLOW: "none" })).toEqual({ revive: { allow: [] } });
    expect(() => optionsFromEnv({ LANGGRAPH_CHECKPOINT_UNREVIVABLE: "ignore" })).toThrow(
      'LANGGRAPH_CHECKPOINT_UNREVIVABLE must be "throw" or "plain", got "ignore"',
    );
    expect(() => resolveOptions(optionsFromEnv({ LANGGRAPH_CHECKPOINT_REVIVE_ALLOW: "langchain_core;rm" }))).toThrow(
      /revive.allow entries must be dotted class paths/,
    );
  });

  it("refuse malformed values, naming the variable", () => {
    expect(() => optionsFromEnv({ LANGGRAPH_CHECKPOINT_POOL_MAX: "ten" })).toThrow(/LANGGRAPH_CHECKPOINT_POOL_MAX must be a non-negative integer/);
    expect(() => optionsFromEnv({ LANGGRAPH_CHECKPOINT_KEEPALIVE: "maybe" })).toThrow(InvalidOptionsError);
    expect(() => optionsFromEnv({ LANGGRAPH_CHECKPOINT_FALLBACK: "disk" })).toThrow(/"memory" or "throw"/);
  });

  it("every variable resolves to a real option", () => {
    for (const [name, path] of ENVIRONMENT) {
      const [group, key] = path.split(".");
      if (key === undefined) continue;
      expect(Object.keys(DEFAULTS[group as keyof typeof DEFAULTS] as object), name).toContain(key);
    }
  });

  it("take the URL from LANGGRAPH_CHECKPOINT_URL, else DATABASE_URL", () => {
    expect(urlFromEnv({ DATABASE_URL: "postgres://b", LANGGRAPH_CHECKPOINT_URL: "postgres://a" })).toBe("postgres://a");
    expect(urlFromEnv({ DATABASE_URL: "postgres://b" })).toBe("postgres://b");
    expect(urlFromEnv({})).toBeUndefined();
  });
});

describe("resolved options", () => {
  it("keep an explicit 0 instead of replacing it with the default", () => {
    const o = resolveOptions({ pool: { min: 0, idleTimeoutMillis: 0 }, healthCheckIdleMs: 0, retry: { baseDelayMs: 0 } });
    expect(o.pool.min).toBe(0);
    expect(o.pool.idleTimeoutMillis).toBe(0);
    expect(o.healthCheckIdleMs).toBe(0);
    expect(o.retry.baseDelayMs).toBe(0);
    expect(o.pool.max).toBe(DEFAULTS.pool.max);
  });
  it("refuse contradictions and nonsense with a message naming the option", () => {
    expect(() => resolveOptions({ pool: { min: 5, max: 2 } })).toThrow(/pool.min \(5\) must not exceed pool.max \(2\)/);
    expect(() => resolveOptions({ retry: { maxAttempts: 0 } })).toThrow(/retry.maxAttempts must be a positive integer/);
    expect(() => resolveOptions({ circuitBreaker: { cooldownMs: -1 } })).toThrow(InvalidOptionsError);
  });
});

describe("redactConnectionString", () => {
  it.each([
    ["postgresql://app:s3cr%40t@db.internal:5432/agents", "postgresql://app:***@db.internal:5432/agents"],
    ["postgres://db/agents?user=app&password=s3cret&sslmode=require", "postgres://db/agents?user=app&password=***&sslmode=require"],
    ["host=db user=app password=s3cret dbname=agents", "host=db user=app password=*** dbname=agents"],
    ["host=db password='with space' dbname=x", "host=db password=*** dbname=x"],
    ["postgres://nopassword@db/x", "postgres://nopassword@db/x"],
    ["could not reach postgresql://u:s3cret@h/db: refused", "could not reach postgresql://u:***@h/db: refused"],
    ["postgres://op:s3cr@t with space@db/x", "postgres://op:***@db/x"],
    ["reach postgresql://agent:pw-s3cr#t@127.0.0.1:5432/agents: refused", "reach postgresql://agent:***@127.0.0.1:5432/agents: refused"],
    ["postgresql://agent:s3cr?t/x@db", "postgresql://agent:***@db"],
    ["not a valid connection string: postgres://u:s3cr@t@[bad", "not a valid connection string: postgres://u:***@[bad"],
  ])("%s", (input, expected) => {
    expect(redactConnectionString(input)).toBe(expected);
    expect(redactConnectionString(input)).not.toMatch(/s3cr|with space|@t/);
  });
});

describe("isTransient", () => {
  it.each([
    [{ code: "57P01" }, true],
    [{ code: "08006" }, true],
    [{ code: "40001" }, true],
    [{ code: "40P01" }, true],
    [{ code: "53300" }, true],
    [{ code: "23505" }, false],
    [{ code: "42601" }, false],
    [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), true],
    // Five capital letters, like a SQLSTATE, but a socket error.
    [Object.assign(new Error("write EPIPE"), { code: "EPIPE" }), true],
    [new Error("Connection terminated unexpectedly"), true],
    [new Error("value too long"), false],
  ])("%o → %s", (error, expected) => {
    expect(isTransient(error)).toBe(expected);
  });
});
