// A read-only reader of bbolt files (anise.md §13: anise's system database, anise.db, is bbolt
// through storm's JSON codec). Only what reading needs: the two meta pages (the valid one with
// the highest transaction wins), branch and leaf pages, nested buckets (inline or not) and
// overflow pages. Little-endian throughout, as bbolt writes on the machines anise runs on.
import * as fs from "node:fs";
import { OuzoError } from "../core/errors.js";

const MAGIC = 0xed0cdaed;
const BRANCH = 0x01;
const LEAF = 0x02;
const BUCKET_LEAF = 0x01;
const PAGE_HEADER = 16;
const ELEMENT = 16;

/** A bucket's entries: key → value, or key → nested bucket. */
export interface BoltEntry {
  readonly key: Buffer;
  readonly value?: Buffer;
  readonly bucket?: BoltBucket;
}

export interface BoltBucket {
  entries(): BoltEntry[];
}

/** FNV-1a, 64 bits: the checksum of a meta page. */
function fnv1a64(buf: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of buf) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

export class BoltFile {
  private readonly data: Buffer;
  readonly pageSize: number;
  readonly txid: bigint;
  private readonly rootPage: number;

  constructor(readonly file: string) {
    try {
      this.data = fs.readFileSync(file);
    } catch (e) {
      throw new OuzoError("ANISE_DB", `cannot read ${file}: ${(e as Error).message}`, { file });
    }
    const metas: { txid: bigint; root: number; pageSize: number }[] = [];
    const first = this.meta(0);
    for (const at of [0, first?.pageSize ?? 4096]) {
      const m = this.meta(at);
      if (m) metas.push(m);
    }
    if (!metas.length) throw new OuzoError("ANISE_DB", "not a bbolt database (no valid meta page)", { file });
    const best = metas.sort((a, b) => (a.txid > b.txid ? -1 : 1))[0]!;
    this.pageSize = best.pageSize;
    this.txid = best.txid;
    this.rootPage = best.root;
  }

  private meta(at: number): { txid: bigint; root: number; pageSize: number } | undefined {
    const d = this.data;
    if (at + PAGE_HEADER + 64 > d.length) return undefined;
    const m = at + PAGE_HEADER;
    if (d.readUInt32LE(m) !== MAGIC || d.readUInt32LE(m + 4) !== 2) return undefined;
    if (fnv1a64(d.subarray(m, m + 56)) !== d.readBigUInt64LE(m + 56)) return undefined;
    return { pageSize: d.readUInt32LE(m + 8), root: Number(d.readBigUInt64LE(m + 16)), txid: d.readBigUInt64LE(m + 48) };
  }

  /** The top-level bucket (whose entries are the named buckets). */
  root(): BoltBucket {
    return this.bucketAt({ page: this.rootPage });
  }

  private bucketAt(where: { page: number } | { inline: Buffer }): BoltBucket {
    return { entries: () => this.walk(where) };
  }

  private walk(where: { page: number } | { inline: Buffer }): BoltEntry[] {
    const out: BoltEntry[] = [];
    const visit = (buf: Buffer, start: number, depth: number) => {
      if (depth > 64) throw new OuzoError("ANISE_DB", "the bbolt tree is deeper than any real one (damaged?)", { file: this.file });
      const flags = buf.readUInt16LE(start + 8);
      const count = buf.readUInt16LE(start + 10);
      for (let i = 0; i < count; i++) {
        const e = start + PAGE_HEADER + i * ELEMENT;
        if (flags & BRANCH) {
          visit(this.data, this.pageOffset(Number(buf.readBigUInt64LE(e + 8))), depth + 1);
        } else if (flags & LEAF) {
          const f = buf.readUInt32LE(e);
          const pos = buf.readUInt32LE(e + 4);
          const ksize = buf.readUInt32LE(e + 8);
          const vsize = buf.readUInt32LE(e + 12);
          const key = buf.subarray(e + pos, e + pos + ksize);
          const value = buf.subarray(e + pos + ksize, e + pos + ksize + vsize);
          if (f & BUCKET_LEAF) {
            const rootPage = Number(value.readBigUInt64LE(0));
            out.push({ key, bucket: this.bucketAt(rootPage === 0 ? { inline: value.subarray(16) } : { page: rootPage }) });
          } else out.push({ key, value });
        } else throw new OuzoError("ANISE_DB", `page with flags ${flags} where a branch or leaf page was expected (damaged?)`, { file: this.file });
      }
    };
    if ("inline" in where) visit(where.inline, 0, 0);
    else visit(this.data, this.pageOffset(where.page), 0);
    return out;
  }

  private pageOffset(id: number): number {
    const at = id * this.pageSize;
    if (at + PAGE_HEADER > this.data.length) throw new OuzoError("ANISE_DB", `page ${id} is beyond the end of the file (truncated?)`, { file: this.file });
    return at;
  }
}

/** Every value of a bucket and of the buckets under it (storm's index buckets, `__storm_*`, left out). */
export function allValues(b: BoltBucket, path: string[] = [], out: { path: string[]; key: Buffer; value: Buffer }[] = []): { path: string[]; key: Buffer; value: Buffer }[] {
  for (const e of b.entries()) {
    const name = e.key.toString("utf8");
    if (e.bucket) {
      if (!name.startsWith("__storm")) allValues(e.bucket, [...path, name], out);
    } else if (e.value) out.push({ path, key: e.key, value: e.value });
  }
  return out;
}
