import zlib from "node:zlib";
import { RemoveMessage } from "@langchain/core/messages";
import { type Checkpoint, MemorySaver, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import pg from "pg";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deltaType, parseDeltaType } from "../../../src/codec/delta.js";
import { databaseOf } from "../../../src/database.js";
import { PayloadTooLargeError, PostgresSaver, type PostgresSaverOptions, SerializationError } from "../../../src/index.js";
import { validateThreads } from "../../../src/inspect/validate.js";
import { DELTA_BASE_VERSION } from "../../../src/sql/value-chain.js";
import { useTestDatabase } from "../../support/database.js";
import { chatGraph, plain, sentence, userTurn } from "../../support/graphs.js";

/**
 * Channel values stored as deltas against the parent's version, with real
 * chat graphs on MessagesAnnotation: what is stored, that every checkpoint
 * reads back as on MemorySaver, and what happens when a chain is damaged.
 */
const db = useTestDatabase();
let pool: pg.Pool;
const savers: Array<{ end(): Promise<void> }> = [];

beforeAll(() => {
  pool = new pg.Pool({ connectionString: db.url() });
});
afterAll(async () => {
  for (const saver of savers) await saver.end();
  await pool?.end();
});

async function saverIn(schema: string, options: PostgresSaverOptions = {}): Promise<PostgresSaver> {
  const saver = new PostgresSaver(pool, undefined, { schema, metrics: false, ...options });
  savers.push(saver);
  await saver.setup();
  return saver;
}

const config = (thread: string) => ({ configurable: { thread_id: thread } });

async function chat(saver: PostgresSaver | MemorySaver, thread: string, turns: number, from = 0): Promise<void> {
  const graph = chatGraph(saver);
  for (let turn = from; turn < from + turns; turn += 1) await graph.invoke(userTurn(turn), config(thread));
}

/** Every checkpoint of a thread, newest first, as plain data. */
async function history(saver: PostgresSaver | MemorySaver, thread: string) {
  const states = [];
  for await (const state of chatGraph(saver).getStateHistory(config(thread))) {
    states.push({ values: plain(state.values), next: state.next, step: state.metadata?.step });
  }
  return states;
}

interface StoredRow { channel: string; version: string; type: string; base: string | null }

async function storedRows(schema: string, thread: string): Promise<StoredRow[]> {
  const { rows } = await pool.query<StoredRow>(
    `SELECT channel, version, type, substring(type FROM '\\+delta:[0-9]+:[0-9a-f]{8}:([0-9A-Za-z._-]+)') AS base
     FROM "${schema}".checkpoint_blobs WHERE thread_id = $1`,
    [thread],
  );
  return rows;
}

/** Hops from each stored value to the full value its chain ends at. */
function chainLengths(rows: StoredRow[]): number[] {
  const byKey = new Map(rows.map((r) => [`${r.channel}/${r.version}`, r]));
  return rows.map((row) => {
    let hops = 0;
    for (let r: StoredRow | undefined = row; r?.base; r = byKey.get(`${r.channel}/${r.base}`)) hops += 1;
    return hops;
  });
}

describe("a chat on MessagesAnnotation", () => {
  let saver: PostgresSaver;
  beforeAll(async () => {
    saver = await saverIn("chat");
    await chat(saver, "chat", 30);
  });

  it("stores each new version of the message list as a delta, and reads every checkpoint back as MemorySaver does", async () => {
    const memory = new MemorySaver();
    await chat(memory, "chat", 30);
    const rows = await storedRows("chat", "chat");
    const messages = rows.filter((r) => r.channel === "messages");
    expect(messages.filter((r) => r.base !== null).length).toBeGreaterThan(messages.length / 2);
    expect(await history(saver, "chat")).toEqual(await history(memory, "chat"));
  });

  it("ends every chain at a full value within maxDeltaChain hops", async () => {
    const short = await saverIn("short_chains", { compaction: { maxDeltaChain: 3 } });
    await chat(short, "chat", 20);
    const lengths = chainLengths(await storedRows("short_chains", "chat"));
    expect(Math.max(...lengths)).toBe(3);
    expect(lengths.filter((n) => n === 0).length).toBeGreaterThan(1);
  });

  it("reads the same from a saver that never wrote the thread, which then continues it with deltas of its own", async () => {
    const second = await saverIn("chat");
    const memory = new MemorySaver();
    await chat(memory, "chat", 30);
    await chat(memory, "chat", 5, 30);
    await chat(second, "chat", 5, 30);
    const rows = await storedRows("chat", "chat");
    expect(rows.filter((r) => r.base !== null).length).toBeGreaterThan(0);
    expect(await history(second, "chat")).toEqual(await history(memory, "chat"));
    expect(await history(saver, "chat")).toEqual(await history(memory, "chat"));
  });
});

