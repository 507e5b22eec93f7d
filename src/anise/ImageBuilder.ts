// The image of one package as its entries arrive (anise.md §6, §11), for both readers of a
// package tarball: the TypeScript one (unpack.ts) and native/ouzo-unpack (nativeUnpack.ts).
// Entries of subsets that are not enabled are skipped, the VDB entry a package built from
// Portage carries (`var/db/pkg/<cat>/<PF>/`) is set apart for the installed database instead of
// being merged as files, and modes, owners (when allowed) and mtimes are those of the archive
// (anise leaves the install time, §15.15). Names that are absolute, climb out with `..`, or lead
// through a symlink of the archive are refused.
//
// The image is flat: every file, symlink or special file is written under its number in the
// archive in one directory, and the list of entries says where each goes; directories exist only
// in that list. Creating a directory is one of the dearest things a filesystem does, and a
// tree-shaped image would make each directory twice (in the image, then in ROOT) and remove it once.
// Except where the native helper writes regular files at their names in a tree beside the image
// (nativeUnpack.ts): a directory of that tree holding exactly the entries below it (`wholeDirs`)
// is merged by one rename when nothing is at its place in ROOT, so its directories are made once
// after all, and its files are not renamed one by one.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { currentUmask } from "../core/fsutil.js";
import type { ImageEntry } from "../merge/imageWalk.js";
import type { EntrySink, TarEntry } from "./tarReader.js";

export interface UnpackOptions {
  /** Subset name → expressions on `/`-prefixed paths; entries matching a disabled subset are skipped. */
  readonly subsets?: ReadonlyMap<string, readonly RegExp[]>;
  readonly enabledSubsets?: ReadonlySet<string>;
  /** Restore owners from the archive (default: when running as root). */
  readonly sameOwner?: boolean;
  /** The declared compression (`zstd`, `gzip`, `none`); the magic bytes win. */
  readonly compression?: string;
  /**
   * The archive's bytes were hashed against the repository's sha256 just now (a download, not a
   * cached file): the native helper then skips zstd's own frame checksum, which otherwise guards
   * a cached artifact, hashed once when it was downloaded, against what happened to it since.
   */
  readonly verified?: boolean;
}

export interface UnpackResult {
  /** The flat directory holding the entries' bytes. */
  readonly image: string;
  /** What the image installs, top-down, directories before what they hold, for the merge. */
  readonly entries: ImageEntry[];
  /** Non-directory entries written to the image, relative (`etc/foo`). */
  readonly files: string[];
  /** Entries skipped because of a disabled subset, relative, with the subset. */
  readonly skipped: { path: string; subset: string }[];
  /**
   * Directory entries ("/usr/share/foo") whose `src` is a real directory of the tree holding
   * exactly the entries below them, nothing more or less (MergeRequest.wholeDirs).
   */
  readonly wholeDirs: ReadonlySet<string>;
  /** The carried VDB entry, as a directory of its files, with its category and PF. */
  readonly vdb: { dir: string; category: string; pf: string } | undefined;
  readonly bytes: number;
}

/** An image entry while the archive is read: its MD5 and link count are known only later. */
type Entry = { -readonly [K in keyof ImageEntry]: ImageEntry[K] };

const VDB_PATH = "var/db/pkg";
/** `var/db/pkg/<cat>/<pf>/<file>` → its parts. */
const VDB_RE = /^var\/db\/pkg\/([^/]+)\/([^/]+)(?:\/(.+))?$/;

/** Which disabled subset an entry belongs to, if any. */
export function subsetOf(p: string, subsets: ReadonlyMap<string, readonly RegExp[]> | undefined, enabled: ReadonlySet<string> | undefined): string | undefined {
  if (!subsets?.size) return undefined;
  const abs = `/${p}`;
  for (const [name, rules] of subsets) {
    if (enabled?.has(name)) continue;
    if (rules.some((r) => r.test(abs))) return name;
  }
  return undefined;
}

