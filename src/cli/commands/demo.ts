import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Config } from "../../config/Config.js";
import { buildKitMirror, commitMetaRepo } from "../../sync/mirrorBuilder.js";
import { Output } from "../../ui/Output.js";
import { packagePath } from "../../core/paths.js";
import { DESKTOP_PACKAGES, writeDesktopKit } from "../demoRelease.js";
import { DEMO_FIXTURES, DEMO_KITS } from "../demoTree.js";
import { profileShow } from "./profileShow.js";

/** Local git mirrors of the demo kits, and a meta-repo branch `mark-v` pinning them. */
function buildDemoMirrors(mirrors: string): void {
  const kits = DEMO_KITS.map((k) => buildKitMirror(mirrors, { name: k, tree: path.join(DEMO_FIXTURES, "kits", k), branches: [{ name: "mark-v" }], extraCommits: 1 }));
  commitMetaRepo(
    path.join(mirrors, "meta-repo"),
    "mark-v",
    kits.map((k) => ({ name: k.name, stability: { "mark-v": "prime" }, defs: ["mark-v"], pins: { "mark-v": k.commits.get("mark-v")!.at(-1)! } })),
  );
}

/** `npm start`: ouzo's pipeline on the bundled demo kits, in a throwaway ROOT, with no network. */
/** An Output that shows the first and last lines of a long plan, and how many it leaves out. */
class AbridgedPlan extends Output {
  private readonly plan: string[] = [];
  private released = false;

  override result(text: string): void {
    if (text.startsWith("[") && !this.released) {
      this.plan.push(text);
      if (this.plan.length <= 6) super.result(text);
      return;
    }
    this.release();
    super.result(text);
  }

  /** The last plan lines, after a count of those left out (once the plan is over). */
  release(): void {
    if (this.released || !this.plan.length) return;
    this.released = true;
    const rest = this.plan.slice(6);
    if (rest.length > 3) super.result(`… ${rest.length - 3} more lines …`);
    for (const l of rest.slice(-3)) super.result(l);
  }
}

