// anise's administration commands on ouzo (anise.md §14): `repo enable/disable`, `mask`,
// `subsets` and `database create/remove/reindex`, run as anise users type them (through
// aniseArgv and the compiled command table), against real repositories served on 127.0.0.1 and
// real files in a temporary ROOT; what they change is checked by what install, `repo list`,
// `q belongs`, `ouzo installed` and the files themselves then say.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { aniseArgv } from "../src/cli/aniseArgv.js";
import { parseContents } from "../src/vdb/contents.js";
import { readInstalled } from "../src/vdb/installed.js";
import { anise, serveAniseRepo, stopAniseServers, type FixturePackage } from "./aniseFixture.js";
import { ouzo, tmpdir } from "./helpers.js";

afterEach(stopAniseServers);
const setup = serveAniseRepo;

const installedCpvs = (root: string) => readInstalled(root).map((p) => p.cpv).sort();
const planOf = (stdout: string) => (JSON.parse(stdout) as { plan: { package: string }[] }).plan.map((p) => p.package);
const md5 = (file: string) => createHash("md5").update(fs.readFileSync(file)).digest("hex");

const BASE1: FixturePackage = { category: "dev-libs", name: "base", version: "1.0", files: { "usr/lib/base.so": "base 1.0\n" } };
const BASE2: FixturePackage = { category: "dev-libs", name: "base", version: "2.0", files: { "usr/lib/base.so": "base 2.0\n" } };

