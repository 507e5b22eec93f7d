import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OuzoError } from "../src/core/errors.js";
import { CollectingReporter } from "../src/core/reporter.js";
import { applyInstallMask, installMasked, parseInstallMask, parsePathLists, processImage, type ImageInput } from "../src/build/image.js";
import { multilibCategory, readElf, scanBuildLog } from "../src/build/imageQa.js";
import { tmpdir, writeTree } from "./helpers.js";

// Real programs, built once: a binary with debug information, a shared library and a user of it.
let bin: string;
const PROG = `#include <stdio.h>
int helper(int x) { return x * 2; }
int main(void) { printf("answer %d\\n", helper(21)); return 0; }
`;
const LIB = `#include <stdlib.h>
int foo_value(void) { return getenv("OUZO_NO_SUCH_VARIABLE") ? 1 : 7; }
`;
const USER = `#include <stdio.h>
int foo_value(void);
int main(void) { printf("foo %d\\n", foo_value()); return 0; }
`;

beforeAll(() => {
  bin = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-image-bin-"));
  fs.writeFileSync(path.join(bin, "prog.c"), PROG);
  fs.writeFileSync(path.join(bin, "foo.c"), LIB);
  fs.writeFileSync(path.join(bin, "user.c"), USER);
  execFileSync("gcc", ["-g", "-O0", "-o", "prog", "prog.c"], { cwd: bin });
  execFileSync("gcc", ["-g", "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "libfoo.so.1.0", "foo.c"], { cwd: bin });
  fs.symlinkSync("libfoo.so.1.0", path.join(bin, "libfoo.so"));
  execFileSync("gcc", ["-g", "-o", "user", "user.c", "-L.", "-lfoo"], { cwd: bin });
  execFileSync("gcc", ["-g", "-shared", "-fPIC", "-o", "libbar.so", "foo.c"], { cwd: bin });
  execFileSync("gcc", ["-g", "-c", "-fPIC", "-o", "foo.o", "foo.c"], { cwd: bin });
  execFileSync("ar", ["rcs", "libfoo.a", "foo.o"], { cwd: bin });
  execFileSync("gcc", ["-z", "execstack", "-o", "execstack", "prog.c"], { cwd: bin });
});

afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));

const T0 = 1_600_000_000;

/** An image dir D with files copied or written into it. */
function image(files: Record<string, string> = {}): string {
  const base = tmpdir("ouzo-image-");
  const d = path.join(base, "image");
  fs.mkdirSync(d);
  writeTree(d, files);
  return d;
}

