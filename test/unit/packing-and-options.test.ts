import { describe, expect, it } from "vitest";
import { InvalidOptionsError } from "../../src/errors.js";
import { quoteIdentifier, resolveOptions } from "../../src/options.js";
import { packBlobs } from "../../src/packing.js";
import { createPool } from "../../src/pool.js";

describe("packBlobs", () => {
  it("concatenates blobs and records where each one is, with -1 for NULL", () => {
    const packed = packBlobs([new Uint8Array([1, 2]), null, new Uint8Array([]), new Uint8Array([3])]);
    expect(packed.offsets).toEqual([0, 2, 2, 2]);
    expect(packed.lengths).toEqual([2, -1, 0, 1]);
    expect([...packed.data]).toEqual([1, 2, 3]);
  });
  it("does not copy a single blob", () => {
    const only = Buffer.from([9, 9]);
    expect(packBlobs([only]).data).toBe(only);
  });
});

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

describe("connection strings", () => {
  it("accept Unix-socket URLs (Cloud SQL) and refuse malformed ones without echoing the password", async () => {
    const options = resolveOptions({});
    const socket = createPool("postgres://app:s3cret@/agents?host=/cloudsql/proj:us-central1:db", options);
    await socket.end();
    expect(() => createPool("postgresql://app:s3cret@127.0.0.1:notaport/agents", options)).toThrow(/not a valid connection string: postgresql:\/\/app:\*\*\*@/);
  });
});
