import { type ParseArgsConfig, parseArgs } from "node:util";

/**
 * Command-line parsing with `node:util`'s `parseArgs`, strict: an unknown
 * option, a missing value or a stray argument is a usage error (exit 2),
 * never silently ignored.
 */

/** Bad input (a file, a URL, a value): exit code 2. Its message is printed as is (after redaction). */
export class InputError extends Error {
  override readonly name: string = "InputError";
}

/** A command line that does not parse (unknown option, missing argument): exit code 2, with a pointer to --help. */
export class UsageError extends InputError {
  override readonly name = "UsageError";
}

export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  /** Placeholder shown in help, e.g. "N" in `--limit N`. */
  value?: string;
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;
export type Values = Record<string, string | boolean | string[] | undefined>;

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  url: { type: "string", value: "URL", help: "connection string (default: LANGGRAPH_CHECKPOINT_URL, else DATABASE_URL)" },
  schema: { type: "string", value: "NAME", help: "schema holding the tables (default: LANGGRAPH_CHECKPOINT_SCHEMA, else public)" },
  json: { type: "boolean", help: "print machine-readable JSON (snake_case fields) instead of tables" },
  help: { type: "boolean", short: "h", help: "show help" },
};

/** The first argument that is not an option (or an option's value): the command's name, and where it is. */
export function findCommand(argv: readonly string[]): { name: string; index: number } | undefined {
  const { tokens } = parseArgs({ args: [...argv], options: toConfig(GLOBAL_OPTIONS), strict: false, allowPositionals: true, tokens: true });
  const token = tokens.find((t) => t.kind === "positional");
  return token?.kind === "positional" ? { name: token.value, index: token.index } : undefined;
}

/** `argv` parsed against `options` (strictly), with `min`–`max` positional arguments. */
export function parseCommandLine(
  argv: readonly string[],
  options: OptionSpecs,
  positionals: { min: number; max: number },
  /** The command's usage line, quoted when arguments are missing. */
  usage: string,
): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[]; tokens: Array<{ kind: string; name?: string }> };
  try {
    parsed = parseArgs({ args: [...argv], options: toConfig(options), strict: true, allowPositionals: true, tokens: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  // --help wins over everything else, so a half-typed command line still gets help.
  if (parsed.values.help) return parsed;
  // parseArgs keeps the last of a repeated option: `copy --to A ... --to B` would
  // silently write to B, `prune --keep-last 50 ... --keep-last 5` delete more than meant.
  const given = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== "option" || token.name === undefined) continue;
    const spec = options[token.name];
    if (spec?.type === "string" && !spec.multiple && given.has(token.name)) {
      throw new UsageError(`--${token.name} is given more than once`);
    }
    given.add(token.name);
  }
  if (parsed.positionals.length > positionals.max) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`);
  }
  if (parsed.positionals.length < positionals.min) throw new UsageError(`missing argument: ${usage}`);
  return parsed;
}

function toConfig(options: OptionSpecs): NonNullable<ParseArgsConfig["options"]> {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) },
    ]),
  );
}

/** `--flag N`: a positive integer, or a usage error naming the flag. */
export function positiveInteger(raw: unknown, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Number(text);
}

/** `--flag value` as one of `allowed`. */
export function oneOf<T extends string>(raw: unknown, flag: string, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!allowed.includes(raw as T)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** A thread id given on the command line: non-empty and storable. */
export function threadId(raw: string | undefined, what = "thread id"): string {
  if (raw === undefined || raw.length === 0) throw new UsageError(`missing ${what}`);
  return raw;
}
