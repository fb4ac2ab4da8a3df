import { type DeltaBase, MIN_BASE_BYTES } from "./delta.js";

/**
 * What a saver remembers of the channel values it last wrote or read, so
 * that `put` can store a new version as a delta against its parent's
 * version without reading the database.
 *
 * A base is used only when it is certainly the value the new checkpoint's
 * parent has: the parent must be the checkpoint this saver last wrote or
 * read on that thread and namespace, and the remembered value must carry the
 * version that checkpoint names for the channel. Anything else (another
 * process wrote since, a fork from an older checkpoint, an evicted value)
 * simply gets a full value. `put` also checks in its statement that the
 * base row still exists (see sql/checkpoints.ts), so a base pruned or
 * deleted meanwhile costs a resend with full values, never a broken chain.
 */

/**
 * A value as stored, the base of a later delta: its version (as the
 * checkpoint document spells it), the serializer's type and whole bytes,
 * how many deltas lie between it and the full value its chain ends at (0:
 * stored whole), and the suffix bytes of those deltas.
 */
export type KnownValue = DeltaBase;

/** Thread namespaces remembered at most, whatever their size. */
const MAX_THREADS = 10_000;
/**
 * What an entry costs besides its bytes (the key, the objects, the typed
 * array's header, a version string), counted so that many small values
 * cannot grow the cache past its capacity.
 */
const VALUE_OVERHEAD_BYTES = 256;
const THREAD_OVERHEAD_BYTES = 512;
const VERSION_OVERHEAD_BYTES = 64;

/** One thread namespace: the checkpoint last written or read there, its channel versions, and values. */
interface ThreadEntry {
  id: string;
  versions: Map<string, string>;
  values: Map<string, KnownValue>;
  /** What this entry counts against the capacity. */
  bytes: number;
}

export class DeltaCache {
  /** Least recently used first. */
  private readonly threads = new Map<string, ThreadEntry>();
  private bytes = 0;

  constructor(private readonly capacityBytes: number) {}

  /** The bases for a checkpoint whose parent is `parentId`: a channel's value in the parent, if known. */
  basesFor(threadId: string, ns: string, parentId: string | undefined): (channel: string) => KnownValue | undefined {
    const key = threadKey(threadId, ns);
    const entry = parentId === undefined ? undefined : this.threads.get(key);
    if (entry === undefined || entry.id !== parentId) return () => undefined;
    this.threads.delete(key);
    this.threads.set(key, entry);
    return (channel) => {
      const value = entry.values.get(channel);
      return value !== undefined && value.version === entry.versions.get(channel) ? value : undefined;
    };
  }

  /**
   * `checkpointId` is now the newest this saver knows of on (thread, ns):
   * `versions` are its channel versions, `values` the values it stored or
   * returned. Remembered values of channels it did not change stay; values
   * it changed are replaced or dropped; values too small to extend are not kept.
   */
  remember(
    threadId: string,
    ns: string,
    checkpointId: string,
    versions: Record<string, unknown>,
    values: ReadonlyMap<string, KnownValue>,
  ): void {
    if (this.capacityBytes === 0) return;
    const key = threadKey(threadId, ns);
    const previous = this.threads.get(key);
    if (previous !== undefined) this.drop(key);
    const entry: ThreadEntry = {
      id: checkpointId,
      versions: new Map(Object.entries(versions ?? {}).map(([channel, version]) => [channel, String(version)])),
      values: new Map(),
      bytes: 0,
    };
    const keep = (channel: string, value: KnownValue) => {
      if (value.bytes.byteLength < MIN_BASE_BYTES || value.version !== entry.versions.get(channel)) return;
      entry.values.set(channel, value);
    };
    for (const [channel, value] of previous?.values ?? []) keep(channel, value);
    for (const [channel, value] of values) {
      entry.values.delete(channel);
      keep(channel, value);
    }
    entry.bytes = THREAD_OVERHEAD_BYTES + VERSION_OVERHEAD_BYTES * entry.versions.size;
    for (const value of entry.values.values()) entry.bytes += value.bytes.byteLength + VALUE_OVERHEAD_BYTES;
    if (entry.bytes > this.capacityBytes) return;
    this.threads.set(key, entry);
    this.bytes += entry.bytes;
    for (const [oldest] of this.threads) {
      if (this.bytes <= this.capacityBytes && this.threads.size <= MAX_THREADS) break;
      this.drop(oldest);
    }
  }

  /** Forgets every namespace of `threadId` (deleted, pruned, or imported over). */
  forgetThread(threadId: string): void {
    const prefix = `${threadId}\u0000`;
    for (const key of this.threads.keys()) if (key.startsWith(prefix)) this.drop(key);
  }

  /** What the cache holds now, overheads included, in bytes. */
  get size(): number {
    return this.bytes;
  }

  private drop(key: string): void {
    const entry = this.threads.get(key);
    if (entry === undefined) return;
    this.bytes -= entry.bytes;
    this.threads.delete(key);
  }
}

// Thread ids and namespaces never hold NUL (input checks refuse it), so it separates the parts.
const threadKey = (threadId: string, ns: string) => `${threadId}\u0000${ns}`;