function put(d: string, rel: string, from: string, mode = 0o755): string {
  const p = path.join(d, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.copyFileSync(path.join(bin, from), p);
  fs.chmodSync(p, mode);
  fs.utimesSync(p, T0, T0);
  return p;
}

function input(d: string, over: Partial<ImageInput> = {}): ImageInput {
  return { imageDir: d, eapi: "8", category: "app-misc", pf: "foo-1.0", features: new Set(), restrict: new Set(), jobs: 2, ...over };
}

const doc = "This is a README that is long enough to be compressed by the image step of ouzo.\n".repeat(4);

describe("stripping", () => {
  it("strips an ELF with debug information: smaller, still runs, mode and mtime kept", async () => {
    const d = image();
    const p = put(d, "usr/bin/prog", "prog", 0o555);
    const before = fs.statSync(p).size;
    expect(readElf(p)!.symtab).toBe(true);
    const r = await processImage(input(d), new CollectingReporter());
    expect(r.stripped).toEqual(["/usr/bin/prog"]);
    const st = fs.statSync(p);
    expect(st.size).toBeLessThan(before);
    expect(readElf(p)!.symtab).toBe(false);
    expect(readElf(p)!.debugInfo).toBe(false);
    expect(st.mode & 0o7777).toBe(0o555);
    expect(st.mtimeMs).toBe(T0 * 1000);
    expect(execFileSync(p, { encoding: "utf8" })).toBe("answer 42\n");
    expect(r.buildInfo.DEBUGBUILD).toBeUndefined();
  });

  it("leaves files under a dostrip -x path alone", async () => {
    const d = image();
    const kept = put(d, "opt/foo/bin/keep", "prog");
    const gone = put(d, "usr/bin/prog", "prog");
    const r = await processImage(input(d, { dostrip: parsePathLists("+/\n-/opt/foo\n") }), new CollectingReporter());
    expect(r.stripped).toEqual(["/usr/bin/prog"]);
    expect(fs.readFileSync(kept).equals(fs.readFileSync(path.join(bin, "prog")))).toBe(true);
    expect(fs.statSync(gone).size).toBeLessThan(fs.statSync(kept).size);
  });

  it("strips nothing with RESTRICT=strip or FEATURES=nostrip, and records DEBUGBUILD", async () => {
    for (const over of [{ restrict: new Set(["strip"]) }, { features: new Set(["nostrip"]) }]) {
      const d = image();
      const p = put(d, "usr/bin/prog", "prog");
      const r = await processImage(input(d, over), new CollectingReporter());
      expect(r.stripped).toEqual([]);
      expect(fs.readFileSync(p).equals(fs.readFileSync(path.join(bin, "prog")))).toBe(true);
      expect(r.buildInfo.DEBUGBUILD).toBe("");
    }
  });

  it("honours STRIP_MASK in EAPI 6", async () => {
    const d = image();
    const masked = put(d, "usr/lib/foo/plugin", "prog");
    put(d, "usr/bin/prog", "prog");
    const r = await processImage(input(d, { eapi: "6", stripMask: "/usr/lib/foo/*" }), new CollectingReporter());
    expect(r.stripped).toEqual(["/usr/bin/prog"]);
    expect(fs.readFileSync(masked).equals(fs.readFileSync(path.join(bin, "prog")))).toBe(true);
  });

  it("strips a hard-linked file once and keeps its names linked", async () => {
    const d = image();
    const a = put(d, "usr/bin/prog", "prog");
    fs.linkSync(a, path.join(d, "usr/bin/prog-alias"));
    const r = await processImage(input(d), new CollectingReporter());
    expect(r.stripped).toEqual(["/usr/bin/prog", "/usr/bin/prog-alias"]);
    const sa = fs.statSync(a);
    const sb = fs.statSync(path.join(d, "usr/bin/prog-alias"));
    expect(sb.ino).toBe(sa.ino);
    expect(sa.nlink).toBe(2);
    expect(readElf(a)!.symtab).toBe(false);
    // SIZE counts the inode once
    expect(r.size).toBe(sa.size);
  });

  it("strips debug information from a static archive and keeps its symbols", async () => {
    const d = image();
    const a = put(d, "usr/lib64/libfoo.a", "libfoo.a", 0o644);
    const before = fs.statSync(a).size;
    const r = await processImage(input(d), new CollectingReporter());
    expect(r.stripped).toEqual(["/usr/lib64/libfoo.a"]);
    expect(fs.statSync(a).size).toBeLessThan(before);
    expect(execFileSync("nm", [a], { encoding: "utf8" })).toMatch(/T foo_value/);
    expect(execFileSync("readelf", ["-S", a], { encoding: "utf8" })).not.toContain(".debug_info");
  });

  it("splits debug information with FEATURES=splitdebug", async () => {
    const d = image();
    const p = put(d, "usr/bin/prog", "prog");
    const buildId = readElf(p)!.buildId;
    const r = await processImage(input(d, { features: new Set(["splitdebug"]) }), new CollectingReporter());
    expect(r.debugFiles).toEqual(["/usr/lib/debug/usr/bin/prog.debug"]);
    const dbg = readElf(path.join(d, "usr/lib/debug/usr/bin/prog.debug"))!;
    expect(dbg.debugInfo).toBe(true);
    expect(fs.statSync(path.join(d, "usr/lib/debug/usr/bin/prog.debug")).mode & 0o111).toBe(0);
    expect(execFileSync("readelf", ["-S", p], { encoding: "utf8" })).toContain(".gnu_debuglink");
    expect(execFileSync(p, { encoding: "utf8" })).toBe("answer 42\n");
    if (buildId) {
      const link = path.join(d, "usr/lib/debug/.build-id", buildId.slice(0, 2), `${buildId.slice(2)}.debug`);
      expect(fs.realpathSync(link)).toBe(fs.realpathSync(path.join(d, "usr/lib/debug/usr/bin/prog.debug")));
    }
    // split debug files are not ELF objects of the package
    expect(r.elf.map((o) => o.path)).toEqual(["/usr/bin/prog"]);
  });
});

describe("doc compression", () => {
  it("compresses docs above the size limit, not html/ nor small files, keeps mtimes and re-points symlinks", async () => {
    const d = image({
      "usr/share/doc/foo-1.0/README": doc,
      "usr/share/doc/foo-1.0/tiny": "short\n",
      "usr/share/doc/foo-1.0/html/index.html": doc,
      "usr/share/doc/foo-1.0/html/manual.txt": doc,
      "usr/share/man/man1/foo.1": doc,
    });
    fs.utimesSync(path.join(d, "usr/share/doc/foo-1.0/README"), T0, T0);
    fs.symlinkSync("README", path.join(d, "usr/share/doc/foo-1.0/LINK"));
    fs.symlinkSync("/usr/share/man/man1/foo.1", path.join(d, "usr/share/doc/foo-1.0/foo.1"));
    const r = await processImage(input(d), new CollectingReporter());
    expect(r.compressed).toEqual(["/usr/share/doc/foo-1.0/README.bz2", "/usr/share/man/man1/foo.1.bz2"]);
    const z = path.join(d, "usr/share/doc/foo-1.0/README.bz2");
    expect(fs.existsSync(path.join(d, "usr/share/doc/foo-1.0/README"))).toBe(false);
    expect(execFileSync("bzip2", ["-dc", z], { encoding: "utf8" })).toBe(doc);
    expect(fs.statSync(z).mtimeMs).toBe(T0 * 1000);
    expect(fs.readFileSync(path.join(d, "usr/share/doc/foo-1.0/tiny"), "utf8")).toBe("short\n");
    expect(fs.readFileSync(path.join(d, "usr/share/doc/foo-1.0/html/index.html"), "utf8")).toBe(doc);
    expect(fs.readFileSync(path.join(d, "usr/share/doc/foo-1.0/html/manual.txt"), "utf8")).toBe(doc);
    expect(fs.readlinkSync(path.join(d, "usr/share/doc/foo-1.0/LINK.bz2"))).toBe("README.bz2");
    expect(fs.existsSync(path.join(d, "usr/share/doc/foo-1.0/LINK"))).toBe(false);
    expect(fs.readlinkSync(path.join(d, "usr/share/doc/foo-1.0/foo.1.bz2"))).toBe("/usr/share/man/man1/foo.1.bz2");
    expect(r.relinked).toEqual([
      { from: "/usr/share/doc/foo-1.0/LINK", to: "/usr/share/doc/foo-1.0/LINK.bz2" },
      { from: "/usr/share/doc/foo-1.0/foo.1", to: "/usr/share/doc/foo-1.0/foo.1.bz2" },
    ]);
  });

  it("recompresses a gzip doc, leaves excluded suffixes, honours docompress -x and PORTAGE_COMPRESS=\"\"", async () => {
    const d = image({
      "usr/share/doc/foo-1.0/manual.pdf": doc,
      "usr/share/doc/foo-1.0/examples/a.txt": doc,
      "usr/share/doc/foo-1.0/NEWS": doc,
    });
    fs.mkdirSync(path.join(d, "usr/share/man/man1"), { recursive: true });
    fs.writeFileSync(path.join(d, "usr/share/man/man1/old.1.gz"), zlib.gzipSync(doc));
    const lists = parsePathLists("+/usr/share/doc\n+/usr/share/man\n-/usr/share/doc/foo-1.0/examples\n");
    const r = await processImage(input(d, { docompress: lists }), new CollectingReporter());
    expect(r.compressed).toEqual(["/usr/share/doc/foo-1.0/NEWS.bz2", "/usr/share/man/man1/old.1.bz2"]);
    expect(execFileSync("bzip2", ["-dc", path.join(d, "usr/share/man/man1/old.1.bz2")], { encoding: "utf8" })).toBe(doc);
    expect(fs.existsSync(path.join(d, "usr/share/doc/foo-1.0/manual.pdf"))).toBe(true);
    expect(fs.existsSync(path.join(d, "usr/share/doc/foo-1.0/examples/a.txt"))).toBe(true);

    const off = image({ "usr/share/doc/foo-1.0/README": doc });
    const r2 = await processImage(input(off, { compress: "" }), new CollectingReporter());
    expect(r2.compressed).toEqual([]);
    expect(fs.existsSync(path.join(off, "usr/share/doc/foo-1.0/README"))).toBe(true);
  });

  it("leaves x and x.gz both alone, with a notice", async () => {
    const d = image({ "usr/share/doc/foo-1.0/ChangeLog": doc });
    fs.writeFileSync(path.join(d, "usr/share/doc/foo-1.0/ChangeLog.gz"), zlib.gzipSync(doc));
    const rep = new CollectingReporter();
    const r = await processImage(input(d), rep);
    expect(r.compressed).toEqual([]);
    expect(r.qa.filter((f) => f.code === "QA_COMPRESS_COLLISION").map((f) => f.path)).toEqual(["/usr/share/doc/foo-1.0/ChangeLog", "/usr/share/doc/foo-1.0/ChangeLog.gz"]);
  });
});

describe("INSTALL_MASK", () => {
  it("removes matching files, keeps exceptions, prunes emptied directories and records the mask", async () => {
    const d = image({
      "usr/share/locale/de/LC_MESSAGES/foo.mo": "x",
      "usr/share/locale/en/LC_MESSAGES/foo.mo": "x",
      "usr/lib64/libfoo.la": "# libtool\n",
      "usr/bin/foo": "#!/bin/sh\n",
      "etc/systemd/system/foo.service": "[Unit]\n",
    });
    const r = await processImage(input(d, { installMask: "/usr/share/locale -/usr/share/locale/en *.la /etc/systemd/" }), new CollectingReporter());
    expect(fs.existsSync(path.join(d, "usr/share/locale/de"))).toBe(false);
    expect(fs.existsSync(path.join(d, "usr/share/locale/en/LC_MESSAGES/foo.mo"))).toBe(true);
    expect(fs.existsSync(path.join(d, "usr/lib64"))).toBe(false);
    expect(fs.existsSync(path.join(d, "etc"))).toBe(false);
    expect(fs.existsSync(path.join(d, "usr/bin/foo"))).toBe(true);
    expect(r.removed.filter((x) => x.reason === "install-mask").map((x) => x.path)).toEqual([
      "/etc",
      "/etc/systemd",
      "/etc/systemd/system",
      "/etc/systemd/system/foo.service",
      "/usr/lib64",
      "/usr/lib64/libfoo.la",
      "/usr/share/locale/de",
      "/usr/share/locale/de/LC_MESSAGES",
      "/usr/share/locale/de/LC_MESSAGES/foo.mo",
    ]);
    expect(r.buildInfo.INSTALL_MASK).toBe("/usr/share/locale -/usr/share/locale/en *.la /etc/systemd/\n");
  });

  it("lets the last matching pattern decide", () => {
    const rules = parseInstallMask("/usr/share/doc -/usr/share/doc/*/README /usr/share/doc/x");
    expect(installMasked(rules, "/usr/share/doc/a/NEWS")).toBe(true);
    expect(installMasked(rules, "/usr/share/doc/a/README")).toBe(false);
    expect(installMasked(rules, "/usr/share/doc/x/README")).toBe(true);
    expect(installMasked(rules, "/usr/share/docs")).toBe(false);
  });

  it("FEATURES=nodoc masks /usr/share/doc, and applyInstallMask works on any tree (PKG_INSTALL_MASK)", async () => {
    const d = image({ "usr/share/doc/foo-1.0/README": doc, "usr/bin/foo": "#!/bin/sh\n" });
    await processImage(input(d, { features: new Set(["nodoc"]) }), new CollectingReporter());
    expect(fs.existsSync(path.join(d, "usr/share"))).toBe(false);
    const copy = image({ "usr/include/foo.h": "", "usr/bin/foo": "" });
    expect(applyInstallMask(copy, "/usr/include")).toEqual(["/usr/include", "/usr/include/foo.h"]);
  });
});

describe("empty directories", () => {
  it("EAPI 8 removes an empty directory but keeps one with a keep file", async () => {
    const d = image({ "var/lib/foo/.keep_app-misc_foo-0": "", "usr/bin/foo": "#!/bin/sh\n" });
    fs.mkdirSync(path.join(d, "usr/share/empty/deeper"), { recursive: true });
    const r = await processImage(input(d), new CollectingReporter());
    expect(fs.existsSync(path.join(d, "usr/share"))).toBe(false);
    expect(fs.existsSync(path.join(d, "var/lib/foo/.keep_app-misc_foo-0"))).toBe(true);
    expect(r.removed.filter((x) => x.reason === "empty-dir").map((x) => x.path)).toEqual(["/usr/share/empty/deeper", "/usr/share/empty", "/usr/share"]);
  });

  it("EAPI 7 keeps empty directories, with a notice for those under /var", async () => {
    const d = image({ "usr/bin/foo": "#!/bin/sh\n" });
    fs.mkdirSync(path.join(d, "usr/share/empty"), { recursive: true });
    fs.mkdirSync(path.join(d, "var/spool/foo"), { recursive: true });
    const r = await processImage(input(d, { eapi: "7" }), new CollectingReporter());
    expect(fs.existsSync(path.join(d, "usr/share/empty"))).toBe(true);
    expect(r.qa.filter((f) => f.code === "QA_EMPTY_VAR_DIR").map((f) => f.path)).toEqual(["/var/spool/foo"]);
  });
});

describe("QA", () => {
  it("warns about a world-writable file, naming it", async () => {
    const d = image({ "usr/share/foo/data": "x", "usr/share/foo/fine": "y" });
    fs.chmodSync(path.join(d, "usr/share/foo/data"), 0o666);
    const rep = new CollectingReporter();
    await processImage(input(d), rep);
    const w = rep.events.filter((e) => e.kind === "warning" && e.code === "QA_WORLD_WRITABLE");
    expect(w).toEqual([{ kind: "warning", code: "QA_WORLD_WRITABLE", message: "QA Notice: world-writable file: /usr/share/foo/data" }]);
  });

  it("refuses a world-writable set-id file", async () => {
    const d = image({ "usr/bin/bad": "#!/bin/sh\n" });
    fs.chmodSync(path.join(d, "usr/bin/bad"), 0o4777);
    const err = await processImage(input(d), new CollectingReporter()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OuzoError);
    expect((err as OuzoError).code).toBe("IMAGE_QA");
    expect((err as OuzoError).message).toContain("/usr/bin/bad");
  });

  it("refuses an image with ${D}${D} in it, before changing anything", async () => {
    const d = image({ "usr/share/doc/foo-1.0/README": doc });
    writeTree(path.join(d, d), { "usr/bin/foo": "x" });
    const err = await processImage(input(d), new CollectingReporter()).catch((e: unknown) => e);
    expect((err as OuzoError).code).toBe("IMAGE_QA");
    expect((err as OuzoError).message).toMatch(/\$\{D\}\$\{D\}.*usr\/bin\/foo/);
    expect(fs.existsSync(path.join(d, "usr/share/doc/foo-1.0/README"))).toBe(true);
  });

  it("reports files in forbidden places, docs outside ${PF}, runtime dirs and pre-stripped ELF files", async () => {
    const d = image({
      "usr/local/bin/foo": "x",
      "usr/share/doc/other/README": "x",
      "var/run/foo.pid": "1",
      "var/cache/foo/.keep_app-misc_foo-0": "",
      "usr/man/man1/foo.1": "x",
    });
    const p = put(d, "usr/bin/prestripped", "prog");
    execFileSync("strip", [p]);
    const r = await processImage(input(d), new CollectingReporter());
    const by = (code: string) => r.qa.filter((f) => f.code === code).map((f) => f.path);
    expect(by("QA_USR_LOCAL")).toEqual(["/usr/local/bin/foo"]);
    expect(by("QA_DOC_DIR")).toEqual(["/usr/share/doc/other"]);
    expect(by("QA_RUNTIME_DIR")).toEqual(["/var/run"]);
    expect(by("QA_DEPRECATED_DIR")).toEqual(["/usr/man"]);
    expect(by("QA_PRESTRIPPED")).toEqual(["/usr/bin/prestripped"]);
    const quiet = image();
    execFileSync("strip", [put(quiet, "usr/bin/prestripped", "prog")]);
    const r2 = await processImage(input(quiet, { qa: { QA_PRESTRIPPED: "usr/bin/pre.*" } }), new CollectingReporter());
    expect(r2.qa.filter((f) => f.code === "QA_PRESTRIPPED")).toEqual([]);
  });

  it("warns about an executable stack unless QA_EXECSTACK (a glob) or RESTRICT=binchecks covers it", async () => {
    const d = image();
    put(d, "usr/bin/execstack", "execstack");
    put(d, "usr/bin/prog", "prog");
    const r = await processImage(input(d), new CollectingReporter());
    expect(r.qa.filter((f) => f.code === "QA_EXECSTACK").map((f) => f.message)).toEqual(["QA Notice: executable stack: /usr/bin/execstack"]);
    for (const over of [{ qa: { QA_EXECSTACK: "usr/bin/exec*" } }, { restrict: new Set(["binchecks"]) }]) {
      const q = image();
      put(q, "usr/bin/execstack", "execstack");
      expect((await processImage(input(q, over), new CollectingReporter())).qa.filter((f) => f.code === "QA_EXECSTACK")).toEqual([]);
    }
  });

  it("rewrites an absolute symlink into ${D} and warns", async () => {
    const d = image({ "usr/lib/foo/real": "x" });
    fs.mkdirSync(path.join(d, "usr/bin"), { recursive: true });
    fs.symlinkSync(path.join(d, "usr/lib/foo/real"), path.join(d, "usr/bin/foo"));
    const r = await processImage(input(d), new CollectingReporter());
    expect(fs.readlinkSync(path.join(d, "usr/bin/foo"))).toBe("/usr/lib/foo/real");
    expect(r.qa.find((f) => f.code === "QA_SYMLINK_INTO_IMAGE")?.path).toBe("/usr/bin/foo");
  });

  it("renames a file name that is not UTF-8", async () => {
    const d = image({ "usr/share/foo/x": "x" });
    fs.writeFileSync(Buffer.concat([Buffer.from(`${d}/usr/share/foo/bad-`), Buffer.from([0xff, 0xfe])]), "y");
    const r = await processImage(input(d), new CollectingReporter());
    expect(fs.readdirSync(path.join(d, "usr/share/foo")).sort()).toEqual(["bad-\uFFFD\uFFFD", "x"]);
    expect(r.qa.find((f) => f.code === "QA_NON_UTF8_NAME")?.path).toBe("/usr/share/foo/bad-\uFFFD\uFFFD");
  });

  it("finds build-log problems: missing helper files, implicit declarations, unknown configure options", async () => {
    const d = image({ "usr/bin/foo": "#!/bin/sh\n" });
    const log = path.join(path.dirname(d), "build.log.gz");
    fs.writeFileSync(
      log,
      zlib.gzipSync(
        [
          ">>> Install foo-1.0 into image",
          "!!! dodoc: CHANGES does not exist",
          "foo.c:12:5: warning: implicit declaration of function 'bar' [-Wimplicit-function-declaration]",
          "configure: WARNING: unrecognized options: --disable-static, --enable-wibble",
          "./build.sh: line 3: makeinfo: command not found",
        ].join("\n"),
      ),
    );
    const r = await processImage(input(d, { buildLog: log, qa: { QA_CONFIGURE_OPTIONS: "--disable-static" } }), new CollectingReporter());
    expect(r.qa.filter((f) => f.code.startsWith("QA_") && !f.path).map((f) => f.message)).toEqual([
      "QA Notice: dodoc: CHANGES does not exist",
      "QA Notice: severe compiler warning: foo.c:12:5: warning: implicit declaration of function 'bar' [-Wimplicit-function-declaration]",
      "QA Notice: unrecognized configure options: --enable-wibble",
      "QA Notice: command not found: makeinfo",
    ]);
    expect(scanBuildLog("all fine\n", {})).toEqual([]);
  });

  it("gives files of the build user to root", async () => {
    if (process.getuid?.() !== 0) return;
    const d = image({ "usr/bin/foo": "#!/bin/sh\n" });
    const f = path.join(d, "usr/bin/foo");
    fs.chownSync(f, 1234, 1234);
    fs.chmodSync(f, 0o4755);
    await processImage(input(d, { buildUid: 1234, buildGid: 1234 }), new CollectingReporter());
    const st = fs.statSync(f);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, 0o4755]);
  });
});

