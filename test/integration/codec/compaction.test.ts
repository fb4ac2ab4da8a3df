import zlib from "node:zlib";
import { BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  type Checkpoint,
  type CheckpointTuple,
  JsonPlusSerializer,
  emptyCheckpoint,
  uuid6,
} from "@langchain/langgraph-checkpoint";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conversationMessages } from "../../../bench/support/conversation.mjs";
import {
  CheckpointerError,
  PayloadTooLargeError,
  PostgresSaver,
  type PostgresSaverOptions,
  SerializationError,
} from "../../../src/index.js";
import { checkpointWith, loopMetadata, threadId } from "../../support/fixtures.js";
import { countRows } from "../../support/rows.js";
import { useSaver } from "../../support/saver.js";

/**
 * Compaction against a real Postgres: large blobs land in the official tables
 * compressed and re-tagged (`json+br`), every kind of row (compressed with any
 * codec, plain, written by the official saver) reads back in one thread, and
 * hostile rows planted with SQL (decompression bombs, corrupt data) fail with
 * typed errors while the saver keeps working. `env.saver` has the default
 * options (brotli from 1 KiB, 256 MiB cap).
 */
const env = useSaver();
const MiB = 1024 * 1024;
const serde = new JsonPlusSerializer();

/** Savers with other options on the same pool, keyed by name; ended after the file. */
const savers: Record<string, PostgresSaver> = {};
const saverOptions: Record<string, PostgresSaverOptions> = {
  off: { compaction: false },
  deflate: { compaction: { codec: "deflate" } },
  gzip: { compaction: { codec: "gzip", level: 6 } },
  capped: { maxPayloadBytes: MiB },
  /** Default compaction and 256 MiB cap; only the slow-operation log is off (refusing a 256 MiB bomb takes about a second). */
  quiet: { slowOperationMs: false },
  tiny: { maxPayloadBytes: 4096 },
};
const saver = (name: keyof typeof saverOptions): PostgresSaver => savers[name]!;

beforeAll(() => {
  for (const [name, options] of Object.entries(saverOptions)) savers[name] = new PostgresSaver(env.pool, undefined, options);
});
afterAll(async () => {
  for (const s of Object.values(savers)) await s.end();
});

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** What a saver stores for `value` before compaction: the serializer's type and bytes. */
async function serialized(value: unknown): Promise<{ type: string; bytes: Buffer }> {
  const [type, bytes] = await serde.dumpsTyped(value);
  return { type, bytes: Buffer.from(bytes) };
}

/** Equal as stored: same serializer type and byte-identical serialization (message classes, ids, tool calls...). */
async function expectSameValue(actual: unknown, expected: unknown): Promise<void> {
  const [a, e] = await Promise.all([serialized(actual), serialized(expected)]);
  expect(a.type).toBe(e.type);
  expect(a.bytes.equals(e.bytes), "serialized forms differ").toBe(true);
}

async function expectSameValues(actual: Record<string, unknown>, expected: Record<string, unknown>): Promise<void> {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const key of Object.keys(expected)) await expectSameValue(actual[key], expected[key]);
}

interface StoredRow {
  channel: string;
  version?: string;
  task_id?: string;
  type: string;
  size: number | null;
}

async function blobRows(thread: string): Promise<StoredRow[]> {
  const { rows } = await env.pool.query<StoredRow>(
    `SELECT channel, version, type, octet_length(blob) AS size FROM checkpoint_blobs WHERE thread_id = $1 ORDER BY channel, version`,
    [thread],
  );
  return rows;
}

async function writeRows(thread: string): Promise<StoredRow[]> {
  const { rows } = await env.pool.query<StoredRow>(
    `SELECT channel, task_id, type, octet_length(blob) AS size FROM checkpoint_writes WHERE thread_id = $1 ORDER BY task_id, idx`,
    [thread],
  );
  return rows;
}

