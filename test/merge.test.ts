import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CollectingReporter } from "../src/core/reporter.js";
import { mergePackage, type MergeHooks, type MergeResult } from "../src/merge/merge.js";
import { recoverInterrupted } from "../src/merge/recover.js";
import { unmergePackage, type UnmergeResult } from "../src/merge/unmerge.js";
import { parseContents } from "../src/vdb/contents.js";
import { readInstalled, splitPackageDir, type InstalledPackage } from "../src/vdb/installed.js";
import { tmpdir } from "./helpers.js";
import { T0, writeImage, type Spec } from "./mergeFixture.js";

/** Image mtimes (seconds): fixed, so that CONTENTS is known in advance. */
const MARK = ["protect-owned", "config-protect-if-modified", "unmerge-orphans"];


interface MergeOpts {
  slot?: string;
  features?: string[];
  protect?: string[];
  mask?: string[];
  hooks?: MergeHooks;
  reporter?: CollectingReporter;
  collisionIgnore?: string[];
  noConfmem?: boolean;
  wholeDirs?: string[];
}

/** Build an image and its build-info, and merge it as `cat/pf`, replacing what the slot holds. */
async function merge(root: string, cpv: string, files: Record<string, Spec>, o: MergeOpts = {}): Promise<MergeResult> {
  const { image, buildInfo } = prepare(cpv, files, o.slot ?? "0");
  return mergePackage(request(root, cpv, image, buildInfo, o));
}

function prepare(cpv: string, files: Record<string, Spec>, slot: string, work = tmpdir("ouzo-merge-build-")) {
  const [category, pf] = cpv.split("/") as [string, string];
  const image = path.join(work, "image");
  writeImage(image, files);
  const buildInfo = path.join(work, "build-info");
  fs.mkdirSync(buildInfo);
  for (const [k, v] of Object.entries({ CATEGORY: category, PF: pf, SLOT: slot, EAPI: "8", USE: "", repository: "core-kit" })) fs.writeFileSync(path.join(buildInfo, k), `${v}\n`);
  return { image, buildInfo };
}

function request(root: string, cpv: string, image: string, buildInfo: string, o: MergeOpts) {
  const [category, pf] = cpv.split("/") as [string, string];
  const slot = o.slot ?? "0";
  const pn = splitPackageDir(pf)!.pn;
  return {
    root,
    category,
    pf,
    slot,
    imageDir: image,
    buildInfoDir: buildInfo,
    configProtect: o.protect ?? ["/etc"],
    configProtectMask: o.mask ?? ["/etc/env.d"],
    features: new Set(o.features ?? MARK),
    replacing: readInstalled(root).filter((p) => p.category === category && p.package === pn && (p.slot === slot || p.cpv === cpv)),
    ...(o.hooks ? { hooks: o.hooks } : {}),
    ...(o.reporter ? { reporter: o.reporter } : {}),
    ...(o.collisionIgnore ? { collisionIgnore: o.collisionIgnore } : {}),
    ...(o.noConfmem ? { noConfmem: true } : {}),
    ...(o.wholeDirs ? { wholeDirs: new Set(o.wholeDirs) } : {}),
  };
}

function installed(root: string, cpv: string): InstalledPackage {
  const p = readInstalled(root).find((x) => x.cpv === cpv);
  if (!p) throw new Error(`${cpv} is not installed`);
  return p;
}

async function unmerge(root: string, cpv: string, o: { features?: string[]; hooks?: MergeHooks } = {}): Promise<UnmergeResult> {
  return unmergePackage({ root, pkg: installed(root, cpv), configProtect: ["/etc"], configProtectMask: ["/etc/env.d"], features: new Set(o.features ?? MARK), ...(o.hooks ? { hooks: o.hooks } : {}) });
}

const md5 = (s: string | Buffer) => createHash("md5").update(s).digest("hex");
const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), "utf8");
const exists = (root: string, p: string) => fs.lstatSync(path.join(root, p), { throwIfNoEntry: false }) !== undefined;
const contentsText = (root: string, cpv: string) => fs.readFileSync(path.join(root, "var/db/pkg", cpv, "CONTENTS"), "utf8");
const cpvs = (root: string) => readInstalled(root).map((p) => p.cpv);

/** Every path under a directory with what it is (type, mode, content hash, link text, mtime). */
function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (skip(r)) continue;
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(p, r);
      } else if (st.isSymbolicLink()) out[r] = `sym ${fs.readlinkSync(p)}`;
      else if (st.isFile()) out[r] = `obj ${mode} ${md5(fs.readFileSync(p))} ${Math.floor(st.mtimeMs / 1000)}`;
      else out[r] = `other ${mode}`;
    }
  };
  walk(dir, "");
  return out;
}

/** ROOT as a failed merge must leave it: the directory of the vdb lock may have been made. */
function unchanged(root: string): Record<string, string> {
  const s = snapshot(root);
  delete s["var"];
  delete s["var/db"];
  return s;
}

/** Nothing of a transaction is left: no journal, no entry under construction, no staged file. */
function expectClean(root: string): void {
  const journal = path.join(root, "var/lib/ouzo/journal");
  expect(fs.existsSync(journal) ? fs.readdirSync(journal) : []).toEqual([]);
  const leftovers = Object.keys(snapshot(root)).filter((p) => p.includes("-MERGING-") || p.includes(".ouzo-new."));
  expect(leftovers).toEqual([]);
}

