// The work each pipeline stage does, on deterministic synthetic audio.
// Each stage is a generator that yields its progress (0..1) between chunks
// of work and returns its state update: pipeline.mjs drives it, sleeping
// between chunks to look like a slow external service. Nothing here does
// I/O, so the same seed always gives the same transcript, in any process.

const SAMPLE_RATE = 16_000;
const FRAME_MS = 20;
const FRAME = (SAMPLE_RATE * FRAME_MS) / 1000;
/** Fundamental frequencies of the three synthetic voices (Hz): far enough apart to cluster. */
const VOICES = [110, 185, 310];
const HYSTERESIS = 0.02;
const WORDS = (
  "the a we our this that next release audio latency buffer sample rate codec stream export " +
  "transcript speaker model cache budget quarter deadline review ship merge test customer " +
  "feedback noise filter channel mixer volume meeting agenda plan risk owner draft final " +
  "should could will need think agree maybe check move keep drop add fix measure compare " +
  "today tomorrow friday later soon again first then also really quite very clearly"
).split(" ");

/** mulberry32: a tiny seeded PRNG, so every process regenerates the same data. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;

/** convert: render `seconds` of a three-voice conversation, then reduce it to per-frame energy and zero-crossing rate. */
export function* convert(seed, seconds = 60) {
  const rnd = random(seed);
  // Who speaks when. A voice sometimes continues after a pause (merge has work to do).
  const turns = [];
  let voice = 0;
  for (let t = 0.3; t < seconds - 1.2; ) {
    if (rnd() > 0.3) voice = (voice + 1 + Math.floor(rnd() * 2)) % VOICES.length;
    const end = Math.min(t + 0.8 + rnd() * 2.7, seconds - 0.3);
    turns.push({ start: t, end, hz: VOICES[voice] * (0.97 + rnd() * 0.06) });
    t = end + 0.25 + rnd() * 0.5;
  }
  const samples = new Float32Array(seconds * SAMPLE_RATE);
  const chunks = 8;
  for (let c = 0; c < chunks; c++) {
    const from = Math.floor((c * samples.length) / chunks);
    const to = Math.floor(((c + 1) * samples.length) / chunks);
    for (let i = from; i < to; i++) {
      const t = i / SAMPLE_RATE;
      const turn = turns.find((x) => t >= x.start && t < x.end);
      let s = (rnd() - 0.5) * 0.01; // background noise
      if (turn) {
        const phase = 2 * Math.PI * turn.hz * (t - turn.start);
        const syllables = 0.6 + 0.4 * Math.abs(Math.sin(2 * Math.PI * 3.1 * t)); // ~6 syllables/s
        s += 0.4 * syllables * (Math.sin(phase) + 0.3 * Math.sin(2 * phase));
      }
      samples[i] = s;
    }
    yield (c + 1) / chunks;
  }
  const energy = [];
  const zcr = [];
  for (let f = 0; f + FRAME <= samples.length; f += FRAME) {
    let sum = 0;
    let crossings = 0;
    // Count a crossing only once the signal passes ±HYSTERESIS, so noise near zero does not add crossings.
    let positive = samples[f] >= 0;
    for (let i = f; i < f + FRAME; i++) {
      sum += samples[i] ** 2;
      if (positive ? samples[i] < -HYSTERESIS : samples[i] > HYSTERESIS) {
        positive = !positive;
        crossings++;
      }
    }
    energy.push(round(Math.sqrt(sum / FRAME), 4));
    zcr.push(round(crossings / FRAME, 4));
  }
  return { audio: { seed, sampleRate: SAMPLE_RATE, seconds, frameMs: FRAME_MS, energy, zcr } };
}

