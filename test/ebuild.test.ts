// `ouzo ebuild`: real ebuilds of every EAPI the MARK release uses, built from a real distfile
// through ouzo's phase.sh into an image, with real bash, make and cc.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { builddir, buildSystem, ebuild, makeHelloTarball } from "./buildFixture.js";
import { ouzoAsync, tmpdir, writeTree } from "./helpers.js";

const run = (file: string) => spawnSync(file, [], { encoding: "utf8" }).stdout;

describe("ouzo ebuild", () => {
  it("builds a C program from its distfile into the image: eclass export, econf, PATCHES, DOCS, dosym -r, keepdir", async () => {
    const sys = await buildSystem();
    const r = ebuild(sys, "app-misc/hello-1.0", ["install"]);
    expect(r.stderr).toContain(">>> Completed installing app-misc/hello-1.0 into");
    expect(r.code).toBe(0);
    const dir = builddir(sys, "app-misc/hello-1.0");
    const image = path.join(dir, "image");
    expect(run(path.join(image, "usr/bin/hello"))).toBe("hello, patched world\n");
    expect(fs.readlinkSync(path.join(image, "usr/bin/hi"))).toBe("hello");
    expect(fs.existsSync(path.join(image, "usr/lib64/libhello.a"))).toBe(true);
    expect(fs.readFileSync(path.join(image, "usr/share/doc/hello-1.0/README"), "utf8")).toContain("hello: prints a greeting.");
    expect(fs.existsSync(path.join(image, "var/lib/hello/.keep_app-misc_hello-0"))).toBe(true);
    expect(fs.readFileSync(path.join(image, "etc/hello.conf"), "utf8")).toBe("greeting=hello\n");
    const args = fs.readFileSync(path.join(dir, "work/hello-1.0/configure.args"), "utf8");
    expect(args).toContain("--prefix=/usr");
    expect(args).toContain("--libdir=/usr/lib64");
    expect(args).toContain("--host=x86_64-pc-linux-gnu");
    expect(args).toContain("--with-greeting=hello --disable-debug");
    for (const m of [".setuped", ".unpacked", ".prepared", ".configured", ".compiled", ".installed"]) expect(fs.existsSync(path.join(dir, m)), m).toBe(true);
    const log = fs.readFileSync(path.join(dir, "temp/build.log"), "utf8");
    expect(log).toContain(">>> Source compiled.");
    expect(fs.readFileSync(path.join(dir, "temp/logging/install"), "utf8")).toContain("LOG hello is installed; run 'hello'");
  });

  it("resumes where an earlier command stopped, and USE changes what is built", async () => {
    const sys = await buildSystem();
    expect(ebuild(sys, "app-misc/hello-1.0", ["compile"], { env: { USE: "-patched" } }).code).toBe(0);
    const dir = builddir(sys, "app-misc/hello-1.0");
    expect(fs.existsSync(path.join(dir, ".compiled"))).toBe(true);
    expect(fs.existsSync(path.join(dir, ".installed"))).toBe(false);
    const r = ebuild(sys, "app-misc/hello-1.0", ["install"], { env: { USE: "-patched" }, args: ["--json"] });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { phases: { phase: string; skipped?: boolean }[] };
    expect(doc.phases.filter((p) => p.skipped).map((p) => p.phase)).toEqual(["setup", "unpack", "prepare", "configure", "compile"]);
    expect(doc.phases.filter((p) => !p.skipped).map((p) => p.phase)).toEqual(["install"]);
    expect(run(path.join(dir, "image/usr/bin/hello"))).toBe("hello, world\n");
    expect(ebuild(sys, "app-misc/hello-1.0", ["clean"]).code).toBe(0);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it.each([
    ["eapi0", "hello, world\n", "usr/share/doc/eapi0-1.0/README"],
    ["eapi2", "hello, world\n", undefined],
    ["eapi3", "hello, world\n", "usr/share/eapi3/hello"],
    ["eapi4", "hello, world\n", "usr/share/doc/eapi4-1.0/README"],
    ["eapi5", "hi, world\n", undefined],
    ["eapi6", "hello, patched world\n", "usr/share/doc/eapi6-1.0/README"],
    ["eapi7", "hello, world\n", "usr/share/doc/eapi7-1.0/NOTES"],
  ])("builds %s with that EAPI's default phases", async (pn, greeting, extra) => {
    const sys = await buildSystem();
    const r = ebuild(sys, `app-misc/${pn}-1.0`, ["install"]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const image = path.join(builddir(sys, `app-misc/${pn}-1.0`), "image");
    expect(run(path.join(image, "usr/bin/hello"))).toBe(greeting);
    if (extra) expect(fs.existsSync(path.join(image, extra)), extra).toBe(true);
  });

  it("runs only setup and install for a virtual", async () => {
    const sys = await buildSystem();
    const r = ebuild(sys, "virtual/greeter-1", ["install"], { args: ["--json"] });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { phases: { phase: string }[] }).phases.map((p) => p.phase)).toEqual(["setup", "install"]);
  });

  it("answers has_version and best_version from ROOT's installed packages, and carries pkg_setup's variables to src_install", async () => {
    const sys = await buildSystem();
    const conf = (s: string) => fs.readFileSync(path.join(builddir(sys, "app-misc/nosrc-1.0"), "image/etc/nosrc/nosrc.conf"), "utf8");
    expect(ebuild(sys, "app-misc/nosrc-1.0", ["install"]).code).toBe(0);
    expect(conf("")).toBe("installed-seen=no best=\n");
    writeTree(sys.root, { "var/db/pkg/app-misc/installed-2.0/SLOT": "0\n", "var/db/pkg/app-misc/installed-2.0/EAPI": "7\n", "var/db/pkg/app-misc/installed-1.0/SLOT": "1\n" });
    expect(ebuild(sys, "app-misc/nosrc-1.0", ["clean", "install"]).code).toBe(0);
    expect(conf("")).toBe("installed-seen=yes best=app-misc/installed-2.0\n");
  });

  it("records dependencies as built: conditionals evaluated, groups kept, := bound to the installed sub-slot", async () => {
    const sys = await buildSystem();
    writeTree(sys.root, { "var/db/pkg/dev-libs/libz-1.2/SLOT": "0/1.2\n", "var/db/pkg/dev-libs/libz-1.2/EAPI": "7\n" });
    expect(ebuild(sys, "app-misc/nosrc-1.0", ["instprep"]).code).toBe(0);
    const info = path.join(builddir(sys, "app-misc/nosrc-1.0"), "build-info");
    expect(fs.readFileSync(path.join(info, "RDEPEND"), "utf8")).toBe("dev-libs/libz:0/1.2= || ( app-misc/a ( app-misc/b app-misc/c ) )\n");
    expect(fs.readFileSync(path.join(info, "LICENSE"), "utf8")).toBe("MIT\n");
    // nothing left: no file
    expect(fs.existsSync(path.join(info, "DEPEND"))).toBe(false);
  });

  it("fails the phase when die runs in a subshell whose status is ignored, naming package, phase and message", async () => {
    const sys = await buildSystem();
    const r = ebuild(sys, "app-misc/dies-1.0", ["compile"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("app-misc/dies-1.0: src_compile failed");
    expect(r.stderr).toContain("died inside a subshell");
    expect(fs.existsSync(path.join(builddir(sys, "app-misc/dies-1.0"), "temp/went-on"))).toBe(false);
    expect(fs.existsSync(path.join(builddir(sys, "app-misc/dies-1.0"), ".compiled"))).toBe(false);
  });

  it("runs src_test with FEATURES=test", async () => {
    const sys = await buildSystem('FEATURES="test"\n');
    const r = ebuild(sys, "app-misc/hello-1.0", ["test"]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(builddir(sys, "app-misc/hello-1.0"), "temp/build.log"), "utf8")).toMatch(/make .*check/);
    expect(fs.existsSync(path.join(builddir(sys, "app-misc/hello-1.0"), ".tested"))).toBe(true);
  });

  it("fetches the distfile from a mirror on 127.0.0.1, verifies it, and processes the image (strip, compress, build-info)", async () => {
    const sys = await buildSystem();
    // the distfile is only on the server: DISTDIR starts empty
    const served = makeHelloTarball(tmpdir());
    fs.rmSync(path.join(sys.distdir, "hello-1.0.tar.gz"));
    const asked: string[] = [];
    const server = http.createServer((req, res) => {
      asked.push(req.url ?? "");
      if (req.url === "/distfiles/hello-1.0.tar.gz") res.end(fs.readFileSync(served));
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    try {
      const port = (server.address() as AddressInfo).port;
      fs.appendFileSync(path.join(sys.root, "etc/portage/make.conf"), `GENTOO_MIRRORS="http://127.0.0.1:${port}"\n`);
      const file = path.join(sys.kit, "app-misc/hello/hello-1.0.ebuild");
      const r = await ouzoAsync(["ebuild", "--root", sys.root, file, "instprep"]);
      expect(r.stderr).not.toContain("ERROR");
      expect(r.code).toBe(0);
    } finally {
      server.close();
    }
    expect(asked).toContain("/distfiles/hello-1.0.tar.gz");
    expect(fs.existsSync(path.join(sys.distdir, "hello-1.0.tar.gz"))).toBe(true);
    const dir = builddir(sys, "app-misc/hello-1.0");
    const image = path.join(dir, "image");
    // docs compressed with bzip2 (MARK's PORTAGE_COMPRESS default), the binary stripped and still working
    expect(fs.existsSync(path.join(image, "usr/share/doc/hello-1.0/README.bz2"))).toBe(true);
    expect(fs.existsSync(path.join(image, "usr/share/man/man1/hello.1.bz2"))).toBe(true);
    expect(spawnSync("readelf", ["-S", path.join(image, "usr/bin/hello")], { encoding: "utf8" }).stdout).not.toContain(".symtab");
    expect(run(path.join(image, "usr/bin/hello"))).toBe("hello, patched world\n");
    const info = (f: string) => fs.readFileSync(path.join(dir, "build-info", f), "utf8");
    expect(info("NEEDED")).toMatch(/^\/usr\/bin\/hello libc\.so\.6$/m);
    expect(Number(info("SIZE"))).toBeGreaterThan(1000);
    expect(info("CATEGORY")).toBe("app-misc\n");
    expect(info("USE")).toBe("amd64 elibc_glibc kernel_linux patched\n");
    expect(info("repository")).toBe("build-kit\n");
    expect(spawnSync("bzip2", ["-dc", path.join(dir, "build-info/environment.bz2")], { encoding: "utf8" }).stdout).toContain("hello is installed");
    expect(fs.existsSync(path.join(dir, ".instprepped"))).toBe(true);
  });

  it("names the file and every URL tried when a distfile cannot be fetched", async () => {
    const sys = await buildSystem('GENTOO_MIRRORS="http://127.0.0.1:9"\n');
    fs.rmSync(path.join(sys.distdir, "hello-1.0.tar.gz"));
    const r = ebuild(sys, "app-misc/hello-1.0", ["unpack"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hello-1.0.tar.gz");
    expect(r.stderr).toContain("http://127.0.0.1:9/distfiles/hello-1.0.tar.gz");
    expect(r.stderr).toContain("https://example.invalid/dist/hello-1.0.tar.gz");
  });

  it("sandboxes src phases: an addwrite path is writable, a write elsewhere fails the build naming the path, the network is gone", async () => {
    const sys = await buildSystem();
    const allowed = tmpdir("ouzo-addwrite-");
    // outside /tmp: src phases get a private /tmp, where a path of the host is simply not there
    const forbidden = fs.mkdtempSync("/var/cache/ouzo-forbidden-");
    const server = http.createServer((_q, res) => res.end("hi"));
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const port = String((server.address() as AddressInfo).port);
    const file = path.join(sys.kit, "app-misc/sandboxed/sandboxed-1.0.ebuild");
    const dir = builddir(sys, "app-misc/sandboxed-1.0");
    try {
      const ok = await ouzoAsync(["ebuild", "--root", sys.root, file, "compile"], { env: { OUZO_TEST_ADDWRITE: allowed, OUZO_TEST_PORT: port, OUZO_TEST_LATE: "/var/cache/late" } });
      expect(ok.stderr).not.toContain("ERROR");
      expect(ok.stderr).toContain("addwrite /var/cache/late called after the sandbox was sealed");
      expect(ok.code).toBe(0);
      expect(fs.readFileSync(path.join(allowed, "written"), "utf8")).toBe("allowed\n");
      // the server is on the host's loopback, the phase in a network namespace of its own
      expect(fs.readFileSync(path.join(dir, "temp/network"), "utf8")).toBe("refused\n");
    } finally {
      server.close();
    }
    const bad = ebuild(sys, "app-misc/sandboxed-1.0", ["clean", "compile"], { env: { OUZO_TEST_FORBIDDEN: forbidden } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("src_compile was refused by the sandbox");
    expect(bad.stderr).toContain(path.join(forbidden, "escaped"));
    expect(fs.existsSync(path.join(forbidden, "escaped"))).toBe(false);
    expect(fs.existsSync(path.join(dir, ".compiled"))).toBe(false);
    fs.rmSync(forbidden, { recursive: true, force: true });
  });

  it("writes an xpak .tbz2 by default and a GPKG with BINPKG_FORMAT=gpkg, each recorded in the Packages index", async () => {
    const pkgdir = tmpdir("ouzo-pkgdir-");
    const sys = await buildSystem(`PKGDIR="${pkgdir}"\n`);
    const r = ebuild(sys, "app-misc/hello-1.0", ["package"], { args: ["--json"] });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { binpkg: { path: string; format: string } };
    expect(doc.binpkg.path).toBe(path.join(pkgdir, "app-misc/hello-1.0.tbz2"));
    // the real tar lists the image; the xpak trailer carries the build-info
    const listed = spawnSync("tar", ["-tf", doc.binpkg.path], { encoding: "utf8" }).stdout.split("\n");
    expect(listed).toContain("./usr/bin/hello");
    const { readTbz2 } = await import("../src/build/tbz2.js");
    const md = readTbz2(doc.binpkg.path);
    expect(md.get("CATEGORY")?.toString()).toBe("app-misc\n");
    expect(md.get("PF")?.toString()).toBe("hello-1.0\n");
    expect(md.has("environment.bz2")).toBe(true);
    expect(md.has("hello-1.0.ebuild")).toBe(true);
    const index = fs.readFileSync(path.join(pkgdir, "Packages"), "utf8");
    expect(index).toContain("CPV: app-misc/hello-1.0");
    expect(index).toContain("ARCH: amd64");
    fs.appendFileSync(path.join(sys.root, "etc/portage/make.conf"), 'BINPKG_FORMAT="gpkg"\n');
    const g = ebuild(sys, "app-misc/eapi7-1.0", ["package"], { args: ["--json"] });
    expect(g.code).toBe(0);
    const gpath = (JSON.parse(g.stdout) as { binpkg: { path: string } }).binpkg.path;
    expect(gpath).toBe(path.join(pkgdir, "app-misc/eapi7-1.0.gpkg.tar"));
    expect(spawnSync("tar", ["-tf", gpath], { encoding: "utf8" }).stdout).toContain("eapi7-1.0/image.tar.zst");
    expect(fs.readFileSync(path.join(pkgdir, "Packages"), "utf8")).toContain("CPV: app-misc/eapi7-1.0");
  });

  it("runs pkg_nofetch for a fetch-restricted package whose distfile is missing", async () => {
    const sys = await buildSystem();
    const r = ebuild(sys, "app-misc/fetchme-1.0", ["unpack"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Please download fetchme-1.0.tar.gz from https://example.invalid/fetchme");
    expect(r.stderr).toContain("app-misc/fetchme-1.0: fetch-restricted; download fetchme-1.0.tar.gz by hand into");
  });

  it.runIf(process.getuid?.() === 0 && fs.readFileSync("/etc/passwd", "utf8").includes("\nnobody:"))(
    "with FEATURES=userpriv, unpack to test run as PORTAGE_USERNAME and install as root",
    async () => {
      const sys = await buildSystem('FEATURES="userpriv"\nPORTAGE_USERNAME="nobody"\nPORTAGE_GRPNAME="nogroup"\n');
      for (const d of [sys.root, sys.tmp, sys.distdir]) fs.chmodSync(d, 0o755);
      const r = ebuild(sys, "app-misc/hello-1.0", ["install"]);
      expect(r.code).toBe(0);
      const dir = builddir(sys, "app-misc/hello-1.0");
      const nobody = Number(/\nnobody:[^:]*:(\d+):/.exec(fs.readFileSync("/etc/passwd", "utf8"))![1]);
      expect(fs.statSync(path.join(dir, "work/hello-1.0/hello")).uid).toBe(nobody);
      expect(fs.statSync(path.join(dir, "image/usr/bin/hello")).uid).toBe(0);
    },
  );

  it.runIf(fs.existsSync("/usr/lib/ccache/cc") || fs.existsSync("/usr/lib/ccache/bin/cc"))("compiles through the real ccache with FEATURES=ccache, writable inside the sandbox", async () => {
    const sys = await buildSystem('FEATURES="ccache"\n');
    const cache = path.join(sys.tmp, "ccache");
    expect(ebuild(sys, "app-misc/hello-1.0", ["compile"]).code).toBe(0);
    expect(ebuild(sys, "app-misc/hello-1.0", ["clean", "compile"]).code).toBe(0);
    // the second build of the same sources is served from the cache
    const stats = spawnSync("ccache", ["--print-stats"], { encoding: "utf8", env: { ...process.env, CCACHE_DIR: cache } }).stdout;
    const hits = Number(/^(?:direct_cache_hit|cache_hit_direct|local_storage_hit)\t(\d+)/m.exec(stats)?.[1] ?? 0);
    expect(hits).toBeGreaterThan(0);
  });

  it("merges into ROOT with merge, merges a built image with qmerge, and unmerges", async () => {
    const sys = await buildSystem();
    // qmerge takes the image as it is: nothing built yet, nothing merged
    const early = ebuild(sys, "app-misc/hello-1.0", ["qmerge"]);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("the image is not built; run 'install' first");
    expect(fs.existsSync(path.join(sys.root, "var/db/pkg/app-misc"))).toBe(false);

    const m = ebuild(sys, "app-misc/hello-1.0", ["merge"], { args: ["--quiet-build"] });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain(">>> app-misc/hello-1.0 merged.");
    expect(spawnSync(path.join(sys.root, "usr/bin/hello"), { encoding: "utf8" }).stdout).toBe("hello, patched world\n");
    expect(fs.readFileSync(path.join(sys.root, "var/db/pkg/app-misc/hello-1.0/CONTENTS"), "utf8")).toMatch(/^obj \/usr\/bin\/hello [0-9a-f]{32} \d+$/m);
    // the build directory goes after a merge, as emerge's does
    expect(fs.existsSync(builddir(sys, "app-misc/hello-1.0"))).toBe(false);

    const un = ebuild(sys, "app-misc/hello-1.0", ["unmerge"]);
    expect(un.code, un.stderr).toBe(0);
    expect(fs.existsSync(path.join(sys.root, "usr/bin/hello"))).toBe(false);
    expect(fs.existsSync(path.join(sys.root, "var/db/pkg/app-misc/hello-1.0"))).toBe(false);

    // built first, then merged as it is
    expect(ebuild(sys, "app-misc/hello-1.0", ["install"], { args: ["--quiet-build"] }).code).toBe(0);
    const q = ebuild(sys, "app-misc/hello-1.0", ["qmerge"]);
    expect(q.code, q.stderr).toBe(0);
    expect(fs.existsSync(path.join(sys.root, "var/db/pkg/app-misc/hello-1.0/CONTENTS"))).toBe(true);
    // unmerge of what is not installed says so
    const none = ebuild(sys, "app-misc/hello-1.1", ["unmerge"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("app-misc/hello-1.1 is not installed");
  });

  it("runs only the phase named with FEATURES=noauto, the ones before it left to the user", async () => {
    const sys = await buildSystem();
    expect(ebuild(sys, "app-misc/hello-1.0", ["unpack"]).code).toBe(0);
    const dir = builddir(sys, "app-misc/hello-1.0");
    const noauto = { env: { FEATURES: "noauto" } };
    // compile alone: nothing was configured, so it fails, and nothing before it ran
    const early = ebuild(sys, "app-misc/hello-1.0", ["compile"], noauto);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("src_compile failed");
    expect(fs.existsSync(path.join(dir, ".prepared"))).toBe(false);
    expect(fs.existsSync(path.join(dir, ".configured"))).toBe(false);
    expect(ebuild(sys, "app-misc/hello-1.0", ["configure"], noauto).code).toBe(0);
    expect(fs.existsSync(path.join(dir, ".configured"))).toBe(true);
    expect(fs.existsSync(path.join(dir, ".prepared"))).toBe(false);
    expect(ebuild(sys, "app-misc/hello-1.0", ["compile"], noauto).code).toBe(0);
    expect(fs.existsSync(path.join(dir, ".compiled"))).toBe(true);
  });

  it("refuses an unknown phase with a usage error", async () => {
    const sys = await buildSystem();
    const r = ebuild(sys, "app-misc/hello-1.0", ["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown phase 'frobnicate'");
  });
});
