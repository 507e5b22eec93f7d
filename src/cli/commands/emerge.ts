import * as fs from "node:fs";
import * as path from "node:path";
import { DownloadCounter, distfileNames, fetchedByHand, fetchRestricted, selectedUris } from "../../build/distfiles.js";
import type { Config } from "../../config/Config.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import { buildPlan, combined, joinPlans, totalsOf, type PlanEntry, type UnmergeEntry } from "../../resolve/plan.js";
import { completeNeeded, rebuildsNeeded } from "../../resolve/rebuilds.js";
import { hostDependencies, isSelective, type RebuildCause, type RootSplit, type RequestAtom, ref, ResolveFailure, Resolver, type ResolveOptions, type Selection } from "../../resolve/resolve.js";
import { worldChange } from "../../resolve/worldAtoms.js";
import type { Output } from "../../ui/Output.js";
import { readWorld } from "../../vdb/world.js";
import { configRootOf, rootOf, type GlobalArgs } from "../context.js";
import { columnsLine, treeRows } from "../emergeLayouts.js";
import { planDocument } from "../emergeJson.js";
import { blockerLine, mergeLine, numericLocale, totalLine, uninstallLine, type LineOptions } from "../emergeLines.js";
import { optionAtoms, requestOf } from "../emergeRequest.js";
import { EbuildSource, InstalledSource } from "../emergeSources.js";
import { openStore } from "./metadata.js";
import type { CandidateSource } from "../../resolve/Candidate.js";
import { type AutounmaskArgs, resolveFailure } from "../emergeAutounmask.js";
import { deselectCommand, removalActionOf, removalCommand } from "../emergeDepclean.js";
import { cycleDocument, cycleText, EmergeFacts } from "../emergeExplain.js";
import { readResume, recoveryHooks, runPlan, runUnmerge, type ResumeData, type RunOptions } from "../emergeRun.js";
import { recoverInterrupted } from "../../merge/recover.js";
import { findBinpkgFor } from "../../build/binpkgInstall.js";
import { infoText, setNames } from "../emergeInfo.js";
import { pkgdirOf } from "../../build/binpkg.js";
import { readPackagesIndex } from "../../build/packagesIndex.js";
import { aniseOrigin } from "../aniseSource.js";
import { buildSettingsOf } from "./ebuild.js";

/** emerge's options; those of the run itself (--jobs, --keep-going, -b/-k/-g…) are emergeRun's RunOptions. */
export interface EmergeArgs extends GlobalArgs, AutounmaskArgs, Omit<RunOptions, "commandLine"> {
  /** --info: what a bug report needs (emerge spec §1.9). */
  info?: boolean;
  /** --list-sets: the set names, one per line. */
  listSets?: boolean;
  /** --clean: per slot, only the latest installed version stays. */
  clean?: boolean;
  /** --rage-clean: --unmerge (ouzo has no countdown to skip). */
  rageClean?: boolean;
  /** --deselect (-W): world entries only; --deselect=n with an uninstall leaves the world file alone. */
  deselect?: boolean;
  depclean?: boolean;
  prune?: boolean;
  atoms?: string[];
  pretend?: boolean;
  ask?: boolean;
  update?: boolean;
  deep?: boolean;
  newuse?: boolean;
  noreplace?: boolean;
  emptytree?: boolean;
  changedUse?: boolean;
  changedDeps?: boolean;
  exclude?: string[];
  withBdeps?: string;
  oneshot?: boolean;
  nospinner?: boolean;
  resume?: boolean;
  skipfirst?: boolean;
  unmerge?: boolean;
  select?: boolean;
  selective?: boolean;
  updateIfInstalled?: boolean;
  changedSlot?: boolean;
  newrepo?: boolean;
  reinstallAtoms?: string[];
  deepLevel?: number;
  nodeps?: boolean;
  onlydeps?: boolean;
  onlydepsWithRdeps?: string;
  withTestDeps?: boolean;
  completeGraph?: boolean;
  completeGraphIfNewVer?: string;
  completeGraphIfNewUse?: string;
  rebuildIfNewSlot?: string;
  rebuildIfNewRev?: boolean;
  rebuildIfNewVer?: boolean;
  rebuildIfUnbuilt?: boolean;
  rebuildExclude?: string[];
  rebuildIgnore?: string[];
  ignoreBuiltSlotOperatorDeps?: string;
  rootDeps?: string;
  backtrack?: number;
  tree?: boolean;
  unorderedDisplay?: boolean;
  columns?: boolean;
  changedDepsReport?: boolean;
  /** The build host's root (default: OUZO_HOST_ROOT; none: ROOT is its own build host). */
  hostRoot?: string;
  /** --sysroot: where DEPEND of EAPI ≥ 7 is satisfied, `/` (the build host) or ROOT (default: SYSROOT, else `/`). */
  sysroot?: string;
}

