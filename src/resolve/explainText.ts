// An explanation as numbered lines and as the JSON `failure.chain` (emerge spec §11, §13.6): each
// line one fact a user can check (a package's dependency with its class and the USE flag that
// switched it on, what excludes a version with the file and line, a slot, a blocker) and what it
// makes of a package, citing the earlier lines it rests on. Facts a stage below resolve/ knows
// (mask files, ebuild paths, where a USE flag comes from, names that exist) come through
// `ExplainFacts`; without them the candidates' own mask sentences are used.
import { type Atom, useDepWant } from "../pms/atom.js";
import { type DepNode, formatSpec, parseDependencies, reduce } from "../pms/depspec.js";
import { eapiFeatures } from "../pms/eapi.js";
import { compareVersions } from "../pms/version.js";
import type { Candidate, DepClass, MaskDetail } from "./Candidate.js";
import { type Explanation, type Origin, refOf, type Step } from "./explain.js";

export interface ExplainFacts {
  /** Why a candidate is masked, as data. */
  masks?(c: Candidate): readonly MaskDetail[];
  /** Where a package's dependencies are written: the ebuild, or the installed package's vdb directory. */
  sourceOf?(c: Candidate): string | undefined;
  /** Where the state of a USE flag of a package comes from: `file:line`, `make.conf: USE`… */
  useOrigin?(c: Candidate, flag: string): string | undefined;
  /** Package names close to one that does not exist. */
  similar?(cp: string): readonly string[];
  /** The world file entry that selects an installed package, as `file:line`. */
  worldEntry?(c: Candidate): string | undefined;
}

/** One numbered line, structured (the JSON `failure.chain` element). */
export interface ChainStep {
  readonly n: number;
  readonly kind: "argument" | "dependency" | "blocker" | "slot" | "installed" | "masked" | "use" | "missing" | "suppose" | "derived" | "conclusion";
  readonly text: string;
  /** The earlier lines this one rests on. */
  readonly refs: readonly number[];
  readonly argument?: string;
  readonly set?: string | null;
  readonly package?: string;
  readonly repo?: string;
  readonly type?: "ebuild" | "installed";
  readonly class?: DepClass;
  readonly atom?: string;
  /** The parent's USE flags that switch the dependency on (`-f`: off). */
  readonly use?: readonly string[];
  /** Where the fact comes from: `<ebuild>:<CLASS>`, a configuration `file:line`… */
  readonly decided_by?: string;
  /** What the line concludes about a package: `in` must be installed, `out` cannot be. */
  readonly result?: "in" | "out" | "conflict";
  readonly subject?: string;
  readonly masks?: readonly MaskDetail[];
}

export interface RenderedExplanation {
  /** The numbered lines (`  1. …`). */
  readonly lines: readonly string[];
  readonly chain: readonly ChainStep[];
}

const label = (c: Candidate) => `${c.cpv}::${c.repo}${c.source === "installed" ? " (installed)" : ""}`;

/** `||` written any-of, `^^` exactly-one-of, `??` at-most-one-of (emerge spec §11.5). */
export function readableRequiredUse(text: string): string {
  return text.replace(/\|\|/g, "any-of").replace(/\^\^/g, "exactly-one-of").replace(/\?\?/g, "at-most-one-of");
}

/** The flags a REQUIRED_USE expression names, each with its state: `a off, b on`. */
function flagStates(expression: string, use: readonly string[]): string {
  const names = [...new Set(expression.split(/[\s()?]+/).map((t) => t.replace(/^!/, "")).filter((t) => t && !["any-of", "exactly-one-of", "at-most-one-of"].includes(t)))];
  return names.map((f) => `${f} ${use.includes(f) ? "on" : "off"}`).join(", ");
}

/** A mask as words: what excludes the version, with the file and line or the setting in force. */
export function maskText(m: MaskDetail): string {
  switch (m.kind) {
    case "package.mask":
      return `masked by ${m.file}:${m.line} (${m.atom})${m.comments.length ? `, "${m.comments.join(" ")}"` : ""}`;
    case "keyword":
      return m.hint === undefined
        ? `keywords refused: ${m.detail}`
        : `keywords: KEYWORDS="${m.keywords.join(" ")}" has nothing ACCEPT_KEYWORDS="${m.accepted.join(" ")}" accepts${m.hint ? ` (${m.hint} would let it in)` : ""}`;
    case "license":
      return `licence: ${m.licenses.join(" ")} is not accepted (ACCEPT_LICENSE)`;
    case "required-use": {
      const expr = readableRequiredUse(m.unsatisfied);
      return `REQUIRED_USE: ${expr} does not hold with ${flagStates(expr, m.use) || `USE="${m.use.join(" ")}"`}${m.unsatisfied !== m.expression ? ` (all of it: ${readableRequiredUse(m.expression)})` : ""}`;
    }
    case "other":
      return m.text;
  }
}

