import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseContents, type ContentsEntry } from "../src/vdb/contents.js";
import { counterFile, nextCounter } from "../src/vdb/counter.js";
import { readInstalled, readInstalledEntry, vdbDir } from "../src/vdb/installed.js";
import { applyMovesToDependencies, applyPackageMoves, type VdbPackageMove } from "../src/vdb/packageMoves.js";
import { vdbLockFile, withVdbLock } from "../src/vdb/vdbLock.js";
import { commitVdbEntry, recoverVdbEntries, removeVdbEntry, replacedDir, stageVdbEntry, stagingDir, vdbEntryDir, type NewVdbEntry } from "../src/vdb/vdbWrite.js";
import { readWorld, worldFile, worldSetsFile } from "../src/vdb/world.js";
import { addWorldAtoms, addWorldSets, removeWorldAtoms, removeWorldSets, worldLockFile } from "../src/vdb/worldWrite.js";
import { Atom } from "../src/pms/atom.js";
import { USER_CONFIG_EAPI } from "../src/pms/eapi.js";
import { readPackageMoves } from "../src/sync/packageMoves.js";
import { FIXTURES } from "./vectors.js";
import { bundleSources, tmpdir, writeTree } from "./helpers.js";

/** The zlib entry of fixtures/vdb: every file of §9.2 as Portage writes them. */
const ZLIB = path.join(FIXTURES, "vdb/var/db/pkg/sys-libs/zlib-1.3.1-r1");
const ZLIB_CONTENTS = parseContents(fs.readFileSync(path.join(ZLIB, "CONTENTS"), "utf8"));

/** A build-info directory (§4.9) as the build stage leaves it: the entry's files without CONTENTS and COUNTER. */
function buildInfoFrom(entry: string, extra: Record<string, string> = {}): string {
  const bi = path.join(tmpdir(), "build-info");
  fs.mkdirSync(bi);
  for (const f of fs.readdirSync(entry)) if (f !== "CONTENTS" && f !== "COUNTER") fs.copyFileSync(path.join(entry, f), path.join(bi, f));
  writeTree(bi, extra);
  return bi;
}

function zlibEntry(buildInfoDir: string, counter = 1042, contents: readonly ContentsEntry[] = ZLIB_CONTENTS): NewVdbEntry {
  return { category: "sys-libs", pf: "zlib-1.3.1-r1", buildInfoDir, contents, counter };
}

function write(root: string, e: NewVdbEntry): string {
  stageVdbEntry(root, e);
  commitVdbEntry(root, e.category, e.pf);
  return vdbEntryDir(root, e.category, e.pf);
}

/** A minimal entry (what the tests of moves and locks need). */
function simpleEntry(root: string, cpv: string, files: Record<string, string> = {}, counter = 1): string {
  const [category, pf] = cpv.split("/") as [string, string];
  const bi = path.join(tmpdir(), "bi");
  writeTree(bi, { SLOT: "0\n", EAPI: "8\n", USE: "\n", ...files });
  return write(root, { category, pf, buildInfoDir: bi, contents: [{ type: "obj", path: `/usr/share/${pf}/data`, md5: "0".repeat(32), mtime: 1 }], counter });
}

