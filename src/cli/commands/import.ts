import type { Command } from "../command.js";
import { isMissingTable, withConnection } from "../connect.js";
import { CheckpointerDatabaseError, SQLSTATE } from "../../errors.js";
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
Creates or migrates the tables when they are missing or older, as setup does (only once
the document has passed every check, so a refused file changes nothing).

The file is read and checked before connecting: one that cannot be read, is not valid JSON
(a truncated file says so, with the position) or is not a complete thread export is refused
with exit code 2, and nothing is imported.`,
  options: {},
  positionals: { min: 1, max: 1 },
  async run(context) {
    const doc = await readExportFile(context.io, context.positionals[0]!);
    const result = await withConnection(context, async ({ saver }) => {
      try {
        return await saver.importThread(doc);
      } catch (error) {
        // Set up only once the document has passed every check the library makes before writing:
        // a refused file must leave the database as it was, tables included.
        if (!isMissingTable(error) && !isOlderSchema(error)) throw error;
        await saver.setup();
        return saver.importThread(doc);
      }
    });
    if (context.json) {
      await context.out(json(result));
      return 0;
    }
    const { imported: i, skipped: s } = result;
    await context.out(
      // The thread id comes from the file: printed with control characters escaped.
      `imported thread ${context.shown(result.thread_id)}: ${i.checkpoints} checkpoints, ${i.blobs} values, ${i.writes} pending writes` +
      ` (already present, kept: ${s.checkpoints} checkpoints, ${s.blobs} values, ${s.writes} pending writes)\n`,
    );
    return 0;
  },
};

/** A schema before migration v9 (the official JS saver's) has no checkpoint_writes.task_path: undefined_column. */
function isOlderSchema(error: unknown): boolean {
  return error instanceof CheckpointerDatabaseError && error.sqlstate === SQLSTATE.undefinedColumn;
}
