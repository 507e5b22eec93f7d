import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { Config, type PackageInput } from "../src/config/Config.js";
import { readShellVars } from "../src/config/shellVars.js";
import { OuzoError } from "../src/core/errors.js";
import { Version } from "../src/pms/version.js";
import { Atom } from "../src/pms/atom.js";
import { eapiFeatures, USER_CONFIG_EAPI } from "../src/pms/eapi.js";
import { plainAtomCp } from "../src/config/configFiles.js";
import { vectorRows } from "./vectors.js";
import { installDemoConfig } from "../src/cli/demoTree.js";
import { ouzo, tmpdir, writeTree } from "./helpers.js";

function demo(): { root: string; config: Config } {
  const root = tmpdir();
  installDemoConfig(root);
  return { root, config: new Config({ root, configRoot: root }) };
}

function pkg(cpv: string, extra: Partial<PackageInput> = {}): PackageInput {
  const m = /^([^/]+)\/(.+)-(\d[^-]*(?:-r\d+)?)$/.exec(cpv)!;
  return { category: m[1]!, package: m[2]!, version: Version.parse(m[3]!), slot: "0", repo: "core-kit", eapi: "7", iuse: [], keywords: ["*"], license: "MIT", ...extra };
}

const rel = (config: Config, dir: string) => {
  const e = config.stack.find((s) => s.dir === dir)!;
  return e.repo ? `${e.repo.name}:${path.relative(path.join(e.repo.location, "profiles"), dir)}` : "make.profile";
};

describe("make.conf syntax", () => {
  it("expands variables, defaults, quotes and continuations", () => {
    const scope = new Map([["ARCH", "amd64"]]);
    const vars = readShellVars("/x/make.conf", { scope }, 'A="~${ARCH} $ARCH"\nB=\'lit $ARCH\'\nC="a \\\n b"\nexport D=${NOPE:-def}x\nE=one"two"\'three\' # c\n');
    expect(Object.fromEntries(vars.map((v) => [v.name, v.value]))).toEqual({ A: "~amd64 amd64", B: "lit $ARCH", C: "a  b", D: "defx", E: "onetwothree" });
    expect(vars.map((v) => v.line)).toEqual([1, 2, 3, 5, 6]);
  });

  it("names file and line of an unterminated quote", () => {
    expect(() => readShellVars("/etc/portage/make.conf", { scope: new Map() }, 'A="x"\nB="never closed\nC=1\n')).toThrow(
      expect.objectContaining({ origin: { file: "/etc/portage/make.conf", line: 2 } }),
    );
  });

  it("refuses commands and source in make.defaults", () => {
    expect(() => readShellVars("/p/make.defaults", { scope: new Map() }, "source /etc/x\n")).toThrow("only allowed in make.conf");
    expect(() => readShellVars("/p/make.defaults", { scope: new Map() }, "A=$(id)\n")).toThrow("command substitution");
    expect(() => readShellVars("/p/make.defaults", { scope: new Map() }, "echo hi\n")).toThrow("expected VAR=value");
  });
});

