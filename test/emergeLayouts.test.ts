import { describe, expect, it } from "vitest";
import { columnsLine, treeRows, type TreeGraph } from "../src/cli/emergeLayouts.js";
import type { LineOptions } from "../src/cli/emergeLines.js";
import { Atom, parseCpv } from "../src/pms/atom.js";
import type { Candidate } from "../src/resolve/Candidate.js";
import { buildPlan, combined, type PlanEntry } from "../src/resolve/plan.js";
import type { Reason } from "../src/resolve/resolve.js";

const plain: LineOptions = { verbose: false, quiet: false, root: "/", useExpand: [], useExpandHidden: new Set() };
const verbose: LineOptions = { ...plain, verbose: true };
const quiet: LineOptions = { ...plain, quiet: true };

/** A package of the test-kit repository: an ebuild, or with `installed` the installed instance. */
function pkg(cpv: string, more: Partial<Candidate> & { installed?: boolean; enabled?: string[] } = {}): Candidate {
  const { installed, enabled = [], ...rest } = more;
  const { category, package: pn, version } = parseCpv(cpv);
  const iuse = rest.iuse ?? [];
  return {
    source: installed ? "installed" : "ebuild",
    category,
    package: pn,
    version,
    cpv,
    slot: "0",
    subslot: rest.slot ?? "0",
    repo: "test-kit",
    eapi: "8",
    iuse,
    use: new Set(enabled),
    useState: { enabled, disabled: iuse.filter((f) => !enabled.includes(f)), forced: [], masked: [] },
    masks: [],
    maskMarker: " ",
    deps: { DEPEND: "", RDEPEND: "", PDEPEND: "", BDEPEND: "", IDEPEND: "" },
    properties: "",
    ...rest,
  };
}

interface Scenario {
  /** Packages chosen (ebuilds merged, installed ones kept), in the order the resolver added them. */
  readonly chosen: Candidate[];
  /** Installed packages that are not chosen (replaced or uninstalled). */
  readonly installed?: Candidate[];
  readonly edges?: [Candidate, Candidate][];
  readonly requested?: Candidate[];
  readonly forced?: Candidate[];
  readonly uninstalls?: { pkg: Candidate; atom: string; by: Candidate }[];
}

/** The plan buildPlan makes of a hand-made selection, as the tree display receives it. */
function plan(s: Scenario): TreeGraph {
  const universe = new Map<string, Candidate[]>();
  for (const c of [...s.chosen, ...(s.installed ?? [])]) universe.set(`${c.category}/${c.package}`, [...(universe.get(`${c.category}/${c.package}`) ?? []), c]);
  const edges = (s.edges ?? []).map(([from, to]) => ({ from, to, cls: "RDEPEND" as const, atom: `${to.category}/${to.package}` }));
  const reasons = new Map<Candidate, Reason[]>((s.requested ?? []).map((c) => [c, [{ kind: "requested", arg: c.cpv, atom: c.cpv, set: null }]]));
  const { entries, unmerges } = buildPlan({
    chosen: s.chosen,
    forced: new Set(s.forced),
    uninstalls: (s.uninstalls ?? []).map((u) => ({ pkg: u.pkg, atom: Atom.parse(u.atom), by: [u.by], after: [u.by] })),
    edges,
    reasons,
    universe,
  });
  return { ops: combined(entries, unmerges), edges, requested: new Set(s.requested) };
}

const merge = (g: TreeGraph, cpv: string) => g.ops.find((op): op is PlanEntry => op.op === "merge" && op.pkg.cpv === cpv)!;

