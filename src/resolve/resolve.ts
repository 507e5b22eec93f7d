import type { Operand } from "logic-solver";
import { OuzoError } from "../core/errors.js";
import { Atom } from "../pms/atom.js";
import { type DepNode, parseDependencies, reduce } from "../pms/depspec.js";
import { eapiFeatures } from "../pms/eapi.js";
import { compareVersions } from "../pms/version.js";
import type { Candidate, CandidateSource, DepClass } from "./Candidate.js";
import { Chosen } from "./Chosen.js";
import { conflictSummary, type Constraint, derive, type Explanation, type FailureCode, minimalConflict, type ProblemView } from "./explain.js";

type LogicApi = (typeof import("logic-solver"))["default"];
/** logic-solver (MiniSat compiled to JavaScript, ~1 MB of code): loaded only when a request needs the solver. */
let Logic: LogicApi;

/** What shapes the plan (emerge's selection options). */
export interface ResolveOptions {
  /** -u: the best version of what is reached (with -D, of every dependency too). */
  readonly update?: boolean;
  /** -D: follow the dependencies of installed packages too. */
  readonly deep?: boolean;
  /** -N: rebuild an installed package whose USE or IUSE changed. */
  readonly newuse?: boolean;
  /** -n: a requested package that is installed is not merged again. */
  readonly noreplace?: boolean;
  /** -e: merge everything reached again, installed or not. */
  readonly emptytree?: boolean;
  /** -U: rebuild an installed package whose enabled flags changed (not for IUSE changes alone). */
  readonly changedUse?: boolean;
  /** --changed-deps: reinstall an installed package whose recorded dependencies differ from its ebuild's. */
  readonly changedDeps?: boolean;
  /** --exclude: never merge a matching ebuild; an installed match stays and satisfies dependencies. */
  readonly exclude?: readonly Atom[];
  /**
   * --with-bdeps (default y): with -D, the build-time dependencies of installed packages are
   * followed too, as optional edges: satisfied when they can be, dropped silently when not
   * (emerge spec §5.2).
   */
  readonly withBdeps?: boolean;
  /**
   * The world file's atoms (@selected): an installed package that matches one is not uninstalled
   * to settle a weak blocker (emerge spec §5.8); the blocker stays unresolved instead.
   */
  readonly selected?: readonly Atom[];
  /** --selective: true as -n; false undoes the selectivity -u, -N, -U… imply (emerge spec §1.8). */
  readonly selective?: boolean;
  /** -D N: how deep updates reach (0: -D off; undefined with `deep`: unlimited). */
  readonly deepLevel?: number;
  /** --changed-slot: reinstall an installed package whose SLOT or sub-slot differs from its version's ebuild. */
  readonly changedSlot?: boolean;
  /** --newrepo: reinstall an installed package whose chosen ebuild comes from another repository. */
  readonly newrepo?: boolean;
  /** --reinstall-atoms: matching installed packages count as not installed. */
  readonly reinstallAtoms?: readonly Atom[];
  /** -O: only the arguments, in their order; no dependencies, no blockers. */
  readonly nodeps?: boolean;
  /** -o: the arguments are chosen but not merged; their dependencies are (emerge spec §6.10). */
  readonly onlydeps?: boolean;
  /** --onlydeps-with-rdeps=n: with -o, only the build-time dependencies of the arguments. */
  readonly onlydepsWithRdeps?: boolean;
  /** --with-test-deps: the dependencies USE=test would add to an argument, as PDEPEND-strength edges. */
  readonly withTestDeps?: boolean;
  /** --ignore-built-slot-operator-deps=y: the `:SLOT/SUB=` bindings recorded by installed packages are ignored. */
  readonly ignoreBuiltSlotOperatorDeps?: boolean;
  /** --root-deps=rdeps: the DEPEND of EAPI < 7 packages is ignored. */
  readonly rootDepsRdeps?: boolean;
  /**
   * Complete mode (emerge spec §6.11): @world's installed packages are in the graph, their
   * dependencies checked so that the plan breaks none of them; it never adds updates.
   */
  readonly complete?: readonly RequestAtom[];
  /** Installed packages (cpv) to rebuild (a slot-operator or --rebuild-if-* rule), with why: shown `r`. */
  readonly rebuild?: ReadonlyMap<string, RebuildCause>;
  /**
   * ROOT ≠ the build host's root (emerge spec §1.10, §5.1): this resolver is ROOT's, and the
   * classes satisfied on the build host (see `hostBound`) are left out of it; a second resolver,
   * for the host, satisfies them (`external`).
   */
  readonly split?: RootSplit;
  /**
   * Dependencies of packages of another root (ROOT's packages' build-time dependencies, for the
   * build host's resolver): satisfied here as if their parents were chosen.
   */
  readonly external?: readonly ExternalDep[];
}

/** How a ROOT other than the build host's root divides the dependency classes (emerge spec §5.1). */
export interface RootSplit {
  /** --sysroot=ROOT: DEPEND of EAPI ≥ 7 is satisfied in ROOT (default: SYSROOT is `/`, the host). */
  readonly sysrootIsRoot?: boolean;
  /** --root-deps (MARK, no value): DEPEND of EAPI < 7 goes to ROOT instead of the host. */
  readonly rootDepsToRoot?: boolean;
}

/** A dependency of a package of another root, for the root that satisfies it. */
export interface ExternalDep {
  readonly parent: Candidate;
  readonly cls: DepClass;
  readonly node: DepNode<Atom>;
}

/**
 * Whether a class of a package is satisfied on the build host rather than in ROOT (emerge spec
 * §5.1): BDEPEND and IDEPEND always; DEPEND of EAPI ≥ 7 unless SYSROOT is ROOT; DEPEND of
 * EAPI < 7 unless --root-deps sends it to ROOT.
 */
export function hostBound(c: Candidate, cls: DepClass, split: RootSplit): boolean {
  if (cls === "BDEPEND" || cls === "IDEPEND") return true;
  if (cls !== "DEPEND") return false;
  const eapi7 = eapiFeatures(c.eapi)?.bdepend ?? true;
  return eapi7 ? !split.sysrootIsRoot : !split.rootDepsToRoot;
}

/**
 * The dependencies a ROOT selection leaves to the build host: the host-bound classes of every
 * ebuild it merges, reduced with the package's USE (what the host's resolver gets as `external`).
 */
export function hostDependencies(sel: Selection, opts: ResolveOptions): ExternalDep[] {
  const split = opts.split;
  if (!split || opts.nodeps) return [];
  const out: ExternalDep[] = [];
  for (const c of sel.chosen) {
    if (c.source !== "ebuild" || sel.nomerge?.has(c)) continue;
    const eapi = eapiFeatures(c.eapi) ?? eapiFeatures("8")!;
    for (const cls of WALK_ORDER) {
      if (!hostBound(c, cls, split)) continue;
      // --root-deps=rdeps: the DEPEND of EAPI < 7 is ignored
      if (cls === "DEPEND" && opts.rootDepsRdeps && !(eapiFeatures(c.eapi)?.bdepend ?? true)) continue;
      const text = c.deps[cls];
      if (!text?.trim()) continue;
      let nodes = PARSED.get(`${c.eapi}\0${text}`);
      try {
        if (!nodes) PARSED.set(`${c.eapi}\0${text}`, (nodes = parseDependencies(text, eapi)));
        for (const node of reduce(nodes, c.use)) out.push({ parent: c, cls, node });
      } catch (e) {
        throw new OuzoError("BAD_DEPEND", `${cls} of ${c.cpv}::${c.repo}: ${(e as Error).message}`);
      }
    }
  }
  return out;
}

