/**
 * emerge's option forms (emerge spec §1.1) rewritten into the plain forms ouzo's command-line
 * table reads, before parsing:
 *
 * - `[y|n]` options take an optional following `y`/`n` (`--ask n`, `--ask=n`, `-a n`): `y` is the
 *   bare option, `n` its negation (`--no-ask`). A short option takes it only as the next word
 *   (`-kn` is `-k -n`), and only as the last letter of a bundle.
 * - `--deep` and `-D` take an optional depth, glued (`-D2`, `--deep=2`) or as the next word
 *   when it is a number (`-D 2`): it becomes `--deep` plus `--deep-level=N`.
 * - `--root-deps` takes an optional `rdeps`; alone it means `y`.
 * - Aliases: `--cols` is `--columns`, `--reinstall=changed-use` is `--changed-use`.
 * - `--color y|n` (emerge's values) is `--color always|never` (ouzo's).
 * - `--jobs` and `-j` take an optional number, glued or as the next word; without one there is
 *   no limit, written `--jobs=-1` (UNLIMITED_JOBS); a number below 1 is a usage error (MARK).
 *
 * Everything else passes through unchanged, so the parser names unknown options and bad values.
 */

import { OuzoError, UsageError } from "../core/errors.js";

/** Long options whose value is an optional y/n. */
const YN_LONG = new Set([
  "ask", "verbose", "quiet", "pretend", "select", "selective", "changed-deps", "changed-slot", "changed-deps-report",
  "complete-graph", "rebuild-if-new-rev", "rebuild-if-new-ver", "rebuild-if-unbuilt", "with-test-deps", "newrepo",
  "autounmask", "autounmask-use", "autounmask-license", "autounmask-keep-keywords", "autounmask-keep-masks", "autounmask-write",
  "autounmask-continue", "autounmask-only", "autounmask-unrestricted-atoms", "deselect",
]);
/** Short options whose value is an optional y/n, with their long names. */
const YN_SHORT: Readonly<Record<string, string>> = { a: "ask", b: "buildpkg", g: "getbinpkg", G: "getbinpkgonly", k: "usepkg", K: "usepkgonly", q: "quiet", v: "verbose", w: "select", W: "deselect" };

const isYN = (w: string | undefined): w is "y" | "n" => w === "y" || w === "n";

/** `--jobs` without a number: as many builds at once as are ready. */
export const UNLIMITED_JOBS = -1;

