// anise's formats and choices as values: versions and selectors in PMS terms, package arguments,
// metadata in both key spellings, finalizer templates, the tar reader, and anise packages chosen
// by ouzo's resolver together with ebuilds.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import tar from "tar-stream";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { AniseCatalog } from "../src/anise/AniseCatalog.js";
import { loadAniseConfig } from "../src/anise/AniseConfig.js";
import { parseArtifactMetadata } from "../src/anise/AnisePackage.js";
import { runtimeDependencies } from "../src/anise/AniseRecord.js";
import { parseFinalizer, renderTemplate } from "../src/anise/finalizer.js";
import { parsePackageArg } from "../src/anise/packageArgs.js";
import { planRemoval } from "../src/anise/reverseDeps.js";
import { TarReader, type TarEntry } from "../src/anise/tarReader.js";
import { Unpacker } from "../src/anise/Unpacker.js";
import { compress } from "zstd-napi";
import { tarOf } from "./aniseFixture.js";
import { compareAniseNative, compareAniseVersions, parseAniseVersion, parseSelector, selectorDependency, selectorMatches } from "../src/anise/version.js";
import { AniseSource, aniseOrigin } from "../src/cli/aniseSource.js";
import type { AniseRepoDef } from "../src/config/aniseRepos.js";
import { Version } from "../src/pms/version.js";
import type { Candidate, CandidateSource } from "../src/resolve/Candidate.js";
import { buildPlan } from "../src/resolve/plan.js";
import { Resolver } from "../src/resolve/resolve.js";
import { Atom } from "../src/pms/atom.js";
import { bundleSources, tmpdir } from "./helpers.js";

const v = (s: string) => parseAniseVersion(s)!;

describe("anise versions in PMS terms", () => {
  it("orders by PMS, the build number last", () => {
    const list = ["1.0-r1", "1.0+2", "1.0", "1.0_rc1", "1.0+1", "0.9+10"].map(v).sort(compareAniseVersions).map((x) => x.text);
    expect(list).toEqual(["0.9+10", "1.0_rc1", "1.0", "1.0+1", "1.0+2", "1.0-r1"]);
    expect(parseAniseVersion("v1.0")).toBeUndefined();
  });

  it("knows where anise's own order disagrees (§15.1)", () => {
    expect(compareAniseNative("1.0_rc1", "1.0")).toBeGreaterThan(0);
    expect(compareAniseNative("1.0-r10", "1.0-r9")).toBeLessThan(0);
    expect(compareAniseNative("1.2a", "1.2")).toBeLessThan(0);
    expect(compareAniseNative("1.0_rc10", "1.0_rc9")).toBeLessThan(0);
    expect(compareAniseNative("1.0+3", "1.0+2")).toBeGreaterThan(0);
  });

  it("turns selectors into atoms, suffixes included (§15.2)", () => {
    const dep = (s: string, blocker = false) => selectorDependency("dev-libs", "x", parseSelector(s), blocker);
    expect(dep("")).toBe("dev-libs/x");
    expect(dep(">=0")).toBe("dev-libs/x");
    expect(dep(">=1.0")).toBe(">=dev-libs/x-1.0");
    expect(dep("1.0")).toBe("=dev-libs/x-1.0");
    expect(dep("<2")).toBe("<dev-libs/x-2");
    expect(dep("!=2")).toBe("|| ( <dev-libs/x-2 >dev-libs/x-2 )");
    expect(dep(">=1.0", true)).toBe("!!>=dev-libs/x-1.0");
    expect(selectorMatches(parseSelector(">=1.0-r2"), v("1.0-r1"))).toBe(false);
    expect(selectorMatches(parseSelector("<1.0"), v("1.0_rc1"))).toBe(true);
    expect(selectorMatches(parseSelector("=1.0+2"), v("1.0+1"))).toBe(false);
    expect(() => parseSelector(">=banana")).toThrow(/not a version selector/);
  });

  it("leaves out conflicts with what the package provides", () => {
    const spec = parseArtifactMetadata(
      { path: "x", files: [], runtime: { name: "new", category: "c", version: "1", requires: [{ name: "lib", category: "c", version: ">=2" }], conflicts: [{ name: "old", category: "c", version: ">=0" }, { name: "bad", category: "c", version: "<1" }], provides: [{ name: "old", category: "c", version: ">=0" }] } },
      "t",
    ).runtime;
    expect(runtimeDependencies(spec)).toBe(">=c/lib-2 !!<c/bad-1");
  });
});

