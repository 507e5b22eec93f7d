// `ouzo anise` against real repositories served on 127.0.0.1, with packages built here (tar +
// zstd): install, upgrade, uninstall, provides, conflicts, config protection, finalizers,
// subsets, and artifacts that must be refused.
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { readInstalled } from "../src/vdb/installed.js";
import { readWorld } from "../src/vdb/world.js";
import { anise, installShell, serveAniseRepo, stopAniseServers, type FixturePackage } from "./aniseFixture.js";

afterEach(stopAniseServers);
const setup = serveAniseRepo;

const installedCpvs = (root: string) => readInstalled(root).map((p) => p.cpv).sort();
const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), "utf8");

const LIB: FixturePackage = { category: "dev-libs", name: "base", version: "1.0", files: { "usr/lib/base.so": "base 1.0\n" } };
const MID: FixturePackage = { category: "dev-libs", name: "mid", version: "2.1", requires: [{ category: "dev-libs", name: "base", version: ">=1.0" }], files: { "usr/lib/mid.so": "mid\n" } };
const APP: FixturePackage = { category: "app-misc", name: "app", version: "1.0", requires: [{ category: "dev-libs", name: "mid" }], files: { "usr/bin/app": { content: "#!/bin/sh\necho app\n", mode: 0o755 }, "etc/app.conf": "setting=1\n" } };

