// Unpacking a package tarball with the TypeScript reader (tarReader.ts): decompressed here,
// every entry handed to ImageBuilder, which writes the image and keeps the books. native/
// ouzo-unpack does the same in C when it is built (nativeUnpack.ts).
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { DecompressStream } from "zstd-napi";
import type { DCtx } from "zstd-napi/binding.js";
import { ImageBuilder, type UnpackOptions, type UnpackResult } from "./ImageBuilder.js";
import { TarReader } from "./tarReader.js";

const CHUNK = 1 << 20;

/**
 * A zstd decompression context, driven synchronously (no stream machinery per chunk). zstd-napi's
 * binding module has no ES entry point and the CLI's core is CommonJS, so the class is taken from
 * the one DecompressStream made, which both module systems can import.
 */
let DctxClass: (new () => DCtx) | undefined;
function newDctx(): DCtx {
  DctxClass ??= (new DecompressStream() as unknown as { dctx: DCtx }).dctx.constructor as new () => DCtx;
  return new DctxClass();
}

/**
 * The read and decompression buffers, made once per thread: a megabyte or two of fresh memory
 * per package makes the garbage collector run for nothing. Safe because the sink consumes each
 * chunk before the next is read (TarReader copies what it keeps).
 */
let buffers: { input: Buffer; out: Buffer } | undefined;

/** Feed the decompressed bytes of `file` to `sink`, synchronously; a chunk is valid only until `sink` returns. */
export function readDecompressed(file: string, declared: string | undefined, sink: (b: Buffer) => void): void {
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(4);
    const n = fs.readSync(fd, head, 0, 4, 0);
    const kind = n >= 4 && head.readUInt32LE(0) === 0xfd2fb528 ? "zstd" : n >= 2 && head[0] === 0x1f && head[1] === 0x8b ? "gzip" : /^(zstd|zst)$/.test(declared ?? "") ? "zstd" : /^(gzip|gz)$/.test(declared ?? "") ? "gzip" : "none";
    buffers ??= { input: Buffer.allocUnsafe(CHUNK), out: Buffer.allocUnsafe(CHUNK) };
    const { input, out } = buffers;
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

/**
 * Unpack `file` into `work/image` (flat, see ImageBuilder.ts) and a carried VDB entry into
 * `work/vdb/<cat>/<pf>/`. `work` is emptied first. Throws an OuzoError naming the artifact for
 * anything wrong with it.
 */
export function unpackPackage(file: string, work: string, o: UnpackOptions = {}): UnpackResult {
  const image = new ImageBuilder(file, work, o);
  const reader = new TarReader((e) => image.entry(e, reader.entries), image.source);
  try {
    readDecompressed(file, o.compression, (b) => reader.push(b));
    reader.end();
  } catch (e) {
    throw image.failure(e);
  }
  return image.finish();
}

