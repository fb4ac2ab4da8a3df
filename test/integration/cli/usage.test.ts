import { tmpdir } from "node:os";
import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/cli.js";
import { cli, cliInProcess } from "../../support/cli.js";

/**
 * The tool's command line without a database: help for the tool and every
 * command, and every kind of bad usage refused with exit code 2 before
 * anything connects (a closed port stands in for the database: a command
 * that tried to connect would fail with exit code 1 instead). The built
 * binary is spawned for the main cases; the long tables of cases go through
 * `runCli()` in this process, the same code without Node's start-up cost.
 */
const COMMANDS = ["setup", "threads", "show", "validate", "prune", "export", "import", "copy", "stats"];
const CLOSED = "postgresql://operator:usage-secret-pw@127.0.0.1:1/nowhere";

describe("--help", () => {
  it("describes every command, the options, the environment and the exit codes", async () => {
    const [help, short, noArgs] = await Promise.all([cli(["--help"]), cli(["-h"]), cli([])]);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe("");
    expect(short.stdout).toBe(help.stdout);
    expect(help.stdout).toMatch(/^langgraph-checkpoint-pg: /);
    expect(help.stdout).toContain("Usage: langgraph-checkpoint-pg <command> [options]");
    for (const command of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\s+\\S`, "m"));
    for (const text of ["--url URL", "--schema NAME", "--json", "LANGGRAPH_CHECKPOINT_URL", "DATABASE_URL", "LANGGRAPH_CHECKPOINT_SCHEMA"]) {
      expect(help.stdout).toContain(text);
    }
    expect(help.stdout).toMatch(/Exit codes:\n  0  success\n  1  the operation failed.*\n  2  bad usage or input/);
    // No command at all: the same help, on stderr, and exit code 2.
    expect(noArgs.code).toBe(2);
    expect(noArgs.stdout).toBe("");
    expect(noArgs.stderr).toBe(`${help.stdout}\nerror: a command is required\n`);
  });

  it("has a page for every command, also as `help <command>`", async () => {
    const pages = await Promise.all(COMMANDS.map((command) => cliInProcess([command, "--help"])));
    const expectedOptions: Record<string, string[]> = {
      threads: ["--status STATUS", "--limit N"],
      show: ["--limit N"],
      prune: ["--keep-last N", "--older-than DURATION", "--thread ID", "--dry-run", "--batch-size N"],
      copy: ["--to URL", "--to-schema NAME", "--thread ID"],
      stats: ["--top N"],
    };
    pages.forEach((page, i) => {
      const command = COMMANDS[i]!;
      expect(page.code).toBe(0);
      expect(page.stdout).toMatch(new RegExp(`^Usage: langgraph-checkpoint-pg ${command}[ \\n]`));
      expect(page.stdout).toContain("Exit codes:");
      expect(page.stdout).toContain("--url URL");
      for (const option of expectedOptions[command] ?? []) expect(page.stdout).toContain(option);
    });
    // The built binary prints the same page; --help wins over a half-typed command line
    // (the thread is missing); `help <command>` is the same page.
    const [spawned, partial, viaHelp] = await Promise.all([
      cli(["show", "--help"]),
      cliInProcess(["show", "--limit", "5", "--help"]),
      cliInProcess(["help", "show"]),
    ]);
    expect(spawned).toEqual(pages[2]);
    expect(partial.stdout).toBe(pages[2]!.stdout);
    expect(viaHelp.stdout).toBe(pages[2]!.stdout);
  });
});

describe("bad usage", () => {
  const cases: Array<[string[], string]> = [
    [["frobnicate"], 'unknown command "frobnicate" (commands: setup, threads, show, validate, prune, export, import, copy, stats)'],
    [["threads", "--colour"], "Unknown option '--colour'"],
    [["threads", "--limit"], "Option '--limit <value>' argument missing"],
    [["threads", "--limit", "0"], '--limit must be a positive integer, got "0"'],
    [["threads", "--limit", "ten"], '--limit must be a positive integer, got "ten"'],
    [["threads", "--status", "stuck"], '--status must be one of idle, interrupted, failed, got "stuck"'],
    [["threads", "extra"], 'unexpected argument "extra"'],
    [["show"], "missing argument: langgraph-checkpoint-pg show <thread> [--limit N]"],
    [["show", "t", "--limit", "-3"], "Option '--limit' argument is ambiguous"],
    [["export"], "missing argument: langgraph-checkpoint-pg export <thread> [file]"],
    [["import"], "missing argument: langgraph-checkpoint-pg import <file | ->"],
    [["copy"], "copy needs --to URL, the target database"],
    [["stats", "--top", "x"], '--top must be a positive integer, got "x"'],
    [["validate", "a", "b"], 'unexpected argument "b"'],
    // A repeated option would otherwise silently keep the last value: the wrong target, more deleted than meant.
    [["copy", "--to", "postgresql://op:pw-one@127.0.0.1:1/a", "--to", "postgresql://op:pw-two@127.0.0.1:1/b"], "--to is given more than once"],
    [["prune", "--keep-last", "50", "--keep-last", "5"], "--keep-last is given more than once"],
    [["threads", "--url", CLOSED, "--limit=2", "--limit", "2"], "--limit is given more than once"],
  ];

  it("is refused with exit code 2, a message, a pointer to --help, and no connection", async () => {
    const results = await Promise.all(cases.map(([args], i) => (i < 2 ? cli : cliInProcess)(args, { url: CLOSED })));
    results.forEach((result, i) => {
      const [args, message] = cases[i]!;
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(result.stderr).toMatch(/^error: /);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toMatch(/\nrun "langgraph-checkpoint-pg --help" for usage\n$/);
    });
  });

  it("without a database URL, or with one that is not a database, exits 2 and never falls back to memory", async () => {
    const [none, memory, embedded, toMemory] = await Promise.all([
      cli(["threads"]),
      cli(["threads"], { url: "memory" }),
      cliInProcess(["validate", "--url", "embedded"]),
      cliInProcess(["copy", "--to", "memory"], { url: CLOSED }),
    ]);
    expect(none).toEqual({ code: 2, stdout: "", stderr: "error: no database URL: pass --url or set LANGGRAPH_CHECKPOINT_URL (or DATABASE_URL)\n" });
    expect(memory.code).toBe(2);
    expect(memory.stderr).toBe('error: the database URL is "memory": this tool works on a PostgreSQL database; give a postgres:// connection string\n');
    expect(embedded.code).toBe(2);
    expect(embedded.stderr).toContain('the database URL is "embedded"');
    expect(toMemory.code).toBe(2);
    expect(toMemory.stderr).toContain('--to is "memory"');
  });
});

describe("bad files", () => {
  it("an export file that cannot be written is refused before the thread is read (exit 2, no connection)", async () => {
    const [noFolder, folder] = await Promise.all([
      cliInProcess(["export", "t", "/no-such-folder/t.json"], { url: CLOSED }),
      cliInProcess(["export", "t", tmpdir()], { url: CLOSED }),
    ]);
    expect(noFolder).toEqual({ code: 2, stdout: "", stderr: expect.stringMatching(/^error: cannot write the export file \/no-such-folder\/t\.json: ENOENT/) });
    expect(folder).toEqual({ code: 2, stdout: "", stderr: `error: cannot write the export file ${tmpdir()}: it is a directory\n` });
  });
});

describe("unexpected failures", () => {
  it("are reported as one line without a stack trace, with exit code 1", async () => {
    // A stdout that fails every write, as a full disk or a closed descriptor does.
    const broken = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error("no space left on device")) });
    broken.on("error", () => {});
    let stderr = "";
    const capture = new Writable({ write: (chunk, _encoding, callback) => { stderr += String(chunk); callback(); } });
    const code = await runCli(["--help"], { stdout: broken, stderr: capture, stdin: new PassThrough(), env: {} });
    expect(code).toBe(1);
    expect(stderr).toBe("error: unexpected failure: no space left on device\n");
  });
});