describe("merging an image into ROOT", () => {
  it("merges a new package: directories first, files with their modes and mtimes, symlinks, hard links, a fifo; CONTENTS exact", async () => {
    const root = tmpdir();
    const r = await merge(
      root,
      "app-misc/foo-1.0",
      {
        "usr/bin/foo": { text: "#!/bin/sh\necho foo\n", mode: 0o755 },
        "usr/bin/foo-link": { link: "foo" },
        "usr/share/foo/a.txt": "shared bytes\n",
        "usr/share/foo/b.txt": { hardlink: "usr/share/foo/a.txt" },
        "usr/share/foo/empty": { dir: true, mode: 0o750 },
        "var/lib/foo/fifo": { fifo: true },
        "etc/foo.conf": "x=1\n",
      },
      { features: [...MARK, "merge-sync"] },
    );
    const m = (s: string) => md5(s);
    expect(contentsText(root, "app-misc/foo-1.0")).toBe(
      [
        "dir /etc",
        `obj /etc/foo.conf ${m("x=1\n")} ${T0}`,
        "dir /usr",
        "dir /usr/bin",
        `obj /usr/bin/foo ${m("#!/bin/sh\necho foo\n")} ${T0}`,
        `sym /usr/bin/foo-link -> foo ${T0}`,
        "dir /usr/share",
        "dir /usr/share/foo",
        `obj /usr/share/foo/a.txt ${m("shared bytes\n")} ${T0}`,
        `obj /usr/share/foo/b.txt ${m("shared bytes\n")} ${T0}`,
        "dir /usr/share/foo/empty",
        "dir /var",
        "dir /var/lib",
        "dir /var/lib/foo",
        "fif /var/lib/foo/fifo",
        "",
      ].join("\n"),
    );
    const foo = fs.statSync(path.join(root, "usr/bin/foo"));
    expect(foo.mode & 0o7777).toBe(0o755);
    expect(foo.mtimeMs).toBe(T0 * 1000);
    expect(fs.readlinkSync(path.join(root, "usr/bin/foo-link"))).toBe("foo");
    expect(Math.floor(fs.lstatSync(path.join(root, "usr/bin/foo-link")).mtimeMs / 1000)).toBe(T0);
    const a = fs.statSync(path.join(root, "usr/share/foo/a.txt"));
    const b = fs.statSync(path.join(root, "usr/share/foo/b.txt"));
    expect([b.ino, a.nlink]).toEqual([a.ino, 2]);
    expect(fs.statSync(path.join(root, "usr/share/foo/empty")).mode & 0o7777).toBe(0o750);
    expect(fs.lstatSync(path.join(root, "var/lib/foo/fifo")).isFIFO()).toBe(true);
    expect(cpvs(root)).toEqual(["app-misc/foo-1.0"]);
    expect(r.counter).toBe(1);
    expect(fs.readFileSync(path.join(root, "var/db/pkg/app-misc/foo-1.0/COUNTER"), "utf8")).toBe("1");
    expect(read(root, "var/db/pkg/app-misc/foo-1.0/repository")).toBe("core-kit\n");
    expect(r.merged.sort()).toEqual(["/etc/foo.conf", "/usr/bin/foo", "/usr/bin/foo-link", "/usr/share/foo/a.txt", "/usr/share/foo/b.txt", "/var/lib/foo/fifo"]);
    expect([r.identical, r.configPending, r.backups, r.replaced]).toEqual([[], [], [], []]);
    expectClean(root);
  });

  it("upgrades: drops the files the new version lacks, runs the old prerm/postrm after the new files are in place and before the vdb commit", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", {
      "usr/bin/foo": "one\n",
      "usr/share/foo/old.txt": "old\n",
      "usr/share/foo/same.txt": "same\n",
      "usr/share/foo-old/x": "x\n",
    });
    const seen: string[] = [];
    const hooks: MergeHooks = {
      prerm: async (old, by) => {
        seen.push(`prerm ${old.cpv} ${by} foo=${read(root, "usr/bin/foo").trim()} installed=${cpvs(root).join(",")} old.txt=${exists(root, "usr/share/foo/old.txt")}`);
      },
      postrm: async (old, by) => {
        seen.push(`postrm ${old.cpv} ${by} installed=${cpvs(root).join(",")} old.txt=${exists(root, "usr/share/foo/old.txt")}`);
      },
    };
    const r = await merge(root, "app-misc/foo-1.1-r1", { "usr/bin/foo": "two\n", "usr/share/foo/same.txt": { text: "same\n", mtime: T0 + 60 }, "usr/share/foo/new.txt": "new\n" }, { hooks });
    expect(seen).toEqual(["prerm app-misc/foo-1.0 1.1-r1 foo=two installed=app-misc/foo-1.0 old.txt=true", "postrm app-misc/foo-1.0 1.1-r1 installed=app-misc/foo-1.0 old.txt=false"]);
    expect(read(root, "usr/bin/foo")).toBe("two\n");
    expect(read(root, "usr/share/foo/new.txt")).toBe("new\n");
    expect(exists(root, "usr/share/foo/old.txt")).toBe(false);
    expect(exists(root, "usr/share/foo-old")).toBe(false);
    // identical bytes are not rewritten: only the mtime becomes the image's
    expect(r.identical).toEqual(["/usr/share/foo/same.txt"]);
    expect(fs.statSync(path.join(root, "usr/share/foo/same.txt")).mtimeMs).toBe((T0 + 60) * 1000);
    expect(r.replaced).toHaveLength(1);
    expect(r.replaced[0]!.cpv).toBe("app-misc/foo-1.0");
    expect(r.replaced[0]!.removed.sort()).toEqual(["/usr/share/foo-old", "/usr/share/foo-old/x", "/usr/share/foo/old.txt"]);
    expect(r.replaced[0]!.kept.filter((k) => k.reason === "replaced").map((k) => k.path).sort()).toEqual(["/usr", "/usr/bin", "/usr/bin/foo", "/usr/share", "/usr/share/foo", "/usr/share/foo/same.txt"]);
    expect(cpvs(root)).toEqual(["app-misc/foo-1.1-r1"]);
    expect(installed(root, "app-misc/foo-1.1-r1").counter).toBe(2);
    expectClean(root);
  });

  it("goes on when the old version's pkg_prerm fails, and reports it (§11.1)", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/bin/foo": "1\n", "usr/bin/old": "o\n" });
    const reporter = new CollectingReporter();
    const r = await merge(root, "app-misc/foo-2.0", { "usr/bin/foo": "2\n" }, { reporter, hooks: { prerm: async () => Promise.reject(new Error("exit status 1")) } });
    expect(r.phaseProblems).toHaveLength(1);
    expect(r.phaseProblems[0]).toMatch(/^!!! FAILED prerm: app-misc\/foo-1\.0: exit status 1/);
    expect(reporter.warnings().join("\n")).toMatch(/FAILED prerm/);
    expect(exists(root, "usr/bin/old")).toBe(false);
    expect(cpvs(root)).toEqual(["app-misc/foo-2.0"]);
  });

  it("reinstalls the same version in place of its own entry", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/bin/foo": "one\n", "usr/bin/gone": "g\n" });
    await merge(root, "app-misc/foo-1.0", { "usr/bin/foo": "one again\n" });
    expect(cpvs(root)).toEqual(["app-misc/foo-1.0"]);
    expect(installed(root, "app-misc/foo-1.0").counter).toBe(2);
    expect(read(root, "usr/bin/foo")).toBe("one again\n");
    expect(exists(root, "usr/bin/gone")).toBe(false);
    expect(fs.readdirSync(path.join(root, "var/db/pkg/app-misc"))).toEqual(["foo-1.0"]);
  });

  it("downgrades: the older version replaces the newer one and confmem is not consulted", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "etc/foo.conf": "v1\n", "usr/bin/foo": "1\n" });
    fs.writeFileSync(path.join(root, "etc/foo.conf"), "mine\n");
    await merge(root, "app-misc/foo-2.0", { "etc/foo.conf": "v1\n", "usr/bin/foo": "2\n", "usr/lib/libfoo2.so": "2\n" });
    // the user looked at the update and threw it away: confmem remembers it
    fs.rmSync(path.join(root, "etc/._cfg0000_foo.conf"));
    expect(read(root, "var/lib/portage/config")).toBe(`/etc/foo.conf ${md5("v1\n")}\n`);
    const r = await merge(root, "app-misc/foo-1.0", { "etc/foo.conf": "v1\n", "usr/bin/foo": "1\n" });
    expect(cpvs(root)).toEqual(["app-misc/foo-1.0"]);
    expect(read(root, "usr/bin/foo")).toBe("1\n");
    expect(exists(root, "usr/lib/libfoo2.so")).toBe(false);
    expect(r.configPending).toEqual([{ path: "/etc/foo.conf", file: "/etc/._cfg0000_foo.conf" }]);
    expect(read(root, "etc/foo.conf")).toBe("mine\n");
  });

  it("installs a new slot beside the old one and removes nothing", async () => {
    const root = tmpdir();
    await merge(root, "dev-lang/foo-1.0", { "usr/lib/foo-1/lib.so": "1\n", "usr/share/doc/foo-1/README": "r1\n" }, { slot: "1" });
    const r = await merge(root, "dev-lang/foo-2.0", { "usr/lib/foo-2/lib.so": "2\n", "usr/share/doc/foo-2/README": "r2\n" }, { slot: "2" });
    expect(r.replaced).toEqual([]);
    expect(cpvs(root)).toEqual(["dev-lang/foo-1.0", "dev-lang/foo-2.0"]);
    expect([read(root, "usr/lib/foo-1/lib.so"), read(root, "usr/lib/foo-2/lib.so")]).toEqual(["1\n", "2\n"]);
  });

  it("resolves symlinks of ROOT inside ROOT: an absolute link never leads to the host, and a directory's files go through a link to a directory", async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "usr/lib64"), { recursive: true });
    fs.symlinkSync("lib64", path.join(root, "usr/lib"));
    fs.mkdirSync(path.join(root, "srv/opt"), { recursive: true });
    fs.symlinkSync("/srv/opt", path.join(root, "opt"));
    await merge(root, "app-misc/foo-1.0", { "usr/lib/libfoo.so": "lib\n", "opt/foo/bin": "bin\n" });
    expect(read(root, "usr/lib64/libfoo.so")).toBe("lib\n");
    expect(read(root, "srv/opt/foo/bin")).toBe("bin\n");
    expect(fs.lstatSync(path.join(root, "usr/lib")).isSymbolicLink()).toBe(true);
    expect(contentsText(root, "app-misc/foo-1.0")).toContain(`obj /usr/lib/libfoo.so ${md5("lib\n")} ${T0}\n`);
    // the two spellings of one file: the unmerge finds it through the link too
    await unmerge(root, "app-misc/foo-1.0");
    expect(exists(root, "usr/lib64/libfoo.so")).toBe(false);
    expect(exists(root, "srv/opt/foo")).toBe(false);
    expect(fs.lstatSync(path.join(root, "usr/lib")).isSymbolicLink()).toBe(true);
  });

  it("copies the entries of an image on another filesystem (EXDEV): bytes, modes, mtimes, hard links, symlinks, a fifo", async (ctx) => {
    if (fs.statSync("/dev/shm").dev === fs.statSync(os.tmpdir()).dev) ctx.skip();
    const root = tmpdir();
    const work = fs.mkdtempSync("/dev/shm/ouzo-merge-");
    try {
      const files: Record<string, Spec> = {
        "usr/bin/foo": { text: "foo\n", mode: 0o4711 },
        "usr/bin/foo2": { hardlink: "usr/bin/foo" },
        "usr/bin/foo-link": { link: "foo" },
        "run/foo/fifo": { fifo: true },
        "usr/share/foo": { dir: true, mode: 0o700 },
      };
      const { image, buildInfo } = prepare("app-misc/foo-1.0", files, "0", work);
      const r = await mergePackage(request(root, "app-misc/foo-1.0", image, buildInfo, {}));
      const foo = fs.statSync(path.join(root, "usr/bin/foo"));
      expect([read(root, "usr/bin/foo"), foo.mode & 0o7777, foo.mtimeMs, foo.nlink]).toEqual(["foo\n", 0o4711, T0 * 1000, 2]);
      expect(fs.statSync(path.join(root, "usr/bin/foo2")).ino).toBe(foo.ino);
      expect(fs.readlinkSync(path.join(root, "usr/bin/foo-link"))).toBe("foo");
      expect(fs.lstatSync(path.join(root, "usr/bin/foo-link")).mtimeMs).toBe(T0 * 1000);
      expect(fs.lstatSync(path.join(root, "run/foo/fifo")).isFIFO()).toBe(true);
      expect(fs.statSync(path.join(root, "usr/share/foo")).mode & 0o7777).toBe(0o700);
      expect(r.merged.sort()).toEqual(["/run/foo/fifo", "/usr/bin/foo", "/usr/bin/foo-link", "/usr/bin/foo2"]);
      // copied, not moved: the image keeps its files
      expect(read(work, "image/usr/bin/foo")).toBe("foo\n");
      expectClean(root);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it("refuses two paths of the image that land on one file with different content", async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "lib64"), { recursive: true });
    fs.symlinkSync("lib64", path.join(root, "lib"));
    await expect(merge(root, "app-misc/foo-1.0", { "lib/x.so": "a\n", "lib64/x.so": "b\n" })).rejects.toThrow(/internal collisions/);
    expect(fs.readdirSync(path.join(root, "lib64"))).toEqual([]);
  });
});

