// The GNU info directory index (build spec §10.7), made by the real install-info in a temporary
// ROOT: which directories are looked at, when the index is made again, what is passed over, and
// the step at the end of emerge and anise runs.
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import type { ReportEvent } from "../src/core/reporter.js";
import { infoDirLines, infoDirectories, updateInfoDirs } from "../src/merge/infoDir.js";
import { anise, serveAniseRepo, stopAniseServers } from "./aniseFixture.js";
import { buildSystem } from "./buildFixture.js";
import { ouzo, tmpdir, writeTree } from "./helpers.js";

afterEach(stopAniseServers);

/** An info manual with a menu entry in `section` (what makeinfo writes at the top of a manual). */
const manual = (name: string, title: string, section = "Utilities") =>
  `This is ${name}.info, written for a test.\n\nINFO-DIR-SECTION ${section}\nSTART-INFO-DIR-ENTRY\n* ${title}: (${name}).          The ${name} manual.\nEND-INFO-DIR-ENTRY\n\n\x1f\nFile: ${name}.info,  Node: Top,  Up: (dir)\n\n${title}\n****\n`;
const index = (root: string, dir = "usr/share/info") => fs.readFileSync(path.join(root, dir, "dir"), "utf8");
const menu = (text: string) => text.split("\n").filter((l) => l.startsWith("* ") && !l.startsWith("* Menu"));
const mtimedb = (root: string) => JSON.parse(fs.readFileSync(path.join(root, "var/cache/edb/mtimedb"), "utf8")) as { info?: Record<string, number>; ldpath?: unknown };
const hasInstallInfo = !spawnSync("install-info", ["--version"], { stdio: "ignore" }).error;

describe.runIf(hasInstallInfo)("the info directory index", () => {
  it("is made for /usr/share/info and env.d's INFOPATH, then left alone until a directory changes", () => {
    const root = tmpdir();
    writeTree(root, {
      "etc/env.d/50gcc": 'INFOPATH="/usr/share/gcc-data/info"\n',
      "etc/env.d/60more": 'INFOPATH="/usr/share/gcc-data/info:/opt/x/info/"\nINFODIR="/usr/share/info"\n',
      "usr/share/info/sed.info": manual("sed", "Sed"),
      "usr/share/info/bash.info": manual("bash", "Bash", "Basics"),
      // the parts of a split manual and a hidden file are passed over; a stale index goes
      "usr/share/info/bash.info-1": "\x1f\nFile: bash.info,  Node: More\n",
      "usr/share/info/.keepinfodir": "",
      "usr/share/info/dir.old": "stale\n",
      "usr/share/gcc-data/info/gcc.info": manual("gcc", "GCC", "Software development"),
    });
    expect(infoDirectories(root)).toEqual(["/usr/share/info", "/usr/share/gcc-data/info", "/opt/x/info"]);
    const r = updateInfoDirs(root);
    expect(r).toMatchObject({ regenerated: ["/usr/share/info", "/usr/share/gcc-data/info"], processed: 3, errors: [], found: 2 });
    expect(menu(index(root))).toEqual([expect.stringMatching(/^\* Bash: \(bash\)\./), expect.stringMatching(/^\* Sed: \(sed\)\./)]);
    expect(index(root)).toContain("\nBasics\n* Bash:");
    expect(menu(index(root, "usr/share/gcc-data/info"))).toEqual([expect.stringMatching(/^\* GCC: \(gcc\)\./)]);
    expect(fs.existsSync(path.join(root, "usr/share/info/dir.old"))).toBe(false);
    // mtimedb remembers each directory's time as it is after the index was written
    expect(mtimedb(root).info).toEqual({
      "/usr/share/info": fs.statSync(path.join(root, "usr/share/info")).mtimeMs,
      "/usr/share/gcc-data/info": fs.statSync(path.join(root, "usr/share/gcc-data/info")).mtimeMs,
    });
    expect(infoDirLines(r)).toEqual([" * Regenerating GNU info directory index...", " * Processed 3 info files."]);

    const again = updateInfoDirs(root);
    expect(again).toMatchObject({ regenerated: [], processed: 0 });
    expect(infoDirLines(again)).toEqual([" * GNU info directory index is up-to-date."]);

    // a manual merged now: only its directory is made again, and its entry joins the menu
    writeTree(root, { "usr/share/info/grep.info": manual("grep", "Grep") });
    const third = updateInfoDirs(root);
    expect(third).toMatchObject({ regenerated: ["/usr/share/info"], processed: 3 });
    expect(menu(index(root)).map((l) => l.split(":")[0])).toEqual(["* Bash", "* Grep", "* Sed"]);

    // the last manual gone: no index is left behind
    for (const f of ["sed.info", "bash.info", "bash.info-1", "grep.info"]) fs.rmSync(path.join(root, "usr/share/info", f));
    updateInfoDirs(root);
    expect(fs.readdirSync(path.join(root, "usr/share/info"))).toEqual([".keepinfodir"]);
  });

  it("keeps mtimedb's other keys, and does nothing with FEATURES=noinfo or without info directories", () => {
    const root = tmpdir();
    writeTree(root, { "var/cache/edb/mtimedb": '{"ldpath":{"/usr/lib64":1},"version":"3.0"}\n', "usr/share/info/sed.info": manual("sed", "Sed") });
    expect(updateInfoDirs(root, { features: new Set(["noinfo"]) })).toMatchObject({ skipped: "FEATURES=noinfo", regenerated: [] });
    expect(fs.existsSync(path.join(root, "usr/share/info/dir"))).toBe(false);
    updateInfoDirs(root);
    expect(mtimedb(root)).toMatchObject({ ldpath: { "/usr/lib64": 1 }, version: "3.0", info: { "/usr/share/info": expect.any(Number) } });
    const bare = tmpdir();
    const r = updateInfoDirs(bare);
    expect(r).toMatchObject({ found: 0, regenerated: [] });
    expect(infoDirLines(r)).toEqual([]);
    expect(fs.existsSync(path.join(bare, "var"))).toBe(false);
  });

  it("names what install-info refused", () => {
    const root = tmpdir();
    writeTree(root, { "usr/share/info/sed.info": manual("sed", "Sed"), "usr/share/info/broken.info": "x" });
    const fake = path.join(tmpdir(), "install-info");
    fs.writeFileSync(fake, `#!/bin/bash\ncase "$2" in *broken*) echo "install-info: broken.info: not an info file" >&2; exit 1 ;; esac\nexec install-info "$@"\n`, { mode: 0o755 });
    const r = updateInfoDirs(root, { installInfo: fake });
    expect(r.errors).toEqual(["/usr/share/info/broken.info: install-info: broken.info: not an info file"]);
    expect(menu(index(root))).toHaveLength(1);
    expect(infoDirLines(r)).toEqual([" * Regenerating GNU info directory index...", " * Processed 2 info files; 1 error.", " * install-info: /usr/share/info/broken.info: install-info: broken.info: not an info file"]);
  });

  it("follows links inside ROOT, never to the host, and counts two names of one directory once", () => {
    const root = tmpdir();
    const host = tmpdir();
    writeTree(host, { "sed.info": manual("sed", "Host sed") });
    writeTree(root, {
      // INFOPATH names /usr/info, a relative link to /usr/share/info
      "etc/env.d/50old": 'INFOPATH="/usr/info"\n',
      "opt/info/grep.info": manual("grep", "Grep"),
    });
    fs.mkdirSync(path.join(root, "usr/share"), { recursive: true });
    fs.symlinkSync("share/info", path.join(root, "usr/info"));
    // /usr/share/info -> /opt/info, absolute: ROOT/opt/info, not the host's /opt/info
    fs.symlinkSync("/opt/info", path.join(root, "usr/share/info"));
    fs.symlinkSync(host, path.join(root, "opt/info/host-link-is-not-followed"));
    const r = updateInfoDirs(root);
    expect(r).toMatchObject({ regenerated: ["/usr/share/info"], processed: 1, found: 1 });
    expect(menu(fs.readFileSync(path.join(root, "opt/info/dir"), "utf8"))).toEqual([expect.stringMatching(/^\* Grep: \(grep\)\./)]);
    expect(fs.existsSync(path.join(host, "dir"))).toBe(false);
    // stable: made once, then up to date
    expect(updateInfoDirs(root).regenerated).toEqual([]);
    expect(updateInfoDirs(root).regenerated).toEqual([]);
  });
});

