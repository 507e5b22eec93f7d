import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { filesCommand, installedCommand, ownerCommand } from "../src/cli/commands/installed.js";
import { Output } from "../src/ui/Output.js";
import type { ContentsEntry } from "../src/vdb/contents.js";
import { vdbDir } from "../src/vdb/installed.js";
import { OwnerIndex, normaliseOwnedPath } from "../src/vdb/ownerIndex.js";
import { commitVdbEntry, removeVdbEntry, stageVdbEntry } from "../src/vdb/vdbWrite.js";
import { FIXTURES } from "./vectors.js";
import { tmpdir, writeTree } from "./helpers.js";

const MD5 = "0123456789abcdef0123456789abcdef";
const obj = (p: string): ContentsEntry => ({ type: "obj", path: p, md5: MD5, mtime: 1700000000 });
const dir = (p: string): ContentsEntry => ({ type: "dir", path: p });

/** Install an entry the way the merge does: staged, committed. */
function install(root: string, cpv: string, contents: ContentsEntry[], files: Record<string, string> = {}): void {
  const [category, pf] = cpv.split("/") as [string, string];
  const bi = path.join(tmpdir(), "bi");
  writeTree(bi, { SLOT: "0\n", EAPI: "8\n", USE: "\n", repository: "core-kit\n", ...files });
  stageVdbEntry(root, { category, pf, buildInfoDir: bi, contents, counter: 1 });
  commitVdbEntry(root, category, pf);
}

/** An entry written by another tool, straight into the VDB (no ouzo code involved). */
function foreignEntry(root: string, cpv: string, contents: string): void {
  writeTree(path.join(vdbDir(root), cpv), { SLOT: "0\n", CONTENTS: contents, COUNTER: "9" });
}

function rootWithPackages(): { root: string; cache: string } {
  const root = tmpdir();
  install(root, "sys-libs/zlib-1.3", [dir("/usr"), dir("/usr/lib64"), obj("/usr/lib64/libz.so.1.3"), { type: "sym", path: "/usr/lib64/libz.so", target: "libz.so.1.3", mtime: 1 }]);
  install(root, "app-misc/hello-1.0", [dir("/usr"), dir("/usr/bin"), obj("/usr/bin/hello"), obj("/usr/share/doc/hello 1.0/README with blanks")]);
  return { root, cache: path.join(root, "var/cache/ouzo") };
}

