// Autounmask (emerge spec §9): when no plan exists as configured, the smallest change of
// configuration that makes one, in emerge's order of preference — USE changes, then licences, then
// unstable and missing keywords, then unmasks — and the lines that would make it, with the chain of
// `# required by` comments that says who needs each.
import { Atom, useDepWant } from "../pms/atom.js";
import { checkRequiredUse, parseRequiredUse } from "../pms/depspec.js";
import { COMMAND_LINE_EAPI, eapiFeatures } from "../pms/eapi.js";
import { compareVersions } from "../pms/version.js";
import type { Candidate, CandidateSource, ConfigChange, MaskDetail } from "./Candidate.js";
import { refOf } from "./explain.js";
import { conditionsOfAtom } from "./explainText.js";
import { type RequestAtom, ResolveFailure, Resolver, type ResolveOptions, type Selection } from "./resolve.js";

/** Which kinds of change autounmask may propose (emerge spec §1.6). */
export interface AutounmaskPolicy {
  readonly use: boolean;
  readonly license: boolean;
  /** `~arch` keywords. */
  readonly unstable: boolean;
  /** `**` (no keyword at all) and package.unmask. */
  readonly masks: boolean;
}

/** One level of emerge spec §9.1: the kinds of change allowed together. */
export interface Level {
  readonly use: boolean;
  readonly license: boolean;
  readonly unstable: boolean;
  readonly missing: boolean;
  readonly unmask: boolean;
}

/** The levels of emerge spec §9.1 in order, each reduced to the kinds the policy allows; repeats dropped. */
export function levelsOf(p: AutounmaskPolicy): Level[] {
  const raw: [boolean, boolean, boolean, boolean][] = [
    // license, unstable, missing keyword, unmask (USE always, when allowed)
    [false, false, false, false],
    [true, false, false, false],
    [true, true, false, false],
    [true, true, true, false],
    [true, false, false, true],
    [true, true, false, true],
    [true, true, true, true],
  ];
  const out: Level[] = [];
  for (const [license, unstable, missing, unmask] of raw) {
    const l: Level = { use: p.use, license: license && p.license, unstable: unstable && p.unstable, missing: missing && p.masks && p.unstable, unmask: unmask && p.masks };
    if (!out.some((x) => JSON.stringify(x) === JSON.stringify(l))) out.push(l);
  }
  return out.filter((l) => l.use || l.license || l.unstable || l.missing || l.unmask);
}

/** The changes that lift every mask of a candidate at a level, or undefined when one cannot be lifted. */
export function liftable(details: readonly MaskDetail[], l: Level): ConfigChange[] | undefined {
  if (!details.length) return undefined;
  const out: ConfigChange[] = [];
  for (const d of details) {
    if (d.kind === "keyword") {
      if (d.hint === undefined) return undefined;
      if (d.hint === "**" ? !l.missing : !l.unstable) return undefined;
      out.push({ kind: "keyword", keyword: d.hint });
    } else if (d.kind === "package.mask") {
      if (!l.unmask) return undefined;
      out.push({ kind: "unmask", file: d.file, line: d.line, comments: d.comments });
    } else if (d.kind === "license") {
      if (!l.license) return undefined;
      out.push({ kind: "license", licenses: d.licenses });
    } else return undefined;
  }
  return out;
}

/** What autounmask needs to know beyond the candidates. */
export interface AutounmaskFacts {
  masks(c: Candidate): readonly MaskDetail[];
  requiredUse(c: Candidate): string;
}

/** The configuration changes recorded for one ebuild: masks lifted, flags set. */
interface Pending {
  lift?: ConfigChange[];
  flags?: Record<string, boolean>;
}

const keyOf = (c: Candidate) => `${c.cpv}::${c.repo}`;

/** Each changed candidate and the candidate as the configuration has it. */
const originals = new WeakMap<Candidate, Candidate>();
const original = (c: Candidate) => originals.get(c) ?? c;

