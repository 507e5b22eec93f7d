// The configuration snapshot (src/config/snapshot.ts, Config.load): read back, it must give every
// answer the evaluated configuration gives; any change to an input must make ouzo evaluate afresh.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { Config, type ConfigOptions, type PackageInput } from "../src/config/Config.js";
import type { SnapshotPlace } from "../src/config/snapshot.js";
import { installDemoConfig } from "../src/cli/demoTree.js";
import { Version } from "../src/pms/version.js";
import { Atom } from "../src/pms/atom.js";
import { USER_CONFIG_EAPI } from "../src/pms/eapi.js";
import { ouzo, tmpdir, writeTree } from "./helpers.js";
// @ts-expect-error: the bench is plain JavaScript
import { generateMarkSizedTree } from "../bench/profile.js";

/**
 * Let the clock move past the files just written: a snapshot is not written while an input
 * changed less than 100 ms before the evaluation began (the file could still be changing).
 */
const settle = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);

function setup(install: (root: string) => void = (r) => installDemoConfig(r)) {
  const root = tmpdir();
  install(root);
  const opts: ConfigOptions = { root, configRoot: root, env: {} };
  const place: SnapshotPlace = { file: path.join(root, "var", "cache", "ouzo", "config-snapshot.json"), key: "test" };
  return { root, opts, place };
}

/** Packages to ask about: every ebuild of the tree, and every package named in a configuration line. */
function packagesOf(root: string, config: Config): PackageInput[] {
  const out: PackageInput[] = [];
  const repos = config.repos.repos;
  const cps = new Set<string>();
  for (const repo of repos) {
    for (const cat of fs.readdirSync(repo.location)) {
      const catDir = path.join(repo.location, cat);
      if (!cat.includes("-") && cat !== "virtual") continue;
      if (!fs.statSync(catDir).isDirectory()) continue;
      for (const pn of fs.readdirSync(catDir)) {
        for (const f of fs.readdirSync(path.join(catDir, pn)).filter((n) => n.endsWith(".ebuild"))) {
          const text = fs.readFileSync(path.join(catDir, pn, f), "utf8");
          const v = (name: string) => new RegExp(`^${name}="([^"]*)"`, "m").exec(text)?.[1] ?? "";
          const version = f.slice(pn.length + 1, -".ebuild".length);
          cps.add(`${cat}/${pn}`);
          for (const keywords of [v("KEYWORDS").split(/\s+/).filter(Boolean), ["~amd64"], []]) {
            out.push({ category: cat, package: pn, version: Version.parse(version), slot: v("SLOT") || "0", repo: repo.name, eapi: /^EAPI=(\S+)/m.exec(text)?.[1] ?? "0", iuse: v("IUSE").split(/\s+/).filter(Boolean), keywords, license: v("LICENSE") || "MIT" });
          }
        }
      }
    }
  }
  // packages that configuration lines name, with flags those lines mention
  const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const file of walk(root).filter((f) => /\/package\.[a-z.]+(\/|$)|\/packages$/.test(f))) {
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      const [first, ...flags] = line.replace(/#.*/, "").trim().split(/\s+/);
      if (!first) continue;
      let atom: Atom;
      try {
        atom = Atom.parse(first.replace(/^[-*]+/, ""), USER_CONFIG_EAPI);
      } catch {
        continue;
      }
      if (atom.extended || cps.has(atom.cp)) continue;
      cps.add(atom.cp);
      for (const version of [atom.version?.text ?? "1", "1", "9999"]) {
        for (const repo of repos.slice(0, 2)) {
          out.push({ category: atom.category, package: atom.package, version: Version.parse(version), slot: atom.slot ?? "0", repo: repo.name, eapi: "7", iuse: flags.map((f) => f.replace(/^-/, "")).filter((f) => /^[a-z0-9_+@-]+$/i.test(f) && !f.endsWith(":")), keywords: ["amd64"], license: "MIT" });
        }
      }
    }
  }
  // a sample spread over the whole list keeps a MARK-sized tree quick
  const step = Math.ceil(out.length / 600);
  return out.filter((_, i) => i % step === 0);
}

