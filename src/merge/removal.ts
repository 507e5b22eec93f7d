// Which files of an installed package go when it is unmerged or replaced, and removing them
// (build spec §11.2). The decision is made first and kept as a plain list, so that a merge or an
// unmerge can journal it and a recovery can finish it; removing is idempotent.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { ContentsEntry } from "../vdb/contents.js";
import { type ConfigProtect, md5File, neverProtected } from "./configProtect.js";
import { seconds } from "./imageWalk.js";
import { isDirectoryIn, lstatIfExists, type RootPaths } from "./rootPath.js";

export type EntryType = ContentsEntry["type"];

/** One path to remove: as CONTENTS names it, and where it is on the host. */
export interface RemovalStep {
  readonly type: EntryType;
  readonly path: string;
  readonly phys: string;
}

/** A path left in place, with Portage's reason (`!mtime`, `!md5`, `replaced`, `cfgpro`, `!empty`…). */
export interface KeptEntry {
  readonly path: string;
  readonly type: EntryType;
  readonly reason: string;
}

export interface RemovalPlan {
  /** Files, symlinks, fifos and devices, children before parents. */
  readonly remove: RemovalStep[];
  /** Directories to try, deepest first (a non-empty one stays). */
  readonly dirs: RemovalStep[];
  readonly kept: KeptEntry[];
  /** Symlinks to directories that other files still use (§11.2 "protected symlinks"). */
  readonly protectedSymlinks: string[];
}

export interface RemovalOptions {
  readonly paths: RootPaths;
  readonly protect: ConfigProtect;
  readonly features: ReadonlySet<string>;
  /** UNINSTALL_IGNORE, matched against the path relative to EROOT. */
  readonly ignore: (p: string) => boolean;
  /** Another instance in the slot (the new version, when replacing) owns this path. */
  readonly ownedElsewhere: (p: string, physRel: string) => boolean;
}

const LIB_LINKS = new Set(["/lib", "/usr/lib", "/usr/local/lib"]);

