import { compareVersions } from "../pms/version.js";
import type { Candidate, DepClass } from "./Candidate.js";
import type { Edge, Reason, Selection } from "./resolve.js";

export type MergeStatus = "new" | "new-slot" | "upgrade" | "downgrade" | "reinstall";

/** An installed package a weak blocker uninstalls, right after the merge of its blocker (emerge spec §7.4). */
export interface UnmergeEntry {
  readonly index: number;
  readonly op: "unmerge";
  readonly pkg: Candidate;
  /** The blocker atom (with its `!`) and the packages carrying it. */
  readonly atom: string;
  readonly by: readonly Candidate[];
  /** The root it is uninstalled from (absent: the target ROOT); `host`: the build host's. */
  readonly root?: string;
  readonly host?: boolean;
}

/** One operation of the plan, in merge order (emerge spec §13.2). */
export interface PlanEntry {
  readonly index: number;
  readonly op: "merge";
  readonly pkg: Candidate;
  readonly status: MergeStatus;
  /** emerge's `r`: a rebuild the resolver forced (a slot-operator binding that an update breaks). */
  readonly forced: boolean;
  /** The installed package of the same slot that this merge replaces. */
  readonly replaces: Candidate | undefined;
  /** The installed versions emerge shows in brackets (§8.3). */
  readonly shownOld: readonly Candidate[];
  /** The package USE is compared with for the display (§8.4): same cpv, same slot, else highest installed. */
  readonly previous: Candidate | undefined;
  /** emerge's seven attribute columns (§8.2). */
  readonly attrs: string;
  readonly reasons: readonly Reason[];
  readonly deps: readonly { readonly index: number; readonly class: DepClass | "blocker"; readonly atom: string; readonly edge: "buildtime" | "runtime" | "runtime_post" | "blocker" }[];
  /**
   * The root it is merged into (absent: the target ROOT). With ROOT ≠ the build host's root, the
   * build-time dependencies are merged into the host's (`host`, emerge spec §1.10).
   */
  readonly root?: string;
  readonly host?: boolean;
  /**
   * The binary package the run installs it from instead of building (--usepkg): set by the
   * caller, which knows PKGDIR; the line then says `binary`.
   */
  readonly binary?: string;
}

const EDGE: Record<DepClass | "blocker", "buildtime" | "runtime" | "runtime_post" | "blocker"> = { DEPEND: "buildtime", BDEPEND: "buildtime", RDEPEND: "runtime", IDEPEND: "runtime", PDEPEND: "runtime_post", blocker: "blocker" };

function statusOf(c: Candidate, installed: readonly Candidate[]): { status: MergeStatus; replaces: Candidate | undefined; shownOld: Candidate[]; previous: Candidate | undefined } {
  const sameSlot = installed.filter((i) => i.slot === c.slot);
  const sameCpv = installed.find((i) => i.cpv === c.cpv);
  const byVersion = [...installed].sort((a, b) => compareVersions(b.version, a.version));
  const previous = sameCpv ?? sameSlot[0] ?? byVersion[0];
  if (sameSlot.length) {
    const best = [...sameSlot].sort((a, b) => compareVersions(b.version, a.version))[0]!;
    const cmp = compareVersions(c.version, best.version);
    if (sameCpv) {
      const show = sameCpv.slot !== c.slot || sameCpv.subslot !== c.subslot || sameCpv.repo !== c.repo ? [sameCpv] : [];
      return { status: "reinstall", replaces: sameCpv, shownOld: show, previous };
    }
    return { status: cmp < 0 ? "downgrade" : "upgrade", replaces: best, shownOld: sameSlot, previous };
  }
  if (installed.length) return { status: "new-slot", replaces: undefined, shownOld: byVersion, previous };
  return { status: "new", replaces: undefined, shownOld: [], previous: undefined };
}

/** emerge's attribute columns 9–15: interactive, N/r, R/S, fetch, U, D, mask marker. */
function attrsOf(c: Candidate, status: MergeStatus, forced: boolean): string {
  const interactive = /(^| )interactive( |$)/.test(c.properties) ? "I" : " ";
  const n = status === "new" || status === "new-slot" ? "N" : forced ? "r" : " ";
  const rs = status === "reinstall" ? "R" : status === "new-slot" ? "S" : " ";
  const u = status === "upgrade" || status === "downgrade" ? "U" : " ";
  const d = status === "downgrade" ? "D" : " ";
  return `${interactive}${n}${rs} ${u}${d}${c.maskMarker || " "}`;
}

