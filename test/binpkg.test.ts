import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { OuzoError } from "../src/core/errors.js";
import { extractGpkg, gpkgLayout, readGpkg, verifyGpkg, writeGpkg } from "../src/build/gpkg.js";
import {
  binpkgRelativePath,
  claimMultiInstancePath,
  effectiveStanza,
  formatPackagesIndex,
  packageStanza,
  packagesHeader,
  parseBinpkgPath,
  parsePackagesIndex,
  readPackagesIndex,
  recordBinpkg,
  removePackage,
  upsertPackage,
  writePackagesIndex,
} from "../src/build/packagesIndex.js";
import { type BinpkgCompression, detectCompression, extractTbz2, parseBinpkgCompress, readTbz2, writeTbz2 } from "../src/build/tbz2.js";
import { type BinpkgMetadata, decodeXpak, encodeTbz2Trailer, encodeXpak, readBuildInfo, readXpakTrailer } from "../src/build/xpak.js";
import { tmpdir } from "./helpers.js";

const isRoot = process.getuid?.() === 0;
const LONG_DIR = "a-directory-name-long-enough-to-push-the-path-past-one-hundred-bytes";
const LONG_FILE = "and-a-file-name-that-is-long-as-well.txt";
const T_FILE = new Date("2023-04-05T06:07:08Z");
const T_DIR = new Date("2022-01-02T03:04:05Z");

/** An image with a regular file, an executable, a set-uid file, a symlink, a hard link, an empty directory and a long name. */
function makeImage(): string {
  const d = path.join(tmpdir("ouzo-binpkg-"), "image");
  const w = (rel: string, content: string | Buffer, mode: number) => {
    fs.mkdirSync(path.dirname(path.join(d, rel)), { recursive: true });
    fs.writeFileSync(path.join(d, rel), content);
    fs.chmodSync(path.join(d, rel), mode);
  };
  w("etc/foo.conf", "# config\nkey = value\n", 0o644);
  w("usr/bin/foo", "#!/bin/sh\necho foo\n", 0o755);
  w("usr/bin/foo-helper", "setuid helper\n", 0o4711);
  w("usr/lib64/libfoo.so.1.2.3", crypto.randomBytes(200_000), 0o755);
  fs.linkSync(path.join(d, "usr/lib64/libfoo.so.1.2.3"), path.join(d, "usr/lib64/libfoo-hardlink.so"));
  fs.symlinkSync("libfoo.so.1.2.3", path.join(d, "usr/lib64/libfoo.so.1"));
  w(`usr/share/doc/foo-1.2-r1/${LONG_DIR}/${LONG_FILE}`, "long\n", 0o644);
  fs.mkdirSync(path.join(d, "var/lib/foo/empty"), { recursive: true, mode: 0o750 });
  fs.chmodSync(path.join(d, "var/lib/foo/empty"), 0o750);
  if (isRoot) fs.chownSync(path.join(d, "etc/foo.conf"), 0, 0);
  // mtimes last: files, then directories deepest first
  const all: string[] = [];
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(path.join(d, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      all.push(r);
      if (fs.lstatSync(path.join(d, r)).isDirectory()) walk(r);
    }
  };
  walk("");
  for (const r of all) if (!fs.lstatSync(path.join(d, r)).isDirectory()) fs.lutimesSync(path.join(d, r), T_FILE, T_FILE);
  for (const r of all.reverse()) if (fs.lstatSync(path.join(d, r)).isDirectory()) fs.utimesSync(path.join(d, r), T_DIR, T_DIR);
  fs.utimesSync(d, T_DIR, T_DIR);
  return d;
}

/** Names in the image tar, in the order the writer emits them (depth first, byte order). */
const IMAGE_NAMES = [
  "etc/",
  "etc/foo.conf",
  "usr/",
  "usr/bin/",
  "usr/bin/foo",
  "usr/bin/foo-helper",
  "usr/lib64/",
  "usr/lib64/libfoo-hardlink.so",
  "usr/lib64/libfoo.so.1",
  "usr/lib64/libfoo.so.1.2.3",
  "usr/share/",
  "usr/share/doc/",
  "usr/share/doc/foo-1.2-r1/",
  `usr/share/doc/foo-1.2-r1/${LONG_DIR}/`,
  `usr/share/doc/foo-1.2-r1/${LONG_DIR}/${LONG_FILE}`,
  "var/",
  "var/lib/",
  "var/lib/foo/",
  "var/lib/foo/empty/",
];