async function listAll(s: PostgresSaver | OfficialSaver, config: RunnableConfig): Promise<CheckpointTuple[]> {
  const out: CheckpointTuple[] = [];
  for await (const tuple of s.list(config)) out.push(tuple);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

function checkpoint(values: Record<string, unknown>, versions: Record<string, number>): Checkpoint {
  return { ...emptyCheckpoint(), id: uuid6(-1), channel_values: values, channel_versions: versions };
}

/** No client is left checked out of the shared pool after a failed read. */
function expectNoLeakedClients(): void {
  expect(env.pool.totalCount - env.pool.idleCount).toBe(0);
  expect(env.pool.waitingCount).toBe(0);
}

/** A fresh thread written and read back normally: the saver still works after whatever happened before. */
async function expectStillWorking(s: PostgresSaver): Promise<void> {
  const thread = threadId("healthy");
  const messages = conversationMessages(20, 7);
  const cp = checkpointWith({ messages });
  const config = await s.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
  const tuple = await s.getTuple(config);
  await expectSameValue(tuple?.checkpoint.channel_values.messages, messages);
  expectNoLeakedClients();
}

/**
 * A decompression bomb whose plain form is a valid JSON string of `total`
 * bytes (`"AAAA…"`), streamed through a zlib compression stream 1 MiB at a
 * time so the plain form never exists in memory. Being valid JSON, it reads
 * fine under a large enough limit: only the limit refuses it.
 */
async function jsonBomb(codec: "br" | "deflate" | "gzip", total: number): Promise<Buffer> {
  const stream = codec === "br"
    ? zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } })
    : codec === "deflate" ? zlib.createDeflateRaw({ level: 9 }) : zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  const finished = new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const write = async (chunk: Uint8Array) => {
    if (!stream.write(chunk)) await new Promise((resolve) => stream.once("drain", resolve));
  };
  const fill = Buffer.alloc(MiB, "A");
  await write(Buffer.from('"'));
  for (let left = total - 2; left > 0; left -= fill.byteLength) await write(left >= fill.byteLength ? fill : fill.subarray(0, left));
  await write(Buffer.from('"'));
  stream.end();
  await finished;
  return Buffer.concat(out);
}

function expectTooLarge(error: unknown, limitBytes: number): void {
  expect(error).toBeInstanceOf(PayloadTooLargeError);
  expect(error).toBeInstanceOf(CheckpointerError);
  expect((error as PayloadTooLargeError).code).toBe("PAYLOAD_TOO_LARGE");
  expect((error as PayloadTooLargeError).limitBytes).toBe(limitBytes);
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe("a large state is stored compressed and reads back equal", () => {
  const messages = conversationMessages(200);

  it("put: the messages blob is json+br and under half its serialized size; a small channel stays json", async () => {
    const thread = threadId("large");
    const small = { step: 3, label: "short" };
    const cp = checkpointWith({ messages, small });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);

    const raw = await serialized(messages);
    const rawSmall = await serialized(small);
    expect(raw.bytes.byteLength).toBeGreaterThan(100_000);
    const rows = await blobRows(thread);
    expect(rows.map((r) => [r.channel, r.type])).toEqual([["messages", "json+br"], ["small", "json"]]);
    expect(rows[0]!.size).toBeLessThan(raw.bytes.byteLength / 2);
    expect(rows[1]!.size).toBe(rawSmall.bytes.byteLength);

    const tuple = await env.saver.getTuple(config);
    expect(tuple?.config).toEqual(config);
    const readBack = tuple!.checkpoint.channel_values.messages as BaseMessage[];
    expect(readBack).toHaveLength(200);
    for (const m of readBack) expect(m).toBeInstanceOf(BaseMessage);
    expect(readBack.map((m) => m.getType())).toEqual(messages.map((m) => m.getType()));
    await expectSameValues(tuple!.checkpoint.channel_values, { messages, small });

    const listed = await listAll(env.saver, { configurable: { thread_id: thread } });
    expect(listed).toHaveLength(1);
    expect(listed[0]!.config).toEqual(config);
    await expectSameValues(listed[0]!.checkpoint.channel_values, { messages, small });
  });

  it("putWrites: a large write is stored json+br, a small one json, and both come back as pending writes", async () => {
    const thread = threadId("large-writes");
    const cp = checkpointWith({ counter: 1 });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const big = conversationMessages(120, 3);
    await env.saver.putWrites(config, [["messages", big], ["counter", 2]], "task-1");

    const rows = await writeRows(thread);
    expect(rows.map((r) => [r.channel, r.type])).toEqual([["messages", "json+br"], ["counter", "json"]]);
    expect(rows[0]!.size).toBeLessThan((await serialized(big)).bytes.byteLength / 2);

    for (const tuple of [await env.saver.getTuple(config), (await listAll(env.saver, { configurable: { thread_id: thread } }))[0]]) {
      const writes = tuple!.pendingWrites!;
      expect(writes.map(([task, channel]) => [task, channel])).toEqual([["task-1", "messages"], ["task-1", "counter"]]);
      await expectSameValue(writes[0]![2], big);
      expect(writes[1]![2]).toBe(2);
    }
  });

  it("a large compressible Uint8Array is stored bytes+br and comes back as its own plain Uint8Array", async () => {
    const thread = threadId("bytes");
    const payload = new Uint8Array(64 * 1024).map((_, i) => i % 7);
    const cp = checkpointWith({ payload });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const rows = await blobRows(thread);
    expect(rows.map((r) => r.type)).toEqual(["bytes+br"]);
    expect(rows[0]!.size).toBeLessThan(payload.byteLength / 10);
    const value = (await env.saver.getTuple(config))!.checkpoint.channel_values.payload as Uint8Array;
    expect(value).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(value)).toBe(false);
    expect(Buffer.from(value).equals(Buffer.from(payload))).toBe(true);
  });
});