describe("a directory of the image moved whole (MergeRequest.wholeDirs)", () => {
  const files: Record<string, Spec> = {
    "usr/bin/foo": { text: "#!/bin/sh\n", mode: 0o755 },
    "usr/share/foo/a.txt": "a\n",
    "usr/share/foo/sub/b.txt": { text: "b\n", mode: 0o600 },
    "usr/share/foo/sub/link": { link: "b.txt" },
    "usr/share/foo/empty": { dir: true },
    "etc/foo/foo.conf": "x=1\n",
  };
  const whole = ["/usr", "/usr/bin", "/usr/share", "/usr/share/foo", "/usr/share/foo/sub", "/usr/share/foo/empty", "/etc/foo"];
  const ino = (p: string) => fs.lstatSync(p).ino;

  it("moves a directory nothing is in the way of by one rename, with what it holds; CONTENTS and the result as for a merge file by file", async () => {
    const byFile = tmpdir();
    const one = await merge(byFile, "app-misc/foo-1.0", files);
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "usr/bin"), { recursive: true });
    const { image, buildInfo } = prepare("app-misc/foo-1.0", files, "0");
    const before = { foo: ino(path.join(image, "usr/share/foo")), conf: ino(path.join(image, "etc/foo")) };
    // the image's directory is 0755; its entry asks for 0750 and gets it
    const entries = (await import("../src/merge/imageWalk.js")).walkImage(image).map((e) => (e.path === "/usr/share/foo/sub" ? { ...e, mode: 0o750 } : e));
    const r = await mergePackage({ ...request(root, "app-misc/foo-1.0", image, buildInfo, { wholeDirs: whole }), imageEntries: entries });
    // moved: the same directory (inode), not a copy; /usr existed (not moved), /etc is protected (not moved)
    expect(ino(path.join(root, "usr/share/foo"))).toBe(before.foo);
    expect(ino(path.join(root, "etc/foo"))).not.toBe(before.conf);
    expect(fs.existsSync(path.join(image, "usr/share/foo"))).toBe(false);
    expect(fs.statSync(path.join(root, "usr/share/foo/sub")).mode & 0o7777).toBe(0o750);
    const rest = (s: Record<string, string>) => ({ ...s, "usr/share/foo/sub": "dir" });
    const skipVar = (r: string) => r.startsWith("var");
    expect(rest(snapshot(root, skipVar))).toEqual(rest(snapshot(byFile, skipVar)));
    expect(contentsText(root, "app-misc/foo-1.0")).toBe(contentsText(byFile, "app-misc/foo-1.0"));
    expect(r.merged.sort()).toEqual(one.merged.sort());
    expectClean(root);
    // and it unmerges as any other
    await unmerge(root, "app-misc/foo-1.0");
    expect(exists(root, "usr/share/foo")).toBe(false);
  });

  it("merges file by file where something is in the way, or a path below may be protected", async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "usr/share/foo/sub"), { recursive: true });
    fs.writeFileSync(path.join(root, "usr/share/foo/sub/other"), "not ours\n");
    const { image, buildInfo } = prepare("app-misc/foo-1.0", files, "0");
    const was = ino(path.join(image, "usr/share/foo/sub"));
    await mergePackage(request(root, "app-misc/foo-1.0", image, buildInfo, { wholeDirs: whole, protect: ["/etc", "/usr/share/foo/empty/x"] }));
    expect(read(root, "usr/share/foo/sub/other")).toBe("not ours\n");
    expect(read(root, "usr/share/foo/sub/b.txt")).toBe("b\n");
    expect(ino(path.join(root, "usr/share/foo/sub"))).not.toBe(was);
    // a CONFIG_PROTECT entry below /usr/share/foo/empty: made, not moved
    expect(fs.existsSync(path.join(image, "usr/share/foo/empty"))).toBe(true);
    expect(exists(root, "usr/share/foo/empty")).toBe(true);
    expectClean(root);
  });

  it("merges file by file after all when the place is taken between the plan and the staging (or the rename crosses a mount)", async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "usr/share"), { recursive: true });
    const { image, buildInfo } = prepare("app-misc/foo-1.0", files, "0");
    const dest = path.join(root, "usr/share/foo");
    // something makes the directory just as the staging starts (the plan had found nothing there)
    const events: string[] = [];
    let made: number | undefined;
    const reporter = {
      report(e: { kind: string; task?: string; message?: string }) {
        if (e.kind === "started" && e.task?.endsWith(": staging") && made === undefined) made = (fs.mkdirSync(dest), ino(dest));
        if (e.kind === "info") events.push(e.message!);
      },
    };
    await mergePackage({ ...request(root, "app-misc/foo-1.0", image, buildInfo, { wholeDirs: whole }), reporter });
    expect(events).toEqual(["app-misc/foo-1.0: /usr/share/foo cannot be moved into place whole (something is there now); merging it file by file"]);
    // the directory made meanwhile stayed, and holds the package's files
    expect(ino(dest)).toBe(made);
    expect(read(root, "usr/share/foo/sub/b.txt")).toBe("b\n");
    expect(contentsText(root, "app-misc/foo-1.0")).toContain("obj /usr/share/foo/sub/b.txt");
    expect(cpvs(root)).toEqual(["app-misc/foo-1.0"]);
    expectClean(root);
  });

  it("takes away only what it moved when its image is gone before the rollback, leaving what someone put there", async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "usr/share"), { recursive: true });
    const { image, buildInfo } = prepare("app-misc/foo-1.0", files, "0");
    const entries = (await import("../src/merge/imageWalk.js")).walkImage(image);
    entries.push({ ...entries.find((e) => e.path === "/etc/foo/foo.conf")!, path: "/etc/zz-missing", src: path.join(image, "nowhere"), md5: md5("") });
    // once the directory is in place: the image's parent goes (its work directory cleaned) and a file is put beside the package's
    const reporter = {
      report(e: { kind: string; item?: string }) {
        if (e.kind === "progress" && e.item === "/usr/share/foo") {
          fs.rmSync(path.join(image, "usr/share"), { recursive: true });
          fs.writeFileSync(path.join(root, "usr/share/foo/sub/mine"), "not the package's\n");
        }
      },
    };
    await expect(mergePackage({ ...request(root, "app-misc/foo-1.0", image, buildInfo, { wholeDirs: ["/usr/share/foo", "/usr/share/foo/sub", "/usr/share/foo/empty"] }), imageEntries: entries, reporter })).rejects.toThrow(/nowhere/);
    expect(snapshot(path.join(root, "usr/share"))).toEqual({ foo: "dir 755", "foo/sub": "dir 755", "foo/sub/mine": expect.stringMatching(/^obj 644 /) });
    expect(cpvs(root)).toEqual([]);
    expectClean(root);
  });

  it("does not move a directory above where the merge keeps its own state (its journal in /var/lib/ouzo)", async () => {
    const root = tmpdir();
    const { image, buildInfo } = prepare("app-misc/foo-1.0", { "var/lib/foo/state": "s\n" }, "0");
    const foo = ino(path.join(image, "var/lib/foo"));
    const events: string[] = [];
    await mergePackage({ ...request(root, "app-misc/foo-1.0", image, buildInfo, { wholeDirs: ["/var", "/var/lib", "/var/lib/foo"] }), reporter: { report: (e) => void (e.kind === "info" && events.push(e.message)) } });
    expect(events).toEqual([]);
    expect(ino(path.join(root, "var/lib/foo"))).toBe(foo);
    expect(read(root, "var/lib/foo/state")).toBe("s\n");
    expectClean(root);
  });

  it("moves it back into the image when the merge fails before every file is staged", async () => {
    const root = tmpdir();
    const { image, buildInfo } = prepare("app-misc/foo-1.0", files, "0");
    const pristine = snapshot(image);
    const was = ino(path.join(image, "usr"));
    const entries = (await import("../src/merge/imageWalk.js")).walkImage(image);
    // an entry whose bytes are missing: its staging fails after the move
    entries.push({ ...entries.find((e) => e.path === "/etc/foo/foo.conf")!, path: "/etc/zz-missing", src: path.join(image, "nowhere"), md5: md5("") });
    await expect(mergePackage({ ...request(root, "app-misc/foo-1.0", image, buildInfo, { wholeDirs: whole }), imageEntries: entries })).rejects.toThrow(/nowhere/);
    expect(snapshot(image)).toEqual(pristine);
    expect(ino(path.join(image, "usr"))).toBe(was);
    expect(exists(root, "usr")).toBe(false);
    expect(cpvs(root)).toEqual([]);
    expectClean(root);
  });
});