function metadata(): Record<string, string | Buffer> {
  return {
    CATEGORY: "app-misc\n",
    PF: "foo-1.2-r1\n",
    SLOT: "0/1.2\n",
    EAPI: "8\n",
    USE: "amd64 elibc_glibc kernel_linux ssl\n",
    IUSE: "+ssl test\n",
    IUSE_EFFECTIVE: "alpha amd64 elibc_glibc kernel_linux ssl test\n",
    DEPEND: "dev-libs/openssl:0/3=\n",
    RDEPEND: "dev-libs/openssl:0/3= || ( app-misc/a app-misc/b )\n",
    BDEPEND: "virtual/pkgconfig\n",
    LICENSE: "GPL-2+\n",
    KEYWORDS: "amd64 ~arm64\n",
    DESCRIPTION: "A test package\n",
    HOMEPAGE: "https://example.org/foo\n",
    DEFINED_PHASES: "compile configure install\n",
    INHERITED: "toolchain-funcs multilib\n",
    CHOST: "x86_64-pc-linux-gnu\n",
    CFLAGS: "-O2 -pipe\n",
    CXXFLAGS: "-O2 -pipe\n",
    LDFLAGS: "-Wl,-O1 -Wl,--as-needed\n",
    FEATURES: "sandbox sfperms\n",
    BUILD_TIME: "1700000000\n",
    SIZE: "200123\n",
    repository: "core-kit\n",
    "foo-1.2-r1.ebuild": "EAPI=8\nDESCRIPTION=\"A test package\"\nSLOT=\"0/1.2\"\n",
    "environment.bz2": spawnSync("bzip2", ["-c"], { input: "declare -x FOO=\"bar\"\n" }).stdout,
    "NEEDED.ELF.2": "X86_64;/usr/bin/foo;;;libc.so.6\n",
  };
}

function asMap(md: Record<string, string | Buffer>): BinpkgMetadata {
  return new Map(Object.entries(md).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
}

function sh(cmd: string, args: string[], input?: Buffer) {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout?.toString("utf8") ?? "", stderr: r.stderr?.toString("utf8") ?? "", raw: r.stdout };
}

function expectError(fn: () => unknown, ...parts: (string | RegExp)[]): OuzoError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(OuzoError);
  for (const p of parts) expect((caught as Error).message).toMatch(p);
  return caught as OuzoError;
}

async function expectRejects(p: Promise<unknown>, ...parts: (string | RegExp)[]): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(OuzoError);
  for (const part of parts) expect((caught as Error).message).toMatch(part);
}

/** What an extracted image must look like: contents, modes, symlink, hard link, empty dir, mtimes. */
function expectSameImage(src: string, dest: string): void {
  for (const name of IMAGE_NAMES) {
    const rel = name.replace(/\/$/, "");
    const a = fs.lstatSync(path.join(src, rel));
    const b = fs.lstatSync(path.join(dest, rel));
    expect({ rel, mode: b.mode.toString(8) }).toEqual({ rel, mode: a.mode.toString(8) });
    expect({ rel, mtime: Math.floor(b.mtimeMs / 1000) }).toEqual({ rel, mtime: Math.floor(a.mtimeMs / 1000) });
    if (a.isFile()) expect(fs.readFileSync(path.join(dest, rel)).equals(fs.readFileSync(path.join(src, rel)))).toBe(true);
    if (isRoot) expect({ rel, uid: b.uid, gid: b.gid }).toEqual({ rel, uid: a.uid, gid: a.gid });
  }
  expect(fs.readlinkSync(path.join(dest, "usr/lib64/libfoo.so.1"))).toBe("libfoo.so.1.2.3");
  expect(fs.statSync(path.join(dest, "usr/lib64/libfoo-hardlink.so")).ino).toBe(fs.statSync(path.join(dest, "usr/lib64/libfoo.so.1.2.3")).ino);
  expect(fs.readdirSync(path.join(dest, "var/lib/foo/empty"))).toEqual([]);
  expect(fs.statSync(path.join(dest, "usr/bin/foo-helper")).mode & 0o7777).toBe(0o4711);
}