describe("every codec's rows are readable by every saver, whatever its own compaction setting", () => {
  const messages = conversationMessages(200, 5);
  const writers = [
    { writer: "default", type: "json+br" },
    { writer: "off", type: "json" },
    { writer: "deflate", type: "json+deflate" },
    { writer: "gzip", type: "json+gzip" },
  ];
  const readers = ["default", "off", "deflate", "gzip"];
  const byName = (name: string) => (name === "default" ? env.saver : saver(name));

  it.each(writers)("written by the $writer saver: stored as $type, read back equal by all four", async ({ writer, type }) => {
    const thread = threadId(`codec-${writer}`);
    const cp = checkpointWith({ messages });
    const config = await byName(writer).put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const extra = conversationMessages(40, 9);
    await byName(writer).putWrites(config, [["messages", extra]], "task-x");

    const raw = (await serialized(messages)).bytes.byteLength;
    const [blob] = await blobRows(thread);
    const [write] = await writeRows(thread);
    expect(blob!.type).toBe(type);
    expect(write!.type).toBe(type);
    if (type === "json") expect(blob!.size).toBe(raw);
    else expect(blob!.size).toBeLessThan(raw / 2);

    for (const reader of readers) {
      const tuple = await byName(reader).getTuple(config);
      await expectSameValue(tuple?.checkpoint.channel_values.messages, messages);
      await expectSameValue(tuple?.pendingWrites?.[0]?.[2], extra);
    }
  });
});

