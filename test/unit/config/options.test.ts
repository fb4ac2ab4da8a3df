import { describe, expect, it } from "vitest";
import { quoteIdentifier, resolveOptions } from "../../../src/config/options.js";
import { InvalidOptionsError } from "../../../src/errors.js";

describe("options", () => {
  it("quotes identifiers by doubling embedded quotes", () => {
    expect(quoteIdentifier('a"b; DROP TABLE x; --', "schema")).toBe('"a""b; DROP TABLE x; --"');
    expect(quoteIdentifier("public", "schema")).toBe('"public"');
  });
  it("refuses names Postgres would truncate or cannot hold", () => {
    expect(() => quoteIdentifier("é".repeat(32), "schema")).toThrow(/longer than 63 bytes/);
    expect(() => quoteIdentifier("\ud800", "schema")).toThrow(InvalidOptionsError);
  });
  it("uses ?? so an explicit value is never replaced by the default, and validates numbers", () => {
    expect(resolveOptions(undefined).schema).toBe("public");
    expect(resolveOptions({ listPageSize: 1 }).listPageSize).toBe(1);
    expect(() => resolveOptions({ listPageSize: 0 })).toThrow(/listPageSize must be a positive integer/);
    expect(() => resolveOptions("x" as never)).toThrow(InvalidOptionsError);
  });
});
