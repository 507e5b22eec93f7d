// Writing the installed-package database (build spec §9.1–§9.3, §10.1, §10.8).
//
// A new entry is staged whole as `${vdb}/<cat>/-MERGING-<PF>/` (readers skip that name): the
// build-info files as they are (§4.9: the build stage already wrote them in Portage's byte
// format, USE-conditionals evaluated and `:=` bound), CONTENTS, COUNTER and what the merge adds.
// Files and the directory are fsynced; the commit is a rename. The staging directory is itself
// the temporary: nothing under it is visible before the rename, so its files are written in
// place. An older entry of the same PF is first renamed aside to `-MERGING-<PF>.replaced` (no PF
// ends that way), then the new one is renamed in, then the old one removed; a crash between the
// two renames is undone by recoverVdbEntries. Before and after each change the category
// directory's and /var/db/pkg's mtimes are set to now, as Portage does for the caches of other
// tools (§9.1, §9.6).
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { currentUmask, fsyncDir, removeIfPresent } from "../core/fsutil.js";
import { CATEGORY_PATTERN } from "../pms/atom.js";
import { formatContents, type ContentsEntry } from "./contents.js";
import { splitPackageDir, vdbDir } from "./installed.js";

export interface NewVdbEntry {
  readonly category: string;
  readonly pf: string;
  /** ${PORTAGE_BUILDDIR}/build-info: its files are copied as they are (§4.9). */
  readonly buildInfoDir: string;
  readonly contents: readonly ContentsEntry[];
  readonly counter: number;
  /**
   * More files, name → value (INSTALL_MASK, a CHOST re-written from the configuration, …):
   * one line, so a `\n` is added to a value that lacks it; "" writes an empty file. They
   * replace build-info files of the same name.
   */
  readonly extra?: Readonly<Record<string, string>>;
  /**
   * fsync each file and the directories (default). A merge without FEATURES=merge-sync passes
   * false, as it does not flush the files it stages either: a kill -9 loses nothing the kernel
   * holds; only a power loss could, and merge-sync is for that.
   */
  readonly durable?: boolean;
}

/** Files written only when non-empty after whitespace normalisation (§9.3: an empty one is not written). */
const DROPPED_WHEN_EMPTY = new Set(["DEPEND", "RDEPEND", "PDEPEND", "BDEPEND", "IDEPEND", "LICENSE", "PROPERTIES", "RESTRICT"]);
/**
 * Not copied from build-info: written by the merge (CONTENTS, COUNTER), or upstream-only files
 * that MARK's Portage does not write (Appendix A: `metadata`, `REPO_REVISIONS`).
 */
const NOT_COPIED = new Set(["CONTENTS", "COUNTER", "metadata", "REPO_REVISIONS"]);
const FILE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const CATEGORY_RE = new RegExp(`^${CATEGORY_PATTERN}$`);

export function vdbEntryDir(root: string, category: string, pf: string): string {
  return path.join(vdbDir(root), category, pf);
}

/** Where an entry is built before its commit. */
export function stagingDir(root: string, category: string, pf: string): string {
  return path.join(vdbDir(root), category, `-MERGING-${pf}`);
}

/** Where the entry being replaced waits while the new one is renamed in. */
export function replacedDir(root: string, category: string, pf: string): string {
  return path.join(vdbDir(root), category, `-MERGING-${pf}.replaced`);
}

/** Where an entry being removed goes first, so that it disappears at once. */
export function removedDir(root: string, category: string, pf: string): string {
  return path.join(vdbDir(root), category, `-MERGING-${pf}.removed`);
}

function checkName(category: string, pf: string): void {
  if (!CATEGORY_RE.test(category)) throw new OuzoError("VDB_BAD_NAME", `'${category}' is not a category name`);
  if (!splitPackageDir(pf)) throw new OuzoError("VDB_BAD_NAME", `'${pf}' is not a package name followed by a version`, { pkg: `${category}/${pf}` });
}

/** Set the category directory's and /var/db/pkg's mtimes to now (§9.1). */
export function bumpVdbMtimes(root: string, category?: string): void {
  const now = new Date();
  for (const d of category ? [path.join(vdbDir(root), category), vdbDir(root)] : [vdbDir(root)]) {
    try {
      fs.utimesSync(d, now, now);
    } catch {
      // a category removed meanwhile
    }
  }
}