describe("ouzo anise install", () => {
  it("installs a package with its dependencies, each with a /var/db/pkg entry emerge reads", async () => {
    const { root, run } = await setup([LIB, MID, APP]);
    const r = await run("install", "-y", "app");
    expect(r.code, r.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["app-misc/app-1.0", "dev-libs/base-1.0", "dev-libs/mid-2.1"]);
    expect(read(root, "usr/bin/app")).toContain("echo app");
    expect(fs.statSync(path.join(root, "usr/bin/app")).mode & 0o777).toBe(0o755);
    // the archive's mtime, not the install time (§15.15)
    expect(fs.statSync(path.join(root, "usr/lib/base.so")).mtimeMs).toBe(1_700_000_000_000);
    const app = readInstalled(root).find((p) => p.package === "app")!;
    expect(app.rdepend).toBe("dev-libs/mid");
    expect(app.repo).toBe("main");
    expect(fs.readFileSync(path.join(app.dir, "ANISE_REPOSITORY"), "utf8").trim()).toBe("main");
    expect(fs.readFileSync(path.join(app.dir, "CONTENTS"), "utf8")).toContain("obj /usr/bin/app ");
    // the request joins the world file, its dependencies do not
    expect(readWorld(root).atoms.map((a) => a.toString())).toEqual(["app-misc/app"]);
    // again: nothing to do
    const again = await run("install", "-y", "app-misc/app");
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("already installed");
  });

  it("exits 1 for a package no repository has (anise exits 0)", async () => {
    const { run } = await setup([LIB]);
    const r = await run("install", "-y", "dev-libs/nothing");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no anise package matches 'dev-libs/nothing'");
  });

  it("shows the plan and changes nothing with -p, as JSON with -o json", async () => {
    const { root, run } = await setup([LIB, MID, APP]);
    const r = await run("install", "-p", "-o", "json", "app-misc/app@>=1.0");
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.plan.map((x: { package: string }) => x.package)).toEqual(["dev-libs/base-1.0", "dev-libs/mid-2.1", "app-misc/app-1.0"]);
    expect(installedCpvs(root)).toEqual([]);
  });

  it("refuses a conflict with an installed package and says which", async () => {
    const other: FixturePackage = { category: "app-misc", name: "rival", version: "3", conflicts: [{ category: "dev-libs", name: "base" }], files: { "usr/bin/rival": "r\n" } };
    const { root, run } = await setup([LIB, other]);
    expect((await run("install", "-y", "dev-libs/base")).code).toBe(0);
    const r = await run("install", "-y", "rival");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("app-misc/rival-3 conflicts with the installed dev-libs/base-1.0");
    expect(installedCpvs(root)).toEqual(["dev-libs/base-1.0"]);
  });

  it("upgrades an installed dependency that is too old (anise fails instead, §15.7)", async () => {
    const { root, run, publish } = await setup([LIB]);
    expect((await run("install", "-y", "dev-libs/base")).code).toBe(0);
    const base2: FixturePackage = { ...LIB, version: "2.0", files: { "usr/lib/base.so": "base 2.0\n" } };
    const needs2: FixturePackage = { category: "app-misc", name: "needs2", version: "1", requires: [{ category: "dev-libs", name: "base", version: ">=2.0" }] };
    await publish([LIB, base2, needs2], 2);
    const r = await run("install", "-y", "--sync-repos", "app-misc/needs2");
    expect(r.code, r.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["app-misc/needs2-1", "dev-libs/base-2.0"]);
    expect(read(root, "usr/lib/base.so")).toBe("base 2.0\n");
  });

  it("explains a requirement nothing satisfies", async () => {
    const broken: FixturePackage = { category: "app-misc", name: "broken", version: "1", requires: [{ category: "dev-libs", name: "missing", version: ">=2" }] };
    const { run } = await setup([broken]);
    const r = await run("install", "-y", "app-misc/broken");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("app-misc/broken-1 requires dev-libs/missing >=2, which no repository has and is not installed");
  });

  it("installs a provider for a provided name, and records the name as provided", async () => {
    const phoenix: FixturePackage = { category: "repository", name: "phoenix", version: "20250104", provides: [{ category: "repository", name: "funtoo" }], files: { "etc/anise/repos.conf.d/phoenix.yml": "name: phoenix\n" } };
    const user: FixturePackage = { category: "app-misc", name: "user", version: "1", requires: [{ category: "repository", name: "funtoo" }] };
    const { root, run } = await setup([phoenix, user]);
    const r = await run("install", "-y", "app-misc/user");
    expect(r.code, r.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["app-misc/user-1", "repository/funtoo-20250104", "repository/phoenix-20250104"]);
    const funtoo = readInstalled(root).find((p) => p.package === "funtoo")!;
    expect(fs.readFileSync(path.join(funtoo.dir, "ANISE_PROVIDED_BY"), "utf8").trim()).toBe("repository/phoenix-20250104");
    // removing the provider takes the name and what needs it (anise leaves them, §15.13)
    const rm = await run("uninstall", "-y", "repository/phoenix");
    expect(rm.code, rm.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual([]);
  });

  it("skips files of subsets that are not enabled, and installs them when enabled", async () => {
    const dev: FixturePackage = {
      category: "dev-libs",
      name: "headers",
      version: "1",
      annotations: { subsets: { rules: { devel: ["^/usr/include/"] } } },
      files: { "usr/include/h.h": "#define H\n", "usr/lib/h.so": "so\n" },
    };
    const { root, run } = await setup([dev]);
    expect((await run("install", "-y", "dev-libs/headers")).code).toBe(0);
    expect(fs.existsSync(path.join(root, "usr/lib/h.so"))).toBe(true);
    expect(fs.existsSync(path.join(root, "usr/include/h.h"))).toBe(false);
    // skipped files are not recorded as the package's (anise records them, §15.10)
    const pkg = readInstalled(root)[0]!;
    expect(fs.readFileSync(path.join(pkg.dir, "CONTENTS"), "utf8")).not.toContain("h.h");
    fs.writeFileSync(path.join(root, "etc/anise/anise.yaml"), YAML.stringify({ subsets: { enabled: ["devel"] } }));
    expect((await run("uninstall", "-y", "dev-libs/headers")).code).toBe(0);
    expect((await run("install", "-y", "dev-libs/headers")).code).toBe(0);
    expect(read(root, "usr/include/h.h")).toBe("#define H\n");
  });

  it("keeps the mode of a directory that exists, unless overwrite_dir_perms", async () => {
    const { root, run } = await setup([LIB, { ...MID, requires: [] }]);
    fs.mkdirSync(path.join(root, "usr/lib"), { recursive: true, mode: 0o700 });
    fs.chmodSync(path.join(root, "usr/lib"), 0o700);
    expect((await run("install", "-y", "dev-libs/base")).code).toBe(0);
    expect(fs.statSync(path.join(root, "usr/lib")).mode & 0o7777).toBe(0o700);
    fs.writeFileSync(path.join(root, "etc/anise/anise.yaml"), YAML.stringify({ general: { overwrite_dir_perms: true } }));
    const r = await run("install", "-y", "dev-libs/mid");
    expect(r.code, r.stderr).toBe(0);
    // the package's mode (0755 in its archive) now, once its files are in place
    expect(fs.statSync(path.join(root, "usr/lib")).mode & 0o7777).toBe(0o755);
    expect(read(root, "usr/lib/mid.so")).toBe("mid\n");
  });

  it("rejects an artifact with a wrong sha256, and a truncated one, changing nothing", async () => {
    const bad: FixturePackage = { ...APP, name: "bad", badSha: true, requires: [] };
    const cut: FixturePackage = { ...LIB, name: "cut" };
    const { root, run, server } = await setup([LIB, bad, cut]);
    const r = await run("install", "-y", "dev-libs/base", "app-misc/bad");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("sha256 mismatch");
    expect(installedCpvs(root)).toEqual([]);
    expect(fs.existsSync(path.join(root, "usr/lib/base.so"))).toBe(false);
    // the file that failed is not kept in the cache (§15.11)
    expect(fs.readdirSync(path.join(root, "var/cache/ouzo/anise/packages")).filter((f) => f.startsWith("bad-"))).toEqual([]);
    server.truncate.add("cut-dev-libs-1.0.package.tar.zst");
    const t = await run("install", "-y", "dev-libs/cut");
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/cannot download cut-dev-libs-1\.0\.package\.tar\.zst/);
    expect(installedCpvs(root)).toEqual([]);
    // once served whole, it installs
    server.truncate.clear();
    expect((await run("install", "-y", "dev-libs/cut")).code).toBe(0);
  });

  it("tells an HTTP error at once, without waiting for its body or asking again", async () => {
    const { root, run, server } = await setup([LIB]);
    server.refuse.add("base-dev-libs-1.0.package.tar.zst");
    const r = await run("install", "-y", "dev-libs/base");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("HTTP 404");
    // a 4xx is not retried (a 5xx or a broken connection would be)
    expect(server.log.filter((u) => u.endsWith("base-dev-libs-1.0.package.tar.zst"))).toHaveLength(1);
    expect(installedCpvs(root)).toEqual([]);
  });
});