/** diarize: find speech runs by energy, estimate each run's pitch from its zero-crossing rate, cluster pitches into speakers. */
export function* diarize(audio) {
  const { energy, zcr, frameMs, sampleRate } = audio;
  const threshold = Math.max(...energy) * 0.1;
  const runs = [];
  let open;
  energy.forEach((e, f) => {
    if (e < threshold) return;
    // Bridge gaps under 80 ms: dips between syllables are not pauses.
    if (open && f - open.to <= 4) open.to = f;
    else runs.push((open = { from: f, to: f }));
  });
  const speech = runs.filter((r) => r.to - r.from >= 10); // at least 200 ms
  yield 0.4;
  for (const r of speech) {
    const rates = zcr.slice(r.from, r.to + 1);
    // A sine crosses zero twice per period.
    r.hz = ((rates.reduce((a, b) => a + b, 0) / rates.length) * sampleRate) / 2;
  }
  yield 0.7;
  // 1-D clustering: sorted pitches split wherever the next is over 15% higher.
  const sorted = speech.map((r) => r.hz).sort((a, b) => a - b);
  const clusterOf = new Map();
  let cluster = 0;
  sorted.forEach((hz, i) => {
    if (i > 0 && hz > sorted[i - 1] * 1.15) cluster++;
    clusterOf.set(hz, cluster);
  });
  // Name speakers in order of first appearance, as diarization tools do.
  const names = new Map();
  const segments = speech.map((r) => {
    const c = clusterOf.get(r.hz);
    if (!names.has(c)) names.set(c, `S${names.size + 1}`);
    return {
      start: round((r.from * frameMs) / 1000, 2),
      end: round(((r.to + 1) * frameMs) / 1000, 2),
      speaker: names.get(c),
      pitchHz: Math.round(r.hz),
    };
  });
  yield 1;
  return { segments };
}

/** transcribe: deterministic fake speech-to-text, about 2.6 words per second of each segment. */
export function* transcribe(seed, segments) {
  const lines = [];
  for (const [i, s] of segments.entries()) {
    const rnd = random(seed * 7919 + i);
    const count = Math.max(2, Math.round((s.end - s.start) * 2.6));
    const words = Array.from({ length: count }, () => WORDS[Math.floor(rnd() * WORDS.length)]);
    const text = words.join(" ");
    lines.push({ ...s, text: `${text[0].toUpperCase()}${text.slice(1)}.` });
    yield (i + 1) / segments.length;
  }
  return { transcript: lines };
}

/** merge: join consecutive lines of one speaker into turns, and total each speaker's time and words. */
export function* merge(transcript) {
  const turns = [];
  for (const line of transcript) {
    const last = turns.at(-1);
    if (last?.speaker === line.speaker) Object.assign(last, { end: line.end, text: `${last.text} ${line.text}` });
    else turns.push({ speaker: line.speaker, start: line.start, end: line.end, text: line.text });
  }
  yield 0.5;
  const speakers = {};
  for (const t of turns) {
    const s = (speakers[t.speaker] ??= { turns: 0, seconds: 0, words: 0 });
    s.turns++;
    s.seconds = round(s.seconds + t.end - t.start, 2);
    s.words += t.text.split(" ").length;
  }
  yield 1;
  return { turns, speakers };
}

/** export: an SRT subtitle file of the turns plus a JSON summary. */
export function* exportSrt(audio, turns, speakers) {
  const stamp = (s) => {
    const ms = Math.round(s * 1000);
    const p = (n, w = 2) => String(n).padStart(w, "0");
    return `${p(Math.floor(ms / 3_600_000))}:${p(Math.floor(ms / 60_000) % 60)}:${p(Math.floor(ms / 1000) % 60)},${p(ms % 1000, 3)}`;
  };
  const text = turns
    .map((t, i) => `${i + 1}\n${stamp(t.start)} --> ${stamp(t.end)}\n${t.speaker}: ${t.text}\n`)
    .join("\n");
  yield 0.6;
  const summary = {
    seconds: audio.seconds,
    speakers: Object.keys(speakers).length,
    turns: turns.length,
    words: Object.values(speakers).reduce((n, s) => n + s.words, 0),
  };
  yield 1;
  return { exported: { format: "srt", bytes: Buffer.byteLength(text), summary, text } };
}