describe("anise's package arguments", () => {
  const names = { categoriesOf: (n: string) => ({ foo: ["app-misc"], twin: ["a", "b"] })[n] ?? [] };
  const p = (s: string) => {
    const r = parsePackageArg(s, names);
    return `${r.atom.toString()}${r.build !== undefined ? ` +${r.build}` : ""}`;
  };
  it("reads every form anise takes", () => {
    expect(p("app-misc/foo")).toBe("app-misc/foo");
    expect(p("foo")).toBe("app-misc/foo");
    expect(p("app-misc/foo-1.0")).toBe("=app-misc/foo-1.0");
    expect(p("app-misc/foo-1.0+3")).toBe("=app-misc/foo-1.0 +3");
    expect(p(">=app-misc/foo-1.0")).toBe(">=app-misc/foo-1.0");
    expect(p("app-misc/foo@>=1.0")).toBe(">=app-misc/foo-1.0");
    expect(p("foo@1.0")).toBe("=app-misc/foo-1.0");
    expect(p("foo-2")).toBe("=app-misc/foo-2");
    expect(() => p("twin")).toThrow(/several categories: a\/twin, b\/twin/);
    expect(() => p("nowhere")).toThrow(/no package called 'nowhere'/);
  });
});

describe("anise metadata", () => {
  it("reads the legacy key spellings and falls back to compilespec.package", () => {
    const m = parseArtifactMetadata(
      {
        path: "/build/build/a-b-1.package.tar.zst",
        checksums: { sha256: "ABC" },
        compressiontype: "zstd",
        files: ["./etc/x", "/usr/y"],
        compilespec: { steps: ["make"], package: { name: "a", category: "b", version: 1, packagerequires: [{ name: "c", category: "d", version: ">=1" }], useflags: ["x"], annotations: { config_protect: "/etc/b" } } },
      },
      "t",
    );
    expect(m.file).toBe("a-b-1.package.tar.zst");
    expect(m.sha256).toBe("abc");
    expect(m.files).toEqual(["etc/x", "usr/y"]);
    expect(m.runtime.requires).toEqual([{ category: "d", name: "c", version: ">=1" }]);
    expect(m.runtime.useFlags).toEqual(["x"]);
    expect(m.configProtect).toBe("/etc/b");
  });
});

describe("finalizer templates", () => {
  it("render the subset real specs use, and refuse the rest by name", () => {
    const values = { name: "k", category: "sys-kernel", version: "6.1", labels: { "kernel.version": "6.1.5" } };
    expect(renderTemplate('{{ .Values.name }}-{{.Values.version}} {{ index .Values.labels "kernel.version" }}', values, "t")).toBe("k-6.1 6.1.5");
    expect(() => renderTemplate("{{ .Values.name | upper }}", values, "f.yaml")).toThrow(/f\.yaml: the template action '\{\{ \.Values\.name \| upper \}\}' is not supported/);
    const f = parseFinalizer("shell: [bash, -c]\ninstall:\n- echo {{ .Values.name }}\n", values, "t");
    expect(f).toEqual({ shell: ["bash", "-c"], install: ["echo k"], uninstall: [] });
  });
});

