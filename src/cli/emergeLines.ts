import type { Candidate } from "../resolve/Candidate.js";
import type { PlanEntry, Totals, UnmergeEntry } from "../resolve/plan.js";

/** How the plan is shown: emerge's verbosity, and the USE_EXPAND variables to group flags by. */
export interface LineOptions {
  /** `-v`: slots, repositories, every flag and download sizes (verbosity 3). */
  readonly verbose: boolean;
  readonly quiet: boolean;
  /** `-q -v`: the quiet layout with every flag shown (emerge spec §8.9). */
  readonly quietVerbose?: boolean;
  /** The target ROOT; lines say `to ROOT/` when it is not `/`. */
  readonly root: string;
  /** USE_EXPAND variables (upper case) and which of them are hidden. */
  readonly useExpand: readonly string[];
  readonly useExpandHidden: ReadonlySet<string>;
  /** The locale sizes are written in (`en-US`: `1,234 KiB`); none: C, no grouping. */
  readonly locale?: string;
}

/** The locale of LC_ALL, LC_NUMERIC or LANG as a BCP 47 tag; undefined for C and POSIX. */
export function numericLocale(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.LC_ALL || env.LC_NUMERIC || env.LANG || "";
  const tag = raw.replace(/[.@].*$/, "").replace("_", "-");
  if (!tag || tag === "C" || tag === "POSIX") return undefined;
  try {
    return Intl.NumberFormat.supportedLocalesOf([tag])[0];
  } catch {
    return undefined;
  }
}

/** `⌈bytes/1024⌉ KiB`, grouped as the locale groups digits (emerge spec §8.5). */
export function kib(bytes: number, locale: string | undefined): string {
  const n = Math.ceil(bytes / 1024);
  return `${locale ? new Intl.NumberFormat(locale, { useGrouping: true, maximumFractionDigits: 0 }).format(n) : String(n)} KiB`;
}

/** The version as emerge shows it: without `-r0` (§8.3). */
export const noRevision = (c: Candidate) => c.version.text.replace(/-r0$/, "");
const notZero = (c: Candidate) => c.slot !== "0" || c.subslot !== "0";
/** The `--tree` indent: one space per depth level after the bracket (§8.2). */
const indent = (depth: number) => " ".repeat(depth);

/** A bracket other than a merge's, 14 characters between the brackets, 13 under `-q` (§8.2). */
function bracket(word: string, o: LineOptions): string {
  return `[${word.padEnd(13)}${o.quiet ? "" : " "}]`;
}

/** The `:SLOT[/SUBSLOT]` part of the new package (emerge spec §8.3). */
export function newSlotPart(e: PlanEntry): string {
  const c = e.pkg;
  const sub = c.subslot !== c.slot ? `/${c.subslot}` : "";
  if (e.status === "new-slot") return `:${c.slot}${sub}`;
  if (notZero(c) || e.shownOld.some(notZero)) {
    const otherSub = e.shownOld.some((o) => o.slot === c.slot && o.subslot !== c.subslot);
    return `:${c.slot}${sub || (otherSub ? `/${c.subslot}` : "")}`;
  }
  return "";
}

function oldSlotPart(o: Candidate, e: PlanEntry): string {
  const sub = o.subslot !== o.slot ? `/${o.subslot}` : "";
  if (e.status === "new-slot") return `:${o.slot}${sub}`;
  if (notZero(e.pkg) || e.shownOld.some(notZero)) {
    const differs = o.subslot !== o.slot || (o.slot === e.pkg.slot && o.subslot !== e.pkg.subslot);
    return `:${o.slot}${differs ? `/${o.subslot}` : ""}`;
  }
  return "";
}

/** The `:SLOT[/SUBSLOT]` of a package shown without old versions (an uninstall, a `nomerge` context line): none for 0/0. */
function ownSlotPart(c: Candidate): string {
  return notZero(c) ? `:${c.slot}${c.subslot !== c.slot ? `/${c.subslot}` : ""}` : "";
}

