import { deltaChannelHistoryTests, validate } from "@langchain/langgraph-checkpoint-validation";
import type { CheckpointSaverTestInitializer } from "@langchain/langgraph-checkpoint-validation";
import { PostgresSaver } from "../../../src/index.js";
import { targets, useTestDatabase } from "../../support/database.js";

/**
 * The official conformance suite, in full, against our saver: once directly
 * and once through PgBouncer in transaction mode. Each checkpointer the suite
 * asks for gets a fresh schema (the `list` cases need empty storage), and the
 * schema names carry a space and a double quote, so every statement of every
 * case also exercises identifier quoting.
 */
const db = useTestDatabase();
let schemas = 0;

for (const target of targets()) {
  const initializer: CheckpointSaverTestInitializer<PostgresSaver> = {
    // Our own name: the suite's skip lists are keyed on the official packages' names.
    checkpointerName: target.name === "direct" ? "langgraph-checkpoint-pg" : "langgraph-checkpoint-pg via pgbouncer",
    async createCheckpointer() {
      schemas += 1;
      const saver = PostgresSaver.fromConnString(target.url(db.url()), { schema: `conformance "${schemas}" run` });
      await saver.setup();
      return saver;
    },
    async destroyCheckpointer(saver) {
      await saver.end();
    },
  };
  validate(initializer);
  deltaChannelHistoryTests(initializer);
}
