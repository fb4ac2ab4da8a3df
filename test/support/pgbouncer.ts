import { findPgBouncer as find, startPgBouncer as start } from "../../bench/support/pgbouncer.mjs";

/** A running PgBouncer in transaction mode (bench/support/pgbouncer.mjs starts it). */
export interface RunningBouncer {
  port: number;
  /** `url` rewritten to go through PgBouncer. */
  via(url: string): string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export const findPgBouncer: () => string | undefined = find;
export const startPgBouncer: (serverUrl: string) => Promise<RunningBouncer> = start;
