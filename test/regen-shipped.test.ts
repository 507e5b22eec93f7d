import { createHash } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { makeRepository, makeRepositorySet, type RepositorySet } from "../src/config/repositories.js";
import { EBUILD_SH } from "../src/ebuild/DependPool.js";
import { MetadataStore } from "../src/metadata/MetadataStore.js";
import { parseMd5Dict } from "../src/metadata/shippedCache.js";
import { writeMd5Cache } from "../src/metadata/md5Cache.js";
import { FIXTURES, vectorBlocks, vectorRows } from "./vectors.js";
import { ouzo, REPO_ROOT, tmpdir, writeTree } from "./helpers.js";

const md5 = (f: string) => createHash("md5").update(fs.readFileSync(f)).digest("hex");

/**
 * core-kit (the demo's) and shipped-kit, a kit with a shipped md5-cache whose `@md5:PATH@`
 * placeholders become the md5 of PATH once the kits are in place, as a real kit's checksums are.
 */
function shippedKits(): { dir: string; repos: RepositorySet; cacheFile: (cpv: string) => string } {
  const dir = tmpdir();
  fs.cpSync(path.join(FIXTURES, "demo/kits/core-kit"), path.join(dir, "core-kit"), { recursive: true });
  fs.cpSync(path.join(FIXTURES, "regen/shipped-kit"), path.join(dir, "shipped-kit"), { recursive: true });
  const cacheDir = path.join(dir, "shipped-kit/metadata/md5-cache/app-misc");
  for (const f of fs.readdirSync(cacheDir)) {
    const p = path.join(cacheDir, f);
    fs.writeFileSync(p, fs.readFileSync(p, "utf8").replace(/@md5:([^@]+)@/g, (_m, rel: string) => md5(path.join(dir, rel))));
  }
  const repos = makeRepositorySet(["core-kit", "shipped-kit"].map((n) => makeRepository(n, path.join(dir, n), 1, [], undefined, "core-kit")), "core-kit");
  return { dir, repos, cacheFile: (cpv) => path.join(dir, "shipped-kit/metadata/md5-cache", cpv) };
}

function open(dir: string, repos: RepositorySet, timeoutSeconds = 60) {
  return new MetadataStore(repos, path.join(dir, "cache", "metadata.db"), { jobs: 2, timeoutSeconds });
}

async function regen(dir: string, repos: RepositorySet, timeoutSeconds?: number) {
  const s = open(dir, repos, timeoutSeconds);
  try {
    const summary = await s.regen(["shipped-kit"]);
    const entries = Object.fromEntries(s.entries("shipped-kit").map((m) => [m.cpv, m]));
    return { summary, repo: summary.repos[0]!, entries, store: s };
  } finally {
    s.close();
  }
}

