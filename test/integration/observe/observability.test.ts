import { HumanMessage } from "@langchain/core/messages";
import { END, MessagesAnnotation, START, StateGraph, interrupt } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import {
  type Logger,
  PostgresSaver,
  createCheckpointer,
} from "../../../src/index.js";
import { freePort } from "../../../src/embedded/server.js";
import { useTestDatabase } from "../../support/database.js";
import { checkpointWith, loopMetadata, threadId } from "../../support/fixtures.js";
import { registerRecordingTracer } from "../../support/recording-tracer.js";

/**
 * Logs, errors and spans carry ids, sizes and timings, never state contents
 * or passwords, whatever happens: slow operations, retries, bad input,
 * database errors, payloads too large, unreachable databases, fallbacks.
 */
const db = useTestDatabase();
const spans = registerRecordingTracer();

const PASSWORD = "pw-Zq8#secret";
const PAYLOAD_SECRET = "PAYLOAD-SECRET-7f3a9c";

interface Line {
  level: string;
  text: string;
}

/** Every line, with its fields, as the text a log shipper would see. */
function capturingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push({ level, text: `${message} ${JSON.stringify(fields ?? {})}` });
  };
  return { lines, debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** What a logger serializing the error would print: message, stack and every own property, down the cause chain. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error as Record<string, unknown> | undefined; e; e = e.cause as typeof e) {
    parts.push(String(e.message), String(e.stack));
    for (const key of Object.getOwnPropertyNames(e)) parts.push(`${key}=${String(e[key])}`);
    if (parts.length > 200) break;
  }
  return parts.join("\n");
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the operation to fail");
}

function secretState(): Record<string, unknown> {
  return { notes: `${PAYLOAD_SECRET} `.repeat(400), small: PAYLOAD_SECRET };
}

describe("nothing secret in logs, errors or spans", () => {
  it("payload contents never appear, on success or failure", async () => {
    const logger = capturingLogger();
    const saver = PostgresSaver.fromConnString(db.url(), { logger, slowOperationMs: 0, maxPayloadBytes: 64 * 1024 });
    await saver.setup();
    const thread = threadId("secret");
    const errors: unknown[] = [];

    const cp = checkpointWith(secretState());
    const stored = await saver.put(
      { configurable: { thread_id: thread, checkpoint_ns: "" } },
      cp,
      { ...loopMetadata, note: PAYLOAD_SECRET } as typeof loopMetadata,
      cp.channel_versions,
    );
    await saver.putWrites(stored, [["notes", PAYLOAD_SECRET], ["other", { deep: [PAYLOAD_SECRET] }]], "task-1");
    expect((await saver.getTuple(stored))?.checkpoint.channel_values.small).toBe(PAYLOAD_SECRET);
    for await (const _ of saver.list({ configurable: { thread_id: thread } }, { filter: { note: PAYLOAD_SECRET } })) {
      // consume
    }
    // Values JSON cannot store faithfully, next to a secret.
    const bigint = checkpointWith({ secret: PAYLOAD_SECRET, n: 10n });
    errors.push(await failure(saver.put({ configurable: { thread_id: thread } }, bigint, loopMetadata, bigint.channel_versions)));
    // Too large to store.
    const huge = checkpointWith({ secret: `${PAYLOAD_SECRET}`.repeat(20_000) });
    errors.push(await failure(saver.put({ configurable: { thread_id: thread } }, huge, loopMetadata, huge.channel_versions)));
    // A database error (a schema without tables) while writing a secret.
    const unset = PostgresSaver.fromConnString(db.url(), { logger, schema: "not_set_up", slowOperationMs: 0 });
    errors.push(await failure(unset.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions)));
    errors.push(await failure(unset.putWrites(stored, [["notes", PAYLOAD_SECRET]], "task-2")));
    await unset.end();
    await saver.end();

    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(["SERIALIZATION", "PAYLOAD_TOO_LARGE", "DATABASE", "DATABASE"]);
    expect(logger.lines.filter((l) => l.text.startsWith("slow checkpoint operation")).length).toBeGreaterThanOrEqual(8);
    const everything = [...logger.lines.map((l) => l.text), ...errors.map(errorText), JSON.stringify(spans)].join("\n");
    expect(everything).toContain(thread);
    expect(everything).not.toContain(PAYLOAD_SECRET);
  });

  it("passwords never appear: unreachable database, fallback, retries, and a malformed URL", async () => {
    const port = await freePort();
    const url = `postgresql://agent:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/agents`;
    const logger = capturingLogger();
    const errors: unknown[] = [];
    const options = { logger, retry: { maxAttempts: 2, baseDelayMs: 1 }, pool: { connectionTimeoutMillis: 300 }, env: {} };

    const memory = await createCheckpointer({ ...options, url, fallback: "memory" });
    expect(memory.isPersistent()).toBe(false);
    errors.push(await failure(createCheckpointer({ ...options, url, fallback: "throw" })));
    errors.push(await failure(createCheckpointer({ ...options, url: `${url}?password=${encodeURIComponent(PASSWORD)}`, fallback: "throw" })));
    const direct = PostgresSaver.fromConnString(url, { ...options, slowOperationMs: 0 });
    errors.push(await failure(direct.getTuple({ configurable: { thread_id: "t" } })));
    await direct.end();
    const malformed = `postgresql://agent:${PASSWORD}@127.0.0.1:notaport/agents`;
    errors.push(await failure((async () => PostgresSaver.fromConnString(malformed, options))()));
    expect(errors.at(-1)).toMatchObject({ code: "INVALID_INPUT" });

    expect(logger.lines.some((l) => l.level === "error" && l.text.includes("FALLING BACK"))).toBe(true);
    expect(logger.lines.some((l) => l.level === "debug" && l.text.includes("retrying"))).toBe(true);
    expect(errors).toHaveLength(4);
    const everything = [...logger.lines.map((l) => l.text), ...errors.map(errorText), JSON.stringify(spans)].join("\n");
    expect(everything).toContain("127.0.0.1");
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(encodeURIComponent(PASSWORD));
  });
});

