import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { Config } from "../src/config/Config.js";
import { displayLines, removalAtom, removalCommand, removalDocument } from "../src/cli/emergeDepclean.js";
import type { EmergeArgs } from "../src/cli/commands/emerge.js";
import type { RemovalAction } from "../src/resolve/depclean.js";
import { collectingOutput, explainRoot, installedPackage as pkg, SYSTEM } from "./explainFixture.js";
import { ouzo } from "./helpers.js";

function plan(action: RemovalAction, atoms: string[] = [], args: Partial<EmergeArgs> = {}, extra: Record<string, string> = {}) {
  const root = explainRoot({ ...SYSTEM, ...extra });
  const config = new Config({ root, configRoot: root, env: {} });
  const c = collectingOutput(!!args.json);
  const r = removalCommand(config, { root, atoms, pretend: true, ...args } as EmergeArgs, c.out, action);
  const clean = (s: string) => s.split(root).join("ROOT");
  return { ...r, root, removed: r.plan.remove.map((x) => x.cpv), stdout: clean(c.stdout()), stderr: clean(c.stderr()) };
}

describe("--depclean as a plan", () => {
  it("removes what nothing in @world needs; keeps world, its dependencies (the leftmost installed || alternative) and build-time ones", () => {
    const r = plan("depclean");
    expect(r.exit).toBe(0);
    expect(r.removed.sort()).toEqual(["dev-lang/lang-2.0", "dev-libs/alt2-1.0", "dev-libs/multi-1.0", "dev-libs/orphan-1.0"]);
    expect([...r.plan.required.keys()].map((c) => c.cpv).sort()).toEqual(["app-misc/buildonly-1.0", "app-misc/older-1.0", "app-misc/top-1.0", "dev-lang/lang-1.0", "dev-libs/alt1-1.0", "dev-libs/liba-1.0", "dev-libs/multi-2.0"]);
    expect(r.plan.counts).toEqual({ installed: 11, world: 2, system: 0, profile: 0, required: 7, remove: 4 });
    // the display: one block per package name (nothing removed depends on another), then the summary
    expect(r.stdout.split("\n").slice(0, 8)).toEqual(["", ">>> Packages that would be unmerged:", "", " dev-lang/lang", "    selected: 2.0 ", "   protected: none ", "     omitted: 1.0 ", ""]);
    expect(r.stdout).toContain("All selected packages: ");
    expect(r.stdout).toContain(" required:            7\n to remove:           4\n");
  });

  it("--with-bdeps=n: what is needed only to build goes too", () => {
    expect(plan("depclean", [], { withBdeps: "n" }).removed.sort()).toEqual(["app-misc/buildonly-1.0", "dev-lang/lang-2.0", "dev-libs/alt2-1.0", "dev-libs/multi-1.0", "dev-libs/orphan-1.0"]);
  });

  it("with atoms: only they may go; one still needed is refused, naming who needs it and how", () => {
    const refused = plan("depclean", ["dev-libs/liba", "dev-libs/orphan"]);
    expect(refused.removed).toEqual(["dev-libs/orphan-1.0"]);
    expect(refused.stderr).toContain("ouzo: dev-libs/liba-1.0 is not removed: app-misc/top-1.0 needs dev-libs/liba (RDEPEND)");
    expect(refused.stdout).toContain(" dev-libs/liba\n    selected: none \n   protected: 1.0 \n     omitted: none \n");
    // a world package named is removed when nothing else needs it (its world entry does not count)
    expect(plan("depclean", ["app-misc/top"]).removed).toEqual(["app-misc/top-1.0"]);
    // nothing removed, atoms given, not pretend: exit 1
    expect(plan("depclean", ["dev-libs/liba"], { pretend: false }).exit).toBe(1);
    expect(plan("depclean", ["dev-libs/nothing-here"]).exit).toBe(1);
  });

  it("stops when an installed package needs what nothing installed provides, naming both", () => {
    const r = plan("depclean", [], {}, { ...pkg("dev-libs/broken-1.0", { RDEPEND: "dev-libs/gone" }), "var/lib/portage/world": "app-misc/top\ndev-libs/broken\n" });
    expect(r.exit).toBe(1);
    expect(r.removed).toEqual([]);
    expect(r.stderr).toContain("ouzo: depclean stops: installed packages need what nothing installed provides, so nothing is removed:\n  dev-libs/gone (RDEPEND of dev-libs/broken-1.0::explain-kit)\n");
    const doc = plan("depclean", [], { json: true }, { ...pkg("dev-libs/broken-1.0", { RDEPEND: "dev-libs/gone" }), "var/lib/portage/world": "dev-libs/broken\n" });
    expect(JSON.parse(doc.stdout)).toMatchObject({ ok: false, action: "depclean", failure: { code: "depclean-unresolved", chain: [{ package: "dev-libs/broken-1.0", class: "RDEPEND", atom: "dev-libs/gone" }] } });
  });

  it("-v says what keeps each package; --json carries the plan, the display, the counts", () => {
    const v = plan("depclean", [], { verbose: true });
    expect(v.stdout).toContain("  dev-libs/alt1-1.0 pulled in by:\n    dev-libs/liba-1.0 needs dev-libs/alt1 (RDEPEND)\n");
    expect(v.stdout).toContain("  app-misc/top-1.0 pulled in by:\n    in @world (app-misc/top)\n");
    const doc = JSON.parse(plan("depclean", [], { json: true }).stdout);
    expect(doc).toMatchObject({ schema: "ouzo-plan/1", ok: true, action: "depclean", counts: { installed: 11, required: 7, remove: 4 } });
    expect(doc.plan.map((e: { cpv: string; op: string }) => `${e.op} ${e.cpv}`).sort()).toEqual(["unmerge dev-lang/lang-2.0", "unmerge dev-libs/alt2-1.0", "unmerge dev-libs/multi-1.0", "unmerge dev-libs/orphan-1.0"]);
    expect(doc.unmerge_display[0]).toEqual({ cp: "dev-lang/lang", selected: ["2.0"], protected: [], omitted: ["1.0"] });
  });

  it("removal order: a package before what it depends on", () => {
    const r = plan("depclean", [], {}, { ...pkg("dev-libs/user-1.0", { RDEPEND: "dev-libs/orphan" }) });
    expect(r.removed.indexOf("dev-libs/user-1.0")).toBeLessThan(r.removed.indexOf("dev-libs/orphan-1.0"));
    // with links among the removed, one block per package in removal order
    expect(r.plan.display.map((b) => b.cp)).toEqual(r.plan.remove.map((c) => `${c.category}/${c.package}`));
  });
});

