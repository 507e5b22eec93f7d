// `ouzo ebuild PATH.ebuild PHASE...`: Portage's `ebuild` command (build spec §1.8). Each phase
// runs what it needs before it, skipping what the build directory's markers say is done;
// `merge` builds and merges into ROOT, `qmerge` merges the image already built, `unmerge`
// removes the installed instance of this version.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Config } from "../../config/Config.js";
import { iuseEffective } from "../../config/iuseEffective.js";
import { makeRepository, repoNameOf, type Repository } from "../../config/repositories.js";
import { tokens } from "../../config/shellVars.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import { listConfigDir } from "../../core/fsutil.js";
import { requireProgram } from "../../core/spawn.js";
import { DependPool } from "../../ebuild/DependPool.js";
import { headEapi } from "../../metadata/ebuildTree.js";
import { allLeaves, parsePlainTokens, parseSrcUri, reduce } from "../../pms/depspec.js";
import { splitPf } from "../../pms/atom.js";
import { distfileNames, selectedUris } from "../../build/distfiles.js";
import { EBUILD_COMMANDS, PackageBuild, type EbuildCommand } from "../../build/build.js";
import type { BuildPackage, BuildSettings } from "../../build/phaseEnv.js";
import { readInstalled } from "../../vdb/installed.js";
import { OwnerIndex } from "../../vdb/ownerIndex.js";
import { buildHooks } from "../buildHooks.js";
import { cacheDirOf, rootOf, configRootOf, type GlobalArgs } from "../context.js";
import { aniseAware, cleanBuildDir, installedPhaseHooks, mergeBuilt, unmergeInstalled } from "../mergeBuilt.js";
import type { Output } from "../../ui/Output.js";

export interface EbuildArgs extends GlobalArgs {
  ebuild: string;
  phases: string[];
  /** Show the phase headers but not the phases' output (emerge's --quiet-build). */
  quietBuild?: boolean;
}

/** Where an ebuild file sits: <repo>/<category>/<pn>/<pf>.ebuild. */
export function locateEbuild(file: string): { repoRoot: string; category: string; pn: string; pf: string } {
  const abs = path.resolve(file);
  if (!abs.endsWith(".ebuild")) throw new UsageError(`${file}: not an .ebuild file`);
  if (!fs.existsSync(abs)) throw new OuzoError("ebuild-missing", `${file}: no such file`);
  const pf = path.basename(abs, ".ebuild");
  const pkgDir = path.dirname(abs);
  const pn = path.basename(pkgDir);
  const catDir = path.dirname(pkgDir);
  const category = path.basename(catDir);
  if (!splitPf(pn, pf)) throw new OuzoError("ebuild-name", `${file}: '${pf}' is not '${pn}-<version>' (the ebuild must sit in <category>/<package>/)`);
  return { repoRoot: path.dirname(catDir), category, pn, pf };
}

/** The repository holding the ebuild: a configured one, or the tree it sits in. */
function repositoryOf(config: Config, repoRoot: string): { repo: Repository; eclassLocations: string[] } {
  const configured = config.repos.containing(repoRoot) ?? config.repos.repos.find((r) => path.resolve(r.location) === repoRoot);
  if (configured) return { repo: configured, eclassLocations: config.repos.eclassChain(configured).map((r) => r.location) };
  const name = repoNameOf(repoRoot) ?? path.basename(repoRoot);
  const repo = makeRepository(name, repoRoot);
  const main = config.repos.mainRepo ? config.repos.get(config.repos.mainRepo) : undefined;
  return { repo, eclassLocations: [repoRoot, ...(main && main.location !== repoRoot ? [main.location] : [])] };
}

