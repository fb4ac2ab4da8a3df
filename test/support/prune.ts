import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { type Logger, PostgresSaver } from "../../src/index.js";
import { useTestDatabase } from "./database.js";
import { plain } from "./graphs.js";

/**
 * Helpers for the retention tests: row-level integrity checks in SQL,
 * copying and ageing threads in SQL (so tests need not wait or re-run
 * graphs), and what LangGraph reads of every checkpoint, to compare before
 * and after a prune.
 */

/** A logger that swallows everything (the slow-operation log is noise on a loaded machine). */
export const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface LogCall {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: Record<string, unknown> | undefined;
}

export interface PruneDatabase {
  url(): string;
  /** A plain pool on the file's database, and a quiet saver on it (set up). */
  pool: pg.Pool;
  saver: PostgresSaver;
  /** With `recording`: a second saver whose pool records every statement it sends. */
  recorder: ReturnType<typeof recordingPool>;
  pruner: PostgresSaver;
}

/** A retention test file's database and savers, opened before its tests and closed after. */
export function usePruneDatabase(options: { recording?: boolean } = {}): PruneDatabase {
  const db = useTestDatabase();
  const env = { url: () => db.url() } as PruneDatabase;
  beforeAll(async () => {
    env.pool = new pg.Pool({ connectionString: db.url() });
    env.saver = new PostgresSaver(env.pool, undefined, { logger: quietLogger });
    await env.saver.setup();
    if (!options.recording) return;
    env.recorder = recordingPool(db.url());
    env.pruner = new PostgresSaver(env.recorder.pool, undefined, { logger: quietLogger });
  });
  afterAll(async () => {
    await env.pruner?.end();
    await env.recorder?.pool.end();
    await env.saver?.end();
    await env.pool?.end();
  });
  return env;
}