describe("a directory that becomes a symlink, and the reverse", () => {
  it("refuses a symlink where a directory is (PMS forbids it) before any change, whatever FEATURES say", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/share/foo/data.txt": "d\n", "usr/share/foo-data/x": "x\n" });
    const before = unchanged(root);
    const { image, buildInfo } = prepare("app-misc/foo-2.0", { "usr/share/foo": { link: "foo-data" }, "usr/share/foo-data/x": "x2\n", "usr/bin/foo": "2\n" }, "0");
    const imageBefore = snapshot(image);
    await expect(mergePackage(request(root, "app-misc/foo-2.0", image, buildInfo, { features: [] }))).rejects.toThrow(/explicitly forbidden by PMS: \/usr\/share\/foo$/);
    expect(unchanged(root)).toEqual(before);
    expect(snapshot(image)).toEqual(imageBefore);
    expect(cpvs(root)).toEqual(["app-misc/foo-1.0"]);
  });

  it("merges a directory through a symlink to a directory, and moves a file or a dangling link in the way of a directory to .backup.NNNN", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/share/foo/data": "a file\n", "usr/share/foo/real/x": "x\n", "usr/share/foo/via": { link: "real" }, "usr/share/foo/dangling": { link: "nowhere" } });
    fs.writeFileSync(path.join(root, "usr/share/foo/data.backup.0000"), "someone's\n");
    const r = await merge(root, "app-misc/foo-2.0", { "usr/share/foo/data/inside": "in\n", "usr/share/foo/via/y": "y\n", "usr/share/foo/dangling/z": "z\n" });
    expect(fs.statSync(path.join(root, "usr/share/foo/data")).isDirectory()).toBe(true);
    expect(read(root, "usr/share/foo/data/inside")).toBe("in\n");
    expect(read(root, "usr/share/foo/data.backup.0001")).toBe("a file\n");
    expect(read(root, "usr/share/foo/data.backup.0000")).toBe("someone's\n");
    expect(fs.readlinkSync(path.join(root, "usr/share/foo/dangling.backup.0000"))).toBe("nowhere");
    expect(read(root, "usr/share/foo/dangling/z")).toBe("z\n");
    expect(fs.lstatSync(path.join(root, "usr/share/foo/via")).isSymbolicLink()).toBe(true);
    expect(read(root, "usr/share/foo/real/y")).toBe("y\n");
    expect(r.backups).toEqual([
      { path: "/usr/share/foo/dangling", backup: "/usr/share/foo/dangling.backup.0000" },
      { path: "/usr/share/foo/data", backup: "/usr/share/foo/data.backup.0001" },
    ]);
    expect(contentsText(root, "app-misc/foo-2.0")).toContain("dir /usr/share/foo/via\n");
  });

  it("puts a file where a directory is under a .backup name", async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "usr/share/foo/thing"), { recursive: true });
    const r = await merge(root, "app-misc/foo-1.0", { "usr/share/foo/thing": "file\n" }, { features: [] });
    expect(fs.statSync(path.join(root, "usr/share/foo/thing")).isDirectory()).toBe(true);
    expect(read(root, "usr/share/foo/thing.backup.0000")).toBe("file\n");
    expect(r.backups).toEqual([{ path: "/usr/share/foo/thing", backup: "/usr/share/foo/thing.backup.0000" }]);
    expect(contentsText(root, "app-misc/foo-1.0")).toContain(`obj /usr/share/foo/thing ${md5("file\n")} ${T0}\n`);
  });
});