/** A number of jobs the user gave: 1 or more. */
function jobsValue(v: string): string {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--jobs: '${v}' is not a number of jobs (1 or more; --jobs alone sets no limit)`);
  return `--jobs=${v}`;
}

/**
 * `booleans`: every yes/no option of the command table; each takes an optional y/n as those of
 * YN_LONG do (`--keep-going=y`, `--usepkg n`), which make.conf's EMERGE_DEFAULT_OPTS often holds.
 */
export function emergeArgv(argv: readonly string[], booleans: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const yn = (name: string, v: "y" | "n") => out.push(v === "y" ? `--${name}` : `--no-${name}`);
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    const next = argv[i + 1];
    if (w === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const long = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(w);
    if (long) {
      const [, name, value] = long as unknown as [string, string, string | undefined];
      if (YN_LONG.has(name) || booleans.has(name)) {
        if (isYN(value)) yn(name, value);
        else if (value === undefined && isYN(next)) yn(name, next), i++;
        else out.push(w);
        continue;
      }
      if (name === "deep") {
        if (value !== undefined) out.push("--deep", `--deep-level=${value}`);
        else if (next !== undefined && /^\d+$/.test(next)) out.push("--deep", `--deep-level=${next}`), i++;
        else out.push(w);
        continue;
      }
      if (name === "root-deps") {
        if (value !== undefined) out.push(`--root-deps=${value}`);
        else if (next === "rdeps") out.push("--root-deps=rdeps"), i++;
        else out.push("--root-deps=y");
        continue;
      }
      if (name === "jobs") {
        if (value !== undefined) out.push(jobsValue(value));
        else if (next !== undefined && /^\d+$/.test(next)) out.push(jobsValue(next)), i++;
        else out.push(`--jobs=${UNLIMITED_JOBS}`);
        continue;
      }
      if (name === "cols") {
        out.push(`--columns${value !== undefined ? `=${value}` : ""}`);
        continue;
      }
      if (name === "reinstall") {
        const v = value ?? next;
        if (v === "changed-use") {
          out.push("--changed-use");
          if (value === undefined) i++;
          continue;
        }
      }
      if (name === "color") {
        const v = value ?? (isYN(next) ? next : undefined);
        if (isYN(v)) {
          out.push(`--color=${v === "y" ? "always" : "never"}`);
          if (value === undefined) i++;
          continue;
        }
      }
      out.push(w);
      continue;
    }
    const short = /^-([A-Za-z]+)(\d*)$/.exec(w);
    if (short) {
      const [, letters, digits] = short as unknown as [string, string, string];
      const last = letters[letters.length - 1]!;
      if (last === "j") {
        if (letters.length > 1) out.push(`-${letters.slice(0, -1)}`);
        if (digits) out.push(jobsValue(digits));
        else if (next !== undefined && /^\d+$/.test(next)) out.push(jobsValue(next)), i++;
        else out.push(`--jobs=${UNLIMITED_JOBS}`);
        continue;
      }
      if (digits && last === "D") {
        out.push(`-${letters}`, `--deep-level=${digits}`);
        continue;
      }
      if (!digits && last === "D" && next !== undefined && /^\d+$/.test(next)) {
        out.push(w, `--deep-level=${next}`);
        i++;
        continue;
      }
      if (!digits && YN_SHORT[last] && isYN(next)) {
        if (letters.length > 1) out.push(`-${letters.slice(0, -1)}`);
        yn(YN_SHORT[last]!, next);
        i++;
        continue;
      }
    }
    out.push(w);
  }
  return out;
}

/** A line split as the shell splits words: blanks separate, quotes and backslashes group. */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      if (close < 0) throw new UsageError(`EMERGE_DEFAULT_OPTS: unterminated ${c === "'" ? "single" : "double"} quote`);
      word += c === '"' ? text.slice(i + 1, close).replace(/\\(["\\$`])/g, "$1") : text.slice(i + 1, close);
      inWord = true;
      i = close;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** How options read (from the command table): their kind, short letter, and whether they add up. */
export type OptionKinds = Readonly<Record<string, { readonly type: string; readonly alias?: string; readonly array?: boolean }>>;

/** The words of an emerge command line (in emergeArgv's forms) as groups, each an option (by long name) or an argument. */
function optionGroups(words: readonly string[], options: OptionKinds): { key?: string; words: string[] }[] {
  const short = new Map(Object.entries(options).flatMap(([name, o]) => (o.alias ? [[o.alias, name] as const] : [])));
  const groups: { key?: string; words: string[] }[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === "--") {
      groups.push({ words: words.slice(i) });
      break;
    }
    const long = /^--([A-Za-z0-9][A-Za-z0-9-]*)(=.*)?$/.exec(w);
    if (long) {
      // `--no-x` is the negation of `--x`, unless an option is named so
      const negated = long[1]!.startsWith("no-") && !options[long[1]!];
      const key = negated ? long[1]!.slice(3) : long[1]!;
      const spec = options[key];
      const takesNext = !!spec && spec.type !== "boolean" && !negated && long[2] === undefined && i + 1 < words.length;
      groups.push({ key, words: takesNext ? [w, words[++i]!] : [w] });
      continue;
    }
    const bundle = /^-([A-Za-z0-9]+)$/.exec(w);
    if (bundle) {
      const letters = bundle[1]!;
      for (let k = 0; k < letters.length; k++) {
        const name = short.get(letters[k]!);
        const takesNext = name !== undefined && options[name]!.type !== "boolean" && k === letters.length - 1 && i + 1 < words.length;
        groups.push({ key: name ?? `-${letters[k]}`, words: takesNext ? [`-${letters[k]}`, words[++i]!] : [`-${letters[k]}`] });
      }
      continue;
    }
    groups.push({ words: [w] });
  }
  return groups;
}

