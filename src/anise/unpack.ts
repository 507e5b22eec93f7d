// Unpacking a package tarball (anise.md §6, §11) into an image directory that the merge stage
// then moves into ROOT: entries of subsets that are not enabled are skipped, the VDB entry a
// package built from Portage carries (`var/db/pkg/<cat>/<PF>/`) is set apart for the installed
// database instead of being merged as files, and modes, owners (when allowed) and mtimes are
// those of the archive (anise leaves the install time, §15.15). Names that are absolute, climb
// out with `..`, or lead through a symlink of the archive are refused.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { DecompressStream } from "zstd-napi";
import type { DCtx } from "zstd-napi/binding.js";
import { OuzoError } from "../core/errors.js";
import { TarReader, type EntrySink, type TarEntry } from "./tarReader.js";

export interface UnpackOptions {
  /** Subset name → expressions on `/`-prefixed paths; entries matching a disabled subset are skipped. */
  readonly subsets?: ReadonlyMap<string, readonly RegExp[]>;
  readonly enabledSubsets?: ReadonlySet<string>;
  /** Restore owners from the archive (default: when running as root). */
  readonly sameOwner?: boolean;
  /** The declared compression (`zstd`, `gzip`, `none`); the magic bytes win. */
  readonly compression?: string;
}

export interface UnpackResult {
  readonly image: string;
  /** Non-directory entries written to the image, relative (`etc/foo`). */
  readonly files: string[];
  /** Entries skipped because of a disabled subset, relative, with the subset. */
  readonly skipped: { path: string; subset: string }[];
  /** The carried VDB entry, as a directory of its files, with its category and PF. */
  readonly vdb: { dir: string; category: string; pf: string } | undefined;
  readonly bytes: number;
}

const CHUNK = 1 << 20;

/**
 * A zstd decompression context, driven synchronously (no stream machinery per chunk). zstd-napi's
 * binding module has no ES entry point and the CLI's core is CommonJS, so the class is taken from
 * the one DecompressStream made, which both module systems can import.
 */
function newDctx(): DCtx {
  const ctor = ((new DecompressStream() as unknown as { dctx: DCtx }).dctx.constructor as new () => DCtx);
  return new ctor();
}

/** Feed the decompressed bytes of `file` to `sink`, synchronously. */
export function readDecompressed(file: string, declared: string | undefined, sink: (b: Buffer) => void): void {
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(4);
    const n = fs.readSync(fd, head, 0, 4, 0);
    const kind = n >= 4 && head.readUInt32LE(0) === 0xfd2fb528 ? "zstd" : n >= 2 && head[0] === 0x1f && head[1] === 0x8b ? "gzip" : /^(zstd|zst)$/.test(declared ?? "") ? "zstd" : /^(gzip|gz)$/.test(declared ?? "") ? "gzip" : "none";
    const input = Buffer.allocUnsafe(CHUNK);
    if (kind === "gzip") {
      const data = fs.readFileSync(file);
      sink(zlib.gunzipSync(data));
      return;
    }
    if (kind === "none") {
      let pos = 0;
      for (;;) {
        const got = fs.readSync(fd, input, 0, CHUNK, pos);
        if (!got) break;
        pos += got;
        sink(input.subarray(0, got));
      }
      return;
    }
    const dctx = newDctx();
    const out = Buffer.allocUnsafe(CHUNK);
    let pos = 0;
    let inFrame = false;
    for (;;) {
      const got = fs.readSync(fd, input, 0, CHUNK, pos);
      if (!got) break;
      pos += got;
      let src = input.subarray(0, got);
      for (;;) {
        const [ret, produced, consumed] = dctx.decompressStream(out, src);
        if (produced > 0) sink(out.subarray(0, produced));
        src = src.subarray(consumed);
        if (src.length === 0 && (produced < out.length || ret === 0)) {
          inFrame = ret !== 0;
          break;
        }
      }
    }
    if (inFrame) throw new Error("the zstd stream ends in the middle of a frame (truncated)");
  } finally {
    fs.closeSync(fd);
  }
}

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

/**
 * Unpack `file` into `work/image` (and a carried VDB entry into `work/vdb/<cat>/<pf>/`). `work`
 * is emptied first. Throws an OuzoError naming the artifact for anything wrong with it.
 */
