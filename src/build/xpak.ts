import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";

/**
 * The xpak segment of a binary package (build-and-merge §12.1): a key → bytes map, the build-info
 * files of the package. Layout, all integers u32 big-endian:
 *
 *   "XPAKPACK" index_len data_len index data "XPAKSTOP"
 *   index entry: name_len name data_offset data_len   (offset relative to the start of data)
 *
 * A `.tbz2` ends with the segment, then its length (u32 BE), then "STOP".
 */

/** Metadata of a binary package: build-info file name → its exact bytes (`CATEGORY` → "sys-apps\n"). */
export type BinpkgMetadata = Map<string, Buffer>;

/** What writers accept: values as raw bytes, or text written as UTF-8 exactly as given (no newline added). */
export type MetadataInput = Record<string, string | Buffer> | Map<string, string | Buffer>;

const XPAKPACK = Buffer.from("XPAKPACK", "latin1");
const XPAKSTOP = Buffer.from("XPAKSTOP", "latin1");
const STOP = Buffer.from("STOP", "latin1");
const U32_MAX = 0xffffffff;
/** "XPAKPACK" + index_len + data_len + "XPAKSTOP": the segment of an empty map. */
export const XPAK_MIN_LENGTH = 24;

/** A metadata key is a file name of build-info/: it will be written as one, so nothing that leaves the directory. */
export function checkMetadataKey(key: string): string | undefined {
  if (key === "") return "empty name";
  if (key === "." || key === "..") return `name '${key}'`;
  if (key.includes("/")) return `name '${key}' contains '/'`;
  if (key.includes("\0")) return `name ${JSON.stringify(key)} contains a NUL byte`;
  return undefined;
}

/** The entries of a metadata input as bytes, sorted by name (byte order of the UTF-8 names, as Portage lists build-info/). */
export function normaliseMetadata(metadata: MetadataInput): [string, Buffer][] {
  const entries = metadata instanceof Map ? [...metadata.entries()] : Object.entries(metadata);
  const out: [string, Buffer, Buffer][] = [];
  for (const [key, value] of entries) {
    const problem = checkMetadataKey(key);
    if (problem) throw new OuzoError("BAD_XPAK", `cannot store metadata key: ${problem}`);
    out.push([key, Buffer.from(key, "utf8"), typeof value === "string" ? Buffer.from(value, "utf8") : value]);
  }
  out.sort((a, b) => Buffer.compare(a[1], b[1]));
  return out.map(([k, , v]) => [k, v]);
}

/** Encode the xpak segment ("XPAKPACK" … "XPAKSTOP") of a metadata map; entries sorted by name. */
export function encodeXpak(metadata: MetadataInput): Buffer {
  const entries = normaliseMetadata(metadata);
  const indexParts: Buffer[] = [];
  let dataLength = 0;
  for (const [key, value] of entries) {
    const name = Buffer.from(key, "utf8");
    const entry = Buffer.alloc(12 + name.length);
    entry.writeUInt32BE(name.length, 0);
    name.copy(entry, 4);
    entry.writeUInt32BE(dataLength, 4 + name.length);
    entry.writeUInt32BE(value.length, 8 + name.length);
    indexParts.push(entry);
    dataLength += value.length;
    if (dataLength > U32_MAX) throw new OuzoError("BAD_XPAK", "metadata too large for an xpak segment (over 4 GiB)");
  }
  const index = Buffer.concat(indexParts);
  const head = Buffer.alloc(16);
  XPAKPACK.copy(head, 0);
  head.writeUInt32BE(index.length, 8);
  head.writeUInt32BE(dataLength, 12);
  return Buffer.concat([head, index, ...entries.map(([, v]) => v), XPAKSTOP]);
}

/** The tail appended to the compressed tarball of a `.tbz2`: the xpak segment, its length, "STOP". */
export function encodeTbz2Trailer(metadata: MetadataInput): Buffer {
  const xpak = encodeXpak(metadata);
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(xpak.length, 0);
  STOP.copy(tail, 4);
  return Buffer.concat([xpak, tail]);
}

