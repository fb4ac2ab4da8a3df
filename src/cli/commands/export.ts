import { threadId } from "../args.js";
import type { Command } from "../command.js";
import { withConnection } from "../connect.js";
import { checkWritable, writeFileAtomically } from "../export-file.js";
import { bytes, json } from "../format.js";

/** `export <thread> [file]`: a thread as a portable JSON document. */
export const exportCommand: Command = {
  name: "export",
  usage: "<thread> [file]",
  summary: "write a thread (every namespace) as a portable JSON document",
  details: `Writes the whole thread (every namespace, checkpoint, value and pending write), read in
one snapshot, as the JSON document saver.exportThread() returns (format
"langgraph-checkpoint-pg/thread", version 1; values uncompressed, base64). To stdout when no
file (or -) is given, and then nothing else is printed there; a file is written whole or not
at all.
Load it with import, here or into another database or schema.

Values are copied as stored, never deserialized: a thread holding values that cannot be read
(LangChain objects that cannot be revived, see the README's security model) exports as it is,
to be inspected or repaired elsewhere.

An unknown thread is an error (exit code 2) and writes nothing.`,
  options: {},
  positionals: { min: 1, max: 2 },
  async run(context) {
    const thread = threadId(context.positionals[0]);
    const file = context.positionals[1];
    if (file !== undefined && file !== "-") await checkWritable(file);
    const doc = await withConnection(context, ({ saver }) => saver.exportThread(thread));
    const text = `${JSON.stringify(doc)}\n`;
    if (file === undefined || file === "-") {
      await context.out(text);
      return 0;
    }
    await writeFileAtomically(file, text);
    const size = Buffer.byteLength(text);
    const { checkpoints, blobs, writes } = doc.counts;
    await context.out(
      context.json
        ? json({ thread_id: thread, file, bytes: size, counts: doc.counts })
        : `exported thread ${context.shown(thread)} to ${context.shown(file)} (${bytes(size)}): ${checkpoints} checkpoints, ${blobs} values, ${writes} pending writes\n`,
    );
    return 0;
  },
};