describe("forks, edits and removals", () => {
  it("time travel: a fork from an old checkpoint, an edited message and a RemoveMessage read back as on MemorySaver", async () => {
    const saver = await saverIn("forks");
    const memory = new MemorySaver();
    for (const checkpointer of [saver, memory] as const) {
      await chat(checkpointer, "forks", 12);
      const graph = chatGraph(checkpointer);
      const states = [];
      for await (const state of graph.getStateHistory(config("forks"))) states.push(state);
      const old = states.find((s) => s.metadata?.step === 10)!;
      // updateState on an old checkpoint forks the thread there.
      const forked = await graph.updateState(old.config, { messages: [new RemoveMessage({ id: "user-1" })] });
      await graph.invoke(userTurn(100), forked);
      const now = await graph.getState(config("forks"));
      const edited = { ...now.values.messages[0]!, content: "edited" };
      await graph.updateState(config("forks"), { messages: [Object.assign(Object.create(Object.getPrototypeOf(now.values.messages[0])), edited)] });
      await graph.invoke(userTurn(101), config("forks"));
    }
    expect(await history(saver, "forks")).toEqual(await history(memory, "forks"));
  });
});

describe("a damaged chain fails loudly, naming the value, never returning other data", () => {
  let saver: PostgresSaver;
  const damaged = async (thread: string) => {
    await chat(saver, thread, 8);
    const rows = await storedRows("damage", thread);
    const delta = rows.find((r) => r.channel === "messages" && r.base !== null)!;
    // The newest checkpoint whose messages are this delta.
    const { rows: [cp] } = await pool.query(
      `SELECT checkpoint_id FROM damage.checkpoints WHERE thread_id = $1 AND checkpoint -> 'channel_versions' ->> 'messages' = $2`,
      [thread, delta.version],
    );
    return { delta, at: { configurable: { thread_id: thread, checkpoint_ns: "", checkpoint_id: cp.checkpoint_id } } };
  };
  beforeAll(async () => {
    saver = await saverIn("damage");
  });

  it("a missing base", async () => {
    const { delta, at } = await damaged("missing");
    await pool.query(`DELETE FROM damage.checkpoint_blobs WHERE thread_id = 'missing' AND channel = 'messages' AND version = $1`, [delta.base]);
    const error = await saver.getTuple(at).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as Error).message).toBe(
      `cannot read channel "messages" version ${delta.version} of thread "missing" (checkpoint ${JSON.stringify(at.configurable.checkpoint_id)}): ` +
        `it is stored as a delta and its base version ${delta.base} is missing`,
    );
    expect((error as SerializationError).location).toEqual({
      threadId: "missing", checkpointNs: "", checkpointId: at.configurable.checkpoint_id, part: "value", channel: "messages", version: delta.version,
    });
    const report = await validateThreads(databaseOf(saver), { threadIds: ["missing"] });
    expect(report.problems.some((p) => p.kind === "undecodable_blob" && p.version === delta.version)).toBe(true);
  });

  it("a base whose bytes changed: the checksum does not match", async () => {
    const { delta, at } = await damaged("changed");
    expect(delta.type).not.toMatch(/\+br$/);
    // Same length, other content: only the checksum can tell.
    const { rowCount } = await pool.query(
      `UPDATE damage.checkpoint_blobs SET blob = convert_to(translate(convert_from(blob, 'UTF8'), 'aeiou', 'eioua'), 'UTF8')
       WHERE thread_id = 'changed' AND channel = 'messages' AND version = $1`,
      [delta.version],
    );
    expect(rowCount).toBe(1);
    await expect(saver.getTuple(at)).rejects.toThrow(/stored as a delta and what its chain rebuilds does not match its checksum/);
  });

  it("a chain that loops back on itself", async () => {
    const { delta, at } = await damaged("loop");
    await pool.query(
      `UPDATE damage.checkpoint_blobs SET type = regexp_replace(type, ':[0-9A-Za-z._-]+$', ':' || version)
       WHERE thread_id = 'loop' AND channel = 'messages' AND version = $1`,
      [delta.version],
    );
    await expect(saver.getTuple(at)).rejects.toThrow(/stored as a delta and its chain of bases loops back to version /);
    await expect(saver.exportThread("loop")).rejects.toThrow(/its chain of bases loops back to it/);
  });

  it("a hostile chain of decompression bombs costs about two maxPayloadBytes, then fails", async () => {
    const limit = 4 * 1024 * 1024;
    const bomb = zlib.brotliCompressSync(Buffer.alloc(limit - 1, 0x20));
    const tag = (base: string) => `json+delta:1:00000000:${base}+br`;
    const cp: Checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: {}, channel_versions: { v: 1 } };
    await saver.put({ configurable: { thread_id: "bombs", checkpoint_ns: "" } }, cp, { source: "loop", step: 1, parents: {} }, {});
    await pool.query(
      `INSERT INTO damage.checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
       VALUES ('bombs', '', 'v', '1', $1, $4), ('bombs', '', 'v', '2', $2, $4), ('bombs', '', 'v', '3', $3, $4)`,
      [tag("2"), tag("3"), tag("4"), bomb],
    );
    const tight = await saverIn("damage", { maxPayloadBytes: limit });
    const error = await tight.getTuple({ configurable: { thread_id: "bombs", checkpoint_ns: "", checkpoint_id: cp.id } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as Error).message).toMatch(/chain inflates to more than twice maxPayloadBytes/);
  });

  it("maxPayloadBytes limits the rebuilt value, not only each row", async () => {
    await chat(saver, "big", 8);
    const { rows: [largest] } = await pool.query(
      `SELECT max(octet_length(blob)) AS n FROM damage.checkpoint_blobs WHERE thread_id = 'big' AND type LIKE '%delta%'`,
    );
    const tight = await saverIn("damage", { maxPayloadBytes: Number(largest.n) + 1000 });
    await expect(tight.getTuple(config("big"))).rejects.toBeInstanceOf(PayloadTooLargeError);
  });
});