/** The flags a USE dependency needs of `b` (which it matches but for them), or undefined when no change can do. */
export function flagsNeeded(a: Atom, b: Candidate, parent: Candidate | undefined): Record<string, boolean> | undefined {
  const iuse = refOf(b).iuse;
  const out: Record<string, boolean> = {};
  for (const d of a.useDeps) {
    const parentHas = parent?.use.has(d.flag) ?? false;
    const want = useDepWant(d, parentHas);
    if (want === undefined) continue;
    if (!iuse.has(d.flag)) {
      // `(+)`/`(-)` defaults are what they are: no change makes them otherwise
      if (d.missing === undefined || (d.missing === "+") !== want) return undefined;
      continue;
    }
    if (b.use.has(d.flag) === want) continue;
    // a forced or masked flag cannot be changed by package.use (emerge spec §9.1)
    if ((want && b.useState.masked.includes(d.flag)) || (!want && b.useState.forced.includes(d.flag))) return undefined;
    out[d.flag] = want;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The changes the conflict of a failure names at a level, added to `pending`: the masks of the
 * versions its atoms (and the slots that keep an installed package) exclude, when the level may lift
 * them all; the flags its USE dependencies need. Returns whether anything was added.
 */
function collect(f: ResolveFailure, l: Level, facts: AutounmaskFacts, pending: Map<string, Pending>): boolean {
  const x = f.explanation;
  if (!x) return false;
  const view = x.view;
  let added = false;
  const lift = (c: Candidate) => {
    const o = original(c);
    if (o.source !== "ebuild" || !o.masks.length) return;
    const p = pending.get(keyOf(o)) ?? {};
    if (p.lift) return;
    const changes = liftable(facts.masks(o), l);
    if (!changes) return;
    pending.set(keyOf(o), { ...p, lift: changes });
    added = true;
  };
  const atoms: { a: Atom; parent?: Candidate }[] = [];
  const walk = (n: import("../pms/depspec.js").DepNode<Atom>, parent: Candidate) => (n.kind === "leaf" ? atoms.push({ a: n.value, parent }) : n.children.forEach((y) => walk(y, parent)));
  for (const o of x.core) {
    if (o.kind === "request") atoms.push({ a: o.request.atom });
    else if (o.kind === "dep") walk(o.node, o.pkg);
    else if (o.keep) for (const c of view.candidatesOf(o.cp)) if (c.slot === o.slot && !view.eligible(c)) lift(c);
  }
  for (const { a, parent } of atoms) {
    if (a.blocker) continue;
    const ok = new Set(view.matching(a, parent));
    for (const c of view.candidatesOf(a.cp)) {
      if (ok.has(c) || !a.matchesIgnoringUse(refOf(c))) continue;
      if (!view.eligible(c)) {
        lift(c);
        continue;
      }
      if (!l.use) continue;
      // an installed package whose USE does not do: its ebuild, rebuilt with the flags
      const target = c.source === "ebuild" ? c : view.candidatesOf(a.cp).find((e) => e.source === "ebuild" && e.cpv === c.cpv && view.eligible(e));
      if (!target) continue;
      const need = flagsNeeded(a, target, parent);
      if (!need) continue;
      const key = keyOf(original(target));
      const p = pending.get(key) ?? {};
      const flags = { ...(p.flags ?? {}) };
      let fresh = false;
      let clash = false;
      for (const [flag, on] of Object.entries(need)) {
        if (flag in flags) clash ||= flags[flag] !== on;
        else (flags[flag] = on), (fresh = true);
      }
      if (clash || !fresh) continue;
      pending.set(key, { ...p, flags });
      added = true;
    }
  }
  return added;
}

/** A candidate with the recorded changes applied: masks lifted, flags set (masked if its REQUIRED_USE then breaks). */
function applied(c: Candidate, p: Pending, facts: AutounmaskFacts): Candidate {
  const changes: ConfigChange[] = [...(p.lift ?? [])];
  let r: Candidate = c;
  if (p.lift) {
    const marker = p.lift.some((x) => x.kind === "unmask") ? "#" : p.lift.some((x) => x.kind === "keyword" && x.keyword === "**") ? "*" : p.lift.some((x) => x.kind === "keyword") ? "~" : c.maskMarker;
    r = { ...r, masks: [], maskMarker: marker };
  }
  if (p.flags) {
    const use = new Set(r.use);
    for (const [f, on] of Object.entries(p.flags)) on ? use.add(f) : use.delete(f);
    const names = r.iuse.map((f) => f.replace(/^[+-]/, ""));
    const masks = [...r.masks];
    const ru = facts.requiredUse(c);
    if (ru.trim()) {
      try {
        const broken = checkRequiredUse(parseRequiredUse(ru, eapiFeatures(c.eapi) ?? eapiFeatures("8")!), use);
        if (broken) masks.push(`REQUIRED_USE "${broken}" would not hold with the USE change`);
      } catch {
        masks.push("REQUIRED_USE cannot be read");
      }
    }
    r = { ...r, use, masks, useState: { ...r.useState, enabled: names.filter((f) => use.has(f)).sort(), disabled: names.filter((f) => !use.has(f)).sort() } };
    changes.push({ kind: "use", flags: p.flags });
  }
  r = { ...r, autounmask: changes };
  originals.set(r, c);
  return r;
}

/** The sources of a failed resolution again, with the recorded changes applied (what was read is not read twice). */
class ChangedSource implements CandidateSource {
  private readonly memo = new Map<Candidate, Candidate>();

  constructor(private readonly inner: readonly CandidateSource[], private readonly known: ReadonlyMap<string, readonly Candidate[]>, private readonly pending: ReadonlyMap<string, Pending>, private readonly facts: AutounmaskFacts) {}

  async prefetch(cps: readonly string[]): Promise<void> {
    const todo = cps.filter((cp) => !this.known.has(cp));
    if (todo.length) await Promise.all(this.inner.map((s) => s.prefetch?.(todo)));
  }

  async candidates(cp: string): Promise<readonly Candidate[]> {
    const base = this.known.get(cp) ?? (await Promise.all(this.inner.map((s) => s.candidates(cp)))).flat();
    return base.map((c) => {
      const p = c.source === "ebuild" ? this.pending.get(keyOf(c)) : undefined;
      if (!p) return c;
      let r = this.memo.get(c);
      if (!r) this.memo.set(c, (r = applied(c, p, this.facts)));
      return r;
    });
  }

  blockersOf(cp: string): readonly string[] {
    return [...new Set(this.inner.flatMap((s) => s.blockersOf?.(cp) ?? []))];
  }
}

/** One proposed change, ready to print and write (emerge spec §9.2, §13.7). */
export interface Suggestion {
  readonly kind: "keyword" | "unmask" | "use" | "license";
  /** The file under /etc/portage it goes to. */
  readonly file: "package.accept_keywords" | "package.unmask" | "package.use" | "package.license";
  readonly pkg: Candidate;
  /** The configuration line. */
  readonly line: string;
  /** `# required by …` lines (and, for an unmask, the mask file and its comment first). */
  readonly comments: readonly string[];
  /** The chain of packages and the argument (for JSON). */
  readonly requiredBy: readonly string[];
}

export interface AutounmaskResult {
  readonly level: Level;
  readonly selection: Selection;
  /** The resolver of the relaxed run (what the plan that follows was made with). */
  readonly resolver: Resolver;
  readonly suggestions: readonly Suggestion[];
}

export interface SuggestOptions {
  /** --autounmask-unrestricted-atoms: `>=` atoms for keyword and mask changes too when possible. */
  readonly unrestrictedAtoms?: boolean;
  /** The arguments as typed (to name `@world` when a set member's chain reaches it). */
  readonly typed?: readonly string[];
}

/**
 * The smallest change that makes a plan (emerge spec §9.1): level by level, the changes the
 * failure's conflict names are applied and the request resolved again — a new conflict adds its
 * own changes, a few rounds at most. The first level that yields a plan gives the suggestions;
 * undefined when none does (the failure's own explanation then stands).
 */
export async function autounmask(f: ResolveFailure, sources: readonly CandidateSource[], request: readonly RequestAtom[], opts: ResolveOptions, policy: AutounmaskPolicy, facts: AutounmaskFacts, how: SuggestOptions = {}): Promise<AutounmaskResult | undefined> {
  const known = f.universe ?? new Map<string, readonly Candidate[]>();
  for (const level of levelsOf(policy)) {
    const pending = new Map<string, Pending>();
    let failure = f;
    for (let round = 0; round < 6 && collect(failure, level, facts, pending); round++) {
      const resolver = new Resolver([new ChangedSource(sources, known, pending, facts)], opts);
      try {
        const selection = await resolver.resolve(request);
        return { level, selection, resolver, suggestions: suggestionsOf(selection, known, how) };
      } catch (e) {
        if (!(e instanceof ResolveFailure)) throw e;
        failure = e;
      }
    }
  }
  return undefined;
}

const FILES = { keyword: "package.accept_keywords", unmask: "package.unmask", use: "package.use", license: "package.license" } as const;
const ORDER = ["keyword", "unmask", "use", "license"] as const;

/**
 * The atom of a proposed line (emerge spec §9.2): `>=cpv` when no higher version exists (among
 * visible ones when `visibleOnly`), else `>=cpv:SLOT` when none is higher in its slot, else `=cpv`.
 */
function atomFor(c: Candidate, known: ReadonlyMap<string, readonly Candidate[]>, visibleOnly: boolean): string {
  const others = (known.get(`${c.category}/${c.package}`) ?? []).filter((x) => x.source === "ebuild" && (!visibleOnly || x.masks.length === 0) && compareVersions(x.version, c.version) > 0);
  if (!others.length) return `>=${c.cpv}`;
  if (!others.some((x) => x.slot === c.slot)) return `>=${c.cpv}:${c.slot}`;
  return `=${c.cpv}`;
}

/**
 * The `# required by` chain of a package in a selection (emerge spec §9.2), from its parent up to the
 * argument: at each step a parent being merged if there is one, else the argument or set. `first`
 * picks the first parent (for a USE change: one whose atom the configured USE does not satisfy).
 */
function requiredBy(sel: Selection, c: Candidate, first: ((r: { by: string; atom: string }) => boolean) | undefined, typed: readonly string[]): { comments: string[]; names: string[] } {
  const byCpv = new Map(sel.chosen.map((x) => [x.cpv, x] as const));
  const comments: string[] = [];
  const names: string[] = [];
  const seen = new Set<Candidate>([c]);
  for (let cur = c, pick = first; ; pick = undefined) {
    const reasons = sel.reasons.get(cur) ?? [];
    const deps = reasons.filter((r): r is Extract<typeof r, { kind: "dependency" }> => r.kind === "dependency" && byCpv.has(r.by) && !seen.has(byCpv.get(r.by)!));
    const dep = (pick && deps.find(pick)) ?? deps.find((r) => byCpv.get(r.by)!.source === "ebuild") ?? (reasons.some((r) => r.kind === "requested") ? undefined : deps[0]);
    if (!dep) {
      const req = reasons.find((r): r is Extract<typeof r, { kind: "requested" }> => r.kind === "requested");
      if (!req) break;
      if (req.set && req.arg === `@${req.set}` && (req.set === "selected" || req.set === "system") && typed.includes("@world")) {
        comments.push(`# required by @${req.set}`, "# required by @world (argument)");
        names.push(`@${req.set}`, "@world");
      } else {
        comments.push(`# required by ${req.arg} (argument)`);
        names.push(req.arg);
      }
      break;
    }
    const parent = byCpv.get(dep.by)!;
    // the parent's flags that decide whether the dependency exists (masked and forced ones left out)
    const flags = conditionsOfAtom(parent, dep.class, dep.atom).filter((f) => !parent.useState.forced.includes(f.replace(/^-/, "")) && !parent.useState.masked.includes(f.replace(/^-/, "")));
    comments.push(`# required by ${parent.cpv}::${parent.repo}${flags.length ? `[${flags.join(",")}]` : ""}`);
    names.push(parent.cpv);
    seen.add(parent);
    cur = parent;
  }
  return { comments, names };
}

/** The suggestions of a relaxed plan: one per change of each package that ends up in it, in display order. */
export function suggestionsOf(sel: Selection, known: ReadonlyMap<string, readonly Candidate[]>, how: SuggestOptions = {}): Suggestion[] {
  const out: Suggestion[] = [];
  const typed = how.typed ?? [];
  for (const c of sel.chosen) {
    for (const ch of c.autounmask ?? []) {
      const configured = original(c);
      let line: string;
      let pre: string[] = [];
      let first: ((r: { by: string; atom: string }) => boolean) | undefined;
      if (ch.kind === "use") {
        // the chain starts at a parent whose atom the configured USE does not satisfy
        first = (r) => {
          const a = Atom.tryParse(r.atom, COMMAND_LINE_EAPI);
          const parent = sel.chosen.find((x) => x.cpv === r.by);
          return !!a && !a.matches(refOf(configured), parent?.use);
        };
        line = `${atomFor(c, known, true)} ${Object.entries(ch.flags).map(([f, on]) => (on ? f : `-${f}`)).join(" ")}`;
      } else if (ch.kind === "license") line = `${atomFor(c, known, false)} ${[...ch.licenses].sort().join(" ")}`;
      else {
        const atom = how.unrestrictedAtoms ? atomFor(c, known, false) : `=${c.cpv}`;
        if (ch.kind === "keyword") line = `${atom} ${ch.keyword}`;
        else {
          line = atom;
          pre = [`# ${ch.file}:`, ...ch.comments.map((x) => `# ${x}`)];
        }
      }
      const chain = requiredBy(sel, c, first, typed);
      out.push({ kind: ch.kind, file: FILES[ch.kind], pkg: c, line, comments: [...pre, ...chain.comments], requiredBy: chain.names });
    }
  }
  return out.sort((x, y) => ORDER.indexOf(x.kind) - ORDER.indexOf(y.kind) || (x.pkg.cpv < y.pkg.cpv ? -1 : x.pkg.cpv > y.pkg.cpv ? 1 : 0));
}
