import type { BlobLoader } from "../codec/decode.js";
import { isDeltaType as isDelta } from "../codec/delta.js";
import { UnrevivableError } from "../codec/reviver.js";
import { ThreadNotFoundError } from "../errors.js";
import { OperationStats } from "../observe/instrument.js";
import type { ValueRow } from "../sql/index.js";
import type { BlobRow, MetadataRow, MissingBlobRow, MissingParentRow, WriteRow } from "../sql/inspect.js";
import type { Database } from "../database.js";
import { allThreadIds, countThreads, missingThreads } from "./threads.js";

/**
 * Integrity of stored threads, as reads depend on it:
 * - every channel version a checkpoint names has its row in
 *   `checkpoint_blobs` (a read silently drops a channel whose row is gone);
 * - every parent id names a checkpoint of the same thread and namespace
 *   (history and delta channels walk parents);
 * - every stored value, pending write and metadata decodes: compressed ones
 *   inflate (never beyond `maxPayloadBytes`) and every one deserializes,
 *   including the LangChain objects it holds (one that cannot be revived is
 *   reported as such, whatever the `revive.unrevivable` setting: reads fail
 *   on it unless that is "plain").
 * Each thread is read in one snapshot, so a graph writing meanwhile never
 * shows as damage.
 */
export type ProblemKind =
  | "missing_blob"
  | "missing_parent"
  | "undecodable_blob"
  | "undecodable_write"
  | "undecodable_metadata"
  | "unrevivable_blob"
  | "unrevivable_write"
  | "unrevivable_metadata";

export interface Problem {
  kind: ProblemKind;
  thread_id: string;
  checkpoint_ns: string;
  /** The checkpoint concerned; for a value, the first checkpoint naming it (null when none does). */
  checkpoint_id: string | null;
  channel?: string;
  version?: string;
  parent_checkpoint_id?: string;
  task_id?: string;
  idx?: number;
  /** What is wrong, in words. */
  message: string;
}

export interface ValidationReport {
  threads: number;
  checkpoints: number;
  /** Channel versions named by checkpoints, each looked up in checkpoint_blobs. */
  channel_versions: number;
  /** Stored values decoded. */
  blobs: number;
  /** Pending writes decoded. */
  writes: number;
  problems: Problem[];
}

export interface ValidateOptions {
  /** Only these threads (each must exist). @default every thread, a page at a time */
  threadIds?: readonly string[];
  /** Told after each thread; `total` is known up front. */
  onProgress?: (done: number, total: number) => void;
  /** Most values fetched per statement, by count and by bytes. @default { rows: 200, bytes: 32 MiB } */
  valuePage?: { rows: number; bytes: number };
}

/**
 * Values fetched per statement: at most `rows`, and at most `bytes` of them
 * (always one, whatever its size), so memory stays bounded on threads of any
 * size and with values of any size.
 */
const VALUE_PAGE = { rows: 200, bytes: 32 * 1024 * 1024 };

export async function validateThreads(database: Database, options: ValidateOptions = {}): Promise<ValidationReport> {
  const report: ValidationReport = { threads: 0, checkpoints: 0, channel_versions: 0, blobs: 0, writes: 0, problems: [] };
  const { threadIds, onProgress, valuePage = VALUE_PAGE } = options;
  if (threadIds !== undefined) {
    const [missing] = await missingThreads(database, threadIds);
    if (missing !== undefined) throw new ThreadNotFoundError("validate", missing);
  }
  const total = threadIds?.length ?? (onProgress ? await countThreads(database) : 0);
  for await (const threadId of threadIds ?? allThreadIds(database)) {
    const found = await validateThread(database, threadId, valuePage);
    report.threads += 1;
    report.checkpoints += found.checkpoints;
    report.channel_versions += found.channel_versions;
    report.blobs += found.blobs;
    report.writes += found.writes;
    report.problems.push(...found.problems);
    onProgress?.(report.threads, Math.max(total, report.threads));
  }
  return report;
}

type ThreadReport = Omit<ValidationReport, "threads">;

