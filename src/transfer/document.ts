import { CODEC_NAMES } from "../config/payload.js";
import { describe } from "../config/checks.js";
import { InvalidInputError } from "../errors.js";

/**
 * A thread as a portable JSON document: what `exportThread()` returns and
 * `importThread()` takes, between databases, schemas, this package and the
 * in-memory saver. It mirrors the official tables (snake_case, one entry per
 * row). Values are the serializer's own bytes in base64 with its type tag
 * (`json`, `bytes`, …), never compressed, so any LangGraph saver can load
 * them; `empty` with `data: null` marks a channel version without a value.
 */
export const EXPORT_FORMAT = "langgraph-checkpoint-pg/thread";
export const EXPORT_VERSION = 1;

/** The type tag of a channel version without a value (the official savers' marker). */
const EMPTY = "empty";

export interface ThreadExport {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  thread_id: string;
  exported_at: string;
  /** Entries in each list: an importer refuses a document whose lists do not match (a truncated or edited file). */
  counts: { checkpoints: number; blobs: number; writes: number };
  checkpoints: ExportedCheckpoint[];
  blobs: ExportedBlob[];
  writes: ExportedWrite[];
}

export interface ExportedCheckpoint {
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  /** The checkpoint without `channel_values` (those are in `blobs`), as LangGraph wrote it. */
  checkpoint: Record<string, unknown>;
  /** The metadata, as the serializer's JSON. */
  metadata: Record<string, unknown>;
}

export interface ExportedBlob {
  checkpoint_ns: string;
  channel: string;
  /**
   * The channel version as text, spelled as JavaScript prints the version in
   * the checkpoints' `channel_versions` (`String(1e21)` is "1e+21", where
   * Postgres's JSONB prints "1000000000000000000000").
   */
  version: string;
  type: string;
  /** base64 of the serialized value; null exactly when `type` is `empty`. */
  data: string | null;
}

export interface ExportedWrite {
  checkpoint_ns: string;
  checkpoint_id: string;
  task_id: string;
  task_path: string;
  idx: number;
  channel: string;
  type: string;
  data: string;
}

export interface ImportResult {
  thread_id: string;
  /** Rows added; entries already present are left as they are (importing twice adds nothing). */
  imported: { checkpoints: number; blobs: number; writes: number };
  /** Entries in the document that were already present. */
  skipped: { checkpoints: number; blobs: number; writes: number };
}

/** The thread a (possibly malformed) document names, for logs and spans; never throws. */
export function threadIdOf(doc: unknown): string | undefined {
  const id = (doc as { thread_id?: unknown } | null | undefined)?.thread_id;
  return typeof id === "string" ? id : undefined;
}

const COMPRESSED_TYPE = new RegExp(`\\+(?:${CODEC_NAMES.join("|")})$`);

/**
 * `value` checked as a `ThreadExport`, field by field. Every refusal names
 * the field (`writes[12].idx must be an integer`), so a damaged file is
 * found, not guessed at; nothing is imported from a document that fails.
 */
