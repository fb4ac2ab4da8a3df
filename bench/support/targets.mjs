// The performance targets, checked against one run's numbers. A
// missed target is reported as missed, never dropped.
const times = (x) => `${x.toFixed(2)}×`;

export function evaluateTargets(result) {
  const leg = (id) => result.transports.find((t) => t.id === id);
  const workload = (legId, id) => leg(legId)?.workloads.find((w) => w.id === id);
  const targets = [];
  const add = (id, description, measured, display, target, met) => targets.push({ id, description, measured, display, target, met });
  const atLeast = (legId, id, min, description) => {
    const w = workload(legId, id);
    if (w) add(`${legId}-${id}`, description ?? `${w.label}, ${leg(legId).label}: ours vs official`, w.speedup, times(w.speedup), `≥ ${min}×`, w.speedup >= min);
  };

  atLeast("proxy", "put-5", 3);
  atLeast("proxy", "putWrites-4", 3);
  for (const w of leg("proxy")?.workloads.filter((w) => w.unit === "step") ?? []) atLeast("proxy", w.id, 2);

  const direct = leg("direct").workloads;
  const slowest = direct.reduce((a, b) => (b.speedup < a.speedup ? b : a));
  add("direct-none-slower", `direct: no workload slower than official (slowest: ${slowest.label})`, slowest.speedup, times(slowest.speedup), "≥ 1×", slowest.speedup >= 1);
  for (const id of ["list-10", "list-50"]) atLeast("direct", id, 1.5);
  for (const w of direct.filter((w) => /^getTuple-.*-[1-9]/.test(w.id))) atLeast("direct", w.id, 1.5);
  // Small reads, where a plan cached on the connection matters most.
  for (const id of ["getTuple-latest-0", "getTuple-id-0", "flat-getTuple-small"]) atLeast("direct", id, 1.3);

  for (const transport of result.transports) {
    for (const id of ["put-1", "put-5"]) {
      const w = transport.workloads.find((x) => x.id === id);
      const ratio = w.results.ours.p50 / transport.floor.insert.p50;
      add(`${transport.id}-${id}-floor`, `${w.label}, ${transport.label}: ours p50 ÷ one-row INSERT p50`, ratio, times(ratio), "≤ 1.5×", ratio <= 1.5);
    }
  }

  const scan = direct.find((w) => w.unit === "scan");
  const rss = scan.results.ours.peakRssMb;
  add("direct-scan-rss", `${scan.label}: peak RSS growth, ours`, rss, `${rss.toFixed(1)} MB`, "< 100 MB", rss < 100);

  for (const [what, small, big] of [["put", "flat-put-small", "flat-put-big"], ["getTuple", "flat-getTuple-small", "flat-getTuple-big"]]) {
    const ratio = workload("direct", big).results.ours.p50 / workload("direct", small).results.ours.p50;
    add(`direct-flat-${what}`, `${what} p50 on a thread of ${result.meta.sizes.scanThread.toLocaleString("en-US")} checkpoints ÷ on a thread of 10, ours`, ratio, times(ratio), "≤ 1.2×", ratio <= 1.2);
  }
  return targets;
}
