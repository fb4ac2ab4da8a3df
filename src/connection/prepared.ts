import { createHash } from "node:crypto";
import type { Logger } from "../config/observability.js";
import type { PreparedStatementsMode } from "../config/options.js";

/**
 * SQLSTATEs a pooler that does not keep prepared statements produces: the
 * statement was prepared on another server connection (26000, "prepared
 * statement … does not exist"), or another client prepared the same name on
 * this one (42P05, "prepared statement … already exists").
 */
const POOLER_REJECTIONS = new Set(["26000", "42P05"]);

/**
 * More distinct texts than this are sent unprepared: every statement the
 * package builds is one of a few dozen per schema, so a text beyond the cap
 * would be a bug that must not leak server memory on every connection.
 */
const MAX_NAMED = 256;

/** How a statement was sent, for the statements metric. */
export type StatementMode = "prepared" | "unprepared";

/**
 * The names of prepared statements, and whether to use them. A name is the
 * hash of its text, so one name always means one statement, whatever
 * process, saver or schema prepared it: behind a pooler that hands a
 * connection to another client, a name can never run someone else's text.
 */
export class PreparedStatements {
  private readonly names = new Map<string, string>();
  private active: boolean;

  constructor(
    private readonly mode: PreparedStatementsMode,
    private readonly logger: Logger,
  ) {
    this.active = mode !== false;
  }

  /** The name to send `text` under, or undefined to send it unprepared. */
  nameOf(text: string): string | undefined {
    if (!this.active) return undefined;
    let name = this.names.get(text);
    if (name === undefined) {
      if (this.names.size >= MAX_NAMED) return undefined;
      name = `lgcp_${createHash("sha256").update(text).digest("hex").slice(0, 32)}`;
      this.names.set(text, name);
    }
    return name;
  }

  /** Statements are being prepared (false after a fallback). */
  get enabled(): boolean {
    return this.active;
  }

  /**
   * A named statement failed because the server connection does not hold
   * what the client prepared (26000) or holds another client's (42P05).
   */
  static lost(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === "string" && POOLER_REJECTIONS.has(code);
  }

  /**
   * A named statement failed with `error`. True when that is a pooler that
   * does not keep prepared statements and mode "auto" has switched to
   * unprepared statements (logged once): the caller sends it again unprepared.
   */
  fallBackOn(error: unknown): boolean {
    if (this.mode !== "auto" || !PreparedStatements.lost(error)) return false;
    if (this.active) {
      this.active = false;
      this.logger.info(
        "prepared statements are not kept by this connection (a pooler in transaction mode without prepared statement support?); sending statements unprepared from now on",
        { code: (error as { code: string }).code, option: "preparedStatements" },
      );
    }
    return true;
  }
}