describe("ouzo anise upgrade", () => {
  it("upgrades across a version whose requires changed, keeping a modified config file", async () => {
    const extra: FixturePackage = { category: "dev-libs", name: "extra", version: "0.5", files: { "usr/lib/extra.so": "x\n" } };
    const { root, run, publish } = await setup([LIB, MID, APP, extra]);
    expect((await run("install", "-y", "app-misc/app")).code).toBe(0);
    fs.writeFileSync(path.join(root, "etc/app.conf"), "setting=mine\n");
    const app2: FixturePackage = { ...APP, version: "2.0", requires: [{ category: "dev-libs", name: "extra", version: ">=0.5" }], files: { "usr/bin/app": { content: "#!/bin/sh\necho app2\n", mode: 0o755 }, "etc/app.conf": "setting=2\n" } };
    await publish([LIB, MID, app2, extra], 2);
    const r = await run("upgrade", "-y", "--sync-repos");
    expect(r.code, r.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["app-misc/app-2.0", "dev-libs/base-1.0", "dev-libs/extra-0.5", "dev-libs/mid-2.1"]);
    expect(read(root, "usr/bin/app")).toContain("app2");
    expect(read(root, "etc/app.conf")).toBe("setting=mine\n");
    expect(read(root, "etc/._cfg0000_app.conf")).toBe("setting=2\n");
    expect(r.stdout).toContain("needs updating");
    // nothing more to do
    const again = await run("upgrade", "-y");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Nothing to upgrade.");
  });

  it("upgrades the same version when its requires changed, or a newer build appears", async () => {
    const b1: FixturePackage = { category: "app-misc", name: "built", version: "3.0+1", files: { "usr/share/built": "1\n" } };
    const { root, run, publish } = await setup([LIB, b1]);
    expect((await run("install", "-y", "built")).code).toBe(0);
    const b2: FixturePackage = { ...b1, version: "3.0+2", requires: [{ category: "dev-libs", name: "base" }], files: { "usr/share/built": "2\n" } };
    await publish([LIB, b2], 2);
    const r = await run("upgrade", "-y", "--sync-repos");
    expect(r.code, r.stderr).toBe(0);
    expect(read(root, "usr/share/built")).toBe("2\n");
    const p = readInstalled(root).find((x) => x.package === "built")!;
    expect(p.cpv).toBe("app-misc/built-3.0");
    expect(fs.readFileSync(path.join(p.dir, "ANISE_VERSION"), "utf8").trim()).toBe("3.0+2");
    expect(installedCpvs(root)).toContain("dev-libs/base-1.0");
  });
});