/** Everything the build needs to know about one ebuild: its metadata (sourced now) and what configuration decides. */
export async function buildPackageOf(config: Config, file: string, useOverride?: ReadonlySet<string>, sharedPool?: DependPool): Promise<BuildPackage> {
  const where = locateEbuild(file);
  const { repo, eclassLocations } = repositoryOf(config, where.repoRoot);
  const ebuild = path.resolve(file);
  const text = fs.readFileSync(ebuild, "latin1");
  const eapiHead = headEapi(text, ebuild);
  const pool = sharedPool ?? new DependPool(1);
  let result;
  try {
    result = await pool.run({ ebuild, category: where.category, pn: where.pn, pf: where.pf, eapi: eapiHead, eclassLocations });
  } finally {
    if (!sharedPool) pool.close();
  }
  if (!result.ok) throw new OuzoError("metadata-failed", `${where.category}/${where.pf}: sourcing the ebuild failed: ${result.error}`, { file: ebuild });
  const md: Record<string, string> = Object.fromEntries(result.values);
  const eapi = md.EAPI || "0";
  const version = splitPf(where.pn, where.pf)!;
  const iuse = tokens(md.IUSE);
  const useState = config.useFor({
    category: where.category,
    package: where.pn,
    version,
    slot: (md.SLOT || "0").split("/")[0]!,
    subslot: md.SLOT?.split("/")[1],
    repo: repo.name,
    eapi,
    iuse,
    keywords: tokens(md.KEYWORDS),
    license: md.LICENSE ?? "",
    properties: md.PROPERTIES,
    restrict: md.RESTRICT,
  });
  const effective = iuseEffective(config.vars, eapi, iuse, useState.all);
  const effectiveSet = new Set(effective);
  // the plan's USE when a plan decided it (the same configuration decides it, but the plan is the contract)
  const use = [...(useOverride ?? useState.all)].filter((f) => effectiveSet.has(f)).sort();
  const useSet = new Set(use);
  const evaluated = (v: string | undefined, what: "RESTRICT" | "PROPERTIES") => (v?.trim() ? [...new Set(allLeaves(reduce(parsePlainTokens(v, what), useSet)))] : []);
  return {
    ebuild,
    category: where.category,
    pf: where.pf,
    pn: where.pn,
    pv: version.toString().replace(/-r\d+$/, ""),
    pr: /-r(\d+)$/.exec(where.pf)?.[0].slice(1) ?? "r0",
    repo: { name: repo.name, location: repo.location, eclassLocations },
    metadata: md,
    use,
    iuseEffective: effective,
    restrict: evaluated(md.RESTRICT, "RESTRICT"),
    properties: evaluated(md.PROPERTIES, "PROPERTIES"),
    distfiles: distfileNames(selectedUris(md.SRC_URI ?? "", eapi, useSet)),
    allDistfiles: md.SRC_URI?.trim() ? distfileNames(allLeaves(parseSrcUri(md.SRC_URI, eapi))) : [],
  };
}

/** The configuration a build reads. */
export function buildSettingsOf(config: Config, args: GlobalArgs): BuildSettings {
  const vars = config.vars;
  const configRoot = configRootOf(args);
  const bashrcs: string[] = [];
  for (const e of config.stack) {
    const f = path.join(e.dir, "profile.bashrc");
    if (fs.existsSync(f)) bashrcs.push(f);
  }
  bashrcs.push(path.join(configRoot, "etc", "portage", "bashrc"));
  return {
    vars,
    root: rootOf(args),
    configRoot,
    features: new Set(tokens(vars.get("FEATURES"))),
    distdir: vars.get("DISTDIR") || "/var/cache/portage/distfiles",
    bashrcs,
    callerEnv: process.env,
  };
}

/** package.env-style files under /etc/portage/env for one package (spec §1.6). */
export function envBashrcs(configRoot: string, pkg: BuildPackage): string[] {
  const dir = path.join(configRoot, "etc", "portage", "env", pkg.category);
  const slot = (pkg.metadata.SLOT || "0").split("/")[0];
  const p = `${pkg.pn}-${pkg.pv}`;
  if (!fs.existsSync(dir)) return [];
  const names = new Set(listConfigDir(dir).map((f) => path.basename(f)));
  return [pkg.pn, `${pkg.pn}:${slot}`, p, pkg.pf].filter((n) => names.has(n)).map((n) => path.join(dir, n));
}