describe("--prune and --unmerge as plans", () => {
  it("--prune: older versions nothing needs go; one an installed package still needs stays, and with its atom it is refused", () => {
    expect(plan("prune").removed).toEqual(["dev-libs/multi-1.0"]);
    const named = plan("prune", ["dev-lang/lang"]);
    expect(named.removed).toEqual([]);
    expect(named.stderr).toContain("ouzo: dev-lang/lang-1.0 is not removed: app-misc/top-1.0 needs dev-lang/lang:1 (RDEPEND)");
    const doc = removalDocument(plan("prune", ["dev-libs/multi"]).plan, "/", false);
    expect(doc.plan).toEqual([{ index: 0, op: "unmerge", cpv: "dev-libs/multi-1.0", repo: "explain-kit", slot: "1", subslot: "1", root: "/", reason: { kind: "prune", kept: "dev-libs/multi-2.0" } }]);
  });

  it("--unmerge: what the atoms name, no dependency checks, but who still needs it is said", () => {
    const r = plan("unmerge", ["dev-libs/liba", "alt*"]);
    expect(r.removed.sort()).toEqual(["dev-libs/alt1-1.0", "dev-libs/alt2-1.0", "dev-libs/liba-1.0"]);
    expect(r.stderr).toContain("warning: dev-libs/liba-1.0 is still needed: app-misc/top-1.0 needs dev-libs/liba (RDEPEND)");
    expect(r.stderr).not.toContain("alt1-1.0 is still needed");
    expect(displayLines(r.plan)).toContain("All selected packages: " + r.plan.remove.map((c) => `=${c.cpv}`).join(" "));
    expect(removalAtom("liba-1.0", r.plan.remove).toString()).toBe("=dev-libs/liba-1.0");
    expect(removalAtom("alt*").toString()).toBe("*/alt*");
    expect(plan("unmerge", ["orphan-1.0"]).removed).toEqual(["dev-libs/orphan-1.0"]);
  });
});

