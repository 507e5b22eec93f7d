import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PassThrough, Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import tar from "tar-stream";
import { CompressStream, DecompressStream } from "zstd-napi";
import { OuzoError } from "../core/errors.js";
import { fsyncDir } from "../core/fsutil.js";
import { requireProgram } from "../core/spawn.js";
import { type BinpkgMetadata, type MetadataInput, encodeTbz2Trailer, readXpakTrailer } from "./xpak.js";

/*
 * xpak binary packages (`.tbz2`, build-and-merge §12.1): a compressed tar of the image, as
 * `tar -cf - -C ${D} .` writes it (GNU format, names `./usr/bin/foo`), followed by the xpak
 * trailer of the build-info files. Also the pieces gpkg.ts shares: BINPKG_COMPRESS handling,
 * the streaming image tar writer and the safe image extractor.
 */

// --- compression (BINPKG_COMPRESS) ---

export type BinpkgCompression = "bzip2" | "gzip" | "lz4" | "lzip" | "lzop" | "xz" | "zstd" | "none";

/** MARK's make.globals: BINPKG_COMPRESS="zstd" (the file name stays `.tbz2` whatever the compression). */
export const DEFAULT_BINPKG_COMPRESS: BinpkgCompression = "zstd";

const COMPRESSIONS: readonly BinpkgCompression[] = ["bzip2", "gzip", "lz4", "lzip", "lzop", "xz", "zstd", "none"];

/** A BINPKG_COMPRESS value; empty/unset is the default, unknown values are an error naming the setting. */
export function parseBinpkgCompress(value: string | undefined): BinpkgCompression {
  const v = (value ?? "").trim();
  if (v === "") return DEFAULT_BINPKG_COMPRESS;
  if ((COMPRESSIONS as readonly string[]).includes(v)) return v as BinpkgCompression;
  throw new OuzoError("BINPKG_COMPRESS", `BINPKG_COMPRESS="${v}" is not supported (one of: ${COMPRESSIONS.join(", ")})`);
}

/** The compression of a stream from its magic bytes (§12.1); anything unknown is a plain tar. */
export function detectCompression(head: Buffer): BinpkgCompression {
  const starts = (...bytes: number[]) => head.length >= bytes.length && bytes.every((b, i) => head[i] === b);
  if (starts(0x42, 0x5a, 0x68)) return "bzip2"; // "BZh"
  if (starts(0x1f, 0x8b)) return "gzip";
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return "xz";
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return "zstd";
  if (starts(0x04, 0x22, 0x4d, 0x18)) return "lz4";
  if (starts(0x4c, 0x5a, 0x49, 0x50)) return "lzip"; // "LZIP"
  if (starts(0x89, 0x4c, 0x5a, 0x4f)) return "lzop";
  return "none";
}

/** Programs run for the compressions node has no library for (Portage runs the same programs). */
const PROGRAMS: Partial<Record<BinpkgCompression, { program: string; compress: (level?: number) => string[]; decompress: string[] }>> = {
  bzip2: { program: "bzip2", compress: (l) => ["-c", `-${l ?? 9}`], decompress: ["-d", "-c"] },
  xz: { program: "xz", compress: (l) => ["-c", "-T0", ...(l === undefined ? [] : [`-${l}`])], decompress: ["-d", "-c"] },
  lz4: { program: "lz4", compress: (l) => ["-c", "-z", ...(l === undefined ? [] : [`-${l}`])], decompress: ["-d", "-c"] },
  lzip: { program: "lzip", compress: (l) => ["-c", ...(l === undefined ? [] : [`-${l}`])], decompress: ["-d", "-c"] },
  lzop: { program: "lzop", compress: (l) => ["-c", ...(l === undefined ? [] : [`-${l}`])], decompress: ["-d", "-c"] },
};

/** A running (de)compressor: write into `input`, read from `output`; `done` settles when it has finished. */
export interface Coder {
  input: Writable;
  output: Readable;
  done: Promise<void>;
  abort(): void;
}

