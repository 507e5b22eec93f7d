import { describe, expect, it } from "vitest";
import { Atom } from "../src/pms/atom.js";
import { parseDependencies } from "../src/pms/depspec.js";
import { Version } from "../src/pms/version.js";
import type { Candidate } from "../src/resolve/Candidate.js";
import { derive, type Origin, type ProblemView, refOf } from "../src/resolve/explain.js";
import { renderExplanation } from "../src/resolve/explainText.js";

/** A candidate of a made-up tree: `cat/pkg-1.0`, with the RDEPEND given. */
function pkg(cpv: string, rdepend = "", slot = "0"): Candidate {
  const m = /^([^/]+)\/(.+)-(\d[^-]*)$/.exec(cpv)!;
  return { source: "ebuild", category: m[1]!, package: m[2]!, version: Version.parse(m[3]!), cpv, slot, subslot: slot, repo: "t", eapi: "8", iuse: [], use: new Set(), useState: { enabled: [], disabled: [], forced: [], masked: [] }, masks: [], maskMarker: " ", deps: { DEPEND: "", RDEPEND: rdepend, PDEPEND: "", BDEPEND: "", IDEPEND: "" }, properties: "" };
}

function viewOf(all: Candidate[]): ProblemView {
  return {
    matching: (a, parent) => all.filter((c) => a.matches(refOf(c), parent?.use)),
    blocked: (a, parent) => all.filter((c) => c.cpv !== parent.cpv && a.matches(refOf(c), parent.use)),
    candidatesOf: (cp) => all.filter((c) => `${c.category}/${c.package}` === cp),
    eligible: () => true,
    inWorld: () => false,
    idOf: (c) => c.cpv,
  };
}

const request = (s: string): Origin => ({ kind: "request", request: { arg: s, atom: Atom.parse(s) } });
const deps = (c: Candidate): Origin[] => parseDependencies(c.deps.RDEPEND).map((node) => ({ kind: "dep", pkg: c, cls: "RDEPEND", node }));

describe("derivations from a minimal conflict", () => {
  it("when propagation stops short, a supposition rules a version out, then the other", () => {
    // every version of x blocks every version of y, and both are asked for
    const x1 = pkg("a/x-1", "!a/y");
    const x2 = pkg("a/x-2", "!a/y");
    const y1 = pkg("a/y-1");
    const y2 = pkg("a/y-2", "", "2");
    const view = viewOf([x1, x2, y1, y2]);
    const core = [request("a/x"), request("a/y"), ...deps(x1), ...deps(x2)];
    const x = derive(core, view, []);
    const lines = renderExplanation(x).lines;
    expect(lines).toEqual([
      "  1. suppose a/x-1::t were installed",
      "  2. if 1: a/x-1::t blocks a/y (RDEPEND), so a/y-1::t cannot be installed with it (1)",
      "  3. if 1: a/y (argument): a/y-2::t is the only match left (2)",
      "  4. if 1: a/x-1::t blocks a/y (RDEPEND), and both it and a/y-2::t must be installed (1, 3)",
      "  5. so a/x-1::t cannot be installed (4)",
      "  6. a/x (argument): a/x-2::t is the only match left (5)",
      "  7. a/x-2::t blocks a/y (RDEPEND), so a/y-1::t cannot be installed with it (6)",
      "  8. a/y (argument): a/y-2::t is the only match left (7)",
      "  9. a/x-2::t blocks a/y (RDEPEND), and both it and a/y-2::t must be installed (6, 8)",
      "  10. so a/x and a/y cannot be installed together (9)",
    ]);
    expect(x.code).toBe("blocker");
  });

  it("shared steps are numbered once and cited by every step that rests on them", () => {
    // b and c both need the one version of d, which needs a package that does not exist
    const b = pkg("a/b-1", "a/d");
    const c = pkg("a/c-1", "a/d");
    const d = pkg("a/d-1", "a/none");
    const view = viewOf([b, c, d]);
    const r = renderExplanation(derive([request("a/b"), request("a/c"), ...deps(b), ...deps(c), ...deps(d)], view, [])).lines;
    expect(r.filter((l) => l.includes("a/d-1::t needs a/none"))).toHaveLength(1);
    expect(r.at(-1)).toMatch(/^ {2}\d+\. so a\/b /);
  });
});

describe("the minimal conflict", () => {
  it("is unsatisfiable, and satisfiable without any one of its constraints; unrelated constraints stay out", async () => {
    const Logic = (await import("logic-solver")).default;
    const x = pkg("a/x-1", "a/z:1");
    const y = pkg("a/y-1", "a/z:2");
    const z1 = pkg("a/z-1", "", "1");
    const z2 = pkg("a/z-2", "", "2");
    const w = pkg("a/w-1", "a/v");
    const v = pkg("a/v-1");
    const view = viewOf([x, y, z1, z2, w, v]);
    // both z are made one slot's members here: at most one of them
    const slot: Origin = { kind: "slot", cp: "a/z", slot: "0", members: [z1, z2], keep: undefined };
    const dep = (c: Candidate, m: Candidate): { origin: Origin; formula: import("logic-solver").Operand } => ({ origin: deps(c)[0]!, formula: Logic.implies(c.cpv, m.cpv) });
    const constraints = [
      { origin: request("a/w"), formula: Logic.or(w.cpv) },
      dep(w, v),
      { origin: request("a/x"), formula: Logic.or(x.cpv) },
      { origin: request("a/y"), formula: Logic.or(y.cpv) },
      dep(x, z1),
      dep(y, z2),
      { origin: slot, formula: Logic.atMostOne(z1.cpv, z2.cpv) },
    ];
    const { minimalConflict } = await import("../src/resolve/explain.js");
    const core = minimalConflict(Logic, constraints, view);
    expect(core.map((k) => constraints.indexOf(k)).sort()).toEqual([2, 3, 4, 5, 6]);
    const sat = (ks: typeof constraints) => {
      const s = new Logic.Solver();
      for (const k of ks) s.require(k.formula);
      return s.solve() !== null;
    };
    expect(sat(core)).toBe(false);
    for (const k of core) expect(sat(core.filter((o) => o !== k))).toBe(true);
  });
});
