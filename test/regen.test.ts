import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { makeRepository, makeRepositorySet, type RepositorySet } from "../src/config/repositories.js";
import { CollectingReporter } from "../src/core/reporter.js";
import { EBUILD_SH } from "../src/ebuild/DependPool.js";
import { MetadataStore } from "../src/metadata/MetadataStore.js";
import { md5CacheText, writeMd5Cache } from "../src/metadata/md5Cache.js";
import { reposcanDocument, goJson } from "../src/metadata/reposcan.js";
import { FIXTURES } from "./vectors.js";
import { FileLock } from "../src/core/lock.js";
import { ouzo, ouzoLive, tmpdir, writeTree } from "./helpers.js";

const md5 = (f: string) => createHash("md5").update(fs.readFileSync(f)).digest("hex");

/** Copy the demo kits (and optionally the broken kit) into a temporary tree. */
function kits(extra: string[] = []): { dir: string; repos: RepositorySet } {
  const dir = tmpdir();
  for (const k of ["core-kit", "dev-kit"]) fs.cpSync(path.join(FIXTURES, "demo/kits", k), path.join(dir, k), { recursive: true });
  for (const k of extra) fs.cpSync(path.join(FIXTURES, "regen", k), path.join(dir, k), { recursive: true });
  return { dir, repos: reposOf(dir, ["core-kit", "dev-kit", ...extra]) };
}

function reposOf(dir: string, names: string[]): RepositorySet {
  return makeRepositorySet(names.map((n) => makeRepository(n, path.join(dir, n), 1, [], undefined, "core-kit")), "core-kit");
}

function store(repos: RepositorySet, dir: string, opts: { timeoutSeconds?: number; reporter?: CollectingReporter } = {}) {
  return new MetadataStore(repos, path.join(dir, "cache", "metadata.db"), { jobs: 2, ...opts });
}

describe("ebuild.sh in Portage's 22-line mode", () => {
  it("writes the 22 positional lines on PORTAGE_PIPE_FD", () => {
    const k = path.join(FIXTURES, "demo/kits");
    const r = spawnSync("bash", ["-c", `bash ${EBUILD_SH()} 3>&1 1>/dev/null 2>/dev/null`], {
      env: { PATH: "/bin:/usr/bin", EBUILD: path.join(k, "core-kit/app-misc/hello/hello-1.0.ebuild"), EBUILD_PHASE: "depend", CATEGORY: "app-misc", PF: "hello-1.0", PN: "hello", EAPI: "7", PORTAGE_ECLASS_LOCATIONS: path.join(k, "core-kit"), PORTAGE_PIPE_FD: "3" },
      encoding: "utf8",
    });
    const lines = r.stdout.split("\n");
    expect(lines).toHaveLength(23);
    expect(lines[22]).toBe("");
    expect(lines[9]).toBe("toolchain-funcs autotools");
    expect(lines[13]).toBe("|| ( sys-devel/automake:1.16 sys-devel/automake:1.17 ) >=sys-devel/autoconf-2.71 >=sys-devel/libtool-2.4");
    expect(lines[14]).toBe("7");
    expect(lines[16]).toBe("prepare");
    expect(lines.slice(17, 22)).toEqual(["", "", "", "", ""]);
  });
});

