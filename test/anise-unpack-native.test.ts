// native/ouzo-unpack against the TypeScript reader: the same archive gives the same image, the
// same entries and the same errors either way; a killed helper loses nothing.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import tar from "tar-stream";
import { afterAll, describe, expect, it, vi } from "vitest";
import { compress } from "zstd-napi";
import { NativeLane, nativeUnpackerPath } from "../src/anise/nativeUnpack.js";
import type { UnpackOptions, UnpackResult } from "../src/anise/ImageBuilder.js";
import { Unpacker } from "../src/anise/Unpacker.js";
import { REPO_ROOT, tmpdir } from "./helpers.js";

// npm ci builds the helper (a C compiler is all it needs), so on CI it must exist
execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts", "build-native.js")], { stdio: "inherit" });
const helper = nativeUnpackerPath();

const native = helper ? new Unpacker("native", 2) : undefined;
const local = new Unpacker("local");
afterAll(async () => {
  await native?.close();
});

/** A package tarball made by GNU tar (pax format) from a real tree, zstd-compressed. */
function packageOf(dir: string, build: (tree: string) => void, more?: (tarFile: string, tree: string) => void): string {
  const tree = path.join(dir, "tree");
  fs.mkdirSync(tree, { recursive: true });
  build(tree);
  const tarFile = path.join(dir, "p.tar");
  execFileSync("tar", ["--format=pax", "--numeric-owner", "-C", tree, "-cf", tarFile, "."]);
  more?.(tarFile, tree);
  const art = path.join(dir, "p.package.tar.zst");
  fs.writeFileSync(art, compress(fs.readFileSync(tarFile)));
  return art;
}

/** The files (not directories) under the image and the tree, host paths. */
function filesIn(work: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else out.push(path.join(d, e.name));
    }
  };
  for (const d of ["image", "tree"]) if (fs.existsSync(path.join(work, d))) walk(path.join(work, d));
  return out.sort();
}

/**
 * A result with what each entry's bytes are instead of where they are (the native helper puts
 * files at their names in the tree, the TypeScript reader under their ordinals), to compare two
 * unpackings; `wholeDirs` apart, which only the tree has.
 */
function comparable(r: UnpackResult, work: string) {
  const rel = (p: string) => path.relative(work, p);
  const bytesAt = (p: string) => {
    const st = fs.lstatSync(p, { bigint: true });
    // to the microsecond: Node sets times to it, the helper to the nanosecond
    return { mode: st.mode, mtimeUs: String(st.mtimeNs / 1000n), nlink: st.nlink, size: st.size, body: st.isSymbolicLink() ? fs.readlinkSync(p) : fs.readFileSync(p).toString("base64") };
  };
  const sources = new Set(r.entries.filter((e) => e.type !== "dir").map((e) => e.src));
  return {
    entries: r.entries.map(({ src, ...e }) => ({ ...e, bytes: e.type === "dir" ? undefined : bytesAt(src) })),
    files: [...r.files].sort(),
    skipped: r.skipped,
    vdb: r.vdb && { ...r.vdb, dir: rel(r.vdb.dir) },
    bytes: r.bytes,
    // nothing is left in the image or the tree but the entries' bytes
    strays: filesIn(work).filter((f) => !sources.has(f)),
  };
}

async function both(art: string, dir: string, opts: UnpackOptions = {}) {
  const n = await native!.unpack(art, path.join(dir, "wn"), opts);
  const l = await local.unpack(art, path.join(dir, "wl"), opts);
  return { n, l, cn: comparable(n, path.join(dir, "wn")), cl: comparable(l, path.join(dir, "wl")) };
}

