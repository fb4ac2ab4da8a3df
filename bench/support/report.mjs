// Turns one benchmark result (built by bench/bench.mjs) into what people and
// scripts read: Markdown tables, the raw JSON, and an SVG chart of the
// speed-ups. The SVG is written by hand because a chart library would be a
// dependency for a single picture.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

const DASH = "—";

/** Writes latest.md, latest.json and latest.svg into `outDir`; returns the Markdown. */
export function writeReport(result, outDir) {
  mkdirSync(outDir, { recursive: true });
  const markdown = renderMarkdown(result);
  writeFileSync(join(outDir, "latest.md"), markdown);
  writeFileSync(join(outDir, "latest.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(outDir, "latest.svg"), renderSvg(result));
  return markdown;
}

// ---------------------------------------------------------------- Markdown

export function renderMarkdown(result) {
  const { meta } = result;
  return [
    "# Benchmark: langgraph-checkpoint-pg vs the official PostgreSQL saver",
    header(meta),
    "Absolute times depend on the machine; the ratios are what carries over. " +
      "Speed-up = official p50 ÷ ours p50 (end-to-end workloads: ours steps/s ÷ official steps/s), " +
      "both measured in the same run, interleaved, so above 1× means ours is faster. " +
      "End-to-end rows show steps/s in the p50 columns and the p99 of one whole graph invocation in the p99 columns.",
    "## Targets",
    targetsTable(result.targets ?? []),
    ...result.transports.flatMap(transportSection),
    "![Speed-up per workload, log scale](latest.svg)",
  ].join("\n\n") + "\n";
}

function header(meta) {
  const sizes = Object.entries(meta.sizes ?? {})
    .map(([k, v]) => `\`${k}\` ${[v].flat().map(int).join(", ")}`)
    .join(" · ");
  const contenders = (meta.contenders ?? []).map((c) => `${c.id} = ${c.label}`).join("; ");
  return [
    `${shortDate(meta.date)} · Node ${meta.node} · ${meta.cpu} (${meta.cores} cores) · ` +
      `${shortPostgres(meta.postgres)}, fsync ${meta.fsync} · ${meta.preset ?? (meta.quick ? "quick" : "full")} run, ` +
      `took ${duration(meta.durationSeconds)}.`,
    `Sizes: ${sizes}. Latency proxy: ${meta.delayMs} ms each way.`,
    `Contenders: ${contenders}.`,
  ].join(" ");
}

function targetsTable(targets) {
  if (targets.length === 0) return "No targets were checked in this run.";
  return table(
    ["Target", "Measured", "Met"],
    ["---", "---:", "---"],
    targets.map((t) => [t.description, t.display, t.met ? "yes" : "**NO**"]),
  );
}

function transportSection(transport) {
  const rows = transport.workloads.map((w) => {
    const { ours, official, memory } = w.results;
    return [w.label, p50Cell(w, ours), p50Cell(w, official), p50Cell(w, memory),
      formatMs(ours?.p99), formatMs(official?.p99), formatSpeedup(w.speedup)];
  });
  const parts = [`## ${transport.label}`, table(
    ["Workload", "ours p50", "official p50", "MemorySaver p50", "ours p99", "official p99", "speed-up"],
    ["---", "---:", "---:", "---:", "---:", "---:", "---:"],
    rows,
  )];
  const { floor } = transport;
  if (floor) {
    parts.push(`Floor on the same pool: SELECT 1 p50 ${formatMs(floor.select1?.p50)}, ` +
      `one-row INSERT commit p50 ${formatMs(floor.insert?.p50)}.`);
  }
  return parts;
}

/** The p50 column shows throughput for end-to-end rows, and adds peak memory for full scans, where memory is the point. */
function p50Cell(workload, r) {
  if (!r) return DASH;
  if (workload.unit === "step") return isNum(r.stepsPerSec) ? `${int(r.stepsPerSec)} steps/s` : DASH;
  const rss = isNum(r.peakRssMb) ? ` · +${r.peakRssMb < 10 ? r.peakRssMb.toFixed(1) : int(r.peakRssMb)} MB RSS` : "";
  return formatMs(r.p50) + rss;
}

function table(head, align, rows) {
  // A stray "|" in a label would split its cell.
  const line = (cells) => `| ${cells.map((c) => String(c).replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(head), `|${align.join("|")}|`, ...rows.map(line)].join("\n");
}

// ---------------------------------------------------------------- formatting

const isNum = (x) => typeof x === "number" && Number.isFinite(x);
const int = (n) => (isNum(n) ? Math.round(n).toLocaleString("en-US") : String(n));
const times = (x) => `${x.toFixed(2)}×`;
const formatSpeedup = (x) => (!isNum(x) ? DASH : x >= 1 ? `**${times(x)}**` : times(x));

/** About three significant digits, in seconds past one second. */
function formatMs(ms) {
  if (!isNum(ms)) return DASH;
  const sig3 = (x) => x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0);
  if (ms >= 1000) return `${sig3(ms / 1000)} s`;
  if (ms < 0.001) return "< 0.001 ms";
  return `${ms < 0.1 ? +ms.toPrecision(2) : sig3(ms)} ms`;
}

function duration(seconds) {
  if (!isNum(seconds)) return DASH;
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

const shortDate = (iso) => String(iso).replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
// version() is a long build string; the version number is what a reader needs.
const shortPostgres = (v) => String(v).match(/^PostgreSQL \S+/)?.[0] ?? String(v);

// ---------------------------------------------------------------- SVG

const COLOURS = ["#4c78a8", "#e45756", "#54a24b", "#b279a2", "#f58518"];
const ROW = 18;
const LEFT = 16;
const LABEL_W = 340;
const PLOT_X = LEFT + LABEL_W;
const PLOT_W = 500;
const WIDTH = PLOT_X + PLOT_W + 40;
const MAX_LABEL = 52; // characters that fit in LABEL_W at 12px

export function renderSvg(result) {
  const { meta } = result;
  const panels = result.transports
    .map((t, i) => ({ label: t.label, colour: COLOURS[i % COLOURS.length],
      rows: t.workloads.filter((w) => isNum(w.speedup) && w.speedup > 0) }))
    .filter((p) => p.rows.length > 0);
  const [lo, hi] = domain(panels.flatMap((p) => p.rows.map((w) => w.speedup)));
  const x = (v) => PLOT_X + ((Math.log2(v) - lo) / (hi - lo)) * PLOT_W;

  const out = [
    text(LEFT, 26, "Speed-up over the official PostgreSQL checkpointer", { "font-size": 18, "font-weight": 700 }),
    text(LEFT, 46, `${shortDate(meta.date)} · Node ${meta.node} · ${meta.cpu} (${meta.cores} cores) · ` +
      `${shortPostgres(meta.postgres)}, fsync ${meta.fsync} · ${meta.preset ?? (meta.quick ? "quick" : "full")} run`, { fill: "#555" }),
    text(LEFT, 62, "official p50 ÷ ours p50 (end to end: ours steps/s ÷ official steps/s); log scale, right of 1× = ours faster",
      { fill: "#555" }),
    ...legend(panels, 84),
  ];
  const top = 124;
  let y = top;
  const body = [];
  for (const panel of panels) {
    body.push(text(LEFT, y + 15, panel.label, { "font-weight": 700, fill: panel.colour }));
    y += 22;
    panel.rows.forEach((w, i) => body.push(...bar(w, panel.colour, y + i * ROW, i, x)));
    y += panel.rows.length * ROW + 10;
  }
  // Grid first so bars and labels draw over it; the 1× line goes last so nothing hides it.
  out.push(...grid(lo, hi, x, top, y), ...body, ...oneLine(x(1), top, y));
  const height = y + 44;
  out.push(...axisCaptions(x(1), y + 36));
  return svgDocument(WIDTH, height, "Speed-up per workload over the official PostgreSQL checkpointer", out);
}

/** A whole SVG chart: `parts` on an opaque background, with a title for screen readers. */
export function svgDocument(width, height, title, parts) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${title}</title>`,
    // An opaque background keeps the dark text readable on GitHub's dark theme.
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...parts,
    "</svg>",
  ].join("\n") + "\n";
}

/** Where a benchmark ran, for its report's header. */
export function machine() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? "unknown CPU",
    cores: os.cpus().length,
  };
}