describe("ouzo regen", () => {
  it("writes md5-cache entries byte-identical to the hand-written expectations", async () => {
    const { dir, repos } = kits();
    const s = store(repos, dir);
    const summary = await s.regen();
    expect(summary.failures).toEqual([]);
    for (const kit of ["core-kit", "dev-kit"]) writeMd5Cache(path.join(dir, kit), s.entries(kit));
    s.close();
    const expectedRoot = path.join(FIXTURES, "regen/md5-cache-expected");
    let compared = 0;
    for (const kit of fs.readdirSync(expectedRoot)) {
      for (const cat of fs.readdirSync(path.join(expectedRoot, kit))) {
        for (const pf of fs.readdirSync(path.join(expectedRoot, kit, cat))) {
          const want = fs.readFileSync(path.join(expectedRoot, kit, cat, pf), "utf8").replace(/@md5:([^@]+)@/g, (_m, rel: string) => md5(path.join(dir, rel)));
          expect(fs.readFileSync(path.join(dir, kit, "metadata/md5-cache", cat, pf), "utf8")).toBe(want);
          compared++;
        }
      }
    }
    expect(compared).toBe(6);
  });

  it("reports broken ebuilds with file and message and skips them", async () => {
    const { dir, repos } = kits(["broken-kit"]);
    const s = store(repos, dir, { timeoutSeconds: 3 });
    const summary = await s.regen(["broken-kit"]);
    const byCpv = Object.fromEntries(summary.failures.map((f) => [f.cpv, f.message]));
    s.close();
    // a file that is not an ebuild by PMS's naming rules is skipped with a warning, as Portage skips it
    expect(summary.warnings.map((w) => [path.relative(dir, w.file), w.message])).toEqual([["broken-kit/app-misc/badname/badname.ebuild", "invalid ebuild name: expected badname-<version>.ebuild"]]);
    expect(Object.keys(byCpv).sort()).toEqual([
      "app-misc/crash-1",
      "app-misc/dies-1",
      "app-misc/emptyeapi-1",
      "app-misc/future-1",
      "app-misc/loops-1",
      "app-misc/mismatch-1",
      "app-misc/noeclass-1",
      "app-misc/syntax-1",
    ]);
    expect(byCpv["app-misc/dies-1"]).toBe("autotools: EAPI 4 not supported");
    expect(byCpv["app-misc/loops-1"]).toBe("timed out: still running after 3 s, the per-ebuild time limit (raise it with --timeout or OUZO_REGEN_TIMEOUT)");
    expect(byCpv["app-misc/crash-1"]).toBe("the bash worker sourcing it was killed by SIGKILL (out of memory, or killed from outside)");
    expect(summary.failures.filter((f) => f.transient).map((f) => f.cpv).sort()).toEqual(["app-misc/crash-1", "app-misc/loops-1"]);
    expect(byCpv["app-misc/future-1"]).toBe("unsupported EAPI '9'");
    expect(byCpv["app-misc/mismatch-1"]).toBe("EAPI mismatch: the head says '7', sourcing ended with '6'");
    expect(byCpv["app-misc/noeclass-1"]).toBe("inherit: eclass 'does-not-exist' not found");
    expect(byCpv["app-misc/syntax-1"]).toMatch(/^error sourcing ebuild: syntax-1.ebuild: line 3: /);
    expect(byCpv["app-misc/emptyeapi-1"]).toBe("EAPI is assigned an empty value");
    expect(summary.repos[0]).toMatchObject({ generated: 3, failed: 8 });
  });

  it("keeps going after an unknown command at global scope (Funtoo nodie), as MARK's Portage does", async () => {
    const { dir, repos } = kits(["broken-kit"]);
    const s = store(repos, dir, { timeoutSeconds: 3 });
    await s.regen(["broken-kit"]);
    const [m] = s.entries("broken-kit", { category: "app-misc", package: "nodie" });
    s.close();
    expect(m!.values.RDEPEND).toBe("dev-libs/a");
    expect(m!.values.IUSE).toBe("ok");
    expect(m!.values.INHERITED).toBe("toolchain-funcs");
  });

  it("gives every ebuild a clean environment", async () => {
    const { dir, repos } = kits(["broken-kit"]);
    // one worker: leak-1 and probe-1 run in the same bash process, one after the other
    const s = new MetadataStore(repos, path.join(dir, "cache.db"), { jobs: 1, timeoutSeconds: 3 });
    await s.regen(["broken-kit"]);
    const [probe] = s.entries("broken-kit", { category: "app-misc", package: "probe" });
    s.close();
    expect(probe!.values.DESCRIPTION).toBe("var=[] fn=[] arr=[] env=[] pwd-ok=[yes]");
  });

  it("regenerates only what went stale: an edited ebuild, an edited eclass, a deleted ebuild, a new overriding eclass", async () => {
    const { dir, repos } = kits();
    const cache = path.join(dir, "cache", "metadata.db");
    const run = async () => {
      const s = new MetadataStore(reposOf(dir, ["core-kit", "dev-kit"]), cache, { jobs: 2 });
      const r = await s.regen();
      const entries = { core: s.entries("core-kit"), dev: s.entries("dev-kit") };
      s.close();
      // brought up to date: sourced, or imported from dev-kit's shipped md5-cache while it is valid
      return { gen: r.repos.reduce((a, x) => a + x.generated + x.imported, 0), removed: r.repos.reduce((a, x) => a + x.removed, 0), entries };
    };
    expect((await run()).gen).toBe(14);
    expect((await run()).gen).toBe(0);

    fs.appendFileSync(path.join(dir, "core-kit/virtual/libc/libc-1.ebuild"), 'DESCRIPTION="edited"\n');
    const afterEbuild = await run();
    expect(afterEbuild.gen).toBe(1);
    expect(afterEbuild.entries.core.find((m) => m.cpv === "virtual/libc-1")!.values.DESCRIPTION).toBe("edited");

    // flag-o-matic is used by bash (directly) and hello-2.1 (through cmake)
    fs.appendFileSync(path.join(dir, "core-kit/eclass/flag-o-matic.eclass"), "# touched\n");
    expect((await run()).gen).toBe(2);

    fs.rmSync(path.join(dir, "core-kit/app-misc/oldeapi/oldeapi-1.0.ebuild"));
    const afterDelete = await run();
    expect(afterDelete).toMatchObject({ gen: 0, removed: 1 });
    expect(afterDelete.entries.core.map((m) => m.cpv)).not.toContain("app-misc/oldeapi-1.0");

    // dev-kit gains its own python-utils-r1: both dev-kit ebuilds using it go stale, core-kit's portage does not
    const portageBefore = afterDelete.entries.core.find((m) => m.package === "portage")!;
    fs.writeFileSync(path.join(dir, "dev-kit/eclass/python-utils-r1.eclass"), fs.readFileSync(path.join(dir, "core-kit/eclass/python-utils-r1.eclass"), "utf8").replace("pypy3:0", "pypy3:1"));
    const afterOverride = await run();
    expect(afterOverride.gen).toBe(2);
    expect(afterOverride.entries.core.find((m) => m.package === "portage")).toEqual(portageBefore);
    expect(afterOverride.entries.dev.find((m) => m.package === "setuptools")!.values.RDEPEND).toContain("dev-python/pypy3:1");
  });

  it("reads a package checked on demand as the whole-repository query reads it, and sees an edit made after the check", async () => {
    const { dir, repos } = kits();
    const s = store(repos, dir);
    await s.regen();
    const all = s.entries("core-kit");
    const pkgs = [...new Set(all.map((m) => `${m.category}/${m.package}`))];
    expect(pkgs.length).toBeGreaterThan(5);
    for (const cp of pkgs) {
      const [category, pn] = cp.split("/") as [string, string];
      expect(await s.ensurePackage("core-kit", category, pn)).toEqual([]);
      // the first read takes the rows the check fetched, the second queries again: both as the whole-repository read
      const want = all.filter((m) => m.category === category && m.package === pn);
      expect(s.entries("core-kit", { category, package: pn })).toEqual(want);
      expect(s.entries("core-kit", { category, package: pn })).toEqual(want);
    }
    // checked fresh, then edited and checked again: the new values, not the rows of the first check
    expect(await s.ensurePackage("core-kit", "virtual", "libc")).toEqual([]);
    fs.appendFileSync(path.join(dir, "core-kit/virtual/libc/libc-1.ebuild"), 'DESCRIPTION="edited on demand"\n');
    expect(await s.ensurePackage("core-kit", "virtual", "libc")).toEqual([]);
    expect(s.entries("core-kit", { category: "virtual", package: "libc" }).find((m) => m.cpv === "virtual/libc-1")!.values.DESCRIPTION).toBe("edited on demand");
    s.close();
  });

  it("sources every repository's stale ebuilds in one task whose progress says which kit it is at", async () => {
    const { dir } = kits();
    writeTree(dir, { "extra-kit/profiles/repo_name": "extra-kit\n", "extra-kit/metadata/layout.conf": "masters = core-kit\n", "extra-kit/app-misc/x/x-1.ebuild": 'EAPI=7\nDESCRIPTION="x"\nSLOT=0\n' });
    const reporter = new CollectingReporter();
    const s = store(reposOf(dir, ["core-kit", "extra-kit"]), dir, { reporter });
    await s.regen(["core-kit", "extra-kit"]);
    s.close();
    const started = reporter.events.filter((e) => e.kind === "started").map((e) => (e as { task: string }).task);
    expect(started).toEqual(["import metadata/md5-cache", "regen: sourcing 13 ebuilds of 2 repositories"]);
    const items = reporter.events.flatMap((e) => (e.kind === "progress" && e.task.startsWith("regen:") ? [e.item!] : []));
    expect(items).toHaveLength(13);
    expect(items.filter((i) => i.startsWith("(kit 1 of 2: core-kit) "))).toHaveLength(12);
    expect(items).toContain("(kit 2 of 2: extra-kit) app-misc/x-1");
  });

  it("follows the eclass chain of a repository with two masters: the last master wins over the first", async () => {
    const { dir } = kits();
    fs.mkdirSync(path.join(dir, "ext-kit/metadata"), { recursive: true });
    fs.writeFileSync(path.join(dir, "ext-kit/metadata/layout.conf"), "repo-name = ext-kit\nmasters = core-kit dev-kit\n");
    fs.mkdirSync(path.join(dir, "ext-kit/app-misc/tc"), { recursive: true });
    fs.writeFileSync(path.join(dir, "ext-kit/app-misc/tc/tc-1.ebuild"), 'EAPI=7\ninherit toolchain-funcs\nDESCRIPTION="$(tc-getCC)"\nSLOT=0\n');
    const repos = reposOf(dir, ["core-kit", "dev-kit", "ext-kit"]);
    expect(repos.eclassChain(repos.get("ext-kit")!).map((r) => r.name)).toEqual(["ext-kit", "dev-kit", "core-kit"]);
    const s = store(repos, dir);
    await s.regen(["ext-kit"]);
    const [m] = s.entries("ext-kit");
    s.close();
    expect(m!.values.DESCRIPTION).toBe("clang");
    expect(m!.eclasses).toEqual([["toolchain-funcs", md5(path.join(dir, "dev-kit/eclass/toolchain-funcs.eclass"))]]);
  });

  it("rebuilds a corrupted cache file with a warning", async () => {
    const { dir, repos } = kits();
    const file = path.join(dir, "cache", "metadata.db");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "this is not a database".repeat(100));
    const reporter = new CollectingReporter();
    const s = store(repos, dir, { reporter });
    const r = await s.regen();
    s.close();
    expect(reporter.warnings()[0]).toMatch(/metadata cache .* was unusable .* rebuilt/);
    expect(r.repos.reduce((a, x) => a + x.generated + x.imported, 0)).toBe(14);
    expect(fs.readdirSync(path.dirname(file)).some((f) => f.includes(".corrupt-"))).toBe(true);
  });

  it("rebuilds a deleted cache file, saying so with --verbose", async () => {
    const { dir, repos } = kits();
    const first = store(repos, dir);
    await first.regen();
    first.close();
    for (const f of fs.readdirSync(path.join(dir, "cache"))) fs.rmSync(path.join(dir, "cache", f));
    const reporter = new CollectingReporter();
    const s = store(repos, dir, { reporter });
    const r = await s.regen();
    s.close();
    expect(reporter.warnings()).toEqual([]);
    expect(reporter.events).toContainEqual({ kind: "info", message: `no metadata cache at ${path.join(dir, "cache", "metadata.db")} yet: building it` });
    expect(r.repos.reduce((a, x) => a + x.generated + x.imported, 0)).toBe(14);
  });

  it("serialises two regens at once with a lock, without corrupting the cache", async () => {
    const { dir, repos } = kits();
    const a = store(repos, dir);
    const b = store(repos, dir);
    const [ra, rb] = await Promise.all([a.regen(), b.regen()]);
    const total = (r: typeof ra) => r.repos.reduce((x, y) => x + y.generated + y.imported, 0);
    expect(total(ra) + total(rb)).toBe(14);
    expect(a.entries("core-kit")).toHaveLength(12);
    a.close();
    b.close();
  });

  it("says whom it waits for while another process updates the cache, also with --verbose off and stdout a pipe", async () => {
    const { dir } = kits();
    writeTree(dir, { "etc/portage/repos.conf/kits": `[DEFAULT]\nmain-repo = core-kit\n\n[core-kit]\nlocation = ${dir}/core-kit\n` });
    const lock = new FileLock(path.join(dir, "cache", "metadata.db.lock"), "ouzo regen");
    await lock.acquire();
    const child = ouzoLive(["regen", "--config-root", dir, "--cache-dir", path.join(dir, "cache")]);
    await child.stderrMatches(/waiting for process/);
    expect(fs.existsSync(path.join(dir, "cache", "metadata.db"))).toBe(true);
    lock.release();
    const r = await child.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`waiting for process ${process.pid} (ouzo regen), which is updating the metadata cache ${path.join(dir, "cache", "metadata.db")}`);
    expect(r.stdout).toMatch(/^regen: 0 imported, 12 generated/m);
  });

  it("writes reposcan JSON as Go would: sorted maps, escaped <>&, distfiles from the Manifest", async () => {
    const { dir, repos } = kits();
    const s = store(repos, dir);
    await s.regen(["core-kit"]);
    const doc = reposcanDocument(s.entries("core-kit"), [], { kit: "core-kit", branch: "mark-v", location: path.join(dir, "core-kit") });
    s.close();
    const text = goJson(doc);
    expect(text.startsWith('{"cache_data_version":"1.0.6","atoms":{"app-misc/hello-1.0":{"atom":"app-misc/hello-1.0","category":"app-misc","package":"hello","revision":"0","catpkg":"app-misc/hello","eclasses":[["toolchain-funcs","')).toBe(true);
    const hello2 = JSON.parse(text).atoms["app-misc/hello-2.1"];
    expect(Object.keys(hello2)).toEqual(["atom", "category", "package", "revision", "catpkg", "eclasses", "kit", "branch", "relations", "relations_by_kind", "metadata", "metadata_out", "manifest_md5", "md5", "files"]);
    expect(hello2.files).toEqual([{ src_uri: ["https://ftp.gnu.org/gnu/hello/v2.1.tar.gz"], size: "5678", hashes: { blake2b: "2a3b", sha512: "2c3d" }, name: "hello-2.1.tar.gz" }]);
    expect(hello2.relations_by_kind).toEqual({ BDEPEND: ["dev-build/cmake", "dev-build/make"], RDEPEND: ["virtual/libintl"] });
    expect(hello2.metadata_out.split("\n")).toHaveLength(23);
    expect(text).toContain("-\\u003e hello-2.1.tar.gz");
    expect(text).not.toContain("->");
    expect(JSON.parse(text).atoms["sys-apps/portage-3.0.14-r13"].revision).toBe("13");
  });
});