export type RebuildTrigger = "slot-operator" | "new-slot" | "rebuild-if-new-rev" | "rebuild-if-new-ver" | "rebuild-if-unbuilt";

/** Why an installed package is rebuilt: the package whose merge causes it, and the rule. */
export interface RebuildCause {
  readonly by: string | null;
  readonly trigger: RebuildTrigger;
}

/** One argument of the request: an atom as typed, or a member of a set. */
export interface RequestAtom {
  readonly arg: string;
  readonly atom: Atom;
  /** The set it came from (`world`, `system`…), or undefined for a command-line atom. */
  readonly set?: string;
}

export type Reason =
  | { readonly kind: "requested"; readonly arg: string; readonly atom: string; readonly set: string | null }
  | { readonly kind: "dependency"; readonly by: string; readonly class: DepClass; readonly atom: string }
  /** An installed version cannot stay (a blocker, a dependency on another version): this one replaces it. */
  | { readonly kind: "update"; readonly trigger: "required"; readonly replaces: string }
  /** A forced rebuild (`r`): the package whose merge causes it, and the rule. */
  | ({ readonly kind: "rebuild" } & RebuildCause);

/** A dependency edge between two chosen packages: `from` needs `to`. */
export interface Edge {
  readonly from: Candidate;
  readonly to: Candidate;
  /** A dependency class, or `blocker`: `to` replaces a package `from` strongly blocks, so it goes first. */
  readonly cls: DepClass | "blocker";
  readonly atom: string;
}

export interface Selection {
  /** Chosen packages (installed ones kept, ebuilds to merge) in the order they were added (emerge spec §7.2). */
  readonly chosen: readonly Candidate[];
  /** Rebuilds the resolver forced: the installed instance could not stay (a `:=` binding to a sub-slot that goes). */
  readonly forced: ReadonlySet<Candidate>;
  /** Packages chosen but not merged: the arguments under -o. */
  readonly nomerge?: ReadonlySet<Candidate>;
  /** Installed packages a weak blocker has uninstalled, with the blocker and who carries it. */
  readonly uninstalls: readonly { readonly pkg: Candidate; readonly atom: Atom; readonly by: readonly Candidate[]; readonly after: readonly Candidate[] }[];
  readonly edges: readonly Edge[];
  readonly reasons: ReadonlyMap<Candidate, readonly Reason[]>;
  /** Every candidate seen of each `category/PN` reached. */
  readonly universe: ReadonlyMap<string, readonly Candidate[]>;
  /** Members of sets that match no package, available or installed (a warning: check the world file). */
  readonly missing?: readonly { readonly atom: string; readonly set: string }[];
  /** How the work went: milliseconds reading candidates and choosing, and whether the solver was needed. */
  readonly stats?: { readonly exploreMs: number; readonly selectMs: number; readonly solver: boolean; readonly candidates: number };
}

/** A request no plan satisfies, said in one line a user can act on, with the chain that led there. */
export class ResolveFailure extends OuzoError {
  /** The proof: numbered steps from a minimal set of constraints that cannot all hold. */
  explanation?: Explanation;
  /** Every candidate read (for autounmask, which tries again with the configuration relaxed). */
  universe?: ReadonlyMap<string, readonly Candidate[]>;

  constructor(message: string, readonly chain: readonly string[], explanation?: Explanation) {
    super("NO_PLAN", message);
    if (explanation) this.explanation = explanation;
  }
}

const BUILD: readonly DepClass[] = ["DEPEND", "BDEPEND"];
const GENERIC = "no plan satisfies every dependency, slot and blocker of this request together";
/** Dependency strings parsed, by EAPI and text (parsed values are never changed: resolvers share them). */
const PARSED = new Map<string, readonly DepNode<Atom>[]>();
/** The order emerge walks a package's classes in (spec §7.2). */
const WALK_ORDER: readonly DepClass[] = ["RDEPEND", "IDEPEND", "PDEPEND", "DEPEND", "BDEPEND"];

/**
 * The resolver. It reads the universe reached from the request, then makes emerge's choices one
 * atom at a time in emerge's order. First with local checks only: when those choices hold together
 * (the common case) they are the plan, and the solver is not even loaded. Otherwise every rule of
 * the universe becomes clauses for logic-solver (at most one package per slot, an installed one
 * kept unless replaced or blocked, dependencies of a chosen package satisfied, blockers, the
 * request) and each choice is kept only if the whole stays satisfiable with it (one
 * `solveAssuming` per decision: the solver's weighted-sum minimisation does not scale here).
 */
export class Resolver implements ProblemView {
  private readonly universe = new Map<string, Candidate[]>();
  private readonly deps = new Map<Candidate, Map<DepClass, DepNode<Atom>[]>>();
  private readonly ids = new Map<Candidate, string>();
  private solver!: InstanceType<LogicApi["Solver"]>;

  constructor(private readonly sources: readonly CandidateSource[], private readonly opts: ResolveOptions = {}) {}

  eligible(c: Candidate): boolean {
    if (c.source === "installed") return !(this.opts.reinstallAtoms ?? []).some((x) => x.matchesIgnoringUse(ref(c)));
    return c.masks.length === 0 && !(this.opts.exclude ?? []).some((x) => x.matchesIgnoringUse(ref(c)));
  }

  /** -D, unless -D 0. */
  private get deep(): boolean {
    return !!this.opts.deep && this.opts.deepLevel !== 0;
  }

  /**
   * Whether a request is selective (emerge spec §1.8): a requested package that is installed is
   * merged again only for a reason.
   */
  private get selective(): boolean {
    return isSelective(this.opts);
  }

  /** The `category/PN` of the arguments (for -o). */
  private argumentCps = new Set<string>();

  /** Whether a candidate's dependencies are part of the problem, and which classes. */
  private followed(c: Candidate): readonly DepClass[] {
    const o = this.opts;
    if (o.nodeps) return [];
    const classes = this.classesOf(c);
    // ROOT's resolver leaves the build host's classes to the host's resolver
    return o.split ? classes.filter((cls) => !hostBound(c, cls, o.split!)) : classes;
  }

  private classesOf(c: Candidate): readonly DepClass[] {
    const o = this.opts;
    if (c.source === "ebuild") {
      if (o.onlydeps && o.onlydepsWithRdeps === false && this.argumentCps.has(`${c.category}/${c.package}`)) return BUILD;
      return o.rootDepsRdeps && !(eapiFeatures(c.eapi)?.bdepend ?? true) ? WALK_ORDER.filter((x) => x !== "DEPEND") : WALK_ORDER;
    }
    if (!this.deep && !o.complete) return [];
    return o.withBdeps === false ? ["RDEPEND", "IDEPEND", "PDEPEND"] : WALK_ORDER;
  }

  /** An installed package's build-time dependencies are optional edges: never required, blockers in them ignored. */
  private optional(c: Candidate, cls: DepClass): boolean {
    return c.source === "installed" && BUILD.includes(cls);
  }

  /**
   * Parsed dependency strings: the versions of a package, and DEPEND and RDEPEND, often share
   * theirs; and a second resolution (another pass, autounmask) reads the same strings again.
   */
  private readonly parsedDeps = PARSED;

  private parsed(text: string, eapiName: string, eapi: NonNullable<ReturnType<typeof eapiFeatures>>): readonly DepNode<Atom>[] {
    const key = `${eapiName}\0${text}`;
    let nodes = this.parsedDeps.get(key);
    if (!nodes) this.parsedDeps.set(key, (nodes = parseDependencies(text, eapi)));
    return nodes;
  }