describe("one thread mixing rows from the official saver, compaction off and compaction on", () => {
  let official: OfficialSaver;

  beforeAll(async () => {
    official = OfficialSaver.fromConnString(env.url());
    await official.setup();
  });
  afterAll(async () => {
    await official?.end();
  });

  it("reads every checkpoint and write correctly, and agrees with the official saver on the rows it can read", async () => {
    const thread = threadId("mixed");
    const messages = conversationMessages(200, 11);
    const settings = { model: "small", temperature: 0 };
    const notes = conversationMessages(80, 12).map((m) => String(m.content)).join("\n");
    const payload = new Uint8Array(32 * 1024).map((_, i) => (i * 31) % 251 % 5);
    const history = conversationMessages(150, 13);

    // cp1, by the official saver: every row plain json.
    const cp1 = checkpoint({ messages, settings }, { messages: 1, settings: 1 });
    const config1 = await official.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, cp1, loopMetadata, { messages: 1, settings: 1 });
    const officialWrite = conversationMessages(60, 14);
    await official.putWrites(config1, [["messages", officialWrite], ["flag", true]], "task-official");

    // cp2, by ours with compaction off: a large new channel, still plain json.
    const cp2 = checkpoint({ messages, settings, notes }, { messages: 1, settings: 1, notes: 2 });
    const config2 = await saver("off").put(config1, cp2, { ...loopMetadata, step: 2 }, { notes: 2 });
    await saver("off").putWrites(config2, [["notes", notes]], "task-off");

    // cp3, by ours with compaction on: compressed json and bytes, a cleared channel, and it still references cp1's and cp2's rows.
    const cp3 = checkpoint(
      { messages, settings, notes, payload, history },
      { messages: 1, settings: 1, notes: 2, payload: 3, history: 3, cleared: 3 },
    );
    const config3 = await env.saver.put(config2, cp3, { ...loopMetadata, step: 3 }, { payload: 3, history: 3, cleared: 3 });
    const brWrite = conversationMessages(30, 15);
    await env.saver.putWrites(config3, [["history", brWrite], ["small", 1]], "task-br");

    expect((await blobRows(thread)).map((r) => [r.channel, r.version, r.type])).toEqual([
      ["cleared", "3", "empty"],
      ["history", "3", "json+br"],
      ["messages", "1", "json"],
      ["notes", "2", "json"],
      ["payload", "3", "bytes+br"],
      ["settings", "1", "json"],
    ]);
    expect((await writeRows(thread)).map((r) => [r.task_id, r.channel, r.type])).toEqual([
      ["task-br", "history", "json+br"],
      ["task-br", "small", "json"],
      ["task-off", "notes", "json"],
      ["task-official", "messages", "json"],
      ["task-official", "flag", "json"],
    ]);

    const expected = [
      { config: config1, values: { messages, settings }, writes: [["task-official", "messages", officialWrite], ["task-official", "flag", true]] },
      { config: config2, values: { messages, settings, notes }, writes: [["task-off", "notes", notes]] },
      { config: config3, values: { messages, settings, notes, payload, history }, writes: [["task-br", "history", brWrite], ["task-br", "small", 1]] },
    ] as const;

    const check = async (tuple: CheckpointTuple | undefined, want: (typeof expected)[number]) => {
      expect(tuple?.config.configurable?.checkpoint_id).toBe(want.config.configurable?.checkpoint_id);
      await expectSameValues(tuple!.checkpoint.channel_values, want.values);
      const writes = tuple!.pendingWrites!;
      expect(writes.map(([task, channel]) => [task, channel])).toEqual(want.writes.map(([task, channel]) => [task, channel]));
      for (const [i, w] of want.writes.entries()) await expectSameValue(writes[i]![2], w[2]);
    };

    for (const reader of [env.saver, saver("off"), saver("deflate")]) {
      for (const want of expected) await check(await reader.getTuple(want.config), want);
      const listed = await listAll(reader, { configurable: { thread_id: thread } });
      expect(listed).toHaveLength(3);
      for (const [i, want] of [...expected].reverse().entries()) await check(listed[i], want);
    }

    // Where the official saver can read (no compressed row involved), ours reads exactly what it reads.
    for (const want of expected.slice(0, 2)) {
      const [ours, theirs] = [await env.saver.getTuple(want.config), await official.getTuple(want.config)];
      await expectSameValues(ours!.checkpoint.channel_values, theirs!.checkpoint.channel_values);
      expect(ours!.metadata).toEqual(theirs!.metadata);
      expect(ours!.parentConfig?.configurable?.checkpoint_id).toBe(theirs!.parentConfig?.configurable?.checkpoint_id);
    }
  });
});