describe("CONFIG_PROTECT", () => {
  it("replaces a protected file the user never modified (config-protect-if-modified), and keeps a modified one with its update in ._cfg0000_", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "etc/foo/untouched.conf": "u1\n", "etc/foo/edited.conf": "e1\n" });
    fs.writeFileSync(path.join(root, "etc/foo/edited.conf"), "my edit\n");
    const r = await merge(root, "app-misc/foo-1.1", { "etc/foo/untouched.conf": "u2\n", "etc/foo/edited.conf": "e2\n" });
    expect(read(root, "etc/foo/untouched.conf")).toBe("u2\n");
    expect(read(root, "etc/foo/edited.conf")).toBe("my edit\n");
    expect(read(root, "etc/foo/._cfg0000_edited.conf")).toBe("e2\n");
    expect(fs.statSync(path.join(root, "etc/foo/._cfg0000_edited.conf")).mtimeMs).toBe(T0 * 1000);
    expect(r.configPending).toEqual([{ path: "/etc/foo/edited.conf", file: "/etc/foo/._cfg0000_edited.conf" }]);
    // CONTENTS names the real path with the new md5
    const c = parseContents(contentsText(root, "app-misc/foo-1.1"));
    expect(c).toContainEqual({ type: "obj", path: "/etc/foo/edited.conf", md5: md5("e2\n"), mtime: T0 });
    expect(c.some((e) => e.path.includes("._cfg"))).toBe(false);
    expect(read(root, "var/lib/portage/config")).toBe(`/etc/foo/edited.conf ${md5("e2\n")}\n`);
  });

  it("without config-protect-if-modified even an untouched protected file gets a ._cfg", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "etc/foo.conf": "1\n" }, { features: [] });
    await merge(root, "app-misc/foo-1.1", { "etc/foo.conf": "2\n" }, { features: [] });
    expect([read(root, "etc/foo.conf"), read(root, "etc/._cfg0000_foo.conf")]).toEqual(["1\n", "2\n"]);
  });

  it("writes no ._cfg when the file already holds the new content", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "etc/foo.conf": "1\n" });
    fs.writeFileSync(path.join(root, "etc/foo.conf"), "2\n");
    const r = await merge(root, "app-misc/foo-1.1", { "etc/foo.conf": "2\n" });
    expect(r.configPending).toEqual([]);
    expect(r.identical).toEqual(["/etc/foo.conf"]);
    expect(fs.readdirSync(path.join(root, "etc"))).toEqual(["foo.conf"]);
  });

  it("gives a second pending update ._cfg0001_, skips an update already offered (confmem), and with --noconfmem reuses the newest ._cfg holding it", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "etc/foo.conf": "1\n" });
    fs.writeFileSync(path.join(root, "etc/foo.conf"), "mine\n");
    await merge(root, "app-misc/foo-2.0", { "etc/foo.conf": "2\n" });
    const r3 = await merge(root, "app-misc/foo-3.0", { "etc/foo.conf": "3\n" });
    expect(r3.configPending).toEqual([{ path: "/etc/foo.conf", file: "/etc/._cfg0001_foo.conf" }]);
    const r3again = await merge(root, "app-misc/foo-3.0", { "etc/foo.conf": "3\n" });
    expect([r3again.configPending, r3again.confmemSkipped]).toEqual([[], ["/etc/foo.conf"]]);
    const r3noconfmem = await merge(root, "app-misc/foo-3.0", { "etc/foo.conf": "3\n" }, { noConfmem: true });
    expect(r3noconfmem.configPending).toEqual([{ path: "/etc/foo.conf", file: "/etc/._cfg0001_foo.conf" }]);
    expect(fs.readdirSync(path.join(root, "etc")).sort()).toEqual(["._cfg0000_foo.conf", "._cfg0001_foo.conf", "foo.conf"]);
    expect([read(root, "etc/._cfg0000_foo.conf"), read(root, "etc/._cfg0001_foo.conf"), read(root, "etc/foo.conf")]).toEqual(["2\n", "3\n", "mine\n"]);
    // the user rejects both updates; the same content again is not offered again
    fs.rmSync(path.join(root, "etc/._cfg0000_foo.conf"));
    fs.rmSync(path.join(root, "etc/._cfg0001_foo.conf"));
    const r4 = await merge(root, "app-misc/foo-3.0-r1", { "etc/foo.conf": "3\n" });
    expect(r4.configPending).toEqual([]);
    expect(r4.confmemSkipped).toEqual(["/etc/foo.conf"]);
    expect(fs.readdirSync(path.join(root, "etc"))).toEqual(["foo.conf"]);
    expect(parseContents(contentsText(root, "app-misc/foo-3.0-r1"))).toContainEqual({ type: "obj", path: "/etc/foo.conf", md5: md5("3\n"), mtime: T0 });
  });

  it("writes the update of a protected file the user deleted as ._cfg, and does not protect CONFIG_PROTECT_MASK or a zero-size .keep file", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "etc/foo.conf": "1\n", "etc/env.d/50foo": "A=1\n", "etc/foo/.keep_app-misc_foo-0": "" });
    fs.rmSync(path.join(root, "etc/foo.conf"));
    fs.writeFileSync(path.join(root, "etc/env.d/50foo"), "A=mine\n");
    fs.writeFileSync(path.join(root, "etc/foo/.keep_app-misc_foo-0"), "");
    const r = await merge(root, "app-misc/foo-1.1", { "etc/foo.conf": "2\n", "etc/env.d/50foo": "A=2\n", "etc/foo/.keep_app-misc_foo-0": "", "etc/new.conf": "new\n" });
    expect(r.configPending).toEqual([{ path: "/etc/foo.conf", file: "/etc/._cfg0000_foo.conf" }]);
    expect(exists(root, "etc/foo.conf")).toBe(false);
    expect(read(root, "etc/env.d/50foo")).toBe("A=2\n");
    expect(read(root, "etc/new.conf")).toBe("new\n");
    expect(fs.readdirSync(path.join(root, "etc/foo"))).toEqual([".keep_app-misc_foo-0"]);
  });

  it("protects symlinks too: a changed link target goes to a ._cfg link", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "etc/foo.d/default": { link: "a" } });
    fs.rmSync(path.join(root, "etc/foo.d/default"));
    fs.symlinkSync("mine", path.join(root, "etc/foo.d/default"));
    await merge(root, "app-misc/foo-1.1", { "etc/foo.d/default": { link: "b" } });
    expect(fs.readlinkSync(path.join(root, "etc/foo.d/default"))).toBe("mine");
    expect(fs.readlinkSync(path.join(root, "etc/foo.d/._cfg0000_default"))).toBe("b");
  });
});