/** What native/ouzo-unpack did with an entry before the builder saw it (see its header comment). */
export interface Prewritten {
  /** The file's MD5, for a file the helper wrote. */
  readonly md5: string | undefined;
  /** The file is at its name in the tree (`tree/<name>`), not under its ordinal in the image. */
  readonly inTree: boolean;
}

/** A name with an empty, "." or ".." part, or a trailing slash: it is split and joined again. */
const NEEDS_CLEANING = /(?:^|\/)\.\.?(?:\/|$)|\/\/|\/$/;

/**
 * The image of one package as its entries arrive, in the archive's order: every decision of the
 * file comment (names, subsets, the carried VDB entry, what replaces what) is taken here. An entry
 * is written under its ordinal (its position in the archive) in the image; the TypeScript reader
 * hands entries with their data still to come, native/ouzo-unpack hands them with files and
 * symlinks already written (`Prewritten`), which are then kept, moved or removed.
 */
export class ImageBuilder {
  readonly source: string;
  readonly image: string;
  /** Where the helper writes files at their names (see the file comment). */
  readonly tree: string;
  readonly sameOwner: boolean;
  private readonly myUid = process.getuid?.() ?? 0;
  private readonly myGid = process.getgid?.() ?? 0;
  /** The group a new file gets: the directory's when it is set-group-id, ours otherwise. */
  private readonly newGid: number;
  private readonly umask = currentUmask();
  private readonly files: string[] = [];
  private readonly skipped: { path: string; subset: string }[] = [];
  /** Non-directory entries by relative path (a later entry of the same path wins, as with tar). */
  private readonly placed = new Map<string, Entry>();
  /** Directory entries of the archive, and the directories entries need. */
  private readonly dirHeaders = new Map<string, TarEntry>();
  private readonly dirsNeeded = new Set<string>();
  private readonly symlinks = new Set<string>();
  /** Hard-link groups: the inode number of the first name → how many names the file has. */
  private readonly linkCount = new Map<number, number>();
  private vdb: UnpackResult["vdb"];
  private bytes = 0;
  /**
   * The directories holding an entry's bytes in the tree, holding an entry (of the tree or not)
   * whose bytes are elsewhere, and holding a file of the tree the image does not keep; each
   * counts for the directories above it too (see `wholeness`).
   */
  private readonly treeParents = new Set<string>();
  private readonly flatParents = new Set<string>();
  private readonly strayParents = new Set<string>();

  /** `helperMakes`: native/ouzo-unpack makes `work` and its image (and tells the new files' group itself). */
  constructor(
    file: string,
    private readonly work: string,
    private readonly o: UnpackOptions,
    helperMakes = false,
  ) {
    this.source = path.basename(file);
    this.image = path.join(work, "image");
    this.tree = path.join(work, "tree");
    this.sameOwner = o.sameOwner ?? process.getuid?.() === 0;
    if (helperMakes) {
      this.newGid = -1;
      return;
    }
    // a new work directory in the run's, as a rule: nothing to remove, two system calls
    try {
      fs.mkdirSync(work);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") fs.rmSync(work, { recursive: true, force: true });
      fs.mkdirSync(work, { recursive: true });
    }
    fs.mkdirSync(this.image);
    const imageStat = fs.statSync(this.image);
    this.newGid = imageStat.mode & 0o2000 ? imageStat.gid : (process.getegid?.() ?? this.myGid);
  }

  private bad(why: string): OuzoError {
    return new OuzoError("BAD_ANISE_ARTIFACT", `${this.source}: ${why}`);
  }

  /** What to throw for `e`, raised while reading the archive. */
  failure(e: unknown): OuzoError {
    return e instanceof OuzoError ? e : this.bad(`cannot unpack: ${(e as Error).message}`);
  }

  /** A damaged archive, as the helper words it. */
  damaged(why: string): OuzoError {
    return this.bad(why);
  }

