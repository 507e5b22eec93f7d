// `ouzo profile show`: kept apart from the profile-changing commands so that showing the profile
// loads only the configuration code (no sync, no git), which keeps the command quick.
import * as path from "node:path";
import { readParent } from "../../config/egoProfile.js";
import type { Config } from "../../config/Config.js";
import type { Output } from "../../ui/Output.js";

/** The resolved profile as `ouzo profile show --json` prints it. */
export function profileJson(config: Config) {
  const vars: Record<string, string> = {};
  for (const [k, v] of [...config.vars].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) vars[k] = v;
  return {
    profiles: config.stack.map((e) => e.dir),
    vars,
    use: [...config.globalUse],
    usemask: [...config.globalUseMask],
    useforce: [...config.globalUseForce],
    system: config.system.map((a) => a.toString()),
    package_mask: { count: config.maskCount() },
  };
}

const SHOWN_VARS = ["ARCH", "CHOST", "ACCEPT_KEYWORDS", "TRACK_KEYWORDS", "DENY_KEYWORDS", "ACCEPT_LICENSE", "FEATURES", "CONFIG_PROTECT", "CONFIG_PROTECT_MASK", "USE_EXPAND"];

export function profileShow(config: Config, out: Output): number {
  const j = profileJson(config);
  if (out.opts.json) {
    out.json(j);
    return 0;
  }
  // what is selected, before the stack it expands to
  const parent = readParent(path.join(config.portageDir, "make.profile", "parent"));
  const picked = (kind: string) => parent.filter((l) => l.kind === kind).map((l) => l.name).join(" ") || "(none)";
  out.line(out.color("bold", "Selected:"));
  for (const kind of ["arch", "subarch", "build", "flavor", "mix-ins"]) out.line(`  ${`${kind}:`.padEnd(9)} ${picked(kind)}`);
  out.line();
  out.line(out.color("bold", `Profile stack (${j.profiles.length} entries):`));
  j.profiles.forEach((p, i) => {
    const e = config.stack[i]!;
    const where = e.repo ? `${e.repo.name}:${p.slice(e.repo.location.length + "/profiles/".length)}` : p;
    out.line(`  ${String(i + 1).padStart(3)}  ${where}`);
  });
  out.line();
  out.line(out.color("bold", "Settings:"));
  for (const k of SHOWN_VARS) if (j.vars[k] !== undefined) out.line(`  ${k}="${j.vars[k]}"`);
  for (const v of config.useExpand) if (j.vars[v] !== undefined) out.line(`  ${v}="${j.vars[v]}"`);
  out.line();
  out.line(`${out.color("bold", "USE")} (${j.use.length}): ${j.use.join(" ")}`);
  out.line(`${out.color("bold", "masked USE")} (${j.usemask.length}): ${j.usemask.join(" ")}`);
  out.line(`${out.color("bold", "forced USE")} (${j.useforce.length}): ${j.useforce.join(" ")}`);
  out.line(`${out.color("bold", "@system")} (${j.system.length}): ${j.system.join(" ")}`);
  out.line(`${out.color("bold", "package.mask atoms in effect")}: ${j.package_mask.count}`);
  const inherited = inheritedProfiles(config);
  out.line(`${out.color("bold", "inherited flavors")}: ${inherited.flavors.join(" ") || "(none)"}`);
  out.line(`${out.color("bold", "inherited mix-ins")}: ${inherited.mixins.join(" ") || "(none)"}`);
  for (const w of config.warnings) out.warn(w);
  return 0;
}

/** Flavors and mix-ins in the stack that the parent file does not name: what the selections inherit. */
export function inheritedProfiles(config: Config): { flavors: string[]; mixins: string[] } {
  const explicit = new Set(readParent(path.join(config.portageDir, "make.profile", "parent")).map((l) => l.name));
  const flavors = new Set<string>();
  const mixins = new Set<string>();
  for (const e of config.stack) {
    const kind = path.basename(path.dirname(e.dir));
    const name = path.basename(e.dir);
    if (kind === "flavor" && !explicit.has(name)) flavors.add(name);
    if (kind === "mix-ins" && !explicit.has(name) && !explicit.has(`${e.repo?.name}:${name}`)) mixins.add(e.repo && e.repo.name !== config.repos.mainRepo ? `${e.repo.name}:${name}` : name);
  }
  return { flavors: [...flavors], mixins: [...mixins] };
}