/** OLD (§8.3) followed by the ROOTSUFFIX: `[1.0, 1.1]`, `[1.0] to /mnt/stage/`, `to /mnt/stage/` or "". */
export function oldPart(e: PlanEntry, o: LineOptions): string {
  const olds = e.shownOld.map((x) => (o.verbose ? `${noRevision(x)}${oldSlotPart(x, e)}::${x.repo}` : noRevision(x)));
  // a package for the build host's root (its build-time dependencies) has no suffix
  return e.host ? (olds.length ? `[${olds.join(", ")}]` : "") : withRoot(olds.length ? `[${olds.join(", ")}]` : "", o);
}

function withRoot(old: string, o: LineOptions): string {
  return o.root !== "/" ? `${old}${old ? " " : ""}to ${o.root.replace(/\/*$/, "/")}` : old;
}

/** EXTRA of a merge line: the USE groups, then with `-v` the download size (§8.3, §8.5). */
export function mergeExtra(e: PlanEntry, o: LineOptions, downloadBytes: number): string {
  return useGroups(e, o) + (o.verbose ? kib(downloadBytes, o.locale) : "");
}

/** `[ebuild  N     ]` (`[binary …]` from a binary package): the merge bracket, 6 attribute columns under `-q` (§8.2). */
export function mergeBracket(e: PlanEntry, o: LineOptions): string {
  return `[${e.binary !== undefined ? "binary" : "ebuild"} ${o.quiet ? e.attrs.slice(0, 6) : e.attrs}]`;
}

/** The USE groups of a line (§8.4), each ending with a space; "" when none is shown. */
export function useGroups(e: PlanEntry, o: LineOptions): string {
  return useGroupsOf(e.pkg, e.previous, o);
}

/** The USE groups of package `c` compared with `prev` (none: a new package). */
function useGroupsOf(c: Candidate, prev: Candidate | undefined, o: LineOptions): string {
  // -q alone shows no flags (§8.4, §8.9)
  if (o.quiet && !o.quietVerbose) return "";
  const all = o.verbose || o.quiet;
  const names = (p: Candidate) => p.iuse.map((f) => f.replace(/^[+-]/, ""));
  const I = new Set(names(c));
  const E = new Set(c.useState.enabled.filter((f) => I.has(f)));
  const FM = new Set([...c.useState.forced, ...c.useState.masked]);
  const OI = prev ? new Set(names(prev)) : undefined;
  const OE = prev ? new Set([...prev.use].filter((f) => OI!.has(f))) : undefined;
  const wrap = (f: string, shown: string) => (FM.has(f) ? `(${shown})` : shown);
  const enabled: [string, string][] = [];
  const disabled: [string, string][] = [];
  const removed: [string, string][] = [];
  for (const f of I) {
    if (E.has(f)) {
      if (!OI) enabled.push([f, wrap(f, f)]);
      else if (!OI.has(f)) enabled.push([f, wrap(f, `${f}%*`)]);
      else if (!OE!.has(f)) enabled.push([f, wrap(f, `${f}*`)]);
      else if (all) enabled.push([f, wrap(f, f)]);
    } else {
      if (!OI) disabled.push([f, wrap(f, `-${f}`)]);
      else if (!OI.has(f)) disabled.push([f, FM.has(f) ? `(-${f})` : `-${f}%`]);
      else if (OE!.has(f)) disabled.push([f, wrap(f, `-${f}*`)]);
      else if (all) disabled.push([f, wrap(f, `-${f}`)]);
    }
  }
  if (OI && all) for (const f of OI) if (!I.has(f)) removed.push([f, OE!.has(f) ? `(-${f}%*)` : `(-${f}%)`]);
  const byName = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  // a flag belongs to the first USE_EXPAND variable (sorted by name) whose prefix it has
  const expands = [...o.useExpand].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  const groupOf = (f: string) => expands.find((v) => f.startsWith(`${v.toLowerCase()}_`));
  const groups = new Map<string, string[]>();
  for (const part of [enabled, disabled, removed]) {
    for (const [f, shown] of part.sort(byName)) {
      const v = groupOf(f);
      if (v && o.useExpandHidden.has(v)) continue;
      const key = v ?? "USE";
      const text = v ? shown.replace(`${v.toLowerCase()}_`, "") : shown;
      groups.set(key, [...(groups.get(key) ?? []), text]);
    }
  }
  let out = "";
  for (const key of ["USE", ...expands]) {
    const flags = groups.get(key);
    if (flags?.length) out += `${key}="${flags.join(" ")}" `;
  }
  return out;
}

