// Checking a distfile against its Manifest DIST entry (build spec §7.4): the size first, then
// every hash of the entry that ouzo can compute, in sorted order, all computed in one read.
import { createHash, getHashes, type Hash } from "node:crypto";
import * as fs from "node:fs";
import type { ManifestDist } from "../pms/manifest.js";

/** Manifest hash names (§7.1) → node's digest names; those node lacks (WHIRLPOOL, STREEBOG) are left out below. */
const NODE_NAMES: Readonly<Record<string, string>> = {
  BLAKE2B: "blake2b512",
  BLAKE2S: "blake2s256",
  MD5: "md5",
  RMD160: "ripemd160",
  SHA1: "sha1",
  SHA256: "sha256",
  SHA3_256: "sha3-256",
  SHA3_512: "sha3-512",
  SHA512: "sha512",
  STREEBOG256: "streebog256",
  STREEBOG512: "streebog512",
  WHIRLPOOL: "whirlpool",
};

/** layout.conf's default `manifest-hashes` (§7.2). */
export const DEFAULT_MANIFEST_HASHES: readonly string[] = ["BLAKE2B", "SHA512"];

let available: Set<string> | undefined;

/** Whether ouzo can compute this Manifest hash (upper-case name, as in the Manifest). */
export function hashSupported(name: string): boolean {
  available ??= new Set(getHashes());
  const n = NODE_NAMES[name.toUpperCase()];
  return n !== undefined && available.has(n);
}

/**
 * The hashes a repository's Manifests carry (`manifest-hashes`) and must carry
 * (`manifest-required-hashes`, default the former), from its metadata/layout.conf keys. Verifying
 * a Manifest line stays lenient (§7.4: any computable hash of the line is checked); these say what
 * to compute when writing one.
 */
export function manifestHashes(layout: ReadonlyMap<string, string>): { hashes: string[]; required: string[] } {
  const list = (v: string | undefined) => (v ?? "").split(/\s+/).filter(Boolean).map((h) => h.toUpperCase());
  const hashes = list(layout.get("manifest-hashes"));
  const h = hashes.length ? hashes : [...DEFAULT_MANIFEST_HASHES];
  const required = list(layout.get("manifest-required-hashes"));
  return { hashes: h, required: required.length ? required : h };
}

/** The hashes of a DIST entry ouzo verifies: those it can compute, upper-case, in sorted order (§7.4). */
export function verifiableHashes(entry: ManifestDist): string[] {
  return Object.keys(entry.hashes)
    .map((h) => h.toUpperCase())
    .filter(hashSupported)
    .sort();
}

/** Several digests of one byte stream, fed chunk by chunk: one read of a file gives them all. */
export class MultiHasher {
  private readonly hashes: [string, Hash][];
  private bytes = 0;

  constructor(readonly algorithms: readonly string[]) {
    this.hashes = [...new Set(algorithms.map((a) => a.toUpperCase()))].filter(hashSupported).map((a) => [a, createHash(NODE_NAMES[a]!)]);
  }

  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    for (const [, h] of this.hashes) h.update(chunk);
  }

  /** Count bytes without hashing them: only for a hasher of no hash (a size-only check). */
  skip(bytes: number): void {
    if (this.hashes.length) throw new Error("MultiHasher.skip with hashes to compute");
    this.bytes += bytes;
  }

  /** Bytes fed so far. */
  get size(): number {
    return this.bytes;
  }

  /** Upper-case hash name → lower-case hex. Ends the hashing. */
  digests(): Record<string, string> {
    return Object.fromEntries(this.hashes.map(([a, h]) => [a, h.digest("hex")]));
  }

  /** Feed the first `length` bytes of a file (all of it by default). */
  async updateFromFile(file: string, length = Infinity): Promise<void> {
    const fh = await fs.promises.open(file, "r");
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      let left = length;
      while (left > 0) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), null);
        if (!bytesRead) break;
        this.update(buf.subarray(0, bytesRead));
        left -= bytesRead;
      }
    } finally {
      await fh.close();
    }
  }
}

/** Why a file is not the one the Manifest describes. */
export type VerifyFailure =
  | { readonly kind: "missing" }
  | { readonly kind: "not-a-file" }
  | { readonly kind: "size"; readonly got: number; readonly expected: number }
  | { readonly kind: "hash"; readonly algorithm: string; readonly got: string; readonly expected: string }
  /** The entry has no hash ouzo can compute (or a bogus size 0): fatal, never retried. */
  | { readonly kind: "insufficient"; readonly got: readonly string[]; readonly expected: readonly string[] };

export type VerifyResult =
  | { readonly ok: true; readonly size: number; readonly verified: readonly string[]; readonly digests: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly failure: VerifyFailure; readonly reason: string };

