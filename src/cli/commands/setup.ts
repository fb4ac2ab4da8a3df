import type { Command } from "../command.js";
import { withConnection } from "../connect.js";
import { json } from "../format.js";

/** `setup`: what `saver.setup()` does, from a deploy script or an init container. */
export const setup: Command = {
  name: "setup",
  usage: "",
  summary: "create the tables or migrate them to the latest version",
  details: `Creates the schema and tables, or migrates them to the latest version (the official
savers' migrations v0-v9). Safe to run from many processes at once: a transaction-scoped
advisory lock serialises them, also behind PgBouncer in transaction mode. Costs one query
when the schema is already current.`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(context) {
    const version = await withConnection(context, async ({ saver, database }) => {
      await saver.setup();
      const [row] = await database.query<{ v: number | null }>("setup", database.sql.inspect.schemaVersion, []);
      return row?.v ?? null;
    });
    await context.out(
      context.json
        ? json({ schema: context.schema, version })
        : `schema ${JSON.stringify(context.schema)} is set up at version ${version}\n`,
    );
    return 0;
  },
};
