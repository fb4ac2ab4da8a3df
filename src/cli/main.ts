#!/usr/bin/env node
/**
 * The `langgraph-checkpoint-pg` command (the package's `bin`). See
 * `langgraph-checkpoint-pg --help`, and `cli.ts` for the dispatcher.
 */
import { runCli } from "./cli.js";

// stdout closed early (`... | head`): stop quietly instead of dying on EPIPE. Other
// failures also reach the pending write's callback, which reports them (exit code 1).
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
});

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }).then(
  (code) => {
    // Not process.exit(): it could cut off output still being flushed to a pipe. Every
    // connection is closed by now, so the process ends on its own.
    process.exitCode = code;
  },
);
