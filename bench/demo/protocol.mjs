// What run.mjs (the parent) and pipeline.mjs (a child per run) agree on.
//
// Child → parent IPC messages:
//   { type: "stage", stage, event: "start" }
//   { type: "stage", stage, event: "progress", fraction }   0..1
//   { type: "stage", stage, event: "done", ms }
//   { type: "metrics", metrics }   the child's prom-client registry.getMetricsAsJSON(); cumulative, the latest wins
//   { type: "log", level, message, fields }   the saver's warnings (slow operations), shown by the parent

/** The graph's nodes, in order. */
export const STAGES = ["convert", "diarize", "transcribe", "merge", "export"];

/** Where the first run of a new thread crashes. */
export const CRASH_STAGE = "transcribe";

/** sysexits' EX_TEMPFAIL ("try again later"): what a deliberately crashed run exits with. */
export const CRASH_EXIT_CODE = 75;

export const DEFAULT_THREAD = "demo-audio-pipeline";

/** The synthetic recording: the same seed gives the same audio and transcript in every process. */
export const SEED = 20240611;