export function checkThreadExport(value: unknown): ThreadExport {
  const doc = object(value, "the export document");
  if (doc.format !== EXPORT_FORMAT) {
    throw invalid(`format must be "${EXPORT_FORMAT}", got ${JSON.stringify(doc.format) ?? "nothing"} (not a thread export)`);
  }
  if (doc.version !== EXPORT_VERSION) {
    const newer = typeof doc.version === "number" && doc.version > EXPORT_VERSION;
    throw invalid(
      newer
        ? `version ${doc.version} was written by a newer langgraph-checkpoint-pg; this one reads version ${EXPORT_VERSION}`
        : `version must be ${EXPORT_VERSION}, got ${JSON.stringify(doc.version) ?? "nothing"}`,
    );
  }
  key(doc.thread_id, "thread_id");
  text(doc.exported_at, "exported_at");
  const counts = object(doc.counts, "counts");
  const lists = {
    checkpoints: list(doc.checkpoints, "checkpoints"),
    blobs: list(doc.blobs, "blobs"),
    writes: list(doc.writes, "writes"),
  };
  for (const name of ["checkpoints", "blobs", "writes"] as const) {
    if (counts[name] !== lists[name].length) {
      throw invalid(
        `counts.${name} is ${JSON.stringify(counts[name]) ?? "missing"} but the document holds ${lists[name].length} ${name}: it is truncated or was edited`,
      );
    }
  }
  // Two entries for one row would import one of them silently (inserts never overwrite): refused instead.
  const unique = (seen: Set<string>, id: unknown[], at: string, what: string) => {
    const k = JSON.stringify(id);
    if (seen.has(k)) throw invalid(`${at} repeats ${what}`);
    seen.add(k);
  };
  const checkpoints = new Set<string>();
  lists.checkpoints.forEach((entry, i) => {
    const at = `checkpoints[${i}]`;
    const cp = object(entry, at);
    text(cp.checkpoint_ns, `${at}.checkpoint_ns`);
    key(cp.checkpoint_id, `${at}.checkpoint_id`);
    if (cp.parent_checkpoint_id !== null) key(cp.parent_checkpoint_id, `${at}.parent_checkpoint_id`);
    const checkpoint = object(cp.checkpoint, `${at}.checkpoint`);
    if (checkpoint.id !== cp.checkpoint_id) throw invalid(`${at}.checkpoint.id does not match ${at}.checkpoint_id`);
    if ("channel_values" in checkpoint) throw invalid(`${at}.checkpoint must not hold channel_values (values belong in blobs)`);
    // Values are found by these versions: one that is neither a number nor a string would lose its value.
    if (checkpoint.channel_versions !== undefined) {
      const versions = object(checkpoint.channel_versions, `${at}.checkpoint.channel_versions`);
      for (const [channel, version] of Object.entries(versions)) {
        const where = `${at}.checkpoint.channel_versions[${JSON.stringify(channel)}]`;
        if (!(typeof version === "number" && Number.isFinite(version)) && !(typeof version === "string" && version !== "")) {
          throw invalid(`${where} must be a number or a non-empty string, got ${describe(version)}`);
        }
      }
    }
    object(cp.metadata, `${at}.metadata`);
    unique(checkpoints, [cp.checkpoint_ns, cp.checkpoint_id], at, `checkpoint ${cp.checkpoint_id} of namespace ${JSON.stringify(cp.checkpoint_ns)}`);
  });
  const blobs = new Set<string>();
  lists.blobs.forEach((entry, i) => {
    const at = `blobs[${i}]`;
    const blob = object(entry, at);
    text(blob.checkpoint_ns, `${at}.checkpoint_ns`);
    key(blob.channel, `${at}.channel`);
    key(blob.version, `${at}.version`);
    valueType(blob.type, `${at}.type`);
    if (blob.type === EMPTY) {
      if (blob.data !== null) throw invalid(`${at}.data must be null: type "${EMPTY}" marks a version without a value`);
    } else if (blob.data === null) {
      throw invalid(`${at}.data is null, but only type "${EMPTY}" has no data (a ${JSON.stringify(blob.type)} value needs its bytes)`);
    } else {
      base64(blob.data, `${at}.data`);
    }
    unique(blobs, [blob.checkpoint_ns, blob.channel, blob.version], at, `version ${blob.version} of channel ${JSON.stringify(blob.channel)}`);
  });
  const writes = new Set<string>();
  lists.writes.forEach((entry, i) => {
    const at = `writes[${i}]`;
    const write = object(entry, at);
    text(write.checkpoint_ns, `${at}.checkpoint_ns`);
    key(write.checkpoint_id, `${at}.checkpoint_id`);
    key(write.task_id, `${at}.task_id`);
    text(write.task_path, `${at}.task_path`);
    if (!Number.isSafeInteger(write.idx) || Math.abs(write.idx as number) > 2 ** 31 - 1) {
      throw invalid(`${at}.idx must be an integer, got ${describe(write.idx)}`);
    }
    key(write.channel, `${at}.channel`);
    valueType(write.type, `${at}.type`);
    base64(write.data, `${at}.data`);
    unique(writes, [write.checkpoint_ns, write.checkpoint_id, write.task_id, write.idx], at, `write ${write.idx} of task ${JSON.stringify(write.task_id)}`);
  });
  return doc as unknown as ThreadExport;
}

function invalid(message: string): InvalidInputError {
  return new InvalidInputError(`importThread: ${message}`);
}

function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`${at} must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(`${at} must be an array, got ${describe(value)}`);
  return value;
}

/** Any string Postgres TEXT holds ("" allowed: the root namespace, an empty task path). */
function text(value: unknown, at: string): string {
  if (typeof value !== "string") throw invalid(`${at} must be a string, got ${describe(value)}`);
  if (value.includes("\u0000") || !value.isWellFormed()) throw invalid(`${at} contains a NUL character or an unpaired surrogate`);
  return value;
}

function key(value: unknown, at: string): string {
  if (text(value, at).length === 0) throw invalid(`${at} must not be empty`);
  return value as string;
}

function valueType(value: unknown, at: string): void {
  if (COMPRESSED_TYPE.test(key(value, at))) {
    throw invalid(`${at} is ${JSON.stringify(value)}, a compressed type; export documents hold uncompressed values`);
  }
}

function base64(value: unknown, at: string): void {
  if (!isBase64(value)) throw invalid(`${at} must be base64, got ${describe(value)}`);
}

/**
 * Standard base64 with padding. Checked with linear scans rather than one
 * anchored pattern: a repeated group backtracks once per 4 characters, which
 * overflowed V8's regexp stack on values of a few MiB.
 */
function isBase64(value: unknown): boolean {
  if (typeof value !== "string" || value.length % 4 !== 0 || /[^A-Za-z0-9+/=]/.test(value)) return false;
  const pad = value.indexOf("=");
  return pad === -1 || pad === value.length - 1 || (pad === value.length - 2 && value.endsWith("="));
}