describe("decompression bombs planted in the database", () => {
  const limit = MiB;
  const bombBytes = 64 * MiB;
  const bombs: Partial<Record<"br" | "deflate", Buffer>> = {};

  beforeAll(async () => {
    bombs.br = await jsonBomb("br", bombBytes);
    bombs.deflate = await jsonBomb("deflate", bombBytes);
  });

  /**
   * cp1 holds the channel "messages" (and a write to it); cp2 is its child
   * with no new blob, so reading cp2's delta history seeds from cp1's row.
   * Then the chosen row is overwritten with the bomb, by SQL.
   */
  async function plant(table: "checkpoint_blobs" | "checkpoint_writes", type: string, blob: Buffer) {
    const thread = threadId(`bomb-${table}`);
    const s = saver("capped");
    const cp1 = checkpoint({ messages: ["hello"] }, { messages: 1 });
    const config1 = await s.put({ configurable: { thread_id: thread } }, cp1, loopMetadata, { messages: 1 });
    await s.putWrites(config1, [["messages", ["world"]]], "task-1");
    const cp2 = checkpoint({ messages: ["hello"] }, { messages: 1 });
    const config2 = await s.put(config1, cp2, loopMetadata, {});
    const updated = await env.pool.query(`UPDATE ${table} SET type = $2, blob = $3 WHERE thread_id = $1 AND channel = 'messages'`, [thread, type, blob]);
    expect(updated.rowCount).toBe(1);
    return { thread, config1, config2 };
  }

  const cases = (["br", "deflate"] as const).flatMap((codec) =>
    (["checkpoint_blobs", "checkpoint_writes"] as const).map((table) => ({ codec, table })));

  it.each(cases)("a json+$codec bomb in $table: getTuple, list and getDeltaChannelHistory fail with PayloadTooLargeError", async ({ codec, table }) => {
    const bomb = bombs[codec]!;
    expect(bomb.byteLength).toBeLessThan(bombBytes / 500);
    const { thread, config1, config2 } = await plant(table, `json+${codec}`, bomb);
    const s = saver("capped");

    expectTooLarge(await rejection(s.getTuple(config1)), limit);
    // The latest checkpoint, cp2, references cp1's blob but has no writes of its own.
    if (table === "checkpoint_blobs") expectTooLarge(await rejection(s.getTuple({ configurable: { thread_id: thread } })), limit);
    else expect((await s.getTuple({ configurable: { thread_id: thread } }))?.checkpoint.channel_values).toEqual({ messages: ["hello"] });
    expectTooLarge(await rejection(listAll(s, { configurable: { thread_id: thread } })), limit);
    expectTooLarge(await rejection(s.getDeltaChannelHistory({ config: config2, channels: ["messages"] })), limit);

    expectNoLeakedClients();
    await expectStillWorking(s);
  });

  it("control: the same bomb is a valid value that a saver with a large enough limit reads", async () => {
    const { config1 } = await plant("checkpoint_blobs", "json+br", bombs.br!);
    const value = (await saver("quiet").getTuple(config1))!.checkpoint.channel_values.messages as string;
    expect(typeof value).toBe("string");
    expect(value.length).toBe(bombBytes - 2);
  });

  it("with the default 256 MiB limit, a 320 MiB bomb is refused and the process carries on", async () => {
    const big = await jsonBomb("br", 320 * MiB);
    expect(big.byteLength).toBeLessThan(MiB);
    const { thread, config1, config2 } = await plant("checkpoint_blobs", "json+br", big);
    const s = saver("quiet");
    expectTooLarge(await rejection(s.getTuple(config1)), 256 * MiB);
    expectTooLarge(await rejection(listAll(s, { configurable: { thread_id: thread } })), 256 * MiB);
    expectTooLarge(await rejection(s.getDeltaChannelHistory({ config: config2, channels: ["messages"] })), 256 * MiB);
    expectNoLeakedClients();
    await expectStillWorking(s);
  });
});

describe("corrupt compressed rows", () => {
  it("a truncated json+br channel blob fails with SerializationError on getTuple and list", async () => {
    const thread = threadId("corrupt-blob");
    const cp = checkpointWith({ messages: conversationMessages(50, 21) });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const cut = await env.pool.query(
      `UPDATE checkpoint_blobs SET blob = substring(blob FROM 1 FOR octet_length(blob) / 2) WHERE thread_id = $1 AND type = 'json+br'`,
      [thread],
    );
    expect(cut.rowCount).toBe(1);
    for (const error of [await rejection(env.saver.getTuple(config)), await rejection(listAll(env.saver, { configurable: { thread_id: thread } }))]) {
      expect(error).toBeInstanceOf(SerializationError);
      expect((error as SerializationError).code).toBe("SERIALIZATION");
      expect((error as Error).message).toMatch(/json\+br blob is corrupt/);
    }
    expectNoLeakedClients();
  });

  it("a write whose bytes are not gzip data though tagged json+gzip fails with SerializationError", async () => {
    const thread = threadId("corrupt-write");
    const cp = checkpointWith({ a: 1 });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    await env.saver.putWrites(config, [["a", 2]], "task-1");
    await env.pool.query(`UPDATE checkpoint_writes SET type = 'json+gzip', blob = '\\x1f8b0800dead'::bytea WHERE thread_id = $1`, [thread]);
    const error = await rejection(env.saver.getTuple(config));
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as Error).message).toMatch(/json\+gzip blob is corrupt/);
    await expectStillWorking(env.saver);
  });

  it("a NULL json blob (the official schema allows NULL) fails with SerializationError, not the serializer's own error", async () => {
    const thread = threadId("null-blob");
    const cp = checkpointWith({ a: 1 });
    const config = await env.saver.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    await env.pool.query(`UPDATE checkpoint_blobs SET blob = NULL WHERE thread_id = $1`, [thread]);
    const error = await rejection(env.saver.getTuple(config));
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as Error).message).toMatch(/a stored json blob could not be deserialized \(SyntaxError\)/);
    await expectStillWorking(env.saver);
  });
});