  private relative(raw: string, what: string): string {
    if (raw.startsWith("/")) throw this.bad(`${what} '${raw}' is an absolute path`);
    if (raw.includes("\0")) throw this.bad(`${what} ${JSON.stringify(raw)} holds a NUL byte`);
    // most names are clean already, perhaps after a leading "./" (no empty, "." or ".." part):
    // one test instead of a split
    const body = raw.startsWith("./") ? raw.slice(2) : raw;
    if (body && !NEEDS_CLEANING.test(body)) return body;
    const parts = raw.split("/").filter((x) => x !== "" && x !== ".");
    if (parts.includes("..")) throw this.bad(`${what} '${raw}' climbs out with '..'`);
    return parts.join("/");
  }

  /** The directories above `rel` (none may be a symlink of the archive or a file); the one holding it ("" at the top). */
  private parents(rel: string): string {
    const slash = rel.lastIndexOf("/");
    if (slash < 0) return "";
    const parent = rel.slice(0, slash);
    // a needed directory's own parents are needed (and were checked) already: as a rule, one look
    if (this.dirsNeeded.has(parent)) return parent;
    for (let i = rel.indexOf("/"); i >= 0; i = rel.indexOf("/", i + 1)) {
      const prefix = rel.slice(0, i);
      if (this.dirsNeeded.has(prefix)) continue;
      if (this.symlinks.has(prefix)) throw this.bad(`'${rel}' leads through the symlink '${prefix}' of the archive`);
      if (this.placed.has(prefix)) throw this.bad(`'${rel}' is under '${prefix}', which is not a directory`);
      this.dirsNeeded.add(prefix);
    }
    return parent;
  }

  private owner(fn: () => void): void {
    if (!this.sameOwner) return;
    try {
      fn();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
    }
  }

  /** An image entry for `rel` from its header `e`, its bytes at `src` (see `newEntry`). */
  private imageEntry(rel: string, e: TarEntry, type: ImageEntry["type"], src: string, ordinal: number, md5?: string): Entry {
    return newEntry(`/${rel}`, src, type, e.mode & 0o7777, this.sameOwner ? e.uid : this.myUid, this.sameOwner ? e.gid : this.myGid, e.mtime * 1000, e.size, ordinal, 0, undefined, md5);
  }

  /** A new non-directory entry at `rel`: not where a directory is, replacing an earlier one; where its bytes are (`made`, when the helper said). */
  private claim(rel: string, what: string, ordinal: number, inTree = false, made?: string): string {
    if (this.dirsNeeded.has(rel) || this.dirHeaders.has(rel)) throw this.bad(`'${rel}' is a directory and ${what}`);
    const parent = this.parents(rel);
    const before = this.placed.get(rel);
    if (before) {
      this.placed.delete(rel);
      this.symlinks.delete(rel);
      fs.rmSync(before.src, { force: true });
      if (before.src.startsWith(`${this.tree}/`)) this.strayParents.add(parent);
    } else this.files.push(rel);
    (inTree ? this.treeParents : this.flatParents).add(parent);
    return made ?? (inTree ? `${this.tree}/${rel}` : `${this.image}/${ordinal}`);
  }

  /** A file of the tree at `rel` is not part of the image: the directories above it are not whole. */
  private stray(rel: string): void {
    const slash = rel.lastIndexOf("/");
    if (slash > 0) this.strayParents.add(rel.slice(0, slash));
  }

