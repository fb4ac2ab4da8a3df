import { describe } from "../config/checks.js";
import { InvalidInputError, PayloadTooLargeError } from "../errors.js";
import { hasEscapedNul } from "../codec/metadata.js";

/**
 * Checks on what callers pass to the store, before any SQL. A namespace is
 * stored as its labels joined with ":", so a label holding ":" would name
 * another namespace; labels also follow the official store's rules (no ".",
 * no empty label, no LIKE wildcards, not rooted at "langgraph"), so both
 * packages accept the same namespaces.
 */
export function namespacePath(namespace: unknown, operation: string, what = "namespace", allowEmpty = false): string {
  if (!Array.isArray(namespace)) throw new InvalidInputError(`${operation}: ${what} must be an array of labels, got ${describe(namespace)}`);
  if (namespace.length === 0 && !allowEmpty) throw new InvalidInputError(`${operation}: ${what} must have at least one label`);
  namespace.forEach((label, i) => checkLabel(label, `${what}[${i}]`, operation));
  if (namespace[0] === "langgraph") throw new InvalidInputError(`${operation}: ${what} may not start with "langgraph", which LangGraph reserves`);
  return namespace.join(":");
}

/** listNamespaces' prefix and suffix: labels, or "*" for any label. */
export function matchLabels(labels: unknown, operation: string, what: string): string[] | null {
  if (labels === undefined || labels === null) return null;
  if (!Array.isArray(labels)) throw new InvalidInputError(`${operation}: ${what} must be an array of labels, got ${describe(labels)}`);
  labels.forEach((label, i) => {
    if (label !== "*") checkLabel(label, `${what}[${i}]`, operation);
  });
  return labels as string[];
}

function checkLabel(label: unknown, what: string, operation: string): void {
  if (typeof label !== "string" || label === "") {
    throw new InvalidInputError(`${operation}: ${what} must be a non-empty string, got ${describe(label)}`);
  }
  if (/[.:%_\\\u0000]/.test(label) || !label.isWellFormed()) {
    throw new InvalidInputError(
      `${operation}: ${what} may not contain ".", ":", "%", "_", "\\\\", NUL or an unpaired surrogate (namespaces are stored as labels joined with ":")`,
    );
  }
}

export function itemKey(key: unknown, operation: string): string {
  if (typeof key !== "string" || key === "") throw new InvalidInputError(`${operation}: key must be a non-empty string, got ${describe(key)}`);
  if (key.includes("\u0000") || !key.isWellFormed()) {
    throw new InvalidInputError(`${operation}: key contains a NUL character or an unpaired surrogate, which Postgres text cannot store`);
  }
  return key;
}

/** A value as the JSON text JSONB stores; refused when it is not an object, cannot be JSON, holds NUL, or is too large. */
export function itemValue(value: unknown, operation: string, maxBytes: number): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidInputError(`${operation}: value must be an object (or null to delete), got ${describe(value)}`);
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidInputError(`${operation}: value is not JSON-serializable: ${(error as Error).message}`);
  }
  // A toJSON() may make it something else (a Date a string, null a delete): the stored value must be an object.
  if (json === undefined || !json.startsWith("{")) {
    throw new InvalidInputError(`${operation}: value must serialize to a JSON object, but it serializes to ${json === undefined ? "nothing" : json.slice(0, 20)}`);
  }
  if (hasEscapedNul(json) || hasLoneSurrogate(json)) {
    throw new InvalidInputError(`${operation}: value contains a NUL character or an unpaired surrogate, which JSONB cannot store`);
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) throw new PayloadTooLargeError(`${operation}: value is ${bytes} bytes as JSON, more than maxPayloadBytes (${maxBytes})`, maxBytes);
  return json;
}

/** 100 years: past that, Postgres's timestamps run out (and no one means it). */
export const MAX_TTL_MINUTES = 100 * 365 * 24 * 60;

/** A TTL in minutes: positive, at most MAX_TTL_MINUTES; undefined or null for the store's default. */
export function ttlMinutes(ttl: unknown, operation: string, what = "ttl"): number | undefined {
  if (ttl === undefined || ttl === null) return undefined;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_TTL_MINUTES) {
    throw new InvalidInputError(`${operation}: ${what} must be a positive number of minutes (at most ${MAX_TTL_MINUTES}), got ${describe(ttl)}`);
  }
  return ttl;
}

/** Whether JSON text holds a `\udXXX` escape of its own (not an escaped backslash before "ud..."): a lone surrogate, which JSONB refuses. */
export function hasLoneSurrogate(json: string): boolean {
  return /(?<!\\)(?:\\\\)*\\ud[89a-f]/i.test(json);
}

export function pageNumber(value: unknown, fallback: number, what: string, operation: string, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new InvalidInputError(`${operation}: ${what} must be an integer of at least ${min}, got ${describe(value)}`);
  }
  return value;
}