describe("regen imports a kit's shipped md5-cache", () => {
  it("imports valid entries without sourcing them and sources only what is stale", async () => {
    const { dir, repos } = shippedKits();
    const first = await regen(dir, repos);
    // trap-1 dies when sourced: its entry can only have come from the shipped file
    expect(first.summary.failures).toEqual([]);
    expect(first.repo).toMatchObject({ imported: 4, generated: 1, unchanged: 0, failed: 0 });
    expect(first.entries["app-misc/trap-1"]).toMatchObject({ origin: "md5-cache", values: { DESCRIPTION: "from the shipped cache", DEPEND: "dev-libs/shipped-dep", DEFINED_PHASES: "install", INHERITED: "shipped" } });
    expect(first.entries["app-misc/trap-1"]!.eclasses).toEqual([["shipped", md5(path.join(dir, "shipped-kit/eclass/shipped.eclass"))]]);
    expect(first.entries["app-misc/master-1"]!.values.DESCRIPTION).toBe("shipped: gcc");
    // edited-1's shipped _md5_ is not its ebuild's: sourced
    expect(first.entries["app-misc/edited-1"]).toMatchObject({ origin: "sourced", values: { DESCRIPTION: "edited after the cache was shipped" } });
    expect(first.summary.warnings).toEqual([{ repo: "shipped-kit", file: path.join(dir, "shipped-kit/app-misc/badver/badver-1.0beta1.ebuild"), message: "invalid ebuild name: expected badver-<version>.ebuild" }]);
    expect((await regen(dir, repos)).repo).toMatchObject({ imported: 0, generated: 0, unchanged: 5 });
  });

  it("regenerates an entry whose eclass changed in a master, or is now found in another repository", async () => {
    const { dir, repos } = shippedKits();
    await regen(dir, repos);
    fs.appendFileSync(path.join(dir, "core-kit/eclass/toolchain-funcs.eclass"), "# edited in the master\n");
    const afterMaster = await regen(dir, repos);
    // master-1 (toolchain-funcs) and moved-1 (flag-o-matic inherits toolchain-funcs)
    expect(afterMaster.repo).toMatchObject({ imported: 0, generated: 2, unchanged: 3 });
    expect(afterMaster.entries["app-misc/master-1"]).toMatchObject({ origin: "sourced", values: { DESCRIPTION: "sourced: gcc" } });

    writeTree(dir, { "shipped-kit/eclass/flag-o-matic.eclass": "# this kit's own flag-o-matic\nDEPEND=\"dev-libs/own-fom\"\n" });
    const afterOverride = await regen(dir, repos);
    expect(afterOverride.repo).toMatchObject({ generated: 1, unchanged: 4 });
    expect(afterOverride.entries["app-misc/moved-1"]!.values.DEPEND).toBe("dev-libs/own-fom");
    expect(afterOverride.entries["app-misc/moved-1"]!.eclasses).toEqual([["flag-o-matic", md5(path.join(dir, "shipped-kit/eclass/flag-o-matic.eclass"))]]);
  });

  it("re-imports when the kit ships a new valid entry for an edited ebuild", async () => {
    const { dir, repos, cacheFile } = shippedKits();
    await regen(dir, repos);
    const ebuild = path.join(dir, "shipped-kit/app-misc/trap/trap-1.ebuild");
    fs.appendFileSync(ebuild, "# a new revision of the kit\n");
    fs.writeFileSync(cacheFile("app-misc/trap-1"), fs.readFileSync(cacheFile("app-misc/trap-1"), "utf8").replace(/_md5_=.*/, `_md5_=${md5(ebuild)}`).replace("from the shipped cache", "shipped again"));
    const r = await regen(dir, repos);
    expect(r.repo).toMatchObject({ imported: 1, generated: 0, failed: 0 });
    expect(r.entries["app-misc/trap-1"]!.values.DESCRIPTION).toBe("shipped again");
  });

  it("ignores a malformed shipped file and sources the ebuild", async () => {
    const { dir, repos, cacheFile } = shippedKits();
    fs.writeFileSync(cacheFile("app-misc/master-1"), "DESCRIPTION=no checksum line\nthis line has no equals sign\n");
    const r = await regen(dir, repos);
    expect(r.entries["app-misc/master-1"]).toMatchObject({ origin: "sourced", values: { DESCRIPTION: "sourced: gcc" } });
    expect(parseMd5Dict("SLOT=0\n_md5_=abc\n")).toBeUndefined();
    expect(parseMd5Dict("SLOT=0\n_eclasses_=a\n_md5_=0123456789abcdef0123456789abcdef\n")).toBeUndefined();
    expect(parseMd5Dict("SLOT=0\nFUTURE_KEY=x\n_md5_=0123456789abcdef0123456789abcdef\n")?.values.SLOT).toBe("0");
  });
});

