// Merging a package that was built (or taken from a binary package) into ROOT, as emerge does
// it for each package of its plan and `ouzo ebuild … merge` for one (build spec §1.2, §10):
// pkg_preinst with REPLACING_VERSIONS, the transactional merge (the replaced instances' prerm and
// postrm through the hooks), pkg_postinst, env-update, and the final environment saved in the vdb.
import * as fs from "node:fs";
import * as path from "node:path";
import { updateVdbEnvironment, type BuildHooks, type PackageBuild } from "../build/build.js";
import { runInstalledPhase } from "../build/installedPhase.js";
import type { BuildSettings } from "../build/phaseEnv.js";
import type { Config } from "../config/Config.js";
import { tokens } from "../config/shellVars.js";
import { envUpdateLocked } from "../merge/envUpdate.js";
import { infoDirLines, updateInfoDirsLocked } from "../merge/infoDir.js";
import { mergePackage, type MergeHooks, type MergeResult } from "../merge/merge.js";
import { unmergePackage, type UnmergeResult } from "../merge/unmerge.js";
import type { Output } from "../ui/Output.js";
import { readInstalled, type InstalledPackage } from "../vdb/installed.js";
import type { OwnerIndex } from "../vdb/ownerIndex.js";
import { configRootOf, type GlobalArgs } from "./context.js";

/** Where and how a package goes into ROOT or out of it. */
export interface MergeBuiltOptions {
  readonly root: string;
  readonly config: Config;
  readonly features: ReadonlySet<string>;
  readonly out: Output;
  readonly ownerIndex?: OwnerIndex;
  /** pkg_prerm/pkg_postrm of the instances it replaces (or removes; anise's stored finalizer for an anise package). */
  readonly hooks: MergeHooks;
}

/** Merge `build`'s image into `o.root`; see the file comment. */
export async function mergeBuilt(build: PackageBuild, o: MergeBuiltOptions): Promise<MergeResult> {
  const pkg = build.pkg;
  const slot = (pkg.metadata.SLOT || "0").split("/")[0]!;
  const replacing = readInstalled(o.root).filter((p) => p.category === pkg.category && p.package === pkg.pn && (p.slot === slot || p.cpv === build.cpv));
  const versions = replacing.map((p) => p.cpv.slice(p.category.length + 1 + p.package.length + 1));
  if (!build.noop("preinst")) await build.phase("preinst", false, { replacingVersions: versions, mergeType: build.mergeType });
  const result = await mergePackage({
    root: o.root,
    category: pkg.category,
    pf: pkg.pf,
    slot,
    imageDir: build.dir.image,
    buildInfoDir: build.dir.buildInfo,
    configProtect: tokens(o.config.vars.get("CONFIG_PROTECT")),
    configProtectMask: tokens(o.config.vars.get("CONFIG_PROTECT_MASK")),
    features: o.features,
    replacing,
    reporter: o.out,
    ...(o.ownerIndex ? { ownerIndex: o.ownerIndex } : {}),
    collisionIgnore: tokens(o.config.vars.get("COLLISION_IGNORE")),
    uninstallIgnore: tokens(o.config.vars.get("UNINSTALL_IGNORE")),
    hooks: o.hooks,
  });
  for (const c of result.configPending) o.out.notice(` * IMPORTANT: config file '${c.path}' needs updating (${c.file}).`);
  if (!build.noop("postinst")) await build.phase("postinst", false, { replacingVersions: versions, mergeType: build.mergeType });
  // what the package put in /etc/env.d counts for the next build of the run already
  await envUpdateAfter(o.root, [...result.contents.map((c) => c.path), ...result.replaced.flatMap((r) => r.removed)], o.out, o.config);
  updateVdbEnvironment(build.dir, result.vdbDir);
  return result;
}

export interface UnmergeOptions extends MergeBuiltOptions {
  /** Other installed instances of its slot (an unmerge leaves their files). */
  readonly othersInSlot?: readonly InstalledPackage[];
  /** Print the `--- !md5 …` lines of what stays (not with --quiet). */
  readonly showKept?: boolean;
}

