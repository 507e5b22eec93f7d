// What `--depclean`, `--prune` and `--unmerge` would remove, and why the rest stays (emerge spec
// §10): the graph of what is needed is built from installed packages only, from @world, @system
// and the packages not asked about; a package outside it can go, one inside it stays with the names
// of those that need it.
import { type Atom } from "../pms/atom.js";
import { type DepNode, parseDependencies, reduce } from "../pms/depspec.js";
import { eapiFeatures } from "../pms/eapi.js";
import { compareVersions } from "../pms/version.js";
import type { Candidate, DepClass } from "./Candidate.js";
import { refOf } from "./explain.js";

export type RemovalAction = "depclean" | "prune" | "unmerge" | "clean";

export interface RemovalInput {
  readonly action: RemovalAction;
  readonly installed: readonly Candidate[];
  /** @selected's atoms. */
  readonly world: readonly Atom[];
  readonly system: readonly Atom[];
  readonly profile?: readonly Atom[];
  /** --exclude: matching installed packages are required. */
  readonly exclude?: readonly Atom[];
  /** --with-bdeps (default y for removal actions): build-time dependencies keep what they name. */
  readonly withBdeps?: boolean;
  /** The arguments; none for the whole system. */
  readonly atoms?: readonly { readonly arg: string; readonly atom: Atom }[];
  /** --clean: when each installed package was installed (its COUNTER); the latest of a slot stays. */
  readonly counterOf?: (c: Candidate) => number;
}

/** An edge of the graph: `by` needs the package through `atom` of `cls`. */
export interface Need {
  readonly by: Candidate;
  readonly cls: DepClass;
  readonly atom: string;
}

/** Why a package is in the graph: a set it belongs to, or the packages that need it. */
export type KeptBy = { readonly set: "world" | "system" | "profile" | "exclude" | "argument-other" | "highest"; readonly atom?: string } | Need;

export interface DisplayBlock {
  readonly cp: string;
  readonly selected: readonly string[];
  readonly protected: readonly string[];
  readonly omitted: readonly string[];
}

export interface RemovalPlan {
  readonly action: RemovalAction;
  /** What would be removed, in removal order (a package before what it depends on). */
  readonly remove: readonly Candidate[];
  /** For prune: the version each removed one leaves in place. */
  readonly keptFor: ReadonlyMap<Candidate, Candidate>;
  /** The packages of the graph, with why each is there. */
  readonly required: ReadonlyMap<Candidate, readonly KeptBy[]>;
  /** Packages the arguments name that stay because something needs them (the refusals). */
  readonly refused: readonly { readonly pkg: Candidate; readonly neededBy: readonly Need[] }[];
  /** Runtime dependencies of the graph that nothing installed satisfies: depclean and prune stop. */
  readonly unresolved: readonly Need[];
  /** Arguments that match nothing installed. */
  readonly nomatch: readonly string[];
  readonly display: readonly DisplayBlock[];
  /** For -C: who still needs each package removed (a warning, not a refusal). */
  readonly neededBy: ReadonlyMap<Candidate, readonly Need[]>;
  readonly counts: { readonly installed: number; readonly world: number; readonly system: number; readonly profile: number; readonly required: number; readonly remove: number };
}

const RUNTIME: readonly DepClass[] = ["RDEPEND", "IDEPEND", "PDEPEND"];
const BUILDTIME: readonly DepClass[] = ["DEPEND", "BDEPEND"];
const cpOf = (c: Candidate) => `${c.category}/${c.package}`;
const byVersionDesc = (a: Candidate, b: Candidate) => compareVersions(b.version, a.version);

/** The installed packages' dependency graph: who needs whom, and what is not satisfied. */
export class InstalledGraph {
  private readonly byCp = new Map<string, Candidate[]>();
  private readonly parsed = new Map<Candidate, Map<DepClass, DepNode<Atom>[]>>();

  constructor(readonly installed: readonly Candidate[]) {
    for (const c of installed) this.byCp.set(cpOf(c), [...(this.byCp.get(cpOf(c)) ?? []), c]);
    for (const list of this.byCp.values()) list.sort(byVersionDesc);
  }