describe("emerge --tree", () => {
  it("hangs an uninstall below the blocker it resolves, itself below the blocking package (the verified example)", () => {
    const added = pkg("app-misc/new-1.0");
    const old = pkg("app-misc/old-1.0", { installed: true });
    const g = plan({ chosen: [added], installed: [old], requested: [added], uninstalls: [{ pkg: old, atom: "!app-misc/old", by: added }] });
    const rows = treeRows(g, plain);
    expect(rows.map((r) => r.line)).toEqual([
      "[nomerge       ] app-misc/new-1.0 ",
      '[blocks b      ]  app-misc/old ("app-misc/old" is blocking app-misc/new-1.0)',
      "[uninstall     ]   app-misc/old-1.0 ",
      "[ebuild  N     ] app-misc/new-1.0 ",
    ]);
    expect(rows.map(({ kind, ref, cpv, depth }) => [kind, ref, cpv, depth])).toEqual([
      ["nomerge", null, "app-misc/new-1.0", 0],
      ["blocker", null, "!app-misc/old", 1],
      ["uninstall", 1, "app-misc/old-1.0", 2],
      ["merge", 0, "app-misc/new-1.0", 0],
    ]);
  });

  it("prints the installed parents of an entry as [nomerge] lines above it, climbing no further than a requested package", () => {
    const meta = pkg("app-misc/meta-1.0", { installed: true });
    const top = pkg("app-misc/top-1.0", { installed: true, iuse: ["foo", "bar"], enabled: ["foo"] });
    const mid = pkg("app-misc/mid-1.0", { installed: true, slot: "2" });
    const lib = pkg("app-misc/lib-2.0");
    const g = plan({ chosen: [meta, top, mid, lib], installed: [pkg("app-misc/lib-1.0", { installed: true })], requested: [top], edges: [[meta, top], [top, mid], [mid, lib]] });
    expect(treeRows(g, plain).map((r) => r.line)).toEqual([
      "[nomerge       ] app-misc/top-1.0 ",
      "[nomerge       ]  app-misc/mid-1.0 ",
      "[ebuild     U  ]   app-misc/lib-2.0 [1.0]",
    ]);
    // -v: slots and repositories, every flag of the installed package unchanged, the size of ordered lines only
    expect(treeRows(g, verbose, new Map([[merge(g, "app-misc/lib-2.0"), 1500]])).map((r) => r.line)).toEqual([
      '[nomerge       ] app-misc/top-1.0::test-kit  USE="foo -bar" ',
      "[nomerge       ]  app-misc/mid-1.0:2::test-kit ",
      "[ebuild     U  ]   app-misc/lib-2.0::test-kit [1.0::test-kit] 2 KiB",
    ]);
    expect(treeRows(g, quiet).map((r) => r.line)).toEqual(["[nomerge      ] app-misc/top-1.0 ", "[nomerge      ]  app-misc/mid-1.0 ", "[ebuild     U ]   app-misc/lib-2.0 [1.0]"]);
  });

  it("climbs to a parent that is not also a child of the entry when there is one", () => {
    const cyclic = pkg("app-misc/cyclic-1.0", { installed: true });
    const world = pkg("app-misc/world-1.0", { installed: true });
    const x = pkg("app-misc/x-1.0");
    const g = plan({ chosen: [cyclic, world, x], requested: [cyclic, world], edges: [[cyclic, x], [x, cyclic], [world, x]] });
    expect(treeRows(g, plain).map((r) => r.line)).toEqual(["[nomerge       ] app-misc/world-1.0 ", "[ebuild  N     ]  app-misc/x-1.0 "]);
  });

  it("prints a package to merge as a [nomerge] parent before its own line", () => {
    const app = pkg("app-misc/app-1.0");
    const mid = pkg("app-misc/mid-1.0", { installed: true });
    const lib = pkg("app-misc/lib-1.0");
    const tool = pkg("app-misc/tool-1.0");
    const g = plan({ chosen: [lib, app, tool, mid], requested: [app, tool], edges: [[app, mid], [mid, lib], [tool, app]] });
    expect(g.ops.map((op) => op.pkg.cpv)).toEqual(["app-misc/app-1.0", "app-misc/lib-1.0", "app-misc/tool-1.0"]);
    expect(treeRows(g, plain).map(({ kind, ref, line }) => [kind, ref, line])).toEqual([
      ["merge", 2, "[ebuild  N     ] app-misc/tool-1.0 "],
      ["nomerge", null, "[nomerge       ] app-misc/app-1.0 "],
      ["nomerge", null, "[nomerge       ]  app-misc/mid-1.0 "],
      ["merge", 1, "[ebuild  N     ]   app-misc/lib-1.0 "],
      ["merge", 0, "[ebuild  N     ] app-misc/app-1.0 "],
    ]);
  });

  it("drops a context line repeating, at depth 0, the line above it", () => {
    const app = pkg("app-misc/app-1.0");
    const mid = pkg("app-misc/mid-1.0", { installed: true });
    const lib = pkg("app-misc/lib-1.0");
    // merge order lib, app: app is printed first, then lib's chain starts again with app
    const g = plan({ chosen: [lib, app, mid], requested: [app], edges: [[app, mid], [mid, lib]] });
    expect(g.ops.map((op) => op.pkg.cpv)).toEqual(["app-misc/lib-1.0", "app-misc/app-1.0"]);
    expect(treeRows(g, plain).map(({ kind, depth, line }) => [kind, depth, line])).toEqual([
      ["merge", 0, "[ebuild  N     ] app-misc/app-1.0 "],
      ["nomerge", 1, "[nomerge       ]  app-misc/mid-1.0 "],
      ["merge", 2, "[ebuild  N     ]   app-misc/lib-1.0 "],
    ]);
  });

  it("with --unordered-display walks the graph depth-first from the arguments, each package once, nothing pruned", () => {
    const app = pkg("app-misc/app-1.0");
    const mid = pkg("app-misc/mid-1.0", { installed: true });
    const lib = pkg("app-misc/lib-1.0");
    const zlib = pkg("sys-libs/zlib-1.3", { installed: true });
    const g = plan({ chosen: [app, mid, lib, zlib], requested: [app], edges: [[app, mid], [mid, lib], [app, lib], [app, zlib]] });
    expect(g.ops.map((op) => op.pkg.cpv)).toEqual(["app-misc/lib-1.0", "app-misc/app-1.0"]);
    expect(treeRows(g, plain, undefined, true).map(({ ref, line }) => [ref, line])).toEqual([
      [1, "[ebuild  N     ] app-misc/app-1.0 "],
      [null, "[nomerge       ]  app-misc/mid-1.0 "],
      [0, "[ebuild  N     ]   app-misc/lib-1.0 "],
      [null, "[nomerge       ]  sys-libs/zlib-1.3 "],
    ]);
    // the ordered tree of the same graph: lib is a child of app, no context needed
    expect(treeRows(g, plain).map((r) => r.line)).toEqual(["[ebuild  N     ] app-misc/app-1.0 ", "[ebuild  N     ]  app-misc/lib-1.0 "]);
  });

  it("with --unordered-display puts a blocker below its carrier and the uninstall below the blocker", () => {
    const added = pkg("app-misc/new-1.0");
    const old = pkg("app-misc/old-1.0", { installed: true });
    const g = plan({ chosen: [added], installed: [old], requested: [added], uninstalls: [{ pkg: old, atom: "!!app-misc/old", by: added }] });
    expect(treeRows(g, plain, undefined, true).map((r) => r.line)).toEqual([
      "[ebuild  N     ] app-misc/new-1.0 ",
      '[blocks b      ]  app-misc/old ("app-misc/old" is hard blocking app-misc/new-1.0)',
      "[uninstall     ]   app-misc/old-1.0 ",
    ]);
  });
});