describe("xpak", () => {
  it("encodes the exact bytes of the spec: XPAKPACK, BE lengths, sorted index of name/offset/length, data, XPAKSTOP", () => {
    const got = encodeXpak({ PF: "b-1\n", CATEGORY: "a\n" });
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const index = Buffer.concat([u32(8), Buffer.from("CATEGORY"), u32(0), u32(2), u32(2), Buffer.from("PF"), u32(2), u32(4)]);
    const want = Buffer.concat([Buffer.from("XPAKPACK"), u32(index.length), u32(6), index, Buffer.from("a\nb-1\n"), Buffer.from("XPAKSTOP")]);
    expect(got.toString("hex")).toBe(want.toString("hex"));
    const trailer = encodeTbz2Trailer({ PF: "b-1\n", CATEGORY: "a\n" });
    expect(trailer.subarray(0, got.length).equals(got)).toBe(true);
    expect(trailer.readUInt32BE(got.length)).toBe(got.length);
    expect(trailer.subarray(-4).toString()).toBe("STOP");
  });

  it("round-trips every value byte for byte, binary ones included, and an empty map", () => {
    const md = metadata();
    const decoded = decodeXpak(encodeXpak(md));
    expect([...decoded.keys()]).toEqual(Object.keys(md).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(decoded).toEqual(asMap(md));
    expect(decodeXpak(encodeXpak({})).size).toBe(0);
  });

  it("rejects malformed segments with a message naming the file and the fault", () => {
    const good = encodeXpak({ CATEGORY: "a\n", PF: "b-1\n" });
    const f = "/pkgdir/a/b-1.tbz2";
    expectError(() => decodeXpak(good.subarray(0, 20), f), f, /shorter than/);
    const badMagic = Buffer.from(good);
    badMagic.write("XPAKPACX", 0);
    expectError(() => decodeXpak(badMagic, f), f, /does not start with "XPAKPACK"/);
    expectError(() => decodeXpak(Buffer.concat([good.subarray(0, -8), Buffer.from("XPAKSTOQ")]), f), /does not end with "XPAKSTOP"/);
    const badLen = Buffer.from(good);
    badLen.writeUInt32BE(good.readUInt32BE(12) + 1, 12);
    expectError(() => decodeXpak(badLen, f), f, /do not match the segment size/);
    const pastData = Buffer.from(good);
    // the second entry's length field: after "XPAKPACK", two lengths, entry 1 (4+8+8), entry 2's name length and name
    pastData.writeUInt32BE(99, 16 + 20 + 4 + 2 + 4);
    expectError(() => decodeXpak(pastData, f), f, /entry 'PF' points past the end of the data/);
    expectError(() => decodeXpak(encodeXpakRaw([["PF", "x"], ["PF", "y"]]), f), /'PF' appears twice/);
    expectError(() => decodeXpak(encodeXpakRaw([["../etc/passwd", "x"]]), f), /contains '\/'/);
    expectError(() => decodeXpak(encodeXpakRaw([["", "x"]]), f), /empty name/);
    expectError(() => encodeXpak({ "a/b": "x" }), /contains '\/'/);
  });

  it("refuses a file without the tbz2 trailer, naming it", () => {
    const dir = tmpdir();
    const f = path.join(dir, "plain.tbz2");
    fs.writeFileSync(f, zlib.gzipSync(Buffer.alloc(10240)));
    expectError(() => readTbz2(f), f, /last 4 bytes are not "STOP"/);
    const g = path.join(dir, "short.tbz2");
    const t = encodeTbz2Trailer({ A: "1" });
    t.writeUInt32BE(1 << 30, t.length - 8);
    fs.writeFileSync(g, t);
    expectError(() => readTbz2(g), g, /does not fit/);
  });

  it("reads build-info/ as the metadata: every file but CONTENTS and COUNTER, raw bytes", () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, "CATEGORY"), "app-misc\n");
    fs.writeFileSync(path.join(dir, "CONTENTS"), "obj /x 0 0\n");
    fs.writeFileSync(path.join(dir, "COUNTER"), "12");
    fs.writeFileSync(path.join(dir, "USE"), "\n");
    expect([...readBuildInfo(dir).entries()].map(([k, v]) => [k, v.toString()])).toEqual([
      ["CATEGORY", "app-misc\n"],
      ["USE", "\n"],
    ]);
  });
});

/** An xpak segment built by hand, for inputs the encoder refuses to produce. */
function encodeXpakRaw(entries: [string, string][]): Buffer {
  const idx: Buffer[] = [];
  const data: Buffer[] = [];
  let off = 0;
  for (const [k, v] of entries) {
    const name = Buffer.from(k);
    const e = Buffer.alloc(12 + name.length);
    e.writeUInt32BE(name.length, 0);
    name.copy(e, 4);
    e.writeUInt32BE(off, 4 + name.length);
    e.writeUInt32BE(v.length, 8 + name.length);
    idx.push(e);
    data.push(Buffer.from(v));
    off += v.length;
  }
  const index = Buffer.concat(idx);
  const head = Buffer.alloc(16);
  head.write("XPAKPACK");
  head.writeUInt32BE(index.length, 8);
  head.writeUInt32BE(off, 12);
  return Buffer.concat([head, index, ...data, Buffer.from("XPAKSTOP")]);
}