/** One merge line of `emerge -p` (§8.2, §8.3), without colour; `depth` indents it under `--tree`. */
export function mergeLine(e: PlanEntry, o: LineOptions, downloadBytes = 0, depth = 0): string {
  const c = e.pkg;
  const pkg = o.verbose ? `${c.cpv}${newSlotPart(e)}::${c.repo}` : c.cpv;
  const extra = mergeExtra(e, o, downloadBytes);
  return `${mergeBracket(e, o)} ${indent(depth)}${pkg} ${oldPart(e, o)}${extra ? ` ${extra}` : ""}`;
}

/**
 * A `[nomerge       ]` context line of `--tree` (§8.7): a package to merge shown as a parent
 * before its own line (its OLD and USE as on that line, no size), or an installed package,
 * whose USE is compared with itself (no `*` or `%`).
 */
export function nomergeLine(p: PlanEntry | Candidate, o: LineOptions, depth = 0): string {
  const c = "op" in p ? p.pkg : p;
  const pkg = o.verbose ? `${c.cpv}${"op" in p ? newSlotPart(p) : ownSlotPart(c)}::${c.repo}` : c.cpv;
  // emerge writes `to ROOT` on every package line, context lines included
  const old = "op" in p ? oldPart(p, o) : withRoot("", o);
  const extra = "op" in p ? useGroups(p, o) : useGroupsOf(c, c, o);
  return `${bracket("nomerge", o)} ${indent(depth)}${pkg} ${old}${extra ? ` ${extra}` : ""}`;
}

/** `[uninstall     ] app-misc/old-1.0::test-kit ` (§8.7). */
export function uninstallLine(u: UnmergeEntry, o: LineOptions, depth = 0): string {
  const c = u.pkg;
  return `${bracket("uninstall", o)} ${indent(depth)}${o.verbose ? `${c.cpv}${ownSlotPart(c)}::${c.repo}` : c.cpv} `;
}

/** `[blocks b      ] app-misc/old ("app-misc/old" is blocking app-misc/new-1.0)` (§8.6). */
export function blockerLine(u: UnmergeEntry, resolved: boolean, o: LineOptions, depth = 0): string {
  const strong = u.atom.startsWith("!!");
  const atom = u.atom.replace(/^!!?/, "");
  return `${bracket(`blocks ${resolved ? "b" : "B"}`, o)} ${indent(depth)}${atom} ("${atom}" is ${strong ? "hard blocking" : "blocking"} ${u.by.map((b) => b.cpv).join(", ")})`;
}

/** `Total: 5 packages (3 upgrades, 1 in new slot, 1 reinstall), Size of downloads: 0 KiB` (§8.10). */
export function totalLine(t: Totals, downloadBytes = 0, locale?: string): string {
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const details = [
    t.upgrades ? plural(t.upgrades, "upgrade", "upgrades") : "",
    t.downgrades ? plural(t.downgrades, "downgrade", "downgrades") : "",
    t.new ? `${t.new} new` : "",
    t.newSlots ? plural(t.newSlots, "in new slot", "in new slots") : "",
    t.reinstalls ? plural(t.reinstalls, "reinstall", "reinstalls") : "",
    t.binaries ? plural(t.binaries, "binary", "binaries") : "",
    t.uninstalls ? plural(t.uninstalls, "uninstall", "uninstalls") : "",
    t.interactive ? `${t.interactive} interactive` : "",
  ].filter(Boolean);
  return `Total: ${plural(t.packages, "package", "packages")}${t.packages && details.length ? ` (${details.join(", ")})` : ""}, Size of downloads: ${kib(downloadBytes, locale)}`;
}