describe("anise repo enable/disable", () => {
  it("disables a repository in its own file (comments kept): repo list shows it, install cannot see its packages; enable brings them back", async () => {
    const { root, run } = await setup([BASE1]);
    const file = path.join(root, "etc/anise/repos.conf.d/main.yml");
    fs.writeFileSync(file, `# the main repository\n${fs.readFileSync(file, "utf8")}`);
    const off = await run("repo", "disable", "main");
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toContain("Repository main disabled (/etc/anise/repos.conf.d/main.yml).");
    const text = fs.readFileSync(file, "utf8");
    expect(text.startsWith("# the main repository\n")).toBe(true);
    expect(YAML.parse(text)).toMatchObject({ name: "main", type: "http", enable: false, priority: 50 });
    // no temporary file left beside it, and the lock of the configuration is gone with its holder
    expect(fs.readdirSync(path.dirname(file))).toEqual(["main.yml"]);
    expect(fs.existsSync(path.join(root, "var/lib/ouzo/anise-config.lock"))).toBe(false);
    const list = await run("repo", "list", "-o", "json");
    expect(JSON.parse(list.stdout).repositories).toMatchObject([{ name: "main", enable: false }]);
    expect((await run("repo", "list")).stdout).toMatch(/^ {2}main \(priority 50/);
    const refused = await run("install", "-y", "dev-libs/base");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("no anise package matches 'dev-libs/base'");

    const on = await run("repo", "enable", "main");
    expect(on.code, on.stderr).toBe(0);
    expect(YAML.parse(fs.readFileSync(file, "utf8")).enable).toBe(true);
    expect((await run("repo", "list")).stdout).toMatch(/^\* main /);
    const again = await run("repo", "enable", "main");
    expect(again.stdout).toContain("already enabled");
    const r = await run("install", "-y", "dev-libs/base");
    expect(r.code, r.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["dev-libs/base-1.0"]);
  });

  it("refuses an unknown repository with one line and exit 1, writing nothing", async () => {
    const { root, run } = await setup([BASE1]);
    const file = path.join(root, "etc/anise/repos.conf.d/main.yml");
    const before = fs.readFileSync(file, "utf8");
    const r = await run("repo", "disable", "main", "nowhere");
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("ouzo: no anise repository called 'nowhere' is configured (there are: main)");
    expect(fs.readFileSync(file, "utf8")).toBe(before);
  });
});

describe("anise mask", () => {
  it("masks a version: install refuses it (--ignore-masks takes it), list shows the rule, del lifts it", async () => {
    const { root, run } = await setup([BASE1, BASE2]);
    expect(planOf((await run("install", "-p", "-o", "json", "dev-libs/base")).stdout)).toEqual(["dev-libs/base-2.0"]);

    const add = await run("mask", "add", ">=dev-libs/base-2.0");
    expect(add.code, add.stderr).toBe(0);
    const file = path.join(root, "etc/anise/mask.d/main.yml");
    expect(YAML.parse(fs.readFileSync(file, "utf8"))).toMatchObject({ enabled: true, rules: [">=dev-libs/base-2.0"] });
    const list = await run("mask", "list");
    expect(list.stdout.trim()).toBe(">=dev-libs/base-2.0 (/etc/anise/mask.d/main.yml)");
    expect(JSON.parse((await run("mask", "list", "-o", "json")).stdout).files).toMatchObject([{ enabled: true, rules: [">=dev-libs/base-2.0"] }]);

    // the newest admissible is 1.0 now; the masked version itself is refused
    expect(planOf((await run("install", "-p", "-o", "json", "dev-libs/base")).stdout)).toEqual(["dev-libs/base-1.0"]);
    const refused = await run("install", "-y", "=dev-libs/base-2.0");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`dev-libs/base-2.0::main (masked by: mask.d (${file}: >=dev-libs/base-2.0))`);
    expect(installedCpvs(root)).toEqual([]);
    const ignored = await run("install", "-y", "--ignore-masks", "=dev-libs/base-2.0");
    expect(ignored.code, ignored.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["dev-libs/base-2.0"]);
    expect((await run("uninstall", "-y", "dev-libs/base")).code).toBe(0);

    // a disabled file does not count; enabled again, it does
    expect((await run("mask", "disable")).code).toBe(0);
    expect((await run("mask", "list")).stdout).toContain("(/etc/anise/mask.d/main.yml, disabled)");
    expect((await run("mask", "list", "--enabled")).stdout.trim()).toBe("");
    expect(planOf((await run("install", "-p", "-o", "json", "dev-libs/base")).stdout)).toEqual(["dev-libs/base-2.0"]);
    expect((await run("mask", "enable", "-f", "main")).code).toBe(0);
    expect(planOf((await run("install", "-p", "-o", "json", "dev-libs/base")).stdout)).toEqual(["dev-libs/base-1.0"]);

    const del = await run("mask", "del", ">=dev-libs/base-2.0");
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toContain("Mask rule >=dev-libs/base-2.0 removed from /etc/anise/mask.d/main.yml.");
    expect(YAML.parse(fs.readFileSync(file, "utf8")).rules).toEqual([]);
    expect((await run("mask", "list")).stdout.trim()).toBe("");
    const r = await run("install", "-y", "dev-libs/base");
    expect(r.code, r.stderr).toBe(0);
    expect(installedCpvs(root)).toEqual(["dev-libs/base-2.0"]);
  });

  it("says what is wrong: a rule that is no atom (exit 2), a rule no file has (exit 1), a missing file", async () => {
    const { root, run } = await setup([BASE1]);
    const bad = await run("mask", "add", "not an atom");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("'not an atom' is not a mask rule");
    expect(fs.existsSync(path.join(root, "etc/anise/mask.d"))).toBe(false);
    expect((await run("mask", "a", "dev-libs/base::main")).code).toBe(0);
    const none = await run("mask", "del", "dev-libs/base::main", "dev-libs/other");
    expect(none.code).toBe(1);
    expect(none.stderr.trim()).toBe("ouzo: no mask rule 'dev-libs/other' in the mask files (/etc/anise/mask.d); 'anise mask list' shows them");
    // nothing was removed since one rule was not found
    expect(YAML.parse(fs.readFileSync(path.join(root, "etc/anise/mask.d/main.yml"), "utf8")).rules).toEqual(["dev-libs/base::main"]);
    const missing = await run("mask", "enable", "-f", "nodejs");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("etc/anise/mask.d/nodejs.yml: no such mask file");
  });
});

