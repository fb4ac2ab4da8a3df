import type { Command } from "../command.js";
import { withConnection } from "../connect.js";
import { readExportFile } from "../export-file.js";
import { json } from "../format.js";

/** `import <file>`: the other half of `export`. */
export const importCommand: Command = {
  name: "import",
  usage: "<file | ->",
  summary: "load a thread from an export document (- reads stdin)",
  details: `Loads a document written by export (or saver.exportThread(), from any database, schema or
MemoryCheckpointer) with saver.importThread(): in one transaction, all of it or none of it.
Rows that already exist are kept as they are, so importing the same file twice adds nothing.
Creates or migrates the tables first, as setup does.

The file is read and checked before connecting: one that cannot be read, is not valid JSON
(a truncated file says so, with the position) or is not a complete thread export is refused
with exit code 2, and nothing is imported.`,
  options: {},
  positionals: { min: 1, max: 1 },
  async run(context) {
    const doc = await readExportFile(context.io, context.positionals[0]!);
    const result = await withConnection(context, async ({ saver }) => {
      await saver.setup();
      return saver.importThread(doc);
    });
    if (context.json) {
      await context.out(json(result));
      return 0;
    }
    const { imported: i, skipped: s } = result;
    await context.out(
      `imported thread ${result.thread_id}: ${i.checkpoints} checkpoints, ${i.blobs} values, ${i.writes} pending writes` +
      ` (already present, kept: ${s.checkpoints} checkpoints, ${s.blobs} values, ${s.writes} pending writes)\n`,
    );
    return 0;
  },
};
