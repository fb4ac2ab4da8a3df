// A growing chat thread, the case that costs a checkpointer most: a real
// compiled LangGraph graph on MessagesAnnotation (the default
// messagesStateReducer), one node "agent" that answers each user message with
// one AI message. The "messages" channel holds the whole conversation and
// changes at every step, so a saver that stores channel values whole writes
// the full history again at every checkpoint: storage and per-turn time grow
// with the square of the number of turns.
//
// The text is deterministic and has the entropy of real conversations (it
// matters for compression): the words of bench/support/conversation.mjs's
// human and AI messages, in order, cut into messages of WORDS_PER_MESSAGE
// words. That stream never repeats itself, and turn n's text does not depend
// on how many turns a run has. Message ids are `u-<turn>` and `a-<turn>`.
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import { PostgresSaver } from "../../dist/esm/index.js";
import { CONTENDERS } from "./contenders.mjs";
import { conversationMessages } from "./conversation.mjs";

export const WORDS_PER_MESSAGE = 60;
const SEED = 7;

// The two database contenders of contenders.mjs, in schemas of their own.
// Ours gets its defaults except metrics, which a benchmark does not scrape.
const CREATE = {
  ours: (url, schema) => PostgresSaver.fromConnString(url, { schema, metrics: false }),
  official: (url, schema) => OfficialSaver.fromConnString(url, { schema }),
};
export const CHAT_CONTENDERS = CONTENDERS.filter((c) => c.database).map(({ id, label }) => {
  const schema = `bench_chat_${id}`;
  return { id, label, schema, create: (url) => CREATE[id](url, schema) };
});

let words = [];
/** The words of the deterministic stream, at least `count` of them. */
function wordStream(count) {
  // conversationMessages(n) is a prefix of conversationMessages(2n): growing the stream keeps its start.
  for (let messages = 1000; words.length < count; messages *= 2) {
    words = conversationMessages(messages, SEED)
      .filter((m) => (m instanceof HumanMessage || m instanceof AIMessage) && typeof m.content === "string")
      .flatMap((m) => m.content.split(/\s+/).filter(Boolean));
  }
  return words;
}

/** Text of message `k` (0-based) of the conversation: user messages are even, replies odd. */
function messageText(k) {
  const stream = wordStream((k + 1) * WORDS_PER_MESSAGE);
  return stream.slice(k * WORDS_PER_MESSAGE, (k + 1) * WORDS_PER_MESSAGE).join(" ");
}

/** The user's message of turn `turn` (1-based). */
export const userMessage = (turn) => new HumanMessage({ id: `u-${turn}`, content: messageText(2 * (turn - 1)) });

/** The agent's reply in turn `turn`. */
export const agentReply = (turn) => new AIMessage({ id: `a-${turn}`, content: messageText(2 * turn - 1) });

/** The compiled graph: START → agent → END, checkpointed by `checkpointer`. */
export function buildChatGraph(checkpointer) {
  return new StateGraph(MessagesAnnotation)
    .addNode("agent", (state) => {
      const turn = Number(String(state.messages.at(-1).id).slice("u-".length));
      return { messages: [agentReply(turn)] };
    })
    .addEdge(START, "agent")
    .addEdge("agent", END)
    .compile({ checkpointer });
}

/** One turn of the conversation on `threadId`, as an application runs it. */
export async function chatTurn(graph, threadId, turn) {
  const state = await graph.invoke({ messages: [userMessage(turn)] }, { configurable: { thread_id: threadId } });
  if (state.messages.length !== 2 * turn) {
    throw new Error(`turn ${turn} on ${threadId}: ${state.messages.length} messages, expected ${2 * turn}`);
  }
}

/** Runs turns 1..`turns` on a new thread; resolves to each turn's wall time in ms. */
export async function runChat(checkpointer, { turns, threadId = "chat" }) {
  const graph = buildChatGraph(checkpointer);
  const ms = [];
  for (let turn = 1; turn <= turns; turn += 1) {
    const started = performance.now();
    await chatTurn(graph, threadId, turn);
    ms.push(performance.now() - started);
  }
  return ms;
}

const TABLES = ["checkpoints", "checkpoint_blobs", "checkpoint_writes"];

/**
 * What a schema's three tables take: on disk (`pg_total_relation_size`, heap
 * + TOAST + indexes, after `vacuum`, "VACUUM" or "VACUUM FULL"), the
 * serialized values the saver stored (`octet_length` of every blob and
 * write, as the saver sent them) and row counts.
 */
export async function chatTableSizes(pool, schema, { vacuum = "VACUUM" } = {}) {
  const table = (t) => `"${schema}".${t}`;
  await pool.query(`${vacuum} ${TABLES.map(table).join(", ")}`);
  const { rows: [r] } = await pool.query(`SELECT
    ${TABLES.map((t) => `pg_total_relation_size('${table(t)}')`).join(" + ")} AS disk,
    (SELECT coalesce(sum(octet_length(blob)), 0) FROM ${table("checkpoint_blobs")}) AS blob_payload,
    (SELECT coalesce(sum(octet_length(blob)), 0) FROM ${table("checkpoint_writes")}) AS write_payload,
    (SELECT count(*) FROM ${table("checkpoints")}) AS checkpoints,
    (SELECT count(*) FROM ${table("checkpoint_blobs")}) AS blobs,
    (SELECT count(*) FROM ${table("checkpoint_writes")}) AS writes`);
  const n = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
  return {
    diskBytes: n.disk,
    payloadBytes: n.blob_payload + n.write_payload,
    blobPayloadBytes: n.blob_payload,
    writePayloadBytes: n.write_payload,
    rows: { checkpoints: n.checkpoints, blobs: n.blobs, writes: n.writes },
  };
}