describe("the tar reader", () => {
  it("reads long names, symlinks and hard links, and refuses a truncated archive", async () => {
    const pack = tar.pack();
    const long = `usr/share/${"d".repeat(120)}/file`;
    const chunks: Buffer[] = [];
    pack.on("data", (c: unknown) => {
      chunks.push(c as Buffer);
    });
    const ended = new Promise<void>((r) => pack.on("end", () => r()));
    pack.entry({ name: long, mode: 0o640, mtime: new Date(5000) }, "hello");
    pack.entry({ name: "l", type: "symlink", linkname: long });
    pack.entry({ name: "h", type: "link", linkname: long });
    pack.finalize();
    await ended;
    const data = Buffer.concat(chunks);
    const seen: (TarEntry & { data: string })[] = [];
    const reader = new TarReader((e) => {
      const rec = { ...e, data: "" };
      seen.push(rec);
      return { data: (c) => (rec.data += c.toString()), end: () => {} };
    }, "t.tar");
    for (let i = 0; i < data.length; i += 77) reader.push(data.subarray(i, i + 77));
    reader.end();
    expect(seen.map((e) => [e.name, e.type, e.data])).toEqual([
      [long, "file", "hello"],
      ["l", "symlink", ""],
      ["h", "link", ""],
    ]);
    expect(seen[0]!.mode).toBe(0o640);
    expect(seen[0]!.mtime).toBe(5);
    const cut = new TarReader(() => undefined, "cut.tar");
    cut.push(data.subarray(0, 700));
    expect(() => cut.end()).toThrow(/cut\.tar: the archive is truncated/);
  });
});