/** An edge no cycle may drop: build-time dependencies, and a strong blocker's replacement first. */
const hard = (e: Edge) => EDGE[e.cls] === "buildtime" || EDGE[e.cls] === "blocker";

/**
 * The plan: the chosen packages to merge, in merge order (emerge spec §7.3, simplified): nodes
 * with more parents first, then repeatedly every leaf at once; when none, the first node that is
 * a leaf once PDEPEND and runtime edges are ignored (a runtime cycle broken); a cycle of
 * build-time edges alone is reported.
 */
export interface OrderOptions {
  /** -O: the arguments in command-line order, nothing else (emerge spec §7.5). */
  readonly nodeps?: boolean;
  /** --tree: one leaf at a time, never every leaf at once (§7.3 4b, §7.5). */
  readonly tree?: boolean;
  /** The root the entries are merged into, and whether it is the build host's (stamped on each entry). */
  readonly root?: string;
  readonly host?: boolean;
}

export function buildPlan(sel: Selection, how: OrderOptions = {}): { entries: PlanEntry[]; unmerges: UnmergeEntry[]; cycle: string[] | undefined } {
  const merges = sel.chosen.filter((c) => c.source === "ebuild" && !sel.nomerge?.has(c));
  const isMerge = new Set(merges);
  const edges = sel.edges.filter((e) => e.from !== e.to && isMerge.has(e.from) && isMerge.has(e.to));
  const parents = new Map<Candidate, number>();
  const childrenOf = new Map<Candidate, Edge[]>();
  for (const e of edges) {
    parents.set(e.to, (parents.get(e.to) ?? 0) + 1);
    const out = childrenOf.get(e.from);
    if (out) out.push(e);
    else childrenOf.set(e.from, [e]);
  }
  // emerge's bias (§7.3 step 2): the runtime closure of @system first, then nodes with more
  // parents; insertion order among equals
  const system = new Set(merges.filter((c) => (sel.reasons.get(c) ?? []).some((r) => r.kind === "requested" && r.set === "system")));
  for (const queue = [...system]; queue.length; ) {
    const c = queue.pop()!;
    for (const e of childrenOf.get(c) ?? []) if (!hard(e) && !system.has(e.to)) system.add(e.to), queue.push(e.to);
  }
  let pending = how.nodeps
    ? merges
    : merges
        .map((c, i) => ({ c, i }))
        .sort((a, b) => Number(system.has(b.c)) - Number(system.has(a.c)) || (parents.get(b.c) ?? 0) - (parents.get(a.c) ?? 0) || a.i - b.i)
        .map((x) => x.c);
  // remaining children of each node, all edges and build-time edges only; updated as nodes go
  const left = new Map<Candidate, number>();
  const buildLeft = new Map<Candidate, number>();
  const parentsOf = new Map<Candidate, Edge[]>();
  for (const e of edges) {
    left.set(e.from, (left.get(e.from) ?? 0) + 1);
    if (hard(e)) buildLeft.set(e.from, (buildLeft.get(e.from) ?? 0) + 1);
    const into = parentsOf.get(e.to);
    if (into) into.push(e);
    else parentsOf.set(e.to, [e]);
  }
  const ordered: Candidate[] = [];
  let cycle: string[] | undefined;
  while (pending.length) {
    let take = pending.filter((c) => !left.get(c));
    // --tree: the first leaf that still has a parent (a root would make no new leaf), else the first
    if (how.tree && take.length > 1) take = [take.find((c) => parentsOf.get(c)?.some((e) => pending.includes(e.from))) ?? take[0]!];
    if (!take.length) {
      // a runtime cycle: the first node whose build-time dependencies are all merged goes first
      const leaf = pending.find((c) => !buildLeft.get(c));
      if (leaf) take = [leaf];
      else {
        cycle ??= pending.map((c) => c.cpv);
        take = [pending[0]!];
      }
    }
    for (const c of take) {
      ordered.push(c);
      for (const e of parentsOf.get(c) ?? []) {
        left.set(e.from, left.get(e.from)! - 1);
        if (hard(e)) buildLeft.set(e.from, buildLeft.get(e.from)! - 1);
      }
    }
    const taken = new Set(take);
    pending = pending.filter((c) => !taken.has(c));
  }
  const index = new Map(ordered.map((c, i) => [c, i]));
  const entries = ordered.map((c, i): PlanEntry => {
    const installed = (sel.universe.get(`${c.category}/${c.package}`) ?? []).filter((x) => x.source === "installed");
    const s = statusOf(c, installed);
    return {
      index: i,
      op: "merge",
      pkg: c,
      ...s,
      forced: sel.forced.has(c),
      attrs: attrsOf(c, s.status, sel.forced.has(c)),
      reasons: sel.reasons.get(c) ?? [],
      deps: (childrenOf.get(c) ?? []).map((e) => ({ index: index.get(e.to)!, class: e.cls, atom: e.atom, edge: EDGE[e.cls] })),
      ...(how.root !== undefined ? { root: how.root } : {}),
      ...(how.host ? { host: true } : {}),
    };
  });
  // each uninstall goes right after the merge of the first package that blocks it; the merges
  // keep their indexes in `entries`, uninstalls are numbered in the combined order
  const unmerges: UnmergeEntry[] = sel.uninstalls.map((u) => {
    const after = Math.max(-1, ...u.after.map((b) => index.get(b) ?? -1));
    return { index: after, op: "unmerge", pkg: u.pkg, atom: u.atom.toString(), by: [...u.by].sort((a, b) => (a.cpv < b.cpv ? -1 : 1)), ...(how.root !== undefined ? { root: how.root } : {}), ...(how.host ? { host: true } : {}) };
  });
  return { entries, unmerges, cycle };
}

