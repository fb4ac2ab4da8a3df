// Progress display. On a terminal each stage is one line redrawn in place
// (spinner, percentage, elapsed time) and then finalised with ✓ or ✗ and its
// duration; anywhere else (pipes, CI, tests) it prints one plain line when a
// stage starts and one when it ends, so logs stay readable.

const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
const REDRAW_MS = 80;
const CLEAR_LINE = "\r\x1b[2K";
const WIDTH = 11; // the longest stage name, "transcribe", plus one

export const formatMs = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

export function createProgress(stream = process.stdout) {
  const tty = Boolean(stream.isTTY);
  const color = tty && !("NO_COLOR" in process.env);
  const paint = (code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  /** The stage in flight: { stage, fraction, started, frame }. */
  let active;
  let timer;

  const draw = () => {
    const { stage, fraction, started } = active;
    const spinner = paint(36, SPINNER[active.frame++ % SPINNER.length]);
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    stream.write(`${CLEAR_LINE}  ${spinner} ${stage.padEnd(WIDTH)}${percent}  ${formatMs(performance.now() - started)}`);
  };

  const finish = (mark, text) => {
    clearInterval(timer);
    stream.write(`${tty ? CLEAR_LINE : ""}  ${mark} ${active.stage.padEnd(WIDTH)}${text}\n`);
    active = undefined;
  };

  return {
    tty,
    ok: (text) => paint(32, text),
    bad: (text) => paint(31, text),
    dim: (text) => paint(2, text),

    /** A whole line of text, printed above the progress line if one is showing. */
    line(text = "") {
      if (active && tty) stream.write(CLEAR_LINE);
      stream.write(`${text}\n`);
      if (active && tty) draw();
    },

    start(stage) {
      active = { stage, fraction: 0, started: performance.now(), frame: 0 };
      if (!tty) return void stream.write(`  ▸ ${stage} started\n`);
      draw();
      // Unref'd: the spinner must never be what keeps the process alive.
      timer = setInterval(draw, REDRAW_MS).unref();
    },

    progress(fraction) {
      if (active) active.fraction = fraction;
    },

    done(ms) {
      if (active) finish(paint(32, "✓"), formatMs(ms));
    },

    /** Ends the stage in flight as failed; returns its name (undefined if none was running). */
    fail(reason) {
      const stage = active?.stage;
      if (active) finish(paint(31, "✗"), reason);
      return stage;
    },
  };
}
