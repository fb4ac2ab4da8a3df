import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CheckpointNode, planPrune } from "../../../src/retention/plan.js";

/**
 * `planPrune`, the pure heart of `keepLast`: on hand-made histories (forks,
 * delta chains, channels with different seed points, parents outside the
 * list, pre-v4 sends), then against a brute-force reference on random ones.
 */

/** A history from oldest to newest; `planPrune` wants it newest first. */
function history(...nodes: Array<Partial<CheckpointNode> & { id: string }>): CheckpointNode[] {
  return nodes.map((n, i) => ({ parentId: i === 0 ? null : nodes[i - 1]!.id, replays: [], seeds: [], ...n })).reverse();
}

const ids = (n: number, prefix = "c") => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, "0")}`);

describe("planPrune on hand-made histories", () => {
  it("a plain chain: the N newest stay, the rest go oldest first, the oldest kept loses its parent", () => {
    const nodes = history(...ids(6).map((id) => ({ id })));
    expect(planPrune(nodes, 2)).toEqual({ doomed: ["c00", "c01", "c02", "c03"], orphaned: ["c04"] });
    expect(planPrune(nodes, 1)).toEqual({ doomed: ["c00", "c01", "c02", "c03", "c04"], orphaned: ["c05"] });
  });

  it("keepLast at or over the length keeps everything; 0 deletes everything", () => {
    const nodes = history(...ids(4).map((id) => ({ id })));
    expect(planPrune(nodes, 4)).toEqual({ doomed: [], orphaned: [] });
    expect(planPrune(nodes, 100)).toEqual({ doomed: [], orphaned: [] });
    expect(planPrune(nodes, 0)).toEqual({ doomed: ["c00", "c01", "c02", "c03"], orphaned: [] });
    expect(planPrune([], 3)).toEqual({ doomed: [], orphaned: [] });
  });

  it("a delta chain: a replayed channel keeps every ancestor up to and including its seed", () => {
    const nodes = history(
      { id: "c0", seeds: ["m"] },
      { id: "c1", seeds: ["m"] },
      { id: "c2", replays: ["m"] },
      { id: "c3", replays: ["m"] },
      { id: "c4", replays: ["m"] },
    );
    expect(planPrune(nodes, 1)).toEqual({ doomed: ["c0"], orphaned: ["c1"] });
  });

  it("a channel the checkpoint holds itself is not walked", () => {
    const nodes = history({ id: "c0" }, { id: "c1" }, { id: "c2", replays: ["m"], seeds: ["m"] });
    expect(planPrune(nodes, 1)).toEqual({ doomed: ["c0", "c1"], orphaned: ["c2"] });
  });

  it("two channels with different seed points: the farther one decides", () => {
    const nodes = history(
      { id: "c0" },
      { id: "c1", seeds: ["notes"] },
      { id: "c2", seeds: ["m"], replays: ["notes"] },
      { id: "c3", replays: ["m", "notes"] },
      { id: "c4", replays: ["m", "notes"] },
    );
    expect(planPrune(nodes, 1)).toEqual({ doomed: ["c0"], orphaned: ["c1"] });
  });

  it("a kept ancestor's own replayed channels are followed in turn", () => {
    // c4 needs m back to c3 (seed); c3 itself replays notes back to c1.
    const nodes = history(
      { id: "c0" },
      { id: "c1", seeds: ["notes"] },
      { id: "c2", replays: ["notes"] },
      { id: "c3", seeds: ["m"], replays: ["notes"] },
      { id: "c4", replays: ["m"] },
    );
    expect(planPrune(nodes, 1)).toEqual({ doomed: ["c0"], orphaned: ["c1"] });
  });

  it("no seed at all: the walk goes to the first checkpoint", () => {
    const nodes = history({ id: "c0" }, { id: "c1", replays: ["m"] }, { id: "c2", replays: ["m"] });
    expect(planPrune(nodes, 1)).toEqual({ doomed: [], orphaned: [] });
  });

  it("a fork: the newest branch keeps what it needs, the other leaf goes, shared ancestors stay when needed", () => {
    // root ← a1 ← a2 (old branch leaf);  a1 ← b1 (fork, newest) replaying m from a1.
    const nodes: CheckpointNode[] = [
      { id: "c3-b1", parentId: "c1-a1", replays: ["m"], seeds: [] },
      { id: "c2-a2", parentId: "c1-a1", replays: [], seeds: ["m"] },
      { id: "c1-a1", parentId: "c0-root", replays: [], seeds: ["m"] },
      { id: "c0-root", parentId: null, replays: [], seeds: [] },
    ];
    expect(planPrune(nodes, 1)).toEqual({ doomed: ["c0-root", "c2-a2"], orphaned: ["c1-a1"] });
    // Both leaves kept: each keeps its own needs; the shared parent is kept once.
    expect(planPrune(nodes, 2)).toEqual({ doomed: ["c0-root"], orphaned: ["c1-a1"] });
  });

  it("two kept leaves of a fork whose parent goes are both orphaned", () => {
    const nodes: CheckpointNode[] = [
      { id: "c2", parentId: "c0", replays: [], seeds: [] },
      { id: "c1", parentId: "c0", replays: [], seeds: [] },
      { id: "c0", parentId: null, replays: [], seeds: [] },
    ];
    expect(planPrune(nodes, 2)).toEqual({ doomed: ["c0"], orphaned: ["c2", "c1"] });
  });

  it("a parent outside the list (already gone): the walk stops there and nothing is orphaned for it", () => {
    const nodes: CheckpointNode[] = [
      { id: "c2", parentId: "c1", replays: ["m"], seeds: [] },
      { id: "c1", parentId: "gone", replays: ["m"], seeds: [] },
      { id: "c0", parentId: null, replays: [], seeds: [] },
    ];
    expect(planPrune(nodes, 1)).toEqual({ doomed: ["c0"], orphaned: [] });
  });

  it("pre-v4 checkpoints keep the parent holding their pending sends, and only that", () => {
    const nodes = history(
      { id: "c0" },
      { id: "c1" },
      { id: "c2", sendsOnParent: true },
      { id: "c3", sendsOnParent: true },
      { id: "c4" },
    );
    expect(planPrune(nodes, 1)).toEqual({ doomed: ["c0", "c1", "c2", "c3"], orphaned: ["c4"] });
    expect(planPrune(nodes, 2)).toEqual({ doomed: ["c0"], orphaned: ["c1"] });
  });

  it("a chain of thousands of pre-v4 checkpoints does not overflow the stack", () => {
    const nodes = history(...ids(20_000, "x").map((id, i) => ({ id, sendsOnParent: i > 0 })));
    expect(planPrune(nodes, 1)).toEqual({ doomed: [], orphaned: [] });
  });

  it("a corrupt parent cycle ends", () => {
    const nodes: CheckpointNode[] = [
      { id: "c1", parentId: "c0", replays: ["m"], seeds: [], sendsOnParent: true },
      { id: "c0", parentId: "c1", replays: ["m"], seeds: [], sendsOnParent: true },
    ];
    expect(planPrune(nodes, 1)).toEqual({ doomed: [], orphaned: [] });
  });
});

// ---------------------------------------------------------------------------
// Against a brute-force reference
// ---------------------------------------------------------------------------

/**
 * The smallest set containing the newest `keepLast` that is closed under
 * "needs": a kept checkpoint needs, for every channel it replays and does
 * not hold, each ancestor up to and including the first one holding it;
 * and its parent when its pending sends are there. Computed by repeating
 * until nothing changes: slow and obviously right.
 */
function reference(nodes: CheckpointNode[], keepLast: number) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const kept = new Set(nodes.slice(0, keepLast).map((n) => n.id));
  for (let changed = true; changed;) {
    changed = false;
    const add = (id: string) => {
      if (!kept.has(id)) {
        kept.add(id);
        changed = true;
      }
    };
    for (const id of [...kept]) {
      const node = byId.get(id)!;
      if (node.sendsOnParent && node.parentId !== null && byId.has(node.parentId)) add(node.parentId);
      for (const channel of node.replays.filter((c) => !node.seeds.includes(c))) {
        for (let p = node.parentId === null ? undefined : byId.get(node.parentId); p !== undefined;) {
          add(p.id);
          if (p.seeds.includes(channel)) break;
          p = p.parentId === null ? undefined : byId.get(p.parentId);
        }
      }
    }
  }
  const doomed = nodes.filter((n) => !kept.has(n.id)).map((n) => n.id).reverse();
  const orphaned = nodes.filter((n) => kept.has(n.id) && n.parentId !== null && doomed.includes(n.parentId)).map((n) => n.id);
  return { doomed, orphaned };
}

const CHANNELS = ["m", "notes", "x"];

/** Random histories: each checkpoint's parent is an older one (forks), none, or one already gone. */
const histories = fc.integer({ min: 1, max: 40 }).chain((size) =>
  fc.tuple(
    fc.array(
      fc.record({
        parent: fc.oneof({ weight: 8, arbitrary: fc.constant("previous" as const) }, fc.nat(), fc.constant("none" as const), fc.constant("gone" as const)),
        replays: fc.subarray(CHANNELS),
        seeds: fc.subarray(CHANNELS),
        sendsOnParent: fc.boolean(),
      }),
      { minLength: size, maxLength: size },
    ),
    fc.integer({ min: 0, max: size + 2 }),
  ).map(([specs, keepLast]) => {
    const nodes: CheckpointNode[] = specs.map((spec, i) => ({
      id: `c${String(i).padStart(2, "0")}`,
      parentId: i === 0 || spec.parent === "none" ? null
        : spec.parent === "gone" ? "gone"
        : spec.parent === "previous" ? `c${String(i - 1).padStart(2, "0")}`
        : `c${String(spec.parent % i).padStart(2, "0")}`,
      replays: spec.replays,
      seeds: spec.seeds,
      sendsOnParent: spec.sendsOnParent,
    }));
    return { nodes: nodes.reverse(), keepLast };
  }));

describe("planPrune against a brute-force reference", () => {
  it("keeps exactly the smallest closed set; doomed oldest first; orphaned = kept whose parent is doomed", () => {
    fc.assert(
      fc.property(histories, ({ nodes, keepLast }) => {
        const plan = planPrune(nodes, keepLast);
        expect(plan).toEqual(reference(nodes, keepLast));
        // And directly: every walk from a kept checkpoint only passes kept ones.
        const doomed = new Set(plan.doomed);
        const byId = new Map(nodes.map((n) => [n.id, n]));
        for (const node of nodes.filter((n) => !doomed.has(n.id))) {
          for (const channel of node.replays.filter((c) => !node.seeds.includes(c))) {
            for (let p = byId.get(node.parentId ?? ""); p !== undefined; p = byId.get(p.parentId ?? "")) {
              expect(doomed.has(p.id)).toBe(false);
              if (p.seeds.includes(channel)) break;
            }
          }
        }
        for (const id of nodes.slice(0, keepLast).map((n) => n.id)) expect(doomed.has(id)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