describe("ouzo regen, info and search from the CLI", () => {
  it("prints a summary, writes md5-cache and reposcan, exits 1 when an ebuild failed", async () => {
    const { installDemoConfig } = await import("../src/cli/demoTree.js");
    const root = tmpdir();
    installDemoConfig(root);
    const scan = path.join(root, "scan.json");
    const r = ouzo(["regen", "--root", root, "--repo", "core-kit", "--write-md5-cache", "--reposcan", scan, "--branch", "mark-v"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^regen: 0 imported, 12 generated, 0 unchanged, 0 removed, 0 failed in [\d.]+ s$/m);
    expect(fs.existsSync(path.join(root, "var/git/meta-repo/kits/core-kit/metadata/md5-cache/app-misc/hello-1.0"))).toBe(true);
    expect(JSON.parse(fs.readFileSync(scan, "utf8")).atoms["app-misc/hello-1.0"].branch).toBe("mark-v");
    const again = ouzo(["regen", "--root", root, "--json"]);
    // core-kit is unchanged; dev-kit's entries come from the md5-cache it ships
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: 2, generated: 0, unchanged: 12, removed: 0, failed: 0 });

    // no profile is needed to regenerate, and an unknown repository is refused before anything is written
    fs.rmSync(path.join(root, "etc/portage/make.profile"), { recursive: true });
    const unknown = ouzo(["regen", "--root", root, "--repo", "nope"]);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, "ouzo: repository 'nope' is not configured (configured: core-kit, dev-kit, gnome-kit, python-kit)"]);
    fs.mkdirSync(path.join(root, "var/git/meta-repo/kits/core-kit/app-misc/broken"), { recursive: true });
    fs.writeFileSync(path.join(root, "var/git/meta-repo/kits/core-kit/app-misc/broken/broken-1.ebuild"), 'EAPI=7\ndie "nope"\n');
    const bad = ouzo(["regen", "--root", root]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("app-misc/broken/broken-1.ebuild: nope");
  });

  it("shows every version with SLOT, KEYWORDS, USE and why it is masked", async () => {
    const { installDemoConfig } = await import("../src/cli/demoTree.js");
    const root = tmpdir();
    installDemoConfig(root);
    const r = ouzo(["info", "--root", root, "--json", "sys-libs/ncurses"]);
    expect(r.code).toBe(0);
    const [n] = JSON.parse(r.stdout);
    expect(n).toMatchObject({ cpv: "sys-libs/ncurses-6.5_p20240511", slot: "0/6", keywords: ["next"], visible: true, use: { enabled: ["unicode"], disabled: ["cxx"] } });
    const lib = JSON.parse(ouzo(["info", "--root", root, "--json", "libdemo"]).stdout);
    expect(lib.map((x: { cpv: string }) => x.cpv)).toEqual(["dev-libs/libdemo-1.0", "dev-libs/libdemo-2.0"]);
    // on demand: a deleted version disappears, an edited one is regenerated
    fs.rmSync(path.join(root, "var/git/meta-repo/kits/core-kit/dev-libs/libdemo/libdemo-2.0.ebuild"));
    fs.appendFileSync(path.join(root, "var/git/meta-repo/kits/core-kit/dev-libs/libdemo/libdemo-1.0.ebuild"), 'DESCRIPTION="edited"\n');
    const after = JSON.parse(ouzo(["info", "--root", root, "--json", "dev-libs/libdemo"]).stdout);
    expect(after.map((x: { cpv: string; description: string }) => [x.cpv, x.description])).toEqual([["dev-libs/libdemo-1.0", "edited"]]);
    const py = JSON.parse(ouzo(["info", "--root", root, "--json", "<dev-lang/python-3.12"]).stdout);
    expect(py.map((x: { cpv: string }) => x.cpv)).toEqual(["dev-lang/python-3.11.9"]);
    expect(ouzo(["info", "--root", root, "app-misc/nothing-here"]).code).toBe(1);
  });

  it("gives one verdict on an atom, as `ouzo atom` does, and names near misses instead of listing repositories", async () => {
    const { installDemoConfig } = await import("../src/cli/demoTree.js");
    const root = tmpdir();
    installDemoConfig(root);
    const info = (a: string) => {
      const r = ouzo(["info", "--root", root, a]);
      return [r.code, r.stderr.trim()];
    };
    expect(info("sys-apps/portage-3*")).toEqual([2, "ouzo: invalid atom 'sys-apps/portage-3*': '*' in a name is allowed only in /etc/portage files (a version needs an operator: did you mean '=sys-apps/portage-3*'?)"]);
    expect(ouzo(["atom", "sys-apps/portage-3*"]).stderr.trim()).toBe("ouzo: invalid atom 'sys-apps/portage-3*': '*' in a name is allowed only in /etc/portage files");
    expect(info("sys-apps/portage-3.0")).toEqual([2, "ouzo: invalid atom 'sys-apps/portage-3.0': a version needs an operator such as '=' or '>=' (did you mean '=sys-apps/portage-3.0'?)"]);
    expect(info("sys-apps/portag")).toEqual([1, "ouzo: no package matches 'sys-apps/portag' in the 4 configured repositories; did you mean sys-apps/portage?"]);
    expect(info("SYS-APPS/PORTAGE")).toEqual([1, "ouzo: no package matches 'SYS-APPS/PORTAGE' in the 4 configured repositories; did you mean sys-apps/portage?"]);
    expect(info("portag")).toEqual([1, "ouzo: no package matches 'portag' in the 4 configured repositories; did you mean sys-apps/portage?"]);
    expect(info("zzzzz/qqqqqq")).toEqual([1, "ouzo: no package matches 'zzzzz/qqqqqq' in the 4 configured repositories"]);
    expect(ouzo(["info", "--root", root, "--json", "=sys-apps/portage-3*::core-kit"]).code).toBe(0);
  });

  it("searches names and descriptions", async () => {
    const { installDemoConfig } = await import("../src/cli/demoTree.js");
    const root = tmpdir();
    installDemoConfig(root);
    const r = ouzo(["search", "--root", root, "--json", "greeting"]);
    expect(JSON.parse(r.stdout)).toEqual([{ package: "app-misc/hello", repo: "core-kit", versions: ["1.0", "2.1"], description: "The classic greeting, now with cmake", homepage: "https://www.gnu.org/software/hello/" }]);
  });
});