describe("tbz2", () => {
  it("writes a bzip2 tar of the image plus the xpak trailer that bzip2, GNU tar and the xpak reader all accept", async () => {
    const image = makeImage();
    const out = path.join(tmpdir(), "app-misc", "foo-1.2-r1.tbz2");
    const md = metadata();
    const info = await writeTbz2(out, { imageDir: image, metadata: md, compression: "bzip2" });
    const bytes = fs.readFileSync(out);
    expect(info.size).toBe(bytes.length);
    expect(info.md5).toBe(crypto.createHash("md5").update(bytes).digest("hex"));
    expect(info.sha1).toBe(crypto.createHash("sha1").update(bytes).digest("hex"));
    expect(bytes.subarray(0, 3).toString()).toBe("BZh");
    expect(bytes.subarray(-4).toString()).toBe("STOP");
    expect(fs.readdirSync(path.dirname(out))).toEqual(["foo-1.2-r1.tbz2"]); // no temp file left

    const { layout } = readXpakTrailer(out);
    const tarball = bytes.subarray(0, layout.tarballSize);
    const t = sh("bzip2", ["-t"], tarball);
    expect(t.stderr).toBe("");
    expect(t.code).toBe(0);

    const list = sh("tar", ["-tjf", out]);
    expect(list.code).toBe(0);
    expect(list.stdout.trim().split("\n")).toEqual(["./", ...IMAGE_NAMES.map((n) => `./${n}`)]);
    const verbose = sh("tar", ["-tvjf", out, "--numeric-owner"]).stdout;
    expect(verbose).toMatch(/^lrwxrwxrwx 0\/0 +0 2023-04-05 \d\d:07 \.\/usr\/lib64\/libfoo\.so\.1 -> libfoo\.so\.1\.2\.3$/m);
    expect(verbose).toMatch(/^hrwxr-xr-x 0\/0 +0 \S+ \S+ \.\/usr\/lib64\/libfoo\.so\.1\.2\.3 link to \.\/usr\/lib64\/libfoo-hardlink\.so$/m);
    expect(verbose).toMatch(/^-rws--x--x 0\/0 +14 \S+ \S+ \.\/usr\/bin\/foo-helper$/m);
    expect(verbose).toMatch(/^drwxr-x--- 0\/0 +0 2022-01-02 \d\d:04 \.\/var\/lib\/foo\/empty\/$/m);

    expect(readTbz2(out)).toEqual(asMap(md));
  });

  it("writes the image tar byte for byte as GNU tar does (`tar --format=gnu --sort=name -cf - -C D .`)", async () => {
    const image = makeImage();
    fs.symlinkSync("t".repeat(150), path.join(image, "usr/lib64/long-target"));
    fs.symlinkSync("u".repeat(100), path.join(image, "usr/lib64/target-of-100"));
    fs.utimesSync(path.join(image, "usr/lib64"), T_DIR, T_DIR);
    // archive names of 99, 100 and 101 bytes: GNU tar needs a long-name entry from 100 on
    for (const n of [87, 88, 89]) fs.writeFileSync(path.join(image, "usr/share", "n".repeat(n)), "");
    fs.utimesSync(path.join(image, "usr/share"), T_DIR, T_DIR);
    if (isRoot) {
      expect(sh("mknod", [path.join(image, "etc/null"), "c", "1", "3"]).code).toBe(0);
      expect(sh("mkfifo", [path.join(image, "etc/fifo")]).code).toBe(0);
      fs.chownSync(path.join(image, "usr/bin/foo"), 1234, 2345);
      fs.utimesSync(path.join(image, "etc"), T_DIR, T_DIR);
    }
    const out = path.join(tmpdir(), "foo.tbz2");
    await writeTbz2(out, { imageDir: image, metadata: { A: "1" }, compression: "none" });
    const ours = fs.readFileSync(out).subarray(0, readXpakTrailer(out).layout.tarballSize);
    const gnu = sh("tar", ["--format=gnu", "--sort=name", "-cf", "-", "-C", image, "."]);
    expect(gnu.code).toBe(0);
    expect(ours.length).toBe(gnu.raw.length);
    expect(ours.equals(gnu.raw)).toBe(true);
  });

  it("extracts the image with modes, owners, symlink targets, hard links, empty directories and mtimes", async () => {
    const image = makeImage();
    const out = path.join(tmpdir(), "foo-1.2-r1.tbz2");
    await writeTbz2(out, { imageDir: image, metadata: metadata(), compression: "bzip2" });
    const dest = path.join(tmpdir(), "image");
    const stats = await extractTbz2(out, dest);
    expect(stats).toMatchObject({ files: 5, symlinks: 1, hardlinks: 1, directories: 13 });
    expectSameImage(image, dest);
    // GNU tar agrees on what is inside
    const byTar = path.join(tmpdir(), "by-tar");
    fs.mkdirSync(byTar);
    expect(sh("tar", ["-xpjf", out, "-C", byTar]).code).toBe(0);
    expectSameImage(image, byTar);
  });

  it("writes zstd by default (MARK's BINPKG_COMPRESS), still named .tbz2, readable by zstd and tar", async () => {
    const image = makeImage();
    const out = path.join(tmpdir(), "foo-1.2-r1.tbz2");
    await writeTbz2(out, { imageDir: image, metadata: metadata() });
    const bytes = fs.readFileSync(out);
    expect(detectCompression(bytes)).toBe("zstd");
    const { layout } = readXpakTrailer(out);
    const tarData = sh("zstd", ["-dc"], bytes.subarray(0, layout.tarballSize));
    expect(tarData.code).toBe(0);
    expect(sh("tar", ["-t"], tarData.raw).stdout.trim().split("\n")).toEqual(["./", ...IMAGE_NAMES.map((n) => `./${n}`)]);
    const dest = path.join(tmpdir(), "image");
    await extractTbz2(out, dest);
    expectSameImage(image, dest);
  });

  it.each(["gzip", "xz", "none"] as BinpkgCompression[])("round-trips with BINPKG_COMPRESS=%s", async (c) => {
    const image = makeImage();
    const out = path.join(tmpdir(), "foo.tbz2");
    await writeTbz2(out, { imageDir: image, metadata: { CATEGORY: "a\n" }, compression: c });
    expect(detectCompression(fs.readFileSync(out))).toBe(c);
    const dest = path.join(tmpdir(), "image");
    await extractTbz2(out, dest);
    expectSameImage(image, dest);
  });

  it("replaces an existing package atomically and leaves the old one when writing fails", async () => {
    const image = makeImage();
    const dir = tmpdir();
    const out = path.join(dir, "foo.tbz2");
    fs.writeFileSync(out, "old");
    await expect(writeTbz2(out, { imageDir: path.join(dir, "missing"), metadata: {} })).rejects.toThrow(/does not exist/);
    expect(fs.readFileSync(out, "utf8")).toBe("old");
    expect(fs.readdirSync(dir)).toEqual(["foo.tbz2"]);
    await expect(writeTbz2(out, { imageDir: image, metadata: { "bad/key": "x" } })).rejects.toThrow(/contains '\/'/);
    await writeTbz2(out, { imageDir: image, metadata: { A: "1" } });
    expect(readTbz2(out).get("A")?.toString()).toBe("1");
  });

  it("refuses images that would write outside the destination or through a symlink", async () => {
    const craft = async (entries: tar.Header[]): Promise<string> => {
      const pack = tar.pack();
      for (const e of entries) pack.entry(e, e.type === "file" ? "x" : undefined);
      pack.finalize();
      const chunks: Buffer[] = [];
      for await (const c of pack) chunks.push(c as Buffer);
      const f = path.join(tmpdir(), "evil.tbz2");
      fs.writeFileSync(f, Buffer.concat([zlib.gzipSync(Buffer.concat(chunks)), encodeTbz2Trailer({ CATEGORY: "x\n" })]));
      return f;
    };
    const file = (name: string): tar.Header => ({ name, type: "file", mode: 0o644, size: 1 }) as tar.Header;
    const dest = () => path.join(tmpdir(), "d");
    const up = await craft([file("./../escaped")]);
    await expectRejects(extractTbz2(up, dest()), up, /contains '\.\.'/);
    const abs = await craft([file("/etc/evil")]);
    await expectRejects(extractTbz2(abs, dest()), /is an absolute path/);
    const outside = tmpdir();
    const via = await craft([{ name: "./lib", type: "symlink", linkname: outside, mode: 0o777 } as tar.Header, file("./lib/evil")]);
    await expectRejects(extractTbz2(via, dest()), /through 'lib', which is a symlink/);
    expect(fs.readdirSync(outside)).toEqual([]);
    const link = await craft([{ name: "./x", type: "link", linkname: "../../etc/passwd", mode: 0o644 } as tar.Header]);
    await expectRejects(extractTbz2(link, dest()), /contains '\.\.'/);
  });
});