  private depsOf(c: Candidate): Map<DepClass, DepNode<Atom>[]> {
    let d = this.deps.get(c);
    if (d) return d;
    d = new Map();
    const eapi = eapiFeatures(c.eapi) ?? eapiFeatures("8")!;
    for (const cls of this.followed(c)) {
      let text = c.deps[cls];
      if (!text) continue;
      // --ignore-built-slot-operator-deps: `:0/1=` recorded at build time → a plain atom (§5.7)
      if (c.source === "installed" && this.opts.ignoreBuiltSlotOperatorDeps) text = text.replace(/:[A-Za-z0-9_][A-Za-z0-9+_.-]*(?:\/[A-Za-z0-9_][A-Za-z0-9+_.-]*)?=/g, "");
      try {
        d.set(cls, reduce(this.parsed(text, c.eapi, eapi), c.use));
      } catch (e) {
        throw new OuzoError("BAD_DEPEND", `${cls} of ${c.cpv}::${c.repo}: ${(e as Error).message}`);
      }
    }
    this.deps.set(c, d);
    return d;
  }

  private readonly testDepsMemo = new Map<Candidate, DepNode<Atom>[]>();

  /**
   * --with-test-deps: for an argument's ebuild with `test` in IUSE, neither enabled nor masked,
   * the dependencies USE=test would add (emerge spec §1.4): those of the classes reduced with
   * `test` on that are not there with it off.
   */
  private testDeps(c: Candidate): DepNode<Atom>[] {
    let extra = this.testDepsMemo.get(c);
    if (extra) return extra;
    extra = [];
    const testable = c.source === "ebuild" && !c.use.has("test") && !c.useState.masked.includes("test") && c.iuse.some((f) => f.replace(/^[+-]/, "") === "test");
    if (testable && !this.opts.nodeps) {
      const eapi = eapiFeatures(c.eapi) ?? eapiFeatures("8")!;
      const withTest = new Set([...c.use, "test"]);
      for (const cls of this.followed(c)) {
        const text = c.deps[cls];
        if (!text?.includes("test")) continue;
        try {
          const without = new Set(reduce(this.parsed(text, c.eapi, eapi), c.use).map((n) => canonical([n])));
          extra.push(...reduce(this.parsed(text, c.eapi, eapi), withTest).filter((n) => !without.has(canonical([n]))));
        } catch {
          // an unreadable string is reported by depsOf
        }
      }
    }
    this.testDepsMemo.set(c, extra);
    return extra;
  }

  /** Read every candidate reachable from the request, breadth first. */
  private async explore(request: readonly RequestAtom[]): Promise<void> {
    const queue = [...request, ...(this.opts.complete ?? [])].map((r) => r.atom.cp);
    for (const x of this.opts.external ?? []) {
      // a parent of another root: known by an id, never a candidate of this universe
      if (!this.ids.has(x.parent)) this.ids.set(x.parent, `x${this.ids.size}`);
      for (const a of leaves([x.node])) queue.push(a.cp);
    }
    const seen = new Set<string>();
    while (queue.length) {
      const batch = queue.splice(0).filter((cp) => !seen.has(cp) && seen.add(cp));
      await Promise.all(this.sources.map((s) => s.prefetch?.(batch)));
      const found = await Promise.all(batch.map(async (cp) => (await Promise.all(this.sources.map((s) => s.candidates(cp)))).flat()));
      // installed packages whose runtime blockers name a package reached join the universe
      for (const cp of batch) for (const s of this.sources) for (const owner of s.blockersOf?.(cp) ?? []) if (!seen.has(owner)) queue.push(owner);
      batch.forEach((cp, i) => {
        const cands = found[i]!;
        this.universe.set(cp, cands);
        for (const c of cands) {
          this.ids.set(c, `c${this.ids.size}`);
          if (!this.eligible(c)) continue;
          for (const nodes of this.depsOf(c).values()) for (const a of leaves(nodes)) if (!seen.has(a.cp)) queue.push(a.cp);
          if (this.opts.withTestDeps && this.argumentCps.has(cp)) for (const a of leaves(this.testDeps(c))) if (!seen.has(a.cp)) queue.push(a.cp);
        }
      });
    }
  }

  idOf(c: Candidate): string {
    return this.ids.get(c)!;
  }

  private readonly matchMemo = new Map<string, Candidate[]>();

  matching(a: Atom, parent?: Candidate): Candidate[] {
    // the same atom of the same parent is matched by the clauses, the choices and the explanation
    const key = parent && a.useDeps.length ? `${a.toString()}\0${this.idOf(parent)}` : a.toString();
    let m = this.matchMemo.get(key);
    if (!m) this.matchMemo.set(key, (m = (this.universe.get(a.cp) ?? []).filter((c) => this.eligible(c) && a.matches(ref(c), parent?.use))));
    return m;
  }

  /**
   * What a blocker of `parent` excludes: a package does not block itself (PMS 8.3.2); two installed
   * packages blocking each other are left alone, the damage is done (emerge spec §5.8).
   */
  blocked(a: Atom, parent: Candidate): Candidate[] {
    return (this.universe.get(a.cp) ?? []).filter((c) => c.cpv !== parent.cpv && !(parent.source === "installed" && c.source === "installed") && a.matches(ref(c), parent.use));
  }

  candidatesOf(cp: string): readonly Candidate[] {
    return this.universe.get(cp) ?? [];
  }

  private formula(n: DepNode<Atom>, parent: Candidate): Operand {
    switch (n.kind) {
      case "leaf": {
        const a = n.value;
        if (a.blocker) return Logic.and(this.blocked(a, parent).map((c) => Logic.not(this.idOf(c))));
        const m = this.matching(a, parent);
        return m.length ? Logic.or(m.map((c) => this.idOf(c))) : Logic.FALSE;
      }
      case "all":
        return Logic.and(n.children.map((x) => this.formula(x, parent)));
      case "any":
      case "exactlyOne":
      case "atMostOne":
        return Logic.or(n.children.map((x) => this.formula(x, parent)));
      default:
        return Logic.and(n.children.map((x) => this.formula(x, parent)));
    }
  }

  /** Set members that match no available or installed package (§2.4): listed after the plan. */
  private readonly missing: { atom: string; set: string }[] = [];

  /** Installed packages a weak blocker may have uninstalled. */
  private readonly removable = new Set<Candidate>();
  /**
   * Why each of them may go: the blocker, the package carrying it, and the package whose merge
   * makes the uninstall needed (the carrier itself when an installed package is blocked by a new
   * one; the new package when the installed one carries the blocker).
   */
  readonly blockersOf = new Map<Candidate, { atom: Atom; by: Candidate; trigger: Candidate }[]>();

  /** Whether a world atom names an installed package: it is then not uninstalled for a blocker. */
  inWorld(m: Candidate): boolean {
    return (this.opts.selected ?? []).some((a) => a.matchesIgnoringUse(ref(m)));
  }

  /** Find the installed packages weak blockers may uninstall (once, before any selection). */
  private findRemovable(): void {
    const mark = (m: Candidate, atom: Atom, by: Candidate, trigger: Candidate) => {
      if (this.inWorld(m)) return;
      this.removable.add(m);
      this.blockersOf.set(m, [...(this.blockersOf.get(m) ?? []), { atom, by, trigger }]);
    };
    for (const cands of this.universe.values()) {
      for (const c of cands) {
        if (!this.eligible(c)) continue;
        for (const a of this.blockersIn(c)) {
          if (a.blocker !== "!") continue;
          for (const m of this.universe.get(a.cp) ?? []) {
            if (m.cpv === c.cpv || !a.matches(ref(m), c.use)) continue;
            // a new package blocks an installed one: that one may go after the new one's merge;
            // an installed package blocks a package about to be merged: the blocker's owner may go
            if (m.source === "installed" && c.source === "ebuild") mark(m, a, c, c);
            else if (c.source === "installed" && m.source === "ebuild" && this.eligible(m)) mark(c, a, c, m);
          }
        }
      }
    }
  }