/** A ustar header block with its checksum. */
function rawHeader(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write("14000000000\0", 136);
  h.write(type, 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  return withChecksum(h);
}

function withChecksum(h: Buffer): Buffer {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

/** `LEN key=value\n`, LEN counting itself. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest) + 1;
  while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
  return `${len}${rest}`;
}

const padded = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** This process's ouzo-unpack children. */
function helperPids(): number[] {
  const r = spawnSync("pgrep", ["-P", String(process.pid), "-x", "ouzo-unpack"], { encoding: "utf8" });
  return r.stdout.trim().split(/\s+/).filter(Boolean).map(Number);
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return "(no error)";
}

describe.skipIf(!helper)("the native unpacker", () => {
  it("makes the image and the entries the TypeScript reader makes", async () => {
    const dir = tmpdir();
    const long = `usr/share/${"a-rather-long-directory-name/".repeat(4)}${"and-a-file-name-past-one-hundred-bytes".repeat(2)}.txt`;
    const big = Buffer.alloc(3 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    const art = packageOf(dir, (t) => {
      const put = (rel: string, body: string | Buffer, mode = 0o644) => {
        fs.mkdirSync(path.dirname(path.join(t, rel)), { recursive: true });
        fs.writeFileSync(path.join(t, rel), body);
        fs.chmodSync(path.join(t, rel), mode);
      };
      put("usr/bin/tool", "#!/bin/sh\necho tool\n", 0o4755);
      fs.linkSync(path.join(t, "usr/bin/tool"), path.join(t, "usr/bin/tool-alias"));
      put("usr/lib/libbig.so.1", big, 0o755);
      fs.symlinkSync("libbig.so.1", path.join(t, "usr/lib/libbig.so"));
      put("usr/share/empty", "");
      put(long, "long\n");
      put("usr/include/big.h", "/* devel */\n");
      put("etc/tool.conf", "setting = 1\n", 0o600);
      put("var/db/pkg/app-misc/tool-1/SLOT", "0\n", 0o600);
      put("var/db/pkg/app-misc/tool-1/CATEGORY", "app-misc\n");
      // a time with a fraction: pax keeps it
      execFileSync("touch", ["-h", "-d", "@1700000000.25", path.join(t, "usr/share/empty"), path.join(t, "usr/lib/libbig.so")]);
    });
    const opts = { subsets: new Map([["devel", [/^\/usr\/include\//]]]), enabledSubsets: new Set<string>() };
    const { n, l, cn, cl } = await both(art, dir, opts);
    expect(cn).toEqual(cl);
    expect(cn.strays).toEqual([]);
    // the directories of the tree that hold exactly the image's entries below them: not /usr/include
    // (a file of a disabled subset was there), /usr/lib (a symlink under its ordinal), /usr/bin (a
    // hard link), /var (the VDB entry, set apart)
    const chain = long.split("/").slice(0, -1).map((_, i, a) => `/${a.slice(0, i + 1).join("/")}`).filter((d) => d.startsWith("/usr/share"));
    expect([...n.wholeDirs].sort()).toEqual(["/etc", ...chain].sort());
    expect(l.wholeDirs.size).toBe(0);
    for (const d of n.wholeDirs) expect(fs.statSync(n.entries.find((e) => e.path === d)!.src).isDirectory()).toBe(true);
    // and what both made is right
    const at = (p: string) => n.entries.find((e) => e.path === p)!;
    expect(at("/usr/bin/tool")).toMatchObject({ type: "obj", mode: 0o4755, nlink: 2 });
    expect(at("/usr/bin/tool-alias").ino).toBe(at("/usr/bin/tool").ino);
    expect(fs.statSync(at("/usr/bin/tool").src).mode & 0o7777).toBe(0o4755);
    expect(fs.readFileSync(at("/usr/lib/libbig.so.1").src).equals(big)).toBe(true);
    expect(at("/usr/lib/libbig.so.1").md5).toBe(execFileSync("md5sum", [at("/usr/lib/libbig.so.1").src], { encoding: "utf8" }).split(" ")[0]);
    expect(at("/usr/lib/libbig.so")).toMatchObject({ type: "sym", target: "libbig.so.1", mtimeMs: 1_700_000_000_250 });
    expect(at("/usr/share/empty")).toMatchObject({ size: 0, md5: "d41d8cd98f00b204e9800998ecf8427e", mtimeMs: 1_700_000_000_250 });
    expect(at(`/${long}`).md5).toBeDefined();
    expect(n.skipped).toEqual([{ path: "usr/include/big.h", subset: "devel" }]);
    expect(n.vdb).toMatchObject({ category: "app-misc", pf: "tool-1" });
    expect(fs.readFileSync(path.join(n.vdb!.dir, "SLOT"), "utf8")).toBe("0\n");
    // written as the TypeScript reader writes it, not with the archive's mode (0600 there)
    expect(fs.statSync(path.join(n.vdb!.dir, "SLOT")).mode & 0o777).toBe(0o644);
    // what was skipped or set apart is not left in the image
    expect(filesIn(path.join(dir, "wn")).length).toBe(n.entries.filter((e) => e.type !== "dir").length);
    // in the order of a sorted walk: a directory, then what it holds, names in code-unit order
    // ("/usr/bin/tool" and what a directory "tool" would hold before "/usr/bin/tool-alias")
    const walkOrder = (paths: string[]) => [...paths].sort((a, b) => {
      const x = a.split("/");
      const y = b.split("/");
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
      return x.length - y.length;
    });
    const order = n.entries.map((e) => e.path);
    expect(order).toEqual(walkOrder(order));
    expect(order.indexOf("/usr/bin/tool")).toBe(order.indexOf("/usr/bin/tool-alias") - 1);
  });

  it("does not count a directory whole when the helper made a directory in it for a file that went elsewhere and was dropped", async () => {
    const dir = tmpdir();
    const pack = tar.pack();
    const entry = (name: string, body: string) => pack.entry({ name, mode: 0o644, mtime: new Date(1_700_000_000_000) }, body);
    entry("usr/share/foo/a.txt", "a\n");
    // a name too long for the filesystem: its directory is made in the tree, the file goes under its number; a disabled subset drops it
    entry(`usr/share/foo/sub/${"n".repeat(300)}`, "dropped\n");
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const art = path.join(dir, "p.package.tar.zst");
    fs.writeFileSync(art, compress(Buffer.concat(chunks)));
    const opts = { subsets: new Map([["extra", [/^\/usr\/share\/foo\/sub\//]]]), enabledSubsets: new Set<string>() };
    const { n, cn, cl } = await both(art, dir, opts);
    expect(cn).toEqual(cl);
    expect(fs.existsSync(path.join(dir, "wn", "tree", "usr/share/foo/sub"))).toBe(true);
    expect([...n.wholeDirs]).toEqual([]);
  });

  it("keeps a name that is not UTF-8 under its number, where the merge finds it", async () => {
    const dir = tmpdir();
    // usr/share/x<ff>.txt: decoded as UTF-8 it reads usr/share/x\ufffd.txt, which is not the file's name on disk
    const named = (name: Buffer, body: string) => {
      const h = rawHeader("", Buffer.byteLength(body), "0");
      name.copy(h, 0);
      return Buffer.concat([withChecksum(h), padded(Buffer.from(body))]);
    };
    const art = path.join(dir, "p.package.tar.zst");
    fs.writeFileSync(art, compress(Buffer.concat([named(Buffer.from("usr/share/x\xff.txt", "latin1"), "odd\n"), named(Buffer.from("usr/share/ok.txt"), "ok\n"), Buffer.alloc(1024)])));
    const { n, cn, cl } = await both(art, dir);
    expect(cn).toEqual(cl);
    expect(fs.readFileSync(n.entries.find((e) => e.path === "/usr/share/x\ufffd.txt")!.src, "utf8")).toBe("odd\n");
    expect(n.wholeDirs.size).toBe(0);
  });

  it("keeps the later of two entries of one path, as tar does", async () => {
    const dir = tmpdir();
    const art = packageOf(
      dir,
      (t) => {
        fs.mkdirSync(path.join(t, "etc"));
        fs.writeFileSync(path.join(t, "etc", "x"), "first\n");
      },
      (tarFile, t) => {
        fs.writeFileSync(path.join(t, "etc", "x"), "second, longer\n");
        execFileSync("tar", ["--format=pax", "-C", t, "-rf", tarFile, "./etc/x"]);
      },
    );
    const { n, cn, cl } = await both(art, dir);
    expect(cn).toEqual(cl);
    const x = n.entries.find((e) => e.path === "/etc/x")!;
    expect(fs.readFileSync(x.src, "utf8")).toBe("second, longer\n");
    expect(filesIn(path.join(dir, "wn"))).toEqual([x.src]);
    // the first went at its name in the tree, the second under its ordinal: /etc is not whole
    expect(n.wholeDirs.size).toBe(0);
  });

  it("refuses what the TypeScript reader refuses, in the same words", async () => {
    const dir = tmpdir();
    const tarBytes = async (entries: { name: string; type?: "file" | "symlink"; linkname?: string; body?: string }[]) => {
      const pack = tar.pack();
      for (const e of entries) pack.entry({ name: e.name, type: e.type ?? "file", linkname: e.linkname, mode: 0o644, mtime: new Date(1_700_000_000_000) }, e.body ?? "");
      pack.finalize();
      const chunks: Buffer[] = [];
      for await (const c of pack) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    const cases: [string, Buffer][] = [];
    const messages = new Map<string, string>();
    const good = await tarBytes([{ name: "usr/x", body: "x".repeat(5000) }]);
    cases.push(["absolute", compress(await tarBytes([{ name: "/etc/passwd", body: "x" }]))]);
    cases.push(["climbing", compress(await tarBytes([{ name: "usr/../../etc/passwd", body: "x" }]))]);
    cases.push(["through a symlink", compress(await tarBytes([{ name: "lib", type: "symlink", linkname: "/" }, { name: "lib/etc/passwd", body: "x" }]))]);
    const damaged = Buffer.from(good);
    damaged[10] ^= 0xff; // in the first header's name: the checksum no longer matches
    cases.push(["damaged header", compress(damaged)]);
    cases.push(["no end blocks", compress(good.subarray(0, 512 + 5120))]);
    const z = compress(good);
    cases.push(["cut zstd", z.subarray(0, Math.floor(z.length / 2))]);
    // hand-made archives for what no tar program writes
    const end = Buffer.alloc(1024);
    cases.push(["a huge long name", compress(Buffer.concat([rawHeader("././@LongLink", 256 << 20, "L"), Buffer.alloc(512, "a"), end]))]);
    const paxed = (records: [string, string][]) => {
      const body = Buffer.from(records.map(([k, v]) => paxRecord(k, v)).join(""));
      return Buffer.concat([rawHeader("PaxHeader", body.length, "x"), padded(body), rawHeader("usr/f", 1, "0"), padded(Buffer.from("f")), end]);
    };
    cases.push(["pax size not a number", compress(paxed([["size", "abc"]]))]);
    cases.push(["pax uid out of range", compress(paxed([["uid", "4294968296"]]))]);
    // a pax record longer than its header ends the header: both readers ignore it
    const longer = path.join(dir, "longer.package.tar.zst");
    fs.writeFileSync(longer, compress(paxed([["path", "usr/g"]]).fill(0x39, 512, 513)));
    expect((await native!.unpack(longer, path.join(dir, "wn"), {})).files).toEqual(["usr/f"]);
    expect((await local.unpack(longer, path.join(dir, "wl"), {})).files).toEqual(["usr/f"]);
    const huge = rawHeader("usr/h", 0, "0");
    huge.fill(0, 124, 136);
    huge[124] = 0x80;
    huge[127] = 1; // base-256: 2^64
    cases.push(["a size of two to the 64th", compress(Buffer.concat([withChecksum(huge), end]))]);
    cases.push(["an absolute path, then a cut", compress(Buffer.concat([rawHeader("/etc/passwd", 1, "0"), padded(Buffer.from("x")), rawHeader("usr/cut", 4096, "0"), Buffer.alloc(512)]))]);
    // zstd's own checksum (the zstd program writes one): a changed byte is found
    const withSum = execFileSync("zstd", ["-q", "-c"], { input: good });
    const flipped = Buffer.from(withSum);
    flipped[flipped.length - 2] ^= 0x55;
    cases.push(["a zstd checksum mismatch", flipped]);
    // bytes hashed against the repository just now (a download) are not checked twice: the
    // checksum is zstd's alone, the content is whole
    const justHashed = path.join(dir, "just-hashed.package.tar.zst");
    fs.writeFileSync(justHashed, flipped);
    expect((await native!.unpack(justHashed, path.join(dir, "wv"), { verified: true })).files.length).toBeGreaterThan(0);
    for (const [what, bytes] of cases) {
      const art = path.join(dir, `${what.replaceAll(" ", "-")}.package.tar.zst`);
      fs.writeFileSync(art, bytes);
      const fromNative = await errorOf(native!.unpack(art, path.join(dir, "wn"), {}));
      const fromLocal = await errorOf(local.unpack(art, path.join(dir, "wl"), {}));
      expect(fromNative, what).toBe(fromLocal);
      expect(fromNative, what).toMatch(new RegExp(`^${path.basename(art).replaceAll(".", "\\.")}: `));
      messages.set(what, fromNative.slice(path.basename(art).length + 2));
    }
    expect(messages.get("a huge long name")).toBe("a long name or pax header is larger than 1 MiB");
    expect(messages.get("pax size not a number")).toBe("a pax header's size is not a number");
    expect(messages.get("pax uid out of range")).toBe("entry 1's owner is out of range");
    expect(messages.get("a size of two to the 64th")).toBe("entry 1's size is out of range");
    expect(messages.get("an absolute path, then a cut")).toBe("entry '/etc/passwd' is an absolute path");
    expect(messages.get("a zstd checksum mismatch")).toMatch(/^cannot unpack: .*checksum/);
    expect(messages.get("cut zstd")).toBe("cannot unpack: the zstd stream ends in the middle of a frame (truncated)");
    // the same names carry the same meaning for a good one
    const ok = path.join(dir, "ok.package.tar.zst");
    fs.writeFileSync(ok, compress(good));
    expect((await native!.unpack(ok, path.join(dir, "wn"), {})).files).toEqual(["usr/x"]);
  });

  it("leaves a package that is not zstd-compressed to the TypeScript reader", async () => {
    const dir = tmpdir();
    const tree = path.join(dir, "t");
    fs.mkdirSync(path.join(tree, "usr"), { recursive: true });
    fs.writeFileSync(path.join(tree, "usr", "g"), "gzip\n");
    const art = path.join(dir, "g.package.tar.gz");
    fs.writeFileSync(art, zlib.gzipSync(execFileSync("tar", ["-C", tree, "-cf", "-", "usr"])));
    const r = await native!.unpack(art, path.join(dir, "w"), { compression: "gzip" });
    expect(r.files).toEqual(["usr/g"]);
    expect(fs.readFileSync(r.entries.find((e) => e.path === "/usr/g")!.src, "utf8")).toBe("gzip\n");
  });

  it("loses nothing when its helper processes are killed", async () => {
    const dir = tmpdir();
    const u = new Unpacker("native", 2);
    const arts = Array.from({ length: 6 }, (_, i) =>
      packageOf(path.join(dir, `p${i}`), (t) => {
        fs.mkdirSync(path.join(t, "usr", "share"), { recursive: true });
        for (let f = 0; f < 50; f++) fs.writeFileSync(path.join(t, "usr", "share", `p${i}-${f}`), `${i}/${f}\n`.repeat(2000));
      }),
    );
    const others = helperPids();
    const results = arts.map((a, i) => u.unpack(a, path.join(dir, `w${i}`), {}));
    // its helpers: this process's children named ouzo-unpack, but for the other Unpacker's
    const pids = helperPids().filter((p) => !others.includes(p));
    expect(pids.length).toBe(2);
    for (const pid of pids) process.kill(pid, "SIGKILL");
    const done = await Promise.all(results);
    done.forEach((r, i) => {
      expect(r.files.length).toBe(50);
      const e = r.entries.find((x) => x.path === `/usr/share/p${i}-7`)!;
      expect(fs.readFileSync(e.src, "utf8")).toBe(`${i}/7\n`.repeat(2000));
    });
    await u.close();
  });

  it("has its helpers remove what a merge left of a work directory, in turn with the unpacking, and removes it itself when they are gone", async () => {
    const dir = tmpdir();
    const before = helperPids();
    const u = new Unpacker("native", 2);
    const arts = [0, 1, 2].map((i) => packageOf(path.join(dir, `p${i}`), (t) => {
      fs.mkdirSync(path.join(t, "usr", "share", `d${i}`), { recursive: true });
      fs.writeFileSync(path.join(t, "usr", "share", `d${i}`, "f"), `${i}\n`);
    }));
    const first = await u.unpack(arts[0]!, path.join(dir, "w0"), {});
    expect(first.files.length).toBe(1);
    // a merge that moved the file out leaves directories, one of them not empty here
    fs.writeFileSync(path.join(dir, "w0", "tree", "usr", "left"), "x");
    const next = u.unpack(arts[1]!, path.join(dir, "w1"), {});
    await Promise.all([u.remove(path.join(dir, "w0")), next]);
    expect(fs.existsSync(path.join(dir, "w0"))).toBe(false);
    expect(fs.readFileSync((await next).entries.find((e) => e.path === "/usr/share/d1/f")!.src, "utf8")).toBe("1\n");
    // a directory that is not there is no failure
    await u.remove(path.join(dir, "nothing-here"));
    await u.unpack(arts[2]!, path.join(dir, "w2"), {});
    for (const pid of helperPids()) if (!before.includes(pid)) process.kill(pid, "SIGKILL");
    await vi.waitFor(() => expect(helperPids().filter((p) => !before.includes(p))).toEqual([]));
    await u.remove(path.join(dir, "w2"));
    expect(fs.existsSync(path.join(dir, "w2"))).toBe(false);
    // a sync has a helper of its own, started at the first, and ends with the others
    await u.syncfs(dir);
    expect(helperPids().filter((p) => !before.includes(p)).length).toBe(1);
    await expect(u.syncfs(path.join(dir, "nothing"))).rejects.toThrow(/cannot sync the filesystem/);
    await u.close();
    expect(helperPids().filter((p) => !before.includes(p))).toEqual([]);
  });

  it("closes its helpers with the run", async () => {
    const dir = tmpdir();
    const u = new Unpacker("native", 2);
    const art = packageOf(dir, (t) => fs.writeFileSync(path.join(t, "f"), "f\n"));
    await u.unpack(art, path.join(dir, "w"), {});
    const before = helperPids();
    await u.close();
    // its two are gone when close() is done (waited for, not left to be reaped later)
    expect(before.length - helperPids().length).toBe(2);
  });
});

describe("a native lane", () => {
  /** A stand-in for the helper: a shell script that reads a request and then does `then`. */
  function fakeHelper(dir: string, then: string): string {
    const file = path.join(dir, "fake-helper");
    fs.writeFileSync(file, `#!/bin/sh\nhead -c 1 >/dev/null\n${then}\n`, { mode: 0o755 });
    return file;
  }
  function lane(helper: string) {
    const events = { settled: [] as unknown[], lost: [] as number[] };
    const l = new NativeLane(helper, { settled: (x) => events.settled.push(x), lost: (_x, held) => events.lost.push(held.length) });
    return { l, events };
  }

  it("refuses its packages when the helper is stopped by an interrupt, rather than unpacking them here", async () => {
    const dir = tmpdir();
    const { l, events } = lane(fakeHelper(dir, "kill -INT $$"));
    const r = new Promise((resolve, reject) => l.start({ file: path.join(dir, "p.package.tar.zst"), work: path.join(dir, "w"), opts: {} }, resolve, reject));
    await expect(r).rejects.toThrow("the unpack helper was stopped (SIGINT)");
    // the Unpacker is told the lane is gone, with nothing to take back
    expect(events.lost).toEqual([0]);
  });

  it("gives its packages back when the helper answers something that is not an answer", async () => {
    const dir = tmpdir();
    const { l, events } = lane(fakeHelper(dir, "printf 'what?\\n'; exec sleep 5"));
    l.start({ file: path.join(dir, "p.package.tar.zst"), work: path.join(dir, "w"), opts: {} }, () => {}, () => {});
    await vi.waitFor(() => expect(events.lost).toEqual([1]));
    await l.close();
  });

  it("has the helper remove a directory and all it holds, and sync a filesystem, and says when it cannot", async () => {
    const dir = tmpdir();
    const { l } = lane(helper!);
    fs.mkdirSync(path.join(dir, "w", "tree", "usr", "share"), { recursive: true });
    fs.writeFileSync(path.join(dir, "w", "tree", "usr", "f"), "f");
    fs.symlinkSync("/", path.join(dir, "w", "tree", "root-link"));
    await l.remove(path.join(dir, "w"));
    expect(fs.existsSync(path.join(dir, "w"))).toBe(false);
    // the link was removed, not followed
    expect(fs.existsSync("/")).toBe(true);
    // a file where a directory should be above it: the helper says why it cannot
    fs.writeFileSync(path.join(dir, "plain"), "x");
    await expect(l.remove(path.join(dir, "plain", "w"))).rejects.toThrow(/cannot remove .*plain\/w: Not a directory/);
    // and syncfs, for merge-sync
    await l.syncfs(dir);
    await expect(l.syncfs(path.join(dir, "nothing"))).rejects.toThrow(/cannot sync the filesystem of .*nothing: No such file/);
    await l.close();
  });

  it("hashes every file right, in lanes or one at a time", async () => {
    const dir = tmpdir();
    // every length across one and two MD5 blocks with their padding; more files than the helper
    // hashes at once (4096); more small-file bytes than its arena holds (8 MiB); and files either
    // side of the largest it hashes in lanes (1 MiB)
    const bodies: Buffer[] = [];
    for (let len = 0; len <= 130; len++) bodies.push(Buffer.from(Array.from({ length: len }, (_, i) => (i * 31 + len) & 255)));
    for (let i = 0; i < 4100; i++) bodies.push(Buffer.from(`file ${i} `.repeat(i % 9)));
    for (let i = 0; i < 9; i++) bodies.push(Buffer.alloc(1 << 20, i + 1));
    bodies.push(Buffer.alloc((1 << 20) + 1, 0x5a));
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    pack.on("data", (c: Buffer) => chunks.push(c));
    const ended = new Promise((r) => pack.on("end", r));
    bodies.forEach((b, i) => pack.entry({ name: `usr/share/x/f${i}`, size: b.length, mode: 0o644, mtime: new Date(1_700_000_000_000) }, b));
    pack.finalize();
    await ended;
    const art = path.join(dir, "p.package.tar.zst");
    fs.writeFileSync(art, compress(Buffer.concat(chunks)));
    const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
    const want = bodies.map(md5);
    const was = process.env.OUZO_UNPACK_MD5;
    try {
      // a CPU without AVX-512 or AVX2 takes the best it has
      for (const way of ["stream", "base", "avx2", "avx512"]) {
        process.env.OUZO_UNPACK_MD5 = way;
        const u = new Unpacker("native", 1);
        try {
          const r = await u.unpack(art, path.join(dir, `w-${way}`), {});
          const got = new Map(r.entries.map((e) => [e.path, e.md5]));
          expect(bodies.map((_, i) => got.get(`/usr/share/x/f${i}`)), way).toEqual(want);
        } finally {
          await u.close();
        }
      }
    } finally {
      if (was === undefined) delete process.env.OUZO_UNPACK_MD5;
      else process.env.OUZO_UNPACK_MD5 = was;
    }
  });
});

describe("the native unpacker's build", () => {
  it.runIf(process.env.CI)("is built on CI", () => {
    expect(helper).toBeDefined();
  });
  it("is not used when OUZO_UNPACKER=js", () => {
    const was = process.env.OUZO_UNPACKER;
    process.env.OUZO_UNPACKER = "js";
    try {
      expect(nativeUnpackerPath()).toBeUndefined();
      expect(new Unpacker().mode).not.toBe("native");
    } finally {
      if (was === undefined) delete process.env.OUZO_UNPACKER;
      else process.env.OUZO_UNPACKER = was;
    }
  });
});
