import { InvalidOptionsError } from "../errors.js";
import { describe } from "./checks.js";

/**
 * The `revive` option: which stored LangChain objects come back as objects.
 * The reviving itself is in `codec/reviver.ts`; the security model is in the README.
 */
export interface ReviveOptions {
  /**
   * LangChain class paths that may be revived, as dotted prefixes of a
   * serialized object's `id`: `"langchain_core.messages"` (every message
   * class), `"langchain_core.messages.HumanMessage"` (one class),
   * `"langchain_core"` (everything in @langchain/core's import map, including
   * classes whose constructors read environment variables or open clients).
   * A stored object whose class is not allowed is returned as the plain data
   * it is stored as. `[]` revives no LangChain object at all.
   * @default ["langchain_core.messages", "langchain_core.documents", "langchain_core.prompt_values", "langchain_core.outputs"]
   */
  allow?: readonly string[];
  /**
   * What reading a stored LangChain object of an allowed class that
   * @langchain/core cannot construct does (one written by another program,
   * or before this package escaped look-alike data; one that refers to a
   * secret): `"throw"` fails the read with a `SerializationError` naming
   * the thread, checkpoint and channel or write; `"plain"` returns it as the
   * plain data it is stored as, so an operator can inspect and repair the thread.
   * @default "throw"
   */
  unrevivable?: "throw" | "plain";
}

export interface ResolvedRevive {
  /** Each allowed class path, split into its segments. */
  allow: ReadonlyArray<readonly string[]>;
  unrevivable: "throw" | "plain";
}

/**
 * The data classes LangGraph state holds: messages, documents, prompt values
 * and generations. Their constructors only copy their arguments; other
 * @langchain/core classes (LangSmith loaders and tracers, runnables) read
 * environment variables or build clients from what they are given.
 */
export const REVIVE_DEFAULTS = {
  allow: ["langchain_core.messages", "langchain_core.documents", "langchain_core.prompt_values", "langchain_core.outputs"],
  unrevivable: "throw",
} as const;

/** A dotted path of identifiers, as LangChain's class paths are. */
const CLASS_PATH = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

export function resolveRevive(options: ReviveOptions | undefined): ResolvedRevive {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidOptionsError(`revive must be an object, got ${describe(options)}`);
  }
  const allow = options?.allow ?? REVIVE_DEFAULTS.allow;
  if (!Array.isArray(allow)) throw new InvalidOptionsError(`revive.allow must be an array of class paths, got ${describe(allow)}`);
  for (const path of allow) {
    if (typeof path !== "string" || !CLASS_PATH.test(path)) {
      throw new InvalidOptionsError(
        `revive.allow entries must be dotted class paths such as "langchain_core.messages", got ${describe(path)}`,
      );
    }
  }
  const unrevivable = options?.unrevivable ?? REVIVE_DEFAULTS.unrevivable;
  if (unrevivable !== "throw" && unrevivable !== "plain") {
    throw new InvalidOptionsError(`revive.unrevivable must be "throw" or "plain", got ${describe(unrevivable)}`);
  }
  return { allow: allow.map((path) => path.split(".")), unrevivable };
}
