// What a merge would add to the world file (emerge spec §2.5): the plan says it under --pretend
// (`world.add` of the JSON plan), and the merge stage writes it.
import type { Atom } from "../pms/atom.js";
import type { Candidate } from "./Candidate.js";
import type { RequestAtom } from "./resolve.js";
import { ref } from "./resolve.js";

export interface WorldChange {
  /** World atoms to add, sorted. */
  readonly add: readonly string[];
  /** `@set` names to add to world_sets, sorted. */
  readonly addSets: readonly string[];
}

export interface WorldInput {
  /** The request, as typed and expanded. */
  readonly request: readonly RequestAtom[];
  /** The package chosen for each command-line argument, and whether it is merged. */
  readonly chosenFor: (r: RequestAtom) => { readonly pkg: Candidate; readonly merged: boolean } | undefined;
  /** Every candidate of a `category/PN`. */
  readonly universe: ReadonlyMap<string, readonly Candidate[]>;
  readonly world: readonly Atom[];
  readonly worldSets: readonly string[];
  readonly system: readonly Atom[];
  /** The run is selective (-n, -u, -N…): an argument already installed is recorded too. */
  readonly selective: boolean;
  /** Set names that may go into world_sets (user sets). */
  readonly userSets: ReadonlySet<string>;
}

/**
 * The world atom of package P matched by argument atom A: `cp` (with `::repo` when A has one);
 * `cp:SLOT` when the package is slotted and A is more specific than `cp` and matches packages of
 * one SLOT only. Nothing when the world file already has that atom for P, or for an unslotted,
 * repository-less atom of a @system package.
 */
export function worldChange(w: WorldInput): WorldChange {
  const add = new Set<string>();
  const addSets = new Set<string>();
  for (const r of w.request) {
    if (r.set) {
      if (r.arg.startsWith("@") && w.userSets.has(r.set) && !w.worldSets.includes(`@${r.set}`)) addSets.add(`@${r.set}`);
      continue;
    }
    const chosen = w.chosenFor(r);
    if (!chosen || (!chosen.merged && !w.selective)) continue;
    const p = chosen.pkg;
    const cp = `${p.category}/${p.package}`;
    const repo = r.atom.repo ? `::${r.atom.repo}` : "";
    const all = w.universe.get(cp) ?? [];
    const slotsOf = (cs: readonly Candidate[]) => new Set(cs.map((c) => c.slot));
    const ebuildSlots = slotsOf(all.filter((c) => c.source === "ebuild"));
    const slots = ebuildSlots.size ? ebuildSlots : slotsOf(all.filter((c) => c.source === "installed"));
    const slotted = slots.size > 1 || (slots.size === 1 && !slots.has("0"));
    const specific = r.atom.toString() !== `${cp}${repo}`;
    const matchedSlots = slotsOf(all.filter((c) => r.atom.matchesIgnoringUse(ref(c))));
    const text = slotted && specific && matchedSlots.size === 1 ? `${cp}:${p.slot}${repo}` : `${cp}${repo}`;
    if (w.world.some((a) => a.toString() === text)) continue;
    if (text === cp && w.system.some((a) => a.cp === cp)) continue;
    add.add(text);
  }
  return { add: [...add].sort(), addSets: [...addSets].sort() };
}

