// Publishing: `ouzo anise pack` (an installed package built from source, or a .tbz2 ouzo built)
// and `ouzo anise create-repo`, then another ROOT syncing that repository over HTTP and
// installing from it; and the query commands on what got installed.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { writeTbz2 } from "../src/build/tbz2.js";
import { readInstalled } from "../src/vdb/installed.js";
import { anise, configureRepos, RepoServer } from "./aniseFixture.js";
import { tmpdir } from "./helpers.js";

const servers: RepoServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.stop();
});

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/** A package "built from source": its files in ROOT and a Portage VDB entry. */
function sourceInstalled(root: string): void {
  const files: Record<string, string> = { "usr/bin/hello": "#!/bin/sh\necho hello\n", "usr/share/doc/hello/README": "read me\n", "etc/hello.conf": "greeting=hi\n" };
  const mtime = 1_650_000_000;
  const contents: string[] = [];
  const dirs = new Set<string>();
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content, { mode: rel.startsWith("usr/bin") ? 0o755 : 0o644 });
    fs.utimesSync(p, mtime, mtime);
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(`/${parts.slice(0, i).join("/")}`);
    contents.push(`obj /${rel} ${md5(content)} ${mtime}`);
  }
  const vdb = path.join(root, "var/db/pkg/app-misc/hello-2.3-r1");
  fs.mkdirSync(vdb, { recursive: true });
  const entry: Record<string, string> = {
    CATEGORY: "app-misc",
    PF: "hello-2.3-r1",
    SLOT: "0",
    EAPI: "8",
    repository: "core-kit",
    RDEPEND: "sys-libs/zlib:0/1= ssl? ( dev-libs/openssl )",
    USE: "amd64",
    IUSE: "ssl",
    DESCRIPTION: "says hello",
    LICENSE: "GPL-2",
    COUNTER: "7",
    CONTENTS: [...[...dirs].sort().map((d) => `dir ${d}`), ...contents].join("\n") + "\n",
  };
  for (const [k, v] of Object.entries(entry)) fs.writeFileSync(path.join(vdb, k), `${v}\n`);
}

