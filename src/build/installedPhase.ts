// Phases of an installed package (build spec §1.2, §2.5): pkg_prerm, pkg_postrm, pkg_config and
// pkg_info run from the environment saved in its vdb entry, in the build directory Portage uses
// for them (PORTAGE_TMPDIR/portage/._unmerge_/<cat>/<pf>), never colliding with the build of
// the version replacing it.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { readFileIfExists } from "../core/fsutil.js";
import type { InstalledPackage } from "../vdb/installed.js";
import { PackageBuild, type BuildHooks } from "./build.js";
import { BuildDir } from "./BuildDir.js";
import type { BuildPackage, BuildSettings } from "./phaseEnv.js";
import { loadForeignEnvironment } from "./savedEnvironment.js";

/** What the build needs to know about an installed package, from its vdb entry. */
export function installedAsBuildPackage(p: InstalledPackage): BuildPackage {
  const file = (f: string) => (readFileIfExists(path.join(p.dir, f)) ?? "").trim();
  const pf = p.cpv.slice(p.category.length + 1);
  const pr = /-r(\d+)$/.exec(pf)?.[0].slice(1) ?? "r0";
  return {
    ebuild: path.join(p.dir, `${pf}.ebuild`),
    category: p.category,
    pf,
    pn: p.package,
    pv: p.version.toString().replace(/-r\d+$/, ""),
    pr,
    repo: { name: p.repo, location: p.dir, eclassLocations: [] },
    metadata: { EAPI: p.eapi, SLOT: p.subslot && p.subslot !== p.slot ? `${p.slot}/${p.subslot}` : p.slot, IUSE: p.iuse.join(" "), DEFINED_PHASES: p.definedPhases, INHERITED: p.inherited.join(" "), RESTRICT: p.restrict, PROPERTIES: p.properties, LICENSE: p.license },
    use: [...p.use],
    iuseEffective: file("IUSE_EFFECTIVE").split(/\s+/).filter(Boolean),
    restrict: p.restrict.split(/\s+/).filter(Boolean),
    properties: p.properties.split(/\s+/).filter(Boolean),
    distfiles: [],
    allDistfiles: [],
  };
}

export type InstalledPhase = "prerm" | "postrm" | "config" | "info";

/**
 * Run a phase of an installed package, if its ebuild defines it (the defaults are no-ops, and
 * pkg_config/pkg_info only warn). Returns whether it ran.
 */
export async function runInstalledPhase(p: InstalledPackage, phase: InstalledPhase, settings: BuildSettings, tmpdir: string, opts: { replacedByVersion?: string; hooks?: BuildHooks } = {}): Promise<boolean> {
  const defined = p.definedPhases.split(/\s+/);
  if (!defined.includes(phase)) {
    if (phase === "config" || phase === "info") opts.hooks?.reporter?.report({ kind: "warning", code: `no-pkg_${phase}`, message: `${p.cpv}: pkg_${phase}() is not defined` });
    return false;
  }
  const pkg = installedAsBuildPackage(p);
  // pkg_* phases of an installed package run outside the filesystem sandbox, as in Portage
  const unsandboxed = { ...settings, features: new Set([...settings.features].filter((f) => f !== "sandbox" && f !== "network-sandbox")) };
  const dir = new BuildDir(tmpdir, `._unmerge_/${p.category}`, pkg.pf);
  const build = new PackageBuild(pkg, unsandboxed, tmpdir, opts.hooks, dir);
  fs.mkdirSync(dir.temp, { recursive: true });
  fs.mkdirSync(dir.empty, { recursive: true });
  fs.mkdirSync(dir.home, { recursive: true });
  const bz = path.join(p.dir, "environment.bz2");
  if (!fs.existsSync(bz)) throw new OuzoError("vdb-environment", `${p.cpv}: ${bz} is missing: its pkg_${phase} cannot run`);
  loadForeignEnvironment(fs.readFileSync(bz), dir, "vdb-environment", bz);
  try {
    await build.phase(phase, false, { mergeType: "source", replacedByVersion: opts.replacedByVersion });
  } finally {
    fs.rmSync(dir.dir, { recursive: true, force: true });
  }
  return true;
}