async function validateThread(database: Database, threadId: string, limit: { rows: number; bytes: number }): Promise<ThreadReport> {
  const sql = database.sql.inspect;
  // The work may be retried as a whole, so it fills a fresh report each time.
  return database.transaction("validate", async (query) => {
    const report: ThreadReport = { checkpoints: 0, channel_versions: 0, blobs: 0, writes: 0, problems: [] };
    const problem = (p: Omit<Problem, "thread_id">) => report.problems.push({ thread_id: threadId, ...p });
    const [counts] = await query<{ checkpoints: number; versions: number }>(sql.validateCounts, [threadId]);
    report.checkpoints = counts?.checkpoints ?? 0;
    report.channel_versions = counts?.versions ?? 0;

    for (const row of await query<MissingBlobRow>(sql.missingBlobs, [threadId])) {
      problem({
        kind: "missing_blob",
        checkpoint_ns: row.checkpoint_ns,
        checkpoint_id: row.checkpoint_id,
        channel: row.channel,
        version: row.version,
        message: `channel ${JSON.stringify(row.channel)} version ${row.version} is named by the checkpoint but has no row in checkpoint_blobs`,
      });
    }
    for (const row of await query<MissingParentRow>(sql.missingParents, [threadId])) {
      problem({
        kind: "missing_parent",
        checkpoint_ns: row.checkpoint_ns,
        checkpoint_id: row.checkpoint_id,
        parent_checkpoint_id: row.parent_checkpoint_id,
        message: `parent checkpoint ${row.parent_checkpoint_id} does not exist in this thread and namespace`,
      });
    }

    let blobKey: [string, string, string] | [null, null, null] = [null, null, null];
    for (;;) {
      const page: BlobRow[] = await query<BlobRow>(sql.blobPage, [threadId, ...blobKey, limit.rows, limit.bytes]);
      for (const row of page) {
        report.blobs += 1;
        // "empty" marks a channel version without a value: there is nothing to decode.
        if (row.type === "empty") continue;
        const failure = await valueFailure(database, query, threadId, row);
        if (failure === undefined) continue;
        const [users] = await query<{ first_id: string | null; n: number }>(sql.blobUsers, [threadId, row.checkpoint_ns, row.channel, row.version]);
        const named = users?.first_id ? `first named by checkpoint ${users.first_id}` : "named by no checkpoint";
        problem({
          kind: failure.unrevivable ? "unrevivable_blob" : "undecodable_blob",
          checkpoint_ns: row.checkpoint_ns,
          checkpoint_id: users?.first_id ?? null,
          channel: row.channel,
          version: row.version,
          message: `the stored value of channel ${JSON.stringify(row.channel)} version ${row.version} (type ${row.type}, ${named}) does not decode: ${failure.message}`,
        });
      }
      const last = page.at(-1);
      if (last === undefined || isLastPage(page, limit.rows)) break;
      blobKey = [last.checkpoint_ns, last.channel, last.version];
    }

    let writeKey: [string, string, string, number] | [null, null, null, null] = [null, null, null, null];
    for (;;) {
      const page: WriteRow[] = await query<WriteRow>(sql.writePage, [threadId, ...writeKey, limit.rows, limit.bytes]);
      for (const row of page) {
        report.writes += 1;
        const type = row.type ?? "json";
        const failure = await decodeFailure(database, type, row.blob);
        if (failure === undefined) continue;
        problem({
          kind: failure.unrevivable ? "unrevivable_write" : "undecodable_write",
          checkpoint_ns: row.checkpoint_ns,
          checkpoint_id: row.checkpoint_id,
          channel: row.channel,
          task_id: row.task_id,
          idx: row.idx,
          message: `the pending write of task ${row.task_id} to channel ${JSON.stringify(row.channel)} (idx ${row.idx}, type ${type}) does not decode: ${failure.message}`,
        });
      }
      const last = page.at(-1);
      if (last === undefined || isLastPage(page, limit.rows)) break;
      writeKey = [last.checkpoint_ns, last.checkpoint_id, last.task_id, last.idx];
    }

    let metadataKey: [string, string] | [null, null] = [null, null];
    for (;;) {
      const page: MetadataRow[] = await query<MetadataRow>(sql.metadataPage, [threadId, ...metadataKey, limit.rows, limit.bytes]);
      for (const row of page) {
        // The problem says where it is; the error's own message only why.
        const failure = await failureOf(checking(database).metadata(row.metadata));
        if (failure === undefined) continue;
        problem({
          kind: failure.unrevivable ? "unrevivable_metadata" : "undecodable_metadata",
          checkpoint_ns: row.checkpoint_ns,
          checkpoint_id: row.checkpoint_id,
          message: `the metadata does not decode: ${failure.message}`,
        });
      }
      const last = page.at(-1);
      if (last === undefined || isLastPage(page, limit.rows)) break;
      metadataKey = [last.checkpoint_ns, last.checkpoint_id];
    }
    return report;
  }, { readOnly: true });
}

/** Whether nothing follows `page`: the count limit was not reached, and the byte limit cut nothing off. */
function isLastPage(page: ReadonlyArray<{ fetched: number }>, rows: number): boolean {
  const fetched = page[0]!.fetched;
  return fetched < rows && page.length === fetched;
}

/** Why something stored does not decode; `unrevivable` when it deserializes but holds a LangChain object that cannot be revived. */
interface Failure {
  message: string;
  unrevivable: boolean;
}

/**
 * Why a stored channel value does not decode, or undefined when it does. A
 * delta is decoded with its whole chain, fetched by its own statement, so
 * every chain is checked to end at a full value and rebuild to its checksum.
 */
async function valueFailure(
  database: Database,
  query: <Row>(text: string, values?: unknown[]) => Promise<Row[]>,
  threadId: string,
  row: BlobRow,
): Promise<Failure | undefined> {
  if (!isDelta(row.type)) return decodeFailure(database, row.type, row.blob);
  const where = { threadId, checkpointNs: row.checkpoint_ns, part: "value" as const, channel: row.channel, version: row.version };
  const chain = await query<ValueRow>(database.sql.checkpoints.valueRows, [threadId, row.checkpoint_ns, row.channel, row.version]);
  const rows = new Map(chain.map((r) => [r.version, r]));
  return failureOf(checking(database).channelValue(row, (version) => rows.get(version), where));
}

/** Why a stored value does not decode, or undefined when it does. */
function decodeFailure(database: Database, type: string, blob: Uint8Array | null): Promise<Failure | undefined> {
  // A loader per value: a loader refuses everything after its first failure.
  return failureOf(checking(database)(type, blob));
}

async function failureOf(decoding: Promise<unknown>): Promise<Failure | undefined> {
  try {
    await decoding;
    return undefined;
  } catch (error) {
    return { message: error instanceof Error ? error.message : String(error), unrevivable: error instanceof UnrevivableError };
  }
}

/** A loader that fails on what cannot be revived, even when reads are set to return it as plain data. */
function checking(database: Database): BlobLoader {
  return database.loader(new OperationStats(), { unrevivable: "throw" });
}