/** Whole powers of two around the data, with room past the longest bars for their values; always 0.5×–2× at least so 1× is never at an edge. */
function domain(values) {
  const lo = Math.min(0.5, ...values.map((v) => v / 1.6));
  const hi = Math.max(2, ...values.map((v) => v * 1.6));
  return [Math.floor(Math.log2(lo)), Math.ceil(Math.log2(hi))];
}

function legend(panels, y) {
  let cx = LEFT;
  return panels.flatMap((p) => {
    const items = [rect(cx, y - 10, 12, 12, p.colour), text(cx + 18, y, p.label)];
    cx += 36 + p.label.length * 6.5;
    return items;
  });
}

function bar(workload, colour, y, index, x) {
  const v = workload.speedup;
  const [x0, x1] = [x(1), x(v)].sort((a, b) => a - b);
  const label = workload.label.length > MAX_LABEL ? `${workload.label.slice(0, MAX_LABEL - 1)}…` : workload.label;
  const right = v >= 1;
  return [
    // Zebra stripes let the eye follow a long label across to its bar.
    ...(index % 2 ? [rect(LEFT, y, WIDTH - 2 * LEFT, ROW, "#f4f6f8")] : []),
    `<g><title>${esc(`${workload.label}: ${times(v)}`)}</title>`,
    text(PLOT_X - 8, y + 13, label, { "text-anchor": "end" }),
    rect(x0, y + 3, Math.max(1, x1 - x0), ROW - 6, colour),
    text(right ? x1 + 4 : x0 - 4, y + 13, times(v), { "text-anchor": right ? "start" : "end", "font-size": 11 }),
    "</g>",
  ];
}

