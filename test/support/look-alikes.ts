import { JsonPlusSerializer } from "@langchain/langgraph-checkpoint";

/**
 * Plain data shaped like what LangChain's and LangGraph's serializers revive
 * (issue: values come back exactly as they went in). A tool's output, user
 * input parsed into state or a stored API response can hold any of these.
 */
export const LOOK_ALIKES: Record<string, Record<string, unknown>> = {
  "a LangChain message": { lc: 1, type: "constructor", id: ["langchain_core", "messages", "HumanMessage"], kwargs: { content: "hi" } },
  "a foreign class": { lc: 1, type: "constructor", id: ["child_process", "exec"], kwargs: { command: "rm -rf /" } },
  "an unknown LangChain class": { lc: 1, type: "constructor", id: ["langchain_core", "messages", "NoSuchMessage"], kwargs: {} },
  "a secret": { lc: 1, type: "secret", id: ["OPENAI_API_KEY"] },
  "a not-implemented placeholder": { lc: 1, type: "not_implemented", id: ["some", "Thing"], repr: "Thing()" },
  "LangGraph's undefined": { lc: 2, type: "undefined" },
  "LangGraph's Set": { lc: 2, type: "constructor", id: ["Set"], method: null, args: [[1, 2]], kwargs: {} },
  "LangGraph's delta snapshot": { lc: 2, type: "delta_snapshot", value: [1] },
  "this package's wrapper": { __lc_plain__: { lc: "1", type: "constructor" } },
  "LangChain's escape": { __lc_escaped__: { lc: 1, type: "constructor", id: ["child_process", "exec"], kwargs: {} } },
  "LangGraph's Send": { lg_name: "Send", node: "tool", args: { q: 1 }, extra: 2 },
};

/** Every shape, at the top level and nested in objects and arrays. */
export function everyShape(shapes: Record<string, Record<string, unknown>> = LOOK_ALIKES): Record<string, unknown> {
  return {
    ...shapes,
    nested: { list: Object.values(shapes), deeper: { deepest: [[shapes["a foreign class"]]] } },
  };
}

/**
 * Every shape that survives inside a LangChain message: there, @langchain/core
 * escapes objects with an `lc` key itself, and LangGraph's serializer
 * rewrites a Send-shaped object (no `lc`), as it does with the official saver.
 */
export function messageSafeShapes(): Record<string, unknown> {
  const { "LangGraph's Send": _send, ...shapes } = LOOK_ALIKES;
  return everyShape(shapes);
}

/**
 * Stored objects of an allowed class that @langchain/core cannot construct:
 * what the official saver (or this package before it escaped look-alikes)
 * stored for such plain data. Reading them fails, or with
 * `unrevivable: "plain"` gives them back as stored.
 */
export const UNREVIVABLE = {
  unknownClass: LOOK_ALIKES["an unknown LangChain class"]!,
  secret: { lc: 1, type: "constructor", id: ["langchain_core", "messages", "HumanMessage"], kwargs: { content: { lc: 1, type: "secret", id: ["HOME"] } } },
};

/** How an object is stored when it must be wrapped (its values already in their stored form). */
export function storedForm(object: Record<string, unknown>): Record<string, unknown> {
  return { __lc_plain__: Object.entries(object).map(([k, v]) => ({ k, v })) };
}

/** Serializes as JsonPlusSerializer always did (no escaping): rows written before this package escaped look-alikes. */
export class LegacySerializer extends JsonPlusSerializer {}
