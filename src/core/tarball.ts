import * as fs from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Transform } from "node:stream";
import * as zlib from "node:zlib";
import tar from "tar-stream";
import { DecompressStream } from "zstd-napi";
import { OuzoError } from "./errors.js";

export type Compression = "zstd" | "gzip" | "none";

/** Compression of a file: from its magic bytes first (anise readers must sniff), else the declared type. */
export function detectCompression(head: Buffer, declared?: string): Compression {
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  switch ((declared ?? "").toLowerCase()) {
    case "zstd":
    case "zst":
      return "zstd";
    case "gzip":
    case "gz":
      return "gzip";
    default:
      return "none";
  }
}

function decompressor(c: Compression): Transform | undefined {
  if (c === "zstd") return new DecompressStream();
  if (c === "gzip") return zlib.createGunzip();
  return undefined;
}

/** A safe relative path inside the destination, or undefined for the root entry (`.` or `./`). */
function safeRelative(name: string): string | undefined {
  const n = name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  if (n === "" || n === ".") return undefined;
  const norm = path.posix.normalize(n);
  if (norm.startsWith("../") || norm === ".." || path.posix.isAbsolute(norm)) throw new OuzoError("BAD_TARBALL", `entry '${name}' escapes the destination`);
  return norm;
}

/**
 * Unpack a (compressed) tarball into `dest`: directories, regular files and symlinks; entries that
 * would land outside `dest` are refused. Any error is reported naming the tarball.
 */
export async function unpackTarball(file: string, dest: string, declared?: string): Promise<string[]> {
  const fd = fs.openSync(file, "r");
  const head = Buffer.alloc(4);
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  const compression = detectCompression(head, declared);
  const extract = tar.extract();
  const files: string[] = [];
  fs.mkdirSync(dest, { recursive: true });
  extract.on("entry", (header, stream, next) => {
    let rel: string | undefined;
    try {
      rel = safeRelative(header.name);
    } catch (e) {
      stream.resume();
      next(e as Error);
      return;
    }
    const target = rel ? path.join(dest, rel) : dest;
    const done = (err?: Error | null) => next(err ?? undefined);
    if (header.type === "directory") {
      fs.mkdirSync(target, { recursive: true });
      stream.resume();
      stream.on("end", () => done());
    } else if (header.type === "file" && rel) {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const out = fs.createWriteStream(target, { mode: header.mode ?? 0o644 });
      stream.pipe(out);
      out.on("finish", () => {
        files.push(rel!);
        done();
      });
      out.on("error", done);
    } else if (header.type === "symlink" && rel) {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.rmSync(target, { force: true });
      fs.symlinkSync(header.linkname ?? "", target);
      files.push(rel);
      stream.resume();
      stream.on("end", () => done());
    } else {
      stream.resume();
      stream.on("end", () => done());
    }
  });
  const d = decompressor(compression);
  try {
    if (d) await pipeline(fs.createReadStream(file), d, extract);
    else await pipeline(fs.createReadStream(file), extract);
  } catch (e) {
    throw new OuzoError("BAD_TARBALL", `cannot unpack ${path.basename(file)}: ${(e as Error).message}`);
  }
  return files;
}

/** Pack files into a tar (zstd-compressed when asked): used by tests and the demo to build anise repositories. */
export async function packTarball(out: string, entries: { name: string; content: string | Buffer }[], compression: Compression): Promise<void> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, mode: 0o644, uid: 0, gid: 0 }, e.content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  let data: Buffer = Buffer.concat(chunks);
  if (compression === "zstd") {
    const { compress } = await import("zstd-napi");
    data = compress(data);
  } else if (compression === "gzip") data = zlib.gzipSync(data);
  fs.writeFileSync(out, data);

}
