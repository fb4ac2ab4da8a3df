// The chart of bench:chat (bench/chat.mjs), bench/results/chat.svg: how long
// each turn of the growing chat takes for each saver, over the turns of each
// conversation length run, and what the thread's tables take on disk. Drawn
// by hand, like report.mjs's latest.svg, because a chart library would be a
// dependency for a single picture.
import { svgDocument } from "./report.mjs";

/** Turns the rolling median of the per-turn times spans (centred; fewer at the ends). */
export const SMOOTHING_TURNS = 9;

const COLOURS = { ours: "#4c78a8", official: "#e45756" };
const FALLBACK = ["#54a24b", "#b279a2", "#f58518"];
const WIDTH = 960;
const LEFT = 16;
const INNER = WIDTH - 2 * LEFT;
const GAP = 32; // between panels side by side
const AXIS_W = 62; // left of a plot: the y tick labels
const END_W = 112; // right of a plot: the labels at the ends of the lines

/**
 * The SVG for a bench:chat result (chat.json): a large panel of per-turn
 * wall time for the longest conversation, smaller ones beneath it for the
 * other lengths, then the tables' size on disk per length, on a log scale.
 */
export function renderChatSvg(result) {
  const { meta } = result;
  const contenders = meta.contenders.map((c, i) => ({ ...c, colour: COLOURS[c.id] ?? FALLBACK[i % FALLBACK.length] }));
  const runs = [...result.runs].sort((a, b) => a.turns - b.turns);
  const longest = runs.at(-1);
  const others = runs.slice(0, -1);

  const out = [
    text(LEFT, 28, "Growing chat thread: time per turn and size on disk", { "font-size": 18, "font-weight": 700 }),
    text(LEFT, 48, `${shortDate(meta.date)} · Node ${meta.node} · ${meta.cpu} (${meta.cores} cores) · ${meta.postgres}, ` +
      `fsync ${meta.fsync} · ${meta.preset} run (${meta.turns.map(int).join(", ")} turns)`, { fill: "#555" }),
    text(LEFT, 66, `Each turn is one graph.invoke that adds a ${meta.wordsPerMessage}-word user message and a ` +
      `${meta.wordsPerMessage}-word reply to one thread per saver. Lower is better.`, { fill: "#555" }),
    text(LEFT, 82, `Time per turn: line = rolling median of ${SMOOTHING_TURNS} turns · faint = each turn · ` +
      `label = where the line ends · turn 1 (opens connections) not drawn`, { fill: "#555" }),
    ...legend(contenders, LEFT, 106),
  ];
  let y = 124;
  out.push(...timePanel(longest, contenders, LEFT, y, INNER, 280, "big"));
  y += 280 + 18;
  if (others.length > 0) {
    const w = (INNER - GAP * (others.length - 1)) / others.length;
    others.forEach((run, i) => out.push(...timePanel(run, contenders, LEFT + i * (w + GAP), y, w, 200, `small${i}`)));
    y += 200 + 18;
  }
  const disk = diskPanel(runs, contenders, LEFT, y, INNER);
  out.push(...disk.parts);
  const height = Math.round(y + disk.height + 12);
  return svgDocument(
    WIDTH,
    height,
    "Growing chat thread: per-turn time and size on disk, langgraph-checkpoint-pg vs the official PostgreSQL saver",
    out,
  );
}

// ---------------------------------------------------------------- per-turn time

/**
 * One conversation length: x is the turn (turn 1, which opens connections,
 * is left out), y the turn's wall time in ms; each saver's turns faint, and
 * their rolling median as the line, labelled at its end with the median of
 * the last turns.
 */