function run(script: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const hasPython = spawnSync("python3", ["-c", "import fcntl"]).status === 0;

describe("writing a VDB entry", () => {
  it("writes byte for byte what Portage wrote for zlib, and our reader reads the same package", () => {
    const root = tmpdir();
    const dir = write(root, zlibEntry(buildInfoFrom(ZLIB)));
    // §9.3: empty dependency files are not written (the fixture has empty DEPEND and RDEPEND)
    const expected = fs.readdirSync(ZLIB).filter((f) => !((f === "DEPEND" || f === "RDEPEND") && !fs.readFileSync(path.join(ZLIB, f), "utf8").trim()));
    expect(fs.readdirSync(dir).sort()).toEqual(expected.sort());
    expect(fs.readdirSync(dir).sort()).toEqual(
      ["BDEPEND", "BUILD_TIME", "CATEGORY", "CFLAGS", "CHOST", "CONTENTS", "COUNTER", "DEFINED_PHASES", "DESCRIPTION", "EAPI", "FEATURES", "HOMEPAGE", "INHERITED", "IUSE", "IUSE_EFFECTIVE", "KEYWORDS", "LICENSE", "PF", "SIZE", "SLOT", "USE", "environment.bz2", "repository", "zlib-1.3.1-r1.ebuild"],
    );
    for (const f of expected) expect(fs.readFileSync(path.join(dir, f)), f).toEqual(fs.readFileSync(path.join(ZLIB, f)));
    expect(fs.readFileSync(path.join(dir, "COUNTER"), "utf8")).toBe("1042");
    for (const f of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, f)).mode & 0o777, f).toBe(0o644);
    const { dir: _a, ...ours } = readInstalledEntry(dir, "sys-libs", "zlib-1.3.1-r1");
    const { dir: _b, ...portages } = readInstalledEntry(ZLIB, "sys-libs", "zlib-1.3.1-r1");
    expect(ours).toEqual(portages);
    expect(readInstalled(root).map((p) => p.cpv)).toEqual(["sys-libs/zlib-1.3.1-r1"]);
    // nothing left beside the entry
    expect(fs.readdirSync(path.join(vdbDir(root), "sys-libs"))).toEqual(["zlib-1.3.1-r1"]);
  });

  it("stages under -MERGING-<PF>, which readers do not count, and commits by rename", () => {
    const root = tmpdir();
    const stage = stageVdbEntry(root, zlibEntry(buildInfoFrom(ZLIB)));
    expect(stage).toBe(stagingDir(root, "sys-libs", "zlib-1.3.1-r1"));
    expect(fs.existsSync(path.join(stage, "CONTENTS"))).toBe(true);
    const warnings: string[] = [];
    expect(readInstalled(root, (w) => warnings.push(w.message))).toEqual([]);
    expect(warnings.join()).toMatch(/interrupted merge/);
    commitVdbEntry(root, "sys-libs", "zlib-1.3.1-r1");
    expect(fs.existsSync(stage)).toBe(false);
    expect(readInstalled(root).map((p) => p.counter)).toEqual([1042]);
    expect(() => commitVdbEntry(root, "sys-libs", "zlib-1.3.1-r1")).toThrow(/no staged entry/);
  });

  it("drops empty dependency files, writes extra files as lines, never copies upstream-only files", () => {
    const root = tmpdir();
    const bi = buildInfoFrom(ZLIB, { PDEPEND: "  \n", RESTRICT: "test\n", metadata: "#format=1\n", REPO_REVISIONS: "{}\n", CONTENTS: "obj /stale 0 0\n", COUNTER: "1" });
    const dir = write(root, { ...zlibEntry(bi), extra: { INSTALL_MASK: "/usr/share/doc", CHOST: "aarch64-unknown-linux-gnu\n", DEBUGBUILD: "", RESTRICT: "" } });
    const names = fs.readdirSync(dir);
    for (const gone of ["PDEPEND", "RESTRICT", "metadata", "REPO_REVISIONS", "DEPEND", "RDEPEND"]) expect(names).not.toContain(gone);
    expect(fs.readFileSync(path.join(dir, "INSTALL_MASK"), "utf8")).toBe("/usr/share/doc\n");
    expect(fs.readFileSync(path.join(dir, "CHOST"), "utf8")).toBe("aarch64-unknown-linux-gnu\n");
    expect(fs.readFileSync(path.join(dir, "DEBUGBUILD"), "utf8")).toBe("");
    expect(fs.readFileSync(path.join(dir, "CONTENTS"), "utf8")).toBe(fs.readFileSync(path.join(ZLIB, "CONTENTS"), "utf8"));
    expect(fs.readFileSync(path.join(dir, "COUNTER"), "utf8")).toBe("1042");
  });

  it("writes CATEGORY and PF when build-info lacks them, and refuses a mismatch, a missing SLOT or a CONTENTS that would not read back, writing nothing", () => {
    const root = tmpdir();
    const bi = path.join(tmpdir(), "bi");
    writeTree(bi, { SLOT: "0\n", EAPI: "8\n" });
    const dir = write(root, { category: "app-misc", pf: "hello-1.0", buildInfoDir: bi, contents: [], counter: 3 });
    expect(fs.readFileSync(path.join(dir, "CATEGORY"), "utf8")).toBe("app-misc\n");
    expect(fs.readFileSync(path.join(dir, "PF"), "utf8")).toBe("hello-1.0\n");
    expect(fs.readFileSync(path.join(dir, "CONTENTS"), "utf8")).toBe("");

    const other = tmpdir();
    expect(() => stageVdbEntry(other, zlibEntry(buildInfoFrom(ZLIB, { CATEGORY: "app-misc\n" })))).toThrow(/build-info says CATEGORY 'app-misc', but the entry is sys-libs\/zlib-1.3.1-r1/);
    const noSlot = buildInfoFrom(ZLIB);
    fs.rmSync(path.join(noSlot, "SLOT"));
    expect(() => stageVdbEntry(other, zlibEntry(noSlot))).toThrow(/no SLOT/);
    expect(() => stageVdbEntry(other, zlibEntry(buildInfoFrom(ZLIB), 1, [{ type: "sym", path: "/a -> b", target: "c", mtime: 1 }]))).toThrow(/does not read back/);
    expect(() => stageVdbEntry(other, { ...zlibEntry(buildInfoFrom(ZLIB)), pf: "zlib" })).toThrow(/not a package name followed by a version/);
    expect(fs.existsSync(vdbDir(other))).toBe(false);
  });

  it("replaces an entry of the same PF: the new files in place, nothing of the old left, the category's mtime moved", () => {
    const root = tmpdir();
    write(root, zlibEntry(buildInfoFrom(ZLIB, { KEEPME: "old\n" })));
    const cat = path.join(vdbDir(root), "sys-libs");
    const past = new Date(Date.now() - 3600_000);
    fs.utimesSync(cat, past, past);
    fs.utimesSync(vdbDir(root), past, past);
    const contents: ContentsEntry[] = [{ type: "dir", path: "/usr" }, { type: "obj", path: "/usr/lib64/libz.so.1.3.2", md5: "f".repeat(32), mtime: 1800000000 }];
    const dir = write(root, zlibEntry(buildInfoFrom(ZLIB, { USE: "amd64 static-libs\n" }), 1043, contents));
    expect(fs.readdirSync(cat)).toEqual(["zlib-1.3.1-r1"]);
    expect(fs.existsSync(path.join(dir, "KEEPME"))).toBe(false);
    expect(fs.readFileSync(path.join(dir, "CONTENTS"), "utf8")).toBe(`dir /usr\nobj /usr/lib64/libz.so.1.3.2 ${"f".repeat(32)} 1800000000\n`);
    expect(readInstalledEntry(dir, "sys-libs", "zlib-1.3.1-r1")).toMatchObject({ counter: 1043, use: ["amd64", "static-libs"] });
    expect(fs.statSync(cat).mtimeMs).toBeGreaterThan(past.getTime() + 1000);
    expect(fs.statSync(vdbDir(root)).mtimeMs).toBeGreaterThan(past.getTime() + 1000);
  });

  it("removes an entry at once, its empty category with it; removing what is not there does nothing", () => {
    const root = tmpdir();
    simpleEntry(root, "app-misc/a-1");
    simpleEntry(root, "app-misc/b-1");
    removeVdbEntry(root, "app-misc", "a-1");
    expect(readInstalled(root).map((p) => p.cpv)).toEqual(["app-misc/b-1"]);
    expect(fs.readdirSync(path.join(vdbDir(root), "app-misc"))).toEqual(["b-1"]);
    removeVdbEntry(root, "app-misc", "b-1");
    expect(fs.existsSync(path.join(vdbDir(root), "app-misc"))).toBe(false);
    removeVdbEntry(root, "app-misc", "b-1");
  });

  it("recovers from a commit cut between its renames: the old entry is put back, or dropped once the new one is in place", () => {
    const root = tmpdir();
    simpleEntry(root, "app-misc/a-1", {}, 5);
    // crash after the old entry went aside, before the new one came in
    fs.renameSync(vdbEntryDir(root, "app-misc", "a-1"), replacedDir(root, "app-misc", "a-1"));
    stageVdbEntry(root, { category: "app-misc", pf: "a-1", buildInfoDir: buildInfoFrom(replacedDir(root, "app-misc", "a-1")), contents: [], counter: 6 });
    expect(readInstalled(root)).toEqual([]);
    expect(recoverVdbEntries(root)).toEqual({ restored: ["app-misc/a-1"], removed: [], staged: ["app-misc/a-1"] });
    expect(readInstalled(root).map((p) => p.counter)).toEqual([5]);
    // committing again finishes the replacement
    commitVdbEntry(root, "app-misc", "a-1");
    expect(readInstalled(root).map((p) => p.counter)).toEqual([6]);
    // crash after the new entry came in, before the old one was deleted
    fs.mkdirSync(replacedDir(root, "app-misc", "a-1"));
    expect(recoverVdbEntries(root)).toEqual({ restored: [], removed: ["app-misc/a-1"], staged: [] });
    expect(fs.readdirSync(path.join(vdbDir(root), "app-misc"))).toEqual(["a-1"]);
  });
});