  /**
   * Every rule of the universe as a clause that remembers where it comes from (the explanation of a
   * failure names those origins): the dependencies of each eligible candidate, the runtime blockers
   * of installed packages, one package per slot (an installed one staying unless replaced), and the
   * request. Ineligible candidates appear in no clause: no atom matches them.
   */
  private constraints(request: readonly RequestAtom[]): Constraint[] {
    const out: Constraint[] = [];
    for (const [cp, cands] of this.universe) {
      const bySlot = new Map<string, Candidate[]>();
      for (const c of cands) {
        if (!this.eligible(c)) continue;
        const k = c.slot;
        bySlot.set(k, [...(bySlot.get(k) ?? []), c]);
        for (const [cls, nodes] of this.depsOf(c)) {
          if (this.optional(c, cls)) continue;
          for (const n of nodes) if (!this.checkedOnly(c) || this.heldByInstalled(n, c)) out.push({ origin: { kind: "dep", pkg: c, cls, node: n }, formula: this.requirement(c, n) });
        }
      }
      for (const c of cands) {
        // an installed package's runtime blockers count whether its dependencies are followed or not
        if (c.source === "installed" && !this.deep && !this.opts.complete) {
          for (const a of this.blockersIn(c)) {
            const node: DepNode<Atom> = { kind: "leaf", value: a };
            out.push({ origin: { kind: "dep", pkg: c, cls: "RDEPEND", node }, formula: this.requirement(c, node) });
          }
        }
      }
      for (const [slot, group] of bySlot) {
        const vars = group.map((c) => this.idOf(c));
        // an installed package stays unless another version of its slot replaces it, or a weak
        // blocker has it uninstalled (emerge spec §5.8)
        const keep = group.find((c) => c.source === "installed" && !this.removable.has(c));
        if (keep) out.push({ origin: { kind: "slot", cp, slot, members: group, keep }, formula: Logic.exactlyOne(vars) });
        else if (vars.length > 1) out.push({ origin: { kind: "slot", cp, slot, members: group, keep: undefined }, formula: Logic.atMostOne(vars) });
      }
    }
    for (const r of request) out.push({ origin: { kind: "request", request: r }, formula: Logic.or(this.matching(r.atom).map((c) => this.idOf(c))) });
    // the dependencies of another root's packages hold unconditionally here
    for (const x of this.opts.external ?? []) out.push({ origin: { kind: "dep", pkg: x.parent, cls: x.cls, node: x.node }, formula: this.formula(x.node, x.parent) });
    return out;
  }

  /**
   * `c` implies the node, as few clauses as can say it: an atom is one clause (not c, or one of its
   * matches), a blocker one clause per package it excludes; a group goes through the solver's
   * formulas.
   */
  private requirement(c: Candidate, n: DepNode<Atom>): Operand {
    const id = this.idOf(c);
    if (n.kind !== "leaf") return Logic.implies(id, this.formula(n, c));
    if (n.value.blocker) return Logic.and(this.blocked(n.value, c).map((b) => Logic.or(Logic.not(id), Logic.not(this.idOf(b)))));
    return Logic.or(Logic.not(id), ...this.matching(n.value, c).map((m) => this.idOf(m)));
  }

  private encode(request: readonly RequestAtom[]): Constraint[] {
    for (const cands of this.universe.values()) for (const c of cands) if (!this.eligible(c)) this.solver.forbid(this.idOf(c));
    const all = this.constraints(request);
    for (const k of all) this.solver.require(k.formula);
    return all;
  }

  /** The failure of a request whose constraints cannot all hold: the one-line reason, and the proof. */
  private explained(request: readonly RequestAtom[], constraints: readonly Constraint[]): ResolveFailure {
    // the packages the first attempt chose lead the search for the conflict
    const explanation = derive(minimalConflict(Logic, constraints, this, this.attempted?.list).map((k) => k.origin), this, request);
    // a conflict of slots or blockers among what is asked has no chain to tell in one line: the
    // general sentence, with what the proof found (the one-line diagnosis walks every dependency)
    let failure = explanation.code === "slot-conflict" || explanation.code === "conflict" ? new ResolveFailure(GENERIC, request.map((r) => r.arg)) : this.diagnose(request);
    const summary = conflictSummary(explanation);
    if (summary && failure.message === GENERIC) failure = new ResolveFailure(`${GENERIC}: ${summary}`, failure.chain);
    failure.explanation = explanation;
    return failure;
  }

  /** What the last selection had chosen (when it failed, what it had chosen so far). */
  private attempted?: Chosen;

  /**
   * Whether the problem, with every decision taken so far, stays satisfiable with `extra` too.
   * Decisions are never taken back, so they are clauses of the solver (`decide`), not a growing
   * conjunction of assumptions rebuilt for every question.
   */
  private satisfiable(extra?: Operand): boolean {
    return (extra === undefined ? this.solver.solve() : this.solver.solveAssuming(extra)) !== null;
  }

  private decide(choice: Operand): void {
    this.solver.require(choice);
  }

  /** Candidates for an atom, best first, as emerge prefers them (spec §6.1, §6.3). */
  private preferred(a: Atom, parent: Candidate | undefined, requested: boolean, depth = requested ? 0 : 1): Candidate[] {
    const m = this.matching(a, parent);
    const byVersion = (x: Candidate, y: Candidate) => compareVersions(y.version, x.version);
    const o = this.opts;
    // an installed package to rebuild (a slot-operator or --rebuild-if-* rule): its ebuild first
    const rebuilt = (c: Candidate) => c.source === "installed" && !!o.rebuild?.has(c.cpv);
    const installed = m.filter((c) => c.source === "installed" && !rebuilt(c)).sort(byVersion);
    const ebuilds = m.filter((c) => c.source === "ebuild").sort(byVersion);
    if (m.some(rebuilt)) {
      const old = m.filter(rebuilt);
      const same = ebuilds.filter((e) => old.some((i) => i.cpv === e.cpv));
      return [...same, ...(o.update && (requested || this.deep) ? [] : installed), ...ebuilds.filter((e) => !same.includes(e)), ...installed, ...old].filter((c, i, all) => all.indexOf(c) === i);
    }
    // -u, -N and -n make the run selective (emerge spec §1.8): a requested package that is
    // installed is merged again only for a reason
    if (o.emptytree || (requested && !this.selective)) return [...ebuilds, ...installed];
    const triggered = (i: Candidate, e: Candidate): boolean =>
      (!!o.newuse && useTriggers(i, e, "newuse").length > 0) ||
      (!!o.changedUse && useTriggers(i, e, "changed-use").length > 0) ||
      (!!o.changedDeps && i.cpv === e.cpv && this.depsChanged(i, e)) ||
      (!!o.changedSlot && i.cpv === e.cpv && (i.slot !== e.slot || i.subslot !== e.subslot)) ||
      (!!o.newrepo && e.repo !== i.repo);
    // -D N: updates reach N levels below the arguments
    if (o.update && (requested || (this.deep && depth <= (o.deepLevel ?? Infinity)))) {
      // the best version; at equal versions the installed one, unless --newuse finds its USE changed
      return [...ebuilds, ...installed].sort((x, y) => {
        const v = byVersion(x, y);
        if (v !== 0) return v;
        const rebuild = (e: Candidate, i: Candidate) => triggered(i, e);
        if (x.source !== y.source) {
          const [e, i] = x.source === "ebuild" ? [x, y] : [y, x];
          const ebuildFirst = rebuild(e, i);
          return (x.source === "ebuild") === ebuildFirst ? -1 : 1;
        }
        return 0;
      });
    }
    // -N/-U compare an installed package with the best visible ebuild (emerge spec §4.6): a
    // trigger merges that ebuild, which may be a newer version, even without -u
    if ((o.newuse || o.changedUse) && installed.length && ebuilds.length) {
      const best = ebuilds[0]!;
      const i = installed.find((x) => x.slot === best.slot) ?? installed[0]!;
      if (triggered(i, best)) return [best, ...installed, ...ebuilds.slice(1)];
    }
    // --changed-deps, --changed-slot and --newrepo compare an installed package with the ebuild
    // of its own version (spec §6.7): of its repository, else of another
    if (o.changedDeps || o.changedSlot || o.newrepo) {
      for (const i of installed) {
        const same = ebuilds.find((e) => e.cpv === i.cpv && e.repo === i.repo) ?? ebuilds.find((e) => e.cpv === i.cpv);
        if (same && triggered(i, same)) return [same, ...installed, ...ebuilds.filter((e) => e !== same)];
      }
    }
    return [...installed, ...ebuilds];
  }