describe("profile stack", () => {
  it("expands parents depth first with no de-duplication, repo:path and gentoo alias included", () => {
    const { config } = demo();
    const names = config.stack.map((e) => rel(config, e.dir));
    const desktop = [
      "core-kit:funtoo/1.0/linux-gnu/flavor/minimal",
      "core-kit:funtoo/1.0/linux-gnu/flavor/core",
      "core-kit:funtoo/1.0/linux-gnu/mix-ins/X",
      "core-kit:funtoo/1.0/linux-gnu/mix-ins/audio",
      "core-kit:funtoo/1.0/linux-gnu/mix-ins/audio",
      "core-kit:funtoo/1.0/linux-gnu/mix-ins/media",
      "core-kit:funtoo/1.0/linux-gnu/flavor/workstation",
      "core-kit:funtoo/1.0/linux-gnu/flavor/desktop",
    ];
    expect(names).toEqual([
      "core-kit:base",
      "core-kit:arch/base",
      "core-kit:funtoo/1.0/linux-gnu",
      "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit-papa",
      "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit",
      "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit/subarch/generic_64",
      "core-kit:funtoo/1.0/linux-gnu/build/next",
      ...desktop,
      "core-kit:funtoo/1.0/linux-gnu/mix-ins/X",
      ...desktop,
      "gnome-kit:funtoo/mix-ins/gnome",
      "core-kit:funtoo/1.0/linux-gnu/mix-ins/gnome",
      "core-kit:funtoo/kits/python-kit/mark",
      "dev-kit:funtoo/kits/python-kit/mark",
      "gnome-kit:funtoo/kits/python-kit/mark",
      "python-kit:funtoo/kits/python-kit/mark",
      "make.profile",
    ]);
  });

  it("resolves gentoo: through core-kit's alias", () => {
    const { root } = demo();
    const parent = path.join(root, "etc/portage/make.profile/parent");
    fs.writeFileSync(parent, fs.readFileSync(parent, "utf8").replace("core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit\n", "gentoo:funtoo/1.0/linux-gnu/arch/x86-64bit\n"));
    const config = new Config({ root, configRoot: root });
    expect(config.vars.get("ARCH")).toBe("amd64");
  });

  it("stacks incrementals: -* in ACCEPT_KEYWORDS, removals, USE_EXPAND values, make.conf replacing a USE_EXPAND", () => {
    const { config } = demo();
    expect(config.vars.get("ACCEPT_KEYWORDS")).toBe("amd64 ~amd64");
    expect(config.vars.get("CPU_FLAGS_X86")).toBe("sse sse2");
    expect(config.vars.get("VIDEO_CARDS")).toBe("vesa intel");
    expect(config.vars.get("L10N")).toBe("en de");
    expect(config.vars.get("PYTHON_TARGETS")).toBe("python3_11 None");
    expect(config.vars.get("FEATURES")!.split(" ")).not.toContain("strict");
    expect(config.vars.get("FEATURES")!.split(" ")).not.toContain("preserve-libs");
    expect(config.vars.get("FEATURES")!.split(" ")).toContain("parallel-fetch");
    expect(config.vars.get("CONFIG_PROTECT")).toBe("/etc /usr/share/config");
    expect(config.vars.get("CFLAGS")).toBe("-O2 -pipe -march=x86-64");
    expect(config.vars.get("CXXFLAGS")).toBe("-O2 -pipe -march=x86-64");
    expect(config.vars.get("EMERGE_DEFAULT_OPTS")).toBe("--quiet-build");
    expect(config.globalUse).toContain("l10n_en");
    expect(config.globalUse).not.toContain("pam");
    expect(config.globalUse).not.toContain("bzip2");
    expect(config.globalUse).not.toContain("pulseaudio");
    expect(config.globalUse).toContain("vim-syntax");
    expect(config.globalUseMask).toEqual(["arm64", "cpu_flags_x86_aes", "frobnicator", "selinux"]);
    expect(config.globalUseForce).toEqual(["elibc_glibc"]);
  });

  it("re-applies a directory reached twice at each position", () => {
    const root = tmpdir();
    installDemoConfig(root);
    const mixin = path.join(root, "var/git/meta-repo/kits/core-kit/profiles/funtoo/1.0/linux-gnu/mix-ins/X/make.defaults");
    // X adds xcb; gnome-kit's mix-in (after the first X) removes it; the second X chain adds it back.
    fs.writeFileSync(path.join(root, "var/git/meta-repo/kits/gnome-kit/profiles/funtoo/mix-ins/gnome/make.defaults"), 'USE="gnome -xcb"\n');
    expect(new Config({ root, configRoot: root }).globalUse).not.toContain("xcb");
    fs.writeFileSync(path.join(root, "etc/portage/make.profile/parent"), fs.readFileSync(path.join(root, "etc/portage/make.profile/parent"), "utf8") + "core-kit:funtoo/1.0/linux-gnu/mix-ins/X\n");
    expect(new Config({ root, configRoot: root }).globalUse).toContain("xcb");
    expect(fs.existsSync(mixin)).toBe(true);
  });

  it("keeps the profile layer's TRACK_KEYWORDS even when make.conf sets it", () => {
    const { root } = demo();
    fs.appendFileSync(path.join(root, "etc/portage/make.conf"), 'TRACK_KEYWORDS="-* bogus"\nARCH="x86"\n');
    const config = new Config({ root, configRoot: root });
    expect(config.vars.get("TRACK_KEYWORDS")).toBe("next");
    expect(config.vars.get("ARCH")).toBe("amd64");
  });

  it("collects @system from packages files with -* removals", () => {
    const { config } = demo();
    expect(config.system.map(String)).toEqual(["sys-apps/baselayout", "app-shells/bash", "sys-libs/ncurses", "sys-apps/portage", ">=dev-lang/python-3"]);
  });
});

