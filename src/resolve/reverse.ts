// Questions about what is installed (`ouzo depends`, `ouzo why`): which installed packages depend
// on one, by class, and the chain from @world or @system that keeps it.
import type { Atom } from "../pms/atom.js";
import type { DepNode } from "../pms/depspec.js";
import type { Candidate, DepClass } from "./Candidate.js";
import { InstalledGraph } from "./depclean.js";
import { refOf } from "./explain.js";

export interface ReverseDependency {
  /** The installed package whose dependency it is. */
  readonly by: Candidate;
  readonly cls: DepClass;
  readonly atom: string;
  /** Inside an `||` group: one alternative among others. */
  readonly anyOf: boolean;
}

const CLASSES: readonly DepClass[] = ["DEPEND", "RDEPEND", "BDEPEND", "PDEPEND", "IDEPEND"];

/** The installed packages with a dependency (reduced with the USE they were built with) that `target` satisfies. */
export function reverseDependencies(g: InstalledGraph, target: Candidate): ReverseDependency[] {
  const out: ReverseDependency[] = [];
  const walk = (n: DepNode<Atom>, by: Candidate, cls: DepClass, anyOf: boolean) => {
    if (n.kind === "leaf") {
      if (!n.value.blocker && n.value.matches(refOf(target), by.use)) out.push({ by, cls, atom: n.value.toString(), anyOf });
      return;
    }
    for (const x of n.children) walk(x, by, cls, anyOf || n.kind === "any" || n.kind === "exactlyOne" || n.kind === "atMostOne");
  };
  for (const p of g.installed) {
    if (p === target) continue;
    for (const cls of CLASSES) for (const n of g.deps(p, cls)) walk(n, p, cls, false);
  }
  return out.sort((a, b) => (a.by.cpv < b.by.cpv ? -1 : a.by.cpv > b.by.cpv ? 1 : CLASSES.indexOf(a.cls) - CLASSES.indexOf(b.cls)));
}

/** One link of a `why` chain: the root set entry, then each package and the dependency that leads on. */
export type WhyLink =
  | { readonly kind: "set"; readonly set: string; readonly atom: string; readonly pkg: Candidate }
  | { readonly kind: "dependency"; readonly by: Candidate; readonly cls: DepClass; readonly atom: string; readonly pkg: Candidate };

/**
 * The shortest chain from a set entry (@selected, @system…) to an installed package through the
 * dependencies depclean follows (runtime classes; build-time ones too unless `withBdeps` is false);
 * undefined when nothing keeps it.
 */
export function whyKept(g: InstalledGraph, roots: readonly { readonly set: string; readonly atom: Atom }[], target: Candidate, withBdeps = true): WhyLink[] | undefined {
  const classes: DepClass[] = withBdeps ? ["RDEPEND", "IDEPEND", "PDEPEND", "DEPEND", "BDEPEND"] : ["RDEPEND", "IDEPEND", "PDEPEND"];
  const back = new Map<Candidate, WhyLink>();
  const queue: Candidate[] = [];
  for (const r of roots) {
    const m = g.matching(r.atom)[0];
    if (!m || back.has(m)) continue;
    back.set(m, { kind: "set", set: r.set, atom: r.atom.toString(), pkg: m });
    queue.push(m);
  }
  for (let i = 0; i < queue.length && !back.has(target); i++) {
    const c = queue[i]!;
    for (const e of g.needs(c, classes).edges) {
      if (back.has(e.to)) continue;
      back.set(e.to, { kind: "dependency", by: c, cls: e.need.cls, atom: e.need.atom, pkg: e.to });
      queue.push(e.to);
    }
  }
  if (!back.has(target)) return undefined;
  const chain: WhyLink[] = [];
  for (let l = back.get(target)!; ; l = back.get(l.by)!) {
    chain.unshift(l);
    if (l.kind === "set") break;
  }
  return chain;
}