  /** The installed packages an atom matches, highest first (with the parent's USE for conditional USE deps). */
  matching(a: Atom, parent?: Candidate): Candidate[] {
    if (a.extended) return this.installed.filter((c) => a.matches(refOf(c), parent?.use)).sort(byVersionDesc);
    return (this.byCp.get(a.cp) ?? []).filter((c) => a.matches(refOf(c), parent?.use));
  }

  /** A package's dependencies of a class, reduced with the USE it was built with (unreadable ones: none). */
  deps(c: Candidate, cls: DepClass): DepNode<Atom>[] {
    let m = this.parsed.get(c);
    if (!m) this.parsed.set(c, (m = new Map()));
    let d = m.get(cls);
    if (!d) {
      try {
        d = c.deps[cls]?.trim() ? reduce(parseDependencies(c.deps[cls], eapiFeatures(c.eapi) ?? eapiFeatures("8")!), c.use) : [];
      } catch {
        d = [];
      }
      m.set(cls, d);
    }
    return d;
  }

  /**
   * What a package's dependencies keep installed: for each atom its highest installed match, for an
   * `||` group the leftmost alternative installed packages satisfy (emerge spec §10.1); what
   * nothing installed satisfies is returned apart. Blockers are not dependencies.
   */
  needs(c: Candidate, classes: readonly DepClass[]): { edges: { to: Candidate; need: Need }[]; missing: Need[] } {
    const edges: { to: Candidate; need: Need }[] = [];
    const missing: Need[] = [];
    const satisfied = (n: DepNode<Atom>): boolean => (n.kind === "leaf" ? !!n.value.blocker || this.matching(n.value, c).length > 0 : n.kind === "all" ? n.children.every(satisfied) : n.children.some(satisfied));
    const walk = (n: DepNode<Atom>, cls: DepClass) => {
      if (n.kind === "leaf") {
        if (n.value.blocker) return;
        const m = this.matching(n.value, c);
        const need = { by: c, cls, atom: n.value.toString() };
        if (m.length) edges.push({ to: m[0]!, need });
        else missing.push(need);
        return;
      }
      if (n.kind === "all" || n.kind === "use") {
        n.children.forEach((x) => walk(x, cls));
        return;
      }
      const alt = n.children.find(satisfied);
      if (alt) walk(alt, cls);
      else missing.push({ by: c, cls, atom: `|| ( ${n.children.map((x) => (x.kind === "leaf" ? x.value.toString() : "…")).join(" ")} )` });
    };
    for (const cls of classes) for (const n of this.deps(c, cls)) walk(n, cls);
    return { edges, missing };
  }

  /** Every installed package's edges into `c` (reverse dependencies), of the classes given. */
  neededBy(c: Candidate, classes: readonly DepClass[] = [...RUNTIME, ...BUILDTIME]): Need[] {
    const out: Need[] = [];
    for (const p of this.installed) {
      if (p === c) continue;
      for (const e of this.needs(p, classes).edges) if (e.to === c) out.push(e.need);
    }
    return out;
  }
}

/** The graph of what stays, from its roots: each root and each package it needs, with why. */
function closure(g: InstalledGraph, roots: Map<Candidate, KeptBy[]>, withBdeps: boolean, ignore: ReadonlySet<Candidate>): { required: Map<Candidate, KeptBy[]>; unresolved: Need[] } {
  const required = new Map<Candidate, KeptBy[]>();
  const unresolved: Need[] = [];
  const stack: Candidate[] = [];
  const add = (c: Candidate, why: KeptBy) => {
    const r = required.get(c);
    if (r) r.push(why);
    else {
      required.set(c, [why]);
      stack.push(c);
    }
  };
  for (const [c, whys] of roots) for (const w of whys) add(c, w);
  while (stack.length) {
    const c = stack.pop()!;
    const run = g.needs(c, RUNTIME);
    unresolved.push(...run.missing);
    for (const e of run.edges) if (!ignore.has(e.to)) add(e.to, e.need);
    // build-time dependencies keep what they name; what they lack is no reason to stop
    if (withBdeps) for (const e of g.needs(c, BUILDTIME).edges) if (!ignore.has(e.to)) add(e.to, e.need);
  }
  return { required, unresolved };
}

