/**
 * A one-line progress bar on stderr, for operations that walk many threads
 * (validate, prune, copy). Drawn only when stderr is a terminal: piped or
 * redirected output (logs, CI, `2>file`) gets no carriage-return noise.
 * Plain characters, redrawn with `\r`; no colour codes.
 */
export class Progress {
  readonly enabled: boolean;
  private lastDraw = 0;
  private width = 0;

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly label: string,
    private readonly unit: string,
  ) {
    this.enabled = stream.isTTY === true;
  }

  /** At most every DRAW_INTERVAL_MS, except the final step, so a fast loop costs no terminal time. */
  update(done: number, total: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < total && now - this.lastDraw < DRAW_INTERVAL_MS) return;
    this.lastDraw = now;
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(share * BAR_WIDTH);
    const line = `${this.label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${done}/${total} ${this.unit} ${Math.round(share * 100)}%`;
    this.stream.write(`\r${line.padEnd(this.width)}`);
    this.width = line.length;
  }

  /** Clears the bar, so the result printed next starts on a clean line. */
  finish(): void {
    if (!this.enabled || this.width === 0) return;
    this.stream.write(`\r${" ".repeat(this.width)}\r`);
    this.width = 0;
  }
}

const BAR_WIDTH = 30;
/** Ten redraws a second look smooth and cost nothing. */
const DRAW_INTERVAL_MS = 100;