describe("a failure that may be transient never loses a good entry", () => {
  for (const [what, line, message] of [
    ["times out", "while :; do :; done", /^timed out: still running after 1 s, the per-ebuild time limit \(raise it with --timeout or OUZO_REGEN_TIMEOUT\)$/],
    ["is killed by the kernel (SIGKILL, as the out-of-memory killer sends)", "kill -9 ${BASHPID}", /^the depend phase was killed by SIGKILL/],
    ["loses its worker", "kill -9 $$", /^the bash worker sourcing it was killed by SIGKILL/],
  ] as const) {
    it(`keeps the entry, in SQLite and in md5-cache, when sourcing ${what}`, async () => {
      const { dir, repos, cacheFile } = shippedKits();
      await regen(dir, repos);
      const shipped = fs.readFileSync(cacheFile("app-misc/flaky-1"), "utf8");
      fs.appendFileSync(path.join(dir, "shipped-kit/app-misc/flaky/flaky-1.ebuild"), `${line}\n`);
      const s = open(dir, repos, 1);
      const r = await s.regen(["shipped-kit"]);
      writeMd5Cache(path.join(dir, "shipped-kit"), s.entries("shipped-kit"));
      const [kept] = s.entries("shipped-kit", { category: "app-misc", package: "flaky" });
      s.close();
      expect(r.failures).toHaveLength(1);
      expect(r.failures[0]).toMatchObject({ cpv: "app-misc/flaky-1", transient: true, kept: true });
      expect(r.failures[0]!.message).toMatch(message);
      expect(kept).toMatchObject({ values: { DESCRIPTION: "flaky, as shipped" } });
      expect(kept!.failure).toMatch(message);
      expect(fs.readFileSync(cacheFile("app-misc/flaky-1"), "utf8")).toBe(shipped);
      // the failed entry is stale: the next regen tries again, and succeeds once the ebuild is fixed
      fs.writeFileSync(path.join(dir, "shipped-kit/app-misc/flaky/flaky-1.ebuild"), 'EAPI=7\nDESCRIPTION="fixed"\nSLOT="0"\n');
      const again = await regen(dir, repos);
      expect(again.repo).toMatchObject({ generated: 1, failed: 0 });
      expect(again.entries["app-misc/flaky-1"]!.failure).toBeUndefined();
      expect(again.entries["app-misc/flaky-1"]!.values.DESCRIPTION).toBe("fixed");
    });
  }

  it("keeps the last good entry when the ebuild now dies, and removes entries only of ebuilds gone or misnamed", async () => {
    const { dir, repos, cacheFile } = shippedKits();
    await regen(dir, repos);
    fs.appendFileSync(path.join(dir, "shipped-kit/app-misc/edited/edited-1.ebuild"), 'die "broken by an edit"\n');
    fs.renameSync(path.join(dir, "shipped-kit/app-misc/master/master-1.ebuild"), path.join(dir, "shipped-kit/app-misc/master/master-1beta.ebuild"));
    fs.rmSync(path.join(dir, "shipped-kit/app-misc/moved"), { recursive: true });
    const s = open(dir, repos);
    const r = await s.regen(["shipped-kit"]);
    const md5Result = writeMd5Cache(path.join(dir, "shipped-kit"), s.entries("shipped-kit"));
    const entries = Object.fromEntries(s.entries("shipped-kit").map((m) => [m.cpv, m]));
    s.close();
    expect(r.repos[0]).toMatchObject({ removed: 2, failed: 1 });
    expect(r.failures[0]).toMatchObject({ cpv: "app-misc/edited-1", message: "broken by an edit", transient: false, kept: true });
    expect(entries["app-misc/edited-1"]).toMatchObject({ failure: "broken by an edit", values: { DESCRIPTION: "edited after the cache was shipped" } });
    expect(Object.keys(entries).sort()).toEqual(["app-misc/edited-1", "app-misc/flaky-1", "app-misc/trap-1"]);
    // md5-cache: files of gone or misnamed ebuilds are removed, the failed one's is left as it was
    expect(fs.existsSync(cacheFile("app-misc/master-1"))).toBe(false);
    expect(fs.existsSync(cacheFile("app-misc/moved-1"))).toBe(false);
    expect(fs.existsSync(cacheFile("app-misc/badver-1.0beta1"))).toBe(false);
    expect(fs.readFileSync(cacheFile("app-misc/edited-1"), "utf8")).toContain("DESCRIPTION=the stale shipped value");
    expect(md5Result.removed).toBe(3);
  });
});

