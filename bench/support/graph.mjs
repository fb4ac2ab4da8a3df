// The end-to-end workload: a compiled 10-step LangGraph graph with a
// messages state, each step adding an AI message (with tool calls every
// other step), checkpointed with durability "sync" so every step waits for
// its checkpoint, as a production agent that must survive a crash does.
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { interleave, summarize } from "./measure.mjs";

export const GRAPH_STEPS = 10;

export function buildGraph(checkpointer) {
  const graph = new StateGraph(MessagesAnnotation);
  let previous = START;
  for (let step = 1; step <= GRAPH_STEPS; step += 1) {
    const name = `step_${step}`;
    graph.addNode(name, (state) => ({ messages: [reply(step, state.messages.length)] }));
    graph.addEdge(previous, name);
    previous = name;
  }
  graph.addEdge(previous, END);
  return graph.compile({ checkpointer });
}

const reply = (step, seen) =>
  new AIMessage({
    content: `Step ${step}: read ${seen} messages, checked the order history and drafted the next part of the answer.`,
    tool_calls: step % 2 === 0 ? [{ id: `call_${step}`, name: "lookup_order", args: { order: 1000 + step, fields: ["status", "eta"] } }] : [],
    usage_metadata: { input_tokens: 120 * seen, output_tokens: 40, total_tokens: 120 * seen + 40 },
  });

/**
 * Graph steps per second at `concurrency` threads at once, per contender
 * (`{ id, app }`): `waves` timed waves of `concurrency` invocations on new
 * threads each, after one untimed wave. p50/p99 are per invocation.
 */
export async function timeGraphs(contenders, { concurrency, waves, prefix }) {
  const totals = new Map(contenders.map((c) => [c.id, { ms: [], wallMs: 0 }]));
  let thread = 0;
  const wave = async (c) => {
    const start = performance.now();
    const ms = await Promise.all(Array.from({ length: concurrency }, () => runOnce(c.app, `${prefix}-${c.id}-${thread++}`)));
    return { ms, wallMs: performance.now() - start };
  };
  await interleave(contenders, 1, wave);
  await interleave(contenders, waves, async (c) => {
    const { ms, wallMs } = await wave(c);
    const total = totals.get(c.id);
    total.ms.push(...ms);
    total.wallMs += wallMs;
  });
  return Object.fromEntries(
    [...totals].map(([id, { ms, wallMs }]) => {
      const { n, p50, p99 } = summarize(ms);
      return [id, { n, p50, p99, stepsPerSec: (n * GRAPH_STEPS * 1000) / wallMs }];
    }),
  );
}

/** One invocation on a new thread; resolves to its duration in ms. */
async function runOnce(app, threadId) {
  const start = performance.now();
  await app.invoke(
    { messages: [new HumanMessage("Where is my order 1042, and can you change the delivery address?")] },
    { configurable: { thread_id: threadId }, durability: "sync" },
  );
  return performance.now() - start;
}
