import type { Checkpoint, MemorySaver, SerializerProtocol } from "@langchain/langgraph-checkpoint";
import { fromEntries, needsWrapping, wrap, wrapped } from "../codec/plain-data.js";
import { SafeJsonPlusSerializer } from "../codec/serializer.js";
import { InvalidInputError, ThreadExistsError, ThreadNotFoundError } from "../errors.js";
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ExportedBlob,
  type ExportedWrite,
  type ImportResult,
  type ThreadExport,
  checkThreadExport,
} from "./document.js";

/**
 * Export and import for LangGraph's `MemorySaver` (which `MemoryCheckpointer`
 * extends), through its public `storage` and `writes` maps. It keeps each
 * checkpoint serialized whole, values included, and writes serialized
 * without their type tag (it reads them all as "json"), so values are
 * loaded and serialized again on the way out and in, as MemorySaver does.
 */

const decoder = new TextDecoder();

/** Keys MemorySaver refuses to read (they would reach Object.prototype in its maps). */
const RESERVED_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** The type tag of a channel version without a value. */
const EMPTY = "empty";

export async function exportMemory(saver: MemorySaver, threadId: string): Promise<ThreadExport> {
  const serde = saver.serde;
  const namespaces = saver.storage[threadId];
  const doc: ThreadExport = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    thread_id: threadId,
    exported_at: new Date().toISOString(),
    counts: { checkpoints: 0, blobs: 0, writes: 0 },
    checkpoints: [],
    blobs: [],
    writes: [],
  };
  const blobs = new Map<string, ExportedBlob>();
  for (const ns of Object.keys(namespaces ?? {}).sort(compareText)) {
    for (const [id, [stored, metadata, parent]] of Object.entries(namespaces![ns]!).sort(([a], [b]) => compareText(a, b))) {
      const { channel_values: values = {}, ...checkpoint } = (await serde.loadsTyped("json", stored)) as Checkpoint;
      doc.checkpoints.push({
        checkpoint_ns: ns,
        checkpoint_id: id,
        parent_checkpoint_id: parent ?? null,
        checkpoint: checkpoint as unknown as Record<string, unknown>,
        metadata: documentMetadata(JSON.parse(decoder.decode(metadata)) as Record<string, unknown>),
      });
      for (const [channel, version] of Object.entries(checkpoint.channel_versions ?? {})) {
        const key = JSON.stringify([ns, channel, String(version)]);
        const known = blobs.get(key);
        // A value of `undefined` is a value (PostgresSaver.put stores it too); only a missing key is "empty".
        // Versions are immutable, so any checkpoint holding this version's value holds the same value.
        const hasValue = Object.hasOwn(values, channel);
        if (known !== undefined && (known.data !== null || !hasValue)) continue;
        const [type, data] = hasValue ? await serde.dumpsTyped(values[channel]) : [EMPTY, null];
        blobs.set(key, { checkpoint_ns: ns, channel, version: String(version), type, data: base64(data) });
      }
    }
  }
  if (doc.checkpoints.length === 0) throw new ThreadNotFoundError("exportThread", threadId);
  // In PostgresSaver's export order, so a thread exports to the same document from either saver.
  doc.blobs = [...blobs.values()].sort((a, b) => compareKeys([a.checkpoint_ns, a.channel, a.version], [b.checkpoint_ns, b.channel, b.version]));
  for (const [outer, stored] of Object.entries(saver.writes)) {
    const [thread, ns, checkpointId] = JSON.parse(outer) as [string, string, string];
    if (thread !== threadId) continue;
    for (const [inner, [taskId, channel, bytes, taskPath]] of Object.entries(stored)) {
      const [type, data] = await serde.dumpsTyped(await serde.loadsTyped("json", bytes));
      const idx = Number(inner.slice(inner.lastIndexOf(",") + 1));
      const write: ExportedWrite = {
        checkpoint_ns: ns, checkpoint_id: checkpointId, task_id: taskId, task_path: taskPath ?? "", idx, channel, type, data: base64(data)!,
      };
      doc.writes.push(write);
    }
  }
  doc.writes.sort((a, b) =>
    compareKeys([a.checkpoint_ns, a.checkpoint_id, a.task_path, a.task_id], [b.checkpoint_ns, b.checkpoint_id, b.task_path, b.task_id]) || a.idx - b.idx);
  doc.counts = { checkpoints: doc.checkpoints.length, blobs: doc.blobs.length, writes: doc.writes.length };
  return doc;
}