  /**
   * The archive's entry number `ordinal`. Read here (no `done`): returns where its data goes.
   * Written by the helper (`done`): its file or symlink is at `image/<ordinal>` already, or the
   * file at `tree/<name>` (Prewritten.inTree).
   */
  entry(e: TarEntry, ordinal: number, done?: Prewritten): EntrySink | undefined {
    const rel = this.relative(e.name, "entry");
    const inTree = done?.inTree === true && e.type === "file";
    // (the helper's name in the tree is `rel`: it writes there only names `relative` keeps as they are)
    const made = done !== undefined && (e.type === "file" || e.type === "symlink") ? (inTree ? `${this.tree}/${rel}` : `${this.image}/${ordinal}`) : undefined;
    /** The entry is not part of the image: what the helper made of it goes. */
    const drop = (): undefined => {
      if (made) fs.rmSync(made, { force: true });
      // the helper may have made its directories in the tree even when the file itself went
      // under its number (a name too long for the filesystem): they are not the image's
      if (e.type === "file") this.stray(rel);
      return undefined;
    };
    if (rel === "") return drop(); // the root entry (`.`)
    const v = VDB_RE.exec(rel);
    if (v) {
      // the VDB entry a Portage-built package carries: kept apart, merged as the installed record
      if (!v[3] || e.type !== "file") return drop();
      if (v[3].includes("/")) return drop();
      if (this.vdb && (this.vdb.category !== v[1] || this.vdb.pf !== v[2])) throw this.bad(`carries two VDB entries (${this.vdb.category}/${this.vdb.pf} and ${v[1]}/${v[2]})`);
      if (!this.vdb) {
        this.vdb = { dir: path.join(this.work, "vdb", v[1]!, v[2]!), category: v[1]!, pf: v[2]! };
        fs.mkdirSync(this.vdb.dir, { recursive: true });
      }
      const to = path.join(this.vdb.dir, v[3]);
      if (made) {
        // written anew as the TypeScript reader writes it (0644, ours, now), not with the archive's mode
        fs.writeFileSync(to, fs.readFileSync(made), { mode: 0o644 });
        return drop();
      }
      const fd = fs.openSync(to, "w", 0o644);
      return {
        data(chunk) {
          let off = 0;
          while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
        },
        end: () => fs.closeSync(fd),
      };
    }
    const subset = subsetOf(e.type === "directory" ? `${rel}/` : rel, this.o.subsets, this.o.enabledSubsets);
    if (subset) {
      if (e.type !== "directory") this.skipped.push({ path: rel, subset });
      return drop();
    }
    switch (e.type) {
      case "directory": {
        if (this.symlinks.has(rel)) throw this.bad(`'${rel}' is a directory and a symlink`);
        if (this.placed.has(rel)) throw this.bad(`'${rel}' is a directory and a file`);
        this.dirHeaders.set(rel, e);
        // the directories leading to a carried VDB entry are installed only if other entries need them
        if (VDB_PATH.startsWith(`${rel}/`) || rel === VDB_PATH || rel.startsWith(`${VDB_PATH}/`)) return undefined;
        this.parents(rel);
        this.dirsNeeded.add(rel);
        return undefined;
      }
      case "file": {
        const src = this.claim(rel, "a file", ordinal, inTree, made);
        // the helper's MD5 is there at once: the entry never changes after it is made
        const placedFile = this.imageEntry(rel, e, "obj", src, ordinal, done?.md5);
        this.placed.set(rel, placedFile);
        this.bytes += e.size;
        if (done) return undefined;
        // created with its mode when the umask leaves it whole and it has no set-id or sticky bit
        // (which must wait for the owner), and left with ours when that is the archive's: two
        // system calls fewer for nearly every file
        const plainMode = (e.mode & 0o7000) === 0 && (e.mode & this.umask) === 0;
        const fd = fs.openSync(src, "w", plainMode ? e.mode & 0o777 : 0o600);
        const hash = createHash("md5");
        const { myUid, newGid } = this;
        return {
          data(chunk) {
            hash.update(chunk);
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          },
          end: () => {
            // the MD5 CONTENTS needs, computed while writing (ImageEntry.md5)
            placedFile.md5 = hash.digest("hex");
            if (e.uid !== myUid || e.gid !== newGid) this.owner(() => fs.fchownSync(fd, e.uid, e.gid));
            if (!plainMode) fs.fchmodSync(fd, e.mode);
            fs.futimesSync(fd, e.mtime, e.mtime);
            fs.closeSync(fd);
          },
        };
      }
      case "symlink": {
        const src = this.claim(rel, "a symlink", ordinal, false, made);
        if (!made) {
          fs.symlinkSync(e.linkname, src);
          this.owner(() => fs.lchownSync(src, e.uid, e.gid));
          fs.lutimesSync(src, e.mtime, e.mtime);
        }
        this.symlinks.add(rel);
        this.placed.set(rel, newEntry(`/${rel}`, src, "sym", 0o777, this.sameOwner ? e.uid : this.myUid, this.sameOwner ? e.gid : this.myGid, e.mtime * 1000, Buffer.byteLength(e.linkname), ordinal, 0, e.linkname, undefined));
        return undefined;
      }
      case "link": {
        const to = this.relative(e.linkname, "hard link target");
        const first = this.placed.get(to);
        if (first?.type !== "obj") throw this.bad(`the hard link '${rel}' names '${e.linkname}', which is not a file extracted before it`);
        const src = this.claim(rel, "a file", ordinal);
        fs.linkSync(first.src, src);
        // every name of one file shares the first name's inode number, and knows how many there are
        this.linkCount.set(first.ino, (this.linkCount.get(first.ino) ?? 1) + 1);
        this.placed.set(rel, newEntry(`/${rel}`, src, "obj", first.mode, first.uid, first.gid, first.mtimeMs, first.size, first.ino, 0, undefined, first.md5));
        return undefined;
      }
      case "fifo":
      case "character-device":
      case "block-device": {
        const src = this.claim(rel, `a ${e.type}`, ordinal);
        const mode = (e.mode & 0o7777).toString(8);
        const r = e.type === "fifo" ? spawnSync("mkfifo", ["-m", mode, src]) : spawnSync("mknod", ["-m", mode, src, e.type === "block-device" ? "b" : "c", String(e.devmajor), String(e.devminor)]);
        if (r.status !== 0) throw new OuzoError("ANISE_UNPACK", `${this.source}: cannot create ${e.type} '${rel}': ${r.stderr?.toString().trim() || r.error?.message}`);
        this.owner(() => fs.chownSync(src, e.uid, e.gid));
        fs.utimesSync(src, e.mtime, e.mtime);
        const dev = e.type !== "fifo";
        const typeBits = e.type === "block-device" ? 0o060000 : 0o020000;
        const rdev = (e.devminor & 0xff) | ((e.devmajor & 0xfff) << 8) | ((e.devminor & ~0xff) * 4096);
        const entry = this.imageEntry(rel, e, dev ? "dev" : "fif", src, ordinal);
        if (dev) {
          entry.mode |= typeBits;
          entry.rdev = rdev;
        }
        this.placed.set(rel, entry);
        return undefined;
      }
      default:
        return drop();
    }
  }