describe("anise configuration edits at once", () => {
  it("loses no change when several commands edit the same file together", async () => {
    const root = tmpdir("ouzo-anise-root-");
    const rules = ["=a/one-1", "=a/two-2", "=a/three-3", "=a/four-4", "=a/five-5"];
    const runs = await Promise.all(rules.map((r) => anise(["mask", "add", r, "--system-target", root])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect([...YAML.parse(fs.readFileSync(path.join(root, "etc/anise/mask.d/main.yml"), "utf8")).rules].sort()).toEqual([...rules].sort());
  });
});

describe("anise subsets", () => {
  const HEADERS: FixturePackage = {
    category: "dev-libs",
    name: "headers",
    version: "1",
    annotations: { subsets: { rules: { devel: ["^/usr/include/"] } } },
    files: { "usr/include/h.h": "#define H\n", "usr/lib/h.so": "so\n" },
  };

  it("enables a subset (its files are installed), lists it, and disables it (install skips them)", async () => {
    const { root, run } = await setup([HEADERS], { subsets: { enabled: ["portage"] } });
    const listed = JSON.parse((await run("subsets", "list", "-o", "json")).stdout).subsets;
    expect(listed).toEqual([
      { name: "devel", enabled: false, description: "Includes and devel files. Needed for compilation.", definitions: [], packages: 1 },
      { name: "portage", enabled: true, description: "Portage metadata and files.", definitions: [], packages: 0 },
    ]);
    const en = await run("subsets", "enable", "devel");
    expect(en.code, en.stderr).toBe(0);
    expect(YAML.parse(fs.readFileSync(path.join(root, "etc/anise/subsets.conf.d/main.yml"), "utf8"))).toEqual({ enabled: ["devel"] });
    expect((await run("subsets", "list", "-q")).stdout.trim().split("\n")).toEqual(["devel", "portage"]);
    expect((await run("install", "-y", "dev-libs/headers")).code).toBe(0);
    expect(fs.readFileSync(path.join(root, "usr/include/h.h"), "utf8")).toBe("#define H\n");
    expect((await run("uninstall", "-y", "dev-libs/headers")).code).toBe(0);

    // disabled wherever it is enabled: subsets.conf.d and anise.yaml alike
    fs.writeFileSync(path.join(root, "etc/anise/anise.yaml"), "# ours\nsubsets:\n  enabled: [portage, devel] # both\n");
    const dis = await run("subsets", "disable", "devel");
    expect(dis.code, dis.stderr).toBe(0);
    expect(dis.stdout).toContain("Subset devel disabled (/etc/anise/subsets.conf.d/main.yml, /etc/anise/anise.yaml).");
    expect(fs.readFileSync(path.join(root, "etc/anise/anise.yaml"), "utf8")).toBe("# ours\nsubsets:\n  enabled: [portage] # both\n");
    expect((await run("subsets", "list")).stdout).toMatch(/^ {2}devel - .*\(1 package\)$/m);
    expect((await run("install", "-y", "dev-libs/headers")).code).toBe(0);
    expect(fs.existsSync(path.join(root, "usr/lib/h.so"))).toBe(true);
    expect(fs.existsSync(path.join(root, "usr/include/h.h"))).toBe(false);
    expect((await run("subsets", "disable", "devel")).stdout).toContain("Subset devel is not enabled: nothing to do.");
  });
});

describe("anise database", () => {
  /** Files on disk in ROOT and a metadata sidecar listing them (and one that is not there). */
  function registration(root: string, dir: string) {
    fs.mkdirSync(path.join(root, "usr/bin"), { recursive: true });
    fs.writeFileSync(path.join(root, "usr/bin/tool"), "#!/bin/sh\necho tool\n");
    fs.symlinkSync("tool", path.join(root, "usr/bin/tool-alias"));
    const meta = path.join(dir, "tool-app-misc-1.2+3.metadata.yaml");
    fs.writeFileSync(
      meta,
      YAML.stringify({
        path: "/build/tool-app-misc-1.2+3.package.tar.zst",
        checksums: { sha256: "0".repeat(64) },
        compressiontype: "zstd",
        files: ["usr/bin/tool", "usr/bin/tool-alias", "usr/share/tool/gone.txt"],
        runtime: { name: "tool", category: "app-misc", version: "1.2+3", repository: "main", requires: [{ name: "base", category: "dev-libs", version: ">=1.0" }] },
      }),
    );
    return meta;
  }

  it("create records a package without unpacking (ouzo installed and q belongs see it, CONTENTS from disk); remove drops the record, not the files", async () => {
    const root = tmpdir("ouzo-anise-root-");
    const dir = tmpdir("ouzo-anise-meta-");
    const meta = registration(root, dir);
    const run = (...args: string[]) => anise([...args, "--system-target", root]);
    const r = await run("database", "create", meta);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("app-misc/tool-1.2+3 created (app-misc/tool-1.2, 3 files, 1 not on disk).");
    expect(r.stderr).toContain("/usr/share/tool/gone.txt");

    const [pkg] = readInstalled(root);
    expect(pkg!.cpv).toBe("app-misc/tool-1.2");
    expect(pkg!.rdepend).toBe(">=dev-libs/base-1.0");
    expect(fs.readFileSync(path.join(pkg!.dir, "ANISE_VERSION"), "utf8").trim()).toBe("1.2+3");
    expect(fs.readFileSync(path.join(pkg!.dir, "ANISE_REPOSITORY"), "utf8").trim()).toBe("main");
    expect(fs.readFileSync(path.join(root, "var/cache/edb/counter"), "utf8")).toBe(fs.readFileSync(path.join(pkg!.dir, "COUNTER"), "utf8"));
    const contents = parseContents(fs.readFileSync(path.join(pkg!.dir, "CONTENTS"), "utf8"));
    const mtime = Math.floor(fs.lstatSync(path.join(root, "usr/bin/tool")).mtimeMs / 1000);
    expect(contents).toEqual([
      { type: "dir", path: "/usr" },
      { type: "dir", path: "/usr/bin" },
      { type: "obj", path: "/usr/bin/tool", md5: md5(path.join(root, "usr/bin/tool")), mtime },
      { type: "sym", path: "/usr/bin/tool-alias", target: "tool", mtime: Math.floor(fs.lstatSync(path.join(root, "usr/bin/tool-alias")).mtimeMs / 1000) },
      { type: "dir", path: "/usr/share" },
      { type: "dir", path: "/usr/share/tool" },
      { type: "obj", path: "/usr/share/tool/gone.txt", md5: "0".repeat(32), mtime: 0 },
    ]);
    // the other tools' view: ouzo installed (as emerge reads /var/db/pkg), anise q belongs, database get
    const inst = ouzo(["installed", "--root", root, "--json"]);
    expect(JSON.parse(inst.stdout).packages).toMatchObject([{ cpv: "app-misc/tool-1.2", repo: "main", slot: "0" }]);
    const belongs = await run("q", "belongs", "/usr/bin/tool", "-o", "json");
    expect(belongs.code, belongs.stderr).toBe(0);
    expect(JSON.parse(belongs.stdout).belongs).toEqual([{ path: "/usr/bin/tool", owners: ["app-misc/tool-1.2"] }]);
    const get = await run("database", "get", "tool", "-o", "json");
    expect(JSON.parse(get.stdout)).toMatchObject({ name: "tool", version: "1.2+3", installed_by: "anise", repository: "main" });

    // once is enough: the same package again is refused, nothing written
    const twice = await run("database", "create", meta);
    expect(twice.code).toBe(1);
    expect(twice.stderr.trim()).toBe(`ouzo: ${meta}: app-misc/tool-1.2+3 is already recorded as app-misc/tool-1.2; 'anise database remove app-misc/tool-1.2' first`);

    const rm = await run("database", "remove", "app-misc/tool", "-o", "json");
    expect(rm.code, rm.stderr).toBe(0);
    expect(JSON.parse(rm.stdout)).toEqual({ removed: ["app-misc/tool-1.2"] });
    expect(installedCpvs(root)).toEqual([]);
    expect(fs.readFileSync(path.join(root, "usr/bin/tool"), "utf8")).toBe("#!/bin/sh\necho tool\n");
    expect(fs.readlinkSync(path.join(root, "usr/bin/tool-alias"))).toBe("tool");
    expect((await run("q", "belongs", "/usr/bin/tool")).code).toBe(1);
    const again = await run("database", "remove", "app-misc/tool");
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe("ouzo: 'app-misc/tool' is not installed");
  });

  it("create records all of its packages or none", async () => {
    const root = tmpdir("ouzo-anise-root-");
    const dir = tmpdir("ouzo-anise-meta-");
    const meta = registration(root, dir);
    const broken = path.join(dir, "broken.metadata.yaml");
    fs.writeFileSync(broken, "runtime: {name: x}\nfiles: []\n");
    const r = await anise(["database", "create", meta, broken, "--system-target", root]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`ouzo: ${broken}: a package needs name, category and version`);
    expect(installedCpvs(root)).toEqual([]);
    const missing = await anise(["database", "create", path.join(dir, "nothing.yaml"), "--system-target", root]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`ouzo: ${path.join(dir, "nothing.yaml")}: cannot read it: no such file`);
  });

  it("reindex rebuilds the owner index, so that q belongs answers for an entry edited in place", async () => {
    const root = tmpdir("ouzo-anise-root-");
    const dir = tmpdir("ouzo-anise-meta-");
    const meta = registration(root, dir);
    fs.writeFileSync(path.join(root, "usr/bin/loot"), "#!/bin/sh\necho tool\n");
    const run = (...args: string[]) => anise([...args, "--system-target", root]);
    expect((await run("database", "create", meta)).code).toBe(0);
    expect((await run("q", "belongs", "/usr/bin/tool")).code).toBe(0);
    // CONTENTS rewritten in place, same size: neither the category directory nor the index notices
    const [pkg] = readInstalled(root);
    const file = path.join(pkg!.dir, "CONTENTS");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("obj /usr/bin/tool ", "obj /usr/bin/loot "));
    expect((await run("q", "belongs", "/usr/bin/loot")).code).toBe(1);
    const re = await run("database", "reindex", "-o", "json");
    expect(re.code, re.stderr).toBe(0);
    expect(JSON.parse(re.stdout)).toEqual({ index: path.join(root, "var/cache/ouzo/owners.sqlite"), packages: 1, files: 7 });
    const belongs = await run("q", "belongs", "/usr/bin/loot");
    expect(belongs.code, belongs.stderr).toBe(0);
    expect(belongs.stdout.trim()).toBe("app-misc/tool-1.2 (/usr/bin/loot)");
    expect((await run("q", "belongs", "/usr/bin/tool")).code).toBe(1);
  });
});

describe("anise's administration command line", () => {
  it("translates anise's two-word commands and their aliases", () => {
    expect(aniseArgv(["anise", "repo", "disable", "main"])).toEqual(["anise", "repo-disable", "main"]);
    expect(aniseArgv(["anise", "mask", "add", ">=a/b-1"])).toEqual(["anise", "mask-add", ">=a/b-1"]);
    expect(aniseArgv(["anise", "mask", "a", "a/b"])).toEqual(["anise", "mask-add", "a/b"]);
    expect(aniseArgv(["anise", "mask", "d", "a/b"])).toEqual(["anise", "mask-del", "a/b"]);
    expect(aniseArgv(["anise", "mask", "li"])).toEqual(["anise", "mask-list"]);
    expect(aniseArgv(["anise", "subsets", "enable", "devel"])).toEqual(["anise", "subsets-enable", "devel"]);
    expect(aniseArgv(["anise", "database", "reindex"])).toEqual(["anise", "database-reindex"]);
  });
});