export async function ebuildCommand(config: Config, args: EbuildArgs, out: Output): Promise<number> {
  requireProgram("bash", "ebuild phases run in bash");
  requireProgram("tar", "unpack extracts distfiles with tar");
  requireProgram("bzip2", "the build's environment.bz2 is written with bzip2");
  const phases = args.phases;
  if (!phases.length) throw new UsageError("ouzo ebuild: name at least one phase (fetch, unpack, prepare, configure, compile, test, install, package, merge, qmerge, unmerge, clean)");
  const known: readonly string[] = [...EBUILD_COMMANDS, ...MERGE_COMMANDS];
  for (const p of phases) if (!known.includes(p)) throw new UsageError(`ouzo ebuild: unknown phase '${p}' (one of: ${known.join(", ")})`);
  const pkg = await buildPackageOf(config, args.ebuild);
  const base = buildSettingsOf(config, args);
  const settings: BuildSettings = { ...base, bashrcs: [...base.bashrcs, ...envBashrcs(base.configRoot, pkg)] };
  const tmpdir = config.vars.get("PORTAGE_TMPDIR") || "/var/tmp";
  const build = new PackageBuild(pkg, settings, tmpdir, buildHooks(out, { quiet: !!args.quiet, quietBuild: !!args.quietBuild }));
  const root = rootOf(args);
  const hooks = () => buildHooks(out, { quiet: !!args.quiet, quietBuild: !!args.quietBuild });
  const merged: string[] = [];
  let index: OwnerIndex | undefined;
  const indexOf = () => (index ??= OwnerIndex.open(root, cacheDirOf(args), { reporter: out }));
  try {
    for (const p of phases) {
      if (p === "merge" || p === "qmerge") {
        // qmerge takes the image as it is: it must have been built
        if (p === "qmerge" && !build.dir.done("install")) throw new OuzoError("ebuild-not-built", `${build.cpv}: the image is not built; run 'install' first (or 'merge', which builds it)`);
        await build.run("instprep");
        out.result(`>>> Merging ${build.cpv} to ${root}`);
        const result = await mergeBuilt(build, { root, config, features: settings.features, out, ownerIndex: indexOf(), hooks: await aniseAware(args, out, installedPhaseHooks(settings, tmpdir, hooks)) });
        merged.push(result.cpv);
        out.result(`>>> ${build.cpv} merged.`);
        if (p === "merge") cleanBuildDir(build, settings.features, "merged");
        continue;
      }
      if (p === "unmerge") {
        const installed = readInstalled(root).find((x) => x.cpv === build.cpv);
        if (!installed) throw new OuzoError("ebuild-not-installed", `${build.cpv} is not installed in ${root}`);
        await unmergeInstalled(installed, { root, config, features: settings.features, out, ownerIndex: indexOf(), hooks: await aniseAware(args, out, installedPhaseHooks(settings, tmpdir, hooks)), showKept: !args.quiet });
        out.result(`>>> ${build.cpv} unmerged.`);
        continue;
      }
      await build.run(p as EbuildCommand);
    }
  } finally {
    index?.close();
  }
  if (args.json) {
    out.json({ package: build.cpv, builddir: build.dir.dir, image: build.dir.image, ...(merged.length ? { merged: root } : {}), ...(build.binpkg ? { binpkg: { path: build.binpkg.path, format: build.binpkg.format, size: build.binpkg.size, md5: build.binpkg.md5 } } : {}), phases: build.timings.map((t) => ({ phase: t.phase, ms: Math.round(t.ms), ...(t.skipped ? { skipped: true } : {}) })) });
  }
  return 0;
}

/** The `ebuild` commands beyond building: into ROOT and out of it. */
const MERGE_COMMANDS = ["merge", "qmerge", "unmerge"] as const;
