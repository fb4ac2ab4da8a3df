// Checkpoints as LangGraph writes them, for driving a saver directly: a state
// of CHANNELS small channels (or one 200-message conversation) where each
// `put` changes some of them, chained parent to child like a graph's steps.
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { conversationMessages } from "./conversation.mjs";

export const CHANNELS = 20;
const channelNames = Array.from({ length: CHANNELS }, (_, i) => `channel_${i}`);

/** A value the size of a typical small channel (a status object, a short list). */
const smallValue = (channel, step) => ({ channel, step, status: "ok", items: [step, step + 1, step + 2], note: `updated at step ${step}` });

/**
 * One thread written step by step. `put(changed)` stores the next checkpoint,
 * changing the first `changed` channels; the conversation variant keeps a
 * `messages` channel of `messages` messages that changes every step.
 */
export class ThreadWriter {
  constructor(saver, threadId, { messages = 0, seed = 1, after = undefined } = {}) {
    this.saver = saver;
    this.threadId = threadId;
    this.step = 0;
    // Versions start at the clock so a second writer on the same thread never
    // reuses a version (the savers would then skip storing the blob).
    const base = Date.now();
    this.versions = Object.fromEntries(channelNames.map((c) => [c, base]));
    this.values = Object.fromEntries(channelNames.map((c) => [c, smallValue(c, 0)]));
    if (messages > 0) {
      this.versions.messages = base;
      this.values.messages = conversationMessages(messages, seed);
    }
    // `after`: continue an existing thread from that checkpoint.
    this.config = after ?? { configurable: { thread_id: threadId, checkpoint_ns: "" } };
  }

  /** Stores the next checkpoint; returns the config that names it. */
  async put(changed) {
    this.step += 1;
    const names = this.values.messages ? ["messages", ...channelNames.slice(0, changed - 1)] : channelNames.slice(0, changed);
    const newVersions = {};
    for (const c of names) {
      this.versions[c] += 1;
      newVersions[c] = this.versions[c];
      if (c !== "messages") this.values[c] = smallValue(c, this.step);
    }
    const checkpoint = {
      ...emptyCheckpoint(),
      id: uuid6(-1),
      channel_values: { ...this.values },
      channel_versions: { ...this.versions },
      versions_seen: { agent: { ...this.versions } },
    };
    const metadata = { source: "loop", step: this.step, parents: {} };
    this.config = await this.saver.put(this.config, checkpoint, metadata, newVersions);
    return this.config;
  }
}

/** `count` pending writes of a tool-calling step, `perCall` at a time. */
export async function addPendingWrites(saver, config, count, perCall = 100) {
  for (let done = 0; done < count; done += perCall) {
    const n = Math.min(perCall, count - done);
    const writes = Array.from({ length: n }, (_, i) => ["results", { tool: "search", call: done + i, output: `result ${done + i}` }]);
    await saver.putWrites(config, writes, `task-${done}`);
  }
}

/** `n` writes for one `putWrites` call, as a step of parallel tool calls makes. */
export const toolWrites = (n, i) => Array.from({ length: n }, (_, k) => ["results", { tool: "search", call: k, output: `result ${i}.${k}` }]);