/** Unmerge an installed package with the configuration's CONFIG_PROTECT and UNINSTALL_IGNORE, then env-update. */
export async function unmergeInstalled(pkg: InstalledPackage, o: UnmergeOptions): Promise<UnmergeResult> {
  const r = await unmergePackage({
    root: o.root,
    pkg,
    configProtect: tokens(o.config.vars.get("CONFIG_PROTECT")),
    configProtectMask: tokens(o.config.vars.get("CONFIG_PROTECT_MASK")),
    features: o.features,
    reporter: o.out,
    ...(o.ownerIndex ? { ownerIndex: o.ownerIndex } : {}),
    uninstallIgnore: tokens(o.config.vars.get("UNINSTALL_IGNORE")),
    ...(o.othersInSlot ? { othersInSlot: [...o.othersInSlot] } : {}),
    hooks: o.hooks,
  });
  if (o.showKept) for (const k of r.kept) o.out.result(`--- ${k.reason ?? "kept"} ${k.path}`);
  await envUpdateAfter(o.root, r.removed, o.out, o.config);
  return r;
}

/**
 * FEATURES' cleaning of a build directory (build spec §1.2, §5.7): before a build unless
 * keepwork; after a merge unless noclean (keepwork keeps WORKDIR and the markers for the next
 * build, keeptemp keeps T); after a failure only with fail-clean.
 */
export function cleanBuildDir(build: PackageBuild, features: ReadonlySet<string>, when: "before" | "merged" | "failed"): void {
  // a binary package's build directory is never kept: its markers stand for no build (§5.7)
  const binary = build.mergeType === "binary";
  const keepwork = features.has("keepwork") && !binary;
  const keeptemp = features.has("keeptemp") && !binary;
  if (when === "before") {
    if (!keepwork) build.dir.clean({ keeptemp });
  } else if (when === "merged") {
    if (!features.has("noclean")) build.dir.clean({ keepwork, keeptemp });
  } else if (features.has("fail-clean")) build.dir.clean({ keeptemp });
}

/** env-update after a merge or an unmerge (build spec §10.7), with emerge's line when ldconfig runs. */
export async function envUpdateAfter(root: string, touched: readonly string[], out: Output, config?: Config): Promise<void> {
  // ROOT of the configuration may be cross-compiled (CHOST ≠ CBUILD); the build host's root is not
  const cross = config && path.resolve(root) === path.resolve(config.root) ? { chost: config.vars.get("CHOST"), cbuild: config.vars.get("CBUILD") } : {};
  const r = await envUpdateLocked(root, { touched, reporter: out, ...cross });
  if (r.ldconfig.ran) out.result(">>> Regenerating /etc/ld.so.cache...");
}

/**
 * The end of a run that merged or unmerged packages in `roots`: their GNU info directory indexes
 * made again where an info directory changed (build spec §10.7), with emerge's lines.
 */
export async function infoDirAfter(roots: readonly string[], features: ReadonlySet<string>, out: Output): Promise<void> {
  for (const root of new Set(roots)) {
    // the merges are done: an index that cannot be made is told, and the run goes on to its end
    try {
      const r = await updateInfoDirsLocked(root, { features, reporter: out });
      for (const line of infoDirLines(r)) out.result(line);
    } catch (e) {
      out.warn(`the GNU info directory index of ${root} could not be made: ${(e as Error).message}`);
    }
  }
}

/**
 * pkg_prerm/pkg_postrm of an installed package, run from its vdb environment, with the version
 * the merge or unmerge says replaces it ("" for a plain removal) as REPLACED_BY_VERSION.
 */
export function installedPhaseHooks(settings: BuildSettings, tmpdir: string, hooks: () => BuildHooks): MergeHooks {
  return {
    prerm: async (old, replacedBy) => void (await runInstalledPhase(old, "prerm", settings, tmpdir, { replacedByVersion: replacedBy, hooks: hooks() })),
    postrm: async (old, replacedBy) => void (await runInstalledPhase(old, "postrm", settings, tmpdir, { replacedByVersion: replacedBy, hooks: hooks() })),
  };
}

/** Merge hooks that know anise-installed packages (when /etc/anise exists), else the ebuild phases. */
export async function aniseAware(args: GlobalArgs, out: Output, source: MergeHooks): Promise<MergeHooks> {
  if (!fs.existsSync(path.join(configRootOf(args), "etc", "anise"))) return source;
  return (await import("./commands/anise.js")).aniseAwareHooks(args, out, source);
}
