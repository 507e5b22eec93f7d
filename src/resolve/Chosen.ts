// The packages a selection has chosen so far, indexed the ways the selection asks about them:
// by package name, by slot, and which of them carry blockers. A desktop-sized plan chooses
// hundreds of packages and asks about them at every dependency; scanning the list each time made
// the selection quadratic.
import type { Atom } from "../pms/atom.js";
import type { Candidate } from "./Candidate.js";

const cpOf = (c: Candidate) => `${c.category}/${c.package}`;

export class Chosen {
  /** In the order they were chosen (a replacement takes its predecessor's place). */
  readonly list: Candidate[] = [];
  private readonly byCp = new Map<string, Candidate[]>();
  private readonly members = new Set<Candidate>();
  private readonly withBlockers = new Set<Candidate>();

  constructor(private readonly blockersIn: (c: Candidate) => readonly Atom[]) {}

  add(c: Candidate): void {
    this.list.push(c);
    const same = this.byCp.get(cpOf(c));
    if (same) same.push(c);
    else this.byCp.set(cpOf(c), [c]);
    this.index(c);
  }

  /** `c` takes the place of `old` (an installed package rebuilt). */
  replace(old: Candidate, c: Candidate): void {
    const at = this.list.indexOf(old);
    if (at < 0) return this.add(c);
    this.list[at] = c;
    const same = this.byCp.get(cpOf(old))!;
    same.splice(same.indexOf(old), 1);
    const mine = this.byCp.get(cpOf(c));
    if (mine) mine.push(c);
    else this.byCp.set(cpOf(c), [c]);
    this.members.delete(old);
    this.withBlockers.delete(old);
    this.index(c);
  }

  private index(c: Candidate): void {
    this.members.add(c);
    if (this.blockersIn(c).length) this.withBlockers.add(c);
  }

  has(c: Candidate): boolean {
    return this.members.has(c);
  }

  /** The chosen packages of `category/PN`. */
  ofPackage(cp: string): readonly Candidate[] {
    return this.byCp.get(cp) ?? [];
  }

  /** Whether a package is chosen in the slot of `c`. */
  slotTaken(c: Candidate): boolean {
    return this.ofPackage(cpOf(c)).some((x) => x.slot === c.slot);
  }

  /** The chosen packages that have blockers. */
  blocking(): Iterable<Candidate> {
    return this.withBlockers;
  }
}
