// The savers a benchmark compares, each in a schema of its own on the same
// database: ours, the official @langchain/langgraph-checkpoint-postgres, and
// LangGraph's in-process MemorySaver (the ceiling: no database at all).
// Each is created with its defaults (both pools hold at most 10 connections),
// because that is what a user who swaps the import gets.
import { PostgresSaver as OfficialSaver } from "@langchain/langgraph-checkpoint-postgres";
import { MemorySaver } from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "../../dist/esm/index.js";

export const CONTENDERS = [
  {
    id: "ours",
    label: "langgraph-checkpoint-pg",
    schema: "bench_ours",
    database: true,
    create: (url) => PostgresSaver.fromConnString(url, { schema: "bench_ours" }),
  },
  {
    id: "official",
    label: "@langchain/langgraph-checkpoint-postgres",
    schema: "bench_official",
    database: true,
    create: (url) => OfficialSaver.fromConnString(url, { schema: "bench_official" }),
  },
  {
    id: "memory",
    label: "MemorySaver (no database)",
    schema: undefined,
    database: false,
    create: () => new MemorySaver(),
  },
];

/** Closes a saver whatever its kind (MemorySaver has nothing to close). */
export async function closeSaver(saver) {
  if (typeof saver.end === "function") await saver.end();
}
