// The saver-level workloads: each times one BaseCheckpointSaver call on data
// prepared in advance. `fixtures` are the threads seedFixtures() wrote
// through each contender itself; every workload gets the same shape of data
// for every contender.
import { ThreadWriter, addPendingWrites, toolWrites } from "./threads.mjs";

const count = (n) => n.toLocaleString("en-US");
const latest = (config) => ({ configurable: { thread_id: config.configurable.thread_id, checkpoint_ns: "" } });
const drain = async (iterator) => {
  let n = 0;
  for await (const _ of iterator) n += 1;
  return n;
};

/** Writes the threads the read workloads use. `copy(from, to, n)` adds n copies of a thread's newest checkpoint. */
export async function seedFixtures(saver, copy, sizes) {
  const thread = async (id, puts) => {
    const writer = new ThreadWriter(saver, id);
    for (let i = 0; i < puts; i += 1) await writer.put(5);
    return writer.config;
  };
  const fixtures = {
    reads: await thread("reads", 10),
    readsWithWrites: await thread("reads-with-writes", 10),
    list: await thread("list", 1),
    small: await thread("small", 10),
    big: await thread("big", 1),
    deleteTemplate: await thread("delete-template", 1),
  };
  await addPendingWrites(saver, fixtures.readsWithWrites, sizes.pendingWrites);
  await copy("list", "list", sizes.listThread - 1);
  await copy("big", "big", sizes.scanThread - 1);
  return fixtures;
}

/**
 * Every workload: `{ id, group, label, bigThread?, setup(ctx) → { op(i), prepare?(i) } }`.
 * `ctx` is `{ saver, fixtures, copy, transport }`. `bigThread` workloads need
 * a thread of `scanThread` checkpoints (MemorySaver sorts every key of a
 * thread on each read, so it sits those out).
 */
export function saverWorkloads(sizes) {
  const put = (id, label, changed, { messages = 0, thread = undefined } = {}) => ({
    id,
    group: thread ? "flatness" : "put",
    label,
    bigThread: thread === "big",
    setup: ({ saver, transport, fixtures }) => {
      const writer = thread
        ? new ThreadWriter(saver, thread, { after: fixtures[thread] })
        : new ThreadWriter(saver, `${id}-${transport}`, { messages });
      return { op: () => writer.put(changed) };
    },
  });
  const putWrites = (n) => ({
    id: `putWrites-${n}`,
    group: "putWrites",
    label: `putWrites, ${n} write${n > 1 ? "s" : ""}`,
    setup: async ({ saver, transport }) => {
      const writer = new ThreadWriter(saver, `putWrites-${n}-${transport}`);
      const config = await writer.put(5);
      return { op: (i) => saver.putWrites(config, toolWrites(n, i), `task-${i}`) };
    },
  });
  const getTuple = (byId, withWrites) => ({
    id: `getTuple-${byId ? "id" : "latest"}-${withWrites ? sizes.pendingWrites : 0}`,
    group: "getTuple",
    label: `getTuple ${byId ? "by id" : "latest"}, ${withWrites ? count(sizes.pendingWrites) : "no"} pending writes`,
    setup: ({ saver, fixtures }) => {
      const stored = withWrites ? fixtures.readsWithWrites : fixtures.reads;
      const config = byId ? stored : latest(stored);
      return { op: () => saver.getTuple(config) };
    },
  });
  const list = (limit) => ({
    id: `list-${limit}`,
    group: "list",
    label: `list limit ${limit}, thread of ${count(sizes.listThread)} checkpoints`,
    setup: ({ saver, fixtures }) => ({ op: () => drain(saver.list(latest(fixtures.list), { limit })) }),
  });
  return [
    put("put-1", "put, 1 changed channel", 1),
    put("put-5", "put, 5 changed channels", 5),
    put("put-20", "put, 20 changed channels", 20),
    put(`put-messages-${sizes.messages}`, `put, ${sizes.messages}-message conversation`, 1, { messages: sizes.messages }),
    putWrites(1),
    putWrites(4),
    putWrites(32),
    getTuple(false, false),
    getTuple(true, false),
    getTuple(false, true),
    getTuple(true, true),
    list(10),
    list(50),
    {
      id: `deleteThread-${sizes.deleteThread}`,
      group: "deleteThread",
      label: `deleteThread, ${count(sizes.deleteThread)} checkpoints`,
      setup: ({ saver, copy, transport }) => {
        const thread = (i) => `delete-${transport}-${i}`;
        return {
          prepare: (i) => copy("delete-template", thread(i), sizes.deleteThread),
          op: (i) => saver.deleteThread(thread(i)),
        };
      },
    },
    // Latency must not depend on how long the thread is.
    put("flat-put-small", "put (5 channels), thread of 10 checkpoints", 5, { thread: "small" }),
    put("flat-put-big", `put (5 channels), thread of ${count(sizes.scanThread)} checkpoints`, 5, { thread: "big" }),
    {
      id: "flat-getTuple-small",
      group: "flatness",
      label: "getTuple latest, thread of 10 checkpoints",
      setup: ({ saver, fixtures }) => ({ op: () => saver.getTuple(latest(fixtures.small)) }),
    },
    {
      id: "flat-getTuple-big",
      group: "flatness",
      label: `getTuple latest, thread of ${count(sizes.scanThread)} checkpoints`,
      bigThread: true,
      setup: ({ saver, fixtures }) => ({ op: () => saver.getTuple(latest(fixtures.big)) }),
    },
  ];
}