describe("blobs over maxPayloadBytes are refused on write, with nothing written", () => {
  const tiny = () => saver("tiny");

  it("put with one oversized channel among small ones writes no row at all", async () => {
    const thread = threadId("too-large-put");
    const before = await countRows(env.pool);
    const cp = checkpointWith({ small: "ok", big: conversationMessages(20, 31) });
    const error = await rejection(tiny().put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions));
    expectTooLarge(error, 4096);
    expect((error as Error).message).toMatch(/channel "big" serializes to \d+ bytes, more than maxPayloadBytes \(4096\)/);
    expect(await countRows(env.pool)).toEqual(before);
    expect(await tiny().getTuple({ configurable: { thread_id: thread } })).toBeUndefined();
  });

  it("the limit applies to the serialized size, even when it would compress to almost nothing", async () => {
    const thread = threadId("too-large-compressible");
    const before = await countRows(env.pool);
    const cp = checkpointWith({ text: "a".repeat(10_000) });
    expectTooLarge(await rejection(tiny().put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions)), 4096);
    expect(await countRows(env.pool)).toEqual(before);
  });

  it("putWrites with one oversized write writes none of them", async () => {
    const thread = threadId("too-large-writes");
    const cp = checkpointWith({ a: 1 });
    const config = await tiny().put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const before = await countRows(env.pool);
    const error = await rejection(tiny().putWrites(config, [["a", 2], ["b", "x".repeat(5000)], ["c", 3]], "task-1"));
    expectTooLarge(error, 4096);
    expect((error as Error).message).toMatch(/write to channel "b"/);
    expect(await countRows(env.pool)).toEqual(before);
    expect((await tiny().getTuple(config))!.pendingWrites).toEqual([]);
  });

  it("a blob of exactly maxPayloadBytes is accepted, one byte more is refused", async () => {
    const value = { text: "z".repeat(3000) };
    const size = (await serialized(value)).bytes.byteLength;
    const exact = new PostgresSaver(env.pool, undefined, { maxPayloadBytes: size });
    const under = new PostgresSaver(env.pool, undefined, { maxPayloadBytes: size - 1 });
    try {
      const thread = threadId("exact-limit");
      const cp = checkpointWith({ value });
      const before = await countRows(env.pool);
      expectTooLarge(await rejection(under.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions)), size - 1);
      expect(await countRows(env.pool)).toEqual(before);
      const config = await exact.put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
      expect((await blobRows(thread)).map((r) => r.type)).toEqual(["json+br"]);
      // Reading inflates to exactly the limit: allowed.
      expect((await exact.getTuple(config))!.checkpoint.channel_values).toEqual({ value });
      // One byte under the inflated size: the read cap refuses the legitimately compressed row too.
      expectTooLarge(await rejection(under.getTuple(config)), size - 1);
    } finally {
      await exact.end();
      await under.end();
    }
  });

  it("an uncompressed row above the limit (written before it was lowered, or by the official saver) still reads: the read cap guards inflation", async () => {
    const thread = threadId("plain-over-limit");
    const value = conversationMessages(20, 41);
    const cp = checkpointWith({ value });
    const config = await saver("off").put({ configurable: { thread_id: thread } }, cp, loopMetadata, cp.channel_versions);
    const [row] = await blobRows(thread);
    expect(row!.type).toBe("json");
    expect(row!.size).toBeGreaterThan(4096);
    await expectSameValue((await tiny().getTuple(config))!.checkpoint.channel_values.value, value);
  });
});
