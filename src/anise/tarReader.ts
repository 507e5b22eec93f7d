// A synchronous tar reader for package tarballs (anise.md §6): ustar and GNU headers, GNU long
// names (`L`, `K`), pax extended headers (`x`; `g` ignored), base-256 sizes and ids. Bytes are
// pushed as they are decompressed and handed to the entry's sink as they arrive, so a package of
// any size streams through one buffer; nothing is kept but a partial header.
import { OuzoError } from "../core/errors.js";

export type TarEntryType = "file" | "link" | "symlink" | "directory" | "character-device" | "block-device" | "fifo" | "other";

export interface TarEntry {
  readonly name: string;
  readonly type: TarEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Seconds since the epoch (fractions from pax). */
  readonly mtime: number;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
}

/** Where an entry's data goes; undefined from onEntry skips the data. */
export interface EntrySink {
  data(chunk: Buffer): void;
  end(): void;
}

const BLOCK = 512;
/** The largest long name or pax header kept in memory (native/ouzo-unpack.c: META_MAX). */
const META_MAX = 1 << 20;
/** A pax number, as both readers take it (native/ouzo-unpack.c: pax_number), under 512 characters. */
const PAX_NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;
const paxNumber = (v: string | undefined): boolean => v === undefined || (v.length < 512 && PAX_NUMBER.test(v));
const wholeBelow = (x: number, max: number): boolean => Number.isInteger(x) && x >= 0 && x <= max;