describe("collisions", () => {
  it("refuses a file owned by another installed package before any change (protect-owned)", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/bar-1.0", { "usr/bin/shared": "bar's\n" });
    const before = unchanged(root);
    const { image, buildInfo } = prepare("app-misc/foo-1.0", { "usr/bin/shared": "foo's\n", "usr/bin/foo": "foo\n", "usr/share/foo/x": "x\n" }, "0");
    const imageBefore = snapshot(image);
    await expect(mergePackage(request(root, "app-misc/foo-1.0", image, buildInfo, {}))).rejects.toThrow(/NOT merged due to file collisions \(1\): \/usr\/bin\/shared \(owned by app-misc\/bar-1\.0\)/);
    expect(unchanged(root)).toEqual(before);
    expect(snapshot(image)).toEqual(imageBefore);
    expect(cpvs(root)).toEqual(["app-misc/bar-1.0"]);
  });

  it("collision-protect refuses an orphan file; protect-owned overwrites it with a warning; COLLISION_IGNORE lets it through", async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "usr/bin"), { recursive: true });
    fs.writeFileSync(path.join(root, "usr/bin/foo"), "orphan\n");
    const before = unchanged(root);
    await expect(merge(root, "app-misc/foo-1.0", { "usr/bin/foo": "foo\n" }, { features: ["collision-protect"] })).rejects.toThrow(/NOT merged due to file collisions \(1\): \/usr\/bin\/foo \(no owner\)/);
    expect(unchanged(root)).toEqual(before);
    await merge(root, "app-misc/foo-1.0", { "usr/bin/foo": "foo\n" }, { features: ["collision-protect"], collisionIgnore: ["/usr/bin"] });
    expect(read(root, "usr/bin/foo")).toBe("foo\n");
    const root2 = tmpdir();
    fs.mkdirSync(path.join(root2, "usr/bin"), { recursive: true });
    fs.writeFileSync(path.join(root2, "usr/bin/foo"), "orphan\n");
    const reporter = new CollectingReporter();
    const r = await merge(root2, "app-misc/foo-1.0", { "usr/bin/foo": "foo\n" }, { reporter });
    expect(read(root2, "usr/bin/foo")).toBe("foo\n");
    expect(r.collisions).toEqual([{ path: "/usr/bin/foo", owners: [] }]);
    expect(reporter.warnings().join("\n")).toMatch(/may belong to other packages: \/usr\/bin\/foo/);
  });

  it("lets a new version overwrite the files of the version it replaces", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/bin/foo": "1\n" });
    await merge(root, "app-misc/foo-2.0", { "usr/bin/foo": "2\n" }, { features: ["collision-protect"] });
    expect(read(root, "usr/bin/foo")).toBe("2\n");
  });
});