describe("gpkg", () => {
  it("writes the container Portage writes: members in order under <PF>/, ustar, zstd inner tars, Manifest of digests", async () => {
    const image = makeImage();
    const out = path.join(tmpdir(), "app-misc", "foo-1.2-r1.gpkg.tar");
    const md = metadata();
    const info = await writeGpkg(out, { imageDir: image, metadata: md });
    expect(info.md5).toBe(crypto.createHash("md5").update(fs.readFileSync(out)).digest("hex"));
    const outer = sh("tar", ["-tf", out]);
    expect(outer.code).toBe(0);
    expect(outer.stdout.trim().split("\n")).toEqual(["foo-1.2-r1/gpkg-1", "foo-1.2-r1/metadata.tar.zst", "foo-1.2-r1/image.tar.zst", "foo-1.2-r1/Manifest"]);
    expect(fs.readFileSync(out).subarray(257, 265).toString("latin1")).toBe("ustar\u000000");

    const member = (name: string) => sh("tar", ["-xOf", out, `foo-1.2-r1/${name}`]).raw;
    const metaList = sh("tar", ["-t"], sh("zstd", ["-dc"], member("metadata.tar.zst")).raw);
    expect(metaList.code).toBe(0);
    expect(metaList.stdout.trim().split("\n")).toEqual([...asMap(md).keys()].sort().map((k) => `metadata/${k}`));
    const imageTar = sh("zstd", ["-dc"], member("image.tar.zst"));
    expect(imageTar.code).toBe(0);
    expect(sh("tar", ["-t"], imageTar.raw).stdout.trim().split("\n")).toEqual(["image/", ...IMAGE_NAMES.map((n) => `image/${n}`)]);

    const manifest = member("Manifest").toString();
    const lines = manifest.trim().split("\n");
    expect(lines.map((l) => l.split(" ").slice(0, 4).concat(l.split(" ")[5]!).join(" "))).toEqual([
      "DATA gpkg-1 0 BLAKE2B SHA512",
      `DATA metadata.tar.zst ${member("metadata.tar.zst").length} BLAKE2B SHA512`,
      `DATA image.tar.zst ${member("image.tar.zst").length} BLAKE2B SHA512`,
    ]);
    const img = member("image.tar.zst");
    expect(lines[2]).toBe(
      `DATA image.tar.zst ${img.length} BLAKE2B ${crypto.createHash("blake2b512").update(img).digest("hex")} SHA512 ${crypto.createHash("sha512").update(img).digest("hex")}`,
    );

    expect(await readGpkg(out)).toEqual(asMap(md));
    const dest = path.join(tmpdir(), "image");
    const stats = await extractGpkg(out, dest);
    expect(stats.files).toBe(5);
    expectSameImage(image, dest);
    expect((await verifyGpkg(out)).signed).toBe(false);
  });

  it.each(["xz", "bzip2", "gzip", "none"] as BinpkgCompression[])("writes and reads BINPKG_COMPRESS=%s with the matching member names", async (c) => {
    const image = makeImage();
    const out = path.join(tmpdir(), "foo-1.2-r1-3.gpkg.tar");
    await writeGpkg(out, { imageDir: image, metadata: { ...metadata(), BUILD_ID: "3\n" }, compression: c });
    const ext = { xz: ".xz", bzip2: ".bz2", gzip: ".gz", none: "" }[c as "xz"];
    expect(sh("tar", ["-tf", out]).stdout.trim().split("\n")).toEqual([
      "foo-1.2-r1-3/gpkg-1",
      `foo-1.2-r1-3/metadata.tar${ext}`,
      `foo-1.2-r1-3/image.tar${ext}`,
      "foo-1.2-r1-3/Manifest",
    ]);
    expect((await readGpkg(out)).get("BUILD_ID")?.toString()).toBe("3\n");
    const dest = path.join(tmpdir(), "image");
    await extractGpkg(out, dest);
    expectSameImage(image, dest);
  });

  it("refuses a package whose image does not match its Manifest, or whose structure is wrong", async () => {
    const image = makeImage();
    const out = path.join(tmpdir(), "foo-1.2-r1.gpkg.tar");
    await writeGpkg(out, { imageDir: image, metadata: metadata() });
    const layout = gpkgLayout(out);
    const img = layout.members.get("image.tar.zst")!;
    const bytes = fs.readFileSync(out);
    bytes[img.offset + Math.floor(img.size / 2)]! ^= 0xff;
    const bad = path.join(tmpdir(), "bad.gpkg.tar");
    fs.writeFileSync(bad, bytes);
    const dest = path.join(tmpdir(), "image");
    await expectRejects(extractGpkg(bad, dest), bad, /BLAKE2B digest of 'image.tar.zst' does not match/);
    expect(fs.existsSync(path.join(dest, "usr"))).toBe(false); // verified before anything was written
    await expectRejects(verifyGpkg(bad), /does not match/);

    // two base directories
    const two = path.join(tmpdir(), "two.gpkg.tar");
    const work = tmpdir();
    fs.mkdirSync(path.join(work, "a"));
    fs.mkdirSync(path.join(work, "b"));
    fs.writeFileSync(path.join(work, "a/gpkg-1"), "");
    fs.writeFileSync(path.join(work, "b/Manifest"), "");
    expect(sh("tar", ["-cf", two, "-C", work, "a/gpkg-1", "b/Manifest"]).code).toBe(0);
    expectError(() => gpkgLayout(two), two, /members in two directories/);
    // not a gpkg at all
    const tbz2 = path.join(tmpdir(), "x.tbz2");
    await writeTbz2(tbz2, { imageDir: image, metadata: {} });
    expectError(() => gpkgLayout(tbz2), tbz2, /not a valid gpkg container/);
  });
});