describe("ouzo regen from the CLI with a shipped cache", () => {
  function cliRoot() {
    const { dir } = shippedKits();
    writeTree(dir, { "etc/portage/repos.conf/kits": `[DEFAULT]\nmain-repo = core-kit\n\n[core-kit]\nlocation = ${dir}/core-kit\n\n[shipped-kit]\nlocation = ${dir}/shipped-kit\n` });
    return dir;
  }

  it("reports imported entries, warns about a misnamed ebuild without failing, and takes --timeout and OUZO_REGEN_TIMEOUT", () => {
    const dir = cliRoot();
    const args = ["regen", "--config-root", dir, "--cache-dir", path.join(dir, "cache"), "--repo", "shipped-kit"];
    const r = ouzo(args);
    expect(r.stderr).toContain(`warning: ${dir}/shipped-kit/app-misc/badver/badver-1.0beta1.ebuild: invalid ebuild name: expected badver-<version>.ebuild; skipped`);
    expect(r.stdout).toMatch(/^regen: 4 imported, 1 generated, 0 unchanged, 0 removed, 0 failed in [\d.]+ s$/m);
    expect(r.code).toBe(0);

    fs.appendFileSync(path.join(dir, "shipped-kit/app-misc/flaky/flaky-1.ebuild"), "while :; do :; done\n");
    const slow = ouzo([...args, "--json", "--timeout", "0.5"]);
    expect(slow.code).toBe(1);
    const doc = JSON.parse(slow.stdout);
    expect(doc).toMatchObject({ imported: 0, generated: 0, unchanged: 4, failed: 1 });
    expect(doc.failures[0]).toMatchObject({ cpv: "app-misc/flaky-1", transient: true, kept: true, message: "timed out: still running after 0.5 s, the per-ebuild time limit (raise it with --timeout or OUZO_REGEN_TIMEOUT)" });

    writeTree(dir, { "etc/portage/make.conf": 'OUZO_REGEN_TIMEOUT="0.5"\n' });
    const fromMakeConf = ouzo([...args, "--json"]);
    expect(JSON.parse(fromMakeConf.stdout).failures[0].message).toMatch(/^timed out: still running after 0.5 s/);
    const fromEnv = ouzo([...args, "--json"], { env: { OUZO_REGEN_TIMEOUT: "0.7" } });
    expect(JSON.parse(fromEnv.stdout).failures[0].message).toMatch(/^timed out: still running after 0.7 s/);

    const bad = ouzo([...args, "--timeout", "0"]);
    expect([bad.code, bad.stderr.trim().split("\n")[0]]).toEqual([2, "ouzo: --timeout takes a number of seconds greater than 0, not '0'"]);
    writeTree(dir, { "etc/portage/make.conf": "\nOUZO_REGEN_TIMEOUT=soon\n" });
    const badConf = ouzo(args);
    expect([badConf.code, badConf.stderr.trim()]).toEqual([1, `ouzo: ${dir}/etc/portage/make.conf:2: OUZO_REGEN_TIMEOUT takes a number of seconds greater than 0, not 'soon'`]);
  });

  it("sources imported entries again for --reposcan, which needs PYTHON_COMPAT and the raw depend lines", () => {
    const dir = cliRoot();
    fs.rmSync(path.join(dir, "shipped-kit/app-misc/trap"), { recursive: true });
    const base = ["regen", "--config-root", dir, "--cache-dir", path.join(dir, "cache"), "--repo", "shipped-kit", "--json"];
    expect(JSON.parse(ouzo(base).stdout)).toMatchObject({ imported: 3, generated: 1 });
    const scan = ouzo([...base, "--reposcan", path.join(dir, "scan.json")]);
    expect(JSON.parse(scan.stdout)).toMatchObject({ imported: 0, generated: 3, unchanged: 1 });
    const atoms = JSON.parse(fs.readFileSync(path.join(dir, "scan.json"), "utf8")).atoms;
    expect(atoms["app-misc/master-1"].metadata.DESCRIPTION).toBe("sourced: gcc");
  });
});