  /** Every entry is in: the result, entries top-down. */
  finish(): UnpackResult {
    const { sameOwner, myUid, myGid } = this;
    const { inTree, wholeDirs } = this.wholeness();
    // the entries top-down, as a sorted depth-first walk gives them: a directory, then what it
    // holds, names in order. Each directory's entries are sorted by their last component (a
    // sort of all by path, on names of ~40 characters that share most of them, took ~30 ms of
    // the bench's install)
    const all: ImageEntry[] = [];
    /** What each directory holds ("" the top), the names not yet in order. */
    const held = new Map<string, Held[]>();
    let lastDir: string | undefined;
    let lastList: Held[] = [];
    const hold = (rel: string, entry: Entry) => {
      all.push(entry);
      const slash = rel.lastIndexOf("/");
      // a package's entries come directory by directory, as a rule: the directory is sliced
      // out of the name only when it changes
      if (lastDir === undefined || slash !== lastDir.length || (slash > 0 && !rel.startsWith(lastDir))) {
        lastDir = slash < 0 ? "" : rel.slice(0, slash);
        let list = held.get(lastDir);
        if (!list) held.set(lastDir, (list = []));
        lastList = list;
      }
      lastList.push({ name: slash < 0 ? rel : rel.slice(slash + 1), rel, entry });
    };
    for (const d of this.dirsNeeded) {
      const h = this.dirHeaders.get(d);
      hold(d, newEntry(`/${d}`, inTree.has(d) ? `${this.tree}/${d}` : `${this.image}/${d}`, "dir", h ? h.mode & 0o7777 : 0o755, h && sameOwner ? h.uid : myUid, h && sameOwner ? h.gid : myGid, (h?.mtime ?? 0) * 1000, 0, 0, 0, undefined, undefined));
    }
    for (const [rel, p] of this.placed) {
      const names = p.type === "obj" ? this.linkCount.get(p.ino) : undefined;
      if (names) p.nlink = names;
      hold(rel, p);
    }
    const entries: ImageEntry[] = [];
    const walk = (dir: string) => {
      const list = held.get(dir);
      if (!list) return;
      list.sort(byName);
      for (const h of list) {
        entries.push(h.entry);
        if (h.entry.type === "dir") walk(h.rel);
      }
    };
    walk("");
    // every entry's directory is one of the image's (parents() saw to it); were one not, the
    // walk would miss it: then all are sorted by path, the same order
    if (entries.length !== all.length) return { image: this.image, entries: all.sort(byComponents), files: this.files, skipped: this.skipped, wholeDirs, vdb: this.vdb, bytes: this.bytes };
    return { image: this.image, entries, files: this.files, skipped: this.skipped, wholeDirs, vdb: this.vdb, bytes: this.bytes };
  }

