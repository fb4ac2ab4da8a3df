import type { ResolvedPrune } from "../config/retention.js";

/** `olderThan`: whole threads idle longer than it go. Shared by both savers' prune. */

/**
 * `olderThan` as a moment: threads whose newest checkpoint is older go
 * whole. Undefined without `olderThan`.
 */
export function expiryCutoff(options: ResolvedPrune, now = Date.now()): number | undefined {
  return options.olderThanMs === undefined ? undefined : now - options.olderThanMs;
}

/** A thread whose newest checkpoint has timestamp `ts` is past `cutoff`. A timestamp that does not parse never expires a thread. */
export function isExpired(ts: unknown, cutoff: number | undefined): boolean {
  if (cutoff === undefined || typeof ts !== "string") return false;
  const time = Date.parse(ts);
  return Number.isFinite(time) && time < cutoff;
}