describe("PKGDIR names and the Packages index", () => {
  it("names packages as Portage does, with and without binpkg-multi-instance", () => {
    const n = { category: "app-misc", pn: "foo", pf: "foo-1.2-r1" };
    expect(binpkgRelativePath(n, "xpak", false)).toBe("app-misc/foo-1.2-r1.tbz2");
    expect(binpkgRelativePath(n, "gpkg", false)).toBe("app-misc/foo-1.2-r1.gpkg.tar");
    expect(binpkgRelativePath({ ...n, buildId: 7 }, "xpak", true)).toBe("app-misc/foo/foo-1.2-r1-7.xpak");
    expect(binpkgRelativePath({ ...n, buildId: 7 }, "gpkg", true)).toBe("app-misc/foo/foo-1.2-r1-7.gpkg.tar");
    expect(() => binpkgRelativePath(n, "xpak", true)).toThrow(/BUILD_ID/);
    expect(parseBinpkgPath("app-misc/foo/foo-1.2-r1-7.xpak")).toEqual({ category: "app-misc", pn: "foo", pf: "foo-1.2-r1", buildId: 7, format: "xpak" });
    expect(parseBinpkgPath("app-misc/foo-1.2-r1.tbz2")).toEqual({ category: "app-misc", pf: "foo-1.2-r1", format: "xpak" });
    expect(parseBinpkgPath("All/foo-1.2-r1.tbz2")).toEqual({ category: undefined, pf: "foo-1.2-r1", format: "xpak" });
  });

  it("claims BUILD_IDs past the existing files and index entries, never the same twice", () => {
    const pkgdir = tmpdir();
    const n = { category: "app-misc", pn: "foo", pf: "foo-1.2-r1" };
    expect(claimMultiInstancePath(pkgdir, n, "xpak").buildId).toBe(1);
    expect(claimMultiInstancePath(pkgdir, n, "xpak").buildId).toBe(2);
    fs.writeFileSync(path.join(pkgdir, "app-misc/foo/foo-1.2-r1-9.gpkg.tar"), "");
    expect(claimMultiInstancePath(pkgdir, n, "xpak")).toEqual({ buildId: 10, path: path.join(pkgdir, "app-misc/foo/foo-1.2-r1-10.xpak") });
    const index = { header: {}, packages: [{ CPV: "app-misc/foo-1.2-r1", BUILD_ID: "20" }] };
    expect(claimMultiInstancePath(pkgdir, n, "gpkg", index).buildId).toBe(21);
    expect(claimMultiInstancePath(pkgdir, { ...n, pf: "foo-1.3" }, "xpak").buildId).toBe(1);
  });

  it("writes the index Portage writes, reads it back, and replaces an entry", async () => {
    const pkgdir = tmpdir();
    const image = makeImage();
    const header = packagesHeader(
      {
        ACCEPT_KEYWORDS: "amd64",
        CHOST: "x86_64-pc-linux-gnu",
        USE: "amd64 ssl",
        USE_EXPAND_IMPLICIT: "ARCH ELIBC",
        ARCH: "amd64",
        ELIBC: "glibc",
        USE_EXPAND_VALUES_ARCH: "amd64 arm64",
        UNRELATED: "x",
        GENTOO_MIRRORS: "",
      },
      { profile: "funtoo/1.0/linux-gnu/arch/x86-64bit" },
    );
    writePackagesIndex(pkgdir, { header, packages: [] }, { timestamp: 1700000100 });

    const add = async (md: Record<string, string | Buffer>) => {
      const m = asMap(md);
      const rel = `${md.CATEGORY!.toString().trim()}/${md.PF!.toString().trim()}.tbz2`;
      const info = await writeTbz2(path.join(pkgdir, rel), { imageDir: image, metadata: m, compression: "gzip" });
      return { stanza: await recordBinpkg(pkgdir, rel, m, info), info };
    };
    const first = await add(metadata());
    const older = await add({ ...metadata(), PF: "foo-1.10\n", SLOT: "0\n", EAPI: "0\n", CHOST: "i686-pc-linux-gnu\n" });
    await add({ ...metadata(), PF: "foo-1.9\n" });

    const text = fs.readFileSync(path.join(pkgdir, "Packages"), "utf8");
    const index = readPackagesIndex(pkgdir);
    expect(index.packages.map((p) => p.CPV)).toEqual(["app-misc/foo-1.2-r1", "app-misc/foo-1.9", "app-misc/foo-1.10"]);
    expect(index.header).toMatchObject({ ACCEPT_KEYWORDS: "amd64", ARCH: "amd64", ELIBC: "glibc", PACKAGES: "3", VERSION: "0", PROFILE: "funtoo/1.0/linux-gnu/arch/x86-64bit" });
    expect(index.header.UNRELATED).toBeUndefined();
    expect(Number(index.header.TIMESTAMP)).toBe(Math.floor(fs.statSync(path.join(pkgdir, "Packages")).mtimeMs / 1000));
    expect(text.split("\n\n")[0]!.split("\n").map((l) => l.split(":")[0])).toEqual(Object.keys(index.header).sort());
    expect(formatPackagesIndex(parsePackagesIndex(text))).toBe(text);

    const s = first.info;
    expect(text).toContain(
      [
        "BDEPEND: virtual/pkgconfig",
        "BUILD_TIME: 1700000000",
        "CPV: app-misc/foo-1.2-r1",
        "DEFINED_PHASES: compile configure install",
        "DEPEND: dev-libs/openssl:0/3=",
        "DESC: A test package",
        "EAPI: 8",
        "IUSE: +ssl test",
        "KEYWORDS: amd64 ~arm64",
        "LICENSE: GPL-2+",
        `MD5: ${s.md5}`,
        "RDEPEND: dev-libs/openssl:0/3= || ( app-misc/a app-misc/b )",
        `SHA1: ${s.sha1}`,
        `SIZE: ${s.size}`,
        "SLOT: 0/1.2",
        "USE: amd64 elibc_glibc kernel_linux ssl",
        `MTIME: ${s.mtime}`,
        "REPO: core-kit",
        "",
      ].join("\n"),
    );
    // CHOST equal to the header's, EAPI 0 and SLOT 0 are left out; a different CHOST stays
    expect(first.stanza.CHOST).toBeUndefined();
    expect(older.stanza).toMatchObject({ CHOST: "i686-pc-linux-gnu" });
    expect(older.stanza.EAPI).toBeUndefined();
    expect(older.stanza.SLOT).toBeUndefined();
    expect(effectiveStanza(index, index.packages[0]!)).toMatchObject({ CHOST: "x86_64-pc-linux-gnu", PATH: "app-misc/foo-1.2-r1.tbz2" });
    expect(effectiveStanza(index, index.packages[2]!)).toMatchObject({ EAPI: "0", SLOT: "0" });

    // rebuilding foo-1.2-r1 replaces its entry
    const again = await add({ ...metadata(), BUILD_TIME: "1700009999\n" });
    const after = readPackagesIndex(pkgdir);
    expect(after.packages).toHaveLength(3);
    expect(after.header.PACKAGES).toBe("3");
    expect(after.packages[0]).toMatchObject({ CPV: "app-misc/foo-1.2-r1", BUILD_TIME: "1700009999", MD5: again.info.md5 });

    expect(removePackage(after, "app-misc/foo-1.9")).toBe(1);
    writePackagesIndex(pkgdir, after, { compressIndex: true });
    expect(zlib.gunzipSync(fs.readFileSync(path.join(pkgdir, "Packages.gz"))).toString()).toBe(fs.readFileSync(path.join(pkgdir, "Packages"), "utf8"));
    expect(readPackagesIndex(pkgdir).packages.map((p) => p.CPV)).toEqual(["app-misc/foo-1.2-r1", "app-misc/foo-1.10"]);
  });

  it("keeps multi-instance entries apart and gives them a PATH", () => {
    const md = asMap({ ...metadata(), BUILD_ID: "2\n" });
    const file = { size: 10, mtime: 5, md5: "m", sha1: "s" };
    const rel = binpkgRelativePath({ category: "app-misc", pn: "foo", pf: "foo-1.2-r1", buildId: 2 }, "xpak", true);
    const index = { header: { CHOST: "x86_64-pc-linux-gnu", REPO: "core-kit" }, packages: [] };
    const s2 = packageStanza(md, file, rel, index.header);
    expect(s2).toMatchObject({ CPV: "app-misc/foo-1.2-r1", BUILD_ID: "2", PATH: "app-misc/foo/foo-1.2-r1-2.xpak" });
    expect(s2.REPO).toBeUndefined();
    upsertPackage(index, s2, { multiInstance: true });
    upsertPackage(index, { ...s2, BUILD_ID: "1", PATH: "app-misc/foo/foo-1.2-r1-1.xpak" }, { multiInstance: true });
    upsertPackage(index, { ...s2, MD5: "new" }, { multiInstance: true });
    expect(index.packages.map((p) => [p.BUILD_ID, p.MD5])).toEqual([
      ["1", "m"],
      ["2", "new"],
    ]);
  });

  it("rejects a broken index with the file and line", () => {
    expect(() => parsePackagesIndex("VERSION: 0\n\nCPV: a/b-1\nnot a key line\n", "/pkgdir/Packages")).toThrow(/\/pkgdir\/Packages:4: expected 'KEY: value'/);
    expect(() => parsePackagesIndex("VERSION: 0\n\nSLOT: 0\n", "P")).toThrow(/stanza 1 has no CPV/);
    expect(parseBinpkgCompress(undefined)).toBe("zstd");
    expect(() => parseBinpkgCompress("brotli")).toThrow(/BINPKG_COMPRESS="brotli" is not supported/);
  });
});