/**
 * One plan of two roots (emerge spec §1.10): the build host's merges first (nothing of the host
 * needs ROOT), then ROOT's, each ROOT package waiting for the host packages its build-time
 * dependencies chose (`hostEdges`: the host selection's edges from ROOT's packages).
 */
export function joinPlans(
  host: { entries: PlanEntry[]; unmerges: UnmergeEntry[]; cycle: string[] | undefined },
  target: { entries: PlanEntry[]; unmerges: UnmergeEntry[]; cycle: string[] | undefined },
  hostEdges: readonly Edge[],
): { entries: PlanEntry[]; unmerges: UnmergeEntry[]; cycle: string[] | undefined } {
  const shift = host.entries.length;
  const hostIndex = new Map(host.entries.map((e) => [e.pkg, e.index]));
  const entries = [
    ...host.entries,
    ...target.entries.map((e) => {
      const cross = hostEdges.filter((x) => x.from === e.pkg && hostIndex.has(x.to)).map((x) => ({ index: hostIndex.get(x.to)!, class: x.cls, atom: x.atom, edge: EDGE[x.cls] }));
      return { ...e, index: e.index + shift, deps: [...cross, ...e.deps.map((d) => ({ ...d, index: d.index + shift }))] };
    }),
  ];
  const unmerges = [...host.unmerges, ...target.unmerges.map((u) => ({ ...u, index: u.index < 0 ? u.index : u.index + shift }))];
  return { entries, unmerges, cycle: host.cycle ?? target.cycle };
}

/** Merges and uninstalls in one sequence, numbered: an uninstall follows the merge it is placed after. */
export function combined(entries: readonly PlanEntry[], unmerges: readonly UnmergeEntry[]): (PlanEntry | UnmergeEntry)[] {
  const out: (PlanEntry | UnmergeEntry)[] = [];
  const after = (i: number) => unmerges.filter((u) => u.index === i);
  for (const u of after(-1)) out.push(u);
  for (const e of entries) {
    out.push(e);
    for (const u of after(e.index)) out.push(u);
  }
  // the dependencies' indexes follow the merges to their places in the combined sequence
  const at = new Map<number, number>();
  out.forEach((x, i) => x.op === "merge" && at.set(x.index, i));
  return out.map((x, i) => (x.op === "merge" ? { ...x, index: i, deps: x.deps.map((d) => ({ ...d, index: at.get(d.index) ?? d.index })) } : { ...x, index: i }));
}

export interface Totals {
  readonly packages: number;
  readonly uninstalls: number;
  readonly upgrades: number;
  readonly downgrades: number;
  readonly new: number;
  readonly newSlots: number;
  readonly reinstalls: number;
  /** Merges from binary packages (counted besides their status). */
  readonly binaries: number;
  readonly interactive: number;
}

export function totalsOf(entries: readonly PlanEntry[], unmerges: readonly UnmergeEntry[] = []): Totals {
  const count = (s: MergeStatus) => entries.filter((e) => e.status === s).length;
  return {
    packages: entries.length,
    uninstalls: unmerges.length,
    upgrades: count("upgrade"),
    downgrades: count("downgrade"),
    new: count("new"),
    newSlots: count("new-slot"),
    reinstalls: count("reinstall"),
    binaries: entries.filter((e) => e.binary !== undefined).length,
    interactive: entries.filter((e) => e.attrs[0] === "I").length,
  };
}