function malformed(source: string, what: string): OuzoError {
  return new OuzoError("BAD_XPAK", `${source}: malformed xpak: ${what}`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decode an xpak segment. `source` names the file in error messages. Everything is checked: the
 * magic words, that the lengths add up to the segment's size exactly, that every index entry lies
 * inside the index and points inside the data, and that names are unique, UTF-8 and file names.
 */
export function decodeXpak(segment: Buffer, source = "xpak segment"): BinpkgMetadata {
  if (segment.length < XPAK_MIN_LENGTH) throw malformed(source, `segment is ${segment.length} bytes, shorter than the ${XPAK_MIN_LENGTH} of an empty one`);
  if (!segment.subarray(0, 8).equals(XPAKPACK)) throw malformed(source, `does not start with "XPAKPACK" (found ${JSON.stringify(segment.subarray(0, 8).toString("latin1"))})`);
  if (!segment.subarray(segment.length - 8).equals(XPAKSTOP)) throw malformed(source, `does not end with "XPAKSTOP" (found ${JSON.stringify(segment.subarray(segment.length - 8).toString("latin1"))})`);
  const indexLength = segment.readUInt32BE(8);
  const dataLength = segment.readUInt32BE(12);
  if (16 + indexLength + dataLength + 8 !== segment.length) {
    throw malformed(source, `index length ${indexLength} + data length ${dataLength} do not match the segment size ${segment.length} (expected ${segment.length - XPAK_MIN_LENGTH} in all)`);
  }
  const index = segment.subarray(16, 16 + indexLength);
  const data = segment.subarray(16 + indexLength, 16 + indexLength + dataLength);
  const out: BinpkgMetadata = new Map();
  let pos = 0;
  let n = 0;
  while (pos < index.length) {
    n++;
    if (pos + 4 > index.length) throw malformed(source, `index entry ${n} is cut short (name length at byte ${pos} of a ${index.length}-byte index)`);
    const nameLength = index.readUInt32BE(pos);
    if (nameLength === 0) throw malformed(source, `index entry ${n} has an empty name`);
    if (pos + 4 + nameLength + 8 > index.length) throw malformed(source, `index entry ${n} (name length ${nameLength}) runs past the end of the ${index.length}-byte index`);
    let name: string;
    try {
      name = utf8.decode(index.subarray(pos + 4, pos + 4 + nameLength));
    } catch {
      throw malformed(source, `index entry ${n} has a name that is not UTF-8`);
    }
    const problem = checkMetadataKey(name);
    if (problem) throw malformed(source, `index entry ${n} has an unusable ${problem}`);
    const offset = index.readUInt32BE(pos + 4 + nameLength);
    const length = index.readUInt32BE(pos + 8 + nameLength);
    if (offset + length > dataLength) throw malformed(source, `entry '${name}' points past the end of the data (offset ${offset} + length ${length} > ${dataLength})`);
    if (out.has(name)) throw malformed(source, `entry '${name}' appears twice in the index`);
    out.set(name, Buffer.from(data.subarray(offset, offset + length)));
    pos += 12 + nameLength;
  }
  return out;
}

/** Where the parts of a `.tbz2` are: the compressed tarball is bytes [0, tarballSize). */
export interface Tbz2Layout {
  tarballSize: number;
  xpakOffset: number;
  xpakLength: number;
  fileSize: number;
}

/** Locate the xpak trailer of a `.tbz2` from its last 8 bytes (§12.1 reading rule). */
export function tbz2Layout(fd: number, file: string): Tbz2Layout {
  const fileSize = fs.fstatSync(fd).size;
  if (fileSize < XPAK_MIN_LENGTH + 8) throw malformed(file, `file is ${fileSize} bytes, too short to hold an xpak trailer`);
  const tail = Buffer.alloc(8);
  fs.readSync(fd, tail, 0, 8, fileSize - 8);
  if (!tail.subarray(4).equals(STOP)) throw malformed(file, `last 4 bytes are not "STOP" (found ${JSON.stringify(tail.subarray(4).toString("latin1"))}): not a binary package with an xpak trailer`);
  const xpakLength = tail.readUInt32BE(0);
  if (xpakLength < XPAK_MIN_LENGTH || xpakLength + 8 > fileSize) throw malformed(file, `trailer says the xpak is ${xpakLength} bytes, which does not fit in a ${fileSize}-byte file`);
  const xpakOffset = fileSize - 8 - xpakLength;
  return { tarballSize: xpakOffset, xpakOffset, xpakLength, fileSize };
}

/** Read and decode the xpak trailer of a `.tbz2` without touching its tarball. */
export function readXpakTrailer(file: string): { metadata: BinpkgMetadata; layout: Tbz2Layout } {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw new OuzoError("BAD_BINPKG", `cannot open binary package ${file}: ${(e as Error).message}`);
  }
  try {
    const layout = tbz2Layout(fd, file);
    const segment = Buffer.alloc(layout.xpakLength);
    let got = 0;
    while (got < segment.length) {
      const n = fs.readSync(fd, segment, got, segment.length - got, layout.xpakOffset + got);
      if (n === 0) throw malformed(file, "file ended while reading the xpak segment");
      got += n;
    }
    return { metadata: decodeXpak(segment, file), layout };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The metadata of a binary package from a build dir's `build-info/`: every file but `CONTENTS`
 * (and `COUNTER`, which is only assigned at merge), raw bytes (§12.1).
 */
export function readBuildInfo(dir: string): BinpkgMetadata {
  const out: BinpkgMetadata = new Map();
  for (const name of fs.readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    if (name === "CONTENTS" || name === "COUNTER") continue;
    const p = path.join(dir, name);
    if (!fs.lstatSync(p).isFile()) continue;
    out.set(name, fs.readFileSync(p));
  }
  return out;
}

/** A metadata value as one line of text (whitespace runs collapsed, trimmed), as VDB readers take it (§9.1); undefined when absent. */
export function metadataText(metadata: BinpkgMetadata, key: string): string | undefined {
  const v = metadata.get(key);
  return v === undefined ? undefined : v.toString("utf8").trim().replace(/\s+/g, " ");
}
