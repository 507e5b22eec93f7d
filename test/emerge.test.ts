import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES } from "./vectors.js";
import { spawnSync } from "node:child_process";
import { emerge, emergeWith, KIT, system, vdb, withDistdir } from "./emergeFixture.js";
import { ouzo, REPO_ROOT, tmpdir, writeTree } from "./helpers.js";

describe("ouzo emerge --pretend", () => {
  it("an `emerge` link to the ouzo command behaves as `ouzo emerge`", () => {
    const root = system();
    const bin = tmpdir();
    fs.symlinkSync(path.join(REPO_ROOT, "bin", "ouzo"), path.join(bin, "emerge"));
    const r = spawnSync(path.join(bin, "emerge"), ["--root", root, "-p", "app-misc/fast"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n").pop()).toBe(`[ebuild  N     ] app-misc/fast-1.0 to ${root}/`);
  });

  it("-v shows what each package still downloads: Manifest sizes of the files USE selects, less what DISTDIR holds, each file once", () => {
    const { root, distdir } = withDistdir({
      [`${KIT}/dl/dl-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="downloads"\nSLOT="0"\nKEYWORDS="amd64"\nIUSE="extras"\nSRC_URI="https://e.org/a.tar.gz https://e.org/b.tar.gz https://e.org/c.tar.gz extras? ( https://e.org/d.tar.gz ) https://e.org/v1.tar.gz -> dl-1.0-renamed.tar.gz"\n',
      [`${KIT}/dl/Manifest`]: "DIST a.tar.gz 5000 BLAKE2B aa SHA512 aa\nDIST b.tar.gz 3000 BLAKE2B bb SHA512 bb\nDIST c.tar.gz 4096 BLAKE2B cc SHA512 cc\nDIST d.tar.gz 10000 BLAKE2B dd SHA512 dd\nDIST dl-1.0-renamed.tar.gz 2048 BLAKE2B rr SHA512 rr\nEBUILD dl-1.0.ebuild 10 BLAKE2B ee\n",
      [`${KIT}/dl2/dl2-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="shares a file"\nSLOT="0"\nKEYWORDS="amd64"\nSRC_URI="https://e.org/a.tar.gz https://e.org/e.tar.gz"\n',
      [`${KIT}/dl2/Manifest`]: "DIST a.tar.gz 5000 BLAKE2B aa SHA512 aa\nDIST e.tar.gz 1500000 BLAKE2B ee SHA512 ee\n",
      [`${KIT}/nomanifest/nomanifest-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="no Manifest"\nSLOT="0"\nKEYWORDS="amd64"\nSRC_URI="https://e.org/f.tar.gz"\n',
    });
    // b.tar.gz is complete in DISTDIR; 1024 bytes of c.tar.gz are downloaded already
    fs.writeFileSync(path.join(distdir, "b.tar.gz"), Buffer.alloc(3000));
    fs.writeFileSync(path.join(distdir, "c.tar.gz.__download__"), Buffer.alloc(1024));
    const args = ["-pv", "app-misc/dl", "app-misc/dl2", "app-misc/nomanifest"];
    // dl: 5000 + 0 + (4096 - 1024) + 2048 = 10120 bytes; dl2: a.tar.gz counted already, 1500000
    // sizes as the C locale writes numbers, then as en_US groups their digits
    expect(emergeWith({ LC_ALL: "C" }, root, ...args).lines).toEqual([
      "[ebuild  N     ] app-misc/dl-1.0::test-kit  USE=\"-extras\" 10 KiB",
      "[ebuild  N     ] app-misc/dl2-1.0::test-kit  1465 KiB",
      "[ebuild  N     ] app-misc/nomanifest-1.0::test-kit  0 KiB",
      "Total: 3 packages (3 new), Size of downloads: 1475 KiB",
    ]);
    const grouped = emergeWith({ LC_ALL: "en_US.UTF-8" }, root, ...args).lines;
    expect(grouped).toContain("[ebuild  N     ] app-misc/dl2-1.0::test-kit  1,465 KiB");
    expect(grouped).toContain("Total: 3 packages (3 new), Size of downloads: 1,475 KiB");
    const doc = JSON.parse(ouzo(["emerge", "--root", root, "--json", ...args]).stdout);
    expect(Object.fromEntries(doc.plan.map((e: { cpv: string; download_bytes: number }) => [e.cpv, e.download_bytes]))).toEqual({ "app-misc/dl-1.0": 10120, "app-misc/dl2-1.0": 1500000, "app-misc/nomanifest-1.0": 0 });
    expect(doc.totals.download_bytes).toBe(1510120);
    // with the file fetched completely, nothing is left of it
    fs.writeFileSync(path.join(distdir, "e.tar.gz"), Buffer.alloc(1500000));
    expect(emergeWith({ LC_ALL: "C" }, root, ...args).lines).toContain("[ebuild  N     ] app-misc/dl2-1.0::test-kit  0 KiB");
  });

  it("marks a fetch-restricted package F while its files are missing, f once they are in DISTDIR, and counts it in the Total block", () => {
    const { root, distdir } = withDistdir({
      [`${KIT}/manual/manual-1.0.ebuild`]: 'EAPI=8\nDESCRIPTION="fetch by hand"\nSLOT="0"\nKEYWORDS="amd64"\nIUSE="extras"\nRESTRICT="fetch"\nSRC_URI="https://e.org/manual.tar.gz extras? ( https://e.org/extra.tar.gz ) mirror+https://e.org/free.tar.gz"\n',
      [`${KIT}/manual/Manifest`]: "DIST manual.tar.gz 2048 BLAKE2B aa SHA512 aa\nDIST extra.tar.gz 10 BLAKE2B bb SHA512 bb\nDIST free.tar.gz 1024 BLAKE2B cc SHA512 cc\n",
    });
    const run = () => emergeWith({ LC_ALL: "C" }, root, "-pv", "app-misc/manual", "app-misc/fast");
    expect(run().lines).toEqual([
      "[ebuild  N F   ] app-misc/manual-1.0::test-kit  USE=\"-extras\" 3 KiB",
      "[ebuild  N     ] app-misc/fast-1.0::test-kit  0 KiB",
      "Total: 2 packages (2 new), Size of downloads: 3 KiB",
    ]);
    expect(run().all).toContain("Fetch Restriction: 1 package (1 unsatisfied)");
    // the file fetched by hand (free.tar.gz, a mirror+ URI, the package manager fetches itself)
    fs.writeFileSync(path.join(distdir, "manual.tar.gz"), Buffer.alloc(2048));
    const after = run();
    expect(after.lines[0]).toBe("[ebuild  N f   ] app-misc/manual-1.0::test-kit  USE=\"-extras\" 1 KiB");
    expect(after.all).toContain("Fetch Restriction: 1 package");
    const doc = JSON.parse(ouzo(["emerge", "--root", root, "-p", "--json", "app-misc/manual"]).stdout);
    expect(doc.plan[0]).toMatchObject({ fetch: "restricted-present", attrs: " N f   " });
  });

  it("--changed-deps reinstalls an installed package whose recorded dependencies differ from its ebuild's, and only that one", () => {
    const root = system({
      // the same dependencies once reduced with the USE it was built with, the sub-slot it bound read as :=
      [`${KIT}/depsame/depsame-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="same deps"\nSLOT="0"\nKEYWORDS="amd64"\nIUSE="extras"\nRDEPEND="dev-libs/libz:= extras? ( app-misc/fast )"\nDEPEND="${RDEPEND}"\n',
      ...vdb("app-misc/depsame-1.0", { IUSE: "extras", RDEPEND: "dev-libs/libz:0/1=", DEPEND: "dev-libs/libz:0/1=" }),
      // its ebuild now needs app-misc/fast at run time
      [`${KIT}/depchanged/depchanged-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="changed deps"\nSLOT="0"\nKEYWORDS="amd64"\nRDEPEND="app-misc/fast"\n',
      ...vdb("app-misc/depchanged-1.0", {}),
    });
    expect(emerge(root, "-p", "--changed-deps", "app-misc/depsame", "app-misc/depchanged").lines).toEqual([
      "[ebuild  N     ] app-misc/fast-1.0 ",
      "[ebuild   R    ] app-misc/depchanged-1.0 ",
    ]);
    // without it the run is selective with -n, and nothing is merged again
    expect(emerge(root, "-pn", "app-misc/depsame", "app-misc/depchanged").lines).toEqual([]);
    const json = JSON.parse(ouzo(["emerge", "--root", root, "-p", "--json", "--changed-deps", "app-misc/depchanged"]).stdout);
    expect(json.request.options.changed_deps).toBe(true);
    expect(json.plan.map((e: { cpv: string; status: string }) => `${e.cpv} ${e.status}`)).toEqual(["app-misc/fast-1.0 new", "app-misc/depchanged-1.0 reinstall"]);
  });

  it("-pvuDN @world: the emerge spec's constructed example, line for line (slot-operator rebuild, new slot, USE changes)", () => {
    const root = system();
    const r = emerge(root, "-pvuDN", "@world");
    expect(r.code).toBe(0);
    expect(r.all.slice(0, 4)).toEqual(["", "These are the packages that would be merged, in order:", "", "Calculating dependencies... done!"]);
    expect(r.lines).toEqual([
      "[ebuild  r  U  ] dev-libs/libz-2.0:0/2::test-kit [1.0:0/1::test-kit] 0 KiB",
      "[ebuild     U  ] app-misc/foo-1.0-r1::test-kit [1.0::test-kit] USE=\"baz -bar -qux%\" 0 KiB",
      "[ebuild     U  ] app-misc/tool-1.1::test-kit [1.0::test-kit] USE=\"(-doc%)\" PYTHON_TARGETS=\"python3_9 -python3_10 -python3_11%\" 0 KiB",
      "[ebuild  NS    ] dev-lang/py-3.10.2:3.10::test-kit [3.9.1:3.9::test-kit] 0 KiB",
      "[ebuild  rR    ] app-misc/consumer-1.0::test-kit  0 KiB",
      "Total: 5 packages (3 upgrades, 1 in new slot, 1 reinstall), Size of downloads: 0 KiB",
    ]);
    // without -v: versions only, only the USE changes
    expect(emerge(root, "-puDN", "@world").lines).toEqual([
      "[ebuild  r  U  ] dev-libs/libz-2.0 [1.0]",
      "[ebuild     U  ] app-misc/foo-1.0-r1 [1.0] USE=\"-qux%\" ",
      "[ebuild     U  ] app-misc/tool-1.1 [1.0] PYTHON_TARGETS=\"-python3_11%\" ",
      "[ebuild  NS    ] dev-lang/py-3.10.2 [3.9.1]",
      "[ebuild  rR    ] app-misc/consumer-1.0 ",
    ]);
  });

  it("-q: six attribute columns and no flags; -q -v: every flag, still no sizes or Total (spec §8.9)", () => {
    const root = system();
    const q = ouzo(["emerge", "--root", root, "-pquDN", "@world"]);
    expect(q.stdout.split("\n").filter(Boolean).map((l) => l.replace(`] to ${root}/`, "]").replace(`to ${root}/`, ""))).toEqual([
      "[ebuild  r  U ] dev-libs/libz-2.0 [1.0]",
      "[ebuild     U ] app-misc/foo-1.0-r1 [1.0]",
      "[ebuild     U ] app-misc/tool-1.1 [1.0]",
      "[ebuild  NS   ] dev-lang/py-3.10.2 [3.9.1]",
      "[ebuild  rR   ] app-misc/consumer-1.0 ",
    ]);
    expect(emerge(root, "-pqvuDN", "@world").lines[1]).toBe('[ebuild     U ] app-misc/foo-1.0-r1 [1.0] USE="baz -bar -qux%" ');
  });

  it("a new application: dependencies first, the first || alternative, USE conditionals, PDEPEND after its parent", () => {
    const root = system();
    const r = emerge(root, "-pv", "app-misc/app");
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      "[ebuild  N     ] dev-libs/libcore-1.0::test-kit  0 KiB",
      "[ebuild  N     ] app-misc/fast-1.0::test-kit  0 KiB",
      "[ebuild  N     ] app-misc/buildtool-1.0::test-kit  0 KiB",
      "[ebuild  N     ] dev-libs/libgui-1.0::test-kit  0 KiB",
      "[ebuild  N     ] app-misc/app-1.0::test-kit  USE=\"gui\" 0 KiB",
      "[ebuild  N     ] app-misc/plugin-1.0::test-kit  0 KiB",
      "Total: 6 packages (6 new), Size of downloads: 0 KiB",
    ]);
    // the bare name finds its category; a USE flag turned off drops its dependency
    writeTree(root, { "etc/portage/package.use/app": "app-misc/app -gui\n" });
    expect(emerge(root, "-p", "app").lines).toEqual([
      "[ebuild  N     ] dev-libs/libcore-1.0 ",
      "[ebuild  N     ] app-misc/fast-1.0 ",
      "[ebuild  N     ] app-misc/buildtool-1.0 ",
      "[ebuild  N     ] app-misc/app-1.0  USE=\"-gui\" ",
      "[ebuild  N     ] app-misc/plugin-1.0 ",
    ]);
  });

  it("merges the @system closure first, whatever the order of the arguments", () => {
    const lines = emerge(system(), "-pe", "app-misc/fast", "@system").lines;
    expect(lines).toEqual(["[ebuild   R    ] app-misc/base-1 ", "[ebuild  N     ] app-misc/fast-1.0 "]);
  });

  it("an || group takes the alternative already installed", () => {
    const root = system({ "var/db/pkg/app-misc/slow-1.0/SLOT": "0\n", "var/db/pkg/app-misc/slow-1.0/repository": "test-kit\n", "var/db/pkg/app-misc/slow-1.0/COUNTER": "9" });
    const lines = emerge(root, "-p", "app-misc/app").lines;
    expect(lines.some((l) => l.includes("app-misc/fast"))).toBe(false);
    expect(lines).toHaveLength(5);
  });

  it("a weak blocker uninstalls the installed package it blocks, right after the blocking merge", () => {
    const r = emerge(system(), "-pv", "app-misc/new");
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      "[ebuild  N     ] app-misc/new-1.0::test-kit  0 KiB",
      "[uninstall     ] app-misc/old-1.0::test-kit ",
      "[blocks b      ] app-misc/old (\"app-misc/old\" is blocking app-misc/new-1.0)",
      "Total: 1 package (1 new, 1 uninstall), Size of downloads: 0 KiB",
      "Conflict: 1 block",
    ]);
  });

  it("collects the runtime blockers of every installed package: the installed carrier is uninstalled after the merge", () => {
    const root = system({
      "var/db/pkg/app-misc/guard-1.0/SLOT": "0\n",
      "var/db/pkg/app-misc/guard-1.0/repository": "test-kit\n",
      "var/db/pkg/app-misc/guard-1.0/RDEPEND": "!app-misc/slow\n",
      "var/db/pkg/app-misc/guard-1.0/COUNTER": "11",
    });
    expect(emerge(root, "-pv", "app-misc/slow").lines).toEqual([
      "[ebuild  N     ] app-misc/slow-1.0::test-kit  0 KiB",
      "[uninstall     ] app-misc/guard-1.0::test-kit ",
      '[blocks b      ] app-misc/slow ("app-misc/slow" is blocking app-misc/guard-1.0)',
      "Total: 1 package (1 new, 1 uninstall), Size of downloads: 0 KiB",
      "Conflict: 1 block",
    ]);
    // the application's || group takes fast: guard stays
    expect(emerge(root, "-p", "app-misc/app").lines.some((l) => l.includes("uninstall"))).toBe(false);
  });

  it("settles a strong blocker by updating the blocked package first, rather than failing", () => {
    const root = system();
    const r = ouzo(["emerge", "--root", root, "-p", "--json", "app-misc/strict"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.plan.map((e: { cpv: string; status: string }) => [e.cpv, e.status])).toEqual([["app-misc/old-2.0", "upgrade"], ["app-misc/strict-1.0", "new"]]);
    expect(doc.plan[0].reasons).toEqual([{ kind: "update", trigger: "required", replaces: "app-misc/old-1.0" }]);
    expect(doc.plan[1].deps).toEqual([{ index: 0, class: "blocker", atom: "!!<app-misc/old-2", edge: "blocker" }]);
  });

  it("does not uninstall a blocked package the world file selects: the blocker stays, said plainly", () => {
    const root = system();
    fs.appendFileSync(path.join(root, "var/lib/portage/world"), "app-misc/old\n");
    const r = emerge(root, "-p", "app-misc/new");
    expect([r.code, r.stderr.split("\n")[0]]).toEqual([1, 'ouzo: app-misc/new-1.0 blocks the installed app-misc/old-1.0 ("!app-misc/old"), which the world file selects, so it is not uninstalled: take it out of the world file, or uninstall it first']);
    expect(r.stderr).toContain(`  3. app-misc/old-1.0 is installed, the world file selects it (${root}/var/lib/portage/world:5): it stays unless another version of slot app-misc/old:0 replaces it, and none can (2)`);
    expect(r.stderr).toContain("  5. so app-misc/new cannot be installed (4)");
  });

  it("keeps what is installed unless asked: -n, -N after a USE change, nothing to do", () => {
    const root = system();
    expect(emerge(root, "-pv", "app-misc/foo").lines[0]).toBe("[ebuild     U  ] app-misc/foo-1.0-r1::test-kit [1.0::test-kit] USE=\"baz -bar -qux%\" 0 KiB");
    expect(emerge(root, "-pvn", "app-misc/foo").lines).toEqual(["Total: 0 packages, Size of downloads: 0 KiB"]);
    // @world without -u keeps every installed version; -N rebuilds the one whose USE changed
    expect(emerge(root, "-pv", "--noreplace", "@world").lines).toEqual(["Total: 0 packages, Size of downloads: 0 KiB"]);
    // -N compares with the best visible ebuild: foo-1.0-r1 adds qux to IUSE, so -N upgrades it
    // even without -u; -U looks at enabled flags only (emerge spec §4.6's verified example)
    expect(emerge(root, "-pN", "app-misc/foo").lines).toEqual(['[ebuild     U  ] app-misc/foo-1.0-r1 [1.0] USE="-qux%" ']);
    expect(emerge(root, "-pU", "app-misc/foo").lines).toEqual([]);
    writeTree(root, { "etc/portage/package.use/foo": "app-misc/foo bar\n" });
    expect(emerge(root, "-pvU", "@world").lines).toEqual([
      '[ebuild     U  ] app-misc/foo-1.0-r1::test-kit [1.0::test-kit] USE="bar* baz -qux%" 0 KiB',
      "Total: 1 package (1 upgrade), Size of downloads: 0 KiB",
    ]);
    expect(emerge(root, "-pvN", "@world").lines).toEqual([
      '[ebuild     U  ] app-misc/foo-1.0-r1::test-kit [1.0::test-kit] USE="bar* baz -qux%" 0 KiB',
      '[ebuild     U  ] app-misc/tool-1.1::test-kit [1.0::test-kit] USE="(-doc%)" PYTHON_TARGETS="python3_9 -python3_10 -python3_11%" 0 KiB',
      "Total: 2 packages (2 upgrades), Size of downloads: 0 KiB",
    ]);
  });

  it("--exclude: an excluded package is never merged; an || group turns to the other alternative; an argument only excluded is skipped", () => {
    const root = system();
    const lines = emerge(root, "-p", "--exclude", "fast", "app-misc/app").lines;
    expect(lines).toContain("[ebuild  N     ] app-misc/slow-1.0 ");
    expect(lines.some((l) => l.includes("app-misc/fast"))).toBe(false);
    expect(emerge(root, "-p", "--exclude", "app-misc/*", "app-misc/app", "dev-libs/libgui").lines).toEqual(["[ebuild  N     ] dev-libs/libcore-1.0 ", "[ebuild  N     ] dev-libs/libgui-1.0 "]);
    const bad = ouzo(["emerge", "--root", root, "-p", "--exclude", ">=app-misc/fast-1", "app-misc/app"]);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, "ouzo: --exclude takes package names or slot atoms, not '>=app-misc/fast-1'"]);
  });

  it("an argument only an installed package matches cannot be merged again; selective, it is left alone", () => {
    const root = system({ "var/db/pkg/app-misc/orphan-1.0/SLOT": "0\n" });
    const r = emerge(root, "-p", "app-misc/orphan");
    expect([r.code, r.stderr.split("\n")[0]]).toEqual([1, 'ouzo: there are no ebuilds to satisfy "app-misc/orphan": only the installed app-misc/orphan-1.0 matches it (with --noreplace or --update it is left as it is)']);
    const n = emerge(root, "-pn", "app-misc/orphan");
    expect([n.code, n.lines]).toEqual([0, []]);
  });

  it("a world entry that names a package gone from the repositories is a warning after the plan, not a failure", () => {
    const root = system();
    fs.appendFileSync(path.join(root, "var/lib/portage/world"), "app-misc/gone\n");
    const r = emerge(root, "-pu", "@world");
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(3);
    expect(r.stderr).toContain("warning: ebuilds for the following packages are either all masked or don't exist: app-misc/gone");
    const doc = JSON.parse(ouzo(["emerge", "--root", root, "-pu", "--json", "@world"]).stdout);
    expect(doc.warnings).toEqual([{ code: "world-missing", atom: "app-misc/gone", set: "@selected", detail: "no ebuild and nothing installed matches it" }]);
    // the same atom on the command line is a failure
    expect(emerge(root, "-p", "app-misc/gone").code).toBe(1);
  });

  it("says why no plan exists: a dependency with no ebuild, every version masked, no such package", () => {
    const root = system();
    const missing = emerge(root, "-p", "app-misc/needsmissing");
    expect([missing.code, missing.stderr.trim()]).toEqual([
      1,
      [
        'ouzo: there are no ebuilds to satisfy "app-misc/nowhere" (dependency required by "app-misc/needsmissing-1.0::test-kit" [ebuild], RDEPEND)',
        "  1. app-misc/needsmissing (argument) can only be app-misc/needsmissing-1.0::test-kit",
        "  2. no repository has a package app-misc/nowhere, and none is installed",
        "  3. app-misc/needsmissing-1.0::test-kit needs app-misc/nowhere (RDEPEND), which nothing can satisfy (1, 2)",
        "  4. so app-misc/needsmissing cannot be installed (3)",
      ].join("\n"),
    ]);
    const masked = emerge(root, "-p", "=dev-libs/libcore-2.0");
    expect(masked.code).toBe(1);
    expect(masked.stderr).toContain('all ebuilds that could satisfy "=dev-libs/libcore-2.0" have been masked: dev-libs/libcore-2.0::test-kit');
    const none = emerge(root, "-p", "app-misc/nonesuch");
    expect([none.code, none.stderr.split("\n")[0]]).toEqual([1, 'ouzo: there are no ebuilds to satisfy "app-misc/nonesuch"']);
    const json = ouzo(["emerge", "--root", root, "-p", "--json", "app-misc/needsmissing"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, failure: { code: "unsatisfied", chain: [{ n: 1, kind: "argument" }, { n: 2, kind: "missing", atom: "app-misc/nowhere" }, { n: 3, kind: "dependency", class: "RDEPEND", refs: [1, 2] }, { n: 4, kind: "conclusion" }] } });
  });

  it("marks what a per-package keyword or an unmask let in: the mask column", () => {
    const root = system({
      "etc/portage/package.accept_keywords": "=dev-libs/libcore-2.0\n",
      "etc/portage/package.mask": "app-misc/fast\n",
      "etc/portage/package.unmask": "app-misc/fast\n",
    });
    expect(emerge(root, "-p", "=dev-libs/libcore-2.0").lines).toEqual(["[ebuild  N    ~] dev-libs/libcore-2.0 "]);
    expect(emerge(root, "-p", "app-misc/fast").lines).toEqual(["[ebuild  N    #] app-misc/fast-1.0 "]);
    expect(emerge(root, "-p", "app-misc/slow").lines).toEqual(["[ebuild  N     ] app-misc/slow-1.0 "]);
  });

  it("a version whose USE breaks its REQUIRED_USE cannot be chosen; fixing USE makes it possible", () => {
    const root = system();
    const r = emerge(root, "-p", "app-misc/picky");
    expect([r.code, r.stderr.split("\n")[0]]).toEqual([1, 'ouzo: all ebuilds that could satisfy "app-misc/picky" have been masked: app-misc/picky-1.0::test-kit (masked by: REQUIRED_USE "^^ ( a b )" does not hold with USE="")']);
    expect(r.stderr).toContain("  1. app-misc/picky-1.0::test-kit cannot be installed: REQUIRED_USE: exactly-one-of ( a b ) does not hold with a off, b off");
    writeTree(root, { "etc/portage/package.use/picky": "app-misc/picky a\n" });
    expect(emerge(root, "-p", "app-misc/picky").lines).toEqual(['[ebuild  N     ] app-misc/picky-1.0  USE="a -b" ']);
  });

  it("with -D, follows the build-time dependencies of installed packages as optional edges (--with-bdeps=y), and not with n", () => {
    // base-1 stays installed; its recorded DEPEND names a tool not installed and a package that does not exist
    const root = system({ "var/db/pkg/app-misc/base-1/DEPEND": "app-misc/buildtool app-misc/nowhere\n" });
    const plan = (...a: string[]) => emerge(root, "-p", ...a).lines;
    expect(plan("-uD", "@world")).toContain("[ebuild  N     ] app-misc/buildtool-1.0 ");
    expect(plan("-uD", "--with-bdeps", "n", "@world").some((l) => l.includes("buildtool"))).toBe(false);
    // without -D the dependencies of installed packages are not looked at
    expect(plan("-u", "@world").some((l) => l.includes("buildtool"))).toBe(false);
  });

  it("asks the solver when emerge's first choice leads nowhere, and says when nothing fits", () => {
    const root = system();
    // wants-lib is processed first and would take lib-2, which wants-old-lib cannot use
    const r = ouzo(["emerge", "--root", root, "-p", "--json", "app-misc/wants-old-lib", "app-misc/wants-lib"]);
    const doc = JSON.parse(r.stdout);
    expect(doc.plan.map((e: { cpv: string }) => e.cpv)).toEqual(["dev-libs/lib-1.0", "app-misc/wants-old-lib-1.0", "app-misc/wants-lib-1.0"]);
    expect(doc.stats.solver).toBe(true);
    // the other order needs no solver
    expect(JSON.parse(ouzo(["emerge", "--root", root, "-p", "--json", "app-misc/wants-lib", "app-misc/wants-old-lib"]).stdout).stats.solver).toBe(false);
    const none = emerge(root, "-p", "app-misc/wants-new-lib", "app-misc/wants-old-lib");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no plan satisfies every dependency, slot and blocker of this request together");
  });

  it("--json prints the plan document and nothing else on stdout", () => {
    const r = ouzo(["emerge", "--root", system(), "-puDN", "--json", "@world"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schema: "ouzo-plan/1", ok: true, action: "merge", request: { sets: ["@world"], options: { update: true, deep: "unlimited", newuse: true } }, failure: null });
    expect(doc.plan.map((e: { cpv: string; status: string; forced: boolean }) => [e.cpv, e.status, e.forced])).toEqual([
      ["dev-libs/libz-2.0", "upgrade", true],
      ["app-misc/foo-1.0-r1", "upgrade", false],
      ["app-misc/tool-1.1", "upgrade", false],
      ["dev-lang/py-3.10.2", "new-slot", false],
      ["app-misc/consumer-1.0", "reinstall", true],
    ]);
    expect(doc.plan[0]).toMatchObject({ index: 0, op: "merge", repo: "test-kit", slot: "0", subslot: "2", attrs: " r  U  ", replaces: { cpv: "dev-libs/libz-1.0", subslot: "1" } });
    expect(doc.plan[4].deps).toEqual([
      { index: 0, class: "RDEPEND", atom: "dev-libs/libz:=", edge: "runtime" },
      { index: 0, class: "DEPEND", atom: "dev-libs/libz:=", edge: "buildtime" },
    ]);
    expect(doc.plan[1].reasons).toEqual([{ kind: "requested", arg: "@selected", atom: "app-misc/foo", set: "selected" }]);
    expect(doc.totals).toMatchObject({ packages: 5, upgrades: 3, new_slots: 1, reinstalls: 1 });
  });

  it.skipIf(spawnSync("script", ["--version"]).error !== undefined)("--ask asks on the terminal: No quits with 130, Yes builds and merges", () => {
    const root = system({ "etc/portage/make.conf": `PORTAGE_TMPDIR="${tmpdir()}"\n` });
    const onTerminal = (answer: string) => {
      const cmd = ["env", "-u", "CI", "NO_COLOR=1", process.execPath, path.join(REPO_ROOT, "bin", "ouzo.js"), "emerge", "--root", root, "-a", "app-misc/fast"].map((a) => `'${a}'`).join(" ");
      const r = spawnSync("script", ["-qec", `exec ${cmd}`, "/dev/null"], { encoding: "utf8", input: `${answer}\n`, timeout: 60_000, env: { ...process.env, SHELL: "/bin/sh" } });
      return { code: r.status, screen: r.stdout };
    };
    const no = onTerminal("n");
    expect(no.code).toBe(130);
    expect(no.screen).toContain("Would you like to merge these packages? [Yes/No] ");
    expect(no.screen).toContain("Quitting.");
    const yes = onTerminal("y");
    expect(yes.screen).toContain(">>> Completed (1 of 1) app-misc/fast-1.0::test-kit");
    expect(yes.code).toBe(0);
    // no terminal: no question that nobody can answer
    const piped = emerge(root, "-a", "app-misc/fast");
    expect([piped.code, piped.stderr.trim()]).toEqual([1, "ouzo: --ask needs a terminal to answer on"]);
  });

  it("without --pretend builds and merges without showing the plan (emerge's way); usage errors exit 2", () => {
    const root = system({ "etc/portage/make.conf": `PORTAGE_TMPDIR="${tmpdir()}"\n` });
    const r = emerge(root, "app-misc/fast");
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([]);
    expect(r.all).toContain(">>> Completed (1 of 1) app-misc/fast-1.0::test-kit");
    expect(fs.existsSync(path.join(root, "var/db/pkg/app-misc/fast-1.0/CONTENTS"))).toBe(true);
    const bad = ouzo(["emerge", "--root", root, "--frobnicate", "app-misc/fast"]);
    expect(bad.code).toBe(2);
    expect(ouzo(["emerge", "--root", root, "-p"]).code).toBe(2);
  });
});
