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

import type { DeltaBase } from "./delta.js";

/**
 * A value as stored, the base of a later delta: its version (as the
 * checkpoint document spells it), the serializer's type and whole bytes,
 * how many deltas lie between it and the full value its chain ends at (0:
 * stored whole), and the suffix bytes of those deltas.
 */
export type KnownValue = DeltaBase;

/** Thread namespaces remembered at most; each costs a few hundred bytes. */
const MAX_CHECKPOINTS = 10_000;

export class DeltaCache {
  /** thread, namespace → the checkpoint last written or read there and its channel versions. */
  private readonly checkpoints = new Map<string, { id: string; versions: Map<string, string> }>();
  /** thread, namespace, channel → its value in that checkpoint; least recently used first. */
  private readonly values = new Map<string, KnownValue>();
  private bytes = 0;

  constructor(private readonly capacityBytes: number) {}

  /** The bases for a checkpoint whose parent is `parentId`: a channel's value in the parent, if known. */
  basesFor(threadId: string, ns: string, parentId: string | undefined): (channel: string) => KnownValue | undefined {
    const known = parentId === undefined ? undefined : this.checkpoints.get(threadKey(threadId, ns));
    if (known === undefined || known.id !== parentId) return () => undefined;
    return (channel) => {
      const key = valueKey(threadId, ns, channel);
      const value = this.values.get(key);
      if (value === undefined || value.version !== known.versions.get(channel)) return undefined;
      this.values.delete(key);
      this.values.set(key, value);
      return value;
    };
  }

  /**
   * `checkpointId` is now the newest this saver knows of on (thread, ns):
   * `versions` are its channel versions, `values` the values it stored or
   * returned. Remembered values of channels it did not change stay valid.
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
    this.checkpoints.delete(key);
    this.checkpoints.set(key, {
      id: checkpointId,
      versions: new Map(Object.entries(versions ?? {}).map(([channel, version]) => [channel, String(version)])),
    });
    if (this.checkpoints.size > MAX_CHECKPOINTS) this.checkpoints.delete(this.checkpoints.keys().next().value!);
    for (const [channel, value] of values) {
      const vkey = valueKey(threadId, ns, channel);
      this.drop(vkey);
      if (value.bytes.byteLength > this.capacityBytes) continue;
      this.values.set(vkey, value);
      this.bytes += value.bytes.byteLength;
    }
    for (const [oldest] of this.values) {
      if (this.bytes <= this.capacityBytes) break;
      this.drop(oldest);
    }
  }

  /** Forgets every namespace of `threadId` (deleted, pruned, or imported over). */
  forgetThread(threadId: string): void {
    const prefix = `${threadId}\u0000`;
    for (const key of this.checkpoints.keys()) if (key.startsWith(prefix)) this.checkpoints.delete(key);
    for (const key of this.values.keys()) if (key.startsWith(prefix)) this.drop(key);
  }

  /** Bytes of values held now. */
  get size(): number {
    return this.bytes;
  }

  private drop(key: string): void {
    const value = this.values.get(key);
    if (value === undefined) return;
    this.bytes -= value.bytes.byteLength;
    this.values.delete(key);
  }
}

// Thread ids and namespaces never hold NUL (input checks refuse it), so it separates the parts.
const threadKey = (threadId: string, ns: string) => `${threadId}\u0000${ns}`;
const valueKey = (threadId: string, ns: string, channel: string) => `${threadId}\u0000${ns}\u0000${channel}`;
