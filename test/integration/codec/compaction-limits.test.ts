import { readFileSync, writeFileSync } from "node:fs";
import zlib from "node:zlib";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { expect, it } from "vitest";
import { InvalidOptionsError, PayloadTooLargeError, PostgresSaver } from "../../../src/index.js";
import { loopMetadata } from "../../support/fixtures.js";
import { useSaver } from "../../support/saver.js";

/** Limits that hold per operation, not just per blob. */
const env = useSaver();
const MiB = 1024 * 1024;

/** The process's peak resident memory since the last reset (Linux). */
const peakRssMiB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;

async function brotliBomb(inflatedBytes: number): Promise<Buffer> {
  const stream = zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  const done = new Promise((resolve) => stream.on("end", resolve));
  const fill = Buffer.alloc(MiB, "A");
  for (let left = inflatedBytes; left > 0; left -= MiB) {
    if (!stream.write(fill)) await new Promise((resolve) => stream.once("drain", resolve));
  }
  stream.end();
  await done;
  return Buffer.concat(out);
}

it("one planted bomb that 8 checkpoints reference costs one maxPayloadBytes of memory in list(), not eight", async () => {
  const thread = "amplified";
  let config = { configurable: { thread_id: thread } } as { configurable: Record<string, unknown> };
  for (let i = 0; i < 8; i += 1) {
    const cp = { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { messages: ["hi"] }, channel_versions: { messages: 1 } };
    config = (await env.saver.put(config, cp, loopMetadata, i === 0 ? { messages: 1 } : {})) as typeof config;
  }
  // 320 MiB inflated, over the default 256 MiB limit; every checkpoint points at this one blob row.
  const bomb = await brotliBomb(320 * MiB);
  await env.pool.query("UPDATE checkpoint_blobs SET type = 'json+br', blob = $2 WHERE thread_id = $1", [thread, bomb]);
  writeFileSync("/proc/self/clear_refs", "5"); // reset the peak-RSS high-water mark
  const before = peakRssMiB();
  let error: unknown;
  try {
    for await (const _ of env.saver.list({ configurable: { thread_id: thread } })) {
      // drain
    }
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PayloadTooLargeError);
  // One inflation up to the 256 MiB limit at a time; eight at once grew the peak by over 2 GiB.
  expect(peakRssMiB() - before).toBeLessThan(2 * 256);
});

it("a maxPayloadBytes above the largest Buffer Node can allocate is refused up front", () => {
  expect(() => new PostgresSaver(env.pool, undefined, { maxPayloadBytes: 8 * 1024 ** 3 })).toThrow(InvalidOptionsError);
  expect(() => new PostgresSaver(env.pool, undefined, { maxPayloadBytes: 8 * 1024 ** 3 })).toThrow(/at most \d+/);
});