export function unpackPackage(file: string, work: string, o: UnpackOptions = {}): UnpackResult {
  const source = path.basename(file);
  const image = path.join(work, "image");
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(image, { recursive: true });
  const sameOwner = o.sameOwner ?? process.getuid?.() === 0;
  const files: string[] = [];
  const skipped: { path: string; subset: string }[] = [];
  const dirs: { abs: string; mode: number; uid: number; gid: number; mtime: number }[] = [];
  const symlinks = new Set<string>();
  const made = new Set<string>([""]);
  let vdb: UnpackResult["vdb"];
  let bytes = 0;
  const bad = (why: string) => new OuzoError("BAD_ANISE_ARTIFACT", `${source}: ${why}`);

  const relative = (raw: string, what: string): string => {
    if (raw.startsWith("/")) throw bad(`${what} '${raw}' is an absolute path`);
    if (raw.includes("\0")) throw bad(`${what} ${JSON.stringify(raw)} holds a NUL byte`);
    const parts = raw.split("/").filter((x) => x !== "" && x !== ".");
    if (parts.includes("..")) throw bad(`${what} '${raw}' climbs out with '..'`);
    return parts.join("/");
  };
  /** Make the parents of `rel` under `base`; none may be a symlink of the archive. */
  const parents = (base: string, rel: string) => {
    const slash = rel.lastIndexOf("/");
    if (slash < 0) return;
    const dir = rel.slice(0, slash);
    if (made.has(`${base}\0${dir}`)) return;
    for (let i = dir.indexOf("/"); ; i = dir.indexOf("/", i + 1)) {
      const prefix = i < 0 ? dir : dir.slice(0, i);
      if (symlinks.has(prefix)) throw bad(`'${rel}' leads through the symlink '${prefix}' of the archive`);
      if (i < 0) break;
    }
    fs.mkdirSync(path.join(base, dir), { recursive: true, mode: 0o755 });
    made.add(`${base}\0${dir}`);
  };
  const owner = (fn: () => void) => {
    if (!sameOwner) return;
    try {
      fn();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
    }
  };

  const onEntry = (e: TarEntry): EntrySink | undefined => {
    const rel = relative(e.name, "entry");
    if (rel === "") return undefined; // the root entry (`.`)
    let base = image;
    let target = rel;
    const v = VDB_RE.exec(rel);
    if (v) {
      // the VDB entry a Portage-built package carries: kept apart, merged as the installed record
      if (!v[3] || e.type !== "file") return undefined;
      if (v[3].includes("/")) return undefined;
      if (vdb && (vdb.category !== v[1] || vdb.pf !== v[2])) throw bad(`carries two VDB entries (${vdb.category}/${vdb.pf} and ${v[1]}/${v[2]})`);
      vdb ??= { dir: path.join(work, "vdb", v[1]!, v[2]!), category: v[1]!, pf: v[2]! };
      base = path.join(work, "vdb", v[1]!, v[2]!);
      target = v[3];
      fs.mkdirSync(base, { recursive: true });
    } else {
      const subset = subsetOf(e.type === "directory" ? `${rel}/` : rel, o.subsets, o.enabledSubsets);
      if (subset) {
        if (e.type !== "directory") skipped.push({ path: rel, subset });
        return undefined;
      }
    }
    const abs = path.join(base, target);
    // the directories leading to a carried VDB entry are made only if other files need them
    if (e.type === "directory" && base === image && (VDB_PATH.startsWith(`${rel}/`) || rel === VDB_PATH || rel.startsWith(`${VDB_PATH}/`))) {
      dirs.push({ abs, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime });
      return undefined;
    }
    parents(base, target);
    switch (e.type) {
      case "directory": {
        if (symlinks.has(target)) throw bad(`'${rel}' is a directory and a symlink`);
        try {
          fs.mkdirSync(abs, { mode: 0o755 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          if (!fs.lstatSync(abs).isDirectory()) {
            fs.rmSync(abs, { force: true });
            fs.mkdirSync(abs, { mode: 0o755 });
          }
        }
        made.add(`${base}\0${target}`);
        dirs.push({ abs, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime });
        return undefined;
      }
      case "file": {
        removeExisting(abs);
        const fd = fs.openSync(abs, "w", 0o600);
        if (base === image) files.push(rel);
        bytes += e.size;
        const finish = () => {
          owner(() => fs.fchownSync(fd, e.uid, e.gid));
          fs.fchmodSync(fd, e.mode);
          fs.futimesSync(fd, e.mtime, e.mtime);
          fs.closeSync(fd);
        };
        return {
          data(chunk) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          },
          end: finish,
        };
      }
      case "symlink": {
        removeExisting(abs);
        fs.symlinkSync(e.linkname, abs);
        owner(() => fs.lchownSync(abs, e.uid, e.gid));
        fs.lutimesSync(abs, e.mtime, e.mtime);
        symlinks.add(target);
        files.push(rel);
        return undefined;
      }
      case "link": {
        const to = relative(e.linkname, "hard link target");
        const from = path.join(base, to);
        if (!fs.lstatSync(from, { throwIfNoEntry: false })?.isFile()) throw bad(`the hard link '${rel}' names '${e.linkname}', which is not a file extracted before it`);
        removeExisting(abs);
        fs.linkSync(from, abs);
        files.push(rel);
        return undefined;
      }
      case "fifo":
      case "character-device":
      case "block-device": {
        removeExisting(abs);
        const mode = (e.mode & 0o7777).toString(8);
        const r = e.type === "fifo" ? spawnSync("mkfifo", ["-m", mode, abs]) : spawnSync("mknod", ["-m", mode, abs, e.type === "block-device" ? "b" : "c", String(e.devmajor), String(e.devminor)]);
        if (r.status !== 0) throw new OuzoError("ANISE_UNPACK", `${source}: cannot create ${e.type} '${rel}': ${r.stderr?.toString().trim() || r.error?.message}`);
        owner(() => fs.chownSync(abs, e.uid, e.gid));
        fs.utimesSync(abs, e.mtime, e.mtime);
        files.push(rel);
        return undefined;
      }
      default:
        return undefined;
    }
  };

  const reader = new TarReader(onEntry, source);
  try {
    readDecompressed(file, o.compression, (b) => reader.push(b));
    reader.end();
  } catch (e) {
    if (e instanceof OuzoError) throw e;
    throw bad(`cannot unpack: ${(e as Error).message}`);
  }
  // directory modes and owners last, deepest first, so that read-only directories do not stop the unpack
  for (const d of dirs.reverse()) {
    if (!fs.existsSync(d.abs)) continue;
    owner(() => fs.chownSync(d.abs, d.uid, d.gid));
    fs.chmodSync(d.abs, d.mode);
  }
  return { image, files, skipped, vdb, bytes };
}

function removeExisting(abs: string): void {
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) fs.rmSync(abs, { recursive: true, force: true });
  else fs.unlinkSync(abs);
}
