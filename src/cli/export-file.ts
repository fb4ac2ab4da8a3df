import { readFile, rename, rm, writeFile } from "node:fs/promises";
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
    text = file === "-" ? await readAll(io.stdin) : await readFile(file, "utf8");
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

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * `text` into `file` through a temporary file renamed into place, so a
 * failure never leaves a half-written export where a whole one is expected.
 */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, text, { flag: "wx" });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new InputError(`cannot write the export file ${file}: ${(error as Error).message}`);
  }
}