describe("per-package USE", () => {
  it("applies IUSE defaults, profile package.use, make.conf, package.env and /etc/portage/package.use in order", () => {
    const { config } = demo();
    const hello1 = config.useFor(pkg("app-misc/hello-1.5", { iuse: ["nls", "+doc", "debug", "experimental"] }));
    expect(hello1.enabled).toEqual(["debug", "doc"]);
    const hello2 = config.useFor(pkg("app-misc/hello-2.1", { iuse: ["nls", "doc"] }));
    expect(hello2.enabled).toEqual(["nls"]);
  });

  it("turns PYTHON_TARGETS: sections of package.use into prefixed flags", () => {
    const { config } = demo();
    const py = config.useFor(pkg("dev-lang/python-3.12.1", { iuse: ["python_targets_python3_11", "python_targets_python3_12", "sqlite", "bluetooth"] }));
    expect(py.enabled).toEqual(["python_targets_python3_11", "python_targets_python3_12", "sqlite"]);
    expect(py.masked).toEqual(["bluetooth"]);
  });

  it("reads package.use directories in name order, skipping backup files", () => {
    const { config } = demo();
    const x = config.useFor(pkg("x11-libs/libx-1", { iuse: ["xcb", "doc", "broken"] }));
    expect(x.enabled).toEqual(["xcb"]);
  });

  it("forces and masks flags, stable-only masks only for stable packages", () => {
    const { config } = demo();
    const base = pkg("sys-apps/baselayout-2.14", { iuse: ["split-usr", "selinux"] });
    expect(config.useFor(base).forced).toEqual(["split-usr"]);
    expect(config.useFor(base).masked).toEqual(["selinux"]);
    const stable = config.useFor(pkg("app-misc/hello-2.0", { iuse: ["+experimental"], keywords: ["amd64"] }));
    expect(stable.masked).toEqual(["experimental"]);
    const testing = config.useFor(pkg("app-misc/hello-2.0", { iuse: ["+experimental"], keywords: ["~amd64"] }));
    expect(testing.masked).toEqual([]);
    expect(testing.enabled).toEqual(["experimental"]);
  });
});