export type FetchState = "none" | "restricted" | "restricted-present";

/**
 * What each line of the plan still downloads (emerge spec §8.5), in the plan's order (a file
 * counts at its first package), and whether the package is fetch-restricted with its files in
 * place or missing (§8.2 column 12). DISTDIR is the configuration's, a host path as Portage reads it.
 */
function fetchPlan(ops: readonly (PlanEntry | UnmergeEntry)[], config: Config): { bytes: number; fetch: FetchState }[] {
  const counter = new DownloadCounter(config.vars.get("DISTDIR") || "/var/cache/portage/distfiles");
  return ops.map((e) => {
    const c = e.pkg;
    const repo = config.repos.get(c.repo);
    // a package from a binary package fetches no distfile
    if (e.op !== "merge" || c.source !== "ebuild" || !repo || e.binary !== undefined) return { bytes: 0, fetch: "none" };
    const pkgDir = path.join(repo.location, c.category, c.package);
    try {
      const uris = selectedUris(c.srcUri ?? "", c.eapi, c.use);
      const bytes = counter.bytes(pkgDir, distfileNames(uris));
      if (!fetchRestricted(c.restrict ?? "", c.use)) return { bytes, fetch: "none" };
      return { bytes, fetch: counter.allPresent(pkgDir, distfileNames(fetchedByHand(uris))) ? "restricted-present" : "restricted" };
    } catch {
      return { bytes: 0, fetch: "none" }; // an unreadable SRC_URI or RESTRICT fails at fetch time, with its message
    }
  });
}

/** Plan entries built from an ebuild that PKGDIR has a fitting binary package of, marked as coming from it. */
function withBinaries(entries: PlanEntry[], pkgdir: string): PlanEntry[] {
  const index = readPackagesIndex(pkgdir);
  return entries.map((e) => {
    if (e.pkg.source !== "ebuild" || aniseOrigin(e.pkg)) return e;
    const found = findBinpkgFor(pkgdir, e.pkg, index);
    return found ? { ...e, binary: found.path } : e;
  });
}

async function ask(question: string): Promise<string> {
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}


/** Option combinations emerge refuses (emerge spec §1.9). */
function checkCombinations(args: EmergeArgs, out: Output): void {
  if (args.tree && args.columns) throw new OuzoError("BAD_OPTIONS", "--tree and --columns cannot be used together");
  if (args.emptytree && args.noreplace) throw new OuzoError("BAD_OPTIONS", "--emptytree and --noreplace cannot be used together");
  if (args.backtrack !== undefined && !(Number.isInteger(args.backtrack) && args.backtrack >= 0)) throw new UsageError(`--backtrack takes a whole number of 0 or more, not '${args.backtrack}'`);
  if (args.deepLevel !== undefined && !(Number.isInteger(args.deepLevel) && args.deepLevel >= 0)) throw new UsageError(`--deep takes a whole number of 0 or more, not '${args.deepLevel}'`);
  if (args.nodeps && args.tree) {
    out.warn("--tree is ignored with --nodeps");
    args.tree = false;
  }
}