describe("ouzo anise pack and create-repo", () => {
  it("packs an installed package and a .tbz2, writes a repository another ROOT syncs and installs from", async () => {
    const build = tmpdir("ouzo-anise-build-");
    const pkgs = tmpdir("ouzo-anise-pkgs-");
    sourceInstalled(build);
    const p = await anise(["pack", "app-misc/hello", "--destination", pkgs, "--system-target", build]);
    expect(p.code, p.stderr).toBe(0);
    expect(fs.readdirSync(pkgs).sort()).toEqual(["hello-app-misc-2.3-r1.metadata.yaml", "hello-app-misc-2.3-r1.package.tar.zst"]);
    const side = YAML.parse(fs.readFileSync(path.join(pkgs, "hello-app-misc-2.3-r1.metadata.yaml"), "utf8"));
    expect(side.files).toContain("usr/bin/hello");
    expect(side.files).toContain("var/db/pkg/app-misc/hello-2.3-r1/RDEPEND");
    // USE-conditionals evaluated with the USE it was built with (ssl off)
    expect(side.runtime.requires).toEqual([{ name: "zlib", category: "sys-libs", version: ">=0" }]);
    expect(side.runtime.annotations.subsets.rules.portage).toEqual(["^/var/db/pkg/"]);
    expect(side.checksums.sha256).toBe(createHash("sha256").update(fs.readFileSync(path.join(pkgs, side.path))).digest("hex"));

    // a binary package ouzo built
    const image = tmpdir("ouzo-anise-image-");
    fs.mkdirSync(path.join(image, "usr/lib"), { recursive: true });
    fs.writeFileSync(path.join(image, "usr/lib/libz.so.1"), "zlib\n");
    const tbz2 = path.join(tmpdir(), "zlib-1.3.tbz2");
    await writeTbz2(tbz2, { imageDir: image, metadata: { CATEGORY: "sys-libs\n", PF: "zlib-1.3\n", SLOT: "0/1\n", EAPI: "8\n", repository: "core-kit\n", USE: "\n", IUSE: "\n" } });
    const t = await anise(["pack", tbz2, "--destination", pkgs]);
    expect(t.code, t.stderr).toBe(0);
    const repoOut = await anise(["create-repo", pkgs, "--name", "built", "--urls", "http://example.invalid/", "--description", "built here"]);
    expect(repoOut.code, repoOut.stderr).toBe(0);
    const ry = YAML.parse(fs.readFileSync(path.join(pkgs, "repository.yaml"), "utf8"));
    expect(ry.revision).toBe(1);
    expect(ry.repo_files.treev2.filename).toBe("tree.tar.zst");
    expect(typeof ry.last_update).toBe("string");
    // publishing again continues the revision
    expect((await anise(["create-repo", pkgs, "--name", "built"])).code).toBe(0);
    expect(YAML.parse(fs.readFileSync(path.join(pkgs, "repository.yaml"), "utf8")).revision).toBe(2);

    const server = await new RepoServer(pkgs).start();
    servers.push(server);
    const target = tmpdir("ouzo-anise-target-");
    configureRepos(target, [{ name: "built", url: server.url }]);
    const i = await anise(["install", "-y", "--sync-repos", "hello", "--system-target", target]);
    expect(i.code, i.stderr).toBe(0);
    expect(fs.readFileSync(path.join(target, "usr/bin/hello"), "utf8")).toContain("echo hello");
    expect(fs.readFileSync(path.join(target, "usr/lib/libz.so.1"), "utf8")).toBe("zlib\n");
    // the VDB entry the package carried is the installed record: Portage's facts survive
    const hello = readInstalled(target).find((x) => x.package === "hello")!;
    expect(hello.cpv).toBe("app-misc/hello-2.3-r1");
    expect(hello.rdepend).toBe("sys-libs/zlib:0/1= ssl? ( dev-libs/openssl )");
    expect(hello.use).toEqual(["amd64"]);
    expect(fs.existsSync(path.join(target, "var/db/pkg/app-misc/hello-2.3-r1/ANISE_REPOSITORY"))).toBe(true);
    expect(readInstalled(target).find((x) => x.package === "zlib")!.slot).toBe("0");
    // nothing of the carried entry lands in ROOT as a file of its own
    expect(fs.readFileSync(path.join(hello.dir, "CONTENTS"), "utf8")).not.toContain("/var/db/pkg");

    // queries on the result
    const files = await anise(["q", "files", "--installed", "app-misc/hello", "--system-target", target]);
    expect(files.stdout.split("\n")).toContain("/usr/bin/hello");
    const belongs = await anise(["q", "belongs", "/usr/bin/hello", "/nothing", "--system-target", target, "-o", "json"]);
    expect(JSON.parse(belongs.stdout).belongs).toEqual([
      { path: "/usr/bin/hello", owners: ["app-misc/hello-2.3-r1"] },
      { path: "/nothing", owners: [] },
    ]);
    const search = await anise(["search", "hel", "-o", "json", "--system-target", target]);
    const stones = JSON.parse(search.stdout).stones;
    expect(stones.map((s: { name: string; repository: string }) => `${s.name}:${s.repository}`)).toEqual(["hello:built"]);
    expect(Object.keys(stones[0]).sort()).toEqual(["annotations", "category", "conflicts", "files", "hidden", "labels", "license", "name", "provides", "repository", "requires", "use_flags", "version"]);
    const db = await anise(["database", "get", "hello", "--files", "--system-target", target]);
    const rec = YAML.parse(db.stdout);
    expect(rec.installed_by).toBe("anise");
    expect(rec.files).toContain("usr/bin/hello");
    const list = await anise(["repo", "list", "-o", "json", "--system-target", target]);
    expect(JSON.parse(list.stdout).repositories[0]).toMatchObject({ name: "built", revision: 2 });
    const orphans = await anise(["q", "orphans", "--system-target", target]);
    expect(orphans.stdout.trim()).toBe("");
    fs.rmSync(path.join(target, "var/lib/ouzo/anise/repos/built/treefs/app-misc"), { recursive: true });
    expect((await anise(["q", "orphans", "--system-target", target])).stdout).toContain("app-misc/hello-2.3-r1 (built)");
    const clean = await anise(["cleanup", "--system-target", target]);
    expect(clean.stdout).toContain("2 package(s) removed");
  });
});