describe("ELF dependency data", () => {
  it("writes NEEDED, NEEDED.ELF.2, PROVIDES and REQUIRES from the dynamic sections", async () => {
    const d = image();
    put(d, "usr/bin/prog", "prog");
    put(d, "usr/bin/user", "user");
    put(d, "usr/lib64/libfoo.so.1.0", "libfoo.so.1.0");
    fs.symlinkSync("libfoo.so.1.0", path.join(d, "usr/lib64/libfoo.so.1"));
    const info = path.join(path.dirname(d), "build-info");
    const r = await processImage(input(d, { buildInfoDir: info }), new CollectingReporter());
    const cat = multilibCategory(readElf(path.join(bin, "prog"))!)!;
    const arch = { x86_64: "X86_64", arm_64: "AARCH64" }[cat] ?? "";
    expect(fs.readFileSync(path.join(info, "NEEDED"), "utf8")).toBe("/usr/bin/prog libc.so.6\n/usr/bin/user libfoo.so.1,libc.so.6\n/usr/lib64/libfoo.so.1.0 libc.so.6\n");
    if (arch) {
      expect(fs.readFileSync(path.join(info, "NEEDED.ELF.2"), "utf8")).toBe(
        `${arch};/usr/bin/prog;;;libc.so.6;${cat}\n${arch};/usr/bin/user;;;libfoo.so.1,libc.so.6;${cat}\n${arch};/usr/lib64/libfoo.so.1.0;libfoo.so.1;;libc.so.6;${cat}\n`,
      );
    }
    expect(fs.readFileSync(path.join(info, "PROVIDES"), "utf8")).toBe(`${cat}: libfoo.so.1\n`);
    expect(fs.readFileSync(path.join(info, "REQUIRES"), "utf8")).toBe(`${cat}: libc.so.6\n`);
    expect(fs.readFileSync(path.join(info, "SIZE"), "utf8")).toBe(`${r.size}\n`);
    expect(r.qa.filter((f) => f.code === "QA_SONAME_SYMLINK")).toEqual([]);
    // the stripped objects still work together
    expect(execFileSync(path.join(d, "usr/bin/user"), { encoding: "utf8", env: { LD_LIBRARY_PATH: path.join(d, "usr/lib64") } })).toBe("foo 7\n");
  });

  it("gives a library without SONAME its file name as soname, with a QA warning", async () => {
    const d = image();
    put(d, "usr/lib64/libbar.so", "libbar.so");
    const r = await processImage(input(d), new CollectingReporter());
    const cat = multilibCategory(readElf(path.join(bin, "prog"))!)!;
    expect(r.buildInfo.PROVIDES).toBe(`${cat}: libbar.so\n`);
    expect(r.qa.filter((f) => f.code === "QA_SONAME").map((f) => f.path)).toEqual(["/usr/lib64/libbar.so"]);
    const quiet = image();
    put(quiet, "usr/lib64/libbar.so", "libbar.so");
    const r2 = await processImage(input(quiet, { qa: { QA_SONAME: "usr/lib64/libbar\\.so" }, providesExclude: "libbar.so" }), new CollectingReporter());
    expect(r2.qa.filter((f) => f.code === "QA_SONAME")).toEqual([]);
    expect(r2.buildInfo.PROVIDES).toBeUndefined();
  });

  it("reads nothing from a file that only looks like ELF", async () => {
    const d = image();
    const p = path.join(d, "usr/lib/fake.so");
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(200, 0xff)]));
    expect(readElf(p)).toBeUndefined();
    const r = await processImage(input(d), new CollectingReporter());
    expect(r.elf).toEqual([]);
    expect(r.buildInfo.NEEDED).toBeUndefined();
  });
});