describe("the owner index", () => {
  it("records every file of a package with many, as the statements of many rows and the one-row ones share them out", () => {
    const root = tmpdir();
    // 150 files: two statements of 64 rows and 22 single rows; a path given twice counts once
    const many = Array.from({ length: 150 }, (_, i) => obj(`/usr/share/many/f${i}`));
    install(root, "app-misc/many-1.0", [...many, obj("/usr/share/many/f0")]);
    install(root, "app-misc/other-1.0", [obj("/usr/share/many/f127")]);
    const idx = OwnerIndex.open(root, path.join(root, "var/cache/ouzo"));
    try {
      const paths = many.map((e) => e.path);
      const got = idx.owners(paths);
      expect(paths.filter((p) => !got.has(p))).toEqual([]);
      expect(got.get("/usr/share/many/f63")).toEqual(["app-misc/many-1.0"]);
      expect(got.get("/usr/share/many/f127")).toEqual(["app-misc/many-1.0", "app-misc/other-1.0"]);
      expect(got.get("/usr/share/many/f149")).toEqual(["app-misc/many-1.0"]);
      expect(idx.size()).toEqual({ packages: 2, files: 151 });
    } finally {
      idx.close();
    }
  });

  it("answers who owns a path, a directory owned by several packages included; unowned paths are absent", () => {
    const { root, cache } = rootWithPackages();
    const idx = OwnerIndex.open(root, cache);
    try {
      expect(idx.file).toBe(path.join(cache, "owners.sqlite"));
      const got = idx.owners(["/usr/bin/hello", "/usr", "/usr/lib64/libz.so", "/usr/share/doc/hello 1.0/README with blanks", "/etc/passwd", "relative"]);
      expect(Object.fromEntries(got)).toEqual({
        "/usr/bin/hello": ["app-misc/hello-1.0"],
        "/usr": ["app-misc/hello-1.0", "sys-libs/zlib-1.3"],
        "/usr/lib64/libz.so": ["sys-libs/zlib-1.3"],
        "/usr/share/doc/hello 1.0/README with blanks": ["app-misc/hello-1.0"],
      });
      expect(idx.size()).toEqual({ packages: 2, files: 8 });
    } finally {
      idx.close();
    }
  });

  it("follows an ouzo write and removal through update()", () => {
    const { root, cache } = rootWithPackages();
    const idx = OwnerIndex.open(root, cache);
    try {
      const contents = [dir("/usr"), dir("/usr/bin"), obj("/usr/bin/vim")];
      install(root, "app-editors/vim-9.1", contents);
      idx.update("app-editors/vim-9.1", contents);
      expect(idx.owners(["/usr/bin/vim"]).get("/usr/bin/vim")).toEqual(["app-editors/vim-9.1"]);
      removeVdbEntry(root, "app-misc", "hello-1.0");
      idx.update("app-misc/hello-1.0", undefined);
      expect(idx.owners(["/usr/bin/hello"]).size).toBe(0);
      expect(idx.owners(["/usr"]).get("/usr")).toEqual(["app-editors/vim-9.1", "sys-libs/zlib-1.3"]);
      // update() left nothing for a refresh to find
      expect(idx.refresh()).toEqual({ categories: 0, read: 0, dropped: 0 });
    } finally {
      idx.close();
    }
  });

  it("takes the CONTENTS a run has just written from memory when told them, and reads the others", () => {
    const { root, cache } = rootWithPackages();
    const idx = OwnerIndex.open(root, cache);
    try {
      install(root, "app-editors/vim-9.1", [dir("/usr"), obj("/usr/bin/vim")]);
      install(root, "app-editors/nano-8.0", [dir("/usr"), obj("/usr/bin/nano")]);
      // what the run says it wrote stands for vim's CONTENTS (here it differs, to tell them apart); nano's file is read
      const r = idx.refresh(new Map([["app-editors/vim-9.1", [obj("/usr/bin/vim-as-written")]]]));
      expect(r).toEqual({ categories: 1, read: 2, dropped: 0 });
      expect([...idx.owners(["/usr/bin/vim", "/usr/bin/vim-as-written", "/usr/bin/nano"])]).toEqual([
        ["/usr/bin/vim-as-written", ["app-editors/vim-9.1"]],
        ["/usr/bin/nano", ["app-editors/nano-8.0"]],
      ]);
    } finally {
      idx.close();
    }
  });

  it("records committed entries as they come, which the next refresh finds current, and settles the rest of their category then", () => {
    const { root, cache } = rootWithPackages();
    const idx = OwnerIndex.open(root, cache);
    try {
      install(root, "app-editors/vim-9.1", [dir("/usr"), obj("/usr/bin/vim")]);
      idx.record(new Map([["app-editors/vim-9.1", [dir("/usr"), obj("/usr/bin/vim")]]]));
      // recorded alone: the category's other entries are the refresh's business
      install(root, "app-editors/nano-8.0", [dir("/usr"), obj("/usr/bin/nano")]);
      // an entry not in place yet is left to the refresh
      idx.record(new Map([["app-editors/ed-1.0", [obj("/usr/bin/ed")]]]));
      expect(idx.refresh()).toEqual({ categories: 1, read: 1, dropped: 0 });
      expect([...idx.owners(["/usr/bin/vim", "/usr/bin/nano", "/usr/bin/ed"])]).toEqual([
        ["/usr/bin/vim", ["app-editors/vim-9.1"]],
        ["/usr/bin/nano", ["app-editors/nano-8.0"]],
      ]);
      // recorded again after an upgrade in place (the same PF, a new CONTENTS): its old files go
      removeVdbEntry(root, "app-editors", "vim-9.1");
      install(root, "app-editors/vim-9.1", [dir("/usr"), obj("/usr/bin/vim9")]);
      idx.record(new Map([["app-editors/vim-9.1", [dir("/usr"), obj("/usr/bin/vim9")]]]));
      expect(idx.refresh()).toEqual({ categories: 1, read: 0, dropped: 0 });
      expect([...idx.owners(["/usr/bin/vim", "/usr/bin/vim9"])]).toEqual([["/usr/bin/vim9", ["app-editors/vim-9.1"]]]);
    } finally {
      idx.close();
    }
  });

  it("sees what another tool changed in the VDB behind its back: an entry added, rewritten, removed", () => {
    const { root, cache } = rootWithPackages();
    const idx = OwnerIndex.open(root, cache);
    try {
      expect(idx.refresh()).toEqual({ categories: 0, read: 0, dropped: 0 });
      foreignEntry(root, "app-misc/other-2", "dir /opt\nobj /opt/other 0123456789abcdef0123456789abcdef 1\n");
      expect(idx.owners(["/opt/other"]).get("/opt/other")).toEqual(["app-misc/other-2"]);
      // Portage rewrites CONTENTS (temp + rename) and bumps the category's mtime (§9.1)
      const contents = path.join(vdbDir(root), "app-misc/other-2/CONTENTS");
      fs.writeFileSync(`${contents}.tmp`, "obj /opt/other2 0123456789abcdef0123456789abcdef 1\n");
      fs.renameSync(`${contents}.tmp`, contents);
      const now = new Date();
      fs.utimesSync(path.join(vdbDir(root), "app-misc"), now, now);
      expect(Object.fromEntries(idx.owners(["/opt/other", "/opt/other2"]))).toEqual({ "/opt/other2": ["app-misc/other-2"] });
      fs.rmSync(path.join(vdbDir(root), "app-misc/other-2"), { recursive: true });
      expect(idx.owners(["/opt/other2"]).size).toBe(0);
      // a whole category gone
      fs.rmSync(path.join(vdbDir(root), "sys-libs"), { recursive: true });
      expect(idx.owners(["/usr"]).get("/usr")).toEqual(["app-misc/hello-1.0"]);
    } finally {
      idx.close();
    }
    // and a new process (a new open) sees a change made while no one had it open
    foreignEntry(root, "dev-util/late-1", "obj /usr/bin/late 0123456789abcdef0123456789abcdef 1\n");
    const again = OwnerIndex.open(root, cache);
    try {
      expect(again.owners(["/usr/bin/late"]).get("/usr/bin/late")).toEqual(["dev-util/late-1"]);
    } finally {
      again.close();
    }
  });

  it("is rebuilt from the VDB when its file is deleted or damaged, or was built for another ROOT", () => {
    const { root, cache } = rootWithPackages();
    OwnerIndex.open(root, cache).close();
    const file = path.join(cache, "owners.sqlite");
    for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true });
    let idx = OwnerIndex.open(root, cache);
    expect(idx.owners(["/usr/bin/hello"]).get("/usr/bin/hello")).toEqual(["app-misc/hello-1.0"]);
    idx.close();
    for (const suffix of ["-wal", "-shm"]) fs.rmSync(file + suffix, { force: true });
    fs.writeFileSync(file, "this is not a database, but it is long enough to look like a header of one........");
    idx = OwnerIndex.open(root, cache);
    expect(idx.owners(["/usr/bin/hello"]).get("/usr/bin/hello")).toEqual(["app-misc/hello-1.0"]);
    idx.close();
    // the same cache directory used for another ROOT: that ROOT's packages, none of the first's
    const other = tmpdir();
    install(other, "app-misc/solo-1", [obj("/usr/bin/solo")]);
    idx = OwnerIndex.open(other, cache);
    try {
      expect(idx.packages()).toEqual(["app-misc/solo-1"]);
    } finally {
      idx.close();
    }
  });

  it("builds in memory when the cache directory cannot be written", () => {
    const { root } = rootWithPackages();
    const blocked = path.join(tmpdir(), "file-not-dir");
    fs.writeFileSync(blocked, "");
    const idx = OwnerIndex.open(root, path.join(blocked, "cache"));
    try {
      expect(idx.file).toBe(":memory:");
      expect(idx.owners(["/usr/bin/hello"]).get("/usr/bin/hello")).toEqual(["app-misc/hello-1.0"]);
    } finally {
      idx.close();
    }
  });

  it("normalises // . .. and trailing slashes, and follows directory symlinks of ROOT both ways", () => {
    expect(normaliseOwnedPath("//usr//lib64/./x/../")).toBe("/usr/lib64");
    expect(normaliseOwnedPath("/")).toBe("/");
    expect(normaliseOwnedPath("usr/bin")).toBeUndefined();
    const { root, cache } = rootWithPackages();
    // SYMLINK_LIB and usrmerge: /lib -> lib64 is no part of any package here; /bin -> usr/bin (relative), /sbin -> /usr/bin (absolute, inside ROOT)
    fs.mkdirSync(path.join(root, "usr/lib64"), { recursive: true });
    fs.mkdirSync(path.join(root, "usr/bin"), { recursive: true });
    fs.symlinkSync("lib64", path.join(root, "usr/lib"));
    fs.symlinkSync("usr/bin", path.join(root, "bin"));
    fs.symlinkSync("/usr/bin", path.join(root, "sbin"));
    install(root, "sys-apps/old-1", [dir("/bin"), obj("/bin/legacy")]);
    const idx = OwnerIndex.open(root, cache);
    try {
      expect(Object.fromEntries(idx.owners(["//usr//bin/hello/", "/usr/lib/libz.so.1.3", "/bin/hello", "/sbin/hello", "/usr/bin/legacy", "/usr/bin/../bin/legacy"]))).toEqual({
        "//usr//bin/hello/": ["app-misc/hello-1.0"],
        "/usr/lib/libz.so.1.3": ["sys-libs/zlib-1.3"],
        "/bin/hello": ["app-misc/hello-1.0"],
        "/sbin/hello": ["app-misc/hello-1.0"],
        "/usr/bin/legacy": ["sys-apps/old-1"],
        "/usr/bin/../bin/legacy": ["sys-apps/old-1"],
      });
    } finally {
      idx.close();
    }
  });

  it("finds owned paths by their last component", () => {
    const { root, cache } = rootWithPackages();
    install(root, "app-misc/hello2-1", [obj("/usr/libexec/hello"), obj("/usr/libexec/xhello")]);
    const idx = OwnerIndex.open(root, cache);
    try {
      expect(Object.fromEntries(idx.ownersByName("hello"))).toEqual({ "/usr/bin/hello": ["app-misc/hello-1.0"], "/usr/libexec/hello": ["app-misc/hello2-1"] });
      expect(idx.ownersByName("nothing%").size).toBe(0);
    } finally {
      idx.close();
    }
  });

  it("keeps working when two processes' worth of handles refresh the same file", () => {
    const { root, cache } = rootWithPackages();
    const a = OwnerIndex.open(root, cache);
    const b = OwnerIndex.open(root, cache);
    try {
      foreignEntry(root, "app-misc/shared-1", "obj /srv/shared 0123456789abcdef0123456789abcdef 1\n");
      expect(a.owners(["/srv/shared"]).get("/srv/shared")).toEqual(["app-misc/shared-1"]);
      // b finds the category already brought up to date by a
      expect(b.refresh()).toEqual({ categories: 0, read: 0, dropped: 0 });
      expect(b.owners(["/srv/shared"]).get("/srv/shared")).toEqual(["app-misc/shared-1"]);
    } finally {
      a.close();
      b.close();
    }
  });
});