/** Everything a Config answers, as plain data. */
function observe(config: Config, pkgs: PackageInput[]) {
  const useSet = (s: ReadonlySet<string>) => [...s].sort();
  return {
    vars: [...config.vars],
    stack: config.stack.map((e) => [e.dir, e.repo?.name, e.eapi.name, e.allowDirectories, e.allowRepoAtoms, e.user]),
    repos: config.repos.repos.map((r) => [r.name, r.location, r.priority, r.aliases, r.masters, r.profileFormats, [...r.layout]]),
    mainRepo: config.repos.mainRepo,
    useExpand: config.useExpand,
    globalUse: config.globalUse,
    globalUseMask: config.globalUseMask,
    globalUseForce: config.globalUseForce,
    system: config.system.map(String),
    userSets: [...config.userSets].map(([n, atoms]) => [n, atoms.map(String)]),
    maskCount: config.maskCount(),
    warnings: [...config.warnings],
    packages: pkgs.map((p) => {
      const use = config.useFor(p);
      return {
        p: `${p.category}/${p.package}-${p.version.text}::${p.repo} ${p.keywords.join(",")}`,
        use: { ...use, all: useSet(use.all) },
        visibility: config.visibility(p),
        accepted: useSet(config.acceptedKeywordsFor(p)),
        keywords: config.effectiveKeywords(p),
        licenses: config.unacceptedLicenses(p, use.all),
      };
    }),
  };
}

/** Evaluate (writing the snapshot), read it back, and check both answer alike. */
function roundTrip(s: ReturnType<typeof setup>) {
  settle();
  const fresh = Config.load(s.opts, s.place);
  expect(fresh.fromSnapshot).toBe(false);
  expect(fs.existsSync(s.place.file)).toBe(true);
  const again = Config.load(s.opts, s.place);
  expect(again.fromSnapshot).toBe(true);
  const pkgs = packagesOf(s.root, fresh);
  expect(pkgs.length).toBeGreaterThan(20);
  expect(observe(again, pkgs)).toEqual(observe(fresh, pkgs));
  return { fresh, again, pkgs };
}

describe("USE of many packages asked of one configuration", () => {
  // Config.useFor shares its answer between packages no package-specific line touches: asked after
  // hundreds of others, each answer must be what a configuration asked about that package alone says
  for (const [name, install] of [["the demo configuration", undefined], ["a MARK-sized stack", generateMarkSizedTree]] as const) {
    it(`is what a fresh configuration says of each package alone (${name})`, () => {
      const s = setup(install);
      const warm = new Config(s.opts);
      const pkgs = packagesOf(s.root, warm);
      const answers = pkgs.map((p) => warm.useFor(p));
      const step = Math.max(1, Math.floor(pkgs.length / 25));
      let compared = 0;
      for (let i = 0; i < pkgs.length; i += step) {
        const cold = new Config(s.opts).useFor(pkgs[i]!);
        expect({ ...answers[i], all: [...answers[i]!.all].sort() }).toEqual({ ...cold, all: [...cold.all].sort() });
        compared++;
      }
      expect(compared).toBeGreaterThan(20);
    });
  }
});

describe("USE of a package no line names", () => {
  // Config.useFor works out such a package's USE flag by flag, without the whole profile USE set;
  // a line naming every package (`*/*` with a flag nothing declares) sends each one through the
  // general path instead: the answers must not differ
  const cases = [
    ["the demo configuration", undefined, {}],
    ["a MARK-sized stack", generateMarkSizedTree, {}],
    ["a MARK-sized stack, USE from the environment with wildcards", generateMarkSizedTree, { USE: "-l10n_* l10n_de -test" }],
    ["the demo configuration, USE=-* from the environment", undefined, { USE: "-* l10n_en" }],
  ] as const;
  for (const [name, install, env] of cases) {
    it(`is what the general path says (${name})`, () => {
      const s = setup(install);
      s.opts = { ...s.opts, env };
      const fast = new Config(s.opts);
      // and the same packages declaring flags the profile sets, masks and forces, with and without defaults
      const interesting = [...fast.globalUse.slice(0, 4), ...fast.globalUseMask.slice(0, 4), ...fast.globalUseForce.slice(0, 4), "test", "l10n_en", "l10n_de"];
      const declaring = (p: PackageInput, i: number): PackageInput => ({ ...p, iuse: [...p.iuse, ...interesting.map((f, j) => ((i + j) % 3 === 0 ? `+${f}` : (i + j) % 3 === 1 ? `-${f}` : f))] });
      const pkgs = packagesOf(s.root, fast).flatMap((p, i) => [p, declaring(p, i)]);
      const answers = pkgs.map((p) => fast.useFor(p));
      const pu = path.join(s.root, "etc/portage/package.use");
      const line = "*/* zzzunrelated\n";
      if (fs.existsSync(pu) && fs.statSync(pu).isDirectory()) fs.writeFileSync(path.join(pu, "zz-every-package"), line);
      else fs.appendFileSync(pu, line);
      const general = new Config(s.opts);
      expect(general.warnings).toEqual(fast.warnings);
      const plain = (u: ReturnType<Config["useFor"]>) => ({ ...u, all: [...u.all].sort() });
      expect(pkgs.map((p) => plain(general.useFor(p)))).toEqual(answers.map(plain));
      for (const kind of ["enabled", "disabled", "masked", "forced"] as const) expect(answers.some((u) => u[kind].length), kind).toBe(true);
    });
  }
});