describe("visibility", () => {
  it("names the file and line of a repository-level mask, which applies to kits listing core-kit as master", () => {
    const { root, config } = demo();
    const r = config.visibility(pkg("dev-libs/glib-3.0", { repo: "gnome-kit" }));
    expect(r).toEqual([{ kind: "package.mask", file: path.join(root, "var/git/meta-repo/kits/gnome-kit/profiles/funtoo/mix-ins/gnome/package.mask"), line: 2, atom: ">=dev-libs/glib-3" }]);
    const user = config.visibility(pkg("app-misc/hello-0.9"));
    expect(user[0]).toMatchObject({ kind: "package.mask", line: 1, atom: "<app-misc/hello-1.0" });
    expect(config.visibility(pkg("dev-libs/libdemo-2.0", { keywords: [] }))).toEqual([]);
  });

  it("masks versions outside the profile packages atoms", () => {
    const { config } = demo();
    expect(config.visibility(pkg("dev-lang/python-2.7"))[0]).toMatchObject({ kind: "profile-packages" });
    expect(config.visibility(pkg("dev-lang/python-3.12"))).toEqual([]);
  });

  it("decides keywords with TRACK_KEYWORDS and DENY_KEYWORDS", () => {
    const { root, config } = demo();
    expect(config.visibility(pkg("sys-libs/ncurses-6.5_p20240511", { keywords: ["next"] }))).toEqual([]);
    expect(config.visibility(pkg("sys-libs/ncurses-6.5", { keywords: ["next", "-amd64"] }))).toEqual([]);
    expect(config.visibility(pkg("app-misc/a-1", { keywords: ["~amd64"] }))).toEqual([]);
    expect(config.visibility(pkg("app-misc/a-1", { keywords: ["~arm64"] }))[0]).toMatchObject({ kind: "keyword" });
    expect(config.visibility(pkg("app-misc/a-1", { keywords: [] }))[0]).toMatchObject({ kind: "keyword", detail: expect.stringContaining("no KEYWORDS") });
    expect(config.visibility(pkg("app-misc/hello-3.0", { keywords: ["~arm64"] }))[0]).toMatchObject({ kind: "keyword" });
    // package.accept_keywords with no keywords accepts ~arch
    expect(config.visibility(pkg("app-misc/hello-3.0", { keywords: ["~amd64"] }))).toEqual([]);
    // build/current denies next
    const parent = path.join(root, "etc/portage/make.profile/parent");
    fs.writeFileSync(parent, fs.readFileSync(parent, "utf8").replace("build/next", "build/current"));
    const current = new Config({ root, configRoot: root });
    expect(current.visibility(pkg("sys-libs/ncurses-6.5_p20240511", { keywords: ["next"] }))[0]).toMatchObject({ kind: "keyword", detail: expect.stringContaining("DENY_KEYWORDS") });
    expect(current.visibility(pkg("sys-libs/ncurses-6.4", { keywords: ["*"] }))).toEqual([]);
  });

  it("applies extended atoms (*/*, cat/*, */pkg, with slot and repository) in /etc/portage files", () => {
    const { root } = demo();
    const etc = path.join(root, "etc/portage");
    const append = (f: string, text: string) => fs.appendFileSync(path.join(etc, f), text);
    // Less specific lines apply first whatever their place: */* before app-misc/hello's own line.
    fs.writeFileSync(path.join(etc, "package.use", "zz-extended"), "app-misc/hello -nls\n*/* nls doc\napp-*/* debug\n*/hello:0::core-kit extras\n");
    append("package.accept_keywords", "dev-games/*::core-kit ~arm64\n");
    append("package.license", "*/* Other-EULA\n");
    append("package.mask", "sci-*/*\n");
    append("package.unmask", "sci-*/keep\n");
    const config = new Config({ root, configRoot: root });
    // hello-1.5: */* turns nls on, then app-misc/hello's own line turns it off again.
    expect(config.useFor(pkg("app-misc/hello-1.5", { iuse: ["nls", "doc", "debug", "extras"] })).enabled).toEqual(["debug", "doc", "extras"]);
    expect(config.useFor(pkg("dev-libs/x-1", { iuse: ["nls", "debug", "extras"] })).enabled).toEqual(["nls"]);
    expect(config.useFor(pkg("app-misc/hello-1.5", { iuse: ["extras"], slot: "1" })).enabled).toEqual([]);
    expect(config.visibility(pkg("dev-games/pong-1", { keywords: ["~arm64"] }))).toEqual([]);
    expect(config.visibility(pkg("dev-games/pong-1", { keywords: ["~arm64"], repo: "dev-kit" }))[0]).toMatchObject({ kind: "keyword" });
    expect(config.visibility(pkg("app-misc/a-1", { license: "Other-EULA" }))).toEqual([]);
    expect(config.visibility(pkg("sci-libs/lapack-3"))[0]).toMatchObject({ kind: "package.mask", atom: "sci-*/*" });
    expect(config.visibility(pkg("sci-libs/keep-3"))).toEqual([]);
    expect(config.visibility(pkg("dev-libs/lapack-3"))).toEqual([]);
  });

  it("refuses an extended atom with an operator in /etc/portage, with a warning naming file and line", () => {
    const { root } = demo();
    fs.writeFileSync(path.join(root, "etc/portage/package.use/zz-bad"), ">=dev-*/foo-1 doc\n");
    const config = new Config({ root, configRoot: root });
    expect(config.warnings.filter((w) => w.startsWith(`${path.join(root, "etc/portage/package.use/zz-bad")}:1: `) && w.endsWith("; line skipped"))).toHaveLength(1);
  });

  it("expands license groups and package.license", () => {
    const { config } = demo();
    expect(config.visibility(pkg("app-misc/a-1", { license: "Apache-2.0 || ( Demo-EULA MIT )" }))).toEqual([]);
    expect(config.visibility(pkg("app-misc/a-1", { license: "Other-EULA" }))).toEqual([{ kind: "license", licenses: ["Other-EULA"] }]);
    expect(config.visibility(pkg("app-misc/a-1", { license: "doc? ( Other-EULA )", iuse: ["doc"] }))).toEqual([]);
  });

  it("rejects an unsupported EAPI", () => {
    const { config } = demo();
    expect(config.visibility(pkg("app-misc/a-1", { eapi: "9" }))).toEqual([{ kind: "eapi", eapi: "9" }]);
  });
});