describe("ebuild.sh's ver_test", () => {
  it("agrees with PMS 3.3 on every ordered and equal pair of the vectors", () => {
    const pairs: [string, string, string][] = [];
    for (const block of vectorBlocks("version-order.txt")) {
      for (let i = 0; i < block.length; i++) for (let j = 0; j < block.length; j++) {
        if (block[i]!.includes("=") || block[j]!.includes("=")) continue;
        pairs.push([block[i]!, block[j]!, i < j ? "<" : i > j ? ">" : "="]);
      }
    }
    for (const [a, b] of vectorRows("version-equal.txt")) pairs.push([a!, b!, "="]);
    const dir = tmpdir();
    const body = pairs.map(([a, b]) => `ver_test ${a} -lt ${b} && R+="<" || { ver_test ${a} -eq ${b} && R+="=" || R+=">"; }`).join("\n");
    writeTree(dir, { "app-misc/v/v-1.ebuild": `EAPI=7\nR=\n${body}\nDESCRIPTION=$R\nSLOT=0\n` });
    const r = spawnSync("bash", ["-c", `bash ${EBUILD_SH()} 3>&1 1>/dev/null 2>&1`], {
      env: { PATH: "/bin:/usr/bin", EBUILD: path.join(dir, "app-misc/v/v-1.ebuild"), EBUILD_PHASE: "depend", CATEGORY: "app-misc", PF: "v-1", PN: "v", EAPI: "7", PORTAGE_ECLASS_LOCATIONS: dir, PORTAGE_PIPE_FD: "3" },
      encoding: "utf8",
    });
    expect(pairs.length).toBeGreaterThan(100);
    expect(r.stdout.split("\n")[7]).toBe(pairs.map((p) => p[2]).join(""));
  });
});