function octal(buf: Buffer, off: number, len: number): number {
  // base-256 (GNU): the high bit of the first byte set
  if (buf[off]! & 0x80) {
    let v = buf[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i]!;
    return v;
  }
  let v = 0;
  let i = off;
  const end = off + len;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function cstring(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString("utf8", off, end < 0 || end > off + len ? off + len : end);
}

const TYPES: Record<string, TarEntryType> = { "0": "file", "\0": "file", "7": "file", "1": "link", "2": "symlink", "3": "character-device", "4": "block-device", "5": "directory", "6": "fifo" };

export class TarReader {
  private head = Buffer.alloc(BLOCK);
  private headFill = 0;
  /** Bytes of the current entry's data still to come, then its padding. */
  private remaining = 0;
  private padding = 0;
  private sink: EntrySink | undefined;
  /** A metadata entry (long name, pax) being collected. */
  private meta: { kind: string; chunks: Buffer[] } | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private pax: Record<string, string> = {};
  private ended = false;
  entries = 0;

  constructor(private readonly onEntry: (e: TarEntry) => EntrySink | undefined, private readonly source: string) {}

  private bad(why: string): OuzoError {
    return new OuzoError("BAD_ANISE_ARTIFACT", `${this.source}: ${why}`);
  }

  push(buf: Buffer): void {
    let i = 0;
    while (i < buf.length && !this.ended) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, buf.length - i);
        const part = buf.subarray(i, i + n);
        if (this.meta) this.meta.chunks.push(Buffer.from(part));
        else this.sink?.data(part);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.finishData();
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, buf.length - i);
        this.padding -= n;
        i += n;
        continue;
      }
      const n = Math.min(BLOCK - this.headFill, buf.length - i);
      buf.copy(this.head, this.headFill, i, i + n);
      this.headFill += n;
      i += n;
      if (this.headFill === BLOCK) {
        this.headFill = 0;
        this.header(this.head);
      }
    }
  }

  private finishData(): void {
    if (this.meta) {
      const body = Buffer.concat(this.meta.chunks);
      if (this.meta.kind === "L") this.longName = cstring(body, 0, body.length);
      else if (this.meta.kind === "K") this.longLink = cstring(body, 0, body.length);
      else if (this.meta.kind === "x") this.pax = { ...this.pax, ...parsePax(body) };
      this.meta = undefined;
    } else {
      this.sink?.end();
      this.sink = undefined;
    }
  }

  private header(h: Buffer): void {
    // stored on every header, not only on the last: a store the optimiser has never seen run
    // sends the compiled header() back to the interpreter when the end comes (once per thread)
    this.ended = h.every((b) => b === 0);
    if (this.ended) return;
    let sum = 0;
    for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 0x20 : h[k]!;
    if (sum !== octal(h, 148, 8)) throw this.bad("not a tar archive, or a damaged one (header checksum mismatch)");
    const flag = String.fromCharCode(h[156]!);
    const size = octal(h, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (flag === "L" || flag === "K" || flag === "x" || flag === "g") {
      // a bound on what is kept in memory: a name or a header of this size is no package's
      if (size > META_MAX) throw this.bad("a long name or pax header is larger than 1 MiB");
      this.meta = { kind: flag, chunks: [] };
      this.remaining = size;
      this.padding = padded - size;
      if (size === 0) this.finishData();
      return;
    }
    const ustar = h.toString("latin1", 257, 263) === "ustar\0";
    let name = cstring(h, 0, 100);
    if (ustar) {
      const prefix = cstring(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.longName !== undefined) name = this.longName;
    let linkname = this.longLink ?? cstring(h, 157, 100);
    const pax = this.pax;
    if (pax.path !== undefined) name = pax.path;
    if (pax.linkpath !== undefined) linkname = pax.linkpath;
    const entry: TarEntry = {
      name,
      type: TYPES[flag] ?? "other",
      mode: octal(h, 100, 8) & 0o7777,
      uid: pax.uid !== undefined ? Number(pax.uid) : octal(h, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : octal(h, 116, 8),
      size: pax.size !== undefined ? Number(pax.size) : size,
      mtime: pax.mtime !== undefined ? Number(pax.mtime) : octal(h, 136, 12),
      linkname,
      devmajor: octal(h, 329, 8),
      devminor: octal(h, 337, 8),
    };
    // the checks native/ouzo-unpack.c makes, in its order and words
    const n = this.entries + 1;
    for (const key of ["size", "uid", "gid", "mtime"] as const) if (!paxNumber(pax[key])) throw this.bad(`a pax header's ${key} is not a number`);
    if (entry.name.includes("\0") || entry.linkname.includes("\0")) throw this.bad(`entry ${n}'s name holds a NUL byte`);
    if (!wholeBelow(entry.size, 2 ** 53 - 1)) throw this.bad(`entry ${n}'s size is out of range`);
    if (!wholeBelow(entry.uid, 4294967294) || !wholeBelow(entry.gid, 4294967294)) throw this.bad(`entry ${n}'s owner is out of range`);
    if (!(Math.abs(entry.mtime) < 1e15)) throw this.bad(`entry ${n}'s time is out of range`);
    this.longName = undefined;
    this.longLink = undefined;
    this.pax = {};
    this.entries++;
    const dataSize = entry.type === "file" || entry.type === "other" ? entry.size : 0;
    this.sink = this.onEntry(entry);
    this.remaining = dataSize;
    this.padding = Math.ceil(dataSize / BLOCK) * BLOCK - dataSize;
    if (dataSize === 0) {
      this.sink?.end();
      this.sink = undefined;
    }
  }

  /** The input is over: it must have ended on an entry boundary. */
  end(): void {
    if (!this.ended && this.entries === 0 && this.headFill === 0) throw this.bad("not a tar archive (no entries)");
    // every writer ends an archive with zero blocks: without them, something is missing
    if (!this.ended || this.remaining > 0 || this.padding > 0 || this.meta) throw this.bad("the archive is truncated");
  }
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp < 0) break;
    const digits = body.toString("latin1", i, sp);
    if (!/^[0-9]+$/.test(digits)) break;
    const len = Number(digits);
    // a record that does not fit in the header ends it (native/ouzo-unpack.c: parse_pax)
    if (len <= 0 || i + len > body.length || sp + 1 > i + len - 1) break;
    const rec = body.toString("utf8", sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}