/**
 * The order packages are removed in (emerge spec §10.1): a package before those it depends on; each
 * round takes what no remaining one depends on, cp and version descending; a cycle gives one.
 */
function removalOrder(g: InstalledGraph, remove: readonly Candidate[]): { order: Candidate[]; linked: boolean } {
  const set = new Set(remove);
  const deps = new Map<Candidate, Set<Candidate>>();
  let linked = false;
  for (const c of remove) {
    const to = new Set(g.needs(c, [...RUNTIME, ...BUILDTIME]).edges.map((e) => e.to).filter((x) => set.has(x) && x !== c));
    if (to.size) linked = true;
    deps.set(c, to);
  }
  const desc = (a: Candidate, b: Candidate) => (cpOf(a) < cpOf(b) ? 1 : cpOf(a) > cpOf(b) ? -1 : byVersionDesc(a, b));
  const order: Candidate[] = [];
  const left = new Set(remove);
  while (left.size) {
    const dependedOn = new Set<Candidate>();
    for (const c of left) for (const d of deps.get(c)!) if (left.has(d)) dependedOn.add(d);
    let round = [...left].filter((c) => !dependedOn.has(c)).sort(desc);
    if (!round.length) round = [[...left].sort(desc)[0]!];
    for (const c of round) {
      order.push(c);
      left.delete(c);
    }
  }
  return { order, linked };
}

/** The unmerge display's blocks (emerge spec §10.4). */
function displayOf(installed: readonly Candidate[], remove: readonly Candidate[], kept: readonly Candidate[], perPackage: boolean): DisplayBlock[] {
  const versions = (cs: readonly Candidate[]) => [...cs].sort((a, b) => compareVersions(a.version, b.version)).map((c) => c.version.text);
  const involved = new Set([...remove, ...kept]);
  const block = (cp: string, selected: readonly Candidate[]): DisplayBlock => {
    const all = installed.filter((c) => cpOf(c) === cp);
    return { cp, selected: versions(selected), protected: versions(kept.filter((c) => cpOf(c) === cp)), omitted: versions(all.filter((c) => !involved.has(c))) };
  };
  if (perPackage) return remove.map((c) => block(cpOf(c), [c]));
  const cps = [...new Set([...remove, ...kept].map(cpOf))].sort();
  return cps.map((cp) => block(cp, remove.filter((c) => cpOf(c) === cp)));
}