export async function demoCommand(args: { keep?: boolean; json?: boolean; quiet?: boolean; verbose?: boolean }, out: Output): Promise<number> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-demo-"));
  const root = path.join(base, "root");
  const mirrors = path.join(base, "mirrors");
  const step = (text: string) => {
    out.line();
    out.line(out.color("cyan", `==> ${text}`));
  };
  const g = { root, color: out.opts.color, quiet: out.opts.quiet, verbose: out.opts.verbose };
  try {
    out.line(out.color("bold", `ouzo demo in throwaway ROOT ${root}`));
    step(`building local git mirrors of the demo kits in ${mirrors}`);
    buildDemoMirrors(mirrors);
    fs.mkdirSync(path.join(root, "etc"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc", "ego.conf"), `[global]\nrelease = mark-v\nsync_base_url = file://${mirrors}/{repo}\npython_kit_profile = mark\n# the throwaway ROOT has no users of its own: git runs as whoever runs the demo\nsync_user = root\n`);
    fs.cpSync(path.join(DEMO_FIXTURES, "etc", "portage"), path.join(root, "etc", "portage"), { recursive: true, filter: (src) => !src.includes("make.profile") });
    out.line("wrote /etc/ego.conf (release mark-v, sync_base_url file://…/{repo}) and /etc/portage (no profile yet)");

    const sync = await import("./sync.js");
    step("ouzo sync (meta-repo and kits at their pins, repos.conf, metadata cache)");
    let rc = await sync.syncCommand({ ...g }, out);
    if (rc) return rc;

    const profile = await import("./profile.js");
    step("ouzo profile arch x86-64bit; subarch generic_64; build next; flavor desktop; mix-ins +X +gnome");
    // the intermediate steps are quiet: until all four are set, ego's "no build is set" warnings are expected
    const { Output } = await import("../../ui/Output.js");
    const quiet = new Output({ ...out.opts, quiet: true });
    for (const [kind, name] of [["arch", "x86-64bit"], ["subarch", "generic_64"], ["build", "next"], ["flavor", "desktop"]] as const) {
      await profile.profileSetCommand({ ...g, kind, name }, quiet);
    }
    await profile.profileMixinsCommand({ ...g, changes: ["+X", "+gnome"] }, out);

    step("ouzo profile show");
    profileShow(new Config({ root, configRoot: root, reporter: out }), out);

    step("ouzo kits");
    await sync.kitsCommand({ ...g }, out);
    step("ouzo sync again (nothing changed upstream)");
    rc = await sync.syncCommand({ ...g }, out);

    const { infoCommand } = await import("./metadata.js");
    const config = new Config({ root, configRoot: root, reporter: out });
    for (const atom of ["app-misc/hello", "dev-libs/libdemo"]) {
      step(`ouzo info ${atom}`);
      await infoCommand(config, { ...g, atom }, out);
    }

    // Resolution, on a second ROOT with packages installed: the resolve fixture (test-kit)
    const system = path.join(base, "system");
    fs.cpSync(packagePath("fixtures", "resolve", "root"), system, { recursive: true });
    const emerge = await import("./emerge.js");
    const sys = new Config({ root: system, configRoot: system, reporter: out });
    const gs = { ...g, root: system };
    step(`a second throwaway ROOT with packages installed (${system}): ouzo emerge -pv app-misc/app`);
    rc ||= await emerge.emergeCommand(sys, { ...gs, verbose: true, pretend: true, atoms: ["app-misc/app"] }, out);
    step("ouzo emerge -pvuDN @world");
    rc ||= await emerge.emergeCommand(sys, { ...gs, verbose: true, pretend: true, update: true, deep: true, newuse: true, atoms: ["@world"] }, out);
    step("ouzo emerge -pu --tree dev-libs/libz (an update that completes the graph: the installed := consumer is rebuilt)");
    rc ||= await emerge.emergeCommand(sys, { ...gs, pretend: true, update: true, tree: true, atoms: ["dev-libs/libz"] }, out);
    // failures explained, and autounmask's fix (both end with exit 1: they are not the demo's verdict)
    const explain = path.join(base, "explain");
    fs.cpSync(packagePath("fixtures", "explain", "root"), explain, { recursive: true });
    const ex = new Config({ root: explain, configRoot: explain, reporter: out });
    step("ouzo emerge -p app-misc/wants-new app-misc/wants-old (no plan: the explanation, a numbered derivation)");
    await emerge.emergeCommand(ex, { ...g, root: explain, pretend: true, atoms: ["app-misc/wants-new", "app-misc/wants-old"] }, out);
    step("ouzo emerge -p app-misc/needs-ssl (no plan as configured: autounmask proposes the change that makes one)");
    await emerge.emergeCommand(new Config({ root: explain, configRoot: explain, reporter: out }), { ...g, root: explain, pretend: true, atoms: ["app-misc/needs-ssl"] }, out);

    // a desktop-sized target: its metadata is generated on demand, then the plan (abridged here)
    const desktop = writeDesktopKit(system);
    step(`ouzo emerge -pv ${desktop} (a desktop-sized target of ${DESKTOP_PACKAGES} packages in a generated desktop-kit; its metadata cache is made on the way)`);
    const big = new Config({ root: system, configRoot: system, reporter: out });
    const shown = new AbridgedPlan(out.opts);
    rc ||= await emerge.emergeCommand(big, { ...gs, verbose: true, pretend: true, atoms: [desktop] }, shown);
    shown.release();

    const { demoBuild } = await import("../demoBuild.js");
    rc ||= await demoBuild(base, out, step);
    return rc;
  } finally {
    if (args.keep) out.line(`\nthrowaway ROOT kept at ${root}`);
    else fs.rmSync(base, { recursive: true, force: true });
  }
}