/** What the options ask of the resolver (emerge spec §1.4, §1.8). */
function resolveOptions(args: EmergeArgs, selected: ResolveOptions["selected"]): ResolveOptions {
  return {
    update: args.update || args.updateIfInstalled,
    deep: (args.deep || args.deepLevel !== undefined) && args.deepLevel !== 0 && !args.nodeps,
    deepLevel: args.deepLevel,
    newuse: args.newuse,
    changedUse: args.changedUse,
    changedDeps: args.changedDeps,
    changedSlot: args.changedSlot,
    newrepo: args.newrepo,
    noreplace: args.noreplace,
    selective: args.selective,
    emptytree: args.emptytree,
    exclude: optionAtoms("exclude", args.exclude ?? []),
    reinstallAtoms: optionAtoms("reinstall-atoms", args.reinstallAtoms ?? [], false),
    withBdeps: args.withBdeps !== "n",
    selected,
    nodeps: args.nodeps,
    onlydeps: args.onlydeps,
    onlydepsWithRdeps: args.onlydepsWithRdeps !== "n",
    withTestDeps: args.withTestDeps,
    ignoreBuiltSlotOperatorDeps: args.ignoreBuiltSlotOperatorDeps === "y",
    rootDepsRdeps: args.rootDeps === "rdeps",
  };
}

/**
 * The build host's root when it is not ROOT (emerge spec §1.10): --host-root, else OUZO_HOST_ROOT.
 * Without either, ROOT is a whole system that builds for itself (what the tests' ROOTs are), and
 * every dependency is satisfied in ROOT as before.
 */
function hostOf(args: EmergeArgs, root: string): { root: string; split: RootSplit } | undefined {
  const given = args.hostRoot ?? process.env.OUZO_HOST_ROOT;
  if (!given) return undefined;
  const host = path.resolve(given);
  if (host === root) return undefined;
  const sysrootText = args.sysroot ?? process.env.SYSROOT;
  const sysroot = sysrootText ? path.resolve(sysrootText) : "/";
  if (sysroot !== "/" && sysroot !== host && sysroot !== root) throw new UsageError(`--sysroot must be / or ROOT (${root}), not '${sysrootText}'`);
  return { root: host, split: { sysrootIsRoot: sysroot === root, rootDepsToRoot: args.rootDeps !== undefined && args.rootDeps !== "rdeps" } };
}

/**
 * Resolve, then again while the plan asks for more (emerge spec §5.7, §6.11): complete mode once a
 * merge changes an installed package (or when asked), and the rebuilds the --rebuild-if-* rules
 * schedule, until a pass asks for nothing new.
 */
async function resolveAll(config: Config, args: EmergeArgs, opts: ResolveOptions, sources: ConstructorParameters<typeof Resolver>[0], request: readonly RequestAtom[], installed: InstalledSource): Promise<{ selection: Selection; resolver: Resolver; passes: number }> {
  const root = rootOf(args);
  const rules = {
    newSlot: args.rebuildIfNewSlot !== "n",
    newRev: !!args.rebuildIfNewRev,
    newVer: !!args.rebuildIfNewVer,
    unbuilt: !!args.rebuildIfUnbuilt,
    exclude: optionAtoms("rebuild-exclude", args.rebuildExclude ?? []),
    ignore: optionAtoms("rebuild-ignore", args.rebuildIgnore ?? []),
  };
  const world = () => requestOf(config, ["@world"], root, installed).filter((r) => installed.all.some((c) => r.atom.matchesIgnoringUse(ref(c))));
  let complete = !args.nodeps && (args.completeGraph || rules.newRev || rules.newVer || rules.unbuilt) ? world() : undefined;
  const rebuild = new Map<string, RebuildCause>();
  for (let passes = 1; ; passes++) {
    const resolver = new Resolver(sources, { ...opts, complete, rebuild });
    const selection = await resolver.resolve(request);
    if (args.nodeps || passes > 20) return { selection, resolver, passes };
    let again = false;
    if (!complete && completeNeeded(selection, { ifNewVer: args.completeGraphIfNewVer !== "n", ifNewUse: args.completeGraphIfNewUse !== "n", newSlot: rules.newSlot })) {
      complete = world();
      again = complete.length > 0;
    }
    for (const [cpv, cause] of rebuildsNeeded(selection, rules)) {
      if (rebuild.has(cpv)) continue;
      rebuild.set(cpv, cause);
      again = true;
    }
    if (!again) return { selection, resolver, passes };
  }
}