/** The plan of a removal action (pretend: nothing is removed here). */
export function removalPlan(input: RemovalInput): RemovalPlan {
  const g = new InstalledGraph(input.installed);
  const withBdeps = input.withBdeps !== false;
  const inAny = (c: Candidate, atoms: readonly Atom[]) => atoms.some((a) => a.matchesIgnoringUse(refOf(c)));
  const counts0 = {
    installed: input.installed.length,
    world: input.world.length,
    system: input.installed.filter((c) => inAny(c, input.system)).length,
    profile: input.installed.filter((c) => inAny(c, input.profile ?? [])).length,
  };
  const nomatch: string[] = [];
  const args = input.atoms ?? [];
  const named = new Set<Candidate>();
  for (const { arg, atom } of args) {
    const m = g.matching(atom.unblocked());
    if (!m.length) nomatch.push(arg);
    for (const c of m) named.add(c);
  }
  const empty = (extra: Partial<RemovalPlan> = {}): RemovalPlan => ({ action: input.action, remove: [], keptFor: new Map(), required: new Map(), refused: [], unresolved: [], nomatch, display: [], neededBy: new Map(), counts: { ...counts0, required: 0, remove: 0 }, ...extra });

  if (input.action === "unmerge") {
    // no dependency checks: what the arguments name goes; who still needs it is said
    const remove = [...named];
    const { order } = removalOrder(g, remove);
    const neededBy = new Map(order.map((c) => [c, g.neededBy(c, RUNTIME).filter((n) => !named.has(n.by))] as const));
    return empty({ remove: order, display: displayOf(input.installed, order, [], false), neededBy, counts: { ...counts0, required: 0, remove: order.length } });
  }
  if (input.action === "clean") {
    // per slot of each cp named (without arguments: every installed one), only the most recently
    // installed stays; no dependency checks
    const counter = input.counterOf ?? (() => 0);
    const pool = args.length ? named : new Set(input.installed);
    const cps = new Set([...pool].map(cpOf));
    const slotOf = (c: Candidate) => `${cpOf(c)}:${c.slot}`;
    // the installed instances of those packages by slot, gathered once
    const groups = new Map<string, Candidate[]>();
    for (const c of input.installed) if (cps.has(cpOf(c))) groups.set(slotOf(c), [...(groups.get(slotOf(c)) ?? []), c]);
    const latest = new Map([...groups].map(([key, group]) => [key, group.reduce((a, b) => (counter(b) > counter(a) ? b : a))] as const));
    const remove = [...pool].filter((c) => latest.get(slotOf(c)) !== c);
    const kept = [...latest.values()];
    const { order } = removalOrder(g, remove);
    const keptFor = new Map(order.map((c) => [c, latest.get(slotOf(c))!] as const));
    return empty({ remove: order, keptFor, display: displayOf(input.installed, order, kept.filter((k) => order.some((c) => cpOf(c) === cpOf(k))), false), counts: { ...counts0, required: 0, remove: order.length } });
  }
  if (args.length && !named.size) return empty();

  // the roots of what stays
  const roots = new Map<Candidate, KeptBy[]>();
  const root = (c: Candidate, why: KeptBy) => roots.set(c, [...(roots.get(c) ?? []), why]);
  const candidates = new Set<Candidate>();
  const keptFor = new Map<Candidate, Candidate>();
  if (input.action === "depclean") {
    if (args.length) {
      // with arguments: only they may go; everything else stays (world atoms are not counted, --deselect)
      for (const c of input.installed) if (!named.has(c)) root(c, { set: "argument-other" });
      for (const c of named) candidates.add(c);
    } else {
      for (const c of input.installed) candidates.add(c);
      for (const [set, atoms] of [["world", input.world], ["system", input.system], ["profile", input.profile ?? []]] as const) {
        for (const a of atoms) {
          const m = g.matching(a);
          if (m.length) root(m[0]!, { set, atom: a.toString() });
        }
      }
    }
  } else {
    // prune: every version but the highest of each package named (or each package with several)
    const byCp = new Map<string, Candidate[]>();
    for (const c of input.installed) byCp.set(cpOf(c), [...(byCp.get(cpOf(c)) ?? []), c]);
    for (const [, list] of byCp) {
      const sorted = [...list].sort(byVersionDesc);
      const best = sorted[0]!;
      root(best, { set: "highest" });
      const pruned = sorted.slice(1).filter((c) => !args.length || named.has(c));
      for (const c of pruned) {
        candidates.add(c);
        keptFor.set(c, best);
      }
      if (args.length) for (const c of sorted.slice(1)) if (!named.has(c)) root(c, { set: "argument-other" });
    }
  }
  for (const c of input.installed) if (inAny(c, input.exclude ?? [])) root(c, { set: "exclude" });
  const { required, unresolved } = closure(g, roots, withBdeps, new Set());
  // with arguments, unresolved dependencies elsewhere are tolerated (emerge spec §10.1)
  const blocking = args.length ? [] : unresolved;
  if (blocking.length) return empty({ required, unresolved: blocking, counts: { ...counts0, required: required.size, remove: 0 } });
  const remove = [...candidates].filter((c) => !required.has(c));
  const refused = [...candidates].filter((c) => required.has(c) && (args.length ? named.has(c) : false)).map((c) => ({ pkg: c, neededBy: (required.get(c) ?? []).filter((w): w is Need => "by" in w) }));
  const { order, linked } = removalOrder(g, remove);
  return {
    action: input.action,
    remove: order,
    keptFor,
    required,
    refused,
    unresolved: [],
    nomatch,
    display: displayOf(input.installed, order, refused.map((r) => r.pkg), linked),
    neededBy: new Map(),
    counts: { ...counts0, required: required.size, remove: order.length },
  };
}
