// Why no plan exists, as a short proof (PubGrub's derivations, libsolv's rule origins): the
// constraints of the problem each remember where they come from; when the whole is unsatisfiable, a
// minimal subset that is still unsatisfiable is found with selector variables (logic-solver has no
// unsatisfiable cores: each question is a `solveAssuming` over the selectors kept), and that subset
// is turned into numbered steps by propagation, each step one fact a user can check.
import type { Operand } from "logic-solver";
import type { Atom } from "../pms/atom.js";
import type { DepNode } from "../pms/depspec.js";
import type { Candidate, DepClass } from "./Candidate.js";
import type { RequestAtom } from "./resolve.js";

type LogicApi = (typeof import("logic-solver"))["default"];

/** Where a constraint of the problem comes from. */
export type Origin =
  /** An argument or set member: one of its matches is installed. */
  | { readonly kind: "request"; readonly request: RequestAtom }
  /** A (USE-reduced) top-level node of a package's dependency class: when the package is in, the node holds. */
  | { readonly kind: "dep"; readonly pkg: Candidate; readonly cls: DepClass; readonly node: DepNode<Atom> }
  /** One slot: at most one of its members; exactly one when an installed member stays (`keep`). */
  | { readonly kind: "slot"; readonly cp: string; readonly slot: string; readonly members: readonly Candidate[]; readonly keep: Candidate | undefined };

export interface Constraint {
  readonly origin: Origin;
  readonly formula: Operand;
}

/** What the explanation asks of the resolver: the same matching its clauses were made with. */
export interface ProblemView {
  /** The eligible candidates an atom matches (with the parent's USE for conditional USE deps). */
  matching(a: Atom, parent?: Candidate): readonly Candidate[];
  /** The candidates a blocker of `parent` excludes. */
  blocked(a: Atom, parent: Candidate): readonly Candidate[];
  /** Every candidate of a `category/PN`, eligible or not. */
  candidatesOf(cp: string): readonly Candidate[];
  eligible(c: Candidate): boolean;
  /** Whether a world atom selects an installed package. */
  inWorld(c: Candidate): boolean;
  idOf(c: Candidate): string;
}

export type FailureCode = "unsatisfied" | "masked" | "use-dep" | "required-use" | "slot-conflict" | "blocker" | "conflict" | "cycle";

/** One step of a derivation, before numbering: a constraint stated, and what it makes of a package. */
export interface Step {
  readonly id: number;
  /** The constraint this step states; none for a supposition. */
  readonly origin?: Origin;
  /** For a dependency step: the atom (or blocker) of the node the consequence comes from. */
  readonly atom?: Atom;
  /** The package the consequence is about. */
  readonly pkg?: Candidate;
  /**
   * `in`: pkg must be installed; `out`: pkg cannot be; `conflict`: the steps cited cannot all hold;
   * `suppose`: pkg is supposed installed (or, with `value` false, not) to see where it leads;
   * `fact`: the constraint alone (when no short argument was found).
   */
  readonly result: "in" | "out" | "conflict" | "suppose" | "fact";
  readonly value?: boolean;
  readonly refs: readonly number[];
  /** Packages the step names besides `pkg` (a slot's other member, the only match left…). */
  readonly others?: readonly Candidate[];
  /** The supposition (step id) this step holds under. */
  readonly under?: number;
  /** A sentence the step adds (a case the constraint alone does not tell). */
  readonly detail?: string;
}

export interface Explanation {
  readonly code: FailureCode;
  /** The steps, in order; refs point at earlier ids. The last one is the conclusion. */
  readonly steps: readonly Step[];
  /** The constraints of the minimal conflict (for tests and JSON). */
  readonly core: readonly Origin[];
  /** The request as a whole (the conclusion names what cannot be done). */
  readonly request: readonly RequestAtom[];
  /** The matching the steps were derived with (for rendering). */
  readonly view: ProblemView;
}

// ---------------------------------------------------------------------------------------------
// Evaluating constraints against a set of installed candidates (the solver's model)

function holdsNode(n: DepNode<Atom>, parent: Candidate, view: ProblemView, on: (c: Candidate) => boolean): boolean {
  switch (n.kind) {
    case "leaf":
      return n.value.blocker ? !view.blocked(n.value, parent).some(on) : view.matching(n.value, parent).some(on);
    case "any":
    case "exactlyOne":
    case "atMostOne":
      return n.children.some((x) => holdsNode(x, parent, view, on));
    default:
      return n.children.every((x) => holdsNode(x, parent, view, on));
  }
}