describe("replacing and conflicting files", () => {
  it("an upgrade replaces an installed package by the one that now provides it, in one step", async () => {
    const funtoo: FixturePackage = { category: "repository", name: "funtoo", version: "20240101", files: { "etc/anise/repos.conf.d/funtoo.yml": "name: funtoo\n" } };
    const { root, run, publish } = await setup([funtoo]);
    expect((await run("install", "-y", "repository/funtoo")).code).toBe(0);
    const phoenix: FixturePackage = { category: "repository", name: "phoenix", version: "20250104", provides: [{ category: "repository", name: "funtoo" }], files: { "etc/anise/repos.conf.d/phoenix.yml": "name: phoenix\n" } };
    await publish([funtoo, phoenix], 2);
    const r = await run("upgrade", "-y", "--sync-repos");
    expect(r.code, r.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["repository/funtoo-20250104", "repository/phoenix-20250104"]);
    expect(fs.existsSync(path.join(root, "etc/anise/repos.conf.d/funtoo.yml"))).toBe(false);
    expect(read(root, "etc/anise/repos.conf.d/phoenix.yml")).toBe("name: phoenix\n");
  });

  it("refuses two packages shipping one file, and a file another installed package owns, unless --force", async () => {
    const one: FixturePackage = { category: "app-misc", name: "one", version: "1", files: { "usr/bin/same": "one\n" } };
    const two: FixturePackage = { category: "app-misc", name: "two", version: "1", files: { "usr/bin/same": "two\n" } };
    const { root, run } = await setup([one, two]);
    const both = await run("install", "-y", "app-misc/one", "app-misc/two");
    expect(both.code).toBe(1);
    expect(both.stderr).toContain("/usr/bin/same is shipped by both app-misc/one-1 and app-misc/two-1");
    expect(installedCpvs(root)).toEqual([]);
    expect((await run("install", "-y", "app-misc/one")).code).toBe(0);
    const owned = await run("install", "-y", "app-misc/two");
    expect(owned.code).toBe(1);
    expect(owned.stderr).toContain("/usr/bin/same of app-misc/two-1 belongs to the installed app-misc/one-1");
    // a file nobody owns is overwritten
    fs.writeFileSync(path.join(root, "usr/bin/stray"), "x");
    const forced = await run("install", "-y", "--force", "app-misc/two");
    expect(forced.code, forced.stderr).toBe(0);
    expect(read(root, "usr/bin/same")).toBe("two\n");
  });
});

describe("file conflicts through links of ROOT", () => {
  it("follows an absolute directory link inside ROOT, not on the host, to find the owned file in the way", async () => {
    const one: FixturePackage = { category: "dev-libs", name: "one", version: "1", files: { "usr/lib64/libsame.so": "one\n" } };
    const two: FixturePackage = { category: "dev-libs", name: "two", version: "1", files: { "usr/lib/libsame.so": "two\n" } };
    const { root, run } = await setup([one, two]);
    expect((await run("install", "-y", "dev-libs/one")).code).toBe(0);
    // /usr/lib -> /usr/lib64, absolute: inside ROOT it means ROOT/usr/lib64 (the host has no such file)
    fs.symlinkSync("/usr/lib64", path.join(root, "usr/lib"));
    const r = await run("install", "-y", "dev-libs/two");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/usr/lib/libsame.so of dev-libs/two-1 belongs to the installed dev-libs/one-1");
    expect(read(root, "usr/lib64/libsame.so")).toBe("one\n");
  });
});

