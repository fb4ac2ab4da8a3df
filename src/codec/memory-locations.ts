import type { RunnableConfig } from "@langchain/core/runnables";
import type { CheckpointListOptions, MemorySaver } from "@langchain/langgraph-checkpoint";
import { CheckpointerError, type StoredLocation } from "../errors.js";
import { unreadable } from "./decode.js";

/**
 * `MemorySaver` deserializes a whole checkpoint (values included) at once
 * and says nothing about where a failure came from. When a read fails on a
 * stored value, this finds it: it goes through what that read goes through,
 * in its order (MemorySaver's `getTuple` and `list`), deserializing each
 * part on its own, and returns the error of the first part that fails, with
 * its location. Runs only after a read failed.
 */
export async function locateUnreadable(
  saver: MemorySaver,
  config: RunnableConfig,
  options?: CheckpointListOptions & { single?: boolean },
): Promise<CheckpointerError | undefined> {
  const configurable = config.configurable ?? {};
  const threads = configurable.thread_id !== undefined ? [String(configurable.thread_id)] : Object.keys(saver.storage);
  const wantedId = configurable.checkpoint_id as string | undefined;
  const before = options?.before?.configurable?.checkpoint_id as string | undefined;
  let remaining = options?.limit ?? Number.POSITIVE_INFINITY;
  for (const threadId of threads) {
    for (const ns of Object.keys(saver.storage[threadId] ?? {})) {
      if (options?.single ? ns !== (configurable.checkpoint_ns ?? "") : configurable.checkpoint_ns !== undefined && ns !== configurable.checkpoint_ns) continue;
      const checkpoints = saver.storage[threadId]![ns]!;
      const ids = Object.keys(checkpoints).sort().reverse();
      // getTuple reads the given checkpoint, or the newest.
      for (const id of options?.single ? [wantedId ?? ids[0]!] : ids) {
        if (wantedId !== undefined && id !== wantedId) continue;
        if (before !== undefined && id >= before) continue;
        const stored = checkpoints[id];
        if (stored === undefined || remaining <= 0) continue;
        const at = { threadId, checkpointNs: ns, checkpointId: id };
        const metadata = await attempt(saver, stored[1], { ...at, part: "metadata" });
        if (metadata instanceof CheckpointerError) return metadata;
        const filter = options?.filter;
        if (filter && !Object.entries(filter).every(([key, value]) => (metadata as Record<string, unknown>)[key] === value)) continue;
        remaining -= 1;
        for (const [key, [taskId, channel, bytes]] of Object.entries(saver.writes[JSON.stringify([threadId, ns, id])] ?? {})) {
          const idx = Number(key.slice(key.lastIndexOf(",") + 1));
          const write = await attempt(saver, bytes, { ...at, part: "write", taskId, channel, idx });
          if (write instanceof CheckpointerError) return write;
        }
        const value = await checkpointFailure(saver, stored[0], at);
        if (value !== undefined) return value;
      }
    }
  }
  return undefined;
}

/** The value deserialized, or the located error it fails with. */
async function attempt(saver: MemorySaver, bytes: Uint8Array | string | (() => string), where: StoredLocation): Promise<unknown> {
  try {
    return await saver.serde.loadsTyped("json", typeof bytes === "function" ? bytes() : bytes);
  } catch (error) {
    return located(error, where);
  }
}

/** The checkpoint's first channel value that fails, as a located error. */
async function checkpointFailure(
  saver: MemorySaver,
  stored: Uint8Array,
  at: { threadId: string; checkpointNs: string; checkpointId: string },
): Promise<CheckpointerError | undefined> {
  let document: { channel_values?: Record<string, unknown>; channel_versions?: Record<string, unknown> };
  try {
    document = JSON.parse(new TextDecoder().decode(stored));
  } catch (error) {
    return located(error, { ...at, part: "value", channel: "", version: "" });
  }
  for (const [channel, value] of Object.entries(document.channel_values ?? {})) {
    const where = { ...at, part: "value" as const, channel, version: String(document.channel_versions?.[channel] ?? "") };
    const result = await attempt(saver, () => JSON.stringify(value), where);
    if (result instanceof CheckpointerError) return result;
  }
  return undefined;
}

function located(error: unknown, where: StoredLocation): CheckpointerError {
  return unreadable(error, "json", where);
}
