import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { OuzoError } from "../core/errors.js";
import {
  BLOCK,
  type BinpkgCompression,
  type BinpkgFile,
  type CompressOptions,
  DEFAULT_BINPKG_COMPRESS,
  type ExtractOptions,
  type ExtractStats,
  type OwnerNames,
  RECORD,
  type TarFormat,
  type TarHeader,
  commitTemp,
  detectCompression,
  extractImageTar,
  fdSink,
  hashingTap,
  imageTarBlocks,
  padding,
  runPipelines,
  startCompressor,
  startDecompressor,
  tarHeaderBlocks,
  tarOfFiles,
  tempNameFor,
  writeAllSync,
} from "./tbz2.js";
import { type BinpkgMetadata, type MetadataInput, checkMetadataKey, metadataText, normaliseMetadata } from "./xpak.js";

/*
 * GPKG binary packages (`<PF>.gpkg.tar`, build-and-merge §12.2), upstream Portage's format: an
 * uncompressed tar whose members all sit in one directory `<base>/`, in this order:
 *   gpkg-1 (empty; its name is the format version), metadata.tar<ext>, image.tar<ext>, Manifest.
 * metadata.tar holds `metadata/<KEY>` files (the build-info files), image.tar the image under
 * `image/`. The Manifest lists `DATA <member> <size> BLAKE2B <hex> SHA512 <hex>` for every other
 * member. Signing (.sig members, a clear-signed Manifest) is not written; see readers for checks.
 */

export const GPKG_VERSION_MEMBER = "gpkg-1";

/** The file-name extension of a compressed inner tar (metadata.tar<ext>, image.tar<ext>). */
export const GPKG_EXTENSIONS: Record<BinpkgCompression, string> = {
  gzip: ".gz",
  bzip2: ".bz2",
  lz4: ".lz4",
  lzip: ".lz",
  lzop: ".lzo",
  xz: ".xz",
  zstd: ".zst",
  none: "",
};

/** The hashes of a gpkg Manifest, in the order Portage writes them, with node's names. */
const MANIFEST_HASHES: [string, string][] = [
  ["BLAKE2B", "blake2b512"],
  ["SHA512", "sha512"],
];

export interface WriteGpkgOptions extends CompressOptions {
  imageDir: string;
  /** The build-info files (§4.9): name → exact bytes. */
  metadata: MetadataInput;
  /** The directory inside the container: `${PF}` or, multi-instance, `${PF}-${BUILD_ID}`; default from the metadata's PF (and BUILD_ID). */
  basename?: string;
  /** mtime of the container's members (seconds); default now. */
  mtime?: number;
  owners?: OwnerNames;
}

/** `${PF}` or `${PF}-${BUILD_ID}` from a package's metadata. */
export function gpkgBasename(metadata: BinpkgMetadata): string {
  const pf = metadataText(metadata, "PF");
  if (!pf) throw new OuzoError("BAD_GPKG", "cannot name the gpkg: the metadata has no PF");
  const buildId = metadataText(metadata, "BUILD_ID");
  return buildId ? `${pf}-${buildId}` : pf;
}

async function codeBuffer(data: Buffer, coder: ReturnType<typeof startCompressor>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const collect = (async () => {
    for await (const c of coder.output) chunks.push(c as Buffer);
  })();
  const source = Readable.from([data]);
  await runPipelines([pipeline(source, coder.input), collect, coder.done], () => {
    coder.abort();
    source.destroy();
  });
  return Buffer.concat(chunks);
}

function digests(data: Buffer): string[] {
  return MANIFEST_HASHES.map(([, algo]) => crypto.createHash(algo).update(data).digest("hex"));
}

function manifestLine(member: string, size: number, hexes: string[]): string {
  return `DATA ${member} ${size} ${MANIFEST_HASHES.map(([name], i) => `${name} ${hexes[i]}`).join(" ")}\n`;
}

/**
 * Write a GPKG binary package. Streams the image (the compressed image member's header is written
 * with size 0 and patched once its size is known, as Portage does); temp file, fsync, rename.
 */
