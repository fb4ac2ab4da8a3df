import { AIMessage, type BaseMessage, HumanMessage, ToolMessage, isBaseMessage } from "@langchain/core/messages";
import {
  Annotation,
  type BaseCheckpointSaver,
  Command,
  DeltaChannel,
  END,
  type Messages,
  MessagesAnnotation,
  START,
  Send,
  StateGraph,
  interrupt,
  messagesDeltaReducer,
} from "@langchain/langgraph";

/**
 * Real compiled LangGraph graphs for the retention, export/import and
 * command-line tests. Deterministic (no model, no clock in the state), and
 * each appends every node execution to `log`, so a test can tell whether a
 * resumed run re-executed work that was already stored.
 */

export type Log = string[];

// ---------------------------------------------------------------------------
// An agent that calls three tools in one step, then waits for a human.
// ---------------------------------------------------------------------------

const ToolState = Annotation.Root({
  ...MessagesAnnotation.spec,
  approvals: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
type ToolStateType = typeof ToolState.State;

const TOOL_CALLS = [
  { id: "call-add", name: "add", args: { a: 2, b: 3 } },
  { id: "call-mul", name: "multiply", args: { a: 4, b: 5 } },
  { id: "call-pow", name: "power", args: { a: 2, b: 10 } },
] as const;

function runTool(name: string, a: number, b: number): number {
  if (name === "add") return a + b;
  if (name === "multiply") return a * b;
  return a ** b;
}

/**
 * agent → three tool tasks (Send) and an approval node, all in one
 * superstep. The approval interrupts, so the step's checkpoint holds the
 * three tools' finished writes plus the interrupt as pending writes; a
 * correct resume runs only the approval and the summary. `rounds` agent
 * turns happen before the final answer, each with one such interrupt.
 */
export function toolGraph(checkpointer: BaseCheckpointSaver, log: Log, rounds = 2) {
  return new StateGraph(ToolState)
    .addNode("agent", (state: ToolStateType) => {
      const round = state.messages.filter((m) => AIMessage.isInstance(m)).length + 1;
      log.push(`agent:${round}`);
      if (round > rounds) {
        const results = state.messages.filter((m) => ToolMessage.isInstance(m)).map((m) => Number(m.content));
        return { messages: [new AIMessage({ id: `ai-final`, content: `total ${results.reduce((x, y) => x + y, 0)}` })] };
      }
      return {
        messages: [new AIMessage({
          id: `ai-${round}`,
          content: "",
          tool_calls: TOOL_CALLS.map((c) => ({ ...c, id: `${c.id}-${round}`, type: "tool_call" as const })),
        })],
      };
    })
    .addNode("tool", (call: { id: string; name: string; args: { a: number; b: number } }) => {
      log.push(`tool:${call.id}`);
      return { messages: [new ToolMessage({ id: `result-${call.id}`, tool_call_id: call.id, name: call.name, content: String(runTool(call.name, call.args.a, call.args.b)) })] };
    })
    .addNode("approval", (state: ToolStateType) => {
      const round = state.approvals.length + 1;
      log.push(`approval:${round}:asked`);
      const answer = interrupt<{ round: number }, string>({ round });
      log.push(`approval:${round}:${answer}`);
      return { approvals: [answer] };
    })
    .addEdge(START, "agent")
    .addConditionalEdges("agent", (state: ToolStateType) => {
      const last = state.messages.at(-1);
      if (!AIMessage.isInstance(last) || (last.tool_calls?.length ?? 0) === 0) return END;
      return [...last.tool_calls!.map((call) => new Send("tool", call)), "approval"];
    }, ["tool", "approval", END])
    .addEdge("tool", "agent")
    .addEdge("approval", "agent")
    .compile({ checkpointer });
}

export const toolGraphStart = () => ({ messages: [new HumanMessage({ id: "human-1", content: "compute" })] });
/** The answer to an `interrupt()`; typed to fit any of these graphs' `invoke`. */
export const approve = (answer = "yes") => new Command<string, Record<string, never>, never>({ resume: answer });

// ---------------------------------------------------------------------------
// Messages in a DeltaChannel: values are rebuilt from stored writes.
// ---------------------------------------------------------------------------

const DeltaState = Annotation.Root({
  messages: () => new DeltaChannel<BaseMessage[], Messages>(messagesDeltaReducer, { snapshotFrequency: 3 }),
  notes: () => new DeltaChannel<BaseMessage[], Messages>(messagesDeltaReducer, { snapshotFrequency: 5 }),
  turns: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }),
});
type DeltaStateType = typeof DeltaState.State;

/**
 * One node that loops `steps` times, appending a message every step and a
 * note every other step: two delta channels with different snapshot
 * frequencies, so their snapshots fall on different checkpoints.
 */