function writeSynced(file: string, data: string | Buffer, durable = true): void {
  const fd = fs.openSync(file, "wx", 0o644);
  try {
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    // the mode is exact already when the umask takes nothing of it (a call fewer for each of
    // the ~15 files of every entry)
    if (currentUmask() & 0o644) fs.fchmodSync(fd, 0o644);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The files of a new entry, name → bytes, in name order. Throws before anything is written. */
export function vdbEntryFiles(e: NewVdbEntry): Map<string, Buffer> {
  checkName(e.category, e.pf);
  const cpv = `${e.category}/${e.pf}`;
  if (!Number.isSafeInteger(e.counter) || e.counter < 0) throw new OuzoError("VDB_BAD_COUNTER", `COUNTER must be a whole number, not ${e.counter}`, { pkg: cpv });
  const files = new Map<string, Buffer>();
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(e.buildInfoDir, { withFileTypes: true });
  } catch (err) {
    throw new OuzoError("VDB_NO_BUILD_INFO", `cannot read the build-info directory: ${(err as Error).message}`, { file: e.buildInfoDir, pkg: cpv });
  }
  const keep = (name: string, data: Buffer) => {
    if (DROPPED_WHEN_EMPTY.has(name) && !data.toString("utf8").trim()) files.delete(name);
    else files.set(name, data);
  };
  for (const d of names) {
    if (NOT_COPIED.has(d.name) || !d.isFile()) continue;
    keep(d.name, fs.readFileSync(path.join(e.buildInfoDir, d.name)));
  }
  for (const [name, value] of Object.entries(e.extra ?? {})) {
    if (!FILE_NAME_RE.test(name) || name === "CONTENTS" || name === "COUNTER") throw new OuzoError("VDB_BAD_FILE", `'${name}' cannot be written as an extra file of a VDB entry`, { pkg: cpv });
    keep(name, Buffer.from(value === "" || value.endsWith("\n") ? value : `${value}\n`));
  }
  const one = (name: string) => files.get(name)?.toString("utf8").trim().replace(/\s+/g, " ");
  for (const [name, want] of [["CATEGORY", e.category], ["PF", e.pf]] as const) {
    const had = one(name);
    if (had === undefined || had === "") files.set(name, Buffer.from(`${want}\n`));
    else if (had !== want) throw new OuzoError("VDB_MISMATCH", `build-info says ${name} '${had}', but the entry is ${cpv}`, { file: path.join(e.buildInfoDir, name), pkg: cpv });
  }
  if (!one("SLOT")) throw new OuzoError("VDB_NO_SLOT", "build-info has no SLOT: a package cannot be recorded without one", { file: path.join(e.buildInfoDir, "SLOT"), pkg: cpv });
  files.set("CONTENTS", Buffer.from(formatContents(e.contents)));
  // no trailing newline (§9.2)
  files.set("COUNTER", Buffer.from(String(e.counter)));
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Write and fsync `${vdb}/<cat>/-MERGING-<pf>/` with every file of the entry; returns its path.
 * A leftover of an interrupted run under that name is replaced. Call under the VDB lock.
 */
export function stageVdbEntry(root: string, e: NewVdbEntry): string {
  const files = vdbEntryFiles(e);
  const catDir = path.join(vdbDir(root), e.category);
  const stage = stagingDir(root, e.category, e.pf);
  fs.mkdirSync(catDir, { recursive: true, mode: 0o755 });
  bumpVdbMtimes(root, e.category);
  removeIfPresent(stage);
  fs.mkdirSync(stage, { mode: 0o755 });
  fs.chmodSync(stage, 0o755);
  const durable = e.durable !== false;
  for (const [name, data] of files) writeSynced(path.join(stage, name), data, durable);
  if (durable) {
    fsyncDir(stage);
    fsyncDir(catDir);
  }
  bumpVdbMtimes(root, e.category);
  return stage;
}

/**
 * Put the staged `-MERGING-<pf>` in place of `<pf>`: an existing entry of the same PF is set
 * aside, the new one renamed in (and made durable unless `durable` is false: a merge without
 * merge-sync, where kill -9 safety is the rename's), then the old one removed. Call under the VDB lock.
 */
export function commitVdbEntry(root: string, category: string, pf: string, durable = true): void {
  checkName(category, pf);
  const catDir = path.join(vdbDir(root), category);
  const stage = stagingDir(root, category, pf);
  const final = vdbEntryDir(root, category, pf);
  const aside = replacedDir(root, category, pf);
  if (!fs.existsSync(stage)) throw new OuzoError("VDB_NOT_STAGED", `no staged entry to commit (${stage})`, { pkg: `${category}/${pf}` });
  bumpVdbMtimes(root, category);
  removeIfPresent(aside);
  let replaced = false;
  // (a new package, as a rule: nothing to set aside, and no exception for finding so)
  if (fs.lstatSync(final, { throwIfNoEntry: false })) {
    try {
      fs.renameSync(final, aside);
      replaced = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  fs.renameSync(stage, final);
  if (durable) fsyncDir(catDir);
  if (replaced) {
    fs.rmSync(aside, { recursive: true, force: true });
    if (durable) fsyncDir(catDir);
  }
  bumpVdbMtimes(root, category);
}

/**
 * Remove an installed entry: renamed out of sight at once, then deleted; an empty category
 * directory goes too. Nothing happens when there is no such entry. Call under the VDB lock.
 */
export function removeVdbEntry(root: string, category: string, pf: string): void {
  checkName(category, pf);
  const catDir = path.join(vdbDir(root), category);
  const gone = removedDir(root, category, pf);
  bumpVdbMtimes(root, category);
  fs.rmSync(gone, { recursive: true, force: true });
  try {
    fs.renameSync(vdbEntryDir(root, category, pf), gone);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  fsyncDir(catDir);
  fs.rmSync(gone, { recursive: true, force: true });
  try {
    fs.rmdirSync(catDir);
  } catch {
    // other entries remain
  }
  bumpVdbMtimes(root, category);
}

/** What recoverVdbEntries did, as `category/PF` strings. */
export interface VdbRecovery {
  /** Entries set aside by a commit that did not finish: put back (the staged one is left for the caller). */
  readonly restored: string[];
  /** Old entries whose replacement was already in place, and removals that did not finish: deleted. */
  readonly removed: string[];
  /** `-MERGING-<pf>` entries still staged: the caller decides (commit again, or discard with discardStagedEntry). */
  readonly staged: string[];
}

/**
 * Undo what an interrupted commit or removal left (a crash between its renames): run under the
 * VDB lock before anything else touches the VDB. Entries under construction are listed, not touched.
 */
export function recoverVdbEntries(root: string): VdbRecovery {
  const out = { restored: [] as string[], removed: [] as string[], staged: [] as string[] };
  const base = vdbDir(root);
  let cats: string[];
  try {
    cats = fs.readdirSync(base);
  } catch {
    return out;
  }
  for (const cat of cats.sort()) {
    if (cat.startsWith(".")) continue;
    let names: string[];
    try {
      names = fs.readdirSync(path.join(base, cat));
    } catch {
      continue;
    }
    let changed = false;
    for (const name of names.sort()) {
      if (!name.startsWith("-MERGING-")) continue;
      const dir = path.join(base, cat, name);
      const rest = name.slice("-MERGING-".length);
      if (rest.endsWith(".replaced")) {
        const pf = rest.slice(0, -".replaced".length);
        if (fs.existsSync(vdbEntryDir(root, cat, pf))) {
          fs.rmSync(dir, { recursive: true, force: true });
          out.removed.push(`${cat}/${pf}`);
        } else {
          fs.renameSync(dir, vdbEntryDir(root, cat, pf));
          out.restored.push(`${cat}/${pf}`);
        }
        changed = true;
      } else if (rest.endsWith(".removed")) {
        fs.rmSync(dir, { recursive: true, force: true });
        out.removed.push(`${cat}/${rest.slice(0, -".removed".length)}`);
        changed = true;
      } else out.staged.push(`${cat}/${rest}`);
    }
    if (changed) {
      fsyncDir(path.join(base, cat));
      bumpVdbMtimes(root, cat);
    }
  }
  return out;
}

/** Delete a staged `-MERGING-<pf>` entry that will not be committed. */
export function discardStagedEntry(root: string, category: string, pf: string): void {
  checkName(category, pf);
  fs.rmSync(stagingDir(root, category, pf), { recursive: true, force: true });
  bumpVdbMtimes(root, category);
}
