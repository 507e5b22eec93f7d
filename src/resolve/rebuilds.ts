// What a first resolution asks of a second one (emerge spec §5.7, §6.7, §6.11): complete mode
// when the plan changes an installed package, and the rebuilds of installed packages that the
// `--rebuild-if-*` rules schedule. Portage restarts its resolution for these; so does ouzo, with
// the rebuilds as an input of the next pass, until nothing new is asked.
import type { Atom } from "../pms/atom.js";
import { compareVersions } from "../pms/version.js";
import type { Candidate } from "./Candidate.js";
import { BUILD, type RebuildCause, ref, type Selection, useTriggers } from "./resolve.js";

export interface CompleteRules {
  /** --complete-graph-if-new-ver (default y): a version, slot or sub-slot changes. */
  readonly ifNewVer: boolean;
  /** --complete-graph-if-new-use (default y): USE or IUSE changes. */
  readonly ifNewUse: boolean;
  /** --rebuild-if-new-slot (default y): a new slot of an installed package. */
  readonly newSlot: boolean;
}

const cpOf = (c: Candidate) => `${c.category}/${c.package}`;
const merged = (sel: Selection) => sel.chosen.filter((c) => c.source === "ebuild" && !sel.nomerge?.has(c));
const installedOf = (sel: Selection, c: Candidate) => (sel.universe.get(cpOf(c)) ?? []).filter((x) => x.source === "installed");

/** Whether the plan changes an installed package so that @world must be checked against it (§6.11). */
export function completeNeeded(sel: Selection, rules: CompleteRules): boolean {
  if (sel.uninstalls.length) return true;
  for (const c of merged(sel)) {
    const installed = installedOf(sel, c);
    if (!installed.length) continue;
    const same = installed.find((i) => i.slot === c.slot);
    if (!same) {
      if (rules.newSlot || rules.ifNewVer) return true;
      continue;
    }
    if (rules.ifNewVer && (same.cpv !== c.cpv || same.subslot !== c.subslot)) return true;
    if (rules.ifNewUse && useTriggers(same, c, "newuse").length) return true;
  }
  return false;
}

export interface RebuildRules {
  /** --rebuild-if-new-slot (default y). */
  readonly newSlot: boolean;
  readonly newRev: boolean;
  readonly newVer: boolean;
  readonly unbuilt: boolean;
  /** --rebuild-exclude: these are never rebuilt by the rules. */
  readonly exclude: readonly Atom[];
  /** --rebuild-ignore: nothing is rebuilt because of these. */
  readonly ignore: readonly Atom[];
}

/**
 * Installed packages the plan keeps that the rules want rebuilt, with why:
 * - `--rebuild-if-unbuilt`, `-new-rev`, `-new-ver`: a build-time dependency is built from source
 *   (at all; in another version or revision; in another version) (§6.7);
 * - `--rebuild-if-new-slot`: a `:=` dependency bound to one slot of a package of which the plan
 *   merges a newer slot, when the package's ebuild can be rebuilt (§5.7).
 */
export function rebuildsNeeded(sel: Selection, rules: RebuildRules): Map<string, RebuildCause> {
  const out = new Map<string, RebuildCause>();
  const toMerge = new Set(merged(sel));
  const mergedByCp = new Map<string, Candidate[]>();
  for (const m of toMerge) mergedByCp.set(cpOf(m), [...(mergedByCp.get(cpOf(m)) ?? []), m]);
  const chosen = new Set(sel.chosen);
  const kept = (c: Candidate) => c.source === "installed" && chosen.has(c);
  const excluded = (c: Candidate) => rules.exclude.some((a) => a.matchesIgnoringUse(ref(c)));
  const ignored = (c: Candidate) => rules.ignore.some((a) => a.matchesIgnoringUse(ref(c)));
  const rebuildable = (c: Candidate) => (sel.universe.get(cpOf(c)) ?? []).some((e) => e.source === "ebuild" && e.cpv === c.cpv && e.masks.length === 0);
  const noRevision = (c: Candidate) => c.version.text.replace(/-r\d+$/, "");
  for (const e of sel.edges) {
    const parent = e.from;
    const child = e.to;
    if (!kept(parent) || out.has(parent.cpv) || excluded(parent) || !rebuildable(parent)) continue;
    if (e.cls !== "blocker" && BUILD.includes(e.cls) && toMerge.has(child) && !ignored(child)) {
      const old = installedOf(sel, child).filter((i) => i.slot === child.slot).sort((a, b) => compareVersions(b.version, a.version))[0];
      const trigger = rules.unbuilt
        ? "rebuild-if-unbuilt"
        : rules.newRev && (!old || old.version.text !== child.version.text)
          ? "rebuild-if-new-rev"
          : rules.newVer && (!old || noRevision(old) !== noRevision(child))
            ? "rebuild-if-new-ver"
            : undefined;
      if (trigger) out.set(parent.cpv, { by: child.cpv, trigger });
      continue;
    }
    // a `:SLOT/SUB=` binding to an older slot while the plan merges a newer one
    const bound = /:([A-Za-z0-9_][A-Za-z0-9+_.-]*)(?:\/[A-Za-z0-9+_.-]+)?=/.exec(e.atom);
    if (!rules.newSlot || !bound || ignored(child)) continue;
    const newer = (mergedByCp.get(cpOf(child)) ?? []).find((m) => m.slot !== bound[1] && compareVersions(m.version, child.version) > 0);
    if (newer) out.set(parent.cpv, { by: newer.cpv, trigger: "new-slot" });
  }
  return out;
}