export async function writeGpkg(out: string, opts: WriteGpkgOptions): Promise<BinpkgFile> {
  const compression = opts.compression ?? DEFAULT_BINPKG_COMPRESS;
  const ext = GPKG_EXTENSIONS[compression];
  const entries = normaliseMetadata(opts.metadata);
  const base = opts.basename ?? gpkgBasename(new Map(entries));
  if (base === "" || base.includes("/") || base === "." || base === "..") throw new OuzoError("BAD_GPKG", `invalid gpkg base name '${base}'`);
  const mtime = opts.mtime ?? Math.floor(Date.now() / 1000);
  // Portage: ustar, GNU when the base name is too long for ustar's prefix field
  const format: TarFormat = Buffer.byteLength(base) >= 154 ? "gnu" : "ustar";
  const member = (name: string, size: number): TarHeader => ({ name: `${base}/${name}`, mode: 0o644, uid: 0, gid: 0, size, mtime, type: "0" });

  const metadataTar = tarOfFiles(entries.map(([k, v]) => ({ name: `metadata/${k}`, data: v, mtime })), "ustar");
  const metadataData = await codeBuffer(metadataTar, startCompressor(compression, opts.level));

  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = tempNameFor(out);
  const fd = fs.openSync(tmp, "wx", 0o644);
  let open = true;
  let pos = 0;
  const write = (bufs: Buffer[]) => {
    for (const b of bufs) {
      writeAllSync(fd, b);
      pos += b.length;
    }
  };
  try {
    let manifest = "";
    write(tarHeaderBlocks(member(GPKG_VERSION_MEMBER, 0), format));
    manifest += manifestLine(GPKG_VERSION_MEMBER, 0, digests(Buffer.alloc(0)));

    const metadataName = `metadata.tar${ext}`;
    write([...tarHeaderBlocks(member(metadataName, metadataData.length), format), metadataData, padding(metadataData.length)]);
    manifest += manifestLine(metadataName, metadataData.length, digests(metadataData));

    const imageName = `image.tar${ext}`;
    const placeholder = tarHeaderBlocks(member(imageName, 0), format);
    const headerAt = pos + placeholder.slice(0, -1).reduce((n, b) => n + b.length, 0);
    write(placeholder);
    const coder = startCompressor(compression, opts.level);
    const source = Readable.from(imageTarBlocks(opts.imageDir, { prefix: "image/", owners: opts.owners }), { objectMode: false });
    const { tap, hashes, bytes } = hashingTap(MANIFEST_HASHES.map(([, a]) => a));
    const sink = fdSink(fd);
    await runPipelines([pipeline(source, coder.input), pipeline(coder.output, tap, sink), coder.done], () => {
      coder.abort();
      source.destroy();
      sink.destroy();
    });
    const imageSize = bytes();
    pos += imageSize;
    write([padding(imageSize)]);
    const last = tarHeaderBlocks(member(imageName, imageSize), format).at(-1)!;
    writeAllSync(fd, last, headerAt);
    manifest += manifestLine(imageName, imageSize, hashes.map((h) => h.digest("hex")));

    const manifestData = Buffer.from(manifest, "utf8");
    write([...tarHeaderBlocks(member("Manifest", manifestData.length), format), manifestData, padding(manifestData.length)]);
    write([Buffer.alloc(2 * BLOCK)]);
    write([Buffer.alloc((RECORD - (pos % RECORD)) % RECORD)]);
    commitTemp(fd, tmp, out);
    open = false;
  } catch (e) {
    if (open) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (e instanceof OuzoError) throw e;
    throw new OuzoError("BAD_GPKG", `cannot write binary package ${out}: ${(e as Error).message}`);
  }
  const { size, md5, sha1 } = await fileDigests(out);
  return { path: out, size, mtime: Math.floor(fs.statSync(out).mtimeMs / 1000), md5, sha1 };
}

/** Size, MD5 and SHA1 of a file, read once. */
export async function fileDigests(file: string): Promise<{ size: number; md5: string; sha1: string }> {
  const { tap, hashes, bytes } = hashingTap(["md5", "sha1"]);
  tap.resume();
  await pipeline(fs.createReadStream(file), tap);
  return { size: bytes(), md5: hashes[0]!.digest("hex"), sha1: hashes[1]!.digest("hex") };
}

// --- reading ---

/** One member of the container: its name and where its data is. */
export interface GpkgMember {
  name: string;
  offset: number;
  size: number;
}

function parseNumber(field: Buffer): number {
  if (field[0]! & 0x80) {
    let v = 0n;
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i]!);
    return Number(v);
  }
  const s = field.toString("latin1").replace(/\0.*$/s, "").trim();
  return s === "" ? 0 : parseInt(s, 8);
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString("utf8");
}

/**
 * The members of the (uncompressed) container, from its headers alone: nothing of the members
 * is read. Knows ustar prefixes, GNU long names and pax `path`/`size` records.
 */
