// The command line of issue 11: failures explained, autounmask, depclean/prune/unmerge plans,
// `ouzo depends` and `ouzo why`, through the built CLI.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { explainRoot, SYSTEM } from "./explainFixture.js";
import { ouzo } from "./helpers.js";

const emerge = (root: string, ...args: string[]) => {
  const r = ouzo(["emerge", "--root", root, ...args]);
  const clean = (s: string) => s.split(root).join("ROOT");
  return { ...r, stdout: clean(r.stdout), stderr: clean(r.stderr) };
};

describe("ouzo emerge: failures as derivations", () => {
  it("every failure class prints numbered steps ending in a conclusion, and exits 1", () => {
    const root = explainRoot();
    const cases: [string[], RegExp][] = [
      [["app-misc/needs-typo"], /did you mean dev-libs\/libxml2/],
      [["app-misc/needs-masked", "--autounmask=n"], /masked by ROOT\/etc\/portage\/package\.mask:3/],
      [["app-misc/needs-ssl", "--autounmask=n"], /does not have the USE dev-libs\/libssl\[ssl\] asks for: ssl is off/],
      [["app-misc/needs-picky"], /REQUIRED_USE: exactly-one-of \( a b \) does not hold with a off, b off/],
      [["app-misc/wants-new", "app-misc/wants-old"], /are both in slot dev-libs\/libslot:0, which holds one package \(3, 4\)/],
      [["app-misc/newer"], /blocks app-misc\/older \(RDEPEND\)/],
      [["app-misc/cyc-a"], /- app-misc\/cyc-b-1.0 \(Change USE: -doc\)/],
    ];
    for (const [args, fact] of cases) {
      const r = emerge(root, "-p", ...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(fact);
      expect(r.stderr, args.join(" ")).toMatch(/^ {2}1\. /m);
      expect(r.stderr, args.join(" ")).toMatch(/^ {2}\d+\. so /m);
    }
  });

  it("--json: the same steps in failure.chain, with the failure class", () => {
    const root = explainRoot();
    const doc = JSON.parse(emerge(root, "-p", "--json", "app-misc/wants-new", "app-misc/wants-old").stdout);
    expect(doc).toMatchObject({ ok: false, failure: { code: "slot-conflict", conflict: { slot: "dev-libs/libslot:0" } } });
    expect(doc.failure.chain.map((s: { n: number; kind: string }) => `${s.n} ${s.kind}`)).toEqual(["1 argument", "2 argument", "3 dependency", "4 dependency", "5 slot", "6 conclusion"]);
    expect(doc.failure.chain[2]).toMatchObject({ package: "app-misc/wants-new-1.0", class: "RDEPEND", atom: ">=dev-libs/libslot-2", refs: [1] });
  });
});

describe("ouzo emerge: autounmask", () => {
  it("suggests the change in emerge's format with the plan that would follow (exit 1); --autounmask-write goes through CONFIG_PROTECT", () => {
    const root = explainRoot();
    const r = emerge(root, "-p", "app-misc/needs-ssl");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('[ebuild  N     ] dev-libs/libssl-1.0 to ROOT/ USE="ssl" ');
    expect(r.stdout).toContain("# required by app-misc/needs-ssl-1.0::explain-kit\n# required by app-misc/needs-ssl (argument)\n>=dev-libs/libssl-1.0 ssl\n");
    const w = emerge(root, "--autounmask-write", "app-misc/needs-ssl");
    expect(w.code).toBe(1);
    expect(fs.readFileSync(path.join(root, "etc/portage/._cfg0000_package.use"), "utf8")).toContain(">=dev-libs/libssl-1.0 ssl\n");
    expect(fs.existsSync(path.join(root, "etc/portage/package.use"))).toBe(false);
    // keywords only with --autounmask=y (emerge's y/n forms)
    expect(emerge(root, "-p", "--autounmask", "y", "app-misc/needs-unstable").stdout).toContain("=dev-libs/libunst-2.0 ~amd64");
    expect(emerge(root, "-p", "app-misc/needs-unstable").stdout).not.toContain("~amd64");
  });
});

describe("ouzo emerge --depclean, --prune, -C as plans", () => {
  it("shows what would go and what stays, refuses with who needs it", () => {
    const root = explainRoot(SYSTEM);
    const c = emerge(root, "-pc");
    expect(c.code).toBe(0);
    expect(c.stdout).toContain(" dev-libs/orphan\n    selected: 1.0 \n   protected: none \n     omitted: none \n");
    expect(c.stdout).toContain(" to remove:           4");
    const refused = emerge(root, "-p", "--depclean", "dev-libs/liba");
    expect(refused.stderr).toContain("dev-libs/liba-1.0 is not removed: app-misc/top-1.0 needs dev-libs/liba (RDEPEND)");
    expect(emerge(root, "-pP").stdout).toContain("All selected packages: =dev-libs/multi-1.0");
    const un = emerge(root, "-pC", "dev-libs/liba");
    expect(un.stdout).toContain("All selected packages: =dev-libs/liba-1.0");
    expect(un.stderr).toContain("dev-libs/liba-1.0 is still needed: app-misc/top-1.0 needs dev-libs/liba (RDEPEND)");
    const doc = JSON.parse(emerge(root, "-pc", "--json").stdout);
    expect(doc).toMatchObject({ action: "depclean", counts: { remove: 4 } });
  });
});

describe("ouzo depends and ouzo why", () => {
  it("answer from the installed packages, in text and --json", () => {
    const root = explainRoot(SYSTEM);
    const d = ouzo(["depends", "--root", root, "dev-libs/liba"]);
    expect([d.code, d.stdout]).toEqual([0, "dev-libs/liba-1.0::explain-kit\n  RDEPEND\n    app-misc/top-1.0 (dev-libs/liba)\n"]);
    const w = ouzo(["why", "--root", root, "--json", "dev-libs/alt1"]);
    expect(JSON.parse(w.stdout).packages[0].chain.map((l: { cpv: string }) => l.cpv)).toEqual(["app-misc/top-1.0", "dev-libs/liba-1.0", "dev-libs/alt1-1.0"]);
    expect(ouzo(["why", "--root", root, "dev-libs/nothing"]).code).toBe(1);
  });
});