/** `ouzo emerge`: the plan emerge would make, in emerge's words (building and merging come later). */
/** Whether /etc/anise names a repository (then anise packages may serve --usepkg). */
function hasAniseRepos(args: EmergeArgs): boolean {
  const d = path.join(configRootOf(args), "etc", "anise", "repos.conf.d");
  return fs.existsSync(d) && fs.readdirSync(d).some((f) => /\.ya?ml$/.test(f));
}

/** The options of the command line, for emerge.log's "*** emerge …" line. */
function commandLineOf(args: EmergeArgs): string {
  const flags = Object.entries(args)
    .filter(([k, v]) => v === true && k.length > 1 && !["json", "color"].includes(k) && !k.includes("-"))
    .map(([k]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  return [...flags, ...(args.atoms ?? [])].join(" ");
}

export async function emergeCommand(config: Config, args: EmergeArgs, out: Output): Promise<number> {
  const started = Date.now();
  const root = rootOf(args);
  // one action at a time (emerge spec §1.2, §1.9); --deselect with an uninstall is its option
  const removals = { "--depclean": args.depclean, "--prune": args.prune, "--clean": args.clean, "--unmerge": args.unmerge, "--rage-clean": args.rageClean };
  const actions = Object.entries({ ...removals, "--info": args.info, "--list-sets": args.listSets, "--resume": args.resume, "--deselect": args.deselect === true && !Object.values(removals).some(Boolean) }).filter(([, on]) => on).map(([name]) => name);
  if (actions.length > 1) throw new OuzoError("BAD_OPTIONS", `one action at a time, not ${actions.join(" and ")}`);
  // the actions that only read
  if (args.info || args.listSets) {
    if (args.info) out.result(infoText(config, args.atoms ?? [], !!args.verbose));
    else for (const name of setNames(config)) out.result(name);
    return 0;
  }
  // an interrupted merge is finished or rolled back before anything else (build spec §10.8)
  if (!args.pretend) await recoverInterrupted(root, out, { hooks: recoveryHooks(config, args, out) });
  // --depclean, --prune (and --unmerge under -p) are plans (emerge spec §10)
  const removal = removalActionOf(args);
  if (removal && (removal !== "unmerge" || args.pretend)) {
    const { exit, plan } = removalCommand(config, args, out, removal);
    if (exit || args.pretend || !plan.remove.length) return exit;
    return runUnmerge(config, plan.remove.map((c) => `=${c.cpv}`), { ...args, commandLine: commandLineOf(args), shown: true }, out);
  }
  if (args.unmerge || args.rageClean) return runUnmerge(config, args.atoms ?? [], { ...args, commandLine: commandLineOf(args) }, out);
  // --deselect alone: the world files lose the arguments, nothing is unmerged (§2.6)
  if (args.deselect === true) {
    if (args.ask && !args.pretend && !process.stdin.isTTY) throw new OuzoError("NO_TTY", "--ask needs a terminal to answer on");
    return deselectCommand(root, args, out, args.ask ? async () => /^(y|yes|)$/i.test((await ask("\nWould you like to remove these entries? [Yes/No] ")).trim()) : undefined);
  }
  let resumed: ResumeData | undefined;
  /** The build host's packages left by the run resumed (merged into its root, first). */
  let resumeHost: string[] = [];
  if (args.resume) {
    resumed = readResume(root);
    if (!resumed) throw new OuzoError("NOTHING_TO_RESUME", "there is nothing to resume: the last run finished, or none was interrupted");
    // the host's packages come first in a run of two roots: --skipfirst skips the first of them
    const hostList = resumed.hostMergelist ?? [];
    const skipHost = !!args.skipfirst && hostList.length > 0;
    resumeHost = (skipHost ? hostList.slice(1) : hostList).map((cpv) => `=${cpv}`);
    const list = args.skipfirst && !skipHost ? resumed.mergelist.slice(1) : resumed.mergelist;
    if (!list.length && !resumeHost.length) throw new OuzoError("NOTHING_TO_RESUME", "--skipfirst leaves nothing to resume");
    // the packages left, in their order, as they were chosen; into the host root the run had
    args = { ...args, atoms: list.map((cpv: string) => `=${cpv}`), nodeps: true, oneshot: true, ...(resumeHost.length && !args.hostRoot && !process.env.OUZO_HOST_ROOT ? { hostRoot: resumed.hostRoot } : {}) };
  }
  if (!args.atoms?.length && !resumeHost.length) throw new UsageError("emerge needs atoms or sets (e.g. 'ouzo emerge -pv app-misc/hello' or 'ouzo emerge -puDN @world')");
  checkCombinations(args, out);
  if (args.ask && !args.pretend && !process.stdin.isTTY) throw new OuzoError("NO_TTY", "--ask needs a terminal to answer on");
  // --select=n is --oneshot; --select undoes it (emerge spec §1.8)
  const oneshot = args.select === false || (!!args.oneshot && args.select !== true);
  const installed = new InstalledSource(root, out);
  let request = requestOf(config, args.atoms ?? [], root, installed);
  // --update-if-installed: an argument of which no version is installed is skipped silently
  if (args.updateIfInstalled) request = request.filter((r) => installed.all.some((c) => r.atom.matchesIgnoringUse(ref(c))));
  const store = openStore(config.repos, args, out);
  const world = readWorld(root);
  let entries: PlanEntry[];
  let unmerges: UnmergeEntry[];
  let cycle: string[] | undefined;
  let selection: Selection;
  let resolver: Resolver;
  let stats: Record<string, unknown> = {};
  const verbose = !!args.verbose && !args.quiet;
  const header = !args.quiet && !args.json && (args.pretend || args.ask || verbose || args.tree);
  const order = args.tree ? (args.unorderedDisplay ? "" : ", in reverse order") : ", in order";
  if (header) out.result(`\nThese are the packages that would be merged${order}:\n`);
  if (header) out.result("Calculating dependencies... done!");
  const host = hostOf(args, root);
  const opts: ResolveOptions = { ...resolveOptions(args, world.atoms), ...(host ? { split: host.split } : {}) };
  const ebuilds = new EbuildSource(config, store, out);
  const sources: CandidateSource[] = [ebuilds, installed];
  // with --usepkg, the packages of the configured anise repositories are candidates too
  if ((args.usepkg || args.usepkgonly) && hasAniseRepos(args)) sources.push((await import("./anise.js")).aniseSourceFor(args, out));
  const how = { nodeps: args.nodeps, tree: args.tree && !args.unorderedDisplay };
  /** The edges from ROOT's packages to the build host's (for --tree). */
  let hostEdges: Selection["edges"] = [];
  /**
   * The plan of a ROOT selection; with a build host of its own, the host's plan for ROOT's
   * build-time dependencies (resolved against the host's installed packages) goes first.
   */
  const planOf = async (sel: Selection) => {
    if (!host) return buildPlan(sel, how);
    const target = buildPlan(sel, { ...how, root });
    // resumed: the host's packages left are named; otherwise they are what ROOT's build needs
    const external = resumeHost.length ? [] : hostDependencies(sel, opts);
    if (!external.length && !resumeHost.length) return target;
    const hostOpts: ResolveOptions = { ...opts, split: undefined, complete: undefined, rebuild: undefined, onlydeps: false, selected: readWorld(host.root).atoms, external };
    let hostSel: Selection;
    try {
      const hostInstalled = new InstalledSource(host.root, out);
      hostSel = await new Resolver([ebuilds, hostInstalled], hostOpts).resolve(resumeHost.length ? requestOf(config, resumeHost, host.root, hostInstalled) : []);
    } catch (e) {
      if (!(e instanceof ResolveFailure)) throw e;
      throw new OuzoError("NO_PLAN", `the build host's root ${host.root}: ${e.message}`);
    }
    hostEdges = hostSel.edges;
    return joinPlans(buildPlan(hostSel, { ...how, root: host.root, host: true }), target, hostSel.edges);
  };
  try {
    let passes: number;
    ({ selection, resolver, passes } = await resolveAll(config, args, opts, sources, request, installed));
    const t = performance.now();
    ({ entries, unmerges, cycle } = await planOf(selection));
    stats = { ...selection.stats, orderMs: Math.round(performance.now() - t), passes };
    out.report({ kind: "info", message: `resolved: ${stats.candidates} candidates read in ${stats.exploreMs} ms, chosen in ${stats.selectMs} ms${stats.solver ? " (with the solver)" : ""}, ordered in ${stats.orderMs} ms${passes > 1 ? `, ${passes} passes` : ""}` });
  } catch (e) {
    if (!(e instanceof ResolveFailure)) throw e;
    // autounmask's plan and changes, or the failure as a numbered derivation (emerge spec §9, §11)
    const outcome = await resolveFailure({ config, args, out, failure: e, request, opts, sources, store, installed: installed.all, started });
    if ("exit" in outcome) return outcome.exit;
    // --autounmask-continue: the changes are written; go on with the plan they allow
    ({ selection, resolver } = outcome);
    ({ entries, unmerges, cycle } = await planOf(selection));
  } finally {
    store.close();
  }
  // --usepkg: the packages PKGDIR has a fitting binary package of are installed from it (§6.1)
  if (args.usepkg || args.usepkgonly) entries = withBinaries(entries, pkgdirOf(buildSettingsOf(config, args)));
  const missing = selection.missing ?? [];
  const expandHidden = new Set((config.vars.get("USE_EXPAND_HIDDEN") ?? "").split(/\s+/).filter(Boolean));
  const lineOpts: LineOptions = { verbose, quiet: !!args.quiet, quietVerbose: !!args.quiet && !!args.verbose, root, useExpand: config.useExpand, useExpandHidden: expandHidden, locale: numericLocale(process.env) };
  const planned = combined(entries, unmerges);
  const fetches = fetchPlan(planned, config);
  // the fetch column (12) of a fetch-restricted package: `f` its files are in place, `F` missing
  const ops = planned.map((e, i) => {
    const f = fetches[i]!.fetch;
    return e.op === "merge" && f !== "none" ? { ...e, attrs: `${e.attrs.slice(0, 3)}${f === "restricted" ? "F" : "f"}${e.attrs.slice(4)}` } : e;
  });
  const downloads = fetches.map((f) => f.bytes);
  const lines = ops.map((e, i) => (e.op === "merge" ? mergeLine(e, lineOpts, downloads[i]) : uninstallLine(e, lineOpts)));
  const totals = totalsOf(entries, unmerges);
  const downloadTotal = downloads.reduce((a, b) => a + b, 0);
  const restricted = fetches.filter((f) => f.fetch !== "none").length;
  const unsatisfied = fetches.filter((f) => f.fetch === "restricted").length;
  // what the merge would add to the world file (none with -1, -o; §2.5)
  const chosenFor = (r: RequestAtom) => {
    const pkg = selection.chosen.find((c) => (selection.reasons.get(c) ?? []).some((x) => x.kind === "requested" && x.arg === r.arg && x.atom === r.atom.toString()));
    return pkg && { pkg, merged: entries.some((e) => e.pkg === pkg) };
  };
  const worldAdd = oneshot || args.onlydeps ? { add: [], addSets: [] } : worldChange({ request, chosenFor, universe: selection.universe, world: world.atoms, worldSets: world.sets.map((s) => `@${s}`), system: config.system, selective: isSelective(opts), userSets: new Set(config.userSets.keys()) });
  // --changed-deps-report: installed packages in the graph whose ebuild's dependencies changed (§6.7)
  const changedDeps = args.changedDepsReport && !args.changedDeps ? selection.chosen.filter((c) => c.source === "installed" && resolver.depsDiffer(c)) : [];
  const tree = args.tree ? treeRows({ ops, edges: [...selection.edges, ...hostEdges], requested: new Set(selection.chosen.filter((c) => (selection.reasons.get(c) ?? []).some((r) => r.kind === "requested"))) }, lineOpts, new Map(ops.flatMap((e, i) => (e.op === "merge" ? [[e, downloads[i]!] as const] : []))), !!args.unorderedDisplay) : undefined;
  if (args.json) {
    const doc = planDocument({ args, root, configRoot: config.configRoot, ...(host ? { hostRoot: host.root } : {}), started, stats, ops, lines, fetches, unmerges, missing, cycle, totals, downloadTotal, world: worldAdd, changedDeps, tree, oneshot, selection });
    out.json(cycle ? { ...doc, failure: cycleDocument(selection, cycle, new EmergeFacts(config, undefined)) } : doc);
  } else {
    // a plain `emerge ATOMS` shows no plan: it starts building, as emerge does
    const showPlan = args.pretend || args.ask || verbose || args.tree || args.fetchonly;
    if (!showPlan) {
      // nothing shown here
    } else if (tree) for (const row of tree) out.result(row.line);
    else if (args.columns) ops.forEach((e, i) => e.op === "merge" && out.result(columnsLine(e, lineOpts, downloads[i], Number(config.vars.get("COLUMNWIDTH")) || 130)));
    else
      ops.forEach((e, i) => {
        out.result(lines[i]!);
        if (e.op === "unmerge") out.result(blockerLine(e, true, lineOpts));
      });
    if (verbose && showPlan) {
      out.result(`\n${totalLine(totals, downloadTotal, lineOpts.locale)}`);
      if (restricted) out.result(`Fetch Restriction: ${restricted} package${restricted === 1 ? "" : "s"}${unsatisfied ? ` (${unsatisfied} unsatisfied)` : ""}`);
      if (unmerges.length) out.result(`Conflict: ${unmerges.length} block${unmerges.length === 1 ? "" : "s"}`);
    }
    if (cycle) out.error(cycleText(selection, cycle, new EmergeFacts(config, undefined)));
    if (changedDeps.length) {
      out.warn(`the dependencies of ${changedDeps.length === 1 ? "this installed package have" : "these installed packages have"} changed in their ebuild without a revision bump:`);
      for (const c of changedDeps) out.result(`    ${c.cpv}::${c.repo}`);
      out.result("  to rebuild them with their ebuild's dependencies: ouzo emerge -1 --changed-deps ATOMS (or --changed-deps with -uD @world)");
    }
    if (missing.length) {
      out.warn(`ebuilds for the following packages are either all masked or don't exist: ${missing.map((m) => m.atom).join(" ")}`);
      if (missing.some((m) => m.set === "selected" || m.set === "world")) out.warn(`check ${path.join(root, "var/lib/portage/world")}: an entry there names a package no repository has`);
    }
  }
  if (cycle) return 1;
  if (args.ask && !args.pretend && entries.length + unmerges.length > 0) {
    // emerge's question; "No" ends the run with 130, as emerge's does
    const answer = await ask("\nWould you like to merge these packages? [Yes/No] ");
    if (!/^(y|yes|)$/i.test(answer.trim())) {
      out.result("\nQuitting.\n");
      return 130;
    }
  }
  if (!args.pretend) {
    if (!entries.length && !unmerges.length) return 0;
    const worldAtoms = resumed ? resumed.worldAtoms : [...worldAdd.add];
    const worldSets = resumed ? [] : [...worldAdd.addSets];
    return runPlan(config, entries, unmerges, worldAtoms, worldSets, { ...args, commandLine: commandLineOf(args), inOrder: !!resumed }, out);
  }
  return 0;
}
