import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { MemoryCheckpointer } from "../../../src/memory.js";
import { nextChannelVersion } from "../../../src/codec/versions.js";

describe("nextChannelVersion", () => {
  it("is the next integer plus a fraction in (0, 1)", () => {
    expect(nextChannelVersion(undefined, () => 0)).toBe(1.000000001);
    expect(Math.floor(nextChannelVersion(undefined) as number)).toBe(1);
    expect(Math.floor(nextChannelVersion(7) as number)).toBe(8);
    expect(Math.floor(nextChannelVersion(7.999999999) as number)).toBe(8);
  });

  it("gives two branches forked from the same checkpoint different versions", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => nextChannelVersion(41)));
    expect(seen.size).toBe(1000);
  });

  it("increases monotonically along a chain, as LangGraph requires", () => {
    let v: number | string | undefined;
    for (let i = 0; i < 100; i += 1) {
      const next = nextChannelVersion(v);
      if (v !== undefined) expect(next as number).toBeGreaterThan(v as number);
      v = next;
    }
  });

  it("prints the same in JS and in Postgres JSON (no exponent notation)", () => {
    for (let i = 0; i < 1000; i += 1) {
      expect(String(nextChannelVersion(i * 1_000))).not.toMatch(/e/i);
    }
  });

  it("continues the Python saver's string versions in their format", () => {
    const next = nextChannelVersion("00000000000000000000000000000041.0.5413", () => 0.5) as string;
    expect(next).toBe("00000000000000000000000000000042.0.500000000");
    expect(next > "00000000000000000000000000000041.9").toBe(true);
  });

  it("refuses a version it cannot continue", () => {
    expect(() => nextChannelVersion("v2")).toThrow(InvalidInputError);
    expect(() => nextChannelVersion(Number.NaN)).toThrow(/cannot continue/);
  });
});

describe("MemoryCheckpointer.getNextVersion", () => {
  it("continues LangGraph's integers as MemorySaver does, and the Python saver's strings (a thread imported from it resumes)", () => {
    const memory = new MemoryCheckpointer(undefined, undefined, { metrics: false });
    expect(memory.getNextVersion(undefined)).toBe(1);
    expect(memory.getNextVersion(41)).toBe(42);
    expect(memory.getNextVersion("00000000000000000000000000000041.0.5413" as unknown as number)).toMatch(
      /^00000000000000000000000000000042\.0\.\d{9}$/,
    );
  });
});