describe("the binary package a plan takes (--usepkg)", () => {
  it("must have the same CPV, SLOT and sub-slot, and the same flags of its IUSE enabled", async () => {
    const { findBinpkgFor } = await import("../src/build/binpkgInstall.js");
    const pkgdir = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-pkgdir-"));
    fs.mkdirSync(path.join(pkgdir, "app-misc"));
    fs.writeFileSync(path.join(pkgdir, "app-misc/foo-1.0.tbz2"), "x");
    fs.writeFileSync(path.join(pkgdir, "Packages"), "VERSION: 0\n\nCPV: app-misc/foo-1.0\nSLOT: 0/1\nUSE: amd64 ssl\nPATH: app-misc/foo-1.0.tbz2\n\n");
    const c = { cpv: "app-misc/foo-1.0", slot: "0", subslot: "1", iuse: ["+ssl", "static"], use: new Set(["ssl"]) };
    expect(findBinpkgFor(pkgdir, c)?.path).toBe(path.join(pkgdir, "app-misc/foo-1.0.tbz2"));
    // the ebuild's sub-slot moved on: a rebuild, not this package
    expect(findBinpkgFor(pkgdir, { ...c, subslot: "2" })).toBeUndefined();
    expect(findBinpkgFor(pkgdir, { ...c, use: new Set(["ssl", "static"]) })).toBeUndefined();
    fs.rmSync(pkgdir, { recursive: true, force: true });
  });
});