/** A package's dependency class parsed, when it has USE conditionals to look through (undefined otherwise, or unreadable). */
function conditionalDeps(c: Candidate, cls: DepClass): DepNode<Atom>[] | undefined {
  const text = c.deps[cls];
  if (!text?.includes("?")) return undefined;
  try {
    return parseDependencies(text, eapiFeatures(c.eapi) ?? eapiFeatures("8")!);
  } catch {
    return undefined;
  }
}

/** The USE conditionals that enclose a (reduced) node in a package's dependency string: `flag` or `-flag`. */
export function conditionsOf(c: Candidate, cls: DepClass, node: DepNode<Atom>): string[] {
  const parsed = conditionalDeps(c, cls);
  if (!parsed) return [];
  const want = formatSpec([node]);
  const found: string[][] = [];
  const walk = (ns: readonly DepNode<Atom>[], conds: string[]) => {
    for (const n of ns) {
      if (found.length) return;
      if (n.kind === "use") {
        if (c.use.has(n.flag) !== n.negated) walk(n.children, [...conds, `${n.negated ? "-" : ""}${n.flag}`]);
        continue;
      }
      if (formatSpec(reduce([n], c.use)) === want) {
        found.push(conds);
        return;
      }
      if (n.kind === "all") walk(n.children, conds);
    }
  };
  walk(parsed, []);
  return found[0] ?? [];
}

/** The USE conditionals (`flag`, `-flag`) under which an atom appears in a package's dependency class, groups included. */
export function conditionsOfAtom(c: Candidate, cls: DepClass, atom: string): string[] {
  const parsed = conditionalDeps(c, cls);
  if (!parsed) return [];
  let found: string[] | undefined;
  const walk = (ns: readonly DepNode<Atom>[], conds: string[]) => {
    for (const n of ns) {
      if (found) return;
      if (n.kind === "leaf") {
        if (n.value.toString() === atom) found = conds;
      } else if (n.kind === "use") {
        if (c.use.has(n.flag) !== n.negated) walk(n.children, [...conds, `${n.negated ? "-" : ""}${n.flag}`]);
      } else walk(n.children, conds);
    }
  };
  walk(parsed, []);
  return found ?? [];
}

/** Why a candidate that an atom names by version and slot does not satisfy it: its USE. */
function useMismatch(a: Atom, c: Candidate, parent: Candidate | undefined): string[] {
  const iuse = refOf(c).iuse;
  const out: string[] = [];
  for (const d of a.useDeps) {
    const has = iuse.has(d.flag) ? c.use.has(d.flag) : d.missing === undefined ? undefined : d.missing === "+";
    const parentHas = parent?.use.has(d.flag) ?? false;
    const want = useDepWant(d, parentHas);
    if (want === undefined) continue;
    if (has === undefined) out.push(`${d.flag} is not in its IUSE`);
    else if (has !== want) out.push(`${want ? "+" : "-"}${d.flag}`);
  }
  return out;
}

