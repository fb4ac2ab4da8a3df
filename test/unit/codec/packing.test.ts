import { describe, expect, it } from "vitest";
import { packBlobs } from "../../../src/codec/packing.js";

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