describe("--clean and --deselect", () => {
  it("--clean keeps the latest installed version of each slot (by COUNTER, not by version), with no dependency checks", () => {
    const twoInOneSlot = {
      ...pkg("dev-libs/twin-1.0", { SLOT: "0", COUNTER: "20" }),
      ...pkg("dev-libs/twin-2.0", { SLOT: "0", COUNTER: "10" }),
      ...pkg("dev-libs/twin-3.0", { SLOT: "3", COUNTER: "5" }),
    };
    const r = plan("clean", ["dev-libs/twin"], {}, twoInOneSlot);
    // 1.0 was installed last in slot 0: it stays; slot 3 has one version
    expect(r.removed).toEqual(["dev-libs/twin-2.0"]);
    // each slot's latest is what protects the others from going
    expect(r.stdout).toContain(" dev-libs/twin\n    selected: 2.0 \n   protected: 1.0 3.0 \n     omitted: none \n");
    expect(JSON.parse(plan("clean", ["dev-libs/twin"], { json: true }, twoInOneSlot).stdout).plan[0].reason).toEqual({ kind: "clean", kept: "dev-libs/twin-1.0" });
    // without arguments: every installed package; the fixture's slots hold one version each
    expect(plan("clean", [], {}, twoInOneSlot).removed).toEqual(["dev-libs/twin-2.0"]);
  });

  it("--deselect takes world entries away (slots and repositories as the argument says), -p only tells", async () => {
    const root = explainRoot({ ...SYSTEM, "var/lib/portage/world": "app-misc/top\napp-misc/older:1\ndev-libs/liba::explain-kit\n", "var/lib/portage/world_sets": "@mine\n" });
    const run = (args: string[]) => ouzo(["emerge", "--root", root, "--config-root", root, ...args]);
    const p = run(["-p", "--deselect", "top", "@mine"]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain('>>> Removing app-misc/top from "world" favorites file...');
    expect(p.stdout).toContain('>>> Removing @mine from "world_sets" favorites file...');
    expect(fs.readFileSync(path.join(root, "var/lib/portage/world"), "utf8")).toContain("app-misc/top");
    // a slotted argument leaves an entry of another slot; an unqualified one takes a qualified entry
    expect(run(["-W", "app-misc/older:2"]).stdout).toContain("No matching atoms found");
    expect(run(["--deselect", "top", "dev-libs/liba", "@mine"]).code).toBe(0);
    expect(fs.readFileSync(path.join(root, "var/lib/portage/world"), "utf8")).toBe("app-misc/older:1\n");
    expect(fs.readFileSync(path.join(root, "var/lib/portage/world_sets"), "utf8")).toBe("");
    // nothing was unmerged
    expect(fs.existsSync(path.join(root, "var/db/pkg/app-misc/top-1.0"))).toBe(true);
    // an unmerge with --deselect=n leaves the world file alone; --rage-clean is --unmerge
    expect(run(["-C", "--deselect=n", "app-misc/older"]).code).toBe(0);
    expect(fs.existsSync(path.join(root, "var/db/pkg/app-misc/older-1.0"))).toBe(false);
    expect(fs.readFileSync(path.join(root, "var/lib/portage/world"), "utf8")).toBe("app-misc/older:1\n");
    expect(run(["--rage-clean", "dev-libs/orphan"]).code).toBe(0);
    // two actions at once are refused
    const two = run(["--clean", "-C", "app-misc/top"]);
    expect(two.code).toBe(1);
    expect(two.stderr).toContain("one action at a time, not --clean and --unmerge");
    expect(fs.existsSync(path.join(root, "var/db/pkg/dev-libs/orphan-1.0"))).toBe(false);
  });
});