function programCoder(compression: BinpkgCompression, program: string, args: string[], what: string): Coder {
  requireProgram(program, `${what} of ${compression} binary packages`);
  const child: ChildProcess = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
  const stderr: Buffer[] = [];
  child.stderr!.on("data", (d: Buffer) => {
    if (stderr.length < 64) stderr.push(d);
  });
  let aborted = false;
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (e) => reject(new OuzoError("BINPKG_COMPRESS", `cannot run ${program}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0 || aborted) return resolve();
      const msg = Buffer.concat(stderr).toString("utf8").trim().split("\n")[0] ?? "";
      reject(new OuzoError("BINPKG_COMPRESS", `${program} ${args.join(" ")} failed (${signal ? `signal ${signal}` : `exit ${code}`})${msg ? `: ${msg}` : ""}`));
    });
  });
  // the program may die before it has read everything; its exit status tells what happened
  child.stdin!.on("error", () => {});
  return {
    input: child.stdin!,
    output: child.stdout!,
    done,
    abort() {
      aborted = true;
      child.kill("SIGTERM");
    },
  };
}

function streamCoder(t: Transform): Coder {
  return { input: t, output: t, done: Promise.resolve(), abort: () => t.destroy() };
}

/** Start a compressor; `level` is the program's level (-1 … -9; zstd 1 … 19), default the program's default. */
export function startCompressor(compression: BinpkgCompression, level?: number): Coder {
  if (compression === "none") return streamCoder(new PassThrough());
  if (compression === "zstd") return streamCoder(new CompressStream({ compressionLevel: level ?? 3, checksumFlag: true }));
  if (compression === "gzip") return streamCoder(zlib.createGzip({ level: level ?? 6 }));
  const p = PROGRAMS[compression]!;
  return programCoder(compression, p.program, p.compress(level), "compression");
}

export function startDecompressor(compression: BinpkgCompression): Coder {
  if (compression === "none") return streamCoder(new PassThrough());
  if (compression === "zstd") return streamCoder(new DecompressStream());
  if (compression === "gzip") return streamCoder(zlib.createGunzip());
  const p = PROGRAMS[compression]!;
  return programCoder(compression, p.program, p.decompress, "decompression");
}

/**
 * Run the pipelines of one job; on the first failure everything is torn down (streams destroyed,
 * programs killed) so nothing is left waiting, and that first error is thrown.
 */
export async function runPipelines(tasks: Promise<unknown>[], teardown: () => void): Promise<void> {
  let first: unknown;
  let failed = false;
  await Promise.all(
    tasks.map((t) =>
      t.catch((e) => {
        if (!failed) {
          failed = true;
          first = e;
          teardown();
        }
      }),
    ),
  );
  if (failed) throw first;
}

/** A pass-through that feeds every byte to hashes and counts them. */
export function hashingTap(algorithms: string[]): { tap: Transform; hashes: crypto.Hash[]; bytes: () => number } {
  const hashes = algorithms.map((a) => crypto.createHash(a));
  let n = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      for (const h of hashes) h.update(chunk);
      n += chunk.length;
      cb(null, chunk);
    },
  });
  return { tap, hashes, bytes: () => n };
}

// --- writing an image tar (GNU format, as GNU tar writes it) ---

export const BLOCK = 512;
/** GNU tar and Python's tarfile pad an archive to whole records of 20 blocks. */
export const RECORD = 20 * BLOCK;

export type TarFormat = "gnu" | "ustar";

export interface TarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' directory, '6' fifo, 'L'/'K' GNU long name/link. */
  type: string;
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
}

/**
 * A numeric field: octal with a NUL when it fits, else GNU base-256 (a size over 8 GiB, a uid
 * over 2097151); GNU tar, Python's tarfile and tar-stream read base-256 in either format.
 */
function writeNumber(buf: Buffer, value: number, offset: number, length: number): void {
  const octal = Math.max(0, Math.floor(value)).toString(8);
  if (octal.length <= length - 1) {
    buf.write(octal.padStart(length - 1, "0") + "\0", offset, "latin1");
    return;
  }
  let v = BigInt(Math.floor(value));
  for (let i = length - 1; i > 0; i--) {
    buf[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[offset] = 0x80;
}

/** One 512-byte header block; `name`, `prefix` and `linkname` are already cut to their fields. */
export function encodeHeaderBlock(h: TarHeader, format: TarFormat, name: Buffer, prefix: Buffer, linkname: Buffer): Buffer {
  const buf = Buffer.alloc(BLOCK);
  name.copy(buf, 0, 0, 100);
  writeNumber(buf, h.mode & 0o7777, 100, 8);
  writeNumber(buf, h.uid, 108, 8);
  writeNumber(buf, h.gid, 116, 8);
  writeNumber(buf, h.size, 124, 12);
  writeNumber(buf, h.mtime, 136, 12);
  buf.write(h.type, 156, "latin1");
  linkname.copy(buf, 157, 0, 100);
  buf.write(format === "gnu" ? "ustar  \0" : "ustar\u000000", 257, "latin1");
  Buffer.from(h.uname ?? "", "utf8").copy(buf, 265, 0, 32);
  Buffer.from(h.gname ?? "", "utf8").copy(buf, 297, 0, 32);
  // GNU tar fills the device fields only for devices; ustar always
  if (h.type === "3" || h.type === "4" || format === "ustar") {
    writeNumber(buf, h.devmajor ?? 0, 329, 8);
    writeNumber(buf, h.devminor ?? 0, 337, 8);
  }
  prefix.copy(buf, 345, 0, 155);
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += buf[i]!;
  buf.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return buf;
}

export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** ustar's split of a long name at a '/' into prefix (≤155 bytes) and name (≤100 bytes), if there is one. */
function ustarSplit(name: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  for (let i = name.indexOf(0x2f); i !== -1; i = name.indexOf(0x2f, i + 1)) {
    if (i <= 155 && name.length - i - 1 <= 100 && i + 1 < name.length) return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
  }
  return undefined;
}

const EMPTY = Buffer.alloc(0);

/**
 * The blocks of one entry's header. gnu: a name or link name longer than 100 bytes goes first in
 * a `././@LongLink` entry (type L, K for link names), as GNU tar writes it, and the header keeps
 * its first 100 bytes. ustar: long names are split into prefix/name; what cannot be split falls
 * back to the GNU entries (readers of both formats know them).
 */
export function tarHeaderBlocks(h: TarHeader, format: TarFormat): Buffer[] {
  const out: Buffer[] = [];
  const longEntry = (type: "L" | "K", value: Buffer) => {
    const data = Buffer.concat([value, Buffer.alloc(1)]);
    const meta: TarHeader = { name: "././@LongLink", mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0, type, uname: "root", gname: "root" };
    out.push(encodeHeaderBlock(meta, "gnu", Buffer.from(meta.name), EMPTY, EMPTY), data, padding(data.length));
  };
  const full = Buffer.from(h.name, "utf8");
  let name: Buffer = full;
  let prefix: Buffer = EMPTY;
  // GNU tar 1.34 fills the 100-byte field without a NUL and needs the long entry only beyond it
  const limit = 100;
  if (full.length > limit) {
    const split = format === "ustar" ? ustarSplit(full) : undefined;
    if (split) ({ name, prefix } = split);
    else {
      longEntry("L", full);
      name = full.subarray(0, 100);
    }
  }
  let linkname: Buffer = Buffer.from(h.linkname ?? "", "utf8");
  if (linkname.length > limit) {
    longEntry("K", linkname);
    linkname = linkname.subarray(0, 100);
  }
  out.push(encodeHeaderBlock(h, format, name, prefix, linkname));
  return out;
}

/** A small tar held in memory (metadata.tar of a gpkg): entries are regular files. */
export function tarOfFiles(files: { name: string; data: Buffer; mode?: number; mtime: number }[], format: TarFormat): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(...tarHeaderBlocks({ name: f.name, mode: f.mode ?? 0o644, uid: 0, gid: 0, size: f.data.length, mtime: f.mtime, type: "0" }, format));
    parts.push(f.data, padding(f.data.length));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  const total = parts.reduce((n, b) => n + b.length, 0);
  parts.push(Buffer.alloc((RECORD - (total % RECORD)) % RECORD));
  return Buffer.concat(parts);
}

/** uid → user name and gid → group name of the build host, as GNU tar records them (uname/gname). */
export class OwnerNames {
  private users: Map<number, string> | undefined;
  private groups: Map<number, string> | undefined;
  private userIds: Map<string, number> | undefined;
  private groupIds: Map<string, number> | undefined;

  constructor(private readonly etc = "/etc") {}

  private load(file: string): [Map<number, string>, Map<string, number>] {
    const byId = new Map<number, string>();
    const byName = new Map<string, number>();
    let text = "";
    try {
      text = fs.readFileSync(path.join(this.etc, file), "utf8");
    } catch {
      // no database: numeric ids only (root is still root)
    }
    for (const line of text.split("\n")) {
      const f = line.split(":");
      if (f.length < 3 || f[0] === "" || line.startsWith("#")) continue;
      const id = Number(f[2]);
      if (!Number.isInteger(id)) continue;
      if (!byId.has(id)) byId.set(id, f[0]!);
      if (!byName.has(f[0]!)) byName.set(f[0]!, id);
    }
    if (!byId.has(0)) byId.set(0, "root");
    if (!byName.has("root")) byName.set("root", 0);
    return [byId, byName];
  }

  user(uid: number): string {
    if (!this.users) [this.users, this.userIds] = this.load("passwd");
    return this.users.get(uid) ?? "";
  }

  group(gid: number): string {
    if (!this.groups) [this.groups, this.groupIds] = this.load("group");
    return this.groups.get(gid) ?? "";
  }

  uid(name: string): number | undefined {
    if (!this.userIds) [this.users, this.userIds] = this.load("passwd");
    return name ? this.userIds.get(name) : undefined;
  }

  gid(name: string): number | undefined {
    if (!this.groupIds) [this.groups, this.groupIds] = this.load("group");
    return name ? this.groupIds.get(name) : undefined;
  }
}

/** glibc's split of a device number. */
function devParts(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

export interface ImageTarOptions {
  /** Root entry and prefix of every name: "./" for xpak (`./usr/bin/foo`), "image/" for gpkg. */
  prefix: "./" | "image/";
  owners?: OwnerNames;
  /** Called for each entry written (relative path, '' for the root). */
  onEntry?: (rel: string, type: string) => void;
}

/** Byte order of names, as `tar --sort=name` and Python's sorted(listdir) give. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const CHUNK = 1 << 20;

/** Read `length` bytes at the file's current offset into buf[at…]; fewer only at end of file. */
function readFully(fd: number, buf: Buffer, at: number, length: number): number {
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, at + got, length - got, null);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * The tar of an image directory as a stream of blocks: depth first, names in byte order,
 * directories before their contents; modes, owners (ids and names), mtimes, symlinks, hard
 * links (a second name of an inode is a link to the first), devices and fifos. File contents
 * are read in 1 MiB pieces, so an image of any size streams through. Sockets are skipped, as
 * GNU tar does.
 */
export function* imageTarBlocks(imageDir: string, opts: ImageTarOptions): Generator<Buffer> {
  const owners = opts.owners ?? new OwnerNames();
  const links = new Map<string, string>();
  let written = 0;
  const emit = (bufs: Buffer[]) => {
    for (const b of bufs) written += b.length;
    return bufs;
  };

  // synchronous calls: for the many small files of an image they cost far less than a trip
  // through libuv's thread pool each; the generator still yields between pieces
  function* entry(abs: string, rel: string): Generator<Buffer> {
    const st = fs.lstatSync(abs, { bigint: true });
    const mode = Number(st.mode);
    const uid = Number(st.uid);
    const gid = Number(st.gid);
    const base: TarHeader = {
      name: rel === "" ? opts.prefix : opts.prefix + rel,
      mode: mode & 0o7777,
      uid,
      gid,
      size: 0,
      mtime: Number(st.mtimeMs / 1000n),
      type: "0",
      uname: owners.user(uid),
      gname: owners.group(gid),
    };
    if (st.isDirectory()) {
      if (rel !== "" && !base.name.endsWith("/")) base.name += "/";
      base.type = "5";
      opts.onEntry?.(rel, "dir");
      yield* emit(tarHeaderBlocks(base, "gnu"));
      const names = fs.readdirSync(abs).sort(byteOrder);
      for (const n of names) yield* entry(path.join(abs, n), rel === "" ? n : `${rel}/${n}`);
      return;
    }
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) {
        opts.onEntry?.(rel, "hardlink");
        yield* emit(tarHeaderBlocks({ ...base, type: "1", linkname: first }, "gnu"));
        return;
      }
      links.set(key, base.name);
    }
    if (st.isSymbolicLink()) {
      opts.onEntry?.(rel, "symlink");
      yield* emit(tarHeaderBlocks({ ...base, type: "2", linkname: fs.readlinkSync(abs) }, "gnu"));
      return;
    }
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = devParts(st.rdev);
      opts.onEntry?.(rel, "device");
      yield* emit(tarHeaderBlocks({ ...base, type: st.isCharacterDevice() ? "3" : "4", devmajor: major, devminor: minor }, "gnu"));
      return;
    }
    if (st.isFIFO()) {
      opts.onEntry?.(rel, "fifo");
      yield* emit(tarHeaderBlocks({ ...base, type: "6" }, "gnu"));
      return;
    }
    if (!st.isFile()) return; // sockets
    const size = Number(st.size);
    opts.onEntry?.(rel, "file");
    const header = tarHeaderBlocks({ ...base, size }, "gnu");
    const fd = fs.openSync(abs, "r");
    try {
      if (size <= CHUNK) {
        // header, data and padding of a small file in one piece
        const head = header.reduce((n, b) => n + b.length, 0);
        const buf = Buffer.alloc(head + size + padding(size).length);
        let at = 0;
        for (const b of header) at += b.copy(buf, at);
        const got = readFully(fd, buf, at, size);
        if (got < size) throw new OuzoError("BAD_BINPKG", `${abs} shrank while it was being packed (${got} of ${size} bytes)`);
        yield* emit([buf]);
        return;
      }
      yield* emit(header);
      let done = 0;
      while (done < size) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - done));
        const got = readFully(fd, buf, 0, buf.length);
        if (got < buf.length) throw new OuzoError("BAD_BINPKG", `${abs} shrank while it was being packed (${done + got} of ${size} bytes)`);
        done += got;
        yield* emit([buf]);
      }
      yield* emit([padding(size)]);
    } finally {
      fs.closeSync(fd);
    }
  }

  const root = fs.lstatSync(imageDir, { throwIfNoEntry: false });
  if (!root?.isDirectory()) throw new OuzoError("BAD_BINPKG", `image directory ${imageDir} does not exist or is not a directory`);
  yield* entry(imageDir, "");
  yield* emit([Buffer.alloc(2 * BLOCK)]);
  yield Buffer.alloc((RECORD - (written % RECORD)) % RECORD);
}

// --- writing a .tbz2 ---

export interface CompressOptions {
  /** BINPKG_COMPRESS; default zstd (MARK). */
  compression?: BinpkgCompression;
  /** The compressor's level; default the program's own default (bzip2 -9, zstd 3, gzip 6, xz 6). */
  level?: number;
}

export interface WriteTbz2Options extends CompressOptions {
  imageDir: string;
  /** The build-info files (§4.9): name → exact bytes. Written sorted by name. */
  metadata: MetadataInput;
  owners?: OwnerNames;
}

/** The finished package file, with what the Packages index and BINPKGMD5 need. */
export interface BinpkgFile {
  path: string;
  size: number;
  /** mtime in whole seconds (the index's MTIME). */
  mtime: number;
  md5: string;
  sha1: string;
}

let tmpCounter = 0;

/** A temp name beside `out` (same filesystem, so the final rename is atomic). */
export function tempNameFor(out: string): string {
  return path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.${++tmpCounter}.partial`);
}

/** Write all of a buffer at the file's current offset. */
export function writeAllSync(fd: number, buf: Buffer, position: number | null = null): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off, position === null ? null : position + off);
    off += n;
  }
}