describe("the quick check of plain atoms in configuration files", () => {
  const eapis = [...["0", "1", "2", "3", "4", "5", "6", "7", "8"].map((e) => eapiFeatures(e)!), USER_CONFIG_EAPI];

  // Every string it accepts must parse, to the same package, and print back unchanged: lines it
  // accepts are parsed only when used, so it must never let a bad line through.
  function agrees(text: string): boolean {
    let accepted = false;
    for (const eapi of eapis) {
      const cp = plainAtomCp(text, eapi);
      if (cp === undefined) continue;
      accepted = true;
      const atom = Atom.parse(text, eapi);
      expect([atom.cp, atom.toString()], `'${text}' in EAPI ${eapi.name}`).toEqual([cp, text]);
    }
    return accepted;
  }

  it("accepts only atoms the parser accepts, naming the same package", () => {
    const candidates = vectorRows("atoms.txt").map((r) => r[2]!);
    const versions = vectorRows("versions.txt").map((r) => r[1]!);
    const names = ["foo", "foo-bar", "foo-2bar", "foo-bar2", "foo-1", "foo-", "+foo", "-foo", "foo_bar", "foo-r1", "foo-1a", "3dfx", "foo+", "foo-+x", "a.b", "foo-1.0"];
    for (const op of ["", "<", "<=", "=", "~", ">=", ">", "!", "!!", "=<"])
      for (const cat of ["dev-libs", "x11-libs", "a.b", "-bad", "Cat_1+"])
        for (const name of names)
          for (const v of ["", ...versions.slice(0, 40), "1.", ".1", "1_x", "1-r", "1b2"])
            for (const tail of ["", "*", ":0", ":0/1", ":=", ":", ":a.b", "::gentoo", "[ssl]"]) candidates.push(`${op}${cat}/${name}${v ? `-${v}` : ""}${tail}`);
    let accepted = 0;
    for (const c of candidates) if (agrees(c)) accepted++;
    // it must also be useful: the plain shapes (about 16,000 of these candidates) take the quick path
    expect(accepted).toBeGreaterThan(15_000);
    expect(plainAtomCp(">=dev-libs/foo-bar-1.2_rc3-r1:3", eapiFeatures("5")!)).toBe("dev-libs/foo-bar");
    expect(plainAtomCp("=dev-libs/foo-1.2*", eapiFeatures("0")!)).toBe("dev-libs/foo");
    expect(plainAtomCp("dev-libs/foo:3", eapiFeatures("0")!)).toBeUndefined();
  });

  it("still reports a bad line in a profile's package.mask when the file is read", () => {
    const root = tmpdir();
    installDemoConfig(root);
    const config = new Config({ root, configRoot: root });
    const mask = path.join(config.stack[0]!.dir, "package.mask");
    fs.appendFileSync(mask, ">=dev-libs/broken\n<dev-libs/fine-2\n");
    const again = new Config({ root, configRoot: root });
    expect(again.warnings.some((w) => w.startsWith(`${mask}:`) && w.includes(">=dev-libs/broken"))).toBe(true);
    expect(again.maskCount()).toBe(config.maskCount() + 1);
  });
});