function timePanel(run, contenders, x0, y0, w, h, key) {
  const series = contenders.map((c) => {
    const raw = (run.results[c.id]?.turnMsEach ?? []).map((ms, i) => [i + 1, ms]).slice(1);
    return { ...c, raw, smooth: rollingMedian(raw, SMOOTHING_TURNS) };
  }).filter((s) => s.raw.length > 0);
  const plot = { x: x0 + AXIS_W, y: y0 + 30, w: w - AXIS_W - END_W, h: h - 30 - 40 };
  const out = [
    text(x0, y0 + 14, `${int(run.turns)}-turn conversation`, { "font-size": 14, "font-weight": 700 }),
    text(x0 + 12, plot.y + plot.h / 2, "ms per turn", { "text-anchor": "middle", fill: "#555",
      transform: `rotate(-90 ${r1(x0 + 12)} ${r1(plot.y + plot.h / 2)})` }),
  ];
  if (series.length === 0) return [...out, text(plot.x, plot.y + 20, "no per-turn times in this result", { fill: "#555" })];

  const first = 2;
  const last = Math.max(first + 1, run.turns);
  // The scale fits the medians and all but the rarest spikes, which are clipped.
  const top = Math.max(...series.map((s) => Math.max(max(s.smooth.map(([, v]) => v)), quantile(s.raw.map(([, v]) => v), 0.98))));
  const yTicks = niceTicks(0, top, plot.h >= 150 ? 5 : 4);
  const yMax = yTicks.at(-1);
  const sx = (t) => plot.x + ((t - first) / (last - first)) * plot.w;
  const sy = (v) => plot.y + plot.h - (v / yMax) * plot.h;

  for (const v of yTicks) {
    out.push(line(plot.x, sy(v), plot.x + plot.w, sy(v), v === 0 ? "#999" : "#e3e3e3"));
    out.push(text(plot.x - 6, sy(v) + 4, int(v), { "text-anchor": "end", fill: "#555", "font-size": 11 }));
  }
  const xTicks = niceTicks(0, last, Math.max(3, Math.floor(plot.w / 90)), { integer: true }).filter((t) => t >= first && t <= last);
  if (xTicks[0] !== first && sx(xTicks[0]) - sx(first) > 30) xTicks.unshift(first);
  for (const t of xTicks) {
    out.push(line(sx(t), plot.y + plot.h, sx(t), plot.y + plot.h + 4, "#999"));
    out.push(text(sx(t), plot.y + plot.h + 17, int(t), { "text-anchor": "middle", fill: "#555", "font-size": 11 }));
  }
  out.push(text(plot.x + plot.w / 2, plot.y + plot.h + 34, "turn",
    { "text-anchor": "middle", fill: "#555" }));

  const clip = `clip-${key}`;
  out.push(`<clipPath id="${clip}"><rect x="${r1(plot.x)}" y="${r1(plot.y)}" width="${r1(plot.w)}" height="${r1(plot.h)}"/></clipPath>`);
  // Each turn first, so that every median line draws over every saver's noise.
  for (const s of series) {
    out.push(polyline(s.raw, sx, sy, { stroke: s.colour, "stroke-width": 1, "stroke-opacity": 0.3, "clip-path": `url(#${clip})`,
      class: "turn-ms-each", "data-saver": s.id, "data-turns": run.turns }));
  }
  for (const s of series) {
    out.push(`<g><title>${esc(`${s.label}, ${int(run.turns)} turns: rolling median of ${SMOOTHING_TURNS} turns`)}</title>`);
    out.push(polyline(s.smooth, sx, sy, { stroke: s.colour, "stroke-width": 2.5, "stroke-linejoin": "round",
      "clip-path": `url(#${clip})`, class: "turn-ms", "data-saver": s.id, "data-turns": run.turns }), "</g>");
  }
  // Labels at the ends of the lines, with the value there; pushed apart if they would touch.
  const ends = series.map((s) => {
    const lastMs = s.smooth.at(-1)[1];
    return { s, lastMs, y: sy(Math.min(yMax, lastMs)) + 4 };
  }).sort((a, b) => a.y - b.y);
  for (let i = 1; i < ends.length; i += 1) ends[i].y = Math.max(ends[i].y, ends[i - 1].y + 15);
  const overflow = ends.length > 0 ? ends.at(-1).y - (plot.y + plot.h + 4) : 0;
  if (overflow > 0) for (const e of ends) e.y -= overflow;
  for (const e of ends) {
    out.push(text(plot.x + plot.w + 6, e.y, `${e.s.id} ${ms(e.lastMs)}`, { fill: e.s.colour, "font-weight": 700 }));
  }
  return out;
}

/** [turn, ms] pairs smoothed by the median of the `span` turns centred on each (fewer at the ends). */
function rollingMedian(points, span) {
  const half = Math.floor(span / 2);
  return points.map(([t], i) => {
    const window = points.slice(Math.max(0, i - half), i + half + 1).map(([, v]) => v).sort((a, b) => a - b);
    const m = window.length;
    return [t, m % 2 ? window[(m - 1) / 2] : (window[m / 2 - 1] + window[m / 2]) / 2];
  });
}

// ---------------------------------------------------------------- disk