/** Write all of some buffers at the file's current offset. */
function writevFully(fd: number, bufs: Buffer[], cb: (err?: Error | null) => void): void {
  fs.writev(fd, bufs, null, (err, n) => {
    if (err) return cb(err);
    let rest = n;
    while (bufs.length && rest >= bufs[0]!.length) rest -= bufs.shift()!.length;
    if (!bufs.length) return cb();
    bufs[0] = bufs[0]!.subarray(rest);
    writevFully(fd, bufs, cb);
  });
}

/**
 * A stream writing at an open file's current offset, pieces gathered into one writev; it never
 * closes the descriptor (its owner does).
 */
export function fdSink(fd: number): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      writevFully(fd, [chunk], cb);
    },
    writev(chunks, cb) {
      writevFully(
        fd,
        chunks.map((c) => c.chunk as Buffer),
        cb,
      );
    },
  });
}

/** fsync, close and move a finished temp file into place, fsyncing the directory. */
export function commitTemp(fd: number, tmp: string, out: string): void {
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, out);
  fsyncDir(path.dirname(out));
}

/**
 * Write an xpak binary package: the compressed tar of `imageDir` followed by the xpak trailer
 * of `metadata`. Streams (the image is never held in memory); writes a temp file beside `out`,
 * fsyncs it and renames it into place, so `out` is either the old file or the complete new one.
 */
