// `ouzo emerge --root` with a build host of its own (emerge spec §1.10, §5.1): build-time
// dependencies satisfied on the build host's root (a temporary directory standing for `/`,
// given by OUZO_HOST_ROOT), runtime dependencies in ROOT; real builds and merges into both.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildSystem, type BuildSystem } from "./buildFixture.js";
import { ouzo, tmpdir, writeTree } from "./helpers.js";

/** Packages of build-kit for these tests: a build tool, its users of several EAPIs. */
function addPackages(sys: BuildSystem): void {
  const ebuild = (eapi: string, body: string) => `EAPI=${eapi}\n\nDESCRIPTION="test"\nHOMEPAGE="https://example.invalid/"\nLICENSE="MIT"\nSLOT="0"\nKEYWORDS="amd64"\nS=\${WORKDIR}\n${body}\n`;
  writeTree(sys.kit, {
    "app-misc/buildtool/buildtool-1.0.ebuild": ebuild("8", `src_install() {\n\tinsinto /usr/share/buildtool\n\tnewins - tool.txt <<<"tool \${PF}"\n}`),
    "app-misc/usestool/usestool-1.0.ebuild": ebuild("8", `BDEPEND="app-misc/buildtool"\nRDEPEND="app-misc/notes"\nsrc_install() {\n\tinsinto /usr/share/usestool\n\tnewins - used.txt <<<"used \${PF}"\n}`),
    "app-misc/olddep/olddep-1.0.ebuild": ebuild("6", `DEPEND="app-misc/buildtool"\nsrc_install() {\n\tinsinto /usr/share/olddep\n\tnewins - old.txt <<<"old"\n}`),
    "app-misc/newdep/newdep-1.0.ebuild": ebuild("8", `DEPEND="app-misc/buildtool"\nsrc_install() {\n\tinsinto /usr/share/newdep\n\tnewins - new.txt <<<"new"\n}`),
  });
}

const vdb = (root: string) => {
  const db = path.join(root, "var/db/pkg");
  if (!fs.existsSync(db)) return [];
  return fs
    .readdirSync(db)
    .flatMap((c) => fs.readdirSync(path.join(db, c)).map((p) => `${c}/${p}`))
    .sort();
};

/** A ROOT with the kit's new packages and an empty build host root. */
async function roots(): Promise<{ sys: BuildSystem; host: string }> {
  const sys = await buildSystem();
  addPackages(sys);
  return { sys, host: tmpdir("ouzo-host-root-") };
}

const emerge = (sys: BuildSystem, host: string, args: string[], env: Record<string, string> = {}) => ouzo(["emerge", "--root", sys.root, "--quiet-build", ...args], { env: { OUZO_HOST_ROOT: host, ...env } });
/** The plan lines (`[ebuild …] cpv [to ROOT/]`), trailing spaces off. */
const planLines = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("[ebuild")).map((l) => l.trimEnd());

