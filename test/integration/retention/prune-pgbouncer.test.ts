import { HumanMessage } from "@langchain/core/messages";
import { MemorySaver } from "@langchain/langgraph";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PostgresSaver } from "../../../src/index.js";
import { targets, useTestDatabase } from "../../support/database.js";
import { approve, deltaGraph, deltaGraphStart, plain, subgraphGraph, subgraphGraphStart, toolGraph, toolGraphStart } from "../../support/graphs.js";
import { INTACT, ageThread, idsByNamespace, integrity, quietLogger, rowsPerThread } from "../../support/prune.js";

/**
 * `prune()` through PgBouncer in transaction mode (each statement may run
 * on a different server connection: no session state may be relied on),
 * and directly, with the same assertions: keepLast keeps the newest per
 * namespace and interrupted threads resume; olderThan deletes whole
 * threads; dryRun matches; no row dangles.
 */
const db = useTestDatabase();
let admin: pg.Pool;

const config = (thread: string) => ({ configurable: { thread_id: thread } });
const more = () => ({ messages: [new HumanMessage({ id: "human-2", content: "more" })] });

beforeAll(() => {
  admin = new pg.Pool({ connectionString: db.url() });
});

afterAll(async () => {
  await admin?.end();
});

it("the PgBouncer leg is present (bouncerPort is provided by the harness)", () => {
  expect(inject("bouncerPort")).toBeGreaterThan(0);
  expect(targets().map((t) => t.name)).toEqual(["direct", "pgbouncer"]);
});

for (const target of targets()) {
  describe(`through ${target.name}`, () => {
    let saver: PostgresSaver;
    const schema = `prune_${target.name}`;
    const t = (name: string) => `${target.name}-${name}`;

    beforeAll(async () => {
      saver = PostgresSaver.fromConnString(target.url(db.url()), { schema, logger: quietLogger, pool: { max: 4 } });
      await saver.setup();
    });

    afterAll(async () => {
      await saver?.end();
    });

    it("keepLast 1 in small batches: newest per namespace kept, threads resume as unpruned references", async () => {
      const tools = toolGraph(saver, []);
      await tools.invoke(toolGraphStart(), config(t("tools")));
      await subgraphGraph(saver, []).invoke(subgraphGraphStart(), config(t("sub")));
      await deltaGraph(saver, [], 14).invoke(deltaGraphStart(), config(t("delta")));
      const before = {
        tools: await idsByNamespace(admin, t("tools"), schema),
        sub: await idsByNamespace(admin, t("sub"), schema),
      };

      const dry = await saver.prune({ keepLast: 1, batchSize: 2, dryRun: true });
      const result = await saver.prune({ keepLast: 1, batchSize: 2 });
      expect(result).toEqual({ ...dry, dryRun: false });
      expect(result.checkpoints).toBeGreaterThan(0);
      for (const [name, ids] of Object.entries(before)) {
        expect(await idsByNamespace(admin, t(name), schema)).toEqual(
          Object.fromEntries(Object.entries(ids).map(([ns, list]) => [ns, list.slice(-1)])),
        );
      }
      expect(await integrity(admin, schema)).toEqual(INTACT);

      // Resumed, each ends as the same run on MemorySaver.
      const reference = new MemorySaver();
      const refTools: string[] = [];
      await toolGraph(reference, refTools).invoke(toolGraphStart(), config("r"));
      refTools.length = 0;
      await toolGraph(reference, refTools).invoke(approve(), config("r"));
      const log: string[] = [];
      await toolGraph(saver, log).invoke(approve(), config(t("tools")));
      expect(log).toEqual(refTools);

      const subLog: string[] = [];
      await subgraphGraph(saver, subLog).invoke(approve("ok"), config(t("sub")));
      expect(subLog).toEqual(["confirm:asked", "confirm:ok", "publish"]);

      await deltaGraph(reference, [], 14).invoke(deltaGraphStart(), config("d"));
      await deltaGraph(reference, [], 18).invoke(more(), config("d"));
      await deltaGraph(saver, [], 18).invoke(more(), config(t("delta")));
      const state = async (checkpointer: MemorySaver | PostgresSaver, thread: string) =>
        plain((await deltaGraph(checkpointer, [], 18).getState(config(thread))).values);
      expect(await state(saver, t("delta"))).toEqual(await state(reference, "d"));
    });

    it("olderThan (with keepLast, small batches): old threads gone from all three tables, young ones pruned", async () => {
      for (const name of ["old-a", "old-b", "young"]) {
        await toolGraph(saver, []).invoke(toolGraphStart(), config(t(name)));
        await toolGraph(saver, []).invoke(approve(), config(t(name)));
      }
      await ageThread(admin, t("old-a"), 5 * 86_400_000, schema);
      await ageThread(admin, t("old-b"), 5 * 86_400_000, schema);
      const before = await rowsPerThread(admin, schema);
      const dry = await saver.prune({ olderThan: "4d", keepLast: 2, batchSize: 3, dryRun: true });
      expect(await rowsPerThread(admin, schema)).toEqual(before);
      const result = await saver.prune({ olderThan: "4d", keepLast: 2, batchSize: 3 });
      expect(result).toEqual({ ...dry, dryRun: false });
      expect(result.threadsDeleted).toBe(2);
      const after = await rowsPerThread(admin, schema);
      expect(after[t("old-a")]).toBeUndefined();
      expect(after[t("old-b")]).toBeUndefined();
      expect((await idsByNamespace(admin, t("young"), schema))[""]).toHaveLength(2);
      expect(await integrity(admin, schema)).toEqual(INTACT);
    });
  });
}