describe("a no-op regen at release scale", () => {
  /** Age every directory of a tree, as a kit checked out a while ago is. */
  function age(dir: string, seconds: number): void {
    const t = new Date(Date.now() - seconds * 1000);
    for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isDirectory()) fs.utimesSync(path.join(e.parentPath, e.name), t, t);
    fs.utimesSync(dir, t, t);
  }

  it("lists only the package directories that changed, and reports a misnamed ebuild once per change", async () => {
    const { dir, repos } = shippedKits();
    age(path.join(dir, "shipped-kit"), 60);
    const first = await regen(dir, repos);
    expect(first.summary.warnings).toHaveLength(1);
    // the listings are recorded: the misnamed file is not reported again while its directory is unchanged
    const second = await regen(dir, repos);
    expect(second.summary.warnings).toEqual([]);
    expect(second.repo).toMatchObject({ unchanged: 5 });
    // a file added to a listed directory changes its mtime: it is listed again and the new ebuild found
    fs.writeFileSync(path.join(dir, "shipped-kit/app-misc/badver/badver-2.ebuild"), 'EAPI=7\nDESCRIPTION="new"\nSLOT="0"\n');
    const third = await regen(dir, repos);
    expect(third.repo).toMatchObject({ generated: 1, unchanged: 5 });
    expect(third.summary.warnings.map((w) => path.basename(w.file))).toEqual(["badver-1.0beta1.ebuild"]);
    expect(third.entries["app-misc/badver-2"]!.values.DESCRIPTION).toBe("new");
    // an ebuild edited in place changes no directory: its own stat still finds it
    age(path.join(dir, "shipped-kit"), 60);
    await regen(dir, repos);
    fs.appendFileSync(path.join(dir, "shipped-kit/app-misc/badver/badver-2.ebuild"), 'DESCRIPTION="appended"\n');
    const fourth = await regen(dir, repos);
    expect(fourth.entries["app-misc/badver-2"]!.values.DESCRIPTION).toBe("appended");
    // a package directory removed: its ebuilds' entries go
    fs.rmSync(path.join(dir, "shipped-kit/app-misc/badver"), { recursive: true });
    const fifth = await regen(dir, repos);
    expect(fifth.repo).toMatchObject({ removed: 1 });
    expect(Object.keys(fifth.entries)).not.toContain("app-misc/badver-2");
  });

  it("moves a damaged cache aside with a one-line error, and the next run rebuilds it", async () => {
    const { dir } = shippedKits();
    writeTree(dir, { "etc/portage/repos.conf/kits": `[DEFAULT]\nmain-repo = core-kit\n\n[core-kit]\nlocation = ${dir}/core-kit\n\n[shipped-kit]\nlocation = ${dir}/shipped-kit\n` });
    const args = ["regen", "--config-root", dir, "--cache-dir", path.join(dir, "cache")];
    expect(ouzo(args).code).toBe(0);
    // damage the header of every b-tree page
    const file = path.join(dir, "cache", "metadata.db");
    const fd = fs.openSync(file, "r+");
    for (let off = 4096; off < fs.fstatSync(fd).size; off += 4096) fs.writeSync(fd, Buffer.alloc(40, 0x5a), 0, 40, off);
    fs.closeSync(fd);
    const r = ouzo(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^ouzo: ${file}: the metadata cache is damaged \\(database disk image is malformed\\); it was moved to ${file}\\.corrupt-\\d+: run the command again to rebuild it$`, "m"));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const again = ouzo(args);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^regen: 4 imported, 13 generated, 0 unchanged/m);
  });
});

describe("an interrupted regen", () => {
  it("keeps what it sourced, says so, and the next regen does only the rest", async () => {
    const dir = tmpdir();
    const marks = path.join(dir, "marks");
    fs.mkdirSync(marks);
    const files: Record<string, string> = {
      "kit/profiles/repo_name": "kit\n",
      "etc/portage/repos.conf/kit": `[DEFAULT]\nmain-repo = kit\n\n[kit]\nlocation = ${dir}/kit\n`,
    };
    // each ebuild leaves a mark when sourced, then takes a moment (an external command at global scope)
    for (let i = 0; i < 40; i++) files[`kit/app-misc/p${i}/p${i}-1.ebuild`] = `EAPI=7\nDESCRIPTION="p${i}"\nSLOT=0\ntouch ${marks}/p${i}\nsleep 0.2\n`;
    writeTree(dir, files);
    const args = ["regen", "--config-root", dir, "--cache-dir", path.join(dir, "cache"), "--jobs", "2"];
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "ouzo.js"), ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_c, signal) => resolve(signal)));
    // interrupt once several ebuilds have been sourced (an event: their marks appear)
    await new Promise<void>((resolve) => {
      const watcher = fs.watch(marks, () => {
        if (fs.readdirSync(marks).length >= 6) {
          watcher.close();
          resolve();
        }
      });
    });
    child.kill("SIGINT");
    expect(await closed).toBe("SIGINT");
    const m = /^ouzo: interrupted \(SIGINT\): regen: (\d+) of 40 ebuilds were sourced and kept; 'ouzo regen' sources the rest$/m.exec(stderr);
    expect(m, stderr).not.toBeNull();
    const kept = Number(m![1]);
    expect(kept).toBeGreaterThanOrEqual(4);
    expect(kept).toBeLessThan(40);
    const again = ouzo([...args, "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ generated: 40 - kept, unchanged: kept, failed: 0 });
  });
});