/** Portage's reason line for a failure (`!!! Reason: …`), with what was got and expected, on one line. */
export function describeFailure(f: VerifyFailure): string {
  switch (f.kind) {
    case "missing":
      return "no such file";
    case "not-a-file":
      return "not a regular file";
    case "size":
      return `Filesize does not match recorded size (got ${f.got}, expected ${f.expected})`;
    case "hash":
      return `Failed on ${f.algorithm} verification (got ${f.got}, expected ${f.expected})`;
    case "insufficient":
      return `Insufficient data for checksum verification (got ${f.got.join(" ") || "no hash"}, expected one of ${f.expected.join(" ")})`;
  }
}

function fail(failure: VerifyFailure): VerifyResult {
  return { ok: false, failure, reason: describeFailure(failure) };
}

/** The entry's problem when it cannot be verified at all (no computable hash, or size 0), else undefined. */
export function insufficient(entry: ManifestDist): VerifyFailure | undefined {
  const have = Object.keys(entry.hashes).map((h) => h.toUpperCase()).sort();
  const supported = Object.keys(NODE_NAMES).filter(hashSupported);
  // size 0 is a bogus entry (§6.5 step 1): Portage drops its digests; ouzo refuses it
  if (!verifiableHashes(entry).length || Number(entry.size) === 0 || !/^\d+$/.test(entry.size)) return { kind: "insufficient", got: have, expected: supported };
  return undefined;
}

/**
 * Compare what was measured of a file (its size, and digests computed while it was read or
 * downloaded) with the entry, in §7.4's order. `sizeOnly`: the size alone (parallel-fetch's
 * background check, §6.7).
 */
export function checkDigests(entry: ManifestDist, size: number, digests: Readonly<Record<string, string>>, opts: { sizeOnly?: boolean } = {}): VerifyResult {
  const bad = insufficient(entry);
  if (bad) return fail(bad);
  const expected = Number(entry.size);
  if (size !== expected) return fail({ kind: "size", got: size, expected });
  if (opts.sizeOnly) return { ok: true, size, verified: [], digests };
  const algos = verifiableHashes(entry);
  for (const a of algos) {
    const want = entry.hashes[a.toLowerCase()]!.toLowerCase();
    const got = digests[a];
    if (got === undefined) return fail({ kind: "insufficient", got: Object.keys(digests), expected: algos });
    if (got !== want) return fail({ kind: "hash", algorithm: a, got, expected: want });
  }
  return { ok: true, size, verified: algos, digests };
}

/**
 * Digests of files already read, keyed by (path, dev, ino, size, mtime in ns) as §7.4 suggests, so a
 * large distfile is hashed once per process however many builds use it. A file changed in place
 * gets a new mtime; one replaced by rename gets a new inode.
 */
const digestCache = new Map<string, Record<string, string>>();

function cacheKey(file: string, st: fs.BigIntStats): string {
  return `${file}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeNs}`;
}

/** Remember digests computed while writing `file` (e.g. during its download), so the next verification need not read it. */
export function rememberDigests(file: string, digests: Readonly<Record<string, string>>): void {
  try {
    const st = fs.statSync(file, { bigint: true });
    digestCache.set(cacheKey(file, st), { ...digests });
  } catch {
    // nothing to remember a missing file by
  }
}

/**
 * Verify a file against its DIST entry: size first (from stat, no read), then every hash of the
 * entry that ouzo computes, all in one streaming read. `extraHashes`: also compute these (their
 * digests are in the result, e.g. for writing a Manifest).
 */
export async function verifyFile(file: string, entry: ManifestDist, opts: { sizeOnly?: boolean; extraHashes?: readonly string[] } = {}): Promise<VerifyResult> {
  const bad = insufficient(entry);
  if (bad) return fail(bad);
  let st: fs.BigIntStats;
  try {
    st = await fs.promises.stat(file, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return fail({ kind: "missing" });
    throw e;
  }
  if (!st.isFile()) return fail({ kind: "not-a-file" });
  const size = Number(st.size);
  if (size !== Number(entry.size) || opts.sizeOnly) return checkDigests(entry, size, {}, opts);
  const want = [...new Set([...verifiableHashes(entry), ...(opts.extraHashes ?? []).map((h) => h.toUpperCase()).filter(hashSupported)])];
  const key = cacheKey(file, st);
  const cached = digestCache.get(key);
  if (cached && want.every((a) => cached[a] !== undefined)) return checkDigests(entry, size, cached);
  const hasher = new MultiHasher(want);
  await hasher.updateFromFile(file);
  const digests = hasher.digests();
  if (hasher.size !== size) return fail({ kind: "size", got: hasher.size, expected: Number(entry.size) }); // changed while read
  const result = checkDigests(entry, size, digests);
  if (result.ok) digestCache.set(key, { ...cached, ...digests });
  return result;
}

/** Size and digests of a file (for a Manifest line), in one read. */
export async function hashFile(file: string, algorithms: readonly string[] = DEFAULT_MANIFEST_HASHES): Promise<{ size: number; digests: Record<string, string> }> {
  const hasher = new MultiHasher(algorithms);
  await hasher.updateFromFile(file);
  return { size: hasher.size, digests: hasher.digests() };
}
