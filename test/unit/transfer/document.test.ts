import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { EXPORT_FORMAT, EXPORT_VERSION, type ThreadExport, checkThreadExport } from "../../../src/transfer/document.js";

/**
 * `checkThreadExport`, branch by branch: a valid document passes through
 * untouched, and every refusal is an InvalidInputError whose message names
 * the field, exactly as a person fixing the file would look for it.
 */

const b64 = (text: string) => Buffer.from(text).toString("base64");

function valid(): ThreadExport {
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    thread_id: "t-1",
    exported_at: "2025-01-01T00:00:00.000Z",
    counts: { checkpoints: 2, blobs: 3, writes: 2 },
    checkpoints: [
      { checkpoint_ns: "", checkpoint_id: "c-1", parent_checkpoint_id: null, checkpoint: { v: 4, id: "c-1", channel_versions: { a: 1, b: "00000000000000000000000000000001.0.5" } }, metadata: { step: -1 } },
      { checkpoint_ns: "sub:1", checkpoint_id: "c-1", parent_checkpoint_id: "c-0", checkpoint: { v: 4, id: "c-1" }, metadata: {} },
    ],
    blobs: [
      { checkpoint_ns: "", channel: "a", version: "1", type: "json", data: b64('"x"') },
      { checkpoint_ns: "", channel: "b", version: "00000000000000000000000000000001.0.5", type: "empty", data: null },
      { checkpoint_ns: "sub:1", channel: "a", version: "1", type: "bytes", data: "" },
    ],
    writes: [
      { checkpoint_ns: "", checkpoint_id: "c-1", task_id: "task", task_path: "", idx: -1, channel: "__error__", type: "json", data: b64("{}") },
      { checkpoint_ns: "", checkpoint_id: "c-1", task_id: "task", task_path: "~p", idx: 0, channel: "a", type: "json", data: b64("1") },
    ],
  };
}

/** `valid()` changed by `edit` must be refused with exactly `message` (after the "importThread: " prefix). */
function refused(edit: (doc: Record<string, any>) => unknown, message: string | RegExp) {
  const doc = valid() as unknown as Record<string, any>;
  const replaced = edit(doc);
  const value = replaced === undefined ? doc : replaced;
  let error: unknown;
  try {
    checkThreadExport(value);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as InvalidInputError).code).toBe("INVALID_INPUT");
  const text = (error as Error).message;
  expect(text.startsWith("importThread: ")).toBe(true);
  if (typeof message === "string") expect(text.slice("importThread: ".length)).toBe(message);
  else expect(text).toMatch(message);
}