describe("a configuration read back from its snapshot", () => {
  it("answers as the evaluated one on the demo configuration (make.conf source, package.env, sets, package.use directory)", () => {
    const { fresh, pkgs } = roundTrip(setup());
    // the comparison covers real answers: masked, keyworded and USE-bearing packages
    const seen = observe(fresh, pkgs).packages;
    expect(seen.some((p) => p.visibility.length > 0)).toBe(true);
    expect(seen.some((p) => p.use.enabled.length > 0)).toBe(true);
    expect(fresh.userSets.size).toBeGreaterThan(0);
  });

  it("answers as the evaluated one on a MARK-sized stack (75 entries, 30 repositories, ~4,400 masks)", () => {
    const { fresh } = roundTrip(setup(generateMarkSizedTree));
    expect(fresh.stack.length).toBe(75);
    expect(fresh.maskCount()).toBeGreaterThan(4000);
  });

  it("keeps extended atoms, warnings about bad profile lines and the deprecation notice", () => {
    const s = setup((root) => {
      installDemoConfig(root);
      const prof = path.join(root, "var/git/meta-repo/kits/core-kit/profiles/funtoo/1.0/linux-gnu/mix-ins/X");
      writeTree(prof, { "package.mask": "this is not an atom\n>=x11-libs/gtk+-3.99\n", deprecated: "core-kit:funtoo/1.0/linux-gnu/mix-ins/wayland\nX is old\n" });
      writeTree(root, { "etc/portage/package.use/extended": "*/* extflag\ndev-lang/*::core-kit langflag\n" });
    });
    const reported: string[] = [];
    const reporter = { report: (e: { kind: string; message?: string }) => void (e.kind === "warning" && reported.push(e.message!)) };
    const { fresh, again } = roundTrip({ ...s, opts: { ...s.opts, reporter } });
    expect(fresh.warnings.some((w) => w.includes("mix-ins/X/package.mask:1:"))).toBe(true);
    expect(fresh.warnings.some((w) => w.includes("is deprecated"))).toBe(true);
    // what the evaluation reported is reported again when the snapshot is read back
    const half = reported.length / 2;
    expect(half).toBeGreaterThanOrEqual(2);
    expect(reported.slice(half)).toEqual(reported.slice(0, half));
    const python: PackageInput = { category: "dev-lang", package: "python", version: Version.parse("3.12.4"), slot: "0", repo: "core-kit", eapi: "7", iuse: ["extflag", "langflag"], keywords: ["amd64"], license: "MIT" };
    expect(again.useFor(python).enabled).toEqual(["extflag", "langflag"]);
    expect(again.useFor({ ...python, category: "app-shells", package: "bash" }).enabled).toEqual(["extflag"]);
  });
});

