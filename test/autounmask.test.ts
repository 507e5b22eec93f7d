import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { type AutounmaskArgs, autounmaskPolicy, isProtected, resolveFailure, suggestionBlocks } from "../src/cli/emergeAutounmask.js";
import { levelsOf } from "../src/resolve/autounmask.js";
import { collectingOutput, context, explainRoot, resolveIn } from "./explainFixture.js";

/** `ouzo emerge [-p] atoms` on the fixture up to its failure, then what the failure handler does. */
async function run(atoms: string[], args: AutounmaskArgs & { pretend?: boolean; json?: boolean } = {}, extra: Record<string, string> = {}, root = explainRoot(extra)) {
  const c = collectingOutput(!!args.json);
  const ctx = context(root, atoms, {}, c.out);
  try {
    const { failure } = await resolveIn(ctx);
    expect(failure).toBeDefined();
    const outcome = await resolveFailure({ config: ctx.config, args: { atoms, pretend: args.pretend ?? true, ...args }, out: c.out, failure: failure!, request: ctx.request, opts: ctx.opts, sources: ctx.sources, store: ctx.store, installed: ctx.installed.all });
    const clean = (s: string) => s.split(root).join("ROOT");
    return { root, outcome, stdout: clean(c.stdout()), stderr: clean(c.stderr()), lines: clean(c.stdout()).split("\n") };
  } finally {
    ctx.close();
  }
}

/** The block of suggestions printed after the plan (from the heading on). */
const block = (lines: string[]) => lines.slice(lines.findIndex((l) => l.startsWith("To go on")));