export async function writeTbz2(out: string, opts: WriteTbz2Options): Promise<BinpkgFile> {
  const compression = opts.compression ?? DEFAULT_BINPKG_COMPRESS;
  // encoded first: a bad metadata key fails before minutes of compression
  const trailer = encodeTbz2Trailer(opts.metadata);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = tempNameFor(out);
  const fd = fs.openSync(tmp, "wx", 0o644);
  let open = true;
  try {
    const coder = startCompressor(compression, opts.level);
    const source = Readable.from(imageTarBlocks(opts.imageDir, { prefix: "./", owners: opts.owners }), { objectMode: false });
    const { tap, hashes } = hashingTap(["md5", "sha1"]);
    const sink = fdSink(fd);
    await runPipelines([pipeline(source, coder.input), pipeline(coder.output, tap, sink), coder.done], () => {
      coder.abort();
      source.destroy();
      sink.destroy();
    });
    writeAllSync(fd, trailer);
    for (const h of hashes) h.update(trailer);
    const size = fs.fstatSync(fd).size;
    commitTemp(fd, tmp, out);
    open = false;
    const st = fs.statSync(out);
    return { path: out, size, mtime: Math.floor(st.mtimeMs / 1000), md5: hashes[0]!.digest("hex"), sha1: hashes[1]!.digest("hex") };
  } catch (e) {
    if (open) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (e instanceof OuzoError) throw e;
    throw new OuzoError("BAD_BINPKG", `cannot write binary package ${out}: ${(e as Error).message}`);
  }
}