describe("a snapshot is not used once an input changed", () => {
  const core = "var/git/meta-repo/kits/core-kit/profiles";
  const flavor = `${core}/funtoo/1.0/linux-gnu/flavor/desktop`;
  const edits: [string, (root: string) => void][] = [
    ["a profile's make.defaults, same size", (r) => fs.writeFileSync(path.join(r, flavor, "make.defaults"), fs.readFileSync(path.join(r, flavor, "make.defaults"), "utf8").replace(/USE="(.)/, (_m, c: string) => `USE="${c === "z" ? "y" : "z"}`))],
    ["a new package.mask in a profile directory that had none", (r) => writeTree(r, { [`${flavor}/package.mask`]: "dev-lang/python\n" })],
    ["a profile file removed", (r) => fs.rmSync(path.join(r, flavor, "make.defaults"))],
    ["make.profile's parent", (r) => fs.writeFileSync(path.join(r, "etc/portage/make.profile/parent"), "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit\ncore-kit:funtoo/1.0/linux-gnu/build/next\n")],
    ["a file sourced by make.conf", (r) => fs.appendFileSync(path.join(r, "etc/portage/make.conf.local"), 'USE="${USE} newflag"\n')],
    ["a new file in /etc/portage/package.use/", (r) => writeTree(r, { "etc/portage/package.use/zz-more": "app-shells/bash -readline\n" })],
    ["a new /etc/portage/profile", (r) => writeTree(r, { "etc/portage/profile/use.force": "forcedflag\n" })],
    ["a repository's priority in repos.conf", (r) => fs.appendFileSync(path.join(r, "etc/portage/repos.conf/ego-dev-kit"), "priority = 7\n")],
    ["a repository-level package.mask", (r) => fs.appendFileSync(path.join(r, core, "package.mask"), ">=app-shells/bash-5\n")],
  ];
  for (const [what, edit] of edits) {
    it(what, () => {
      const s = setup();
      settle();
      const before = Config.load(s.opts, s.place);
      expect(Config.load(s.opts, s.place).fromSnapshot).toBe(true);
      edit(s.root);
      const after = Config.load(s.opts, s.place);
      expect(after.fromSnapshot).toBe(false);
      const pkgs = packagesOf(s.root, before);
      const now = observe(after, pkgs);
      expect(now).toEqual(observe(new Config(s.opts), pkgs));
      expect(now).not.toEqual(observe(before, pkgs));
    });
  }

  it("is not written while an input has only just changed (it could still be changing)", () => {
    const s = setup();
    expect(Config.load(s.opts, s.place).fromSnapshot).toBe(false);
    expect(fs.existsSync(s.place.file)).toBe(false);
    settle();
    Config.load(s.opts, s.place);
    expect(fs.existsSync(s.place.file)).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)("is not trusted when another user owns it (it stands for /etc/portage)", () => {
    const s = setup();
    settle();
    Config.load(s.opts, s.place);
    expect(Config.load(s.opts, s.place).fromSnapshot).toBe(true);
    fs.chownSync(s.place.file, 4242, 4242);
    expect(Config.load(s.opts, s.place).fromSnapshot).toBe(false);
  });

  it("is not used for another key (ROOT, config root, environment, build)", () => {
    const s = setup();
    settle();
    Config.load(s.opts, s.place);
    expect(Config.load(s.opts, { ...s.place, key: "other" }).fromSnapshot).toBe(false);
  });
});

describe("the snapshot through the CLI", () => {
  const show = (root: string, env: Record<string, string> = {}) => ouzo(["profile", "show", "--json", "--root", root], { env });
  const snapFile = (root: string) => path.join(root, "var/cache/ouzo/config-snapshot.json");

  it("is what later commands read: a changed value in it shows (the test of its use), a damaged one is replaced", () => {
    const root = tmpdir();
    installDemoConfig(root);
    settle();
    const first = show(root);
    expect(first.code).toBe(0);
    expect(fs.existsSync(snapFile(root))).toBe(true);
    const snap = JSON.parse(fs.readFileSync(snapFile(root), "utf8"));
    snap.data.vars = snap.data.vars.map(([k, v]: [string, string]) => [k, k === "MAKEOPTS" ? "-j99" : v]);
    fs.writeFileSync(snapFile(root), JSON.stringify(snap));
    expect(JSON.parse(show(root).stdout).vars.MAKEOPTS).toBe("-j99");
    fs.writeFileSync(snapFile(root), "{ damaged");
    const again = show(root);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(first.stdout);
    expect(JSON.parse(fs.readFileSync(snapFile(root), "utf8")).format).toBe(1);
  });

  it("is keyed on the environment the configuration reads, and can be turned off", () => {
    const root = tmpdir();
    installDemoConfig(root);
    settle();
    expect(show(root).code).toBe(0);
    const verbose = ouzo(["profile", "show", "--verbose", "--root", root]);
    expect(verbose.stderr).toContain(`configuration read back from ${snapFile(root)}`);
    expect(JSON.parse(show(root, { USE: "envflag" }).stdout).use).toContain("envflag");
    expect(JSON.parse(show(root).stdout).use).not.toContain("envflag");
    fs.rmSync(snapFile(root));
    expect(show(root, { OUZO_CONFIG_SNAPSHOT: "off" }).code).toBe(0);
    expect(fs.existsSync(snapFile(root))).toBe(false);
  });

  it("is skipped when the cache directory cannot be written, with the same answers", () => {
    const root = tmpdir();
    installDemoConfig(root);
    const blocker = path.join(root, "not-a-dir");
    fs.writeFileSync(blocker, "");
    settle();
    const a = show(root, { OUZO_CACHE_DIR: path.join(blocker, "cache") });
    const b = show(root, { OUZO_CONFIG_SNAPSHOT: "off" });
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stderr).toBe(b.stderr);
    // and nothing is encoded for a snapshot that cannot be kept
    const verbose = ouzo(["profile", "show", "--verbose", "--root", root], { env: { OUZO_CACHE_DIR: path.join(blocker, "cache") } });
    expect(verbose.stderr).toContain(`no snapshot: ${path.join(blocker, "cache")} is not writable`);
  });
});