/** The three tables' size on disk after VACUUM, per length and saver: bars on a log scale, each with its value. */
function diskPanel(runs, contenders, x0, y0, w) {
  const BAR = 15;
  const LABEL_W = 92;
  const RATIO_W = 150;
  const plot = { x: x0 + LABEL_W, y: y0 + 44, w: w - LABEL_W - RATIO_W - 70 };
  const groupH = contenders.length * (BAR + 3) + 12;
  const bottom = plot.y + runs.length * groupH;
  const out = [
    text(x0, y0 + 14, "Size on disk", { "font-size": 14, "font-weight": 700 }),
    text(x0 + 14 + 8.5 * "Size on disk".length, y0 + 14,
      "checkpoints + checkpoint_blobs + checkpoint_writes after VACUUM, heap + TOAST + indexes; log scale", { fill: "#555" }),
  ];
  const values = runs.flatMap((run) => contenders.map((c) => run.results[c.id]?.diskBytes)).filter((v) => isNum(v) && v > 0);
  if (values.length === 0) return { parts: out, height: 60 };
  // Whole powers of 4 bytes (…, 256 KiB, 1 MiB, 4 MiB, …) around the data, with room past the longest bar for its value.
  const lo = Math.floor(Math.log(Math.min(...values) / 2) / Math.log(4));
  const hi = Math.max(lo + 2, Math.ceil(Math.log(Math.max(...values) * 1.2) / Math.log(4)));
  const sx = (v) => plot.x + ((Math.log(v) / Math.log(4) - lo) / (hi - lo)) * plot.w;
  for (let e = lo; e <= hi; e += 1) {
    out.push(line(sx(4 ** e), plot.y - 4, sx(4 ** e), bottom, "#e3e3e3"));
    out.push(text(sx(4 ** e), plot.y - 10, bytes(4 ** e, { round: true }), { "text-anchor": "middle", fill: "#555", "font-size": 11 }));
  }
  out.push(text(x0 + w, plot.y - 10, "official ÷ ours", { "text-anchor": "end", fill: "#555", "font-size": 11 }));
  runs.forEach((run, g) => {
    const gy = plot.y + g * groupH + 6;
    const mid = gy + (contenders.length * (BAR + 3) - 3) / 2;
    out.push(text(plot.x - 10, mid + 4, `${int(run.turns)} turns`, { "text-anchor": "end", "font-weight": 700 }));
    contenders.forEach((c, i) => {
      const v = run.results[c.id]?.diskBytes;
      if (!isNum(v) || v <= 0) return;
      const by = gy + i * (BAR + 3);
      out.push(`<g><title>${esc(`${c.label}, ${int(run.turns)} turns: ${bytes(v)} on disk`)}</title>`,
        rect(plot.x, by, Math.max(1, sx(v) - plot.x), BAR, c.colour, { class: "disk", "data-saver": c.id, "data-turns": run.turns }),
        text(sx(v) + 5, by + BAR - 3, bytes(v), { "font-size": 11 }), "</g>");
    });
    const ratio = run.ratios?.disk;
    if (isNum(ratio)) out.push(text(x0 + w, mid + 4, `${ratio.toFixed(2)}×`, { "text-anchor": "end", "font-weight": 700 }));
  });
  out.push(line(plot.x, plot.y - 4, plot.x, bottom, "#999"));
  return { parts: out, height: bottom - y0 + 6 };
}

// ---------------------------------------------------------------- pieces

function legend(contenders, x, y) {
  return contenders.flatMap((c) => {
    const label = `${c.id} = ${c.label}`;
    const items = [line(x, y - 4, x + 22, y - 4, c.colour, { "stroke-width": 3 }), text(x + 28, y, label)];
    x += 28 + label.length * 6.6 + 28;
    return items;
  });
}

/** Round steps (1, 2, 2.5 or 5 × 10^k; whole numbers if `integer`) from `lo` up to at least `hi`, about `count` of them. */
function niceTicks(lo, hi, count, { integer = false } = {}) {
  const raw = (hi - lo) / Math.max(1, count) || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw && (!integer || Number.isInteger(s)));
  const ticks = [];
  for (let v = Math.floor(lo / step) * step; v < hi + step; v += step) {
    ticks.push(Math.round(v * 1e6) / 1e6);
    if (v >= hi) break;
  }
  return ticks;
}

const max = (xs) => xs.reduce((a, b) => Math.max(a, b), -Infinity);
const quantile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const isNum = (x) => typeof x === "number" && Number.isFinite(x);
const int = (n) => Math.round(n).toLocaleString("en-US");
function ms(x) {
  if (!isNum(x)) return "—";
  if (x >= 1000) return `${(x / 1000).toFixed(2)} s`;
  return `${x.toFixed(x < 10 ? 1 : 0)} ms`;
}
/** As chat.md writes sizes ("4.02 MiB", "295.5 MiB"); `round` for axis ticks ("1 MiB"). */
function bytes(n, { round = false } = {}) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${round || i === 0 ? +n.toFixed(2) : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}
const shortDate = (iso) => String(iso).replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const attrs = (a) => Object.entries(a).map(([k, v]) => ` ${k}="${esc(v)}"`).join("");
const r1 = (n) => Math.round(n * 10) / 10;
const text = (x, y, s, a = {}) => `<text${attrs({ x: r1(x), y: r1(y), ...a })}>${esc(s)}</text>`;
const rect = (x, y, w, h, fill, a = {}) => `<rect${attrs({ x: r1(x), y: r1(y), width: r1(w), height: r1(h), fill, ...a })}/>`;
const line = (x1, y1, x2, y2, stroke, a = {}) => `<line${attrs({ x1: r1(x1), y1: r1(y1), x2: r1(x2), y2: r1(y2), stroke, ...a })}/>`;
const polyline = (points, sx, sy, a) =>
  `<polyline${attrs({ points: points.map(([t, v]) => `${r1(sx(t))},${r1(sy(v))}`).join(" "), fill: "none", ...a })}/>`;
