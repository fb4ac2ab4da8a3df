import { threadHistory } from "../../inspect/history.js";
import { oneOf, positiveInteger, threadId } from "../args.js";
import type { Command } from "../command.js";
import { withConnection } from "../connect.js";
import { json, namespace, plural, preview, table } from "../format.js";

const DEFAULT_LIMIT = 50;

/** `show <thread>`: a thread's history, as an operator debugging a stuck run reads it. */
export const show: Command = {
  name: "show",
  usage: "<thread> [--limit N] [--unrevivable plain]",
  summary: "a thread's checkpoints (every namespace) and pending writes",
  details: `Prints a thread's checkpoint history, newest first, in every namespace: each
checkpoint's id, parent, step, source (input, loop, update, fork) and the channels it wrote
(those whose version differs from its parent's). Then its pending writes (task id, channel).
Values are not printed, except an __error__ write's error message and an __interrupt__
write's interrupt value: why a run failed, and what it is waiting for.

A shown value holding a LangChain object that cannot be revived (see the README's security
model) is reported as not decoding; with --unrevivable plain it is shown as the plain data it
is stored as. (LANGGRAPH_CHECKPOINT_UNREVIVABLE sets the same; the flag wins.)

An unknown thread is an error (exit code 2).`,
  options: {
    limit: { type: "string", value: "N", help: `the newest N checkpoints (default ${DEFAULT_LIMIT})` },
    unrevivable: { type: "string", value: "MODE", help: "throw (report it) or plain (show it as stored)" },
  },
  positionals: { min: 1, max: 1 },
  async run(context) {
    const thread = threadId(context.positionals[0]);
    const limit = positiveInteger(context.values.limit, "--limit") ?? DEFAULT_LIMIT;
    const unrevivable = oneOf(context.values.unrevivable, "--unrevivable", ["throw", "plain"] as const);
    const history = await withConnection(context, ({ database }) => threadHistory(database, thread, { limit, unrevivable }));
    if (context.json) {
      await context.out(json(history));
      return 0;
    }
    const { entries } = history;
    const shown = entries.length < history.checkpoints ? ` (showing the newest ${entries.length}; --limit to see more)` : "";
    await context.out(
      `thread ${context.shown(thread)}: ${plural(history.checkpoints, "checkpoint")} in ${plural(history.namespaces, "namespace")}${shown}\n\n`,
    );
    await context.out(table(
      ["CHECKPOINT", "NAMESPACE", "PARENT", "STEP>", "SOURCE", "CHANNELS WRITTEN"],
      entries.map((e) => [
        e.checkpoint_id, namespace(e.checkpoint_ns), e.parent_checkpoint_id ?? "-", e.step ?? "-", e.source ?? "-",
        e.channels_written.join(", ") || "-",
      ]),
    ));
    const writes = entries.flatMap((e) => e.pending_writes.map((w) => [
      e.checkpoint_id, namespace(e.checkpoint_ns), w.task_id, w.channel,
      w.value_error !== undefined ? `(does not decode: ${w.value_error})` : w.value === undefined ? "" : preview(w.value),
    ]));
    await context.out(writes.length === 0 ? "\nno pending writes\n" : `\npending writes\n${table(["CHECKPOINT", "NAMESPACE", "TASK", "CHANNEL", "VALUE"], writes)}`);
    return 0;
  },
};
