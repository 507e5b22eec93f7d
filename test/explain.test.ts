import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { failureDocument, failureText } from "../src/cli/emergeExplain.js";
import { explainCycle } from "../src/resolve/cycle.js";
import { renderExplanation } from "../src/resolve/explainText.js";
import { buildPlan } from "../src/resolve/plan.js";
import type { ResolveFailure } from "../src/resolve/resolve.js";
import { atom, context, explainRoot, installedPackage, KIT, lineExists, resolveIn } from "./explainFixture.js";

/** Resolve `atoms` on the fixture; the failure, its text with ROOT for the temporary root, and its JSON. */
async function fail(atoms: string[], extra: Record<string, string> = {}) {
  const root = explainRoot(extra);
  const ctx = context(root, atoms);
  try {
    const r = await resolveIn(ctx);
    expect(r.failure, `${atoms.join(" ")} should fail`).toBeDefined();
    const f = r.failure as ResolveFailure;
    const clean = (s: string) => s.split(root).join("ROOT");
    const text = clean(failureText(f, ctx.facts));
    const doc = failureDocument(f, ctx.facts) as { code: string; chain: { n: number; text: string; refs: number[]; decided_by?: string; kind: string }[] };
    return { root, f, headline: text.split("\n")[0]!, lines: text.split("\n").slice(1), doc, chain: doc.chain };
  } finally {
    ctx.close();
  }
}