/** The §11.2 decision table, in reverse lexicographic order of path; nothing is changed. */
export function planRemoval(contents: readonly ContentsEntry[], o: RemovalOptions): RemovalPlan {
  const orphans = o.features.has("unmerge-orphans");
  const remove: RemovalStep[] = [];
  const dirs: RemovalStep[] = [];
  const kept: KeptEntry[] = [];
  const protectedSymlinks: string[] = [];
  const objs = new Set(contents.filter((e) => e.type === "obj").map((e) => e.path));
  const sorted = [...contents].sort((a, b) => (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
  const seen = new Set<string>();
  for (const e of sorted) {
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    const keep = (reason: string) => kept.push({ path: e.path, type: e.type, reason });
    if (!e.path.startsWith("/") || e.path === "/" || e.path.split("/").includes("..")) {
      keep("!prefix");
      continue;
    }
    const physRel = o.paths.physRel(e.path);
    const phys = o.paths.abs(physRel);
    const st = lstatIfExists(phys);
    if (!st) {
      keep("!found");
      continue;
    }
    if (o.ignore(e.path) || (st.isSymbolicLink() && LIB_LINKS.has(e.path))) {
      keep("cfgpro");
      continue;
    }
    if (o.ownedElsewhere(e.path, physRel)) {
      keep("replaced");
      continue;
    }
    const symToDir = st.isSymbolicLink() && isDirectoryIn(o.paths, e.path);
    const isProtected = o.protect.isProtected(e.path) && !neverProtected(e.path, st.size);
    const step = { type: e.type, path: e.path, phys };
    if (orphans && e.type !== "dir" && !st.isDirectory() && !symToDir && !isProtected) {
      remove.push(step);
      continue;
    }
    if ((e.type === "obj" || e.type === "sym") && seconds(st.mtimeMs) !== e.mtime) {
      keep("!mtime");
      continue;
    }
    switch (e.type) {
      case "dir":
        if (!st.isDirectory()) keep("!dir");
        else dirs.push(step);
        break;
      case "sym":
        if (!st.isSymbolicLink()) keep("!sym");
        else if (symToDir) {
          const real = o.paths.abs(o.paths.realRel(e.path));
          const children = fs.readdirSync(real);
          if (children.every((c) => objs.has(`${e.path}/${c}`) && fs.lstatSync(path.join(real, c)).isFile())) remove.push(step);
          else {
            keep("!empty");
            protectedSymlinks.push(e.path);
          }
        } else remove.push(step);
        break;
      case "obj":
        if (!st.isFile()) keep("!obj");
        else if (md5File(phys) !== e.md5.toLowerCase()) keep("!md5");
        else remove.push(step);
        break;
      default:
        keep("");
    }
  }
  dirs.sort((a, b) => (a.phys < b.phys ? 1 : a.phys > b.phys ? -1 : 0));
  return { remove, dirs, kept, protectedSymlinks };
}

const IGNORED_UNLINK = new Set(["ENOENT", "EBUSY", "ENOTDIR", "EISDIR"]);
const IGNORED_RMDIR = new Set(["ENOTEMPTY", "EEXIST", "EBUSY", "EPERM", "ENOTDIR", "EISDIR", "ENOENT"]);

/**
 * Remove what a plan says (§11.2): a file is first chmod 0 so that a hard link a user kept of it
 * loses its permissions, then unlinked; directories are removed when empty. Safe to repeat. A
 * path that cannot be removed for another reason (EPERM of an immutable file…) is reported in
 * `failed` and left: the transaction goes on rather than stop at the same file on every retry.
 */
export function applyRemoval(plan: Pick<RemovalPlan, "remove" | "dirs">, onStep?: (p: string) => void): { removed: string[]; keptDirs: string[]; failed: string[] } {
  const removed: string[] = [];
  const keptDirs: string[] = [];
  const failed: string[] = [];
  for (const s of plan.remove) {
    try {
      if (s.type !== "sym") fs.chmodSync(s.phys, 0);
    } catch {
      // gone already, or a filesystem that refuses: the unlink decides
    }
    try {
      fs.unlinkSync(s.phys);
      removed.push(s.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (!IGNORED_UNLINK.has(code)) failed.push(`${s.path}: ${(e as Error).message}`);
    }
    onStep?.(s.path);
  }
  for (const d of plan.dirs) {
    try {
      if (path.basename(d.phys) === "info") {
        // an info directory holding only the generated index goes with its last package
        const names = fs.readdirSync(d.phys);
        if (names.length && names.every((n) => n === "dir" || n === "dir.old")) for (const n of names) fs.rmSync(path.join(d.phys, n), { force: true });
      }
      fs.rmdirSync(d.phys);
      removed.push(d.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (!IGNORED_RMDIR.has(code)) failed.push(`${d.path}: ${(e as Error).message}`);
      else if (code !== "ENOENT") keptDirs.push(d.path);
    }
    onStep?.(d.path);
  }
  return { removed, keptDirs, failed };
}

/**
 * §11.1 step 2: a set-uid or set-gid file with more links than the packages being removed list
 * stops the unmerge (a user may have hard-linked it to keep a vulnerable copy).
 */
export function checkSetidLinks(contents: readonly ContentsEntry[], paths: RootPaths, cpv: string): void {
  const links = new Map<string, { n: number; nlink: number; path: string }>();
  for (const e of contents) {
    if (e.type !== "obj") continue;
    const st = lstatIfExists(paths.phys(e.path));
    if (!st?.isFile() || st.nlink < 2 || !(st.mode & 0o6000)) continue;
    const key = `${st.dev}:${st.ino}`;
    const seen = links.get(key) ?? { n: 0, nlink: st.nlink, path: e.path };
    seen.n++;
    links.set(key, seen);
  }
  const bad = [...links.values()].filter((l) => l.n < l.nlink).map((l) => l.path);
  if (bad.length) throw new OuzoError("unmerge-setid-hardlinks", `suid/sgid file(s) with suspicious hardlink(s): ${bad.join(", ")} — a hard link outside ${cpv} keeps a set-id copy; remove it first`, { pkg: cpv });
}
