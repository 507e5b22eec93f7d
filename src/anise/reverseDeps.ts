// What an uninstall takes with it (anise.md §9 "Uninstall"): the installed packages whose
// runtime dependencies hold now and would not once the named packages are gone, found again and
// again until nothing more falls. Provided names count as the packages they are (§15.13: anise
// ignores provides here and leaves unmet requirements behind): the entry recording a provided
// name depends on its provider, so it goes with it, and so do the packages that need that name.
import { Atom } from "../pms/atom.js";
import { type DepNode, parseDependencies, reduce } from "../pms/depspec.js";
import { eapiFeatures } from "../pms/eapi.js";
import type { InstalledPackage } from "../vdb/installed.js";
import { aniseRecordOf, runtimeDependencies } from "./AniseRecord.js";

export interface RemovalPlan {
  /** Packages to remove, dependents before what they depend on. */
  readonly order: InstalledPackage[];
  /** Why each one beyond the request goes: the package it needs that goes first. */
  readonly because: ReadonlyMap<string, string>;
}

function depsOf(p: InstalledPackage): DepNode<Atom>[] {
  const texts = [p.rdepend, p.pdepend];
  const rec = aniseRecordOf(p);
  if (rec?.spec) texts.push(runtimeDependencies(rec.spec));
  const eapi = eapiFeatures(p.eapi) ?? eapiFeatures("8")!;
  const use = new Set(p.use);
  const out: DepNode<Atom>[] = [];
  for (const t of texts) {
    if (!t.trim()) continue;
    try {
      out.push(...reduce(parseDependencies(t, eapi), use));
    } catch {
      // an unreadable recorded dependency holds nothing up
    }
  }
  return out;
}

const ref = (p: InstalledPackage) => ({ category: p.category, package: p.package, version: p.version, slot: p.slot, subslot: p.subslot, repo: p.repo, use: new Set(p.use), iuse: new Set<string>() });

function holds(nodes: readonly DepNode<Atom>[], present: readonly InstalledPackage[], use: ReadonlySet<string>): boolean {
  const one = (n: DepNode<Atom>): boolean => {
    switch (n.kind) {
      case "leaf":
        return n.value.blocker ? true : present.some((p) => n.value.matchesIgnoringUse(ref(p)));
      case "any":
      case "exactlyOne":
      case "atMostOne":
        return n.children.length === 0 || n.children.some(one);
      default:
        return n.children.every(one);
    }
  };
  void use;
  return nodes.every(one);
}

/** Which dependency of `p` the removal of `gone` breaks (for the message). */
function brokenBy(nodes: readonly DepNode<Atom>[], gone: readonly InstalledPackage[]): InstalledPackage | undefined {
  for (const n of nodes) {
    if (n.kind === "leaf" && !n.value.blocker) {
      const g = gone.find((x) => n.value.matchesIgnoringUse(ref(x)));
      if (g) return g;
    } else if (n.kind !== "leaf") {
      const g = brokenBy(n.children, gone);
      if (g) return g;
    }
  }
  return undefined;
}

/** The removal of `targets` with the reverse dependencies it brings (none with `nodeps`). */
export function planRemoval(installed: readonly InstalledPackage[], targets: readonly InstalledPackage[], nodeps: boolean): RemovalPlan {
  const going = new Set(targets.map((t) => t.cpv));
  const added: InstalledPackage[] = [...targets];
  const because = new Map<string, string>();
  if (!nodeps) {
    const deps = new Map(installed.map((p) => [p.cpv, depsOf(p)]));
    for (;;) {
      const stay = installed.filter((p) => !going.has(p.cpv));
      const gone = installed.filter((p) => going.has(p.cpv));
      const falling = stay.filter((p) => {
        const d = deps.get(p.cpv)!;
        return d.length > 0 && holds(d, installed, new Set(p.use)) && !holds(d, stay, new Set(p.use));
      });
      if (!falling.length) break;
      for (const p of falling) {
        going.add(p.cpv);
        added.push(p);
        const by = brokenBy(deps.get(p.cpv)!, gone);
        if (by) because.set(p.cpv, by.cpv);
      }
    }
  }
  return { order: [...added].reverse(), because };
}