describe("autounmask: the smallest change, in emerge's order and format", () => {
  it("a USE change (allowed by default): the plan that would follow, then the package.use line with its chain", async () => {
    const r = await run(["app-misc/needs-ssl"]);
    expect(r.outcome).toEqual({ exit: 1 });
    expect(r.lines[0]).toBe('[ebuild  N     ] dev-libs/libssl-1.0 to ROOT/ USE="ssl" ');
    expect(block(r.lines).slice(0, 6)).toEqual([
      "To go on, these USE changes are needed:",
      ' (portage(5) describes "package.use")',
      "# required by app-misc/needs-ssl-1.0::explain-kit",
      "# required by app-misc/needs-ssl (argument)",
      ">=dev-libs/libssl-1.0 ssl",
      "",
    ]);
    expect(r.stderr).toContain("ouzo: the plan needs the configuration changes above");
  });

  it("the parent's flag that decides whether the dependency exists is named in its `required by` line", async () => {
    const r = await run(["app-misc/gui-app"]);
    expect(block(r.lines).slice(2, 5)).toEqual(["# required by app-misc/gui-app-1.0::explain-kit[gui]", "# required by app-misc/gui-app (argument)", ">=x11-libs/toolkit-1.0 X"]);
  });

  it("a licence (allowed by default, as MARK's emerge does): the version the licence lets in, not the masked or unstable ones", async () => {
    const r = await run(["app-misc/needs-masked"]);
    expect(block(r.lines).slice(0, 5)).toEqual([
      "To go on, these licences have to be accepted:",
      ' (portage(5) describes "package.license")',
      "# required by app-misc/needs-masked-1.0::explain-kit",
      "# required by app-misc/needs-masked (argument)",
      ">=dev-libs/libmask-3.0 EULA-foo",
    ]);
  });

  it("an unstable keyword with --autounmask=y; none by default, which explains the failure instead", async () => {
    const r = await run(["app-misc/needs-unstable"], { autounmask: true });
    expect(r.lines[0]).toBe("[ebuild  N    ~] dev-libs/libunst-2.0 to ROOT/");
    expect(block(r.lines).slice(0, 5)).toEqual([
      "To go on, these keyword changes are needed:",
      ' (portage(5) describes "package.accept_keywords")',
      "# required by app-misc/needs-unstable-1.0::explain-kit",
      "# required by app-misc/needs-unstable (argument)",
      "=dev-libs/libunst-2.0 ~amd64",
    ]);
    const plain = await run(["app-misc/needs-unstable"]);
    expect(plain.stdout).toBe("");
    expect(plain.stderr).toContain("  2. dev-libs/libunst-2.0::explain-kit cannot be installed: keywords:");
  });

  it("a missing keyword (**) and an unmask with the mask file and its comment; --autounmask-keep-masks forbids both", async () => {
    const nokw = await run(["app-misc/needs-nokw"], { autounmask: true });
    expect(block(nokw.lines)[4]).toBe("=dev-libs/libnokw-1.0 **");
    expect(nokw.stdout).toContain("--autounmask-keep-masks");
    const unmask = await run(["app-misc/needs-unmask"], { autounmask: true });
    expect(block(unmask.lines).slice(0, 8)).toEqual([
      "To go on, these masks have to be lifted:",
      ' (portage(5) describes "package.unmask")',
      "# ROOT/var/db/repos/explain-kit/profiles/base/package.mask:",
      "# libpm is being removed",
      "# from the kit",
      "# required by app-misc/needs-unmask-1.0::explain-kit",
      "# required by app-misc/needs-unmask (argument)",
      "=dev-libs/libpm-1.0",
    ]);
    const kept = await run(["app-misc/needs-unmask"], { autounmask: true, autounmaskKeepMasks: true });
    expect(kept.stdout).toBe("");
    expect(kept.stderr).toContain("masked by ROOT/var/db/repos/explain-kit/profiles/base/package.mask:3");
  });

  it("--autounmask=n: no suggestion, the explanation", async () => {
    const r = await run(["app-misc/needs-ssl"], { autounmask: false });
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[2]).toBe("  2. dev-libs/libssl-1.0::explain-kit does not have the USE dev-libs/libssl[ssl] asks for: ssl is off (no setting enables it)");
  });

  it("what cannot take effect is not proposed: a REQUIRED_USE violation is explained", async () => {
    const r = await run(["app-misc/needs-picky"], { autounmask: true });
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("REQUIRED_USE: exactly-one-of ( a b ) does not hold with a off, b off");
  });

  it("--json: the plan with failure.code autounmask and the suggestions of §13.7", async () => {
    const r = await run(["app-misc/needs-ssl"], { json: true });
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, failure: { code: "autounmask" } });
    expect(doc.plan.map((e: { cpv: string }) => e.cpv)).toEqual(["dev-libs/libssl-1.0", "app-misc/needs-ssl-1.0"]);
    expect(doc.suggestions).toEqual([
      { file: "package.use", kind: "use", line: ">=dev-libs/libssl-1.0 ssl", comments: ["# required by app-misc/needs-ssl-1.0::explain-kit", "# required by app-misc/needs-ssl (argument)"], required_by: ["app-misc/needs-ssl-1.0", "app-misc/needs-ssl"], cpv: "dev-libs/libssl-1.0", target: "ROOT/etc/portage/._cfg0000_package.use", written: false },
    ]);
  });

  it("the policy and the levels: USE and licences by default, everything with =y but what is kept", () => {
    expect(autounmaskPolicy({})).toEqual({ use: true, license: true, unstable: false, masks: false });
    expect(autounmaskPolicy({ autounmask: true, autounmaskKeepKeywords: true })).toEqual({ use: true, license: true, unstable: false, masks: true });
    expect(autounmaskPolicy({ autounmask: false })).toBeUndefined();
    expect(levelsOf({ use: true, license: true, unstable: true, masks: true })).toHaveLength(7);
    expect(levelsOf({ use: true, license: false, unstable: false, masks: false })).toEqual([{ use: true, license: false, unstable: false, missing: false, unmask: false }]);
    expect(suggestionBlocks([])).toEqual([]);
  });
});

