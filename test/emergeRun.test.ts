// `ouzo emerge` for real: plans built from build-kit's ebuilds and merged into a temporary ROOT,
// upgraded, unmerged, in parallel, past failures, and resumed.
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { builddir, buildSystem, type BuildSystem } from "./buildFixture.js";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ouzo, ouzoAsync, writeTree } from "./helpers.js";

const emerge = (sys: BuildSystem, ...args: string[]) => ouzo(["emerge", "--root", sys.root, "--quiet-build", ...args]);
const vdb = (sys: BuildSystem) =>
  (fs.existsSync(path.join(sys.root, "var/db/pkg")) ? fs.readdirSync(path.join(sys.root, "var/db/pkg")) : [])
    .flatMap((c) => fs.readdirSync(path.join(sys.root, "var/db/pkg", c)).map((p) => `${c}/${p}`))
    .sort();
const world = (sys: BuildSystem) => fs.readFileSync(path.join(sys.root, "var/lib/portage/world"), "utf8");
const inRoot = (sys: BuildSystem, p: string) => path.join(sys.root, p);

describe("ouzo emerge (building and merging)", () => {
  it("builds and merges two packages, records them in the vdb and the world file, then upgrades one and unmerges the other", async () => {
    const sys = await buildSystem();
    const r = emerge(sys, "=app-misc/hello-1.0", "virtual/greeter");
    expect(r.stderr).not.toContain("ouzo:");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(">>> Completed (2 of 2)");
    expect(vdb(sys)).toEqual(["app-misc/hello-1.0", "virtual/greeter-1"]);
    expect(world(sys)).toBe("app-misc/hello\nvirtual/greeter\n");
    expect(spawnSync(inRoot(sys, "usr/bin/hello"), { encoding: "utf8" }).stdout).toBe("hello, patched world\n");
    expect(fs.existsSync(inRoot(sys, "usr/lib64/libhello.a"))).toBe(true);
    const contents = fs.readFileSync(inRoot(sys, "var/db/pkg/app-misc/hello-1.0/CONTENTS"), "utf8");
    expect(contents).toMatch(/^obj \/usr\/bin\/hello [0-9a-f]{32} \d+$/m);
    expect(contents).toContain("sym /usr/bin/hi -> hello ");
    expect(ouzo(["owner", "--root", sys.root, "/usr/bin/hello"]).stdout).toBe("app-misc/hello-1.0 (/usr/bin/hello)\n");

    // the user edits a protected configuration file; the upgrade then leaves it and writes ._cfg0000_
    fs.writeFileSync(inRoot(sys, "etc/hello.conf"), "greeting=mine\n");
    const up = emerge(sys, "-u", "app-misc/hello");
    expect(up.stderr).not.toContain("ouzo:");
    expect(up.code).toBe(0);
    expect(vdb(sys)).toEqual(["app-misc/hello-1.1", "virtual/greeter-1"]);
    // the file 1.1 dropped is gone; the old version's prerm ran from its saved environment
    expect(fs.existsSync(inRoot(sys, "usr/lib64/libhello.a"))).toBe(false);
    expect(fs.readFileSync(inRoot(sys, "var/lib/hello/prerm-ran"), "utf8")).toBe("prerm of 1.0, replaced by '1.1'\n");
    expect(up.stdout).toContain("hello 1.1 replaces: 1.0");
    expect(fs.readFileSync(inRoot(sys, "etc/hello.conf"), "utf8")).toBe("greeting=mine\n");
    expect(fs.readFileSync(inRoot(sys, "etc/._cfg0000_hello.conf"), "utf8")).toBe("greeting=hello\n");

    const rm = ouzo(["emerge", "--root", sys.root, "-C", "virtual/greeter"]);
    expect(rm.code).toBe(0);
    expect(vdb(sys)).toEqual(["app-misc/hello-1.1"]);
    expect(world(sys)).toBe("app-misc/hello\n");
    const log = fs.readFileSync(inRoot(sys, "var/log/emerge.log"), "utf8");
    expect(log).toMatch(/^\d+:  ::: completed emerge \(1 of 1\) app-misc\/hello-1\.1 to /m);
    expect(log).toMatch(/^\d+:  >>> unmerge success: virtual\/greeter-1$/m);
  });

  it("writes a binary package with -b, and another ROOT installs from it with -k instead of building", async () => {
    const pkgdir = path.join((await buildSystem()).tmp, "packages");
    const a = await buildSystem(`PKGDIR="${pkgdir}"\n`);
    expect(emerge(a, "-b", "=app-misc/hello-1.0").code).toBe(0);
    expect(fs.existsSync(path.join(pkgdir, "app-misc/hello-1.0.tbz2"))).toBe(true);
    const b = await buildSystem(`PKGDIR="${pkgdir}"\n`);
    fs.rmSync(path.join(b.distdir, "hello-1.0.tar.gz"));
    // the plan says where it comes from, as emerge's does, and downloads nothing for it
    const plan = emerge(b, "-pvk", "=app-misc/hello-1.0");
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^\[binary {2}N {5}\] app-misc\/hello-1\.0::build-kit /m);
    expect(plan.stdout).toContain("Total: 1 package (1 new, 1 binary), Size of downloads: 0 KiB");
    expect(JSON.parse(emerge(b, "-pk", "--json", "=app-misc/hello-1.0").stdout).plan[0].source).toBe("binary");
    const r = emerge(b, "-k", "=app-misc/hello-1.0");
    expect(r.stderr).not.toContain("ouzo:");
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("Compiling source");
    expect(fs.readFileSync(inRoot(b, "var/log/emerge.log"), "utf8")).toMatch(/Merging Binary \(app-misc\/hello-1\.0::.*hello-1\.0\.tbz2\)/);
    expect(vdb(b)).toEqual(["app-misc/hello-1.0"]);
    expect(spawnSync(inRoot(b, "usr/bin/hello"), { encoding: "utf8" }).stdout).toBe("hello, patched world\n");
    // with other USE the binary package does not fit: ouzo would build, and needs the distfile it lacks
    expect(ouzo(["emerge", "--root", b.root, "-pk", "-1", "=app-misc/hello-1.0"], { env: { USE: "-patched" } }).stdout).toMatch(/^\[ebuild/m);
    const c = ouzo(["emerge", "--root", b.root, "-k", "-1", "=app-misc/hello-1.0"], { env: { USE: "-patched" } });
    expect(c.code).toBe(1);
    expect(c.stderr).toContain("cannot fetch 'hello-1.0.tar.gz'");
  });

  it("takes a binary package from a binhost on 127.0.0.1 with -g (binrepos.conf), and -K refuses to build", async () => {
    const served = path.join((await buildSystem()).tmp, "binhost");
    const a = await buildSystem(`PKGDIR="${served}"\n`);
    expect(emerge(a, "-B", "=app-misc/hello-1.0").code).toBe(0);
    const server = http.createServer((req, res) => {
      const file = path.join(served, decodeURIComponent(req.url ?? "/"));
      if (file.startsWith(served) && fs.existsSync(file) && fs.statSync(file).isFile()) res.end(fs.readFileSync(file));
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    try {
      const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const pkgdirB = path.join(a.tmp, "packages-b");
      const b = await buildSystem(`PKGDIR="${pkgdirB}"\n`);
      fs.rmSync(path.join(b.distdir, "hello-1.0.tar.gz"));
      fs.writeFileSync(inRoot(b, "etc/portage/binrepos.conf"), `[local]\nsync-uri = ${uri}\npriority = 5\n`);
      // --usepkgonly without a binary package in PKGDIR: nothing is built
      const k = await ouzoAsync(["emerge", "--root", b.root, "-K", "=app-misc/hello-1.0"]);
      expect(k.code).toBe(1);
      expect(k.stderr).toContain("app-misc/hello-1.0: no binary package");
      const g = await ouzoAsync(["emerge", "--root", b.root, "--quiet-build", "-g", "=app-misc/hello-1.0"]);
      expect(g.stderr).not.toContain("ouzo:");
      expect(g.code).toBe(0);
      expect(fs.readFileSync(inRoot(b, "var/log/emerge.log"), "utf8")).toContain("Merging Binary (app-misc/hello-1.0::");
      expect(vdb(b)).toEqual(["app-misc/hello-1.0"]);
      // it went through the local PKGDIR, recorded in its index; the remote index is cached
      expect(fs.readFileSync(path.join(pkgdirB, "Packages"), "utf8")).toContain("CPV: app-misc/hello-1.0");
      expect(fs.existsSync(path.join(b.root, "var/cache/edb/binhost", `127.0.0.1:${(server.address() as AddressInfo).port}`, "Packages"))).toBe(true);
    } finally {
      server.close();
    }
  });

  it("builds independent packages side by side with --jobs 2", async () => {
    const sys = await buildSystem();
    const r = emerge(sys, "--jobs", "2", "-1", "app-misc/notes", "app-misc/sandboxed", "=app-misc/hello-1.0");
    expect(r.code).toBe(0);
    expect(vdb(sys)).toEqual(["app-misc/hello-1.0", "app-misc/notes-1.0", "app-misc/sandboxed-1.0"]);
    expect(fs.readFileSync(inRoot(sys, "usr/share/notes/notes.txt"), "utf8")).toBe("notes of notes-1.0\n");
    expect(fs.existsSync(inRoot(sys, "var/lib/portage/world"))).toBe(false);
    // --jobs alone: no limit, every ready build at once
    const all = await buildSystem();
    const u = emerge(all, "--jobs", "-1", "app-misc/notes", "app-misc/sandboxed");
    expect(u.code, u.stderr).toBe(0);
    expect(`${u.stdout}${u.stderr}`).toContain("Jobs: 2 of 2 complete");
    expect(vdb(all)).toEqual(["app-misc/notes-1.0", "app-misc/sandboxed-1.0"]);
  });

  it("puts EMERGE_DEFAULT_OPTS of make.conf first: the command line wins, --ignore-default-opts leaves it out", async () => {
    // as make.conf files often have it: y/n values, and an emerge option ouzo does not have
    const sys = await buildSystem('EMERGE_DEFAULT_OPTS="--pretend --verbose --exclude app-misc/hello --keep-going=y --verbose-conflicts"\n');
    const p = emerge(sys, "app-misc/notes");
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toContain("EMERGE_DEFAULT_OPTS: left out what ouzo emerge does not have: --verbose-conflicts");
    expect(p.stdout).toMatch(/^\[ebuild {2}N {5}\] app-misc\/notes-1\.0::build-kit/m);
    expect(p.stdout).toContain("Total: 1 package (1 new)");
    expect(vdb(sys)).toEqual([]);
    // the command line's --pretend n wins over the default --pretend
    const run = emerge(sys, "--pretend", "n", "-1", "app-misc/notes");
    expect(run.code, run.stderr).toBe(0);
    expect(vdb(sys)).toEqual(["app-misc/notes-1.0"]);
    const ignored = emerge(sys, "--ignore-default-opts", "-1", "app-misc/sandboxed");
    expect(ignored.code, ignored.stderr).toBe(0);
    expect(vdb(sys)).toEqual(["app-misc/notes-1.0", "app-misc/sandboxed-1.0"]);
    // the environment's value replaces make.conf's
    const env = ouzo(["emerge", "--root", sys.root, "-1", "=app-misc/hello-1.0"], { env: { EMERGE_DEFAULT_OPTS: "--pretend" } });
    expect(env.stdout).toMatch(/^\[ebuild/m);
    expect(vdb(sys)).not.toContain("app-misc/hello-1.0");
  });

  it("cleans build directories as FEATURES say: keepwork reuses WORKDIR, noclean keeps it all, fail-clean removes a failed one", async () => {
    const keep = await buildSystem('FEATURES="keepwork"\n');
    expect(emerge(keep, "-1", "=app-misc/hello-1.0").code).toBe(0);
    const dir = builddir(keep, "app-misc/hello-1.0");
    // WORKDIR and the markers stay; the image and .installed go
    expect(fs.existsSync(path.join(dir, "work/hello-1.0"))).toBe(true);
    expect(fs.existsSync(path.join(dir, ".compiled"))).toBe(true);
    expect(fs.existsSync(path.join(dir, ".installed"))).toBe(false);
    // the next build of it starts where the last one was: no unpacking, no compiling
    const again = emerge(keep, "-1", "=app-misc/hello-1.0");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).not.toContain("Compiling source");
    expect(again.stdout + again.stderr).toContain("Install app-misc/hello-1.0");

    const noclean = await buildSystem('FEATURES="noclean"\n');
    expect(emerge(noclean, "-1", "app-misc/notes").code).toBe(0);
    expect(fs.existsSync(path.join(builddir(noclean, "app-misc/notes-1.0"), "temp/build.log"))).toBe(true);

    const plain = await buildSystem();
    expect(emerge(plain, "-1", "app-misc/dies").code).toBe(1);
    expect(fs.existsSync(path.join(builddir(plain, "app-misc/dies-1.0"), "temp/build.log"))).toBe(true);
    const failClean = await buildSystem('FEATURES="fail-clean"\n');
    expect(emerge(failClean, "-1", "app-misc/dies").code).toBe(1);
    expect(fs.existsSync(builddir(failClean, "app-misc/dies-1.0"))).toBe(false);
  });

  it("prints --info for a bug report (info_pkgs, info_vars, how an installed package was built) and --list-sets", async () => {
    const sys = await buildSystem();
    writeTree(sys.kit, { "profiles/info_pkgs": "app-misc/notes\napp-misc/hello\n", "profiles/info_vars": "CHOST\nNOT_SET_ANYWHERE\n" });
    writeTree(sys.root, { "etc/portage/sets/mine": "app-misc/notes\n" });
    expect(emerge(sys, "-1", "app-misc/notes").code).toBe(0);
    const info = emerge(sys, "--info", "notes");
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/^ouzo \d+\.\d+\.\d+ \(profile /);
    expect(info.stdout).toContain(`location: ${sys.kit}`);
    expect(info.stdout).toContain("  app-misc/notes: 1.0::build-kit\n");
    expect(info.stdout).toContain("  app-misc/hello: [Not Present]\n");
    expect(info.stdout).toMatch(/^CHOST="x86_64-pc-linux-gnu"$/m);
    expect(info.stdout).toContain("Unset:  NOT_SET_ANYWHERE");
    expect(info.stdout).toContain("app-misc/notes-1.0::build-kit was built with the following:");
    expect(emerge(sys, "--list-sets").stdout).toBe("installed\nmine\nselected\nsystem\nworld\n");
  });

  it("answers emerge -s and --version as emerge does, through ouzo's own commands", async () => {
    const sys = await buildSystem();
    const s = emerge(sys, "-s", "hello");
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain("app-misc/hello::build-kit");
    const v = ouzo(["emerge", "--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("--resume --jobs keeps the saved order: a package starts once those before it are merged", async () => {
    const sys = await buildSystem();
    const ebuild = (body: string) => `EAPI=8\nDESCRIPTION="test"\nHOMEPAGE="https://example.invalid/"\nLICENSE="MIT"\nSLOT="0"\nKEYWORDS="amd64"\nS=\${WORKDIR}\n${body}\n`;
    writeTree(sys.kit, {
      "app-misc/first/first-1.ebuild": ebuild('src_install() {\n\tinsinto /usr/share/first\n\tnewins - f.txt <<<"first"\n}'),
      // built before first is merged, this fails: a resumed plan has no edges to say so
      "app-misc/second/second-1.ebuild": ebuild('pkg_setup() {\n\thas_version app-misc/first || die "first is not merged yet"\n}\nsrc_install() {\n\tinsinto /usr/share/second\n\tnewins - s.txt <<<"second"\n}'),
    });
    writeTree(sys.root, { "var/cache/edb/ouzo-resume.json": JSON.stringify({ mergelist: ["app-misc/first-1::build-kit", "app-misc/second-1::build-kit"], worldAtoms: [] }) });
    const r = emerge(sys, "--resume", "--jobs", "2");
    expect(r.stderr).not.toContain("first is not merged yet");
    expect(r.code, r.stderr).toBe(0);
    expect(vdb(sys)).toEqual(["app-misc/first-1", "app-misc/second-1"]);
  });

  it("goes past a failing build with --keep-going, then --resume --skipfirst finishes what is left", async () => {
    const sys = await buildSystem();
    const r = emerge(sys, "--keep-going", "-1", "app-misc/dies", "app-misc/eapi4");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("Not merged (1 of 2)");
    expect(r.stdout).toContain("app-misc/dies-1.0");
    expect(vdb(sys)).toEqual(["app-misc/eapi4-1.0"]);

    const s2 = await buildSystem();
    const first = emerge(s2, "-1", "app-misc/dies", "app-misc/eapi5");
    expect(first.code).toBe(1);
    const resumed = emerge(s2, "--resume", "--skipfirst");
    expect(resumed.stderr).not.toContain("ouzo:");
    expect(resumed.code).toBe(0);
    expect(vdb(s2)).toEqual(["app-misc/eapi5-1.0"]);
    expect(emerge(s2, "--resume").code).toBe(1);
  });
});

describe("ouzo emerge --usepkg with anise repositories", () => {
  it("installs an anise package a plan needs, beside packages built from ebuilds, in one vdb", async () => {
    const { buildRepo, RepoServer, configureRepos, installShell } = await import("./aniseFixture.js");
    const sys = await buildSystem();
    const repoDir = path.join(sys.tmp, "anise-repo");
    await buildRepo(repoDir, "bins", [{ category: "app-misc", name: "binonly", version: "1.0", files: { "usr/share/binonly/README": "from an anise repository\n" }, finalize: "uninstall:\n- echo gone > /binonly.gone\n" }]);
    const server = await new RepoServer(repoDir).start();
    try {
      configureRepos(sys.root, [{ name: "bins", url: server.url }]);
      // the server answers from this process: the CLI runs beside it, not blocking it
      expect((await ouzoAsync(["anise", "repo-update", "--root", sys.root])).code).toBe(0);
      // a `sync` that notes how it was called: the anise merges sync ROOT's filesystem once, at
      // their end (merge-sync), as `ouzo anise install` does (by the program when the native
      // helper is not used, which would otherwise call syncfs itself)
      const bin = path.join(sys.tmp, "bin");
      const calls = path.join(sys.tmp, "sync-calls");
      fs.mkdirSync(bin);
      const realSync = execFileSync("sh", ["-c", "command -v sync"], { encoding: "utf8" }).trim();
      fs.writeFileSync(path.join(bin, "sync"), `#!/bin/sh\necho "$*" >> '${calls}'\nexec '${realSync}' "$@"\n`, { mode: 0o755 });
      const r = await ouzoAsync(["emerge", "--root", sys.root, "--quiet-build", "-k", "app-misc/binonly", "app-misc/notes"], { env: { PATH: `${bin}:${process.env.PATH}`, OUZO_UNPACKER: "js" } });
      expect(r.stderr).not.toContain("ouzo:");
      expect(r.code).toBe(0);
      expect(fs.readFileSync(calls, "utf8").split("\n")).toContain(`-f ${sys.root}`);
      expect(r.stdout).toContain("app-misc/binonly-1.0::bins (anise)");
      expect(vdb(sys)).toEqual(["app-misc/binonly-1.0", "app-misc/notes-1.0"]);
      expect(fs.readFileSync(inRoot(sys, "usr/share/binonly/README"), "utf8")).toBe("from an anise repository\n");
      expect(world(sys)).toBe("app-misc/binonly\napp-misc/notes\n");
      expect(ouzo(["owner", "--root", sys.root, "/usr/share/binonly/README"]).stdout).toBe("app-misc/binonly-1.0 (/usr/share/binonly/README)\n");
      // emerge -C of an anise package runs its stored uninstall finalizer (inside ROOT), not ebuild phases
      installShell(sys.root);
      const rm = ouzo(["emerge", "--root", sys.root, "-C", "app-misc/binonly"]);
      expect(rm.code).toBe(0);
      expect(vdb(sys)).toEqual(["app-misc/notes-1.0"]);
      expect(fs.readFileSync(inRoot(sys, "binonly.gone"), "utf8")).toBe("gone\n");
    } finally {
      await server.stop();
    }
  });
});
