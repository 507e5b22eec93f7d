import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readInstalled, splitPackageDir, type VdbWarning } from "../src/vdb/installed.js";
import { readWorld, type WorldWarning } from "../src/vdb/world.js";
import { FIXTURES } from "./vectors.js";
import { tmpdir, writeTree } from "./helpers.js";

/** The fixture ROOT: a vdb and world files written the way Portage writes them (every file of §9.2 for zlib). */
function root(): string {
  const dir = tmpdir();
  fs.cpSync(path.join(FIXTURES, "vdb"), dir, { recursive: true });
  return dir;
}

describe("the installed-package database, read side", () => {
  it("reads every entry as Portage wrote it: SLOT/SUBSLOT, USE, IUSE, repository, bound := deps, COUNTER without newline", () => {
    const r = root();
    const warnings: VdbWarning[] = [];
    const pkgs = readInstalled(r, (w) => warnings.push(w));
    expect(warnings).toEqual([]);
    expect(pkgs.map((p) => p.cpv)).toEqual(["app-misc/foo-bar-2.0_p1", "dev-lang/python-3.11.9", "sys-libs/zlib-1.3.1-r1"]);
    const [foo, python, zlib] = pkgs;
    expect(zlib).toMatchObject({
      category: "sys-libs",
      package: "zlib",
      slot: "0",
      subslot: "1",
      eapi: "7",
      iuse: ["minizip", "static-libs", "abi_x86_32", "abi_x86_64"],
      use: ["abi_x86_64", "amd64", "elibc_glibc", "kernel_linux"],
      keywords: ["*"],
      repo: "core-kit",
      rdepend: "",
      bdepend: "sys-devel/autoconf",
      license: "ZLIB",
      inherited: ["toolchain-funcs", "multilib", "multilib-build", "libtool", "usr-ldscript"],
      counter: 1042,
      buildTime: 1732000000,
      description: "Standard (de)compression library",
    });
    expect(zlib!.version.text).toBe("1.3.1-r1");
    expect(python).toMatchObject({ slot: "3.11", subslot: "3.11", eapi: "8", iuse: ["+ncurses", "+readline", "sqlite", "+ssl", "test"], pdepend: "app-eselect/eselect-python", idepend: "", restrict: "test", counter: 1043 });
    expect(python!.rdepend).toBe("app-arch/bzip2:= >=sys-libs/zlib-1.1.3:0/1= ncurses? ( >=sys-libs/ncurses-5.2:0/6= ) dev-libs/openssl:0/3=");
    // missing files read as empty (EAPI as 0), and runs of blanks collapse
    expect(foo).toMatchObject({ package: "foo-bar", slot: "0", subslot: "0", eapi: "0", use: [], repo: "", counter: 7, buildTime: 0, description: "A name with a hyphen" });
    expect(foo!.version.text).toBe("2.0_p1");
  });

  it("reports a malformed entry by directory and file and skips it, losing nothing else", () => {
    const r = root();
    const pkg = path.join(r, "var/db/pkg");
    writeTree(pkg, {
      "app-misc/noslot-1/CATEGORY": "app-misc\n",
      "app-misc/moved-1/CATEGORY": "app-text\n",
      "app-misc/moved-1/SLOT": "0\n",
      "app-misc/badcounter-1/SLOT": "0\n",
      "app-misc/badcounter-1/COUNTER": "12x",
      "app-misc/not-a-version/SLOT": "0\n",
      "app-misc/-MERGING-half-1/SLOT": "0\n",
      "app-misc/.keep_app-misc-0": "",
      "app-misc/lost+found/SLOT": "0\n",
      "Not_A_Category!/x-1/SLOT": "0\n",
    });
    const warnings: VdbWarning[] = [];
    const pkgs = readInstalled(r, (w) => warnings.push(w));
    expect(pkgs.map((p) => p.cpv)).toEqual(["app-misc/foo-bar-2.0_p1", "dev-lang/python-3.11.9", "sys-libs/zlib-1.3.1-r1"]);
    const rel = (w: VdbWarning) => `${path.relative(pkg, w.dir)}${w.file ? `/${w.file}` : ""}: ${w.message}`;
    expect(warnings.map(rel).sort()).toEqual([
      "Not_A_Category!: 'Not_A_Category!' is not a valid category name; skipped",
      "app-misc/-MERGING-half-1: an interrupted merge left this entry under construction; it is not counted as installed",
      "app-misc/badcounter-1/COUNTER: COUNTER is not a whole number: '12x'; entry skipped",
      "app-misc/moved-1/CATEGORY: says category 'app-text' but sits in 'app-misc'; entry skipped",
      "app-misc/noslot-1/SLOT: no SLOT: the entry is broken; entry skipped",
      "app-misc/not-a-version: 'not-a-version' is not a package name followed by a version; entry skipped",
    ]);
  });

  it("splits a PF the way PMS allows: a name cannot end in a hyphen and a version", () => {
    expect(splitPackageDir("foo-bar-1.0-r1")).toMatchObject({ pn: "foo-bar" });
    expect(splitPackageDir("gtk+-3.24.41")).toMatchObject({ pn: "gtk+" });
    expect(splitPackageDir("font-adobe-100dpi-1.0.4")).toMatchObject({ pn: "font-adobe-100dpi" });
    expect(splitPackageDir("foo-1-2")).toBeUndefined();
    expect(splitPackageDir("foo")).toBeUndefined();
  });

  it("reads an empty or absent vdb as nothing installed", () => {
    expect(readInstalled(tmpdir())).toEqual([]);
  });
});

describe("the world files", () => {
  it("reads atoms (with :slot and ::repo) and sets, skipping comments and duplicates", () => {
    const w = readWorld(root());
    expect(w.atoms.map((a) => a.toString())).toEqual(["app-misc/foo-bar", "dev-lang/python:3.11", "sys-apps/portage::core-kit"]);
    expect(w.sets).toEqual(["desktop", "kde/apps"]);
  });

  it("reports an invalid entry with its file and line and keeps the rest", () => {
    const r = root();
    writeTree(r, { "var/lib/portage/world": "app-misc/ok\nnot an atom\n!app-misc/blocked\n*/*\n", "var/lib/portage/world_sets": "@good\nbad\n" });
    const warnings: WorldWarning[] = [];
    const w = readWorld(r, (x) => warnings.push(x));
    expect(w.atoms.map((a) => a.toString())).toEqual(["app-misc/ok"]);
    expect(w.sets).toEqual(["good"]);
    expect(warnings.map((x) => `${path.basename(x.file)}:${x.line}: ${x.message}`)).toEqual([
      "world:2: invalid atom 'not': missing 'category/'; entry skipped",
      "world:3: a blocker is not a world entry: '!app-misc/blocked'; entry skipped",
      "world:4: a wildcard is not a world entry: '*/*'; entry skipped",
      "world_sets:2: 'bad' is not a set name (@name); entry skipped",
    ]);
  });
});