  /**
   * Whether an installed package's recorded dependencies differ from those of the ebuild of its
   * version, both reduced with the USE it was built with and `:SLOT/SUB=` read as `:=` (emerge
   * spec §6.7); the runtime classes only with --with-bdeps=n.
   */
  private depsChanged(installed: Candidate, ebuild: Candidate): boolean {
    const classes: readonly DepClass[] = this.opts.withBdeps === false ? ["RDEPEND", "IDEPEND", "PDEPEND"] : WALK_ORDER;
    const canon = (c: Candidate, cls: DepClass): string => {
      const text = c.deps[cls];
      if (!text?.trim()) return "";
      try {
        return canonical(withoutLibc(reduce(this.parsed(text, c.eapi, eapiFeatures(c.eapi) ?? eapiFeatures("8")!), installed.use)));
      } catch {
        return `unreadable: ${text}`;
      }
    };
    return classes.some((cls) => canon(installed, cls) !== canon(ebuild, cls));
  }

  /**
   * Whether an installed package's recorded dependencies differ from those of its version's ebuild
   * (of its repository, else of another), as --changed-deps compares them; false without an ebuild.
   */
  depsDiffer(installed: Candidate): boolean {
    const ebuilds = (this.universe.get(`${installed.category}/${installed.package}`) ?? []).filter((e) => e.source === "ebuild" && e.cpv === installed.cpv);
    const same = ebuilds.find((e) => e.repo === installed.repo) ?? ebuilds[0];
    return !!same && this.depsChanged(installed, same);
  }

  async resolve(request: readonly RequestAtom[]): Promise<Selection> {
    const t0 = performance.now();
    this.argumentCps = new Set(request.map((r) => r.atom.cp));
    await this.explore(request);
    const t1 = performance.now();
    const withStats = (sel: Selection, solver: boolean): Selection => ({
      ...sel,
      missing: [...this.missing],
      stats: { exploreMs: Math.round(t1 - t0), selectMs: Math.round(performance.now() - t1), solver, candidates: [...this.universe.values()].reduce((n, c) => n + c.length, 0) },
    });
    // an argument whose only matches are --exclude'd ebuilds is skipped silently (emerge spec §1.4)
    const isExcluded = (c: Candidate) => c.source === "ebuild" && c.masks.length === 0 && !this.eligible(c);
    request = request.filter((r) => {
      const all = (this.universe.get(r.atom.cp) ?? []).filter((c) => r.atom.matchesIgnoringUse(ref(c)));
      return !(all.length && all.every(isExcluded));
    });
    // a member of a set with no package at all (the world file names something gone from the
    // repositories) is a warning after the plan, not a failure (emerge spec §2.4)
    request = request.filter((r) => {
      if (!r.set || (this.universe.get(r.atom.cp) ?? []).some((c) => r.atom.matchesIgnoringUse(ref(c)) && this.eligible(c))) return true;
      this.missing.push({ atom: r.atom.toString(), set: r.set });
      return false;
    });
    for (const r of request) this.checkAtom(r);
    // a command-line atom only an installed package matches cannot be merged again (spec §2.4)
    if (!this.selective) {
      for (const r of request) {
        if (r.set) continue;
        const all = (this.universe.get(r.atom.cp) ?? []).filter((c) => r.atom.matchesIgnoringUse(ref(c)));
        if (all.some((c) => c.source === "ebuild" && this.eligible(c))) continue;
        const inst = all.find((c) => c.source === "installed");
        if (inst) throw this.withUniverse(new ResolveFailure(`there are no ebuilds to satisfy "${r.atom.toString()}": only the installed ${inst.cpv} matches it (with --noreplace or --update it is left as it is)`, [r.arg], this.single(r, "unsatisfied", `only the installed ${inst.cpv} matches it, and an argument is merged again unless --noreplace or --update says to leave it`)));
      }
    }
    this.findRemovable();

    // Most requests have no conflict: emerge's choices made without asking the solver, then
    // checked by one solve, are the plan. Only when that check fails is each decision asked of
    // the solver as it is made (a solve per decision: seconds, not milliseconds, at 900 packages).
    let fast: Selection | undefined;
    try {
      fast = this.select(request, false);
    } catch (e) {
      // a choice made without the solver led nowhere: the careful way decides
      if (!(e instanceof ResolveFailure)) throw e;
    }
    if (fast) return withStats(fast, false);
    Logic ??= (await import("logic-solver")).default;
    this.solver = new Logic.Solver();
    const constraints = this.encode(request);
    if (!this.solver.solve()) throw this.withUniverse(this.explained(request, constraints));
    return withStats(this.select(request, true)!, true);
  }