describe("unmerge", () => {
  it("removes only files whose md5 and mtime match CONTENTS without unmerge-orphans, empty directories bottom-up, and the vdb entry last", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/bin/foo": "foo\n", "usr/share/foo/a/b/c.txt": "c\n", "usr/share/foo/edited.txt": "e\n", "usr/share/foo/touched.txt": "t\n", "usr/share/foo/link": { link: "../../bin/foo" } });
    fs.writeFileSync(path.join(root, "usr/share/foo/edited.txt"), "edited\n");
    fs.utimesSync(path.join(root, "usr/share/foo/edited.txt"), T0, T0);
    fs.utimesSync(path.join(root, "usr/share/foo/touched.txt"), T0 + 5, T0 + 5);
    const seen: string[] = [];
    const r = await unmerge(root, "app-misc/foo-1.0", {
      features: [],
      hooks: { prerm: async (p, by) => void seen.push(`prerm ${p.cpv} '${by}' ${exists(root, "usr/bin/foo")}`), postrm: async (p) => void seen.push(`postrm ${p.cpv} ${exists(root, "usr/bin/foo")} ${cpvs(root).length}`) },
    });
    expect(seen).toEqual(["prerm app-misc/foo-1.0 '' true", "postrm app-misc/foo-1.0 false 1"]);
    expect(cpvs(root)).toEqual([]);
    expect(exists(root, "var/db/pkg/app-misc")).toBe(false);
    expect(read(root, "usr/share/foo/edited.txt")).toBe("edited\n");
    expect(read(root, "usr/share/foo/touched.txt")).toBe("t\n");
    expect(exists(root, "usr/bin")).toBe(false);
    expect(exists(root, "usr/share/foo/a")).toBe(false);
    expect(exists(root, "usr/share/foo/link")).toBe(false);
    expect(r.kept.filter((k) => k.reason !== "!empty")).toEqual([
      { path: "/usr/share/foo/touched.txt", type: "obj", reason: "!mtime" },
      { path: "/usr/share/foo/edited.txt", type: "obj", reason: "!md5" },
    ]);
    expect(r.kept.filter((k) => k.reason === "!empty").map((k) => k.path)).toEqual(["/usr/share/foo", "/usr/share", "/usr"]);
    expect(r.removed).toContain("/usr/share/foo/a/b");
    expectClean(root);
  });

  it("keeps modified protected configuration even with unmerge-orphans, removes unmodified configuration and modified unprotected files", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "etc/foo.conf": "1\n", "etc/foo-untouched.conf": "u\n", "usr/bin/foo": "foo\n" });
    fs.writeFileSync(path.join(root, "etc/foo.conf"), "mine\n");
    fs.writeFileSync(path.join(root, "usr/bin/foo"), "patched by hand\n");
    fs.writeFileSync(path.join(root, "etc/._cfg0000_foo.conf"), "pending\n");
    const r = await unmerge(root, "app-misc/foo-1.0");
    expect(read(root, "etc/foo.conf")).toBe("mine\n");
    expect(exists(root, "etc/foo-untouched.conf")).toBe(false);
    expect(exists(root, "usr/bin/foo")).toBe(false);
    expect(exists(root, "etc/._cfg0000_foo.conf")).toBe(true);
    expect(r.kept).toContainEqual({ path: "/etc/foo.conf", type: "obj", reason: "!mtime" });
    expect(cpvs(root)).toEqual([]);
  });

  it("keeps a directory that still holds another package's files", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/share/common/foo": "f\n" });
    await merge(root, "app-misc/bar-1.0", { "usr/share/common/bar": "b\n" });
    await unmerge(root, "app-misc/foo-1.0");
    expect(fs.readdirSync(path.join(root, "usr/share/common"))).toEqual(["bar"]);
    expect(cpvs(root)).toEqual(["app-misc/bar-1.0"]);
  });

  it("refuses to remove a set-uid file that has a hard link outside the package", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/bin/su-ish": { text: "x\n", mode: 0o4755 } });
    fs.linkSync(path.join(root, "usr/bin/su-ish"), path.join(root, "kept-copy"));
    await expect(unmerge(root, "app-misc/foo-1.0")).rejects.toThrow(/suspicious hardlink/);
    expect(cpvs(root)).toEqual(["app-misc/foo-1.0"]);
  });
});