describe("COUNTER", () => {
  it("is one more than the highest of the global file and every entry, and is written without a newline", () => {
    const root = tmpdir();
    expect(nextCounter(root)).toBe(1);
    expect(nextCounter(root)).toBe(2);
    expect(fs.readFileSync(counterFile(root), "utf8")).toBe("2");
    write(root, zlibEntry(buildInfoFrom(ZLIB), 1042));
    expect(nextCounter(root)).toBe(1043);
    fs.writeFileSync(counterFile(root), "5000");
    expect(nextCounter(root)).toBe(5001);
  });

  it("survives a lost or damaged global file, counting staged entries too", () => {
    const root = tmpdir();
    write(root, zlibEntry(buildInfoFrom(ZLIB), 1042));
    stageVdbEntry(root, { category: "app-misc", pf: "x-1", buildInfoDir: buildInfoFrom(ZLIB, { CATEGORY: "app-misc\n", PF: "x-1\n" }), contents: [], counter: 2000 });
    fs.rmSync(counterFile(root), { force: true });
    expect(nextCounter(root)).toBe(2001);
    fs.writeFileSync(counterFile(root), "garbage");
    expect(nextCounter(root)).toBe(2001);
    expect(fs.readFileSync(counterFile(root), "utf8")).toBe("2001");
  });
});

