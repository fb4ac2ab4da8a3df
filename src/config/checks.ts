import { InvalidOptionsError } from "../errors.js";

/** Small checks shared by every options module. */

/** `{ a: undefined }` must not override a default with undefined. */
export function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null) {
    throw new InvalidOptionsError(`expected an options object, got ${describe(value)}`);
  }
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function positiveInteger(name: string, value: unknown): void {
  integerAtLeast(1, name, value);
}

export function nonNegativeInteger(name: string, value: unknown): void {
  integerAtLeast(0, name, value);
}

function integerAtLeast(min: 0 | 1, name: string, value: unknown): void {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    const kind = min === 1 ? "a positive integer" : "a non-negative integer";
    throw new InvalidOptionsError(`${name} must be ${kind}, got ${describe(value)}`);
  }
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return value.length === 0 ? "an empty string" : "a string";
  if (typeof value === "number") return Number.isFinite(value) ? `the number ${value}` : String(value);
  return typeof value === "object" ? "an object" : typeof value;
}