/** The metadata (xpak) of a `.tbz2`/`.xpak` binary package. */
export function readTbz2(file: string): BinpkgMetadata {
  return readXpakTrailer(file).metadata;
}

// --- extracting an image tar ---

export interface ExtractOptions {
  /** Restore owners (default: when running as root). */
  sameOwner?: boolean;
  /** Use the numeric ids of the archive, not its user/group names (default: names win when known, like GNU tar). */
  numericOwner?: boolean;
  owners?: OwnerNames;
}

export interface ExtractStats {
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  others: number;
  bytes: number;
}

/** Files up to this size are written in one call when extracting. */
const SMALL_FILE = 1 << 20;

interface DeferredDir {
  abs: string;
  mode: number;
  mtime: Date;
  uid?: number;
  gid?: number;
}

/**
 * Extract an image tar stream into `dest` (build-and-merge §12.2's path-safety checks apply to
 * both formats): every name must start with `prefix` once leading `./` are dropped ("" for xpak,
 * "image/" for gpkg), may not be absolute or contain `..`, may not lead through a symlink, and a
 * hard link must name an entry already extracted. Directory modes and mtimes are set last,
 * deepest first, so read-only directories and their mtimes come out right.
 */
export async function extractImageTar(input: Readable, dest: string, prefix: "" | "image/", source: string, opts: ExtractOptions = {}): Promise<ExtractStats> {
  const sameOwner = opts.sameOwner ?? process.getuid?.() === 0;
  const owners = opts.owners ?? new OwnerNames();
  const stats: ExtractStats = { files: 0, directories: 0, symlinks: 0, hardlinks: 0, others: 0, bytes: 0 };
  const bad = (what: string) => new OuzoError("BAD_BINPKG", `${source}: ${what}`);
  fs.mkdirSync(dest, { recursive: true });
  const realDirs = new Set<string>([""]);
  const deferred: DeferredDir[] = [];

  const relative = (raw: string, what: string): string => {
    if (raw.startsWith("/")) throw bad(`${what} '${raw}' is an absolute path`);
    if (raw.includes("\0")) throw bad(`${what} ${JSON.stringify(raw)} contains a NUL byte`);
    let n = raw;
    while (n.startsWith("./")) n = n.slice(2);
    if (prefix) {
      if (n === prefix.slice(0, -1)) n = "";
      else if (n.startsWith(prefix)) n = n.slice(prefix.length);
      else throw bad(`${what} '${raw}' is outside '${prefix}'`);
    }
    const parts = n.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) throw bad(`${what} '${raw}' contains '..'`);
    return parts.join("/");
  };

  /** Make sure every directory above `rel` is a real directory inside dest (never a symlink). */
  const parentOf = (rel: string): void => {
    const parts = rel.split("/");
    let cur = "";
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
      if (realDirs.has(cur)) continue;
      const abs = path.join(dest, cur);
      const st = fs.lstatSync(abs, { throwIfNoEntry: false });
      if (!st) fs.mkdirSync(abs, { mode: 0o755 });
      else if (!st.isDirectory()) throw bad(`entry '${rel}' would be written through '${cur}', which is ${st.isSymbolicLink() ? "a symlink" : "not a directory"}`);
      realDirs.add(cur);
    }
  };

  /** Remove what is at a path about to be replaced by a non-directory. */
  const clear = (rel: string, abs: string): void => {
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) throw bad(`entry '${rel}' would replace a directory`);
    fs.unlinkSync(abs);
  };

  const ownerOf = (h: tar.Header): { uid: number; gid: number } => {
    const uid = (!opts.numericOwner && h.uname ? owners.uid(h.uname) : undefined) ?? h.uid ?? 0;
    const gid = (!opts.numericOwner && h.gname ? owners.gid(h.gname) : undefined) ?? h.gid ?? 0;
    return { uid, gid };
  };

  const extract = tar.extract();
  const consume = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const rel = relative(h.name, "entry");
      const abs = rel === "" ? dest : path.join(dest, rel);
      const mode = (h.mode ?? 0o644) & 0o7777;
      const mtime = h.mtime ?? new Date(0);
      if (rel !== "") parentOf(rel);
      switch (h.type) {
        case "directory": {
          const st = fs.lstatSync(abs, { throwIfNoEntry: false });
          if (st && !st.isDirectory()) fs.unlinkSync(abs);
          if (!st || !st.isDirectory()) fs.mkdirSync(abs, { mode: 0o700 });
          realDirs.add(rel);
          deferred.push({ abs, mode, mtime, ...(sameOwner ? ownerOf(h) : {}) });
          stats.directories++;
          entry.resume();
          break;
        }
        case "file":
        case "contiguous-file": {
          if (rel === "") throw bad(`file entry '${h.name}' names the image root`);
          clear(rel, abs);
          realDirs.delete(rel);
          if ((h.size ?? 0) <= SMALL_FILE) {
            // most files of an image are small: one synchronous write costs less than a stream
            const chunks: Buffer[] = [];
            for await (const c of entry) chunks.push(c as Buffer);
            fs.writeFileSync(abs, Buffer.concat(chunks), { flag: "wx", mode: 0o600 });
          } else await pipeline(entry, fs.createWriteStream(abs, { flags: "wx", mode: 0o600 }));
          if (sameOwner) {
            const o = ownerOf(h);
            fs.chownSync(abs, o.uid, o.gid);
          }
          fs.chmodSync(abs, mode); // after chown, which clears set-id bits
          fs.utimesSync(abs, mtime, mtime);
          stats.files++;
          stats.bytes += h.size ?? 0;
          break;
        }
        case "symlink": {
          if (rel === "") throw bad(`symlink entry '${h.name}' names the image root`);
          clear(rel, abs);
          realDirs.delete(rel);
          fs.symlinkSync(h.linkname ?? "", abs);
          if (sameOwner) {
            const o = ownerOf(h);
            fs.lchownSync(abs, o.uid, o.gid);
          }
          fs.lutimesSync(abs, mtime, mtime);
          stats.symlinks++;
          entry.resume();
          break;
        }
        case "link": {
          if (rel === "") throw bad(`hard link entry '${h.name}' names the image root`);
          const target = relative(h.linkname ?? "", `hard link target of '${h.name}'`);
          if (target === "") throw bad(`hard link '${h.name}' points at the image root`);
          parentOf(target);
          const targetAbs = path.join(dest, target);
          const st = fs.lstatSync(targetAbs, { throwIfNoEntry: false });
          if (!st || st.isDirectory()) throw bad(`hard link '${h.name}' points at '${h.linkname}', which is ${st ? "a directory" : "not in the archive before it"}`);
          clear(rel, abs);
          realDirs.delete(rel);
          fs.linkSync(targetAbs, abs);
          stats.hardlinks++;
          entry.resume();
          break;
        }
        case "character-device":
        case "block-device":
        case "fifo": {
          if (rel === "") throw bad(`entry '${h.name}' names the image root`);
          clear(rel, abs);
          realDirs.delete(rel);
          const kind = h.type === "fifo" ? ["p"] : [h.type === "character-device" ? "c" : "b", String(h.devmajor ?? 0), String(h.devminor ?? 0)];
          const r = spawnSync("mknod", ["-m", mode.toString(8), abs, ...kind], { encoding: "utf8" });
          if (r.error || r.status !== 0) throw bad(`cannot create ${h.type} '${rel}': ${r.error?.message ?? r.stderr.trim()}`);
          if (sameOwner) {
            const o = ownerOf(h);
            fs.lchownSync(abs, o.uid, o.gid);
            fs.chmodSync(abs, mode);
          }
          fs.utimesSync(abs, mtime, mtime);
          stats.others++;
          entry.resume();
          break;
        }
        default:
          throw bad(`entry '${h.name}' has a type this extractor does not handle (${h.type})`);
      }
    }
  })();

  let failed: unknown;
  try {
    await runPipelines([pipeline(input, extract), consume], () => {
      input.destroy();
      extract.destroy();
    });
  } catch (e) {
    failed = e;
  }
  if (failed !== undefined) {
    if (failed instanceof OuzoError) throw failed;
    throw bad(`cannot extract the image: ${(failed as Error).message}`);
  }
  for (const d of deferred.reverse()) {
    if (d.uid !== undefined) fs.chownSync(d.abs, d.uid, d.gid!);
    fs.chmodSync(d.abs, d.mode);
    fs.utimesSync(d.abs, d.mtime, d.mtime);
  }
  return stats;
}

