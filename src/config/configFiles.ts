import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { isDirectory, listConfigDir, listDir, noteInput } from "../core/fsutil.js";
import { Atom, CATEGORY_PATTERN, SLOT_NAME_PATTERN } from "../pms/atom.js";
import { VERSION_PATTERN } from "../pms/version.js";
import type { EapiFeatures } from "../pms/eapi.js";

/** A non-blank, comment-stripped line of a configuration file, with where it came from. */
export interface ConfigLine {
  readonly text: string;
  readonly file: string;
  readonly line: number;
}

/** An atom with the line that stated it (for "masked by … line N" explanations). */
export interface AtomLine {
  readonly atom: Atom;
  /** The `category/package` the atom names, or EXTENDED for a wildcard atom: the index key. */
  readonly cp: string;
  /** The atom in canonical form: what `-atom` in a later file must match to remove this line. */
  readonly key: string;
  /** `-atom` in an incremental file. */
  readonly negated: boolean;
  readonly tokens: readonly string[];
  readonly file: string;
  readonly line: number;
  /** The EAPI the atom was read under: `key` parses back to `atom` with it. */
  readonly eapi: EapiFeatures;
}

/** A line whose atom was parsed in full when the file was read. */
export function atomLine(atom: Atom, eapi: EapiFeatures, negated: boolean, tokens: readonly string[], file: string, line: number): AtomLine {
  return { atom, cp: atom.extended ? EXTENDED : atom.cp, key: atom.toString(), negated, tokens, file, line, eapi };
}

// Profiles hold thousands of atoms, and a command usually looks at a handful of packages. Most
// lines are plain atoms (`>=cat/pkg-1.2:3`): these are recognised by one regular expression, which
// proves them valid, and parsed only when a package of that name is looked at. Every other line
// is parsed at once, so a bad line is reported when the file is read, as before.
// package names whose every `-` is followed by a letter, so that the version's place is certain
const PLAIN_PKG = "[A-Za-z0-9_][A-Za-z0-9+_]*(?:-[A-Za-z+_][A-Za-z0-9+_]*)*";
const CP = `${CATEGORY_PATTERN}/${PLAIN_PKG}`;
const VER = VERSION_PATTERN;
const plainAtom = (slot: string) => new RegExp(`^(?:(?:[<>]=?|~|=)(${CP})-${VER}|=(${CP})-${VER}\\*|(${CP}))${slot}$`);
const PLAIN_ATOM = plainAtom("");
const PLAIN_ATOM_SLOT = plainAtom(`(?::${SLOT_NAME_PATTERN})?`);

/**
 * A line whose atom is known to be valid and canonical (proven by PLAIN_ATOM, or read back from a
 * configuration snapshot): its Atom is built on first use.
 */
class LazyAtomLine implements AtomLine {
  private parsed: Atom | undefined;
  constructor(
    readonly key: string,
    readonly eapi: EapiFeatures,
    readonly cp: string,
    readonly negated: boolean,
    readonly tokens: readonly string[],
    readonly file: string,
    readonly line: number,
  ) {}

  get atom(): Atom {
    return (this.parsed ??= Atom.parse(this.key, this.eapi));
  }
}

/** A line of a configuration snapshot: `key` was a valid atom in canonical form under `eapi`. */
export function knownAtomLine(key: string, eapi: EapiFeatures, cp: string, negated: boolean, tokens: readonly string[], file: string, line: number): AtomLine {
  return new LazyAtomLine(key, eapi, cp, negated, tokens, file, line);
}

/** `category/package` of a plain atom of this EAPI (see PLAIN_ATOM), or undefined. */
export function plainAtomCp(text: string, eapi: EapiFeatures): string | undefined {
  const m = (eapi.slotDeps ? PLAIN_ATOM_SLOT : PLAIN_ATOM).exec(text);
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
}

/**
 * Remembers directory listings so that probing a profile directory for its dozen possible files
 * costs one readdir instead of a failed open per absent file.
 */
export class DirCache {
  private readonly listings = new Map<string, Set<string> | null>();

  /** Names in a directory, or null when it cannot be listed (absent, or not a directory). */
  list(dir: string): Set<string> | null {
    let names = this.listings.get(dir);
    if (names === undefined) {
      const listed = listDir(dir);
      names = listed ? new Set(listed) : null;
      this.listings.set(dir, names);
    }
    return names;
  }

  /** `dir/name` when the listing of `dir` (a normalised absolute path) has `name`; no path parsing. */
  entry(dir: string, name: string): string | undefined {
    return this.list(dir)?.has(name) ? (dir.endsWith("/") ? dir + name : `${dir}/${name}`) : undefined;
  }
}

