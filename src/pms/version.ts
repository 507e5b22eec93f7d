import { OuzoError } from "../core/errors.js";

/** Suffix ranks (PMS 3.2): _alpha < _beta < _pre < _rc < (none) < _p. */
const NONE_RANK = 4;

const NO_SUFFIXES: [number, string][] = [];

/**
 * A parsed PMS version (PMS 3.2). Numeric components are kept as digit strings so there is no
 * 64-bit limit; comparison strips leading zeros and compares by length, then lexically.
 */
export class Version {
  /** Original text, e.g. `1.02b_rc3-r1`. */
  readonly text: string;
  /** Numeric components as written. */
  readonly numbers: readonly string[];
  readonly letter: string;
  /** Suffixes as [rank, number-without-leading-zeros]. */
  readonly suffixes: readonly (readonly [number, string])[];
  /** Revision digits without leading zeros ("0" when none). */
  readonly revision: string;
  /** Whether `-rN` was written. */
  readonly hasRevision: boolean;

  private constructor(text: string, numbers: string[], letter: string, suffixes: [number, string][], revision: string, hasRevision: boolean) {
    this.text = text;
    this.numbers = numbers;
    this.letter = letter;
    this.suffixes = suffixes;
    this.revision = revision;
    this.hasRevision = hasRevision;
  }

  static parse(text: string): Version {
    const v = Version.tryParse(text);
    if (!v) throw new OuzoError("BAD_VERSION", `invalid version '${text}'`);
    return v;
  }

  /** Parse PMS 3.2 version syntax with a character scanner (hot path); undefined when invalid. */
  static tryParse(text: string): Version | undefined {
    const n = text.length;
    let i = 0;
    const numbers: string[] = [];
    for (;;) {
      const st = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (i === st) return undefined;
      numbers.push(text.slice(st, i));
      if (text.charCodeAt(i) !== 46) break;
      i++;
    }
    let letter = "";
    const c = text.charCodeAt(i);
    if (c >= 97 && c <= 122) {
      letter = text[i]!;
      i++;
    }
    let suffixes: [number, string][] = NO_SUFFIXES;
    while (text.charCodeAt(i) === 95) {
      i++;
      let rank: number;
      if (text.startsWith("alpha", i)) (rank = 0), (i += 5);
      else if (text.startsWith("beta", i)) (rank = 1), (i += 4);
      else if (text.startsWith("pre", i)) (rank = 2), (i += 3);
      else if (text.startsWith("rc", i)) (rank = 3), (i += 2);
      else if (text.charCodeAt(i) === 112) (rank = 5), (i += 1);
      else return undefined;
      const st = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (suffixes === NO_SUFFIXES) suffixes = [];
      suffixes.push([rank, st === i ? "0" : stripZeros(text.slice(st, i))]);
    }
    let revision = "0";
    let hasRevision = false;
    if (i < n) {
      if (text.charCodeAt(i) !== 45 || text.charCodeAt(i + 1) !== 114) return undefined;
      i += 2;
      const st = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (i === st || i !== n) return undefined;
      revision = stripZeros(text.slice(st));
      hasRevision = true;
    }
    return new Version(text, numbers, letter, suffixes, revision, hasRevision);
  }

  /** The version without its revision, as written. */
  get withoutRevision(): string {
    const i = this.hasRevision ? this.text.lastIndexOf("-r") : -1;
    return i < 0 ? this.text : this.text.slice(0, i);
  }

  compare(other: Version): number {
    return compareVersions(this, other);
  }

  toString(): string {
    return this.text;
  }
}

function stripZeros(s: string): string {
  let i = 0;
  while (i < s.length - 1 && s.charCodeAt(i) === 48) i++;
  return i ? s.slice(i) : s;
}

/** Compare two digit strings as unbounded integers. */
function compareInt(a: string, b: string): number {
  if (a.length !== b.length || a.charCodeAt(0) === 48 || b.charCodeAt(0) === 48) {
    a = stripZeros(a);
    b = stripZeros(b);
    if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  }
  return a === b ? 0 : a < b ? -1 : 1;
}

function stripTrailingZeros(s: string): string {
  let e = s.length;
  while (e > 0 && s.charCodeAt(e - 1) === 48) e--;
  return s.slice(0, e);
}

/** PMS 3.3 numeric component comparison for components after the first. */
function compareLaterComponent(a: string, b: string): number {
  if (a.charCodeAt(0) === 48 || b.charCodeAt(0) === 48) {
    const x = stripTrailingZeros(a);
    const y = stripTrailingZeros(b);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  return compareInt(a, b);
}

/** PMS 3.3 version comparison: negative, zero or positive. */
export function compareVersions(a: Version, b: Version): number {
  if (a === b) return 0;
  const an = a.numbers;
  const bn = b.numbers;
  let c = compareInt(an[0]!, bn[0]!);
  if (c) return c;
  const n = Math.min(an.length, bn.length);
  for (let i = 1; i < n; i++) {
    c = compareLaterComponent(an[i]!, bn[i]!);
    if (c) return c;
  }
  if (an.length !== bn.length) return an.length < bn.length ? -1 : 1;
  if (a.letter !== b.letter) return a.letter < b.letter ? -1 : 1;
  const as = a.suffixes;
  const bs = b.suffixes;
  const m = Math.min(as.length, bs.length);
  for (let i = 0; i < m; i++) {
    const x = as[i]!;
    const y = bs[i]!;
    if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
    c = compareInt(x[1], y[1]);
    if (c) return c;
  }
  if (as.length !== bs.length) {
    const extra = as.length > bs.length ? as[m]! : bs[m]!;
    const longerIsA = as.length > bs.length;
    const r = extra[0] > NONE_RANK ? 1 : -1;
    return longerIsA ? r : -r;
  }
  return compareInt(a.revision, b.revision);
}

export function vercmp(a: string, b: string): number {
  return Math.sign(compareVersions(Version.parse(a), Version.parse(b)));
}

/**
 * `=V*` matching (PMS 8.3.1), as Portage behaves: the candidate's version must start with the
 * pattern's text and continue at a component boundary (`.`, `_`, `-`, or a change between digit and
 * non-digit), so `1*` matches `1.5` and `1b` but not `10`. Leading zeros of the first component are ignored.
 */
export function globMatches(pattern: Version, v: Version): boolean {
  const p = stripLeadingZerosOfFirst(pattern.text);
  const t = stripLeadingZerosOfFirst(v.text);
  if (!t.startsWith(p)) return false;
  if (t.length === p.length) return true;
  const next = t.charCodeAt(p.length);
  if (next === 46 || next === 95 || next === 45) return true;
  return isDigit(p.charCodeAt(p.length - 1)) !== isDigit(next);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function stripLeadingZerosOfFirst(text: string): string {
  let i = 0;
  while (i < text.length - 1 && text.charCodeAt(i) === 48 && isDigit(text.charCodeAt(i + 1))) i++;
  return i ? text.slice(i) : text;
}

export const VERSION_PATTERN = "\\d+(?:\\.\\d+)*[a-z]?(?:_(?:alpha|beta|pre|rc|p)\\d*)*(?:-r\\d+)?";