/** A logger that records every call. */
export function recordingLogger(): Logger & { calls: LogCall[] } {
  const calls: LogCall[] = [];
  const at = (level: LogCall["level"]) => (message: string, fields?: Record<string, unknown>) => {
    calls.push({ level, message, fields });
  };
  return { calls, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * A real pg.Pool that records every statement with its parameters, and can
 * run `after(statement)` once a statement has finished, before its caller
 * sees the result: the hook runs between two statements of an operation
 * (e.g. a graph step between two batches of a prune).
 */
export function recordingPool(connectionString: string, config: pg.PoolConfig = {}) {
  const recorder = {
    statements: [] as Statement[],
    after: undefined as ((statement: Statement) => Promise<void>) | undefined,
    pool: undefined as unknown as pg.Pool,
  };
  class RecordingClient extends pg.Client {
    override query(...args: any[]): any {
      const first = args[0];
      const statement = {
        text: typeof first === "string" ? first : String(first?.text ?? first),
        values: (typeof first === "object" && first !== null ? first.values : args[1]) ?? [],
      };
      recorder.statements.push(statement);
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      const hook = recorder.after;
      if (hook === undefined || !(result instanceof Promise)) return result;
      return result.then(async (value) => {
        await hook(statement);
        return value;
      });
    }
  }
  recorder.pool = new pg.Pool({ connectionString, ...config, Client: RecordingClient });
  return recorder;
}

const q = (schema: string) => `"${schema.replaceAll('"', '""')}"`;

export interface Integrity {
  /** (thread, ns, checkpoint, channel, version) a checkpoint names with no blob row. */
  missingBlobs: string[];
  /** Blob rows no checkpoint of their thread and namespace names. */
  unreferencedBlobs: string[];
  /** Write rows whose checkpoint is gone. */
  orphanWrites: string[];
  /** Parent links to a checkpoint that does not exist. */
  danglingParents: string[];
}

/** What must hold of the tables after any prune (and holds after plain graph runs). */
/** The base version of a delta row `d` (see src/codec/delta.ts), NULL for a full value. */
const DELTA_BASE = `substring(d.type FROM '\\+delta:[0-9]+:[0-9a-f]{8}:([0-9A-Za-z._-]+)')`;

export async function integrity(pool: pg.Pool | pg.PoolClient, schema = "public", threadIds?: string[]): Promise<Integrity> {
  const s = q(schema);
  const only = (alias: string) => `($1::text[] IS NULL OR ${alias}.thread_id = ANY ($1))`;
  const run = async (sql: string) => (await pool.query(sql, [threadIds ?? null])).rows.map((r) => r.k as string);
  const [missingBlobs, unreferencedBlobs, orphanWrites, danglingParents] = await Promise.all([
    run(`SELECT concat_ws('/', c.thread_id, c.checkpoint_ns, c.checkpoint_id, v.key, v.value) AS k
         FROM ${s}.checkpoints c CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v
         WHERE ${only("c")} AND NOT EXISTS (
           SELECT 1 FROM ${s}.checkpoint_blobs b WHERE b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns
             AND b.channel = v.key AND b.version = v.value)
         UNION ALL
         -- A value stored as a delta whose base is gone is missing just the same.
         SELECT concat_ws('/', d.thread_id, d.checkpoint_ns, d.channel, d.version, 'base', ${DELTA_BASE}) AS k
         FROM ${s}.checkpoint_blobs d
         WHERE ${only("d")} AND ${DELTA_BASE} IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM ${s}.checkpoint_blobs b WHERE b.thread_id = d.thread_id AND b.checkpoint_ns = d.checkpoint_ns
             AND b.channel = d.channel AND b.version = ${DELTA_BASE})`),
    // Named by a checkpoint, or the base of a delta that is (transitively).
    run(`WITH RECURSIVE named AS (
           SELECT DISTINCT c.thread_id, c.checkpoint_ns, v.key AS channel, v.value AS version
           FROM ${s}.checkpoints c CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v WHERE ${only("c")}
           UNION
           SELECT d.thread_id, d.checkpoint_ns, d.channel, ${DELTA_BASE}
           FROM named n JOIN ${s}.checkpoint_blobs d ON d.thread_id = n.thread_id AND d.checkpoint_ns = n.checkpoint_ns
             AND d.channel = n.channel AND d.version = n.version
           WHERE ${DELTA_BASE} IS NOT NULL)
         SELECT concat_ws('/', b.thread_id, b.checkpoint_ns, b.channel, b.version) AS k
         FROM ${s}.checkpoint_blobs b
         WHERE ${only("b")} AND NOT EXISTS (
           SELECT 1 FROM named n WHERE n.thread_id = b.thread_id AND n.checkpoint_ns = b.checkpoint_ns
             AND n.channel = b.channel AND n.version = b.version)`),
    run(`SELECT concat_ws('/', w.thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.idx) AS k
         FROM ${s}.checkpoint_writes w
         WHERE ${only("w")} AND NOT EXISTS (
           SELECT 1 FROM ${s}.checkpoints c WHERE c.thread_id = w.thread_id AND c.checkpoint_ns = w.checkpoint_ns
             AND c.checkpoint_id = w.checkpoint_id)`),
    run(`SELECT concat_ws('/', c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id) AS k
         FROM ${s}.checkpoints c
         WHERE ${only("c")} AND c.parent_checkpoint_id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM ${s}.checkpoints p WHERE p.thread_id = c.thread_id AND p.checkpoint_ns = c.checkpoint_ns
             AND p.checkpoint_id = c.parent_checkpoint_id)`),
  ]);
  return { missingBlobs, unreferencedBlobs, orphanWrites, danglingParents };
}

export const INTACT: Integrity = { missingBlobs: [], unreferencedBlobs: [], orphanWrites: [], danglingParents: [] };

/** Copies every row of thread `from` to thread `to` (same checkpoint ids): an identical twin to prune or keep. */
export async function copyThread(pool: pg.Pool, from: string, to: string, schema = "public"): Promise<void> {
  const s = q(schema);
  await pool.query(`
WITH cp AS (
  INSERT INTO ${s}.checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
  SELECT $2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM ${s}.checkpoints WHERE thread_id = $1
), bl AS (
  INSERT INTO ${s}.checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
  SELECT $2, checkpoint_ns, channel, version, type, blob FROM ${s}.checkpoint_blobs WHERE thread_id = $1
)
INSERT INTO ${s}.checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
SELECT $2, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob FROM ${s}.checkpoint_writes WHERE thread_id = $1`, [from, to]);
}

/** Moves every checkpoint `ts` of `threadId` back by `ms`, as if the thread had been idle that long. */
export async function ageThread(pool: pg.Pool, threadId: string, ms: number, schema = "public"): Promise<void> {
  await pool.query(
    `UPDATE ${q(schema)}.checkpoints
     SET checkpoint = jsonb_set(checkpoint, '{ts}', to_jsonb(to_char(((checkpoint ->> 'ts')::timestamptz - $2 * interval '1 millisecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
     WHERE thread_id = $1`,
    [threadId, ms],
  );
}

/** Checkpoint ids per namespace of a thread, sorted. */
export async function idsByNamespace(pool: pg.Pool, threadId: string, schema = "public"): Promise<Record<string, string[]>> {
  const { rows } = await pool.query(
    `SELECT checkpoint_ns, array_agg(checkpoint_id ORDER BY checkpoint_id) AS ids FROM ${q(schema)}.checkpoints
     WHERE thread_id = $1 GROUP BY checkpoint_ns`,
    [threadId],
  );
  return Object.fromEntries(rows.map((r) => [r.checkpoint_ns as string, r.ids as string[]]));
}

/** Rows of the three tables, per thread (threads with none are absent). */
export async function rowsPerThread(pool: pg.Pool, schema = "public"): Promise<Record<string, [number, number, number]>> {
  const s = q(schema);
  const { rows } = await pool.query(`
SELECT thread_id, sum(c)::int AS c, sum(b)::int AS b, sum(w)::int AS w FROM (
  SELECT thread_id, 1 AS c, 0 AS b, 0 AS w FROM ${s}.checkpoints
  UNION ALL SELECT thread_id, 0, 1, 0 FROM ${s}.checkpoint_blobs
  UNION ALL SELECT thread_id, 0, 0, 1 FROM ${s}.checkpoint_writes
) x GROUP BY thread_id ORDER BY thread_id`);
  return Object.fromEntries(rows.map((r) => [r.thread_id as string, [r.c, r.b, r.w] as [number, number, number]]));
}

/**
 * The delta channels LangGraph rebuilds at this checkpoint (as
 * `deltaChannelsToReplay` picks them): a delta channel with nothing in
 * `channel_values`, and with a version unless the branch is versioned.
 */
export function channelsToReplay(tuple: CheckpointTuple, deltaChannels: readonly string[]): string[] {
  const versionedOnly = (tuple.metadata as Record<string, unknown> | undefined)?.delta_writes_versioned === true;
  return deltaChannels.filter((channel) =>
    !Object.hasOwn(tuple.checkpoint.channel_values, channel) &&
    (!versionedOnly || tuple.checkpoint.channel_versions[channel] !== undefined));
}

interface Readable {
  list(config: { configurable: Record<string, unknown> }): AsyncGenerator<CheckpointTuple>;
  getDeltaChannelHistory(options: { config: CheckpointTuple["config"]; channels: string[] }): Promise<unknown>;
}

/** A pending task as the state shows it, without its config (which names the thread). */
function taskSummary(task: unknown) {
  const { id, name, interrupts } = task as { id: string; name: string; interrupts?: unknown };
  return { id, name, interrupts };
}

interface StateReader {
  getState(config: { configurable: Record<string, unknown> }): Promise<{ values: unknown; next: readonly string[]; tasks: readonly unknown[] }>;
}

/**
 * What LangGraph reads of every checkpoint of a thread's root namespace, by
 * id: the delta channel histories it would ask for, and the state.
 */
export async function readEverything(
  saver: Readable,
  graph: StateReader,
  threadId: string,
  deltaChannels: readonly string[],
): Promise<Map<string, { history: unknown; state: unknown }>> {
  const out = new Map<string, { history: unknown; state: unknown }>();
  for await (const tuple of saver.list({ configurable: { thread_id: threadId, checkpoint_ns: "" } })) {
    const id = tuple.config.configurable!.checkpoint_id as string;
    const channels = channelsToReplay(tuple, deltaChannels);
    const history = channels.length === 0 ? {} : await saver.getDeltaChannelHistory({ config: tuple.config, channels });
    const snapshot = await graph.getState({ configurable: { thread_id: threadId, checkpoint_id: id } });
    out.set(id, {
      history: plain(history),
      state: plain({ values: snapshot.values, next: snapshot.next, tasks: snapshot.tasks.map(taskSummary) }),
    });
  }
  return out;
}