describe("ouzo search ranks its results", () => {
  it("the exact name first, then names starting with the term, names containing it, descriptions", () => {
    const dir = tmpdir();
    const ebuild = (desc: string) => `EAPI=7\nDESCRIPTION="${desc}"\nSLOT=0\n`;
    writeTree(dir, {
      "kit/profiles/repo_name": "kit\n",
      "kit/app-misc/barfoo/barfoo-1.ebuild": ebuild("contains the term"),
      "kit/app-misc/foo/foo-1.ebuild": ebuild("the exact name"),
      "kit/app-misc/foobar/foobar-1.ebuild": ebuild("starts with the term"),
      "kit/app-misc/another/another-1.ebuild": ebuild("says foo in its description"),
      "kit/app-misc/unrelated/unrelated-1.ebuild": ebuild("nothing to see"),
      "etc/portage/repos.conf/kit": `[DEFAULT]\nmain-repo = kit\n\n[kit]\nlocation = ${dir}/kit\n`,
    });
    const r = ouzo(["search", "--config-root", dir, "--cache-dir", path.join(dir, "cache"), "--json", "foo"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((x: { package: string }) => x.package)).toEqual(["app-misc/foo", "app-misc/foobar", "app-misc/barfoo", "app-misc/another"]);
    const none = ouzo(["search", "--config-root", dir, "--cache-dir", path.join(dir, "cache"), "--json", "zzz"]);
    expect([none.code, JSON.parse(none.stdout)]).toEqual([1, []]);
  });
});

describe("md5-dict format", () => {
  it("omits empty keys, writes EAPI=0 and DEFINED_PHASES=-", () => {
    const values = Object.fromEntries(["DEPEND", "RDEPEND", "SLOT", "SRC_URI", "RESTRICT", "HOMEPAGE", "LICENSE", "DESCRIPTION", "KEYWORDS", "INHERITED", "IUSE", "REQUIRED_USE", "PDEPEND", "BDEPEND", "IDEPEND", "EAPI", "PROPERTIES", "DEFINED_PHASES", "_PY_COMPAT"].map((k) => [k, ""])) as never;
    expect(md5CacheText({ repo: "r", cpv: "a/b-1", category: "a", package: "b", version: "1", md5: "0123", eclasses: [], values: { ...(values as object), SLOT: "0", _PY_COMPAT: "python3_11" } as never })).toBe("DEFINED_PHASES=-\nEAPI=0\nSLOT=0\n_md5_=0123\n");
  });
});