function grid(lo, hi, x, top, bottom) {
  // A line at every power of two, but labels only as often as they fit side by side.
  const every = Math.ceil(44 / (PLOT_W / (hi - lo)));
  const out = [];
  for (let e = lo; e <= hi; e += 1) {
    out.push(line(x(2 ** e), top, x(2 ** e), bottom, "#ddd"));
    if (e % every !== 0) continue;
    const label = e >= -3 ? `${2 ** e}×` : `1/${2 ** -e}×`;
    for (const y of [top - 6, bottom + 14]) {
      out.push(text(x(2 ** e), y, label, { "text-anchor": "middle", fill: "#555", "font-size": 11 }));
    }
  }
  return out;
}

function oneLine(cx, top, bottom) {
  return [
    `<line x1="${r1(cx)}" y1="${top - 2}" x2="${r1(cx)}" y2="${bottom + 2}" stroke="#111" stroke-width="1.5" stroke-dasharray="5 3"/>`,
    text(cx, top - 20, "official", { "text-anchor": "middle", "font-weight": 700 }),
  ];
}

function axisCaptions(cx, y) {
  return [
    text(cx - 8, y, "← official faster", { "text-anchor": "end", fill: "#555" }),
    text(cx + 8, y, "ours faster →", { fill: "#555" }),
  ];
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const attrs = (a) => Object.entries(a).map(([k, v]) => ` ${k}="${esc(v)}"`).join("");
const r1 = (n) => Math.round(n * 10) / 10;
const text = (x, y, s, a = {}) => `<text${attrs({ x: r1(x), y: r1(y), ...a })}>${esc(s)}</text>`;
const rect = (x, y, w, h, fill) => `<rect${attrs({ x: r1(x), y: r1(y), width: r1(w), height: r1(h), fill })}/>`;
const line = (x1, y1, x2, y2, stroke) => `<line${attrs({ x1: r1(x1), y1: r1(y1), x2: r1(x2), y2: r1(y2), stroke })}/>`;