describe("observing never changes an outcome", () => {
  it("a logger that throws does not turn a stored checkpoint into an error", async () => {
    const throwing: Logger = {
      debug() {},
      info() {},
      warn() {
        throw new Error("log shipper down");
      },
      error() {
        throw new Error("log shipper down");
      },
    };
    const saver = PostgresSaver.fromConnString(db.url(), { logger: throwing, slowOperationMs: 0 });
    await saver.setup();
    const cp = checkpointWith({ value: 1 });
    const stored = await saver.put({ configurable: { thread_id: threadId("throwing-log") } }, cp, loopMetadata, cp.channel_versions);
    expect((await saver.getTuple(stored))?.checkpoint.id).toBe(cp.id);
    await saver.end();
  });

  it("a corrupt stored value fails with SerializationError that quotes none of it", async () => {
    const saver = PostgresSaver.fromConnString(db.url());
    await saver.setup();
    const cp = checkpointWith({ value: "fine" });
    const thread = threadId("corrupt");
    const stored = await saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const admin = PostgresSaver.fromConnString(db.url());
    await admin.pool.query("UPDATE checkpoint_blobs SET blob = convert_to($2, 'UTF8') WHERE thread_id = $1", [
      thread,
      `${PAYLOAD_SECRET} is not JSON`,
    ]);
    await admin.end();
    const error = await failure(saver.getTuple(stored));
    await saver.end();
    expect(error).toMatchObject({ code: "SERIALIZATION" });
    expect(errorText(error)).not.toContain(PAYLOAD_SECRET);
  });
});

describe("tracing", () => {
  it("a real graph's operations are spans named langgraph.checkpoint.<operation>, with ids and sizes", async () => {
    const saver = PostgresSaver.fromConnString(db.url());
    await saver.setup();
    spans.length = 0;
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("ask", () => {
        const answer = interrupt("approve?");
        return { messages: [new HumanMessage(`approved: ${answer}`)] };
      })
      .addEdge(START, "ask")
      .addEdge("ask", END)
      .compile({ checkpointer: saver });
    const thread = threadId("traced");
    const config = { configurable: { thread_id: thread }, durability: "sync" as const };
    await graph.invoke({ messages: [new HumanMessage("hello")] }, config);
    await saver.end();

    const names = new Set(spans.map((s) => s.name));
    expect(names).toContain("langgraph.checkpoint.put");
    expect(names).toContain("langgraph.checkpoint.put_writes");
    expect(names).toContain("langgraph.checkpoint.get_tuple");
    expect(spans.every((s) => s.ended)).toBe(true);
    const put = spans.find((s) => s.name === "langgraph.checkpoint.put")!;
    expect(put.kind).toBe(2); // SpanKind.CLIENT
    expect(put.attributes).toMatchObject({
      "langgraph.thread_id": thread,
      "langgraph.checkpoint_ns": "",
      "db.system.name": "postgresql",
      "langgraph.checkpoint.attempts": 1,
    });
    expect(put.attributes["langgraph.checkpoint.bytes"]).toBeGreaterThan(0);
    expect(put.attributes["langgraph.checkpoint.rows"]).toBeGreaterThan(0);
    expect(put.attributes["langgraph.checkpoint_id"]).toEqual(expect.any(String));
    const interruptWrite = spans.find((s) => s.name === "langgraph.checkpoint.put_writes")!;
    expect(interruptWrite.attributes["langgraph.checkpoint_id"]).toEqual(expect.any(String));
    expect(spans.every((s) => s.status === undefined)).toBe(true);
  });

  it("a failed operation records the error on its span; tracing: false starts none", async () => {
    const unset = PostgresSaver.fromConnString(db.url(), { schema: "no_tables_here" });
    spans.length = 0;
    await expect(unset.getTuple({ configurable: { thread_id: "t" } })).rejects.toMatchObject({ sqlstate: "42P01" });
    await unset.end();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.name).toBe("langgraph.checkpoint.get_tuple");
    expect(spans[0]!.status).toMatchObject({ code: 2 }); // SpanStatusCode.ERROR
    expect(spans[0]!.exceptions[0]).toMatchObject({ name: "CheckpointerDatabaseError" });
    expect(spans[0]!.exceptions[0]!.message).toContain("42P01");

    const quiet = PostgresSaver.fromConnString(db.url(), { tracing: false });
    spans.length = 0;
    await quiet.getTuple({ configurable: { thread_id: "t" } });
    await quiet.end();
    expect(spans).toHaveLength(0);
  });
});