describe("unpacking", () => {
  it("honours subsets, keeps modes and mtimes, sets the carried VDB entry apart, and refuses escapes", async () => {
    const dir = tmpdir();
    const art = path.join(dir, "p.package.tar.zst");
    fs.writeFileSync(
      art,
      compress(
        await tarOf({
          "usr/bin/x": { content: "x", mode: 0o4755 },
          "usr/bin/y": { hardlink: "usr/bin/x" },
          "usr/include/x.h": "h",
          "usr/lib/libx.so": { symlink: "libx.so.1" },
          "var/db/pkg/app-misc/x-1/SLOT": "0\n",
          "var/db/pkg/app-misc/x-1/CATEGORY": "app-misc\n",
        }),
      ),
    );
    // from the sources (no worker can run a .ts file): the same work on this thread
    const u = new Unpacker();
    const r = await u.unpack(art, path.join(dir, "work"), { subsets: new Map([["devel", [/^\/usr\/include\//]]]), enabledSubsets: new Set() });
    await u.close();
    expect(r.files.sort()).toEqual(["usr/bin/x", "usr/bin/y", "usr/lib/libx.so"]);
    expect(r.skipped).toEqual([{ path: "usr/include/x.h", subset: "devel" }]);
    // the image is flat (the native helper puts files at their names in the tree beside it): the
    // entries say where each one goes, directories first
    expect(r.entries.map((e) => `${e.type} ${e.path}`)).toEqual(["dir /usr", "dir /usr/bin", "obj /usr/bin/x", "obj /usr/bin/y", "dir /usr/lib", "sym /usr/lib/libx.so"]);
    const at = (p: string) => r.entries.find((e) => e.path === p)!;
    expect([r.image, path.join(dir, "work", "tree", "usr", "bin")]).toContain(path.dirname(at("/usr/bin/x").src));
    expect(fs.statSync(at("/usr/bin/x").src).mode & 0o7777).toBe(0o4755);
    expect(fs.statSync(at("/usr/bin/x").src).mtimeMs).toBe(1_700_000_000_000);
    expect(fs.readFileSync(at("/usr/bin/x").src, "utf8")).toBe("x");
    expect(at("/usr/bin/x").md5).toBe(createHash("md5").update("x").digest("hex"));
    expect(at("/usr/bin/x")).toMatchObject({ mode: 0o4755, mtimeMs: 1_700_000_000_000, nlink: 2 });
    // a hard link: one inode under two names, told as one group to the merge
    expect(at("/usr/bin/y")).toMatchObject({ nlink: 2, ino: at("/usr/bin/x").ino });
    expect(fs.statSync(at("/usr/bin/y").src).ino).toBe(fs.statSync(at("/usr/bin/x").src).ino);
    expect(at("/usr/bin/y").md5).toBe(at("/usr/bin/x").md5);
    expect(fs.readlinkSync(at("/usr/lib/libx.so").src)).toBe("libx.so.1");
    expect(at("/usr/lib/libx.so").target).toBe("libx.so.1");
    expect(r.vdb).toMatchObject({ category: "app-misc", pf: "x-1" });
    expect(fs.readFileSync(path.join(r.vdb!.dir, "SLOT"), "utf8")).toBe("0\n");
    // nothing else is left of the archive: the three entries' names, the hard link's two sharing an inode
    const left = ["image", "tree"].flatMap((d) => (fs.existsSync(path.join(dir, "work", d)) ? fs.readdirSync(path.join(dir, "work", d), { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()) : []));
    expect(left.length).toBe(3);
    const evil = path.join(dir, "evil.package.tar.zst");
    fs.writeFileSync(evil, compress(await tarOf({ "lib": { symlink: "/" }, "lib/etc/passwd": "x" })));
    await expect(new Unpacker("local").unpack(evil, path.join(dir, "w2"), {})).rejects.toThrow(/'lib' is a directory and a symlink|leads through the symlink 'lib'/);
  });

  it("hands packages to worker threads as they come free, and a close refuses what was still waiting", async () => {
    const dir = tmpdir();
    // a bundle, since a worker thread cannot run the TypeScript sources
    const lib = bundleSources({ unpacker: "src/anise/Unpacker.ts" }, ["zstd-napi"]);
    const { Unpacker: Threaded } = (await import(pathToFileURL(path.join(lib, "unpacker.mjs")).href)) as { Unpacker: typeof Unpacker };
    const arts = await Promise.all(
      Array.from({ length: 7 }, async (_, i) => {
        const art = path.join(dir, `p${i}.package.tar.zst`);
        const files: Record<string, string> = {};
        // unequal packages: one worker gets the big ones, the other keeps taking the rest
        for (let f = 0; f < (i % 3 === 0 ? 60 : 3); f++) files[`usr/share/p${i}/f${f}`] = `package ${i} file ${f}\n`;
        fs.writeFileSync(art, compress(await tarOf(files)));
        return art;
      }),
    );
    const u = new Threaded("worker", 2);
    const results = await Promise.all(arts.map((a, i) => u.unpack(a, path.join(dir, `w${i}`), {})));
    results.forEach((r, i) => {
      expect(r.files.length).toBe(i % 3 === 0 ? 60 : 3);
      const first = r.entries.find((e) => e.path === `/usr/share/p${i}/f0`)!;
      expect(fs.readFileSync(first.src, "utf8")).toBe(`package ${i} file 0\n`);
    });
    // two in hand, two waiting: closing refuses the waiting ones rather than leaving them unanswered
    const late = arts.slice(0, 4).map((a, i) => u.unpack(a, path.join(dir, `late${i}`), {}));
    const outcome = Promise.allSettled(late);
    await u.close();
    const settled = await outcome;
    expect(settled.slice(2).map((s) => s.status)).toEqual(["rejected", "rejected"]);
    expect(String((settled[3] as PromiseRejectedResult).reason)).toMatch(/closed/);
  });
});

/** A synced repository tree written by hand: `<dir>/treefs/<cat>/<name>/<ver>/…`. */
function tree(dir: string, pkgs: Record<string, unknown>[], provides: Record<string, unknown> = {}): void {
  for (const p of pkgs) {
    const d = path.join(dir, "treefs", String(p.category), String(p.name), String(p.version));
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, "definition.yaml"), YAML.stringify({ name: p.name, category: p.category, version: p.version }));
    fs.writeFileSync(path.join(d, "metadata.json"), JSON.stringify({ path: `${p.name}.package.tar.zst`, checksums: { sha256: "00" }, compressiontype: "zstd", files: [], runtime: p }));
  }
  fs.writeFileSync(path.join(dir, "treefs", "provides.yaml"), YAML.stringify({ provides }));
}

const def = (name: string, priority: number): AniseRepoDef => ({ name, description: "", type: "http", urls: ["http://x/"], priority, enable: true, auth: undefined, file: "" });

/** Ebuilds, as the metadata cache would give them. */
class FakeEbuilds implements CandidateSource {
  constructor(private readonly list: { cpv: string; rdepend: string }[]) {}
  async candidates(cp: string): Promise<Candidate[]> {
    return this.list
      .filter((e) => e.cpv.startsWith(`${cp}-`))
      .map((e) => {
        const [category, pf] = e.cpv.split("/") as [string, string];
        const version = Version.parse(pf.slice(cp.length - category.length));
        return { source: "ebuild", category, package: cp.split("/")[1]!, version, cpv: e.cpv, slot: "0", subslot: "0", repo: "core-kit", eapi: "8", iuse: [], use: new Set(), useState: { enabled: [], disabled: [], forced: [], masked: [] }, masks: [], maskMarker: " ", deps: { DEPEND: "", RDEPEND: e.rdepend, PDEPEND: "", BDEPEND: "", IDEPEND: "" }, properties: "" } satisfies Candidate;
      });
  }
}

describe("anise packages in ouzo's resolver", () => {
  it("resolves a source package and an anise package that depend on each other, together", async () => {
    const base = tmpdir();
    tree(path.join(base, "bin"), [{ name: "alib", category: "dev-libs", version: "2.0", requires: [{ name: "srclib", category: "dev-libs", version: ">=1" }] }]);
    const catalog = new AniseCatalog([{ def: def("bin", 10), dir: path.join(base, "bin") }]);
    const ebuilds = new FakeEbuilds([
      { cpv: "app-misc/tool-1", rdepend: ">=dev-libs/alib-2" },
      { cpv: "dev-libs/srclib-1.5", rdepend: "" },
    ]);
    const sel = await new Resolver([ebuilds, new AniseSource(catalog)]).resolve([{ arg: "app-misc/tool", atom: Atom.parse("app-misc/tool", "8") }]);
    const { entries } = buildPlan(sel);
    expect(entries.map((e) => `${e.pkg.cpv}:${aniseOrigin(e.pkg) ? "anise" : "ebuild"}`)).toEqual(["dev-libs/srclib-1.5:ebuild", "dev-libs/alib-2.0:anise", "app-misc/tool-1:ebuild"]);
  });

  it("takes the lower priority number at equal versions, whatever the order of definition", async () => {
    const base = tmpdir();
    for (const [name, desc] of [["late", "from late"], ["early", "from early"]] as const) tree(path.join(base, name), [{ name: "same", category: "app-misc", version: "1", description: desc }]);
    for (const order of [
      ["late", "early"],
      ["early", "late"],
    ]) {
      const catalog = new AniseCatalog(order.map((n) => ({ def: def(n, n === "early" ? 5 : 50), dir: path.join(base, n) })));
      const sel = await new Resolver([new AniseSource(catalog)]).resolve([{ arg: "x", atom: Atom.parse("app-misc/same", "8") }]);
      expect(sel.chosen.map((c) => c.repo)).toEqual(["early"]);
    }
  });

  it("honours mask.d, warns where anise's version order differs, and --ignore-masks", async () => {
    const base = tmpdir();
    tree(path.join(base, "r"), [
      { name: "m", category: "app-misc", version: "1.0" },
      { name: "m", category: "app-misc", version: "1.0_rc1" },
      { name: "m", category: "app-misc", version: "0.9" },
    ]);
    fs.mkdirSync(path.join(base, "etc/anise/mask.d"), { recursive: true });
    fs.writeFileSync(path.join(base, "etc/anise/mask.d/m.yml"), YAML.stringify({ enabled: true, rules: ["=app-misc/m-1.0"] }));
    const config = loadAniseConfig({ configRoot: base, env: {} });
    const warnings: string[] = [];
    const catalog = new AniseCatalog([{ def: def("r", 1), dir: path.join(base, "r") }], { masks: config.masks, warn: (m) => warnings.push(m) });
    const sel = await new Resolver([new AniseSource(catalog)]).resolve([{ arg: "m", atom: Atom.parse("app-misc/m", "8") }]);
    expect(sel.chosen.map((c) => c.cpv)).toEqual(["app-misc/m-1.0_rc1"]);
    expect(warnings).toContain("app-misc/m: ouzo orders versions as PMS does and takes 1.0 as the newest; anise would take 1.0_rc1");
    const open = new AniseCatalog([{ def: def("r", 1), dir: path.join(base, "r") }], { masks: config.masks, ignoreMasks: true });
    const sel2 = await new Resolver([new AniseSource(open)]).resolve([{ arg: "m", atom: Atom.parse("app-misc/m", "8") }]);
    expect(sel2.chosen.map((c) => c.cpv)).toEqual(["app-misc/m-1.0"]);
  });
});

describe("the anise configuration", () => {
  it("reads anise.yaml, its directories and ANISE_ variables", () => {
    const base = tmpdir();
    fs.mkdirSync(path.join(base, "etc/anise/config.protect.d"), { recursive: true });
    fs.writeFileSync(path.join(base, "etc/anise/anise.yaml"), YAML.stringify({ general: { concurrency: 2 }, finalizer_envs: [{ key: "A", value: "1" }], subsets: { enabled: ["devel"] } }));
    fs.writeFileSync(path.join(base, "etc/anise/config.protect.d/01.yml"), YAML.stringify({ name: "etc", dirs: ["/etc/", "/usr/share/conf"] }));
    fs.mkdirSync(path.join(base, "etc/anise/subsets.conf.d"), { recursive: true });
    fs.writeFileSync(path.join(base, "etc/anise/subsets.conf.d/p.yml"), YAML.stringify({ enabled: ["portage"] }));
    const c = loadAniseConfig({ configRoot: base, env: { ANISE_SYSTEM__ROOTFS: "/mnt/x", ANISE_GENERAL__CONCURRENCY: "8", ANISE_YES: "true" } });
    expect(c.rootfs).toBe("/mnt/x");
    expect(c.concurrency).toBe(8);
    expect(c.yes).toBe(true);
    expect(c.configProtect).toEqual(["/etc/", "/usr/share/conf"]);
    expect([...c.subsetsEnabled].sort()).toEqual(["devel", "portage"]);
    expect(c.finalizerEnvs).toEqual([["A", "1"]]);
    expect(c.reposConfDirs).toEqual([path.join(base, "etc/anise/repos.conf.d")]);
    expect(() => loadAniseConfig({ configRoot: base, configFile: path.join(base, "missing.yaml"), env: {} })).toThrow(/no such file/);
  });
});

describe("what an uninstall takes with it", () => {
  it("follows runtime dependencies, and || groups hold while one alternative stays", () => {
    const pkg = (cpv: string, rdepend = "") => {
      const [category, pf] = cpv.split("/") as [string, string];
      const m = /^(.*)-(\d.*)$/.exec(pf)!;
      return { category, package: m[1]!, version: Version.parse(m[2]!), cpv, slot: "0", subslot: "0", eapi: "8", iuse: [], use: [], keywords: [], repo: "x", depend: "", rdepend, pdepend: "", bdepend: "", idepend: "", license: "", restrict: "", properties: "", definedPhases: "", inherited: [], description: "", counter: 1, buildTime: 0, dir: "/nonexistent" };
    };
    const a = pkg("c/a-1");
    const b = pkg("c/b-1", "c/a");
    const c = pkg("c/c-1", "c/b");
    const either = pkg("c/e-1", "|| ( c/a c/x )");
    const x = pkg("c/x-1");
    const plan = planRemoval([a, b, c, either, x], [a], false);
    expect(plan.order.map((p) => p.cpv)).toEqual(["c/c-1", "c/b-1", "c/a-1"]);
    expect(plan.because.get("c/c-1")).toBe("c/b-1");
    expect(planRemoval([a, b, c], [a], true).order.map((p) => p.cpv)).toEqual(["c/a-1"]);
  });
});