describe("--autounmask-write", () => {
  const unprotected = { "etc/portage/make.conf": 'CONFIG_PROTECT_MASK="/etc/portage"\n' };

  it("into a file: created when missing, appended to when there, atomically and exactly as shown", async () => {
    const first = await run(["app-misc/needs-ssl"], { autounmaskWrite: true, pretend: false }, unprotected);
    expect(first.outcome).toEqual({ exit: 1 });
    const file = path.join(first.root, "etc/portage/package.use");
    expect(fs.readFileSync(file, "utf8")).toBe("# required by app-misc/needs-ssl-1.0::explain-kit\n# required by app-misc/needs-ssl (argument)\n>=dev-libs/libssl-1.0 ssl\n");
    expect(first.stderr).toContain(`wrote ROOT/etc/portage/package.use`);
    await run(["app-misc/gui-app"], { autounmaskWrite: true, pretend: false }, {}, first.root);
    expect(fs.readFileSync(file, "utf8").split("\n").slice(3)).toEqual(["", "# required by app-misc/gui-app-1.0::explain-kit[gui]", "# required by app-misc/gui-app (argument)", ">=x11-libs/toolkit-1.0 X", ""]);
    // the next run finds a plan
    const ctx = context(first.root, ["app-misc/needs-ssl", "app-misc/gui-app"]);
    expect((await resolveIn(ctx)).selection).toBeDefined();
    ctx.close();
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("into a directory: appended to the file read last; an empty directory gets zz-autounmask", async () => {
    const r = await run(["app-misc/needs-unstable"], { autounmask: true, autounmaskWrite: true, pretend: false }, { ...unprotected, "etc/portage/package.accept_keywords/a-first": "=app-misc/filler1-1.0 ~amd64\n", "etc/portage/package.accept_keywords/sub/z-last": "# mine\n" });
    const dir = path.join(r.root, "etc/portage/package.accept_keywords");
    expect(fs.readFileSync(path.join(dir, "a-first"), "utf8")).toBe("=app-misc/filler1-1.0 ~amd64\n");
    expect(fs.readFileSync(path.join(dir, "sub/z-last"), "utf8")).toBe("# mine\n\n# required by app-misc/needs-unstable-1.0::explain-kit\n# required by app-misc/needs-unstable (argument)\n=dev-libs/libunst-2.0 ~amd64\n");
    const empty = explainRoot(unprotected);
    fs.mkdirSync(path.join(empty, "etc/portage/package.use"), { recursive: true });
    await run(["app-misc/needs-ssl"], { autounmaskWrite: true, pretend: false }, {}, empty);
    expect(fs.readFileSync(path.join(empty, "etc/portage/package.use/zz-autounmask"), "utf8")).toBe("# zz-autounmask\n\n# required by app-misc/needs-ssl-1.0::explain-kit\n# required by app-misc/needs-ssl (argument)\n>=dev-libs/libssl-1.0 ssl\n");
  });

  it("through CONFIG_PROTECT: a ._cfg0000_ file with the old content and the entries; the file itself untouched", async () => {
    const r = await run(["app-misc/needs-ssl"], { autounmaskWrite: true, pretend: false }, { "etc/portage/package.use": "app-misc/filler1 -doc\n" });
    const etc = path.join(r.root, "etc/portage");
    expect(fs.readFileSync(path.join(etc, "package.use"), "utf8")).toBe("app-misc/filler1 -doc\n");
    expect(fs.readFileSync(path.join(etc, "._cfg0000_package.use"), "utf8")).toBe("app-misc/filler1 -doc\n\n# required by app-misc/needs-ssl-1.0::explain-kit\n# required by app-misc/needs-ssl (argument)\n>=dev-libs/libssl-1.0 ssl\n");
    expect(r.stderr).toContain("wrote ROOT/etc/portage/._cfg0000_package.use (ROOT/etc/portage/package.use is under CONFIG_PROTECT)");
    expect(r.stderr).toContain("etc-update or dispatch-conf");
    // the next one takes the next number
    await run(["app-misc/needs-ssl"], { autounmaskWrite: true, pretend: false }, {}, r.root);
    expect(fs.existsSync(path.join(etc, "._cfg0001_package.use"))).toBe(true);
  });

  it("--autounmask-continue writes the file itself and hands back the plan; -p never writes", async () => {
    const r = await run(["app-misc/needs-ssl"], { autounmaskContinue: true, pretend: false });
    expect("selection" in r.outcome && r.outcome.selection.chosen.map((c) => c.cpv)).toEqual(["app-misc/needs-ssl-1.0", "dev-libs/libssl-1.0"]);
    expect(fs.readFileSync(path.join(r.root, "etc/portage/package.use"), "utf8")).toContain(">=dev-libs/libssl-1.0 ssl\n");
    const p = await run(["app-misc/needs-ssl"], { autounmaskWrite: true, pretend: true });
    expect(fs.existsSync(path.join(p.root, "etc/portage/package.use"))).toBe(false);
    expect(p.outcome).toEqual({ exit: 1 });
    const only = await run(["app-misc/needs-ssl"], { autounmaskOnly: true });
    expect(only.outcome).toEqual({ exit: 0 });
  });

  it("CONFIG_PROTECT and its mask: the more specific entry wins", () => {
    expect(isProtected("etc/portage/package.use", ["/etc"], [])).toBe(true);
    expect(isProtected("etc/portage/package.use", ["/etc"], ["/etc/portage"])).toBe(false);
    expect(isProtected("etc/portage/package.use", ["/etc/portage/package.use"], ["/etc"])).toBe(true);
    expect(isProtected("etc/portage/package.use", ["/usr"], [])).toBe(false);
  });
});