describe("recovery", () => {
  it("is a no-op when nothing was interrupted, and reports a -MERGING- entry that no journal accounts for without deleting it", async () => {
    const root = tmpdir();
    await merge(root, "app-misc/foo-1.0", { "usr/bin/foo": "foo\n" });
    expect(await recoverInterrupted(root)).toEqual({ transactions: [], strayMerging: [] });
    fs.mkdirSync(path.join(root, "var/db/pkg/app-misc/-MERGING-bar-1.0"));
    const reporter = new CollectingReporter();
    const r = await recoverInterrupted(root, reporter);
    expect(r.strayMerging).toEqual([path.join(root, "var/db/pkg/app-misc/-MERGING-bar-1.0")]);
    expect(reporter.warnings().join("\n")).toMatch(/no ouzo journal accounts for/);
    expect(exists(root, "var/db/pkg/app-misc/-MERGING-bar-1.0")).toBe(true);
  });

  it("discards a journal whose first record is torn (nothing had been changed)", async () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "var/lib/ouzo/journal"), { recursive: true });
    fs.writeFileSync(path.join(root, "var/lib/ouzo/journal/x-1"), '0000abcd {"r":"BEG');
    const r = await recoverInterrupted(root);
    expect(r.transactions).toEqual([{ tx: "x-1", kind: "unknown", cpv: "", action: "discarded", state: "", phaseProblems: [] }]);
    expectClean(root);
  });
});