// A measurement, not a check: OUZO_IMAGE_BENCH=1 npx vitest run test/image.test.ts -t "5,000-file"
describe.skipIf(!process.env.OUZO_IMAGE_BENCH)("measurement", () => {
  it("processes a 5,000-file image", async () => {
    const d = image();
    const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ".repeat(8);
    let bytes = 0;
    for (let i = 0; i < 5000; i++) {
      let rel: string;
      let body: string | undefined;
      if (i < 40) {
        rel = `usr/bin/prog${i}`;
        put(d, rel, "prog");
      } else if (i < 60) {
        rel = `usr/lib64/libfoo${i}.so`;
        put(d, rel, "libfoo.so.1.0");
      } else if (i < 1560) {
        rel = `usr/share/doc/foo-1.0/part${i % 30}/doc${i}.txt`;
        body = words.repeat(1 + (i % 12));
      } else if (i < 2060) {
        rel = `usr/share/man/man${1 + (i % 8)}/page${i}.${1 + (i % 8)}`;
        body = words.repeat(1 + (i % 6));
      } else {
        rel = `usr/share/foo/data/d${i % 50}/file${i}.dat`;
        body = words.repeat(1 + (i % 20)) + "x".repeat(i % 9000);
      }
      if (body !== undefined) {
        const p = path.join(d, rel);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, body);
      }
      bytes += fs.statSync(path.join(d, rel)).size;
    }
    const t = performance.now();
    const variant = JSON.parse(process.env.OUZO_IMAGE_BENCH_VARIANT ?? "{}") as { compress?: string; nostrip?: boolean };
    const r = await processImage(
      input(d, { buildInfoDir: path.join(path.dirname(d), "build-info"), compress: variant.compress, features: new Set(variant.nostrip ? ["nostrip"] : []) }),
      new CollectingReporter(),
    );
    const ms = performance.now() - t;
    console.log(`image of 5000 files, ${(bytes / 1e6).toFixed(1)} MB: ${ms.toFixed(0)} ms; ${r.stripped.length} stripped, ${r.compressed.length} compressed, SIZE ${(r.size / 1e6).toFixed(1)} MB`);
    expect(r.stripped.length).toBe(variant.nostrip ? 0 : 60);
  });
});