describe("values the application changes in place after put", () => {
  it("a Buffer or Uint8Array value changed after put leaves the next checkpoint readable: the remembered base is a copy", async () => {
    const saver = await saverIn("in_place");
    for (const [thread, make] of [["buffer", () => Buffer.alloc(1000, 7)], ["uint8array", () => new Uint8Array(1000).fill(7)]] as const) {
      const value = make();
      const root = { configurable: { thread_id: thread, checkpoint_ns: "" } };
      const first: Checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { buf: value }, channel_versions: { buf: 1.5 } };
      const parent = await saver.put(root, first, { source: "loop", step: 1, parents: {} }, { buf: 1.5 });
      value[0] = 9;
      const grown = Buffer.concat([value, Buffer.alloc(10, 1)]);
      const second: Checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { buf: grown }, channel_versions: { buf: 2.5 } };
      const latest = await saver.put(parent, second, { source: "loop", step: 2, parents: {} }, { buf: 2.5 });
      expect([...((await saver.getTuple(latest))!.checkpoint.channel_values.buf as Uint8Array)]).toEqual([...grown]);
      expect([...((await saver.getTuple(parent))!.checkpoint.channel_values.buf as Uint8Array)]).toEqual([...Buffer.alloc(1000, 7)]);
    }
  });
});

describe("the delta type tag in SQL", () => {
  it("Postgres takes the same base version out of a type as the reader does, compacted or not", async () => {
    const { rows: [setting] } = await pool.query("SHOW standard_conforming_strings");
    for (const baseVersion of ["1", "2.123456789", "00000000000000000000000000000007.0.4242", "a_b-c.9"]) {
      const tag = deltaType({ type: "json", prefixLength: 12345, crc: 0xdeadbeef, baseVersion });
      for (const stored of [tag, `${tag}+br`]) {
        const { rows: [row] } = await pool.query(`SELECT substring($1::text FROM '${DELTA_BASE_VERSION}') AS base`, [stored]);
        expect(row.base, `${stored} (standard_conforming_strings ${setting.standard_conforming_strings})`).toBe(parseDeltaType(tag)!.baseVersion);
      }
    }
    const { rows: [full] } = await pool.query(`SELECT substring('json+br'::text FROM '${DELTA_BASE_VERSION}') AS base`);
    expect(full.base).toBeNull();
  });
});

describe("the base a saver remembers is gone from the database", () => {
  it("put notices in its statement and sends the checkpoint again with full values", async () => {
    const saver = await saverIn("gone");
    await chat(saver, "gone", 6);
    const latest = (await saver.getTuple(config("gone")))!;
    const version = String(latest.checkpoint.channel_versions.messages);
    // Another process deleted the value this saver would extend (as a prune or deleteThread would).
    await pool.query(`DELETE FROM gone.checkpoint_blobs WHERE thread_id = 'gone' AND channel = 'messages' AND version = $1`, [version]);
    const next: Checkpoint = {
      ...latest.checkpoint,
      id: uuid6(-1),
      channel_values: { messages: [...(latest.checkpoint.channel_values.messages as unknown[])] },
      channel_versions: { ...latest.checkpoint.channel_versions, messages: saver.getNextVersion(version as never) },
    };
    const written = await saver.put(latest.config, next, { source: "update", step: 99, parents: {} }, { messages: next.channel_versions.messages! });
    const rows = await storedRows("gone", "gone");
    const stored = rows.find((r) => r.version === String(next.channel_versions.messages))!;
    expect(stored.base).toBeNull();
    expect(plain((await saver.getTuple(written))!.checkpoint.channel_values)).toEqual(plain(latest.checkpoint.channel_values));
  });
});

