import { constants } from "node:fs";
import { access, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { CheckpointerError } from "../errors.js";
import { type ThreadExport, checkThreadExport } from "../transfer/document.js";
import { InputError } from "./args.js";
import type { Io } from "./command.js";

/**
 * Export files on disk (or stdin/stdout). A file that cannot be read, is
 * not JSON or is not a complete thread export is refused with a message
 * saying which, before anything connects to a database: nothing is imported
 * from it.
 */

/** The document in `file` ("-": stdin), checked field by field. */
export async function readExportFile(io: Io, file: string): Promise<ThreadExport> {
  const name = file === "-" ? "stdin" : file;
  let text: string;
  try {
    text = decode(file === "-" ? await readAll(io.stdin) : await readFile(file));
  } catch (error) {
    throw new InputError(`cannot read the export file ${name}: ${(error as Error).message}`);
  }
  if (text.trim() === "") throw new InputError(`${name} is empty: not a thread export (an export is a JSON document)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(describeJsonError(name, text, (error as Error).message));
  }
  try {
    return checkThreadExport(value);
  } catch (error) {
    if (!(error instanceof CheckpointerError)) throw error;
    throw new InputError(`${name} is not a valid thread export: ${error.message.replace(/^importThread: /, "")}`);
  }
}

/**
 * A JSON.parse failure in words, with where it happened. Errors at the very
 * end of the text are what a cut-off file gives, so they say "truncated".
 */
function describeJsonError(name: string, text: string, message: string): string {
  const position = jsonErrorPosition(text, message);
  // V8 quotes part of the text in some messages; the position says where, without echoing the data.
  const reason = message.replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, "");
  if (position === undefined) return `${name} is not valid JSON (${reason}): it is damaged or not an export file`;
  const atEnd = position >= text.trimEnd().length;
  return `${name} is not valid JSON at position ${position} of ${text.length} (${reason}): ` +
    (atEnd ? "the file is likely truncated" : "the file is damaged or not an export file");
}

function jsonErrorPosition(text: string, message: string): number | undefined {
  const at = /at position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  if (/end of JSON input/.test(message)) return text.length;
  // `Unexpected token 'x', ..."<10 characters before>x<after>"... is not valid JSON`
  const quoted = /^Unexpected token '(.+?)', (\.\.\.)?"(.*)"(?:\.\.\.)? is not valid JSON$/s.exec(message);
  if (!quoted) return undefined;
  const [, token, cut, context] = quoted as unknown as [string, string, string | undefined, string];
  const start = text.indexOf(context);
  if (start < 0) return undefined;
  return start + (cut ? V8_CONTEXT_BEFORE : Math.max(0, context.indexOf(token)));
}

/** Characters V8 quotes before the offending token when it cuts the text. */
const V8_CONTEXT_BEFORE = 10;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/**
 * The file's text. Exports are written as UTF-8, but one that passed through
 * an editor may start with a byte order mark, and Windows PowerShell's `>`
 * re-encodes a command's output as UTF-16: JSON.parse would call either
 * "not valid JSON at position 0".
 */
function decode(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  const text = bytes.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Refuses, before anything is read from the database, a `file` that cannot
 * be written: its folder is missing or read-only, or it is a folder. (Reading
 * a large thread first and failing at the end wastes the operator's time.)
 */
export async function checkWritable(file: string): Promise<void> {
  try {
    await access(dirname(file), constants.W_OK);
  } catch (error) {
    throw new InputError(`cannot write the export file ${file}: ${(error as Error).message}`);
  }
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw new InputError(`cannot write the export file ${file}: it is a directory`);
}

/**
 * `text` into `file` through a temporary file renamed into place, so a
 * failure never leaves a half-written export where a whole one is expected.
 */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    const handle = await open(temporary, "wx");
    try {
      await handle.writeFile(text);
      // On disk before the rename: otherwise a crash soon after can leave the new name on an empty file.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new InputError(`cannot write the export file ${file}: ${(error as Error).message}`);
  }
}