/**
 * Export documents carry metadata as `PostgresSaver` stores it: escaped
 * below its top level (plain-data.ts), its top level never wrapped.
 * `MemorySaver` keeps it as the serializer wrote it, where the top level is
 * wrapped like any value; serializing the document's metadata again would
 * escape the escapes.
 */
function documentMetadata(stored: Record<string, unknown>): Record<string, unknown> {
  const entries = wrapped(stored);
  return entries === undefined ? stored : fromEntries(entries);
}

async function storedMetadata(serde: SerializerProtocol, metadata: Record<string, unknown>): Promise<Uint8Array> {
  if (!(serde instanceof SafeJsonPlusSerializer)) return (await serde.dumpsTyped(metadata))[1];
  return new TextEncoder().encode(JSON.stringify(needsWrapping(metadata) ? wrap(metadata) : metadata));
}

/** `doc` into `saver`: everything is deserialized and serialized first, then stored at once, or not at all. */
export async function importMemory(saver: MemorySaver, value: unknown): Promise<ImportResult> {
  const doc = checkThreadExport(value);
  const serde = saver.serde;
  const threadId = doc.thread_id;
  reserved(threadId, "thread_id");
  const blobs = new Map(doc.blobs.map((b) => [blobKey(b.checkpoint_ns, b.channel, b.version), b]));
  const load = (type: string, data: string | null) =>
    // A copy as a plain Uint8Array: a Buffer would serialize through its toJSON() as { type: "Buffer", data }, not as bytes.
    serde.loadsTyped(type, data === null ? new Uint8Array() : new Uint8Array(Buffer.from(data, "base64")));

  const checkpoints = await Promise.all(doc.checkpoints.map(async (cp, i) => {
    const at = `checkpoints[${i}]`;
    reserved(cp.checkpoint_ns, `${at}.checkpoint_ns`);
    reserved(cp.checkpoint_id, `${at}.checkpoint_id`);
    const channelValues: Record<string, unknown> = {};
    const versions = (cp.checkpoint.channel_versions ?? {}) as Record<string, unknown>;
    const named: string[] = [];
    for (const [channel, version] of Object.entries(versions)) {
      // MemorySaver stores a checkpoint as one JSON document, and reading it back
      // assigns each key: a channel called "__proto__" would silently vanish.
      if (channel === "__proto__") throw memoryRefusal(`${at}.checkpoint.channel_versions`, "has a channel called \"__proto__\"");
      const key = blobKey(cp.checkpoint_ns, channel, String(version));
      named.push(key);
      const blob = blobs.get(key);
      if (blob !== undefined && blob.type !== EMPTY) channelValues[channel] = await load(blob.type, blob.data);
    }
    const [, stored] = await serde.dumpsTyped({ ...cp.checkpoint, channel_values: channelValues });
    const metadata = await storedMetadata(serde, cp.metadata);
    return { cp, named, entry: [stored, metadata, cp.parent_checkpoint_id ?? undefined] as [Uint8Array, Uint8Array, string | undefined] };
  }));
  const writes = await Promise.all(doc.writes.map(async (w, i) => {
    const at = `writes[${i}]`;
    reserved(w.checkpoint_ns, `${at}.checkpoint_ns`);
    reserved(w.checkpoint_id, `${at}.checkpoint_id`);
    reserved(w.task_id, `${at}.task_id`);
    const [type, bytes] = await serde.dumpsTyped(await load(w.type, w.data));
    // MemorySaver keeps a write's bytes without their type and reads them all as "json".
    if (type !== "json") throw memoryRefusal(at, `holds a value the serializer stores as "${type}", not "json"`);
    return { w, entry: [w.task_id, w.channel, bytes, w.task_path] as [string, string, Uint8Array, string] };
  }));

  // Values live inside the checkpoints here: a channel version is already present if a stored checkpoint names it.
  const present = new Set<string>();
  for (const [ns, stored] of Object.entries(saver.storage[threadId] ?? {})) {
    for (const [entry] of Object.values(stored)) {
      const { channel_versions: versions = {} } = (await serde.loadsTyped("json", entry)) as Partial<Checkpoint>;
      for (const [channel, version] of Object.entries(versions)) present.add(blobKey(ns, channel, String(version)));
    }
  }

  // Nothing awaited from here on: the thread appears whole or not at all.
  const namespaces = (saver.storage[threadId] ??= Object.create(null) as (typeof saver.storage)[string]);
  const imported = { checkpoints: 0, blobs: 0, writes: 0 };
  const added = new Set<string>();
  for (const { cp, named, entry } of checkpoints) {
    const stored = (namespaces[cp.checkpoint_ns] ??= Object.create(null) as (typeof namespaces)[string]);
    if (stored[cp.checkpoint_id] !== undefined) continue;
    stored[cp.checkpoint_id] = entry;
    imported.checkpoints += 1;
    for (const key of named) if (!present.has(key)) added.add(key);
  }
  for (const { w, entry } of writes) {
    const outer = (saver.writes[JSON.stringify([threadId, w.checkpoint_ns, w.checkpoint_id])] ??= Object.create(null) as (typeof saver.writes)[string]);
    const inner = `${w.task_id},${w.idx}`;
    if (outer[inner] !== undefined) continue;
    outer[inner] = entry;
    imported.writes += 1;
  }
  // A value is imported with the first new checkpoint that names it; one that no checkpoint names has nowhere to go here.
  imported.blobs = [...blobs.keys()].filter((key) => added.has(key)).length;
  return {
    thread_id: threadId,
    imported,
    skipped: {
      checkpoints: doc.checkpoints.length - imported.checkpoints,
      blobs: doc.blobs.length - imported.blobs,
      writes: doc.writes.length - imported.writes,
    },
  };
}