describe("ouzo anise uninstall", () => {
  it("removes the packages that need it, or only it with --nodeps; keeps modified protected files", async () => {
    const { root, run } = await setup([LIB, MID, APP]);
    expect((await run("install", "-y", "app-misc/app")).code).toBe(0);
    const p = await run("uninstall", "-p", "dev-libs/mid");
    expect(p.stdout).toContain("app-misc/app-1.0 (needs dev-libs/mid-2.1)");
    const only = await run("uninstall", "-y", "--nodeps", "dev-libs/base");
    expect(only.code, only.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["app-misc/app-1.0", "dev-libs/mid-2.1"]);
    fs.writeFileSync(path.join(root, "etc/app.conf"), "edited\n");
    const r = await run("uninstall", "-y", "dev-libs/mid");
    expect(r.code, r.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual([]);
    expect(fs.existsSync(path.join(root, "usr/bin/app"))).toBe(false);
    // directories the removal emptied go (§15.12); the edited configuration stays
    expect(fs.existsSync(path.join(root, "usr/bin"))).toBe(false);
    expect(read(root, "etc/app.conf")).toBe("edited\n");
    expect(readWorld(root).atoms).toEqual([]);
  });

  it("-k keeps protected files even unmodified; without it they go", async () => {
    const { root, run } = await setup([APP, MID, LIB]);
    expect((await run("install", "-y", "app-misc/app")).code).toBe(0);
    expect((await run("uninstall", "-y", "-k", "app-misc/app")).code).toBe(0);
    expect(read(root, "etc/app.conf")).toBe("setting=1\n");
    fs.rmSync(path.join(root, "etc/app.conf"));
    expect((await run("install", "-y", "app-misc/app")).code).toBe(0);
    expect((await run("uninstall", "-y", "app-misc/app")).code).toBe(0);
    expect(fs.existsSync(path.join(root, "etc/app.conf"))).toBe(false);
  });
});

describe("finalizers", () => {
  it("run inside ROOT after the install, with only the configured environment, and the stored uninstall one on removal", async () => {
    const fin: FixturePackage = {
      category: "sys-apps",
      name: "fin",
      version: "1.2",
      labels: { "kernel.version": "6.1" },
      files: { "usr/share/fin/data": "d\n" },
      finalize: [
        "install:",
        '- export -p > /fin.env; echo "{{ .Values.name }}-{{ .Values.version }} {{ index .Values.labels "kernel.version" }}" > /fin.out',
        "uninstall:",
        "- echo gone > /fin.gone",
        "",
      ].join("\n"),
    };
    const { root, run } = await setup([fin], { finalizer_envs: [{ key: "FROM_CONFIG", value: "yes" }], subsets: { enabled: ["devel"] } });
    installShell(root);
    const r = await anise(["install", "-y", "sys-apps/fin", "--finalizer-env", "FROM_CLI=1", "--system-target", root], { CALLER_SECRET: "leak" });
    expect(r.code, r.stderr).toBe(0);
    expect(read(root, "fin.out")).toBe("fin-1.2 6.1\n");
    const env = read(root, "fin.env");
    expect(env).toContain("FROM_CONFIG");
    expect(env).toContain("FROM_CLI");
    expect(env).toMatch(/ANISE_SUBSETS='?devel/);
    expect(env).toContain("ANISE_VERSION");
    expect(env).not.toContain("CALLER_SECRET");
    expect((await run("uninstall", "-y", "sys-apps/fin")).code).toBe(0);
    expect(read(root, "fin.gone")).toBe("gone\n");
  });

  it("a failing finalizer leaves the package installed and the command fails", async () => {
    const fin: FixturePackage = { category: "sys-apps", name: "failing", version: "1", files: { "usr/share/failing": "f\n" }, finalize: "install:\n- exit 3\n" };
    const { root, run } = await setup([fin]);
    installShell(root);
    const r = await run("install", "-y", "sys-apps/failing");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the install finalizer of sys-apps/failing-1 failed (exit 3)");
    expect(installedCpvs(root)).toEqual(["sys-apps/failing-1"]);
    // --skip-finalizers: nothing runs
    expect((await run("uninstall", "-y", "sys-apps/failing")).code).toBe(0);
    expect((await run("install", "-y", "--skip-finalizers", "sys-apps/failing")).code).toBe(0);
  });
});