export function scanContainer(fd: number, file: string): GpkgMember[] {
  const bad = (what: string) => new OuzoError("BAD_GPKG", `${file}: not a valid gpkg container: ${what}`);
  const fileSize = fs.fstatSync(fd).size;
  const members: GpkgMember[] = [];
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  const readData = (at: number, size: number): Buffer => {
    if (size > 1 << 20) throw bad(`extended header of ${size} bytes at offset ${at}`);
    const b = Buffer.alloc(size);
    fs.readSync(fd, b, 0, size, at);
    return b;
  };
  for (;;) {
    if (pos + BLOCK > fileSize) throw bad(`ends at offset ${pos} without the end-of-archive blocks`);
    fs.readSync(fd, header, 0, BLOCK, pos);
    if (header.every((b) => b === 0)) break;
    const stored = parseNumber(header.subarray(148, 156));
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    if (stored !== sum) throw bad(`header checksum mismatch at offset ${pos}`);
    const type = String.fromCharCode(header[156]!);
    let size = parseNumber(header.subarray(124, 136));
    const data = pos + BLOCK;
    const next = data + Math.ceil(size / BLOCK) * BLOCK;
    if (next > fileSize) throw bad(`member at offset ${pos} runs past the end of the file`);
    if (type === "L") {
      longName = cString(readData(data, size));
    } else if (type === "x") {
      pax = parsePax(readData(data, size));
    } else if (type === "g" || type === "K") {
      // global pax records and long link names do not matter for a container of regular files
    } else {
      let name = cString(header.subarray(0, 100));
      const magic = header.subarray(257, 263).toString("latin1");
      if (magic === "ustar\0") {
        const prefix = cString(header.subarray(345, 500));
        if (prefix) name = `${prefix}/${name}`;
      }
      if (longName !== undefined) name = longName;
      if (pax.path !== undefined) name = pax.path;
      if (pax.size !== undefined) size = Number(pax.size);
      if (type !== "0" && type !== "\0") throw bad(`member '${name}' is not a regular file (type '${type}')`);
      members.push({ name, offset: data, size });
      longName = undefined;
      pax = {};
      pos = data + Math.ceil(size / BLOCK) * BLOCK;
      continue;
    }
    pos = next;
  }
  return members;
}

function parsePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(buf.subarray(i, sp).toString("latin1"), 10);
    if (!(len > 0)) break;
    const rec = buf.subarray(sp + 1, i + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

export interface ManifestEntry {
  size: number;
  /** Manifest hash name (BLAKE2B, SHA512, …) → lower-case hex. */
  hashes: Map<string, string>;
}

/** What a container is: its base, members by name, its Manifest, and whether it carries signatures ouzo does not check. */
export interface GpkgLayout {
  file: string;
  base: string;
  members: Map<string, GpkgMember>;
  metadataMember: string;
  imageMember: string;
  manifest: Map<string, ManifestEntry>;
  signed: boolean;
}

const SIGNED_BEGIN = "-----BEGIN PGP SIGNED MESSAGE-----";
const SIGNATURE_BEGIN = "-----BEGIN PGP SIGNATURE-----";

function parseManifest(text: string, file: string): { entries: Map<string, ManifestEntry>; signed: boolean } {
  const bad = (what: string) => new OuzoError("BAD_GPKG", `${file}: bad Manifest: ${what}`);
  let body = text;
  let signed = false;
  if (body.startsWith(SIGNED_BEGIN)) {
    // clear-signed: the signed text starts after the armour headers' blank line (signature not verified here)
    signed = true;
    const start = body.indexOf("\n\n");
    const end = body.indexOf(SIGNATURE_BEGIN);
    if (start === -1 || end === -1) throw bad("a clear-signed Manifest without its signed text or signature");
    body = body.slice(start + 2, end);
  }
  const entries = new Map<string, ManifestEntry>();
  body.split("\n").forEach((line, i) => {
    const f = line.trim().split(/\s+/);
    if (f.length === 1 && f[0] === "") return;
    if (f[0] !== "DATA" || f.length < 3 || (f.length - 3) % 2 !== 0) throw bad(`line ${i + 1} is not 'DATA <file> <size> (<hash> <hex>)…'`);
    if (entries.has(f[1]!)) throw bad(`line ${i + 1}: '${f[1]}' is listed twice`);
    if (!/^\d+$/.test(f[2]!)) throw bad(`line ${i + 1}: size '${f[2]}' is not a number`);
    const hashes = new Map<string, string>();
    for (let j = 3; j < f.length; j += 2) hashes.set(f[j]!, f[j + 1]!.toLowerCase());
    entries.set(f[1]!, { size: Number(f[2]), hashes });
  });
  return { entries, signed };
}

function readRange(fd: number, offset: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = fs.readSync(fd, b, got, size - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return b;
}

/**
 * Open a container and check its structure (§12.2): every member `<base>/<name>` with one '/',
 * one base, no duplicates, `gpkg-1`, one metadata and one image tar, a Manifest that lists every
 * other member with its size.
 */
export function gpkgLayout(file: string): GpkgLayout {
  const bad = (what: string) => new OuzoError("BAD_GPKG", `${file}: ${what}`);
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw new OuzoError("BAD_GPKG", `cannot open binary package ${file}: ${(e as Error).message}`);
  }
  try {
    const list = scanContainer(fd, file);
    const members = new Map<string, GpkgMember>();
    let base: string | undefined;
    for (const m of list) {
      const parts = m.name.split("/");
      if (m.name.startsWith("/") || parts.length !== 2 || parts[0] === "" || parts[1] === "" || parts[0] === ".." || parts[1] === "..") {
        throw bad(`member '${m.name}' is not of the form <base>/<file>`);
      }
      if (base === undefined) base = parts[0];
      else if (parts[0] !== base) throw bad(`members in two directories ('${base}/' and '${parts[0]}/')`);
      if (members.has(parts[1]!)) throw bad(`member '${m.name}' appears twice`);
      members.set(parts[1]!, m);
    }
    if (base === undefined) throw bad("the container is empty");
    if (!members.has(GPKG_VERSION_MEMBER)) throw bad(`no '${GPKG_VERSION_MEMBER}' member: not a gpkg (or an unsupported version)`);
    const pick = (prefix: string): string => {
      const found = [...members.keys()].filter((n) => n === prefix || (n.startsWith(`${prefix}.`) && !n.endsWith(".sig")));
      if (found.length !== 1) throw bad(found.length === 0 ? `no '${prefix}' member` : `more than one '${prefix}' member (${found.join(", ")})`);
      return found[0]!;
    };
    const metadataMember = pick("metadata.tar");
    const imageMember = pick("image.tar");
    const manifestMember = members.get("Manifest");
    if (!manifestMember) throw bad("no Manifest member");
    if (manifestMember.size > 1 << 20) throw bad(`the Manifest is ${manifestMember.size} bytes`);
    const { entries, signed } = parseManifest(readRange(fd, manifestMember.offset, manifestMember.size).toString("utf8"), file);
    for (const [name, m] of members) {
      if (name === "Manifest") continue;
      const e = entries.get(name);
      if (!e) throw bad(`member '${name}' is not in the Manifest`);
      if (e.size !== m.size) throw bad(`member '${name}' is ${m.size} bytes, the Manifest says ${e.size}`);
    }
    for (const name of entries.keys()) if (!members.has(name)) throw bad(`the Manifest lists '${name}', which is not in the package`);
    return { file, base, members, metadataMember, imageMember, manifest: entries, signed: signed || [...members.keys()].some((n) => n.endsWith(".sig")) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Check computed digests against a Manifest entry: at least one known hash, all known ones equal. */
function checkDigests(layout: GpkgLayout, member: string, computed: Map<string, string>): void {
  const entry = layout.manifest.get(member)!;
  let checked = 0;
  for (const [name, hex] of entry.hashes) {
    const mine = computed.get(name);
    if (mine === undefined) continue;
    if (mine !== hex) throw new OuzoError("BAD_GPKG", `${layout.file}: ${name} digest of '${member}' does not match its Manifest entry`);
    checked++;
  }
  if (checked === 0) throw new OuzoError("BAD_GPKG", `${layout.file}: the Manifest entry of '${member}' has no hash ouzo knows (${[...entry.hashes.keys()].join(", ")})`);
}

function digestMap(hexes: string[]): Map<string, string> {
  return new Map(MANIFEST_HASHES.map(([name], i) => [name, hexes[i]!]));
}

/** Hash a member's bytes and check them against the Manifest. */
async function verifyMember(layout: GpkgLayout, name: string): Promise<void> {
  const m = layout.members.get(name)!;
  if (m.size === 0) return checkDigests(layout, name, digestMap(digests(Buffer.alloc(0))));
  const { tap, hashes } = hashingTap(MANIFEST_HASHES.map(([, a]) => a));
  tap.resume();
  await pipeline(fs.createReadStream(layout.file, { start: m.offset, end: m.offset + m.size - 1 }), tap);
  checkDigests(layout, name, digestMap(hashes.map((h) => h.digest("hex"))));
}

/** Verify every member of a gpkg against its Manifest (structure, sizes, digests). Signatures are not checked. */
export async function verifyGpkg(file: string): Promise<GpkgLayout> {
  const layout = gpkgLayout(file);
  for (const name of layout.members.keys()) if (name !== "Manifest") await verifyMember(layout, name);
  return layout;
}

/** The compression of a member: its magic bytes; a plain tar needs no decompressor. */
function memberCompression(fd: number, m: GpkgMember): BinpkgCompression {
  return detectCompression(readRange(fd, m.offset, Math.min(8, m.size)));
}

/** The metadata of a gpkg (the `metadata/<KEY>` files of metadata.tar), after checking structure and the metadata's digests. */
export async function readGpkg(file: string): Promise<BinpkgMetadata> {
  const layout = gpkgLayout(file);
  const m = layout.members.get(layout.metadataMember)!;
  if (m.size > 256 << 20) throw new OuzoError("BAD_GPKG", `${file}: metadata member of ${m.size} bytes`);
  const fd = fs.openSync(file, "r");
  let raw: Buffer;
  let compression: BinpkgCompression;
  try {
    raw = readRange(fd, m.offset, m.size);
    compression = memberCompression(fd, m);
  } finally {
    fs.closeSync(fd);
  }
  checkDigests(layout, layout.metadataMember, digestMap(digests(raw)));
  await verifyMember(layout, GPKG_VERSION_MEMBER);
  const tarData = await codeBuffer(raw, startDecompressor(compression));
  const out: BinpkgMetadata = new Map();
  const extract = tar.extract();
  const consume = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (h.type === "directory" && h.name.replace(/\/+$/, "") === "metadata") continue;
      if (!h.name.startsWith("metadata/")) throw new OuzoError("BAD_GPKG", `${file}: metadata entry '${h.name}' is outside 'metadata/'`);
      const key = h.name.slice("metadata/".length);
      const problem = checkMetadataKey(key);
      if (problem) throw new OuzoError("BAD_GPKG", `${file}: metadata entry '${h.name}' has an unusable ${problem}`);
      if (h.type !== "file" && h.type !== "contiguous-file") throw new OuzoError("BAD_GPKG", `${file}: metadata entry '${h.name}' is not a regular file`);
      if (out.has(key)) throw new OuzoError("BAD_GPKG", `${file}: metadata entry '${h.name}' appears twice`);
      out.set(key, Buffer.concat(chunks));
    }
  })();
  const source = Readable.from([tarData]);
  await runPipelines([pipeline(source, extract), consume], () => {
    source.destroy();
    extract.destroy();
  }).catch((e) => {
    if (e instanceof OuzoError) throw e;
    throw new OuzoError("BAD_GPKG", `${file}: cannot read ${layout.metadataMember}: ${(e as Error).message}`);
  });
  return out;
}

export interface ExtractGpkgOptions extends ExtractOptions {
  /** Check the image's digests before extracting (default true; one extra read of the compressed image). */
  verify?: boolean;
}

/** Extract the image of a gpkg into `dest` (names under `image/`, path-safety checks as for xpak). */
export async function extractGpkg(file: string, dest: string, opts: ExtractGpkgOptions = {}): Promise<ExtractStats> {
  const layout = gpkgLayout(file);
  if (opts.verify !== false) await verifyMember(layout, layout.imageMember);
  const m = layout.members.get(layout.imageMember)!;
  if (m.size === 0) throw new OuzoError("BAD_GPKG", `${file}: the image member is empty`);
  const fd = fs.openSync(file, "r");
  let compression: BinpkgCompression;
  try {
    compression = memberCompression(fd, m);
  } finally {
    fs.closeSync(fd);
  }
  const coder = startDecompressor(compression);
  const raw = fs.createReadStream(file, { start: m.offset, end: m.offset + m.size - 1 });
  let stats: ExtractStats | undefined;
  await runPipelines(
    [
      pipeline(raw, coder.input),
      coder.done,
      extractImageTar(coder.output, dest, "image/", file, opts).then((s) => {
        stats = s;
      }),
    ],
    () => {
      coder.abort();
      raw.destroy();
    },
  ).catch((e) => {
    if (e instanceof OuzoError) throw e;
    throw new OuzoError("BAD_GPKG", `${file}: cannot extract: ${(e as Error).message}`);
  });
  return stats!;
}