  /**
   * emerge's choices, one atom at a time in its order (spec §7.2). `careful`: each choice is kept
   * only if the whole problem stays satisfiable with it, and becomes a clause. Otherwise choices
   * are checked locally (slot free, no blocker between chosen packages, nothing kept installed that
   * blocks or is blocked), which makes the selection a plan by construction; undefined (or a
   * ResolveFailure) when a local check fails, and the careful way decides.
   */
  private select(request: readonly RequestAtom[], careful: boolean): Selection | undefined {
    const check = (x: Operand) => !careful || this.satisfiable(x);
    const commit = (x: Operand) => {
      if (careful) this.decide(x);
    };
    const chosen = new Chosen((c) => this.blockersIn(c));
    this.attempted = chosen;
    const reasons = new Map<Candidate, Reason[]>();
    const edges: Edge[] = [];
    const stack: Candidate[] = [];
    const reason = (c: Candidate, r: Reason) => reasons.set(c, [...(reasons.get(c) ?? []), r]);

    /**
     * Installed packages kept provisionally: the same version's ebuild is allowed too until the
     * end, when the installed one stays if the plan allows it, else that version is rebuilt (emerge's
     * slot-operator rebuild: a package bound to a sub-slot that an update removes).
     */
    const provisional: { installed: Candidate; ebuild: Candidate }[] = [];
    const forcedUpdates = new Set<Candidate>();

    /** How far below the arguments each chosen package was reached (-D N). */
    const depthOf = new Map<Candidate, number>();
    const rebuilds = this.opts.rebuild;

    /**
     * The chosen package satisfying an atom, choosing one if none is yet. `kept`: only an
     * installed package may be chosen, and nothing when none can (complete mode, §6.11).
     */
    const satisfy = (a: Atom, parent: Candidate | undefined, requested: boolean, why: Reason | undefined, kept = false): Candidate | undefined => {
      const already = chosen.ofPackage(a.cp).find((c) => a.matches(ref(c), parent?.use));
      if (already) {
        if (why) reason(already, why);
        return already;
      }
      const depth = requested ? 0 : (parent ? (depthOf.get(parent) ?? 0) : 0) + 1;
      for (const c of this.preferred(a, parent, requested, depth)) {
        if (kept && c.source !== "installed" && !rebuilds?.has(c.cpv)) continue;
        if (chosen.slotTaken(c)) continue;
        const twin = careful && c.source === "installed" && !this.opts.emptytree ? (this.universe.get(`${c.category}/${c.package}`) ?? []).find((e) => e.source === "ebuild" && e.cpv === c.cpv && this.eligible(e)) : undefined;
        const choice: Operand = twin ? Logic.or(this.idOf(c), this.idOf(twin)) : this.idOf(c);
        if (!careful && this.blockedAmong(c, chosen)) continue;
        if (!check(choice)) continue;
        commit(choice);
        if (twin) provisional.push({ installed: c, ebuild: twin });
        chosen.add(c);
        depthOf.set(c, depth);
        if (why) reason(c, why);
        const cause = c.source === "ebuild" ? rebuilds?.get(c.cpv) : undefined;
        if (cause && (this.universe.get(a.cp) ?? []).some((i) => i.source === "installed" && i.cpv === c.cpv)) {
          forcedUpdates.add(c);
          reason(c, { kind: "rebuild", ...cause });
        }
        stack.push(c);
        return c;
      }
      if (kept) return undefined;
      throw new ResolveFailure(`nothing can satisfy '${a.toString()}'${parent ? ` (${why?.kind === "dependency" ? why.class : ""} of ${parent.cpv})` : ""} together with the rest of the plan`, [a.toString()]);
    };

    const walk = (n: DepNode<Atom>, parent: Candidate, cls: DepClass) => {
      switch (n.kind) {
        case "leaf": {
          const a = n.value;
          if (a.blocker) return;
          const why: Reason = { kind: "dependency", by: parent.cpv, class: cls, atom: a.toString() };
          // An installed package's `:SLOT/SUB=` binding records what it was built against; an update
          // may move the provider to another sub-slot (the clauses then rebuild the consumer), so
          // the choice looks at the slot only. A provider chosen that way is a forced update.
          const loose = parent.source === "installed" && a.slotOperator === "=" && a.subslot !== undefined ? looseSlotOp(a) : undefined;
          const to = satisfy(loose ?? a, parent, false, why)!;
          if (loose && !a.matches(ref(to), parent.use)) {
            // the installed parent cannot stay as it is: a rebuild, which only the careful way settles
            if (!careful) throw new ResolveFailure(`${parent.cpv} needs a rebuild for ${to.cpv}`, []);
            if (to.source === "ebuild") forcedUpdates.add(to);
          }
          edges.push({ from: parent, to, cls, atom: a.toString() });
          return;
        }
        case "any":
        case "exactlyOne":
        case "atMostOne": {
          // emerge's rule (spec §5.4): an alternative already satisfied first, then one satisfied
          // by installed packages, then the first that the rest of the plan allows
          const alts = n.children;
          const done = alts.find((x) => leaves([x]).every((a) => a.blocker || chosen.ofPackage(a.cp).some((c) => a.matches(ref(c), parent.use))));
          const byInstalled = alts.find((x) => leaves([x]).every((a) => a.blocker || (this.universe.get(a.cp) ?? []).some((c) => c.source === "installed" && a.matches(ref(c), parent.use))));
          for (const alt of [done, byInstalled, ...alts].filter((x): x is DepNode<Atom> => !!x)) {
            if (careful ? !this.satisfiable(this.formula(alt, parent)) : !leaves([alt]).every((a) => a.blocker || this.matching(a, parent).length > 0)) continue;
            walk(alt, parent, cls);
            return;
          }
          throw new ResolveFailure(`no alternative of an || group in ${cls} of ${parent.cpv} fits the rest of the plan`, [parent.cpv]);
        }
        default:
          for (const x of n.children) walk(x, parent, cls);
      }
    };

    const forced = forcedUpdates;
    const drain = () => {
      while (stack.length) {
        const c = stack.pop()!;
        const d = this.depsOf(c);
        for (const cls of WALK_ORDER) {
          let nodes = d.get(cls);
          // the dependencies USE=test would add to an argument, as PDEPEND (--with-test-deps)
          if (cls === "PDEPEND" && this.opts.withTestDeps && (reasons.get(c) ?? []).some((r) => r.kind === "requested")) nodes = [...(nodes ?? []), ...this.testDeps(c)];
          if (!nodes?.length) continue;
          // plain atoms in string order, then groups (spec §7.2)
          const plain = nodes.filter((n) => n.kind === "leaf").sort((x, y) => (String((x as { value: Atom }).value) < String((y as { value: Atom }).value) ? -1 : 1));
          for (const n of [...plain, ...nodes.filter((n) => n.kind !== "leaf")]) {
            // complete mode only checks what the plan would newly break (§6.11)
            if (this.checkedOnly(c) && !this.heldByInstalled(n, c)) continue;
            if (!this.optional(c, cls)) {
              walk(n, c, cls);
              continue;
            }
            // an optional edge that cannot be satisfied is dropped silently
            try {
              walk(n, c, cls);
            } catch (e) {
              if (!(e instanceof ResolveFailure)) throw e;
            }
          }
        }
      }
    };
    for (const r of request) satisfy(r.atom, undefined, true, { kind: "requested", arg: r.arg, atom: r.atom.toString(), set: r.set ?? null });
    drain();
    // another root's packages' dependencies (ROOT's build-time dependencies, on the build host)
    for (const x of this.opts.external ?? []) {
      walk(x.node, x.parent, x.cls);
      drain();
    }
    // complete mode: @world's installed packages join the graph, kept, their dependencies checked
    for (const r of this.opts.complete ?? []) {
      satisfy(r.atom, undefined, false, undefined, true);
      drain();
    }
    // settle the provisional keeps, in the order they were made
    for (let i = 0; i < provisional.length; i++) {
      const { installed, ebuild } = provisional[i]!;
      if (this.satisfiable(this.idOf(installed))) {
        commit(this.idOf(installed));
        continue;
      }
      commit(this.idOf(ebuild));
      chosen.replace(installed, ebuild);
      reasons.set(ebuild, reasons.get(installed) ?? []);
      for (const e of edges) if (e.to === installed) (e as { to: Candidate }).to = ebuild;
      forced.add(ebuild);
      // the installed instance's own edges go with it; the rebuild's are walked below
      const cause = edges.find((e) => e.from === installed && /:[^\s[]*\/[^\s[]*=/.test(e.atom) && !Atom.parse(e.atom, "8").matches(ref(e.to), installed.use));
      for (let k = edges.length - 1; k >= 0; k--) if (edges[k]!.from === installed) edges.splice(k, 1);
      // the provider whose new sub-slot breaks the recorded binding
      reason(ebuild, { kind: "rebuild", by: cause?.to.cpv ?? null, trigger: "slot-operator" });
      stack.push(ebuild);
      drain();
    }
    if (careful) {
      // An installed package nothing asked about stays if the plan allows; otherwise (a strong
      // blocker, a dependency on another version) the solver has a replacement in its slot, which
      // joins the plan: ouzo offers the update that settles it rather than failing (spec §5.8's
      // "what ouzo should do better").
      for (const cands of this.universe.values()) {
        for (const m of cands) {
          if (m.source !== "installed" || this.removable.has(m) || chosen.has(m)) continue;
          if (chosen.slotTaken(m)) continue;
          if (this.satisfiable(this.idOf(m))) {
            this.decide(this.idOf(m));
            continue;
          }
          const replacement = cands.filter((c) => c.source === "ebuild" && c.slot === m.slot && this.eligible(c)).sort((x, y) => compareVersions(y.version, x.version)).find((c) => this.satisfiable(this.idOf(c)));
          if (!replacement) continue;
          this.decide(this.idOf(replacement));
          chosen.add(replacement);
          reason(replacement, { kind: "update", trigger: "required", replaces: m.cpv });
          stack.push(replacement);
          drain();
        }
      }
    }
    // an installed package a weak blocker matches stays if it can; otherwise it is uninstalled
    const uninstalls: { pkg: Candidate; atom: Atom; by: Candidate[]; after: Candidate[] }[] = [];
    const kept: Candidate[] = [];
    for (const m of this.removable) {
      if (chosen.slotTaken(m)) continue;
      if (careful ? this.satisfiable(this.idOf(m)) : !(this.blockersOf.get(m) ?? []).some((b) => chosen.has(b.trigger))) {
        commit(this.idOf(m));
        kept.push(m);
        continue;
      }
      if (careful) commit(Logic.not(this.idOf(m)));
      const bs = (this.blockersOf.get(m) ?? []).filter((b) => chosen.has(b.trigger));
      uninstalls.push({ pkg: m, atom: bs[0]?.atom ?? Atom.parse(`!${m.category}/${m.package}`, "8"), by: [...new Set(bs.map((b) => b.by))], after: [...new Set(bs.map((b) => b.trigger))] });
    }
    // a strong blocker's blocked package must be gone before the blocker's merge: its replacement first
    for (const x of chosen.list) {
      if (x.source !== "ebuild") continue;
      for (const a of this.blockersIn(x)) {
        if (a.blocker !== "!!") continue;
        for (const m of this.universe.get(a.cp) ?? []) {
          if (m.source !== "installed" || !a.matches(ref(m), x.use)) continue;
          const y = chosen.ofPackage(a.cp).find((c) => c !== x && c.source === "ebuild" && c.category === m.category && c.package === m.package && c.slot === m.slot);
          if (y) edges.push({ from: x, to: y, cls: "blocker", atom: a.toString() });
        }
      }
    }
    if (!careful) {
      // The selection is a plan by construction: each dependency of a chosen package is satisfied
      // by a chosen package, one package per slot, no blocker between chosen packages. What is
      // left to check is the installed packages it keeps: none may block, or be blocked by, a
      // chosen package (a weak blocker's uninstall aside). Anything else: the careful way.
      const gone = new Set(uninstalls.map((u) => u.pkg));
      for (const cands of this.universe.values()) {
        for (const m of cands) {
          if (m.source !== "installed" || gone.has(m) || chosen.has(m)) continue;
          if (chosen.slotTaken(m)) continue;
          if (this.blockedAmong(m, chosen)) return undefined;
        }
      }
    }
    // -o: the arguments are chosen but not merged (their dependencies are)
    const nomerge = new Set(this.opts.onlydeps ? chosen.list.filter((c) => (reasons.get(c) ?? []).some((r) => r.kind === "requested")) : []);
    return { chosen: chosen.list, forced, uninstalls, edges, reasons, universe: this.universe, nomerge };
  }

  /** An installed package in the graph for complete mode only: its dependencies are checked, not followed for updates. */
  private checkedOnly(c: Candidate): boolean {
    return c.source === "installed" && !this.deep && !!this.opts.complete;
  }

  /** Whether the installed packages satisfy a (reduced) dependency node now: only such a node can be newly broken. */
  private heldByInstalled(n: DepNode<Atom>, parent: Candidate): boolean {
    switch (n.kind) {
      case "leaf":
        return !!n.value.blocker || (this.universe.get(n.value.cp) ?? []).some((c) => c.source === "installed" && n.value.matches(ref(c), parent.use));
      case "any":
      case "exactlyOne":
      case "atMostOne":
        return n.children.some((x) => this.heldByInstalled(x, parent));
      default:
        return n.children.every((x) => this.heldByInstalled(x, parent));
    }
  }

  /** Whether a blocker of `c` matches a chosen package, or one of theirs matches `c`. */
  private blockedAmong(c: Candidate, chosen: Chosen): boolean {
    const apart = (x: Candidate) => x.cpv === c.cpv || (x.source === "installed" && c.source === "installed");
    for (const a of this.blockersIn(c)) for (const x of chosen.ofPackage(a.cp)) if (!apart(x) && a.matches(ref(x), c.use)) return true;
    const cp = `${c.category}/${c.package}`;
    for (const x of chosen.blocking()) if (!apart(x) && this.blockersIn(x).some((a) => a.cp === cp && a.matches(ref(c), x.use))) return true;
    return false;
  }

  private readonly blockerCache = new Map<Candidate, Atom[]>();

  private blockersIn(c: Candidate): Atom[] {
    // -O evaluates no blockers; -o none of the arguments' (emerge spec §1.4)
    if (this.opts.nodeps || (this.opts.onlydeps && c.source === "ebuild" && this.argumentCps.has(`${c.category}/${c.package}`))) return [];
    let b = this.blockerCache.get(c);
    if (!b) {
      if (c.source === "installed") {
        // the runtime blockers of every installed package, with the USE it was built with (§5.8)
        const eapi = eapiFeatures(c.eapi) ?? eapiFeatures("8")!;
        b = [];
        for (const cls of ["RDEPEND", "IDEPEND", "PDEPEND"] as const) {
          const text = c.deps[cls];
          if (!text || !text.includes("!")) continue;
          try {
            b.push(...leaves(reduce(parseDependencies(text, eapi), c.use)).filter((a) => a.blocker));
          } catch {
            // an unreadable recorded dependency: its blockers are not known
          }
        }
      } else b = [...this.depsOf(c)].flatMap(([, nodes]) => leaves(nodes).filter((a) => a.blocker));
      this.blockerCache.set(c, b);
    }
    return b;
  }


  /**
   * Why no plan exists, when the reason is a chain of dependencies that nothing satisfies: each
   * version of a requested package needs something with no ebuild, or whose every version is
   * masked, or that in turn needs such a thing. Otherwise (slots, blockers), a general line; the
   * explanations issue makes that a proof.
   */
  private diagnose(request: readonly RequestAtom[]): ResolveFailure {
    const memo = new Map<string, string[] | null>();
    const atomFails = (a: Atom, parent: Candidate | undefined, depth: number): string[] | null => {
      const key = `${a.toString()}|${parent?.cpv ?? ""}`;
      if (memo.has(key)) return memo.get(key)!;
      memo.set(key, null);
      const all = (this.universe.get(a.cp) ?? []).filter((c) => a.matches(ref(c), parent?.use));
      let why: string[] | null = null;
      if (!all.length) why = [`there are no ebuilds to satisfy "${a.toString()}"`];
      else if (!all.some((c) => this.eligible(c))) why = [`all ebuilds that could satisfy "${a.toString()}" have been masked: ${all.map((c) => `${c.cpv}::${c.repo} (${c.masks.join(", ")})`).join("; ")}`];
      else if (depth < 50) {
        // the best version's reason is the one to tell
        const reasons = all.filter((c) => this.eligible(c)).sort((x, y) => compareVersions(y.version, x.version)).map((c) => candFails(c, depth + 1));
        if (reasons.every((r) => r)) why = reasons[0]!;
      }
      memo.set(key, why);
      return why;
    };
    const candFails = (c: Candidate, depth: number): string[] | null => {
      for (const [cls, nodes] of this.depsOf(c)) {
        for (const n of nodes) {
          if (n.kind !== "leaf" || n.value.blocker) continue;
          const r = atomFails(n.value, c, depth);
          if (r) return [...r, `(dependency required by "${c.cpv}::${c.repo}" [${c.source === "installed" ? "installed" : "ebuild"}], ${cls})`];
        }
      }
      return null;
    };
    for (const r of request) {
      const why = atomFails(r.atom, undefined, 0);
      if (why) return new ResolveFailure(`${why[0]}${why.length > 1 ? ` ${why.slice(1).join(" ")}` : ""}`, why.slice(1));
    }
    // a blocker between what is asked for and an installed package the world file keeps
    for (const r of request) {
      const best = (this.universe.get(r.atom.cp) ?? []).filter((c) => this.eligible(c) && c.source === "ebuild" && r.atom.matches(ref(c))).sort((x, y) => compareVersions(y.version, x.version))[0];
      if (!best) continue;
      for (const cands of this.universe.values()) {
        for (const m of cands) {
          if (m.source !== "installed" || m.cpv === best.cpv || !this.inWorld(m)) continue;
          const mine = this.blockersIn(best).find((a) => a.cp === `${m.category}/${m.package}` && a.matches(ref(m), best.use));
          if (mine) return new ResolveFailure(`${best.cpv} blocks the installed ${m.cpv} ("${mine.toString()}"), which the world file selects, so it is not uninstalled: take it out of the world file, or uninstall it first`, [best.cpv, m.cpv]);
          const theirs = this.blockersIn(m).find((a) => a.cp === `${best.category}/${best.package}` && a.matches(ref(best), m.use));
          if (theirs) return new ResolveFailure(`the installed ${m.cpv}, which the world file selects, blocks ${best.cpv} ("${theirs.toString()}"): take it out of the world file, or uninstall it first`, [m.cpv, best.cpv]);
        }
      }
    }
    return new ResolveFailure(GENERIC, request.map((r) => r.arg));
  }

  /** Say plainly why an argument cannot be satisfied at all: no such package, or every version masked. */
  private checkAtom(r: RequestAtom): void {
    const a = r.atom;
    const chain = [r.arg];
    const all = (this.universe.get(a.cp) ?? []).filter((c) => a.matchesIgnoringUse(ref(c)));
    if (!all.length) throw this.withUniverse(new ResolveFailure(`there are no ebuilds to satisfy "${a.toString()}"`, chain, this.single(r, "unsatisfied")));
    if (!all.some((c) => this.eligible(c))) {
      const lines = all.map((c) => `${c.cpv}::${c.repo} (masked by: ${c.masks.join(", ")})`);
      const code = all.every((c) => c.masks.some((m) => m.startsWith("REQUIRED_USE"))) ? "required-use" : "masked";
      throw this.withUniverse(new ResolveFailure(`all ebuilds that could satisfy "${a.toString()}" have been masked: ${lines.join("; ")}`, chain, this.single(r, code)));
    }
  }

  /** The explanation of an argument that nothing can satisfy on its own: one step. */
  private single(r: RequestAtom, code: FailureCode, detail?: string): Explanation {
    const origin = { kind: "request", request: r } as const;
    return { code, steps: [{ id: 0, origin, result: "conflict", refs: [], ...(detail ? { detail } : {}) }], core: [origin], request: [r], view: this };
  }

  private withUniverse(f: ResolveFailure): ResolveFailure {
    f.universe = this.universe;
    return f;
  }
}

/** Whether a request with these options is selective (emerge spec §1.8). */
export function isSelective(o: ResolveOptions): boolean {
  if (o.emptytree || o.selective === false) return false;
  return !!(o.update || o.newuse || o.changedUse || o.changedDeps || o.changedSlot || o.newrepo || o.noreplace || o.selective);
}

/** The libc packages, whose dependencies --changed-deps does not compare (emerge spec §6.7). */
const LIBC = new Set(["virtual/libc", "sys-libs/glibc", "sys-libs/musl", "sys-libs/uclibc-ng"]);

/** A reduced dependency tree without its libc atoms (groups left empty dropped). */
function withoutLibc(nodes: readonly DepNode<Atom>[]): DepNode<Atom>[] {
  const out: DepNode<Atom>[] = [];
  for (const n of nodes) {
    if (n.kind === "leaf") {
      if (!LIBC.has(n.value.cp)) out.push(n);
      continue;
    }
    const children = withoutLibc(n.children);
    if (children.length) out.push({ ...n, children } as DepNode<Atom>);
  }
  return out;
}

/** A reduced dependency tree as text, slot operators without their recorded slot. */
function canonical(nodes: readonly DepNode<Atom>[]): string {
  return nodes
    .map((n) => (n.kind === "leaf" ? n.value.toString().replace(/:[^\s[:=]*=/, ":=") : n.kind === "use" ? `${n.negated ? "!" : ""}${n.flag}?(${canonical(n.children)})` : `${n.kind}(${canonical(n.children)})`))
    .join(" ");
}

/**
 * The flags that make emerge merge an ebuild again over an installed package (spec §4.6), with
 * OI/OE the installed IUSE and enabled flags, NI/NE the ebuild's, F its forced and masked flags:
 * `--newuse` ((OI △ NI) \ F) ∪ (OE △ NE); `--changed-use` OE △ NE. Sorted.
 */
export function useTriggers(installed: Candidate, ebuild: Candidate, mode: "newuse" | "changed-use"): string[] {
  const names = (c: Candidate) => new Set(c.iuse.map((f) => f.replace(/^[+-]/, "")));
  const OI = names(installed);
  const NI = names(ebuild);
  const OE = new Set([...OI].filter((f) => installed.use.has(f)));
  const NE = new Set([...NI].filter((f) => ebuild.use.has(f)));
  const F = new Set([...ebuild.useState.forced, ...ebuild.useState.masked]);
  const out = new Set<string>();
  for (const f of OE) if (!NE.has(f)) out.add(f);
  for (const f of NE) if (!OE.has(f)) out.add(f);
  if (mode === "newuse") {
    for (const f of OI) if (!NI.has(f) && !F.has(f)) out.add(f);
    for (const f of NI) if (!OI.has(f) && !F.has(f)) out.add(f);
  }
  return [...out].sort();
}

/** `cat/pkg:0/1=` as `cat/pkg:0=`: the slot of a binding without its sub-slot. */
function looseSlotOp(a: Atom): Atom {
  return Atom.parse(a.toString().replace(/:([A-Za-z0-9+_.-]+)\/[A-Za-z0-9+_.-]+=/, ":$1="), "8");
}

function leaves(nodes: readonly DepNode<Atom>[], out: Atom[] = []): Atom[] {
  for (const n of nodes) {
    if (n.kind === "leaf") out.push(n.value);
    else leaves(n.children, out);
  }
  return out;
}

const refs = new WeakMap<Candidate, ReturnType<typeof makeRef>>();

/** A candidate as atoms match it (made once per candidate: the resolver matches each many times). */
export function ref(c: Candidate) {
  let r = refs.get(c);
  if (!r) refs.set(c, (r = makeRef(c)));
  return r;
}

function makeRef(c: Candidate) {
  return {
    category: c.category,
    package: c.package,
    version: c.version,
    slot: c.slot,
    subslot: c.subslot,
    repo: c.repo,
    use: c.use,
    iuse: new Set(c.iuse.map((f) => f.replace(/^[+-]/, ""))),
  };
}

export { BUILD };