describe("the VDB lock", () => {
  it("serialises async callers of one process in order, lets a holder nest, and leaves no lock file behind", async () => {
    const root = tmpdir();
    const log: string[] = [];
    const job = (n: number) =>
      withVdbLock(root, async () => {
        log.push(`start ${n}`);
        expect(fs.existsSync(vdbLockFile(root))).toBe(true);
        await new Promise((r) => setTimeout(r, 5));
        // a helper that takes the lock itself runs at once inside a holder
        await withVdbLock(root, () => log.push(`nested ${n}`));
        log.push(`end ${n}`);
        return n;
      });
    expect(await Promise.all([job(1), job(2), job(3)])).toEqual([1, 2, 3]);
    expect(log).toEqual(["start 1", "nested 1", "end 1", "start 2", "nested 2", "end 2", "start 3", "nested 3", "end 3"]);
    // the lock file and the pid file beside it are gone
    expect(fs.readdirSync(path.dirname(vdbLockFile(root)))).toEqual([]);
  });

  it("lets go when the function throws", async () => {
    const root = tmpdir();
    await expect(withVdbLock(root, () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(await withVdbLock(root, () => 7)).toBe(7);
    expect(fs.existsSync(vdbLockFile(root))).toBe(false);
  });

  it("keeps two processes from interleaving: every COUNTER drawn once, every critical section whole", async () => {
    const root = tmpdir();
    const log = path.join(root, "log");
    const dir = bundleSources({ vdbLock: "src/vdb/vdbLock.ts", counter: "src/vdb/counter.ts" });
    const script = `import * as fs from "node:fs";
const { withVdbLock } = await import("./vdbLock.mjs");
const { nextCounter } = await import("./counter.mjs");
for (let i = 0; i < 8; i++) {
  await withVdbLock(${JSON.stringify(root)}, async () => {
    const c = nextCounter(${JSON.stringify(root)});
    fs.appendFileSync(${JSON.stringify(log)}, "start " + process.pid + " " + c + "\\n");
    await new Promise((r) => setTimeout(r, 15));
    fs.appendFileSync(${JSON.stringify(log)}, "end " + process.pid + " " + c + "\\n");
  });
}`;
    const results = await Promise.all([run(script, dir), run(script, dir)]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const lines = fs.readFileSync(log, "utf8").trim().split("\n");
    expect(lines).toHaveLength(32);
    for (let i = 0; i < lines.length; i += 2) {
      expect(lines[i]).toMatch(/^start /);
      expect(lines[i + 1]).toBe(lines[i]!.replace("start", "end"));
    }
    const counters = lines.filter((l) => l.startsWith("start")).map((l) => Number(l.split(" ")[2]));
    expect(counters).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(fs.existsSync(vdbLockFile(root))).toBe(false);
  });

  it.skipIf(!hasPython)("interoperates with Portage's lockf lock on the same file, both ways", async () => {
    const root = tmpdir();
    const file = vdbLockFile(root);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Portage's way: open O_CREAT|O_RDWR 0660, fcntl lock of the whole file; held until told to stop
    const holder = spawn("python3", ["-c", `import fcntl, os, sys\nfd = os.open(${JSON.stringify(file)}, os.O_CREAT | os.O_RDWR, 0o660)\nfcntl.lockf(fd, fcntl.LOCK_EX)\nprint("held", flush=True)\nsys.stdin.readline()\n`], { stdio: ["pipe", "pipe", "inherit"] });
    await new Promise<void>((r) => holder.stdout.once("data", () => r()));
    const waited: string[] = [];
    // told to let go only once ouzo found it held: ouzo's function must run after that
    const done = withVdbLock(root, () => waited.length === 1, { onWait: (m) => { waited.push(m); holder.stdin.end("\n"); } });
    expect(await done).toBe(true);
    expect(waited).toEqual([`waiting for the lock on the installed-package database (${file}), held by another process (Portage, or an ouzo that is waiting too)`]);
    // and Portage cannot take it while ouzo holds it
    const tryLock = `import fcntl, os\nfd = os.open(${JSON.stringify(file)}, os.O_CREAT | os.O_RDWR, 0o660)\ntry:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print("taken")\nexcept OSError:\n    print("busy")\n`;
    const inside = await withVdbLock(root, () => spawnSync("python3", ["-c", tryLock], { encoding: "utf8" }).stdout.trim());
    expect(inside).toBe("busy");
    expect(spawnSync("python3", ["-c", tryLock], { encoding: "utf8" }).stdout.trim()).toBe("taken");
  });
});

describe("the world files", () => {
  it("adds and removes atoms: sorted, unique, canonical, comments dropped, written atomically under its lock", async () => {
    const root = tmpdir();
    writeTree(root, { "var/lib/portage/world": "# mine\nsys-apps/portage::core-kit\napp-misc/foo-bar\n\ndev-lang/python:3.11\napp-misc/foo-bar\n" });
    expect(await addWorldAtoms(root, ["app-editors/vim", "app-misc/foo-bar", "dev-lang/python:3.12"])).toEqual({ added: ["app-editors/vim", "dev-lang/python:3.12"], removed: [] });
    expect(fs.readFileSync(worldFile(root), "utf8")).toBe("app-editors/vim\napp-misc/foo-bar\ndev-lang/python:3.11\ndev-lang/python:3.12\nsys-apps/portage::core-kit\n");
    expect(await removeWorldAtoms(root, ["dev-lang/python:3.11", "not-there/x"])).toEqual({ added: [], removed: ["dev-lang/python:3.11"] });
    expect(readWorld(root).atoms.map(String)).toEqual(["app-editors/vim", "app-misc/foo-bar", "dev-lang/python:3.12", "sys-apps/portage::core-kit"]);
    expect(fs.readdirSync(path.dirname(worldFile(root))).sort()).toEqual(["world"]);
    expect(fs.existsSync(worldLockFile(root, "world"))).toBe(false);
    await expect(addWorldAtoms(root, ["!app-misc/x"])).rejects.toThrow(/blocker/);
    await expect(addWorldAtoms(root, ["app-misc/*"])).rejects.toThrow(/wildcard/);
  });

  it("does not lose additions made at the same time, and leaves an unchanged file alone", async () => {
    const root = tmpdir();
    await Promise.all(Array.from({ length: 10 }, (_, i) => addWorldAtoms(root, [`app-misc/p${9 - i}`])));
    expect(fs.readFileSync(worldFile(root), "utf8")).toBe(Array.from({ length: 10 }, (_, i) => `app-misc/p${i}\n`).join(""));
    expect(fs.statSync(path.dirname(worldFile(root))).mode & 0o7777).toBe(0o2750);
    const before = fs.statSync(worldFile(root), { bigint: true });
    expect(await addWorldAtoms(root, ["app-misc/p3"])).toEqual({ added: [], removed: [] });
    expect(fs.statSync(worldFile(root), { bigint: true }).ino).toBe(before.ino);
  });

  it("adds and removes sets in world_sets, with or without the @", async () => {
    const root = tmpdir();
    writeTree(root, { "var/lib/portage/world_sets": "@kde/apps\n@desktop\n" });
    await addWorldSets(root, ["games", "@audio"]);
    expect(fs.readFileSync(worldSetsFile(root), "utf8")).toBe("@audio\n@desktop\n@games\n@kde/apps\n");
    await removeWorldSets(root, ["desktop"]);
    expect(readWorld(root).sets).toEqual(["audio", "games", "kde/apps"]);
    await expect(addWorldSets(root, ["bad name"])).rejects.toThrow(/not a set name/);
  });
});

describe("package moves", () => {
  function movesFrom(lines: string): VdbPackageMove[] {
    const repo = tmpdir();
    writeTree(repo, { "profiles/updates/1Q-2024": lines });
    const warnings: string[] = [];
    const moves = readPackageMoves(repo, (w) => warnings.push(w));
    expect(warnings).toEqual([]);
    return moves;
  }

  function fixture(): string {
    const root = tmpdir();
    simpleEntry(root, "app-misc/foo-1.2", { "foo-1.2.ebuild": "EAPI=8\n", SLOT: "0/1\n" }, 1);
    simpleEntry(root, "dev-libs/bar-2", { RDEPEND: ">=app-misc/foo-1:0/1= app-misc/foo[ssl] !<app-misc/foo-1 app-misc/foobar\n", DEPEND: "app-misc/foo\n" }, 2);
    simpleEntry(root, "dev-libs/baz-1", { RDEPEND: "dev-libs/bar\n" }, 3);
    writeTree(root, { "var/lib/portage/world": "app-misc/foo\napp-misc/foo:0\ndev-libs/baz\n" });
    return root;
  }

  it("renames an entry, rewrites dependency atoms of other entries and the world file, and changes nothing when applied again", async () => {
    const root = fixture();
    const moves = movesFrom("move app-misc/foo app-text/foo2\n");
    const report = await applyPackageMoves(root, moves);
    expect(report).toEqual({
      renamed: [{ from: "app-misc/foo-1.2", to: "app-text/foo2-1.2" }],
      slots: [],
      deps: [{ cpv: "dev-libs/bar-2", files: ["DEPEND", "RDEPEND"] }],
      world: [{ from: "app-misc/foo", to: "app-text/foo2" }, { from: "app-misc/foo:0", to: "app-text/foo2:0" }],
      skipped: [],
    });
    const dir = vdbEntryDir(root, "app-text", "foo2-1.2");
    expect(fs.readdirSync(dir).sort()).toEqual(["CATEGORY", "CONTENTS", "COUNTER", "EAPI", "PF", "SLOT", "USE", "foo2-1.2.ebuild"]);
    expect(fs.readFileSync(path.join(dir, "CATEGORY"), "utf8")).toBe("app-text\n");
    expect(fs.readFileSync(path.join(dir, "PF"), "utf8")).toBe("foo2-1.2\n");
    expect(fs.existsSync(path.join(vdbDir(root), "app-misc"))).toBe(false);
    expect(readInstalled(root).map((p) => p.cpv)).toEqual(["app-text/foo2-1.2", "dev-libs/bar-2", "dev-libs/baz-1"]);
    expect(fs.readFileSync(path.join(vdbEntryDir(root, "dev-libs", "bar-2"), "RDEPEND"), "utf8")).toBe(">=app-text/foo2-1:0/1= app-text/foo2[ssl] !<app-text/foo2-1 app-misc/foobar\n");
    expect(fs.readFileSync(worldFile(root), "utf8")).toBe("app-text/foo2\napp-text/foo2:0\ndev-libs/baz\n");
    expect(await applyPackageMoves(root, moves)).toEqual({ renamed: [], slots: [], deps: [], world: [], skipped: [] });
  });

  it("follows a chain of moves and a slotmove in order", async () => {
    const root = fixture();
    const report = await applyPackageMoves(root, movesFrom("move app-misc/foo app-misc/foo-ng\nmove app-misc/foo-ng app-text/foo\nslotmove app-text/foo 0 2\n"));
    expect(report.renamed).toEqual([{ from: "app-misc/foo-1.2", to: "app-misc/foo-ng-1.2" }, { from: "app-misc/foo-ng-1.2", to: "app-text/foo-1.2" }]);
    expect(report.slots).toEqual([{ cpv: "app-text/foo-1.2", from: "0/1", to: "2/1" }]);
    expect(readInstalled(root).find((p) => p.package === "foo")).toMatchObject({ cpv: "app-text/foo-1.2", slot: "2", subslot: "1" });
    expect(fs.readFileSync(path.join(vdbEntryDir(root, "dev-libs", "bar-2"), "RDEPEND"), "utf8")).toBe(">=app-text/foo-1:2/1= app-text/foo[ssl] !<app-text/foo-1 app-misc/foobar\n");
    expect(fs.readFileSync(worldFile(root), "utf8")).toBe("app-text/foo\napp-text/foo:2\ndev-libs/baz\n");
  });

  it("[MARK] moves only the matching versions of a versioned move, leaving dependencies and world alone; skips a target already installed", async () => {
    const root = fixture();
    simpleEntry(root, "app-misc/foo-0.9", {}, 4);
    simpleEntry(root, "app-text/foo2-2.0", {}, 5);
    simpleEntry(root, "app-misc/foo-2.0", {}, 6);
    const report = await applyPackageMoves(root, movesFrom("move >=app-misc/foo-1 app-text/foo2\n"));
    expect(report.renamed).toEqual([{ from: "app-misc/foo-1.2", to: "app-text/foo2-1.2" }]);
    expect(report.skipped).toEqual([{ cpv: "app-misc/foo-2.0", why: "app-text/foo2-2.0 is installed already" }]);
    expect(report.deps).toEqual([]);
    expect(report.world).toEqual([]);
    expect(readInstalled(root).map((p) => p.cpv)).toEqual(["app-misc/foo-0.9", "app-misc/foo-2.0", "app-text/foo2-1.2", "app-text/foo2-2.0", "dev-libs/bar-2", "dev-libs/baz-1"]);
  });

  it("rewrites atoms in dependency strings and nothing else", () => {
    const move: VdbPackageMove = { kind: "move", from: Atom.parse("a/b", USER_CONFIG_EAPI), to: "c/d" };
    const slot: VdbPackageMove = { kind: "slotmove", atom: Atom.parse("c/d", USER_CONFIG_EAPI), fromSlot: "1.0", toSlot: "2" };
    expect(applyMovesToDependencies("a/b  || ( >=a/b-1:1.0=[x] a/bc )\tx? ( !!<a/b-2:1.0/3::r a/b:1.01 )\n", [move, slot])).toBe("c/d  || ( >=c/d-1:2=[x] a/bc )\tx? ( !!<c/d-2:2/3::r c/d:1.01 )\n");
  });
});
