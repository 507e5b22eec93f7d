// The dependency and licence files of build-info (build spec §9.3): USE-conditionals evaluated
// with the package's final USE, groups kept as written, and `:=` slot operators bound to the
// SLOT/SUBSLOT of the installed package they were built against.
import { Atom } from "../pms/atom.js";
import { formatSpec, parseDependencies, parseLicense, parsePlainTokens, type DepNode } from "../pms/depspec.js";
import { compareVersions } from "../pms/version.js";
import type { InstalledPackage } from "../vdb/installed.js";

export const BOUND_KEYS = ["LICENSE", "PROPERTIES", "RESTRICT", "DEPEND", "RDEPEND", "PDEPEND", "BDEPEND", "IDEPEND"] as const;
export type BoundKey = (typeof BOUND_KEYS)[number];

/** Conditionals evaluated; `( … )` and `|| ( … )` groups kept, even with one element left. */
export function evaluateConditionals<T>(nodes: readonly DepNode<T>[], use: ReadonlySet<string>): DepNode<T>[] {
  const out: DepNode<T>[] = [];
  for (const n of nodes) {
    if (n.kind === "leaf") out.push(n);
    else if (n.kind === "use") {
      if (use.has(n.flag) !== n.negated) out.push(...evaluateConditionals(n.children, use));
    } else {
      const children = evaluateConditionals(n.children, use);
      if (children.length) out.push({ kind: n.kind, children });
    }
  }
  return out;
}

/** Where each class's `:=` is bound (§9.3 step 2): the target's vdb, or the build host's. */
export interface InstalledViews {
  readonly target: readonly InstalledPackage[];
  readonly host: readonly InstalledPackage[];
}

function best(atom: Atom, pkgs: readonly InstalledPackage[]): InstalledPackage | undefined {
  const plain = new Atom(undefined, atom.operator, atom.category, atom.package_, atom.version, undefined, undefined, undefined, [], atom.repo);
  const hits = pkgs.filter((p) => plain.matchesIgnoringUse({ category: p.category, package: p.package, version: p.version, slot: p.slot, subslot: p.subslot, repo: p.repo }));
  // an explicit :SLOT= binds within that slot only
  const inSlot = atom.slot !== undefined ? hits.filter((p) => p.slot === atom.slot) : hits;
  return inSlot.reduce<InstalledPackage | undefined>((a, b) => (!a || compareVersions(b.version, a.version) > 0 ? b : a), undefined);
}

/** The build-info value of one key; "" when nothing is left (the file is then not written). */
export function boundValue(key: BoundKey, text: string, eapi: string, use: ReadonlySet<string>, installed: InstalledViews): string {
  if (!text.trim()) return "";
  if (key === "LICENSE") return formatSpec(evaluateConditionals(parseLicense(text), use));
  if (key === "PROPERTIES" || key === "RESTRICT") return formatSpec(evaluateConditionals(parsePlainTokens(text, key), use));
  const nodes = evaluateConditionals(parseDependencies(text, eapi), use);
  const where = key === "BDEPEND" ? installed.host : installed.target;
  // EAPI 5-6 DEPEND: the target, falling back to the build host (EAPI 7+: SYSROOT only)
  const fallback = key === "DEPEND" && (eapi === "5" || eapi === "6") ? installed.host : [];
  return formatSpec(nodes, (atom: Atom) => {
    if (atom.slotOperator !== "=" || atom.blocker) return atom.toString();
    const p = best(atom, where) ?? best(atom, fallback);
    if (!p) return atom.toString();
    return new Atom(atom.blocker, atom.operator, atom.category, atom.package_, atom.version, p.slot, p.subslot || p.slot, "=", atom.useDeps, atom.repo).toString();
  });
}
