// anise versions and selectors (anise.md §1, §5, §15.1–2) in PMS terms. An anise version is a
// free string; the ones real repositories publish are PMS versions, optionally followed by a
// build number (`20221113+2`, `2.38-r1+3`). ouzo orders them by PMS rules with the build number
// as the last tiebreak, and turns selectors into PMS atoms, so that one resolver serves ebuilds
// and anise packages. Where anise's own order would choose otherwise, the caller is told.
import { Atom } from "../pms/atom.js";
import { compareVersions, Version } from "../pms/version.js";

export interface AniseVersion {
  /** As the repository writes it. */
  readonly text: string;
  /** The PMS version (without the build number). */
  readonly pms: Version;
  /** The `+N` build number, when written. */
  readonly build: number | undefined;
}

/** Parse an anise version; undefined when it is not a PMS version (plus an optional `+N`). */
export function parseAniseVersion(text: string): AniseVersion | undefined {
  const m = /^(.*?)(?:\+(\d+))?$/.exec(text.trim());
  if (!m) return undefined;
  const pms = Version.tryParse(m[1]!);
  if (!pms) return undefined;
  return { text: text.trim(), pms, build: m[2] === undefined ? undefined : Number(m[2]) };
}

/** PMS order, then the build number (none < 0 < 1…). */
export function compareAniseVersions(a: AniseVersion, b: AniseVersion): number {
  return compareVersions(a.pms, b.pms) || (a.build ?? -1) - (b.build ?? -1);
}

/**
 * anise's own order (§15.1), for warnings only: numeric components compare as numbers; when they
 * are equal, integer build numbers on both sides decide; otherwise the rest compares as a string,
 * an empty rest counting below `_…` and `-r…` and above a letter. This reproduces the documented
 * disagreements (`1.0_rc1 > 1.0`, `1.0-r10 < 1.0-r9`, `1.2a < 1.2`, `_rc10 < _rc9`).
 */
export function compareAniseNative(a: string, b: string): number {
  const split = (v: string) => {
    const [base, build] = v.split("+", 2) as [string, string | undefined];
    const m = /^(\d+(?:\.\d+)*)(.*)$/.exec(base);
    return { nums: (m?.[1] ?? "0").split(".").map(Number), rest: m?.[2] ?? base, build: build !== undefined && /^\d+$/.test(build) ? Number(build) : undefined };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d) return d;
  }
  if (x.build !== undefined && y.build !== undefined && x.build !== y.build) return x.build - y.build;
  if (x.rest === y.rest) return 0;
  const emptyVs = (other: string) => (/^[a-z]/.test(other) ? 1 : -1);
  if (x.rest === "") return emptyVs(y.rest);
  if (y.rest === "") return -emptyVs(x.rest);
  return x.rest < y.rest ? -1 : 1;
}

export type SelectorOp = ">=" | ">" | "<=" | "<" | "=" | "!=";

export interface Selector {
  readonly op: SelectorOp;
  readonly version: AniseVersion;
}

/**
 * A requires/conflicts version selector (§5): `[op]VER`; none, `>=0` or `>=0.0…` mean any
 * version (undefined). Throws on a version ouzo cannot order.
 */
export function parseSelector(text: string | undefined): Selector | undefined {
  const t = (text ?? "").trim();
  if (t === "" || t === "*") return undefined;
  const m = /^(>=|<=|!=|>|<|=)?\s*(.+)$/.exec(t)!;
  const op = (m[1] ?? "=") as SelectorOp;
  const version = parseAniseVersion(m[2]!);
  if (!version) throw new Error(`'${t}' is not a version selector ouzo can order (a PMS version, optionally +BUILD)`);
  if (op === ">=" && /^0(\.0)*$/.test(version.pms.text) && version.build === undefined) return undefined;
  return { op, version };
}

/**
 * A dependency on `category/name` with a selector, as a PMS dependency string: `cat/name`,
 * `>=cat/name-1.0`, or `|| ( <cat/name-V >cat/name-V )` for `!=`. A build number in a selector
 * cannot be said in an atom and is dropped (the build is a tiebreak among equal PMS versions).
 * With `blocker`, the same as a strong blocker (`!!`); `!=` then blocks exactly that version.
 */
export function selectorDependency(category: string, name: string, sel: Selector | undefined, blocker = false): string {
  const cp = `${category}/${name}`;
  const b = blocker ? "!!" : "";
  if (!sel) return `${b}${cp}`;
  const v = sel.version.pms.text;
  switch (sel.op) {
    case "!=":
      return blocker ? `!!<${cp}-${v} !!>${cp}-${v}` : `|| ( <${cp}-${v} >${cp}-${v} )`;
    default:
      return `${b}${sel.op}${cp}-${v}`;
  }
}

/** Whether an anise version satisfies a selector, in ouzo's (PMS) terms. */
export function selectorMatches(sel: Selector | undefined, v: AniseVersion): boolean {
  if (!sel) return true;
  const c = compareVersions(v.pms, sel.version.pms);
  switch (sel.op) {
    case ">=":
      return c >= 0;
    case ">":
      return c > 0;
    case "<=":
      return c <= 0;
    case "<":
      return c < 0;
    case "=":
      return c === 0 && (sel.version.build === undefined || sel.version.build === v.build);
    case "!=":
      return !(c === 0 && (sel.version.build === undefined || sel.version.build === v.build));
  }
}

/** Check that a dependency string made here parses (a package name PMS refuses, for instance). */
export function dependencyParses(text: string): boolean {
  return text.split(/\s+/).every((tok) => tok === "||" || tok === "(" || tok === ")" || Atom.tryParse(tok, "8") !== undefined);
}