/** Read a config file, or every file of a config directory in name order (when allowed). */
export function readConfigLines(p: string, allowDirectory: boolean): ConfigLine[] {
  // Read first and look at the error: one system call for the common "absent" and "file" cases.
  let text: string;
  try {
    noteInput(p);
    text = fs.readFileSync(p, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    if (code !== "EISDIR") throw e;
    if (!allowDirectory) return [];
    return listConfigDir(p).flatMap((f) => (isDirectory(f) ? readConfigLines(f, true) : readConfigLines(f, false)));
  }
  const out: ConfigLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const hash = raw.indexOf("#");
    const t = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (t) out.push({ text: t, file: p, line: i + 1 });
  }
  return out;
}

/** readConfigLines of `dir/name`, found through the directory's listing: an absent file costs nothing. */
export function readConfigEntry(dirs: DirCache, dir: string, name: string, allowDirectory: boolean): ConfigLine[] {
  const file = dirs.entry(dir, name);
  return file ? readConfigLines(file, allowDirectory) : [];
}

const NO_TOKENS: readonly string[] = Object.freeze([]);

export type BadLinePolicy = "error" | ((message: string, file: string, line: number) => void);

/**
 * Parse `[-]atom [token …]` lines. In user configuration a bad atom is an error; in profiles it is
 * reported and skipped, as Portage does.
 */
export function parseAtomLines(lines: ConfigLine[], eapi: EapiFeatures, onBad: BadLinePolicy, allowNegation: boolean): AtomLine[] {
  const out: AtomLine[] = [];
  for (const l of lines) {
    // the common line: one plain atom (whitespace never matches the expression)
    const quick = plainAtomCp(l.text, eapi);
    if (quick !== undefined) {
      out.push(new LazyAtomLine(l.text, eapi, quick, false, NO_TOKENS, l.file, l.line));
      continue;
    }
    const parts = /\s/.test(l.text) ? l.text.split(/\s+/) : [l.text];
    let first = parts[0]!;
    let negated = false;
    if (allowNegation && first.startsWith("-") && first.length > 1) {
      negated = true;
      first = first.slice(1);
    }
    const tokens = parts.length > 1 ? parts.slice(1) : NO_TOKENS;
    // a plain line was tried above; a `-atom` or an atom with tokens gets its own try
    const cp = first === l.text ? undefined : plainAtomCp(first, eapi);
    if (cp !== undefined) {
      out.push(new LazyAtomLine(first, eapi, cp, negated, tokens, l.file, l.line));
      continue;
    }
    let atom: Atom;
    try {
      atom = Atom.parse(first, eapi);
      if (atom.blocker) throw new OuzoError("BAD_ATOM", `blockers are not allowed here: '${first}'`);
    } catch (e) {
      if (!(e instanceof OuzoError)) throw e;
      if (onBad === "error") throw new OuzoError(e.code, e.message, { file: l.file, line: l.line });
      onBad(e.message, l.file, l.line);
      continue;
    }
    out.push(atomLine(atom, eapi, negated, tokens, l.file, l.line));
  }
  return out;
}

/** Apply `-*`/`-x`/`x` tokens to an ordered set. `+x` is treated as x. */
export function stackTokens(target: string[] | Set<string>, tokens: readonly string[]): void {
  const set = target instanceof Set ? target : undefined;
  const list = target instanceof Set ? undefined : target;
  for (let t of tokens) {
    if (t === "-*") {
      if (set) set.clear();
      else list!.length = 0;
    } else if (t.startsWith("-")) {
      t = t.slice(1);
      if (set) set.delete(t);
      else {
        const i = list!.indexOf(t);
        if (i >= 0) list!.splice(i, 1);
      }
    } else {
      if (t.startsWith("+")) t = t.slice(1);
      if (set) set.add(t);
      else if (!list!.includes(t)) list!.push(t);
    }
  }
}

// Rank of an atom's specificity: less specific lines are applied first (Portage orders package.use
// this way). Extended atoms ("*/*", "dev-*/foo") rank below every ordinary atom.
export function specificity(a: Atom): number {
  let r = 0;
  switch (a.operator) {
    case "=":
      r = 50;
      break;
    case "~":
      r = 40;
      break;
    case "=*":
      r = 30;
      break;
    case undefined:
      r = 0;
      break;
    default:
      r = 20;
  }
  if (a.extended) r -= 10;
  if (a.slot !== undefined) r += 5;
  if (a.repo !== undefined) r += 2;
  return r;
}

/** Where an index keeps extended atoms, which may match any `category/package`. */
const EXTENDED = "*";

/** Group atom lines by `category/package` for fast per-package lookup (extended atoms apart). */
export function indexByCp(lines: readonly AtomLine[]): Map<string, AtomLine[]> {
  const m = new Map<string, AtomLine[]>();
  for (const l of lines) {
    let arr = m.get(l.cp);
    if (!arr) m.set(l.cp, (arr = []));
    arr.push(l);
  }
  return m;
}

/** The lines of an index that may match `cp`: its own, then the extended ones. */
export function linesFor(index: ReadonlyMap<string, readonly AtomLine[]>, cp: string): readonly AtomLine[] {
  const own = index.get(cp);
  const ext = index.get(EXTENDED);
  if (!ext) return own ?? [];
  return own ? [...own, ...ext] : ext;
}
