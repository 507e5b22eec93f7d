import { describe, expect, it } from "vitest";
import { Config } from "../src/config/Config.js";
import { dependsCommand, whyCommand } from "../src/cli/commands/depends.js";
import { OuzoError } from "../src/core/errors.js";
import { collectingOutput, explainRoot, SYSTEM } from "./explainFixture.js";

function ask(fn: typeof dependsCommand, atom: string, opts: { json?: boolean; withBdeps?: string } = {}) {
  const root = explainRoot(SYSTEM);
  const config = new Config({ root, configRoot: root, env: {} });
  const c = collectingOutput(!!opts.json);
  const code = fn(config, { root, atom, json: opts.json, withBdeps: opts.withBdeps }, c.out);
  const out = c.stdout().split(root).join("ROOT");
  return { code, out, lines: out.trimEnd().split("\n"), doc: opts.json ? JSON.parse(out) : undefined };
}

describe("ouzo depends", () => {
  it("lists the installed packages whose dependencies an installed package satisfies, by class", () => {
    expect(ask(dependsCommand, "dev-libs/liba").lines).toEqual(["dev-libs/liba-1.0::explain-kit", "  RDEPEND", "    app-misc/top-1.0 (dev-libs/liba)"]);
    expect(ask(dependsCommand, "app-misc/buildonly").lines).toEqual(["app-misc/buildonly-1.0::explain-kit", "  DEPEND", "    app-misc/top-1.0 (app-misc/buildonly)"]);
    // an || alternative counts, said as such; an installed package nothing needs says so
    expect(ask(dependsCommand, "alt2").lines).toEqual(["dev-libs/alt2-1.0::explain-kit", "  RDEPEND", "    dev-libs/liba-1.0 (dev-libs/alt2, one of an || group)"]);
    expect(ask(dependsCommand, "dev-libs/orphan").lines).toEqual(["dev-libs/orphan-1.0::explain-kit: no installed package depends on it"]);
  });

  it("--json, and a name nothing installed matches is an error", () => {
    expect(ask(dependsCommand, "dev-lang/lang", { json: true }).doc).toEqual({
      packages: [
        { cpv: "dev-lang/lang-1.0", repo: "explain-kit", slot: "1", dependents: [{ by: "app-misc/top-1.0", class: "RDEPEND", atom: "dev-lang/lang:1", any_of: false }] },
        { cpv: "dev-lang/lang-2.0", repo: "explain-kit", slot: "2", dependents: [] },
      ],
    });
    expect(() => ask(dependsCommand, "dev-libs/nothing")).toThrow(OuzoError);
  });
});

describe("ouzo why", () => {
  it("the chain from the world file entry to the package, each link a dependency with its class", () => {
    expect(ask(whyCommand, "dev-libs/alt1").lines).toEqual([
      "dev-libs/alt1-1.0 is kept by:",
      "  @selected has app-misc/top (ROOT/var/lib/portage/world:2): app-misc/top-1.0",
      "    app-misc/top-1.0 needs dev-libs/liba (RDEPEND): dev-libs/liba-1.0",
      "      dev-libs/liba-1.0 needs dev-libs/alt1 (RDEPEND): dev-libs/alt1-1.0",
    ]);
  });

  it("a package nothing keeps, and a build-time dependency that --with-bdeps=n does not count", () => {
    expect(ask(whyCommand, "dev-libs/orphan").lines).toEqual(["dev-libs/orphan-1.0: nothing in @world or @system needs it (ouzo emerge --depclean would remove it)"]);
    expect(ask(whyCommand, "app-misc/buildonly").lines[2]).toBe("    app-misc/top-1.0 needs app-misc/buildonly (DEPEND): app-misc/buildonly-1.0");
    expect(ask(whyCommand, "app-misc/buildonly", { withBdeps: "n" }).lines[0]).toMatch(/nothing in @world or @system needs it/);
    const doc = ask(whyCommand, "dev-libs/liba", { json: true }).doc;
    expect(doc.packages[0]).toEqual({
      cpv: "dev-libs/liba-1.0",
      repo: "explain-kit",
      kept: true,
      chain: [
        { set: "@selected", atom: "app-misc/top", cpv: "app-misc/top-1.0", decided_by: "ROOT/var/lib/portage/world:2" },
        { by: "app-misc/top-1.0", class: "RDEPEND", atom: "dev-libs/liba", cpv: "dev-libs/liba-1.0" },
      ],
    });
  });
});