/** An Output whose stdout and stderr are strings. */
function bufferOutput(json = false) {
  const text = { out: "", err: "" };
  const stream = (k: "out" | "err") => ({ write: (s: string) => ((text[k] += s), true), isTTY: false, columns: 80 }) as unknown as NodeJS.WriteStream;
  return { out: new Output({ json, quiet: false, verbose: false, color: "never" }, stream("out"), stream("err")), text };
}

describe("ouzo owner, files, installed (the handlers)", () => {
  it("owner prints `cat/pf (path)` per hit like equery belongs, and fails when nothing is owned", async () => {
    const { root, cache } = rootWithPackages();
    let o = bufferOutput();
    expect(await ownerCommand({ paths: ["/usr/bin/hello", "/usr", "/nope", "libz.so"], root, cacheDir: cache }, o.out)).toBe(0);
    expect(o.text.out).toBe("app-misc/hello-1.0 (/usr/bin/hello)\napp-misc/hello-1.0 (/usr)\nsys-libs/zlib-1.3 (/usr)\nsys-libs/zlib-1.3 (/usr/lib64/libz.so)\n");
    o = bufferOutput();
    expect(await ownerCommand({ paths: ["/nope"], root, cacheDir: cache }, o.out)).toBe(1);
    expect(o.text.out).toBe("");
    expect(o.text.err).toMatch(/no installed package owns \/nope/);
    o = bufferOutput(true);
    expect(await ownerCommand({ paths: ["/usr/bin/hello", "/nope"], root, cacheDir: cache, json: true }, o.out)).toBe(0);
    expect(JSON.parse(o.text.out)).toEqual({ root, results: [{ query: "/usr/bin/hello", owners: [{ cpv: "app-misc/hello-1.0", path: "/usr/bin/hello" }] }, { query: "/nope", owners: [] }] });
  });

  it("files prints the CONTENTS of the best installed match, symlinks with their targets", async () => {
    const { root } = rootWithPackages();
    let o = bufferOutput();
    expect(await filesCommand({ atom: "zlib", root }, o.out)).toBe(0);
    expect(o.text.out).toBe("/usr\n/usr/lib64\n/usr/lib64/libz.so.1.3\n/usr/lib64/libz.so -> libz.so.1.3\n");
    o = bufferOutput(true);
    expect(await filesCommand({ atom: ">=sys-libs/zlib-1", root, json: true }, o.out)).toBe(0);
    const doc = JSON.parse(o.text.out);
    expect(doc.cpv).toBe("sys-libs/zlib-1.3");
    expect(doc.files[2]).toEqual({ type: "obj", path: "/usr/lib64/libz.so.1.3", md5: MD5, mtime: 1700000000 });
    expect(doc.files[3]).toEqual({ type: "sym", path: "/usr/lib64/libz.so", target: "libz.so.1.3", mtime: 1 });
    o = bufferOutput();
    expect(await filesCommand({ atom: "sys-libs/zlib:5", root }, o.out)).toBe(1);
  });

  it("installed lists cpv:SLOT[/SUBSLOT]::repo, all or those matching an atom", async () => {
    const root = tmpdir();
    fs.cpSync(path.join(FIXTURES, "vdb"), root, { recursive: true });
    let o = bufferOutput();
    expect(await installedCommand({ root }, o.out)).toBe(0);
    expect(o.text.out).toBe("app-misc/foo-bar-2.0_p1:0\ndev-lang/python-3.11.9:3.11::core-kit\nsys-libs/zlib-1.3.1-r1:0/1::core-kit\n");
    o = bufferOutput(true);
    expect(await installedCommand({ root, atom: "dev-lang/python:3.11", json: true }, o.out)).toBe(0);
    expect(JSON.parse(o.text.out).packages).toEqual([{ cpv: "dev-lang/python-3.11.9", category: "dev-lang", package: "python", version: "3.11.9", slot: "3.11", subslot: "3.11", repo: "core-kit", counter: 1043, buildTime: expect.any(Number) }]);
    o = bufferOutput();
    expect(await installedCommand({ root, atom: "nothing" }, o.out)).toBe(1);
  });
});
