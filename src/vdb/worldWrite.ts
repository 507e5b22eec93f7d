// Writing the world files (build spec §9.8, emerge spec §2.2): `var/lib/portage/world` holds
// atoms, `world_sets` `@set` names. The whole file is rewritten atomically (temp + rename), one
// entry per line, sorted by plain string order, duplicates collapsed, comments dropped, under
// Portage's `.world.portage_lockfile` / `.world_sets.portage_lockfile` (§14.2). An entry ouzo
// cannot parse is kept as it is: rewriting the file must not lose what the user wrote.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile, readFileIfExists } from "../core/fsutil.js";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI } from "../pms/eapi.js";
import { withPortageLock, type PortageLockOptions } from "./vdbLock.js";
import { worldFile, worldSetsFile } from "./world.js";

export type WorldFileKind = "world" | "world_sets";

/** What an edit changed, entries as written in the file. */
export interface WorldChange {
  readonly added: string[];
  readonly removed: string[];
}

const SET_RE = /^@[A-Za-z0-9_][A-Za-z0-9_+./-]*$/;

function fileOf(root: string, kind: WorldFileKind): string {
  return kind === "world" ? worldFile(root) : worldSetsFile(root);
}

export function worldLockFile(root: string, kind: WorldFileKind): string {
  const f = fileOf(root, kind);
  return path.join(path.dirname(f), `.${path.basename(f)}.portage_lockfile`);
}

/** The entries of a world file as written: first token of each line, comments and blanks skipped, duplicates collapsed. */
export function readWorldEntries(root: string, kind: WorldFileKind): string[] {
  const text = readFileIfExists(fileOf(root, kind)) ?? "";
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const t = line.trim().split(/\s+/)[0] ?? "";
    if (t && !t.startsWith("#")) out.add(t);
  }
  return [...out];
}

/** The file's text for a list of entries: sorted, unique, one per line. */
export function formatWorldEntries(entries: Iterable<string>): string {
  const sorted = [...new Set(entries)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted.map((e) => `${e}\n`).join("");
}

/** `/var/lib/portage` as Portage makes it: 02750, group portage when ROOT's /etc/group names it and we may chown. */
function ensureDir(root: string, dir: string): void {
  if (fs.existsSync(dir)) return;
  fs.mkdirSync(dir, { recursive: true, mode: 0o2750 });
  fs.chmodSync(dir, 0o2750);
  if (process.getuid?.() !== 0) return;
  const group = readFileIfExists(path.join(root, "etc", "group")) ?? "";
  const m = /^portage:[^:]*:(\d+):/m.exec(group);
  if (m) fs.chownSync(dir, 0, Number(m[1]));
}

/**
 * Edit a world file under its lock: `edit` gets the current entries and returns the new ones.
 * The file is written (sorted, atomically) only when the set of entries changed: a file that only
 * differs in comments or order is left as it is.
 */
export async function editWorldFile(root: string, kind: WorldFileKind, edit: (entries: readonly string[]) => Iterable<string>, opts: PortageLockOptions = {}): Promise<WorldChange> {
  const file = fileOf(root, kind);
  ensureDir(root, path.dirname(file));
  return withPortageLock(
    worldLockFile(root, kind),
    () => {
      const before = readWorldEntries(root, kind);
      const after = [...new Set(edit(before))];
      const had = new Set(before);
      const has = new Set(after);
      const change = { added: after.filter((e) => !had.has(e)).sort(), removed: before.filter((e) => !has.has(e)).sort() };
      if (change.added.length || change.removed.length) atomicWriteFile(file, formatWorldEntries(after), 0o644);
      return change;
    },
    { name: `the ${kind} file`, ...opts },
  );
}

/** An atom as a world entry: parsed, no blocker, no wildcard; its canonical text. */
export function worldAtomText(text: string): string {
  const a = Atom.parse(text, USER_CONFIG_EAPI);
  if (a.blocker) throw new OuzoError("BAD_WORLD_ATOM", `a blocker is not a world entry: '${text}'`);
  if (a.extended) throw new OuzoError("BAD_WORLD_ATOM", `a wildcard is not a world entry: '${text}'`);
  return a.toString();
}

/** The canonical text of an entry already in the file, or the entry itself when it does not parse. */
function canonicalEntry(entry: string): string {
  try {
    return worldAtomText(entry);
  } catch {
    return entry;
  }
}

/** Add atoms to `world` (emerge without --oneshot); an entry already there (in any spelling) is not added again. */
export async function addWorldAtoms(root: string, atoms: readonly string[], opts?: PortageLockOptions): Promise<WorldChange> {
  const wanted = atoms.map(worldAtomText);
  return await editWorldFile(root, "world", (entries) => {
    const present = new Set(entries.map(canonicalEntry));
    return [...entries, ...wanted.filter((a) => !present.has(a))];
  }, opts);
}

/** Remove world entries equal to these atoms (compared in canonical form). */
export async function removeWorldAtoms(root: string, atoms: readonly string[], opts?: PortageLockOptions): Promise<WorldChange> {
  const drop = new Set(atoms.map(worldAtomText));
  return await editWorldFile(root, "world", (entries) => entries.filter((e) => !drop.has(canonicalEntry(e))), opts);
}

function setName(s: string): string {
  const name = s.startsWith("@") ? s : `@${s}`;
  if (!SET_RE.test(name)) throw new OuzoError("BAD_WORLD_SET", `'${s}' is not a set name (@name)`);
  return name;
}

/** Add sets (with or without the `@`) to `world_sets`. */
export async function addWorldSets(root: string, sets: readonly string[], opts?: PortageLockOptions): Promise<WorldChange> {
  const wanted = sets.map(setName);
  return await editWorldFile(root, "world_sets", (entries) => [...entries, ...wanted], opts);
}

/** Remove sets (with or without the `@`) from `world_sets`. */
export async function removeWorldSets(root: string, sets: readonly string[], opts?: PortageLockOptions): Promise<WorldChange> {
  const drop = new Set(sets.map(setName));
  return await editWorldFile(root, "world_sets", (entries) => entries.filter((e) => !drop.has(e)), opts);
}