function holds(o: Origin, view: ProblemView, on: (c: Candidate) => boolean): boolean {
  switch (o.kind) {
    case "request":
      return view.matching(o.request.atom).some(on);
    case "dep":
      return !on(o.pkg) || holdsNode(o.node, o.pkg, view, on);
    case "slot": {
      const n = o.members.filter(on).length;
      return o.keep ? n === 1 : n <= 1;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A minimal unsatisfiable subset

/**
 * A small unsatisfiable subset of `constraints` (which together are unsatisfiable): grown from the
 * request by adding what each model of the subset breaks, then made minimal by QuickXplain with
 * selector variables: removing any one constraint of the answer makes it satisfiable.
 */
export function minimalConflict(Logic: LogicApi, constraints: readonly Constraint[], view: ProblemView, seed: readonly Candidate[] = []): Constraint[] {
  // 1. progression: a solver holding the constraints kept so far; its models point at the next ones
  const grow = new Logic.Solver();
  const kept = new Set<Constraint>();
  const byPkg = new Map<Candidate, Constraint[]>();
  const slots: Constraint[] = [];
  const keep = (k: Constraint) => {
    if (kept.has(k)) return;
    kept.add(k);
    grow.require(k.formula);
  };
  for (const k of constraints) {
    if (k.origin.kind === "request") keep(k);
    else if (k.origin.kind === "dep") byPkg.set(k.origin.pkg, [...(byPkg.get(k.origin.pkg) ?? []), k]);
    else slots.push(k);
  }
  // a seed (what a first attempt chose) spares the rounds that would find its constraints one level at a time
  const seeded = new Set(seed);
  for (const c of seeded) for (const k of byPkg.get(c) ?? []) keep(k);
  for (const k of slots) if (k.origin.kind === "slot" && k.origin.members.some((m) => seeded.has(m))) keep(k);
  const ids = new Map<string, Candidate>();
  for (const k of constraints) {
    if (k.origin.kind === "dep") ids.set(view.idOf(k.origin.pkg), k.origin.pkg);
    else if (k.origin.kind === "slot") for (const m of k.origin.members) ids.set(view.idOf(m), m);
  }
  for (let round = 0; ; round++) {
    const model = grow.solve();
    if (!model) break;
    const on = new Set(model.getTrueVars());
    const isOn = (c: Candidate) => on.has(view.idOf(c));
    let added = 0;
    for (const v of on) {
      const c = ids.get(v);
      if (!c) continue;
      for (const k of byPkg.get(c) ?? []) if (!kept.has(k) && !holds(k.origin, view, isOn)) keep(k), added++;
    }
    for (const k of slots) if (!kept.has(k) && !holds(k.origin, view, isOn)) keep(k), added++;
    // a model of the subset satisfies every constraint: the whole would be satisfiable
    if (!added) {
      for (const k of constraints) keep(k);
      if (grow.solve()) return constraints.slice();
      break;
    }
    if (round > 10_000) break;
  }
  // 2. QuickXplain (Junker, 2004) over the subset, with one selector per constraint
  const order = [...kept].sort((a, b) => rank(a.origin) - rank(b.origin));
  const q = new Logic.Solver();
  const sel = new Map<Constraint, string>();
  order.forEach((k, i) => {
    const s = `sel${i}`;
    sel.set(k, s);
    q.require(Logic.implies(s, k.formula));
  });
  const consistent = (set: readonly Constraint[]) => (set.length ? q.solveAssuming(Logic.and(set.map((k) => sel.get(k)!))) !== null : true);
  const qx = (background: Constraint[], delta: boolean, cs: Constraint[]): Constraint[] => {
    if (delta && !consistent(background)) return [];
    if (cs.length === 1) return cs;
    const half = Math.ceil(cs.length / 2);
    const c1 = cs.slice(0, half);
    const c2 = cs.slice(half);
    const d2 = qx([...background, ...c1], c1.length > 0, c2);
    const d1 = qx([...background, ...d2], d2.length > 0, c1);
    return [...d1, ...d2];
  };
  if (consistent(order)) return order;
  return qx([], false, order);
}

/** The order constraints are tried in: arguments first, so that the conflict names them. */
function rank(o: Origin): number {
  return o.kind === "request" ? 0 : o.kind === "slot" ? 2 : 1;
}

// ---------------------------------------------------------------------------------------------
// From a minimal conflict to numbered steps

type Value = { readonly value: boolean; readonly step: number };

class Propagation {
  readonly values = new Map<Candidate, Value>();
  conflict: number | undefined;

  constructor(readonly steps: Step[], readonly rules: readonly Origin[], readonly view: ProblemView, readonly under?: number) {}

  copy(under: number): Propagation {
    const p = new Propagation(this.steps, this.rules, this.view, under);
    for (const [k, v] of this.values) p.values.set(k, v);
    return p;
  }

  private add(s: Omit<Step, "id" | "under">): number {
    const id = this.steps.length;
    this.steps.push({ ...s, id, ...(this.under !== undefined ? { under: this.under } : {}) });
    return id;
  }

  val(c: Candidate): boolean | undefined {
    return this.values.get(c)?.value;
  }

  private set(c: Candidate, value: boolean, s: Omit<Step, "id" | "under" | "pkg" | "result">): void {
    const id = this.add({ ...s, pkg: c, result: value ? "in" : "out" });
    this.values.set(c, { value, step: id });
  }

  suppose(c: Candidate, value: boolean): void {
    const id = this.add({ pkg: c, result: "suppose", value, refs: [] });
    this.values.set(c, { value, step: id });
  }

  private refsOf(cs: readonly Candidate[]): number[] {
    return cs.map((c) => this.values.get(c)?.step).filter((x): x is number => x !== undefined);
  }

  /** What a node is under the values so far, and the steps that say so. */
  private status(n: DepNode<Atom>, parent: Candidate): { s: boolean | undefined; refs: number[] } {
    switch (n.kind) {
      case "leaf": {
        if (n.value.blocker) {
          const b = this.view.blocked(n.value, parent);
          const hit = b.find((c) => this.val(c) === true);
          if (hit) return { s: false, refs: this.refsOf([hit]) };
          return { s: b.every((c) => this.val(c) === false) ? true : undefined, refs: this.refsOf(b) };
        }
        const m = this.view.matching(n.value, parent);
        const yes = m.find((c) => this.val(c) === true);
        if (yes) return { s: true, refs: this.refsOf([yes]) };
        return { s: m.every((c) => this.val(c) === false) ? false : undefined, refs: this.refsOf(m) };
      }
      case "any":
      case "exactlyOne":
      case "atMostOne": {
        const xs = n.children.map((x) => this.status(x, parent));
        if (xs.some((x) => x.s === true)) return { s: true, refs: xs.find((x) => x.s === true)!.refs };
        return { s: xs.every((x) => x.s === false) ? false : undefined, refs: xs.flatMap((x) => x.refs) };
      }
      default: {
        const xs = n.children.map((x) => this.status(x, parent));
        const no = xs.find((x) => x.s === false);
        if (no) return { s: false, refs: no.refs };
        return { s: xs.every((x) => x.s === true) ? true : undefined, refs: xs.flatMap((x) => x.refs) };
      }
    }
  }

  /** A node that must hold (its package is in): what it forces. Returns whether anything changed. */
  private force(o: Origin & { kind: "dep" }, n: DepNode<Atom>, ref: number): boolean {
    const parent = o.pkg;
    switch (n.kind) {
      case "leaf": {
        const a = n.value;
        if (a.blocker) {
          for (const b of this.view.blocked(a, parent)) {
            const v = this.val(b);
            if (v === true) {
              this.conflict = this.add({ origin: o, atom: a, pkg: b, result: "conflict", refs: [ref, this.values.get(b)!.step] });
              return true;
            }
            if (v === undefined) {
              this.set(b, false, { origin: o, atom: a, refs: [ref], others: [parent] });
              return true;
            }
          }
          return false;
        }
        const m = this.view.matching(a, parent);
        if (m.some((c) => this.val(c) === true)) return false;
        const open = m.filter((c) => this.val(c) === undefined);
        if (open.length === 0) {
          this.conflict = this.add({ origin: o, atom: a, pkg: parent, result: "conflict", refs: [ref, ...this.refsOf(m)] });
          return true;
        }
        if (open.length === 1) {
          this.set(open[0]!, true, { origin: o, atom: a, refs: [ref, ...this.refsOf(m)], others: [parent] });
          return true;
        }
        return false;
      }
      case "any":
      case "exactlyOne":
      case "atMostOne": {
        const xs = n.children.map((x) => ({ x, st: this.status(x, parent) }));
        if (xs.some((x) => x.st.s === true)) return false;
        const open = xs.filter((x) => x.st.s === undefined);
        if (open.length === 0) {
          this.conflict = this.add({ origin: o, pkg: parent, result: "conflict", refs: [ref, ...xs.flatMap((x) => x.st.refs)] });
          return true;
        }
        if (open.length === 1) return this.force(o, open[0]!.x, ref);
        return false;
      }
      default:
        for (const x of n.children) if (this.force(o, x, ref) || this.conflict !== undefined) return true;
        return false;
    }
  }

  private leafAtom(n: DepNode<Atom>): Atom | undefined {
    return n.kind === "leaf" ? n.value : undefined;
  }

  /** Apply every rule until nothing changes or a conflict shows. */
  run(): void {
    for (let changed = true; changed && this.conflict === undefined; ) {
      changed = false;
      for (const o of this.rules) {
        if (this.conflict !== undefined) return;
        if (this.step(o)) changed = true;
      }
    }
  }

  private step(o: Origin): boolean {
    const v = this.view;
    switch (o.kind) {
      case "request": {
        const m = v.matching(o.request.atom);
        if (m.some((c) => this.val(c) === true)) return false;
        const open = m.filter((c) => this.val(c) === undefined);
        if (open.length === 0) {
          this.conflict = this.add({ origin: o, result: "conflict", refs: this.refsOf(m) });
          return true;
        }
        if (open.length === 1) {
          this.set(open[0]!, true, { origin: o, refs: this.refsOf(m) });
          return true;
        }
        return false;
      }
      case "dep": {
        const pv = this.val(o.pkg);
        if (pv === false) return false;
        const st = this.status(o.node, o.pkg);
        if (st.s === true) return false;
        if (st.s === false) {
          const blocked = this.leafAtom(o.node)?.blocker ? this.view.blocked(this.leafAtom(o.node)!, o.pkg).filter((c) => this.val(c) === true) : [];
          if (pv === true) {
            this.conflict = this.add({ origin: o, atom: this.leafAtom(o.node), pkg: o.pkg, result: "conflict", refs: [this.values.get(o.pkg)!.step, ...st.refs], others: blocked });
            return true;
          }
          this.set(o.pkg, false, { origin: o, atom: this.leafAtom(o.node), refs: st.refs, others: blocked });
          return true;
        }
        if (pv === true) return this.force(o, o.node, this.values.get(o.pkg)!.step);
        return false;
      }
      case "slot": {
        const inside = o.members.filter((c) => this.val(c) === true);
        if (inside.length > 1) {
          this.conflict = this.add({ origin: o, pkg: inside[1], others: [inside[0]!], result: "conflict", refs: this.refsOf(inside) });
          return true;
        }
        if (inside.length === 1) {
          const other = o.members.find((c) => c !== inside[0] && this.val(c) === undefined);
          if (!other) return false;
          this.set(other, false, { origin: o, refs: this.refsOf(inside), others: inside });
          return true;
        }
        if (o.keep) {
          const open = o.members.filter((c) => this.val(c) === undefined);
          if (open.length === 0) {
            this.conflict = this.add({ origin: o, result: "conflict", refs: this.refsOf(o.members) });
            return true;
          }
          if (open.length === 1) {
            this.set(open[0]!, true, { origin: o, refs: this.refsOf(o.members) });
            return true;
          }
        }
        return false;
      }
    }
  }
}

/** The packages a rule speaks of: what a supposition may be about. */
function packagesOf(o: Origin, view: ProblemView): Candidate[] {
  switch (o.kind) {
    case "request":
      return [...view.matching(o.request.atom)];
    case "dep":
      return [o.pkg];
    case "slot":
      return [...o.members];
  }
}

/**
 * Numbered steps from a minimal conflict: propagation first; when it stops short, a supposition
 * about one package (installed, or not) that leads to a contradiction rules it out, and propagation
 * goes on. Only the steps the conclusion rests on are kept.
 */
export function derive(core: readonly Origin[], view: ProblemView, request: readonly RequestAtom[]): Explanation {
  const steps: Step[] = [];
  const main = new Propagation(steps, core, view);
  main.run();
  const tried = new Set<string>();
  while (main.conflict === undefined) {
    let progress = false;
    for (const c of [...new Set(core.flatMap((o) => packagesOf(o, view)))]) {
      if (main.val(c) !== undefined) continue;
      for (const value of [true, false]) {
        const key = `${view.idOf(c)}:${value}:${main.values.size}`;
        if (tried.has(key)) continue;
        tried.add(key);
        const mark = steps.length;
        const supposition = mark;
        const trial = main.copy(supposition);
        trial.suppose(c, value);
        trial.run();
        if (trial.conflict === undefined) {
          steps.length = mark;
          continue;
        }
        // the supposition fails: the opposite holds
        const id = steps.length;
        steps.push({ id, pkg: c, result: value ? "out" : "in", refs: [trial.conflict] });
        main.values.set(c, { value: !value, step: id });
        progress = true;
        break;
      }
      if (progress) break;
    }
    if (!progress) break;
    main.run();
  }
  if (main.conflict === undefined) {
    // no short argument found: the facts themselves, which cannot all hold
    const facts = core.map((o, i) => ({ id: i, origin: o, result: "fact" as const, refs: [] }));
    return { code: codeOf(core, view), steps: [...facts, { id: core.length, result: "conflict", refs: facts.map((f) => f.id) }], core, request, view };
  }
  // keep what the conclusion rests on
  const needed = new Set<number>();
  const visit = (id: number) => {
    if (needed.has(id)) return;
    needed.add(id);
    const s = steps[id]!;
    for (const r of s.refs) visit(r);
    if (s.under !== undefined) visit(s.under);
  };
  visit(main.conflict);
  const kept = steps.filter((s) => needed.has(s.id));
  return { code: codeOf(core, view, steps[main.conflict]), steps: kept, core, request, view };
}

/** The failure class of a conflict (emerge spec §13.6 codes), from what its constraints are. */
function codeOf(core: readonly Origin[], view: ProblemView, last?: Step): FailureCode {
  const atoms: { a: Atom; parent?: Candidate }[] = [];
  const walk = (n: DepNode<Atom>, parent: Candidate) => {
    if (n.kind === "leaf") atoms.push({ a: n.value, parent });
    else n.children.forEach((x) => walk(x, parent));
  };
  for (const o of core) {
    if (o.kind === "request") atoms.push({ a: o.request.atom });
    if (o.kind === "dep") walk(o.node, o.pkg);
  }
  if (atoms.some((x) => x.a.blocker)) return "blocker";
  // two packages in one slot, whether one of them is installed or not
  if (core.some((o) => o.kind === "slot" && !o.keep) || (last?.origin?.kind === "slot" && last.others?.length)) return "slot-conflict";
  const excluded = atoms.filter((x) => !x.a.blocker).flatMap((x) => view.candidatesOf(x.a.cp).filter((c) => x.a.matchesIgnoringUse(refOf(c)) && !view.matching(x.a, x.parent).includes(c)).map((c) => ({ c, x })));
  if (atoms.some((x) => !x.a.blocker && view.candidatesOf(x.a.cp).filter((c) => x.a.matchesIgnoringUse(refOf(c))).length === 0)) return "unsatisfied";
  if (excluded.some(({ c }) => !view.eligible(c) && c.masks.some((m) => m.startsWith("REQUIRED_USE")))) return "required-use";
  if (excluded.some(({ c }) => view.eligible(c))) return "use-dep";
  if (excluded.length) return "masked";
  if (core.some((o) => o.kind === "slot")) return "slot-conflict";
  return "conflict";
}

const refs = new WeakMap<Candidate, { category: string; package: string; version: Candidate["version"]; slot: string; subslot: string; repo: string; use: ReadonlySet<string>; iuse: ReadonlySet<string> }>();

/** A candidate as atoms match it. */
export function refOf(c: Candidate) {
  let r = refs.get(c);
  if (!r) refs.set(c, (r = { category: c.category, package: c.package, version: c.version, slot: c.slot, subslot: c.subslot, repo: c.repo, use: c.use, iuse: new Set(c.iuse.map((f) => f.replace(/^[+-]/, ""))) }));
  return r;
}

/** A short phrase for the headline, from the conflict a derivation ends on (slots and blockers). */
export function conflictSummary(x: Explanation): string | undefined {
  const last = x.steps[x.steps.length - 1];
  if (!last || last.result !== "conflict" || !last.origin) return undefined;
  const o = last.origin;
  if (o.kind === "slot" && last.pkg && last.others?.[0]) return `${last.others[0].cpv} and ${last.pkg.cpv} would both take slot ${o.cp}:${o.slot}`;
  if (o.kind === "slot" && o.keep) return `the installed ${o.keep.cpv} could neither stay nor be replaced`;
  if (o.kind === "dep" && last.atom?.blocker && last.pkg) return `${o.pkg.cpv} blocks ${last.pkg.cpv} ("${last.atom.toString()}")`;
  const blocked = x.steps.find((s) => s.origin?.kind === "dep" && s.atom?.blocker);
  if (blocked && blocked.origin?.kind === "dep" && blocked.pkg) return `${blocked.origin.pkg.cpv} blocks ${blocked.pkg === blocked.origin.pkg ? blocked.atom!.toString().replace(/^!+/, "") : blocked.pkg.cpv} ("${blocked.atom!.toString()}")`;
  const slot = x.core.find((c) => c.kind === "slot" && !c.keep);
  if (slot?.kind === "slot") return `two packages would take slot ${slot.cp}:${slot.slot}`;
  return undefined;
}