describe("emerge --columns", () => {
  const upgrade = () => {
    const g = plan({ chosen: [pkg("app-misc/lib-2.0", { slot: "2", iuse: ["ssl"], enabled: ["ssl"] })], installed: [pkg("app-misc/lib-1.0", { installed: true, slot: "2", iuse: ["ssl"], enabled: ["ssl"] })] });
    return merge(g, "app-misc/lib-2.0");
  };

  it("starts the version bracket at column 72 and OLD at column 101 with COLUMNWIDTH 130", () => {
    const line = columnsLine(upgrade(), plain);
    expect(line).toBe(`[ebuild     U  ] app-misc/lib${" ".repeat(41)} [2.0] ${" ".repeat(23)}[1.0]`);
    expect(line.indexOf("[2.0]") + 1).toBe(72);
    expect(line.indexOf("[1.0]") + 1).toBe(101);
  });

  it("pads a line with nothing old to column 100 and shows VERSION without -r0", () => {
    const g = plan({ chosen: [pkg("app-misc/foo-1.0-r0")] });
    expect(columnsLine(merge(g, "app-misc/foo-1.0-r0"), plain)).toBe(`[ebuild  N     ] app-misc/foo${" ".repeat(41)} [1.0] ${" ".repeat(23)}`);
  });

  it("with -v adds the slot part and repository to VERSION and OLD, then the USE groups and the size", () => {
    expect(columnsLine(upgrade(), verbose, 2048)).toBe(`[ebuild     U  ] app-misc/lib${" ".repeat(41)} [2.0:2::test-kit] ${" ".repeat(11)}[1.0:2::test-kit] USE="ssl" 2 KiB`);
    // a narrower COLUMNWIDTH pads only where there is room
    expect(columnsLine(upgrade(), verbose, 0, 80)).toBe('[ebuild     U  ] app-misc/lib [2.0:2::test-kit]   [1.0:2::test-kit] USE="ssl" 0 KiB');
  });

  it("with -q writes ATTRS CP VERSION OLD, no brackets, no padding, no flags", () => {
    const consumer = pkg("app-misc/consumer-1.0", { iuse: ["ssl"], enabled: ["ssl"] });
    const g = plan({ chosen: [consumer], installed: [pkg("app-misc/consumer-1.0", { installed: true, iuse: ["ssl"], enabled: ["ssl"] })], forced: [consumer] });
    const e = merge(g, "app-misc/consumer-1.0");
    expect(columnsLine(e, quiet)).toBe(" rR    app-misc/consumer 1.0 ");
    expect(columnsLine(e, { ...quiet, quietVerbose: true })).toBe(" rR    app-misc/consumer 1.0 ");
    expect(columnsLine(e, { ...quiet, root: "/mnt/stage" })).toBe(" rR    app-misc/consumer 1.0 to /mnt/stage/");
    expect(columnsLine(upgrade(), quiet)).toBe("    U  app-misc/lib 2.0 [1.0]");
  });

  it("ends OLD with a space before the ROOT it installs to", () => {
    expect(columnsLine(upgrade(), { ...plain, root: "/mnt/stage" })).toBe(`[ebuild     U  ] app-misc/lib${" ".repeat(41)} [2.0] ${" ".repeat(23)}[1.0] to /mnt/stage/`);
  });
});