export function deltaGraph(checkpointer: BaseCheckpointSaver, log: Log, steps = 12) {
  return new StateGraph(DeltaState)
    .addNode("speak", (state: DeltaStateType) => {
      const turn = state.turns + 1;
      log.push(`speak:${turn}`);
      return {
        messages: [new AIMessage({ id: `m-${turn}`, content: `turn ${turn}` })],
        ...(turn % 2 === 0 ? { notes: [new AIMessage({ id: `n-${turn}`, content: `note ${turn}` })] } : {}),
        turns: 1,
      };
    })
    .addEdge(START, "speak")
    .addConditionalEdges("speak", (state: DeltaStateType) => (state.turns < steps ? "speak" : END), ["speak", END])
    .compile({ checkpointer });
}

export const deltaGraphStart = () => ({ messages: [new HumanMessage({ id: "human-1", content: "go" })] });

// ---------------------------------------------------------------------------
// A subgraph that interrupts: checkpoints in a child namespace.
// ---------------------------------------------------------------------------

const list = () => Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] });
const ReviewState = Annotation.Root({ drafts: list() });
const PublishState = Annotation.Root({ items: list(), drafts: list() });
type PublishStateType = typeof PublishState.State;

/**
 * parent: prepare → review (a compiled subgraph: draft → confirm, which
 * interrupts) → publish. The interrupt leaves checkpoints in the root
 * namespace and in the subgraph's `review:<task id>` namespace.
 */
export function subgraphGraph(checkpointer: BaseCheckpointSaver, log: Log) {
  const review = new StateGraph(ReviewState)
    .addNode("draft", () => {
      log.push("draft");
      return { drafts: ["drafted"] };
    })
    .addNode("polish", () => {
      log.push("polish");
      return { drafts: ["polished"] };
    })
    .addNode("confirm", () => {
      log.push("confirm:asked");
      const answer = interrupt<string, string>("confirm the draft?");
      log.push(`confirm:${answer}`);
      return { drafts: [`confirmed:${answer}`] };
    })
    .addEdge(START, "draft")
    .addEdge("draft", "polish")
    .addEdge("polish", "confirm")
    .addEdge("confirm", END)
    .compile();
  return new StateGraph(PublishState)
    .addNode("prepare", () => {
      log.push("prepare");
      return { items: ["prepared"] };
    })
    .addNode("review", review)
    .addNode("publish", (state: PublishStateType) => {
      log.push("publish");
      return { items: [`published ${state.drafts.join("+")}`] };
    })
    .addEdge(START, "prepare")
    .addEdge("prepare", "review")
    .addEdge("review", "publish")
    .addEdge("publish", END)
    .compile({ checkpointer });
}

export const subgraphGraphStart = () => ({ items: ["start"] });

// ---------------------------------------------------------------------------
// A graph whose second node fails.
// ---------------------------------------------------------------------------

/** first → second, which throws `message`: the thread's newest checkpoint holds an `__error__` write. */
export function failingGraph(checkpointer: BaseCheckpointSaver, log: Log, message = "the tool server is down") {
  return new StateGraph(PublishState)
    .addNode("first", () => {
      log.push("first");
      return { items: ["first"] };
    })
    .addNode("second", () => {
      log.push("second");
      throw new Error(message);
    })
    .addEdge(START, "first")
    .addEdge("first", "second")
    .addEdge("second", END)
    .compile({ checkpointer });
}

// ---------------------------------------------------------------------------
// Comparing states
// ---------------------------------------------------------------------------

/** A state as plain data: messages reduced to what the graphs depend on. */
export function plain(value: unknown): unknown {
  if (isBaseMessage(value)) {
    return {
      type: value.getType(),
      id: value.id,
      content: value.content,
      ...(AIMessage.isInstance(value) ? { tool_calls: value.tool_calls } : {}),
      ...(ToolMessage.isInstance(value) ? { tool_call_id: value.tool_call_id } : {}),
    };
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

// ---------------------------------------------------------------------------
// A chat on MessagesAnnotation: the state most agents keep, a growing list.
// ---------------------------------------------------------------------------

const WORDS = ["state", "graph", "node", "edge", "message", "thread", "value", "delta", "store", "reply", "tool", "model"];

/** About `count` words, the same for the same seed. */
export function sentence(seed: number, count = 60): string {
  return Array.from({ length: count }, (_, i) => WORDS[(seed * 7 + i * 5 + i * i) % WORDS.length]).join(" ");
}

/** A user's turn: one HumanMessage of about 60 words. */
export const userTurn = (turn: number) => ({ messages: [new HumanMessage({ id: `user-${turn}`, content: sentence(turn) })] });

/** One node that answers every user message with an AIMessage of about 60 words. */
export function chatGraph(checkpointer: BaseCheckpointSaver, log: Log = []) {
  return new StateGraph(MessagesAnnotation)
    .addNode("agent", (state: typeof MessagesAnnotation.State) => {
      const n = state.messages.length;
      log.push(`agent:${n}`);
      return { messages: [new AIMessage({ id: `ai-${n}`, content: sentence(1000 + n) })] };
    })
    .addEdge(START, "agent")
    .addEdge("agent", END)
    .compile({ checkpointer });
}