describe("checkThreadExport", () => {
  it("returns a valid document as it is", () => {
    const doc = valid();
    expect(checkThreadExport(doc)).toBe(doc);
    expect(checkThreadExport(JSON.parse(JSON.stringify(doc)))).toEqual(doc);
  });

  it("accepts large values (a linear base64 check, not a backtracking pattern)", () => {
    const doc = valid();
    const big = Buffer.alloc(24 * 1024 * 1024, 7).toString("base64");
    doc.writes[1]!.data = big;
    expect(checkThreadExport(doc).writes[1]!.data).toBe(big);
  });

  it("refuses what is not a thread export", () => {
    refused(() => null, "the export document must be an object, got null");
    refused(() => "text", "the export document must be an object, got a string");
    refused(() => [], "the export document must be an object, got an array");
    refused((d) => void (d.format = "langgraph/thread"), `format must be "${EXPORT_FORMAT}", got "langgraph/thread" (not a thread export)`);
    refused((d) => void delete d.format, `format must be "${EXPORT_FORMAT}", got nothing (not a thread export)`);
  });

  it("refuses other versions, naming a newer one as such", () => {
    refused((d) => void (d.version = 2), "version 2 was written by a newer langgraph-checkpoint-pg; this one reads version 1");
    refused((d) => void (d.version = "1"), 'version must be 1, got "1"');
    refused((d) => void (d.version = 0), "version must be 1, got 0");
    refused((d) => void delete d.version, "version must be 1, got nothing");
  });

  it("refuses a missing or mistyped top-level field", () => {
    refused((d) => void delete d.thread_id, "thread_id must be a string, got undefined");
    refused((d) => void (d.thread_id = 7), "thread_id must be a string, got the number 7");
    refused((d) => void (d.thread_id = ""), "thread_id must not be empty");
    refused((d) => void delete d.exported_at, "exported_at must be a string, got undefined");
    refused((d) => void (d.counts = [2, 3, 2]), "counts must be an object, got an array");
    refused((d) => void (d.checkpoints = {}), "checkpoints must be an array, got an object");
    refused((d) => void delete d.blobs, "blobs must be an array, got undefined");
    refused((d) => void (d.writes = null), "writes must be an array, got null");
  });

  it("refuses counts that do not match the lists (a truncated file)", () => {
    refused((d) => void d.writes.pop(), "counts.writes is 2 but the document holds 1 writes: it is truncated or was edited");
    refused((d) => void d.checkpoints.pop(), "counts.checkpoints is 2 but the document holds 1 checkpoints: it is truncated or was edited");
    refused((d) => void (d.counts.blobs = "3"), 'counts.blobs is "3" but the document holds 3 blobs: it is truncated or was edited');
    refused((d) => void delete d.counts.blobs, "counts.blobs is missing but the document holds 3 blobs: it is truncated or was edited");
  });

  it("refuses a bad checkpoint entry, naming it", () => {
    refused((d) => void (d.checkpoints[1] = "c-1"), "checkpoints[1] must be an object, got a string");
    refused((d) => void (d.checkpoints[1].checkpoint_ns = null), "checkpoints[1].checkpoint_ns must be a string, got null");
    refused((d) => void (d.checkpoints[0].checkpoint_id = "c\u00001"), "checkpoints[0].checkpoint_id contains a NUL character or an unpaired surrogate");
    refused((d) => void (d.checkpoints[0].checkpoint_id = "c-\ud800"), "checkpoints[0].checkpoint_id contains a NUL character or an unpaired surrogate");
    refused((d) => void (d.checkpoints[1].parent_checkpoint_id = ""), "checkpoints[1].parent_checkpoint_id must not be empty");
    refused((d) => void delete d.checkpoints[1].parent_checkpoint_id, "checkpoints[1].parent_checkpoint_id must be a string, got undefined");
    refused((d) => void (d.checkpoints[0].checkpoint = []), "checkpoints[0].checkpoint must be an object, got an array");
    refused((d) => void (d.checkpoints[0].checkpoint.id = "c-2"), "checkpoints[0].checkpoint.id does not match checkpoints[0].checkpoint_id");
    refused((d) => void (d.checkpoints[0].checkpoint.channel_values = {}), "checkpoints[0].checkpoint must not hold channel_values (values belong in blobs)");
    refused((d) => void (d.checkpoints[0].checkpoint.channel_versions = [1]), "checkpoints[0].checkpoint.channel_versions must be an object, got an array");
    refused((d) => void (d.checkpoints[0].checkpoint.channel_versions.a = null), 'checkpoints[0].checkpoint.channel_versions["a"] must be a number or a non-empty string, got null');
    refused((d) => void (d.checkpoints[0].checkpoint.channel_versions.b = ""), 'checkpoints[0].checkpoint.channel_versions["b"] must be a number or a non-empty string, got an empty string');
    refused((d) => void (d.checkpoints[1].metadata = "{}"), "checkpoints[1].metadata must be an object, got a string");
    refused(
      (d) => {
        d.checkpoints.push(structuredClone(d.checkpoints[0]));
        d.counts.checkpoints = 3;
      },
      'checkpoints[2] repeats checkpoint c-1 of namespace ""',
    );
  });

  it("refuses a bad blob entry, naming it", () => {
    refused((d) => void (d.blobs[2] = null), "blobs[2] must be an object, got null");
    refused((d) => void (d.blobs[0].channel = ""), "blobs[0].channel must not be empty");
    refused((d) => void (d.blobs[0].version = 1), "blobs[0].version must be a string, got the number 1");
    refused((d) => void delete d.blobs[0].type, "blobs[0].type must be a string, got undefined");
    refused((d) => void (d.blobs[0].type = "json+br"), 'blobs[0].type is "json+br", a compressed type; export documents hold uncompressed values');
    refused((d) => void (d.blobs[2].type = "bytes+gzip"), 'blobs[2].type is "bytes+gzip", a compressed type; export documents hold uncompressed values');
    refused((d) => void (d.blobs[0].data = "eA="), "blobs[0].data must be base64, got a string");
    refused((d) => void (d.blobs[0].data = "e!A="), "blobs[0].data must be base64, got a string");
    refused((d) => void (d.blobs[0].data = "eA=A"), "blobs[0].data must be base64, got a string");
    refused((d) => void (d.blobs[0].data = ["eA=="]), "blobs[0].data must be base64, got an array");
    refused((d) => void (d.blobs[0].data = null), 'blobs[0].data is null, but only type "empty" has no data (a "json" value needs its bytes)');
    refused((d) => void (d.blobs[1].data = b64("x")), 'blobs[1].data must be null: type "empty" marks a version without a value');
    refused(
      (d) => {
        d.blobs.push({ ...d.blobs[0], data: b64('"y"') });
        d.counts.blobs = 4;
      },
      'blobs[3] repeats version 1 of channel "a"',
    );
  });

  it("refuses a bad write entry, naming it", () => {
    refused((d) => void (d.writes[1] = [1]), "writes[1] must be an object, got an array");
    refused((d) => void (d.writes[1].checkpoint_ns = 0), "writes[1].checkpoint_ns must be a string, got the number 0");
    refused((d) => void (d.writes[1].checkpoint_id = ""), "writes[1].checkpoint_id must not be empty");
    refused((d) => void (d.writes[0].task_id = "t\u0000"), "writes[0].task_id contains a NUL character or an unpaired surrogate");
    refused((d) => void delete d.writes[1].task_path, "writes[1].task_path must be a string, got undefined");
    refused((d) => void (d.writes[1].idx = 1.5), "writes[1].idx must be an integer, got the number 1.5");
    refused((d) => void (d.writes[1].idx = "0"), "writes[1].idx must be an integer, got a string");
    refused((d) => void (d.writes[1].idx = 2 ** 31), `writes[1].idx must be an integer, got the number ${2 ** 31}`);
    refused((d) => void (d.writes[1].channel = null), "writes[1].channel must be a string, got null");
    refused((d) => void (d.writes[1].type = "json+deflate"), 'writes[1].type is "json+deflate", a compressed type; export documents hold uncompressed values');
    refused((d) => void (d.writes[1].data = null), "writes[1].data must be base64, got null");
    refused(
      (d) => {
        d.writes.push({ ...d.writes[1], channel: "b" });
        d.counts.writes = 3;
      },
      'writes[2] repeats write 0 of task "task"',
    );
  });
});
