// Paths inside ROOT as a chroot would see them (build spec §10.2: "with symlinks in parent
// directories resolved"). An absolute symlink under ROOT (/usr/lib -> /usr/lib64) points inside
// ROOT, never at the host, so the kernel's own resolution cannot be used when ROOT is not "/".
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";

/** lstat, or undefined when nothing is there (also when a parent is not a directory). */
export function lstatIfExists(p: string): fs.Stats | undefined {
  try {
    // a missing path is the common answer in a merge: no exception is made for it
    return fs.lstatSync(p, { throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

/** How many symlinks one resolution may follow (the kernel's limit). */
const MAX_LINKS = 40;

export class RootPaths {
  readonly root: string;
  /** ROOT-relative directory as written → its physical ROOT-relative path (parents and itself followed). */
  private readonly dirs = new Map<string, string>([["/", "/"]]);
  /**
   * Physical ROOT-relative paths found missing while resolving: nothing below them exists either,
   * so a merge into a new directory tree asks the filesystem once per tree, not once per file.
   * Valid while nothing is created in ROOT (a merge's planning).
   */
  private readonly absent = new Set<string>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The host path of a physical ROOT-relative path. */
  abs(rel: string): string {
    return this.root === "/" ? rel : rel === "/" ? this.root : this.root + rel;
  }

  /** A path as written in an image or CONTENTS ("/usr/lib/x") → host path with its parents resolved in ROOT; the last component is not followed. */
  phys(p: string): string {
    return this.abs(this.physRel(p));
  }

  /** As phys, but ROOT-relative ("/usr/lib64/x"). */
  physRel(p: string): string {
    const slash = p.lastIndexOf("/");
    const dir = this.dir(slash <= 0 ? "/" : p.slice(0, slash));
    const base = p.slice(slash + 1);
    return dir === "/" ? `/${base}` : `${dir}/${base}`;
  }

  /** A directory as written ("/usr/lib") → its physical ROOT-relative path, every component followed. */
  physDir(d: string): string {
    return this.dir(d);
  }

  /** Whether a physical ROOT-relative path was found missing while resolving (so nothing below it exists). */
  isAbsent(physRel: string): boolean {
    return this.absent.has(physRel);
  }

  /** Whether the directory of a physical ROOT-relative path is known not to exist (so neither does the path). */
  inAbsentDir(physRel: string): boolean {
    const slash = physRel.lastIndexOf("/");
    return slash > 0 && this.absent.has(physRel.slice(0, slash));
  }

  /** Every component followed, the last one too ("where the link finally lands"), ROOT-relative. */
  realRel(p: string): string {
    const slash = p.lastIndexOf("/");
    return this.walk(this.dir(slash <= 0 ? "/" : p.slice(0, slash)), [p.slice(slash + 1)], 0);
  }

  /** From now on the directory `d` is the physical `physRel` (a link in its place is being replaced by a real directory). */
  pin(d: string, physRel: string): void {
    for (const k of this.dirs.keys()) if (k === d || k.startsWith(`${d}/`)) this.dirs.delete(k);
    this.dirs.set(d, physRel);
  }

  private dir(d: string): string {
    const known = this.dirs.get(d);
    if (known !== undefined) return known;
    const slash = d.lastIndexOf("/");
    const parent = this.dir(slash <= 0 ? "/" : d.slice(0, slash));
    const resolved = this.walk(parent, [d.slice(slash + 1)], 0);
    this.dirs.set(d, resolved);
    return resolved;
  }

  /** Resolve components from a physical start; what does not exist is taken literally. */
  private walk(start: string, comps: string[], depth: number): string {
    let cur = start;
    for (const c of comps) {
      if (c === "" || c === ".") continue;
      if (c === "..") {
        cur = cur === "/" ? "/" : cur.slice(0, cur.lastIndexOf("/")) || "/";
        continue;
      }
      const cand = cur === "/" ? `/${c}` : `${cur}/${c}`;
      if (this.absent.has(cur)) {
        this.absent.add(cand);
        cur = cand;
        continue;
      }
      const st = lstatIfExists(this.abs(cand));
      if (!st) this.absent.add(cand);
      if (st?.isSymbolicLink()) {
        if (depth >= MAX_LINKS) throw new OuzoError("merge-symlink-loop", `too many levels of symbolic links under ${this.abs(cand)}`);
        const target = fs.readlinkSync(this.abs(cand));
        cur = this.walk(target.startsWith("/") ? "/" : cur, target.split("/"), depth + 1);
      } else {
        cur = cand;
      }
    }
    return cur;
  }
}

/** Whether `p` (as written in an image or CONTENTS) is a directory in ROOT, every link followed inside ROOT. */
export function isDirectoryIn(paths: RootPaths, p: string): boolean {
  try {
    return fs.statSync(paths.abs(paths.realRel(p))).isDirectory();
  } catch {
    return false;
  }
}

/** Python's fnmatch (COLLISION_IGNORE, UNINSTALL_IGNORE): `*` also crosses "/". */
export function fnmatchRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/** Patterns relative to EROOT; one naming an existing directory means everything below it (§10.2). */
export function ignoreMatcher(paths: RootPaths, patterns: readonly string[]): (p: string) => boolean {
  const res: RegExp[] = [];
  for (const raw of patterns) {
    const pat = raw.replace(/\/+$/, "") || "/";
    if (!/[*?[]/.test(pat) && fs.statSync(paths.abs(paths.realRel(pat)), { throwIfNoEntry: false })?.isDirectory()) res.push(fnmatchRegExp(`${pat}/*`));
    res.push(fnmatchRegExp(pat));
  }
  return (p) => res.some((r) => r.test(p));
}