function reserved(value: string, at: string): void {
  if (RESERVED_KEYS.has(value)) throw memoryRefusal(at, `is ${JSON.stringify(value)}`);
}

function memoryRefusal(at: string, what: string): InvalidInputError {
  return new InvalidInputError(`importThread: ${at} ${what}, which the in-memory saver cannot store`);
}

function blobKey(ns: string, channel: string, version: string): string {
  return JSON.stringify([ns, channel, version]);
}

/** Code unit order, as `Array.prototype.sort` (and, for all but rare characters, Postgres's COLLATE "C"). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i += 1) {
    const order = compareText(a[i]!, b[i]!);
    if (order !== 0) return order;
  }
  return 0;
}

function base64(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * `copyThread()` for `MemorySaver` storage: every namespace, checkpoint and
 * pending write of `source`, under the same ids, stored at once. A target
 * that has checkpoints is refused.
 */
export function copyMemory(saver: MemorySaver, source: string, target: string): { checkpoints: number; blobs: number; writes: number } {
  reserved(source, "sourceThreadId");
  reserved(target, "targetThreadId");
  if (Object.values(saver.storage[target] ?? {}).some((checkpoints) => Object.keys(checkpoints).length > 0)) {
    throw new ThreadExistsError("copyThread", target);
  }
  const namespaces = saver.storage[source];
  const counts = { checkpoints: 0, blobs: 0, writes: 0 };
  const copy = Object.create(null) as (typeof saver.storage)[string];
  for (const [ns, checkpoints] of Object.entries(namespaces ?? {})) {
    copy[ns] = Object.create(null) as (typeof copy)[string];
    for (const [id, [checkpoint, metadata, parent]] of Object.entries(checkpoints)) {
      copy[ns]![id] = [checkpoint.slice(), metadata.slice(), parent];
      counts.checkpoints += 1;
    }
  }
  if (counts.checkpoints === 0) throw new ThreadNotFoundError("copyThread", source);
  const writes: Array<[string, (typeof saver.writes)[string]]> = [];
  for (const [key, stored] of Object.entries(saver.writes)) {
    const [thread, ns, checkpointId] = JSON.parse(key) as [string, string, string];
    if (thread !== source) continue;
    const entries = Object.create(null) as (typeof saver.writes)[string];
    for (const [inner, [taskId, channel, bytes, taskPath]] of Object.entries(stored)) {
      entries[inner] = [taskId, channel, bytes.slice(), taskPath];
      counts.writes += 1;
    }
    writes.push([JSON.stringify([target, ns, checkpointId]), entries]);
  }
  // Nothing awaited: the copy appears whole.
  saver.storage[target] = copy;
  for (const [key, entries] of writes) saver.writes[key] = entries;
  return counts;
}