describe("the info directory index without install-info", () => {
  it("says so, records nothing, and tries again next time", () => {
    const other = tmpdir();
    writeTree(other, { "usr/share/info/sed.info": manual("sed", "Sed") });
    const events: ReportEvent[] = [];
    const missing = updateInfoDirs(other, { installInfo: path.join(other, "no-such-install-info"), reporter: { report: (e) => events.push(e) } });
    expect(missing.skipped).toBe("no install-info");
    expect(events).toEqual([expect.objectContaining({ kind: "info", message: expect.stringContaining("install-info was not found: the GNU info directory index of /usr/share/info") })]);
    expect(fs.existsSync(path.join(other, "var/cache/edb/mtimedb"))).toBe(false);
    if (hasInstallInfo) expect(updateInfoDirs(other).regenerated).toEqual(["/usr/share/info"]);
  });
});

describe.runIf(hasInstallInfo)("the info directory index at the end of runs", () => {

  it("is made at the end of an emerge run and of an anise install", async () => {
    const sys = await buildSystem();
    // a manual already in ROOT, not yet in any index
    writeTree(sys.root, { "usr/share/info/sed.info": manual("sed", "Sed") });
    const r = ouzo(["emerge", "--root", sys.root, "--quiet-build", "=app-misc/hello-1.0"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(" * Regenerating GNU info directory index...\n * Processed 1 info file.\n");
    expect(menu(index(sys.root))).toEqual([expect.stringMatching(/^\* Sed: \(sed\)\./)]);

    const { root, run } = await serveAniseRepo([
      { category: "app-doc", name: "grepdoc", version: "1.0", files: { "usr/share/info/grep.info": manual("grep", "Grep") } },
      { category: "app-doc", name: "grepdoc2", version: "1.0", files: { "usr/share/info/zgrep.info": manual("zgrep", "Zgrep") } },
    ]);
    writeTree(root, { "usr/share/info/sed.info": manual("sed", "Sed") });
    // FEATURES of the environment count on a ROOT without a profile too
    const off = await anise(["install", "-y", "app-doc/grepdoc", "--system-target", root], { FEATURES: "noinfo" });
    expect(off.code, off.stderr).toBe(0);
    expect(fs.existsSync(path.join(root, "usr/share/info/dir"))).toBe(false);
    const a = await run("install", "-y", "app-doc/grepdoc2");
    expect(a.code, a.stderr).toBe(0);
    expect(menu(index(root)).map((l) => l.split(":")[0])).toEqual(["* Grep", "* Sed", "* Zgrep"]);
  });
});
