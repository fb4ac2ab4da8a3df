import type { OptionSpecs, Values } from "./args.js";
import { printable } from "./format.js";
import { Progress } from "./progress.js";
import { maskSecrets } from "./secrets.js";

/** The process's streams and environment, passed in so nothing reaches for globals. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: Record<string, string | undefined>;
}

/** One command of the tool: its help, its options and what it does. */
export interface Command {
  name: string;
  /** Arguments after the name, for the usage line: "<thread> [--limit N]". */
  usage: string;
  /** One line, for the list of commands. */
  summary: string;
  /** What `<command> --help` says after the usage line. */
  details: string;
  options: OptionSpecs;
  positionals: { min: number; max: number };
  /**
   * Checks its arguments (a usage error must come before any connection),
   * then does the work. Resolves to the exit code.
   */
  run(context: Context): Promise<number>;
}

export class Context {
  constructor(
    readonly io: Io,
    readonly values: Values,
    readonly positionals: string[],
    /** Passwords of the connection strings the tool was given (see secrets.ts). */
    readonly passwords: readonly string[] = [],
  ) {}

  /**
   * `text` fit to print: connection strings redacted, the given passwords
   * masked, and terminal control characters escaped (see `printable`).
   */
  shown(text: string): string {
    return printable(maskSecrets(text, this.passwords));
  }

  get json(): boolean {
    return this.values.json === true;
  }

  /** `--url`, else the environment's (undefined when neither gives one). */
  get url(): string | undefined {
    return this.string("url");
  }

  /** `--schema`, else LANGGRAPH_CHECKPOINT_SCHEMA, else "public". */
  get schema(): string {
    return this.string("schema") ?? (this.io.env.LANGGRAPH_CHECKPOINT_SCHEMA || "public");
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === "string" ? value : undefined;
  }

  strings(name: string): string[] {
    const value = this.values[name];
    return Array.isArray(value) ? value : [];
  }

  /** Writes to stdout and waits until the stream took it (large outputs, pipes). */
  out(text: string): Promise<void> {
    return write(this.io.stdout, text);
  }

  /** Notes for a human (stderr), never mixed into the data on stdout. */
  note(text: string): Promise<void> {
    return write(this.io.stderr, text);
  }

  /** A progress bar on stderr, drawn only when stderr is a terminal. */
  progress(label: string, unit: string): Progress {
    return new Progress(this.io.stderr, label, unit);
  }
}

export function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