/**
 * EMERGE_DEFAULT_OPTS (emerge spec §1.1): its words go before the command line's, so the command
 * line wins: an option it gives is taken out of the defaults (a repeatable one adds up instead),
 * as "last value wins" says. Both lists are already in emergeArgv's forms, without "emerge".
 */
export function withDefaultOpts(defaults: readonly string[], args: readonly string[], options: OptionKinds, ignored: string[] = []): string[] {
  const given = new Set(optionGroups(args, options).flatMap((g) => (g.key ? [g.key] : [])));
  const kept = optionGroups(defaults, options).filter((g) => {
    if (!g.key) return true;
    // an emerge option ouzo does not have (--verbose-conflicts, --binpkg-respect-use…) would stop every run
    if (!(g.key in options)) {
      ignored.push(g.words.join(" "));
      return false;
    }
    return options[g.key]?.array || !given.has(g.key);
  });
  return [...kept.flatMap((g) => g.words), ...args];
}

/** emerge's actions that ouzo has as commands of their own (emerge spec §1.2, outside its scope). */
const OTHER_ACTIONS: Readonly<Record<string, string>> = { sync: "sync", search: "search", searchdesc: "search", regen: "regen", metadata: "regen", version: "version", "check-news": "", config: "" };
const OTHER_SHORT: Readonly<Record<string, string>> = { s: "search", S: "searchdesc", V: "version" };
/** Options that mean the same to those commands. */
const PASSED = new Set(["root", "config-root", "quiet", "verbose", "json", "color", "cache-dir"]);

/**
 * `emerge --sync`, `-s TERM`, `-S TERM`, `--regen`, `--metadata`, `--version` as ouzo's own
 * `sync`, `search`, `regen` and `--version`, so that the habit (and an `emerge` link to ouzo) keeps
 * working; undefined when the command line is a merge or another action of the emerge command.
 */
export function otherEmergeAction(argv: readonly string[], options: OptionKinds): string[] | undefined {
  // the options whose value is the next word (`--jobs 4`, `-j 4`): that word is no search term
  const valued = new Set(Object.entries(options).flatMap(([name, o]) => (o.type !== "boolean" ? [name] : [])));
  const valuedShort = new Set(Object.values(options).flatMap((o) => (o.type !== "boolean" && o.alias ? [o.alias] : [])));
  let action: string | undefined;
  const passed: string[] = [];
  const rest: string[] = [];
  let pretend = false;
  for (let i = 1; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === "--") break;
    const long = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(w);
    const name = long?.[1];
    if (name && name in OTHER_ACTIONS) {
      action = name;
      continue;
    }
    if (name === "pretend") pretend = true;
    if (name && PASSED.has(name)) {
      passed.push(w);
      if (long[2] === undefined && valued.has(name) && i + 1 < argv.length) passed.push(argv[++i]!);
      continue;
    }
    if (name && long[2] === undefined && valued.has(name) && i + 1 < argv.length && !argv[i + 1]!.startsWith("-")) {
      i++; // an option of the merge, and its value: not for these commands
      continue;
    }
    const short = /^-([A-Za-z]+)$/.exec(w);
    if (short) {
      if (valuedShort.has(short[1]!.at(-1)!) && i + 1 < argv.length && /^\d/.test(argv[i + 1]!)) i++;
      for (const c of short[1]!) {
        if (c in OTHER_SHORT) action = OTHER_SHORT[c];
        else if (c === "p") pretend = true;
        else if (c === "q") passed.push("--quiet");
        else if (c === "v") passed.push("--verbose");
      }
      continue;
    }
    if (!w.startsWith("-")) rest.push(w);
  }
  if (!action) return undefined;
  const command = OTHER_ACTIONS[action]!;
  if (!command) throw new UsageError(`emerge --${action} is not something ouzo does`);
  if (pretend && command !== "search" && command !== "version") throw new OuzoError("EMERGE_PRETEND", `--pretend cannot be used with --${action}`);
  if (command === "version") return ["--version"];
  if (command === "search") {
    if (rest.length !== 1) throw new UsageError(`emerge --${action} takes one search term here (ouzo search TERM searches names and descriptions)`);
    return ["search", ...rest, ...passed];
  }
  return [command, ...passed];
}