describe("bad configuration", () => {
  const broken = (mutate: (root: string) => void) => {
    const root = tmpdir();
    installDemoConfig(root);
    mutate(root);
    return root;
  };
  const errorOf = (root: string): OuzoError => {
    try {
      new Config({ root, configRoot: root });
    } catch (e) {
      return e as OuzoError;
    }
    throw new Error("no error");
  };
  const core = "var/git/meta-repo/kits/core-kit/profiles/funtoo/1.0/linux-gnu";

  it("warns about a malformed atom in /etc/portage/package.use with file and line, and skips only that line, as Portage does", () => {
    const root = broken((r) => fs.appendFileSync(path.join(r, "etc/portage/package.use/demo"), "app-misc/hello[ nls\n"));
    const fresh = broken(() => {});
    const good = new Config({ root: fresh, configRoot: fresh });
    const config = new Config({ root, configRoot: root });
    expect(config.warnings).toContain(`${path.join(root, "etc/portage/package.use/demo")}:4: invalid atom 'app-misc/hello[': unterminated '['; line skipped`);
    const hello = { category: "app-misc", package: "hello", version: Version.parse("2.1"), slot: "0", repo: "core-kit", eapi: "8", iuse: ["nls", "doc"], keywords: ["*"], license: "GPL-3+", properties: "", restrict: "" };
    expect(config.useFor(hello).enabled).toEqual(good.useFor(hello).enabled);
    // the command line says so, and goes on
    const r = ouzo(["info", "--root", root, "--json", "app-misc/hello"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: ${path.join(root, "etc/portage/package.use/demo")}:4: invalid atom 'app-misc/hello[': unterminated '['; line skipped`);
  });

  it("reports a parent cycle", () => {
    const root = broken((r) => fs.writeFileSync(path.join(r, core, "flavor/minimal/parent"), "../desktop\n"));
    const e = errorOf(root);
    expect(e.code).toBe("PARENT_CYCLE");
    expect(e.origin).toEqual({ file: fs.realpathSync(path.join(root, core, "flavor/minimal/parent")), line: 1 });
  });

  it("reports a missing parent with the line naming it", () => {
    const root = broken((r) => fs.appendFileSync(path.join(r, "etc/portage/make.profile/parent"), "core-kit:funtoo/1.0/linux-gnu/mix-ins/nope\n"));
    const e = errorOf(root);
    expect(e.code).toBe("MISSING_PARENT");
    expect(e.origin.line).toBe(11);
  });

  it("reports an unknown EAPI in a profile", () => {
    const root = broken((r) => fs.writeFileSync(path.join(r, core, "build/next/eapi"), "42-funtoo\n"));
    expect(errorOf(root).describe()).toBe(`${fs.realpathSync(path.join(root, core, "build/next/eapi"))}:1: unsupported EAPI '42-funtoo' in profile`);
  });

  it("reports an unterminated quote in make.conf through the CLI, one line, exit 1, no stack trace", () => {
    const root = broken((r) => fs.appendFileSync(path.join(r, "etc/portage/make.conf"), 'CFLAGS="-O2\n'));
    const r = ouzo(["profile", "show", "--root", root]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`ouzo: ${path.join(root, "etc/portage/make.conf")}:10: unterminated double quote`);
    expect(r.stderr).not.toMatch(/at .*\.js/);
  });

  it("warns about and skips a bad atom in a profile, as Portage does", () => {
    const root = broken((r) => writeTree(r, { [`${core}/flavor/core/package.mask`]: "not-an-atom\n" }));
    const config = new Config({ root, configRoot: root });
    expect(config.warnings.some((w) => w.includes("flavor/core/package.mask:1: invalid atom 'not-an-atom'"))).toBe(true);
  });

  it("skips extended atoms in profiles: they belong to user configuration only", () => {
    const root = broken((r) => writeTree(r, { [`${core}/flavor/core/package.mask`]: "*/*\n" }));
    const config = new Config({ root, configRoot: root });
    expect(config.warnings.some((w) => w.includes("flavor/core/package.mask:1: invalid atom '*/*'"))).toBe(true);
    expect(config.visibility(pkg("app-misc/a-1"))).toEqual([]);
  });
});

describe("deprecated profiles", () => {
  it("warns with the replacement when a deprecated profile is selected", () => {
    const root = tmpdir();
    installDemoConfig(root);
    fs.appendFileSync(path.join(root, "etc/portage/make.profile/parent"), "core-kit:funtoo/1.0/linux-gnu/mix-ins/no-systemd\n");
    const config = new Config({ root, configRoot: root });
    expect(config.warnings.filter((w) => w.includes("deprecated"))).toEqual([
      `profile ${fs.realpathSync(path.join(root, "var/git/meta-repo/kits/core-kit/profiles/funtoo/1.0/linux-gnu/mix-ins/no-systemd"))} is deprecated; use funtoo/1.0/linux-gnu/mix-ins/X (This mix-in is no longer needed.)`,
    ]);
  });
});
