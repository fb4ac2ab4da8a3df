import type { Checkpoint, MemorySaver } from "@langchain/langgraph-checkpoint";
import { InvalidInputError, ThreadNotFoundError } from "../errors.js";
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
  for (const ns of Object.keys(namespaces ?? {}).sort()) {
    for (const [id, [stored, metadata, parent]] of Object.entries(namespaces![ns]!).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const { channel_values: values = {}, ...checkpoint } = (await serde.loadsTyped("json", stored)) as Checkpoint;
      doc.checkpoints.push({
        checkpoint_ns: ns,
        checkpoint_id: id,
        parent_checkpoint_id: parent ?? null,
        checkpoint: checkpoint as unknown as Record<string, unknown>,
        metadata: JSON.parse(decoder.decode(metadata)) as Record<string, unknown>,
      });
      for (const [channel, version] of Object.entries(checkpoint.channel_versions ?? {})) {
        const key = JSON.stringify([ns, channel, String(version)]);
        const known = blobs.get(key);
        const hasValue = Object.hasOwn(values, channel) && values[channel] !== undefined;
        if (known !== undefined && (known.data !== null || !hasValue)) continue;
        const [type, data] = hasValue ? await serde.dumpsTyped(values[channel]) : ["empty", null];
        blobs.set(key, { checkpoint_ns: ns, channel, version: String(version), type, data: base64(data) });
      }
    }
  }
  if (doc.checkpoints.length === 0) throw new ThreadNotFoundError("exportThread", threadId);
  doc.blobs = [...blobs.values()];
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
  doc.counts = { checkpoints: doc.checkpoints.length, blobs: doc.blobs.length, writes: doc.writes.length };
  return doc;
}

/** `doc` into `saver`: everything is deserialized and serialized first, then stored at once, or not at all. */
export async function importMemory(saver: MemorySaver, value: unknown): Promise<ImportResult> {
  const doc = checkThreadExport(value);
  const serde = saver.serde;
  const threadId = doc.thread_id;
  reserved(threadId, "thread_id");
  const blobs = new Map(doc.blobs.map((b) => [JSON.stringify([b.checkpoint_ns, b.channel, b.version]), b]));
  const load = (type: string, data: string | null) => serde.loadsTyped(type, data === null ? new Uint8Array() : Buffer.from(data, "base64"));

  const checkpoints = await Promise.all(doc.checkpoints.map(async (cp, i) => {
    reserved(cp.checkpoint_ns, `checkpoints[${i}].checkpoint_ns`);
    reserved(cp.checkpoint_id, `checkpoints[${i}].checkpoint_id`);
    const channelValues: Record<string, unknown> = {};
    const versions = (cp.checkpoint.channel_versions ?? {}) as Record<string, unknown>;
    for (const [channel, version] of Object.entries(versions)) {
      const blob = blobs.get(JSON.stringify([cp.checkpoint_ns, channel, String(version)]));
      if (blob !== undefined && blob.type !== "empty") channelValues[channel] = await load(blob.type, blob.data);
    }
    const [, stored] = await serde.dumpsTyped({ ...cp.checkpoint, channel_values: channelValues });
    const [, metadata] = await serde.dumpsTyped(cp.metadata);
    return { cp, entry: [stored, metadata, cp.parent_checkpoint_id ?? undefined] as [Uint8Array, Uint8Array, string | undefined] };
  }));
  const writes = await Promise.all(doc.writes.map(async (w, i) => {
    reserved(w.checkpoint_ns, `writes[${i}].checkpoint_ns`);
    reserved(w.task_id, `writes[${i}].task_id`);
    const [, bytes] = await serde.dumpsTyped(await load(w.type, w.data));
    return { w, entry: [w.task_id, w.channel, bytes, w.task_path] as [string, string, Uint8Array, string] };
  }));

  // Nothing awaited from here on: the thread appears whole or not at all.
  const imported = { checkpoints: 0, blobs: 0, writes: 0 };
  const namespaces = (saver.storage[threadId] ??= Object.create(null) as (typeof saver.storage)[string]);
  for (const { cp, entry } of checkpoints) {
    const stored = (namespaces[cp.checkpoint_ns] ??= Object.create(null) as (typeof namespaces)[string]);
    if (stored[cp.checkpoint_id] !== undefined) continue;
    stored[cp.checkpoint_id] = entry;
    imported.checkpoints += 1;
  }
  for (const { w, entry } of writes) {
    const outer = (saver.writes[JSON.stringify([threadId, w.checkpoint_ns, w.checkpoint_id])] ??= Object.create(null) as (typeof saver.writes)[string]);
    const inner = `${w.task_id},${w.idx}`;
    if (outer[inner] !== undefined) continue;
    outer[inner] = entry;
    imported.writes += 1;
  }
  // Values live inside the checkpoints here: a value is "imported" with the first checkpoint that names it.
  imported.blobs = imported.checkpoints > 0 ? doc.blobs.length : 0;
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
  if (RESERVED_KEYS.has(value)) {
    throw new InvalidInputError(`importThread: ${at} is ${JSON.stringify(value)}, which the in-memory saver cannot store`);
  }
}

function base64(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