describe("ouzo emerge with ROOT other than the build host's root", () => {
  it("plans a missing build tool for the host and the package to ROOT, then merges each into its root", async () => {
    const { sys, host } = await roots();
    const p = emerge(sys, host, ["-p", "app-misc/usestool"]);
    expect(p.stderr).not.toContain("ouzo:");
    expect(p.code).toBe(0);
    expect(planLines(p.stdout)).toEqual([
      "[ebuild  N     ] app-misc/buildtool-1.0",
      `[ebuild  N     ] app-misc/notes-1.0 to ${sys.root}/`,
      `[ebuild  N     ] app-misc/usestool-1.0 to ${sys.root}/`,
    ]);
    const json = JSON.parse(emerge(sys, host, ["-p", "--json", "app-misc/usestool"]).stdout);
    expect(json.roots.build).toBe(host);
    expect(json.plan.map((e: { cpv: string; root: string; host?: boolean }) => [e.cpv, e.root, !!e.host])).toEqual([
      ["app-misc/buildtool-1.0", host, true],
      ["app-misc/notes-1.0", sys.root, false],
      ["app-misc/usestool-1.0", sys.root, false],
    ]);
    // usestool waits for the host's buildtool (a build-time edge across roots)
    expect(json.plan[2].deps).toContainEqual({ index: 0, class: "BDEPEND", atom: "app-misc/buildtool", edge: "buildtime" });

    const r = emerge(sys, host, ["app-misc/usestool"]);
    expect(r.stderr).not.toContain("ouzo:");
    expect(r.code).toBe(0);
    expect(vdb(host)).toEqual(["app-misc/buildtool-1.0"]);
    expect(vdb(sys.root)).toEqual(["app-misc/notes-1.0", "app-misc/usestool-1.0"]);
    expect(fs.readFileSync(path.join(host, "usr/share/buildtool/tool.txt"), "utf8")).toBe("tool buildtool-1.0\n");
    expect(fs.existsSync(path.join(sys.root, "usr/share/buildtool"))).toBe(false);
    expect(fs.readFileSync(path.join(sys.root, "usr/share/usestool/used.txt"), "utf8")).toBe("used usestool-1.0\n");
    // the world file is ROOT's, and names only what was asked for
    expect(fs.readFileSync(path.join(sys.root, "var/lib/portage/world"), "utf8")).toBe("app-misc/usestool\n");
    expect(fs.existsSync(path.join(host, "var/lib/portage/world"))).toBe(false);

    // now the host has the tool: a rebuild of usestool plans nothing for the host
    const again = emerge(sys, host, ["-p", "-1", "app-misc/usestool"]);
    expect(planLines(again.stdout)).toEqual([`[ebuild   R    ] app-misc/usestool-1.0 to ${sys.root}/`]);
  });

  it("does not plan a build tool the host already has, even when ROOT lacks it", async () => {
    const { sys, host } = await roots();
    writeTree(host, Object.fromEntries(Object.entries({ COUNTER: "1", EAPI: "8", IUSE: "", KEYWORDS: "amd64", SLOT: "0", USE: "", repository: "build-kit" }).map(([f, v]) => [`var/db/pkg/app-misc/buildtool-1.0/${f}`, `${v}\n`])));
    const r = emerge(sys, host, ["-1", "app-misc/usestool"]);
    expect(r.stderr).not.toContain("ouzo:");
    expect(r.code).toBe(0);
    expect(vdb(sys.root)).toEqual(["app-misc/notes-1.0", "app-misc/usestool-1.0"]);
    expect(vdb(host)).toEqual(["app-misc/buildtool-1.0"]);
    expect(fs.existsSync(path.join(host, "usr/share/buildtool"))).toBe(false);
  });

  it("sends DEPEND by EAPI: EAPI 7+ to SYSROOT, EAPI < 7 to the host unless --root-deps", async () => {
    const { sys, host } = await roots();
    const plan = (args: string[], env: Record<string, string> = {}) => planLines(emerge(sys, host, ["-p", ...args], env).stdout);
    expect(plan(["app-misc/newdep"])).toEqual(["[ebuild  N     ] app-misc/buildtool-1.0", `[ebuild  N     ] app-misc/newdep-1.0 to ${sys.root}/`]);
    expect(plan(["app-misc/newdep"], { SYSROOT: sys.root })).toEqual([`[ebuild  N     ] app-misc/buildtool-1.0 to ${sys.root}/`, `[ebuild  N     ] app-misc/newdep-1.0 to ${sys.root}/`]);
    expect(plan(["app-misc/olddep"])).toEqual(["[ebuild  N     ] app-misc/buildtool-1.0", `[ebuild  N     ] app-misc/olddep-1.0 to ${sys.root}/`]);
    expect(plan(["--root-deps", "app-misc/olddep"])).toEqual([`[ebuild  N     ] app-misc/buildtool-1.0 to ${sys.root}/`, `[ebuild  N     ] app-misc/olddep-1.0 to ${sys.root}/`]);
    expect(plan(["--root-deps=rdeps", "app-misc/olddep"])).toEqual([`[ebuild  N     ] app-misc/olddep-1.0 to ${sys.root}/`]);
    // without a build host root of its own, ROOT builds for itself: everything to ROOT, as before
    const alone = planLines(ouzo(["emerge", "--root", sys.root, "-p", "app-misc/usestool"]).stdout);
    expect(alone).toHaveLength(3);
    expect(alone.every((l) => l.endsWith(`to ${sys.root}/`))).toBe(true);
  });

  it("resumes a run of two roots into the roots it had: the host's packages into the host", async () => {
    const { sys, host } = await roots();
    const ebuild = (body: string) => `EAPI=8\nDESCRIPTION="test"\nHOMEPAGE="https://example.invalid/"\nLICENSE="MIT"\nSLOT="0"\nKEYWORDS="amd64"\nS=\${WORKDIR}\n${body}\n`;
    writeTree(sys.kit, {
      // a build tool whose build fails while the environment says so
      "app-misc/flakytool/flakytool-1.0.ebuild": ebuild(`src_install() {\n\t[[ -n \${FLAKY_FAIL} ]] && die "flaky today"\n\tinsinto /usr/share/flakytool\n\tnewins - tool.txt <<<"tool"\n}`),
      "app-misc/usesflaky/usesflaky-1.0.ebuild": ebuild(`BDEPEND="app-misc/flakytool"\nsrc_install() {\n\tinsinto /usr/share/usesflaky\n\tnewins - used.txt <<<"used"\n}`),
    });
    const failed = emerge(sys, host, ["app-misc/usesflaky"], { FLAKY_FAIL: "1" });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("flaky today");
    expect(vdb(host)).toEqual([]);
    const saved = JSON.parse(fs.readFileSync(path.join(sys.root, "var/cache/edb/ouzo-resume.json"), "utf8"));
    expect(saved).toMatchObject({ hostMergelist: ["app-misc/flakytool-1.0::build-kit"], hostRoot: host, mergelist: ["app-misc/usesflaky-1.0::build-kit"] });

    // resumed without the host root on the command line: the saved one is used
    const r = ouzo(["emerge", "--root", sys.root, "--quiet-build", "--resume"]);
    expect(r.stderr).not.toContain("ouzo:");
    expect(r.code).toBe(0);
    expect(vdb(host)).toEqual(["app-misc/flakytool-1.0"]);
    expect(vdb(sys.root)).toEqual(["app-misc/usesflaky-1.0"]);
    expect(fs.existsSync(path.join(sys.root, "usr/share/flakytool"))).toBe(false);
    expect(fs.existsSync(path.join(sys.root, "var/cache/edb/ouzo-resume.json"))).toBe(false);
    // the world file is ROOT's and names what was asked for in the first run
    expect(fs.readFileSync(path.join(sys.root, "var/lib/portage/world"), "utf8")).toBe("app-misc/usesflaky\n");
  });
});