/** Every `file:line` a line names exists and has that line; every file named exists. */
function expectRealReferences(texts: readonly string[]) {
  for (const t of texts) {
    for (const m of t.matchAll(/(?<=^|[\s(])(\/[^\s,;:()"]+):(\d+)/g)) expect(lineExists(`${m[1]}:${m[2]}`), `${m[0]} in "${t}"`).toBe(true);
    for (const m of t.matchAll(/(?<=^|[\s(])(\/[^\s,;:()"]+\.ebuild)/g)) expect(fs.existsSync(m[1]!), m[1]).toBe(true);
  }
}

describe("explanations: each failure class as numbered steps", () => {
  it("nothing matches an atom: the dependency, the missing name with the names that exist, the conclusion", async () => {
    const r = await fail(["app-misc/needs-typo"]);
    expect(r.lines).toEqual([
      "  1. app-misc/needs-typo (argument) can only be app-misc/needs-typo-1.0::explain-kit",
      "  2. no repository has a package dev-libs/libxml, and none is installed; did you mean dev-libs/libxml2, dev-libs/libpm, dev-libs/libssl?",
      "  3. app-misc/needs-typo-1.0::explain-kit needs dev-libs/libxml (RDEPEND), which nothing can satisfy (1, 2)",
      "  4. so app-misc/needs-typo cannot be installed (3)",
    ]);
    expect(r.doc.code).toBe("unsatisfied");
    // the dependency names the ebuild it is written in
    expect(r.chain[2]!.decided_by).toBe(`${r.root}/${KIT}/app-misc/needs-typo/needs-typo-1.0.ebuild:RDEPEND`);
    expectRealReferences([r.chain[2]!.decided_by!.replace(/:RDEPEND$/, "")]);
  });

  it("an argument nothing matches: one step with the names that exist", async () => {
    const r = await fail(["app-misc/filer1"]);
    expect(r.lines).toEqual([
      "  1. no repository has a package app-misc/filer1, and none is installed; did you mean app-misc/filler1, app-misc/filler10, app-misc/filler11?",
      "  2. app-misc/filer1 (argument): nothing can satisfy it (1)",
      "  3. so app-misc/filer1 cannot be installed (2)",
    ]);
  });

  it("every candidate masked: each version with its own reason (mask file and line with its comment, keywords in force, licence)", async () => {
    const r = await fail(["app-misc/needs-masked"]);
    expect(r.lines).toEqual([
      "  1. app-misc/needs-masked (argument) can only be app-misc/needs-masked-1.0::explain-kit",
      "  2. dev-libs/libmask-3.0::explain-kit cannot be installed: licence: EULA-foo is not accepted (ACCEPT_LICENSE)",
      '  3. dev-libs/libmask-2.1::explain-kit cannot be installed: keywords: KEYWORDS="~amd64" has nothing ACCEPT_KEYWORDS="amd64" accepts (~amd64 would let it in)',
      '  4. dev-libs/libmask-2.0::explain-kit cannot be installed: masked by ROOT/etc/portage/package.mask:3 (=dev-libs/libmask-2.0), "libmask 2.0 corrupts its database on upgrade (see the release notes)"',
      "  5. app-misc/needs-masked-1.0::explain-kit needs >=dev-libs/libmask-2 (RDEPEND), which nothing can satisfy (1, 2, 3, 4)",
      "  6. so app-misc/needs-masked cannot be installed (5)",
    ]);
    expect(r.doc.code).toBe("masked");
    expectRealReferences(r.chain.map((s) => s.text));
    expect(r.chain[3]!.decided_by).toBe(`${r.root}/etc/portage/package.mask:3`);
    expect(fs.readFileSync(path.join(r.root, "etc/portage/package.mask"), "utf8").split("\n")[2]).toBe("=dev-libs/libmask-2.0");
  });

  it("an unsatisfiable USE dependency: the flag the version lacks, and the parent's flag that switched the dependency on", async () => {
    const r = await fail(["app-misc/gui-app"]);
    expect(r.lines).toEqual([
      "  1. app-misc/gui-app (argument) can only be app-misc/gui-app-1.0::explain-kit",
      "  2. x11-libs/toolkit-1.0::explain-kit does not have the USE x11-libs/toolkit[X] asks for: X is off (no setting enables it)",
      '  3. app-misc/gui-app-1.0::explain-kit needs x11-libs/toolkit[X] (RDEPEND, USE="gui" from the IUSE default of app-misc/gui-app-1.0 (+gui)), which nothing can satisfy (1, 2)',
      "  4. so app-misc/gui-app cannot be installed (3)",
    ]);
    expect(r.doc.code).toBe("use-dep");
  });

  it("a USE flag switched on by a package.use line is named with its file and line", async () => {
    const r = await fail(["app-misc/gui-app"], { "etc/portage/package.use/gui": "# the gui\napp-misc/gui-app gui\n" });
    expect(r.lines[2]).toBe('  3. app-misc/gui-app-1.0::explain-kit needs x11-libs/toolkit[X] (RDEPEND, USE="gui" from ROOT/etc/portage/package.use/gui:2), which nothing can satisfy (1, 2)');
    expectRealReferences(r.chain.map((s) => s.text));
  });

  it("a REQUIRED_USE violation: the unsatisfied part, readable, with each flag's state", async () => {
    const r = await fail(["app-misc/needs-picky"]);
    expect(r.lines).toEqual([
      "  1. app-misc/needs-picky (argument) can only be app-misc/needs-picky-1.0::explain-kit",
      "  2. app-misc/picky-1.0::explain-kit cannot be installed: REQUIRED_USE: exactly-one-of ( a b ) does not hold with a off, b off",
      "  3. app-misc/needs-picky-1.0::explain-kit needs app-misc/picky (RDEPEND), which nothing can satisfy (1, 2)",
      "  4. so app-misc/needs-picky cannot be installed (3)",
    ]);
    expect(r.doc.code).toBe("required-use");
    expect((failureDocument(r.f) as { required_use: unknown }).required_use).toBeNull();
    expect((r.doc as unknown as { required_use: { cpv: string; expression: string } }).required_use).toMatchObject({ cpv: "app-misc/picky-1.0", expression: "^^ ( a b )", unsatisfied: "^^ ( a b )" });
  });

  it("a slot conflict: the two requirements, and the slot that holds one package", async () => {
    const r = await fail(["app-misc/wants-new", "app-misc/wants-old"]);
    expect(r.headline).toBe("no plan satisfies every dependency, slot and blocker of this request together: dev-libs/libslot-1.0 and dev-libs/libslot-2.0 would both take slot dev-libs/libslot:0");
    expect(r.lines).toEqual([
      "  1. app-misc/wants-new (argument) can only be app-misc/wants-new-1.0::explain-kit",
      "  2. app-misc/wants-old (argument) can only be app-misc/wants-old-1.0::explain-kit",
      "  3. app-misc/wants-new-1.0::explain-kit needs >=dev-libs/libslot-2 (RDEPEND): only dev-libs/libslot-2.0::explain-kit is left to satisfy it (1)",
      "  4. app-misc/wants-old-1.0::explain-kit needs <dev-libs/libslot-2 (RDEPEND): only dev-libs/libslot-1.0::explain-kit is left to satisfy it (2)",
      "  5. dev-libs/libslot-1.0::explain-kit and dev-libs/libslot-2.0::explain-kit are both in slot dev-libs/libslot:0, which holds one package (3, 4)",
      "  6. so app-misc/wants-new and app-misc/wants-old cannot be installed together (5)",
    ]);
    expect(r.doc).toMatchObject({ code: "slot-conflict", conflict: { slot: "dev-libs/libslot:0", packages: [{ cpv: "dev-libs/libslot-1.0" }, { cpv: "dev-libs/libslot-2.0" }] } });
  });

  it("an unresolvable blocker: who carries it, and the installed package the world file keeps (its line)", async () => {
    const r = await fail(["app-misc/newer"]);
    expect(r.lines).toEqual([
      "  1. app-misc/newer (argument) can only be app-misc/newer-1.0::explain-kit",
      "  2. app-misc/newer-1.0::explain-kit blocks app-misc/older (RDEPEND), so app-misc/older-1.0::explain-kit cannot be installed with it (1)",
      "  3. app-misc/older-1.0 is installed, the world file selects it (ROOT/var/lib/portage/world:1): it stays unless another version of slot app-misc/older:0 replaces it, and none can (2)",
      "  4. app-misc/newer-1.0::explain-kit blocks app-misc/older (RDEPEND), and both it and app-misc/older-1.0::explain-kit (installed) must be installed (1, 3)",
      "  5. so app-misc/newer cannot be installed (4)",
    ]);
    expect(r.doc.code).toBe("blocker");
    expectRealReferences(r.chain.map((s) => s.text));
  });

  it("an installed package the world file keeps, whose dependency the request would break (complete mode)", async () => {
    const root = explainRoot({ ...installedPackage("dev-libs/libslot-1.0"), ...installedPackage("app-misc/wants-old-1.0", { RDEPEND: "<dev-libs/libslot-2" }), "var/lib/portage/world": "app-misc/wants-old\n" });
    const ctx = context(root, ["=dev-libs/libslot-2.0"], { complete: [{ arg: "@selected", atom: atom("app-misc/wants-old"), set: "selected" }] });
    try {
      const { failure } = await resolveIn(ctx);
      expect(failureText(failure!, ctx.facts).split(root).join("ROOT").split("\n")).toEqual([
        "no plan satisfies every dependency, slot and blocker of this request together: the installed app-misc/wants-old-1.0 could neither stay nor be replaced",
        "  1. =dev-libs/libslot-2.0 (argument) can only be dev-libs/libslot-2.0::explain-kit",
        "  2. dev-libs/libslot-2.0::explain-kit takes slot dev-libs/libslot:0, which holds one package, so none of dev-libs/libslot-1.0::explain-kit, dev-libs/libslot-1.0::explain-kit (installed) can be installed (1)",
        "  3. app-misc/wants-old-1.0::explain-kit (installed) needs <dev-libs/libslot-2 (RDEPEND), which nothing can satisfy (2), so it cannot be kept",
        "  4. app-misc/wants-old-1.0::explain-kit needs <dev-libs/libslot-2 (RDEPEND), which nothing can satisfy (2), so it cannot be installed",
        "  5. app-misc/wants-old-1.0 is installed, the world file selects it (ROOT/var/lib/portage/world:1): it stays unless another version of slot app-misc/wants-old:0 replaces it, and none can, nor can it stay (3, 4)",
        "  6. so =dev-libs/libslot-2.0 cannot be installed (5)",
      ]);
    } finally {
      ctx.close();
    }
  });

  it("a build-time cycle: the shortest cycle with its classes and the flag that makes it, and the USE change that breaks it", async () => {
    const root = explainRoot();
    const ctx = context(root, ["app-misc/cyc-a"]);
    try {
      const { selection } = await resolveIn(ctx);
      const { cycle } = buildPlan(selection!);
      expect(cycle).toEqual(["app-misc/cyc-a-1.0", "app-misc/cyc-b-1.0"]);
      const x = explainCycle(selection!, cycle!, ctx.facts)!;
      expect(x.lines).toEqual([
        "  1. app-misc/cyc-a-1.0::explain-kit needs app-misc/cyc-b (DEPEND): app-misc/cyc-b-1.0::explain-kit must be merged before it",
        '  2. app-misc/cyc-b-1.0::explain-kit needs app-misc/cyc-a (DEPEND, USE="doc" from the IUSE default of app-misc/cyc-b-1.0 (+doc)): app-misc/cyc-a-1.0::explain-kit must be merged before it',
        "  3. so none of app-misc/cyc-a-1.0, app-misc/cyc-b-1.0 can be built first (1, 2)",
        "",
        "Changing USE would break the cycle (the flags can be set back once the packages are built):",
        "- app-misc/cyc-b-1.0 (Change USE: -doc)",
      ]);
      expect(x.document).toMatchObject({ code: "cycle", cycle: [{ cpv: "app-misc/cyc-a-1.0", edge: "buildtime", class: "DEPEND" }, { cpv: "app-misc/cyc-b-1.0", use: ["doc"] }, { cpv: "app-misc/cyc-a-1.0" }], suggestions: [{ cpv: "app-misc/cyc-b-1.0", use: { doc: false } }] });
    } finally {
      ctx.close();
    }
  });

  it("without the facts of the CLI, the candidates' own mask sentences are used", async () => {
    const r = await fail(["app-misc/needs-unstable"]);
    const bare = renderExplanation(r.f.explanation!).lines;
    expect(bare[1]).toBe("  2. dev-libs/libunst-2.0::explain-kit cannot be installed: missing keyword (missing keyword (accepted: amd64))");
  });
});

describe("explanations stay short", () => {
  it("minimal: unrelated packages added to the request do not lengthen the explanation", async () => {
    const small = await fail(["app-misc/wants-new", "app-misc/wants-old"]);
    const big = await fail(["app-misc/filler12", "app-misc/filler7", "app-misc/wants-new", "app-misc/needs-ssl", "app-misc/filler3", "app-misc/wants-old", "app-misc/filler11"]);
    // needs-ssl fails on its own too: the explanation names one conflict, not both
    expect(big.lines.length).toBeLessThanOrEqual(small.lines.length);
    expect(big.lines.join("\n")).not.toMatch(/filler/);
    expect(big.f.explanation!.core.length).toBeLessThanOrEqual(5);
  });

  it("every step refers only to earlier steps, and the last one concludes", async () => {
    for (const atoms of [["app-misc/needs-masked"], ["app-misc/wants-new", "app-misc/wants-old"], ["app-misc/newer"]]) {
      const r = await fail(atoms);
      for (const s of r.chain) for (const ref of s.refs) expect(ref).toBeLessThan(s.n);
      expect(r.chain.at(-1)!.kind).toBe("conclusion");
    }
  });

  it("the core holds the conflict's constraints only: two arguments, their two dependencies, the slot", async () => {
    const r = await fail(["app-misc/filler12", "app-misc/wants-new", "app-misc/wants-old"]);
    const core = r.f.explanation!.core;
    expect(core.map((o) => o.kind).sort()).toEqual(["dep", "dep", "request", "request", "slot"]);
  });
});