describe("what stays portable", () => {
  it("exportThread writes every value whole; a saver without compaction imports it and the official saver continues it", async () => {
    const saver = await saverIn("portable");
    await chat(saver, "portable", 10);
    expect((await storedRows("portable", "portable")).some((r) => r.base !== null)).toBe(true);
    const doc = await saver.exportThread("portable");
    expect(doc.blobs.filter((b) => b.type.includes("+"))).toEqual([]);
    const plainSaver = await saverIn("portable_plain", { compaction: false });
    await plainSaver.importThread(doc);
    expect(await history(plainSaver, "portable")).toEqual(await history(saver, "portable"));

    const official = OfficialSaver.fromConnString(db.url(), { schema: "portable_plain" });
    savers.push(official);
    const memory = new MemorySaver();
    await chat(memory, "portable", 12);
    await chat(official as never, "portable", 2, 10);
    expect(await history(official as never, "portable")).toEqual(await history(memory, "portable"));
  });

  it("compaction: false and compaction.deltas: false store no delta, and the official saver continues a chat ours wrote with compaction: false", async () => {
    const off = await saverIn("no_compaction", { compaction: false });
    const noDeltas = await saverIn("no_deltas", { compaction: { deltas: false } });
    await chat(off, "chat", 10);
    await chat(noDeltas, "chat", 10);
    expect((await storedRows("no_compaction", "chat")).every((r) => r.base === null && !r.type.includes("+"))).toBe(true);
    expect((await storedRows("no_deltas", "chat")).every((r) => r.base === null)).toBe(true);

    const official = OfficialSaver.fromConnString(db.url(), { schema: "no_compaction" });
    savers.push(official);
    await chat(official as never, "chat", 3, 10);
    const memory = new MemorySaver();
    await chat(memory, "chat", 13);
    expect(await history(official as never, "chat")).toEqual(await history(memory, "chat"));
    expect(await history(off, "chat")).toEqual(await history(memory, "chat"));
  });
});

describe("observability", () => {
  it("counts values stored whole and as deltas, and puts their raw and stored bytes in the payload histogram", async () => {
    const registry = new Registry();
    const saver = await saverIn("metrics", { metrics: { registry } });
    await chat(saver, "metrics", 10);
    const stored = await registry.getSingleMetric("langgraph_checkpoint_stored_values_total")!.get();
    const count = (kind: string) => stored.values.find((v) => v.labels.kind === kind)!.value;
    expect(count("delta")).toBeGreaterThan(5);
    expect(count("full")).toBeGreaterThan(0);
    const payload = await registry.getSingleMetric("langgraph_checkpoint_payload_bytes")!.get();
    const sum = (stage: string) =>
      payload.values.find((v) => (v as { metricName?: string }).metricName?.endsWith("_sum") && v.labels.stage === stage && v.labels.operation === "put")!.value;
    expect(sum("stored")).toBeLessThan(sum("raw") / 3);
  });
});

describe("getDeltaChannelHistory", () => {
  it("rebuilds a seed stored as a delta, as the base class's walk over getTuple does", async () => {
    const saver = await saverIn("history");
    const root = { configurable: { thread_id: "h", checkpoint_ns: "" } };
    let parent = root as { configurable: Record<string, unknown> };
    let value: string[] = [];
    for (let step = 1; step <= 8; step += 1) {
      value = [...value, sentence(step, 80)];
      const checkpoint: Checkpoint = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { log: value }, channel_versions: { log: step } };
      parent = await saver.put(parent, checkpoint, { source: "loop", step, parents: {} }, { log: step }) as typeof parent;
    }
    expect((await storedRows("history", "h")).filter((r) => r.base !== null).length).toBeGreaterThan(2);
    const ours = await saver.getDeltaChannelHistory({ config: parent, channels: ["log"] });
    const reference = await (Object.getPrototypeOf(PostgresSaver.prototype) as PostgresSaver).getDeltaChannelHistory.call(saver, {
      config: parent,
      channels: ["log"],
    });
    expect(ours).toEqual(reference);
    expect(ours.log!.seed).toEqual(value.slice(0, 7));
  });
});