  /**
   * Which directories exist in the tree (a file of the image is in them), and which of those
   * hold exactly the image's entries below them: no entry below is elsewhere (under its ordinal,
   * or a directory that is only in the list), and no file the image dropped was there.
   */
  private wholeness(): { inTree: Set<string>; wholeDirs: Set<string> } {
    /** The directories of `from` and those above each (a directory's are in `to` once it is). */
    const upward = (from: Iterable<string>, to = new Set<string>()) => {
      for (const d of from) {
        for (let cur = d; cur && !to.has(cur); cur = cur.slice(0, Math.max(0, cur.lastIndexOf("/")))) to.add(cur);
      }
      return to;
    };
    const inTree = upward(this.treeParents);
    const wholeDirs = new Set<string>();
    if (!inTree.size) return { inTree, wholeDirs };
    // a directory that is only in the list (nothing of the tree below it) is not there to move
    const notWhole = upward([...this.dirsNeeded].filter((d) => !inTree.has(d)), upward(this.strayParents, upward(this.flatParents)));
    for (const d of inTree) if (!notWhole.has(d)) wholeDirs.add(`/${d}`);
    return { inTree, wholeDirs };
  }
}

/** An entry in the directory that holds it, for ImageBuilder.finish's walk. */
interface Held {
  /** The last component. */
  readonly name: string;
  readonly rel: string;
  readonly entry: Entry;
}

/** By name (code units, as a sorted directory listing). */
function byName(a: Held, b: Held): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Paths in the order of a sorted walk: code units compared as they are, but "/" before all
 * others. Nothing is made for the comparison (keys with "/" replaced made 18 MB of strings
 * for 40,000 entries, heap sampling of the bench's install).
 */
function byComponents(a: ImageEntry, b: ImageEntry): number {
  const p = a.path;
  const q = b.path;
  const n = p.length < q.length ? p.length : q.length;
  for (let i = 0; i < n; i++) {
    const x = p.charCodeAt(i);
    const y = q.charCodeAt(i);
    if (x !== y) return (x === 47 ? 0 : x) - (y === 47 ? 0 : y);
  }
  return p.length - q.length;
}

/**
 * Every image entry is made here, with the same fields in the same order, set or not: they share
 * one shape (hidden class), which keeps the merge's code that reads 40,000 of them monomorphic —
 * entries made by spreading, or by a second literal, had others, and the merge's planning was
 * compiled again after each met them (`--trace-deopt`: "wrong map").
 */
function newEntry(path: string, src: string, type: ImageEntry["type"], mode: number, uid: number, gid: number, mtimeMs: number, size: number, ino: number, rdev: number, target: string | undefined, md5: string | undefined): Entry {
  return { path, src, type, mode, uid, gid, mtimeMs, atimeMs: mtimeMs, size, dev: 0, ino, nlink: 1, rdev, target, md5 };
}