export function renderExplanation(e: Explanation, facts: ExplainFacts = {}): RenderedExplanation {
  const view = e.view;
  const chain: ChainStep[] = [];
  const num = new Map<number, number>();
  const memo = new Map<string, number>();
  const emit = (s: Omit<ChainStep, "n">): number => {
    const n = chain.length + 1;
    chain.push({ n, ...s });
    return n;
  };
  const masksOf = (c: Candidate): MaskDetail[] => {
    const d = facts.masks?.(c);
    return d?.length ? [...d] : c.masks.map((text) => ({ kind: "other" as const, text }));
  };
  const pkgFields = (c: Candidate) => ({ package: c.cpv, repo: c.repo, type: c.source === "installed" ? ("installed" as const) : ("ebuild" as const) });

  /** The lines that say why an atom's other candidates are out of the question (once each). */
  const excluded = (a: Atom, parent: Candidate | undefined): number[] => {
    const all = view.candidatesOf(a.cp);
    const named = all.filter((c) => a.matchesIgnoringUse(refOf(c)));
    const ok = new Set(view.matching(a, parent));
    if (!named.length) {
      const key = `missing\0${a.toString()}`;
      let n = memo.get(key);
      if (n === undefined) {
        let text: string;
        if (!all.length) {
          const near = facts.similar?.(a.cp) ?? [];
          text = `no repository has a package ${a.cp}, and none is installed${near.length ? `; did you mean ${near.join(", ")}?` : ""}`;
        } else {
          const versions = [...new Set(all.map((c) => c.version))].sort(compareVersions).map((v) => v.text);
          text = `no version of ${a.cp} matches ${a.toString()} (there ${versions.length === 1 ? "is" : "are"} ${versions.join(", ")})`;
        }
        memo.set(key, (n = emit({ kind: "missing", text, refs: [], atom: a.toString() })));
      }
      return [n];
    }
    const out: number[] = [];
    for (const c of named.sort((x, y) => compareVersions(y.version, x.version))) {
      if (ok.has(c)) continue;
      if (!view.eligible(c)) {
        const key = `mask\0${c.cpv}\0${c.repo}\0${c.source}`;
        let n = memo.get(key);
        if (n === undefined) {
          const ms = masksOf(c);
          memo.set(key, (n = emit({ kind: "masked", text: `${label(c)} cannot be installed: ${ms.length ? ms.map(maskText).join("; ") : "not eligible"}`, refs: [], ...pkgFields(c), masks: ms, decided_by: ms.map((m) => (m.kind === "package.mask" ? `${m.file}:${m.line}` : undefined)).find(Boolean) })));
        }
        out.push(n);
        continue;
      }
      const why = useMismatch(a, c, parent);
      if (!why.length) continue;
      const key = `use\0${c.cpv}\0${c.repo}\0${c.source}\0${why.join(",")}`;
      let n = memo.get(key);
      if (n === undefined) {
        const flags = why.filter((w) => /^[+-]/.test(w)).map((w) => w.slice(1));
        const origins = flags.map((f) => facts.useOrigin?.(c, f)).filter(Boolean);
        const text = `${label(c)} does not have the USE ${a.toString()} asks for: ${why.map((w) => (w.startsWith("+") ? `${w.slice(1)} is off` : w.startsWith("-") ? `${w.slice(1)} is on` : w)).join(", ")}${origins.length ? ` (${origins.join("; ")})` : ""}`;
        memo.set(key, (n = emit({ kind: "use", text, refs: [], ...pkgFields(c), atom: a.toString(), use: why, ...(origins.length ? { decided_by: origins.join("; ") } : {}) })));
      }
      out.push(n);
    }
    return out;
  };

  const leafAtoms = (n: DepNode<Atom>): Atom[] => (n.kind === "leaf" ? [n.value] : n.children.flatMap(leafAtoms));
  const refsOf = (s: Step, extra: number[] = []) => [...new Set([...s.refs.map((r) => num.get(r)).filter((x): x is number => x !== undefined), ...extra])].sort((x, y) => x - y);
  const cite = (rs: readonly number[]) => (rs.length ? ` (${rs.join(", ")})` : "");
  const under = (s: Step) => (s.under !== undefined && num.has(s.under) && s.result !== "suppose" ? `if ${num.get(s.under)}: ` : "");

  /** `pkg needs atom (RDEPEND, USE=gui)`, with the fields of the chain element. */
  const dependency = (o: Origin & { kind: "dep" }, atom: Atom | undefined) => {
    const conds = conditionsOf(o.pkg, o.cls, o.node);
    const origins = conds.map((f) => facts.useOrigin?.(o.pkg, f.replace(/^-/, ""))).filter(Boolean);
    const what = atom && o.node.kind === "leaf" ? atom.toString() : formatSpec([o.node]);
    const blocker = !!atom?.blocker && o.node.kind === "leaf";
    const src = facts.sourceOf?.(o.pkg);
    const text = `${label(o.pkg)} ${blocker ? `blocks ${what.replace(/^!!?/, "")}` : `needs ${what}`} (${o.cls}${conds.length ? `, USE="${conds.join(" ")}"${origins.length ? ` from ${origins.join("; ")}` : ""}` : ""})`;
    return {
      text,
      fields: {
        ...pkgFields(o.pkg),
        class: o.cls,
        atom: what,
        use: conds,
        ...(src || origins.length ? { decided_by: [src ? `${src}:${o.cls}` : undefined, ...origins].filter(Boolean).join("; ") } : {}),
      },
      blocker,
    };
  };

  // a blocker that excludes several versions at once: one line for all of them
  const together = new Map<number, Candidate[]>();
  const folded = new Map<number, number>();
  e.steps.forEach((s, i) => {
    const prev = e.steps[i - 1];
    const head = prev && (folded.get(prev.id) ?? prev.id);
    const h = head === undefined ? undefined : e.steps.find((x) => x.id === head);
    const o = s.origin;
    const same = !!h && !!o && o === h.origin && s.result === "out" && h.result === "out" && s.refs.join() === h.refs.join() && s.under === h.under;
    const blockerOut = o?.kind === "dep" && !!s.atom?.blocker && s.pkg !== o.pkg && h?.pkg !== o.pkg;
    const slotOut = o?.kind === "slot" && s.others?.[0] === h?.others?.[0];
    if (h && same && (blockerOut || slotOut)) {
      together.set(h.id, [...(together.get(h.id) ?? [h.pkg!]), s.pkg!]);
      folded.set(s.id, h.id);
    }
  });
  for (const s of e.steps) {
    if (folded.has(s.id)) {
      num.set(s.id, num.get(folded.get(s.id)!)!);
      continue;
    }
    const o = s.origin;
    const pre = under(s);
    const subject = s.pkg ? { subject: s.pkg.cpv } : {};
    if (!o) {
      if (s.result === "suppose") {
        num.set(s.id, emit({ kind: "suppose", text: `suppose ${label(s.pkg!)} ${s.value ? "were installed" : "were not installed"}`, refs: [], ...pkgFields(s.pkg!) }));
      } else if (s.result === "conflict") {
        const rs = refsOf(s);
        num.set(s.id, emit({ kind: "derived", text: `these cannot all hold together${cite(rs)}`, refs: rs, result: "conflict" }));
      } else {
        const rs = refsOf(s);
        num.set(s.id, emit({ kind: "derived", text: `${pre}so ${label(s.pkg!)} ${s.result === "in" ? "must be installed" : "cannot be installed"}${cite(rs)}`, refs: rs, result: s.result as "in" | "out", ...subject }));
      }
      continue;
    }
    if (s.result === "fact") {
      // the constraint alone: no short argument was found, the facts are listed
      const text =
        o.kind === "request"
          ? `${o.request.arg} is asked for: one of ${view.matching(o.request.atom).map(label).join(", ") || "nothing"} must be installed`
          : o.kind === "dep"
            ? dependency(o, o.node.kind === "leaf" ? o.node.value : undefined).text
            : o.keep
              ? `${o.keep.cpv} is installed: slot ${o.cp}:${o.slot} keeps one of ${o.members.map(label).join(", ")}`
              : `${o.members.map(label).join(", ")} are in slot ${o.cp}:${o.slot}, which holds one package`;
      num.set(s.id, emit({ kind: o.kind === "request" ? "argument" : o.kind === "dep" ? "dependency" : "slot", text, refs: [] }));
      continue;
    }
    switch (o.kind) {
      case "request": {
        const r = o.request;
        const arg = `${r.arg}${r.set ? (r.arg === `@${r.set}` ? "" : ` (@${r.set})`) : ""}`;
        const kindWord = r.set ? `a member of @${r.set}` : "argument";
        const base = { kind: "argument" as const, argument: r.arg, set: r.set ?? null, atom: r.atom.toString() };
        if (s.result === "in") {
          const m = view.matching(r.atom);
          const rs = refsOf(s, excluded(r.atom, undefined));
          const text = m.length === 1 ? `${arg} (${kindWord}) can only be ${label(s.pkg!)}${cite(rs)}` : `${arg} (${kindWord}): ${label(s.pkg!)} is the only match left${cite(rs)}`;
          num.set(s.id, emit({ ...base, text: pre + text, refs: rs, result: "in", ...subject }));
        } else {
          const rs = refsOf(s, excluded(r.atom, undefined));
          const text = s.detail ? `${arg} (${kindWord}): ${s.detail}` : view.matching(r.atom).length ? `${arg} (${kindWord}): none of its matches can be installed${cite(rs)}` : `${arg} (${kindWord}): nothing can satisfy it${cite(rs)}`;
          num.set(s.id, emit({ ...base, text: pre + text, refs: rs, result: s.result === "conflict" ? "conflict" : "out", ...subject }));
        }
        break;
      }
      case "dep": {
        const d = dependency(o, s.atom);
        const atoms = s.atom ? [s.atom] : leafAtoms(o.node);
        const ex = atoms.filter((a) => !a.blocker).flatMap((a) => excluded(a, o.pkg));
        const rs = refsOf(s, ex);
        const kind = d.blocker ? ("blocker" as const) : ("dependency" as const);
        let text: string;
        if (d.blocker) {
          // the blocked package goes, or (the blocked one being in) the blocker does
          const blocked = s.pkg !== o.pkg ? s.pkg : s.others?.[0];
          const all = together.get(s.id);
          if (s.result === "out" && s.pkg !== o.pkg) text = all ? `${d.text}, so none of ${all.map(label).join(", ")} can be installed with it${cite(rs)}` : `${d.text}, so ${label(s.pkg!)} cannot be installed with it${cite(rs)}`;
          else if (s.result === "out") text = `${d.text}, and ${blocked ? label(blocked) : "what it blocks"} must be installed${cite(rs)}, so it cannot be installed`;
          else text = `${d.text}, and both it and ${blocked ? label(blocked) : "what it blocks"} must be installed${cite(rs)}`;
        } else if (s.result === "in") text = `${d.text}: only ${label(s.pkg!)} is left to satisfy it${cite(rs)}`;
        else if (s.result === "out") text = `${d.text}, which nothing can satisfy${cite(rs)}, so it cannot be ${o.pkg.source === "installed" ? "kept" : "installed"}`;
        else text = `${d.text}, which nothing can satisfy${cite(rs)}`;
        num.set(s.id, emit({ kind, text: pre + text, refs: rs, result: s.result === "suppose" ? undefined : s.result, ...d.fields, ...subject }));
        break;
      }
      case "slot": {
        const rs = refsOf(s);
        const slot = `${o.cp}:${o.slot}`;
        const world = o.keep && view.inWorld(o.keep) ? `, the world file selects it${facts.worldEntry?.(o.keep) ? ` (${facts.worldEntry(o.keep)})` : ""}` : "";
        let text: string;
        if (o.keep && (s.result === "in" || (s.result === "conflict" && !s.others))) {
          const stays = `${o.keep.cpv} is installed${world}: it stays unless another version of slot ${slot} replaces it`;
          text = s.result === "in" ? (s.pkg === o.keep ? `${stays}, and none can${cite(rs)}` : `${stays}, and only ${label(s.pkg!)} is left to${cite(rs)}`) : `${stays}, and none can, nor can it stay${cite(rs)}`;
          num.set(s.id, emit({ kind: "installed", text: pre + text, refs: rs, result: s.result === "in" ? "in" : "conflict", ...pkgFields(o.keep), ...subject }));
          break;
        }
        const a = s.others?.[0];
        const all = together.get(s.id);
        text =
          s.result !== "out"
            ? `${label(a!)} and ${label(s.pkg!)} are both in slot ${slot}, which holds one package${cite(rs)}`
            : all
              ? `${label(a!)} takes slot ${slot}, which holds one package, so none of ${all.map(label).join(", ")} can be installed${cite(rs)}`
              : `${label(a!)} and ${label(s.pkg!)} are both in slot ${slot}, which holds one package, so ${s.pkg!.cpv} cannot be installed${cite(rs)}`;
        num.set(s.id, emit({ kind: "slot", text: pre + text, refs: rs, result: s.result === "suppose" ? undefined : s.result, atom: slot, ...subject }));
        break;
      }
    }
  }
  // the conclusion: what of the request cannot be done
  const args = [...new Set(e.core.filter((o): o is Origin & { kind: "request" } => o.kind === "request").map((o) => o.request.arg))];
  const last = chain.length;
  const what = args.length === 0 ? "the installed packages cannot all stay as they are" : args.length === 1 ? `${args[0]} cannot be installed` : `${args.slice(0, -1).join(", ")} and ${args[args.length - 1]} cannot be installed together`;
  emit({ kind: "conclusion", text: `so ${what}${last ? ` (${last})` : ""}`, refs: last ? [last] : [], result: "conflict" });
  return { lines: chain.map((s) => `  ${s.n}. ${s.text}`), chain };
}