/** The decompressor that the first bytes of a byte range call for. */
export function rangeCompression(fd: number, start: number, length: number): BinpkgCompression {
  const head = Buffer.alloc(Math.min(8, length));
  fs.readSync(fd, head, 0, head.length, start);
  return detectCompression(head);
}

/**
 * Extract the image of a `.tbz2` into `dest`. Only the tarball part of the file is fed to the
 * decompressor, so no program sees the xpak trailer as trailing garbage.
 */
export async function extractTbz2(file: string, dest: string, opts: ExtractOptions = {}): Promise<ExtractStats> {
  const { layout } = readXpakTrailer(file);
  if (layout.tarballSize === 0) throw new OuzoError("BAD_BINPKG", `${file}: the binary package has an xpak trailer but no tarball`);
  const fd = fs.openSync(file, "r");
  let compression: BinpkgCompression;
  try {
    compression = rangeCompression(fd, 0, layout.tarballSize);
  } finally {
    fs.closeSync(fd);
  }
  const coder = startDecompressor(compression);
  const raw = fs.createReadStream(file, { start: 0, end: layout.tarballSize - 1 });
  const feed = pipeline(raw, coder.input);
  let extracted: ExtractStats | undefined;
  await runPipelines(
    [
      feed,
      coder.done,
      extractImageTar(coder.output, dest, "", file, opts).then((s) => {
        extracted = s;
      }),
    ],
    () => {
      coder.abort();
      raw.destroy();
    },
  ).catch((e) => {
    if (e instanceof OuzoError) throw e;
    throw new OuzoError("BAD_BINPKG", `${file}: cannot extract: ${(e as Error).message}`);
  });
  return extracted!;
}
