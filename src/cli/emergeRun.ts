// `ouzo emerge` carrying out its plan (emerge spec §9, build spec §1.2, §10): fetch ahead, build
// each package from its ebuild, pkg_preinst, merge into ROOT (the replaced instance's prerm and
// postrm at their place), pkg_postinst, the world file; --jobs builds packages whose
// dependencies are merged side by side, merges one at a time; --keep-going skips what depends
// on a failure; the list still to do is saved for --resume.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PackageBuild } from "../build/build.js";
import { DependPool } from "../ebuild/DependPool.js";
import { aniseOrigin } from "./aniseSource.js";
import { fetchPackage } from "../build/packageFetch.js";
import { binpkgAt, findBinpkg, type BinpkgMatch } from "../build/binpkgInstall.js";
import { getBinpkg } from "../build/binhost.js";
import { pkgdirOf } from "../build/binpkg.js";
import type { BuildPackage, BuildSettings } from "../build/phaseEnv.js";
import type { Config } from "../config/Config.js";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile } from "../core/fsutil.js";
import type { MergeHooks } from "../merge/merge.js";
import { readInstalled, type InstalledPackage } from "../vdb/installed.js";
import type { PlanEntry, UnmergeEntry } from "../resolve/plan.js";
import { OwnerIndex } from "../vdb/ownerIndex.js";
import { addWorldAtoms, addWorldSets, removeWorldAtoms } from "../vdb/worldWrite.js";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI } from "../pms/eapi.js";
import { cacheDirOf } from "./context.js";
import type { Output } from "../ui/Output.js";
import { buildHooks } from "./buildHooks.js";
import { buildPackageOf, buildSettingsOf, envBashrcs } from "./commands/ebuild.js";
import type { GlobalArgs } from "./context.js";
import { EmergeLog, ElogSummary, elogClasses, readElog } from "./emergeLog.js";
import { aniseAware, cleanBuildDir, infoDirAfter, installedPhaseHooks, mergeBuilt, unmergeInstalled } from "./mergeBuilt.js";
import { UNLIMITED_JOBS } from "./emergeArgv.js";

export interface RunOptions extends GlobalArgs {
  jobs?: number;
  /** --load-average: no new build starts while the 1-minute load is above this. */
  loadAverage?: number;
  keepGoing?: boolean;
  fetchonly?: boolean;
  buildpkg?: boolean;
  buildpkgonly?: boolean;
  /** --usepkg: install from a matching binary package in PKGDIR instead of building. */
  usepkg?: boolean;
  usepkgonly?: boolean;
  getbinpkg?: boolean;
  getbinpkgonly?: boolean;
  quietBuild?: boolean;
  /**
   * The plan carries no dependency edges (--resume plans with --nodeps): each package waits for
   * those before it, so --jobs cannot build one before what it needs is merged.
   */
  inOrder?: boolean;
  /** The command line, for emerge.log. */
  commandLine: string;
}

/** One package of the run. */
interface Job {
  readonly n: number;
  readonly entry: PlanEntry;
  /** Indexes (into the run) of what must be merged before this one is built. */
  readonly after: number[];
  /** Indexes of what must be over (merged, failed or skipped) before it starts: order without dependence. */
  readonly before: number[];
  state: "waiting" | "building" | "built" | "merging" | "done" | "failed" | "skipped";
  build?: PackageBuild;
  error?: string;
}

/** The resume list (Portage keeps one in mtimedb): what is left of the last run, for --resume. */
export function resumeFile(root: string): string {
  return path.join(root, "var", "cache", "edb", "ouzo-resume.json");
}

export interface ResumeData {
  /** What is left for ROOT, in order (`cpv::repo`). */
  readonly mergelist: readonly string[];
  /** What is left for the build host's root (a run with a host root of its own), merged first. */
  readonly hostMergelist?: readonly string[];
  readonly hostRoot?: string;
  readonly worldAtoms: readonly string[];
}

export function readResume(root: string): ResumeData | undefined {
  try {
    return JSON.parse(fs.readFileSync(resumeFile(root), "utf8")) as ResumeData;
  } catch {
    return undefined;
  }
}

function saveResume(root: string, data: ResumeData | undefined): void {
  const f = resumeFile(root);
  if (!data || !(data.mergelist.length + (data.hostMergelist?.length ?? 0))) {
    fs.rmSync(f, { force: true });
    return;
  }
  fs.mkdirSync(path.dirname(f), { recursive: true });
  atomicWriteFile(f, JSON.stringify(data, null, 1) + "\n");
}

/**
 * Carry out the merges of a plan. `worldAtoms`: what the world file gains once everything is
 * merged (emerge adds them as each requested package is merged; ouzo adds each when its package is).
 */
export async function runPlan(config: Config, entries: readonly PlanEntry[], unmerges: readonly UnmergeEntry[], worldAdd: readonly string[], worldSets: readonly string[], args: RunOptions, out: Output): Promise<number> {
  const root = config.root;
  const settings = buildSettingsOf(config, args);
  const features = new Set(settings.features);
  if (args.buildpkg || args.buildpkgonly) features.add("buildpkg");
  const run: BuildSettings = { ...settings, features };
  const tmpdir = config.vars.get("PORTAGE_TMPDIR") || "/var/tmp";
  const log = new EmergeLog(root);
  const elog = new ElogSummary(root);
  const classes = elogClasses(config.vars.get("PORTAGE_ELOG_CLASSES"));
  const total = entries.length;
  const to = root === "/" ? "/" : `${root}/`;
  // each entry goes into its own root: ROOT, or the build host's for ROOT's build-time dependencies
  const rootOfEntry = (e: { root?: string }) => e.root ?? root;
  const toOf = (e: { root?: string }) => (rootOfEntry(e) === "/" ? "/" : `${rootOfEntry(e)}/`);
  log.write(` *** emerge ${args.commandLine}`);

  // what each package waits for: its dependencies planned before it (build-time, runtime)
  const indexOf = new Map(entries.map((e, i) => [e.index, i]));
  // a plan without edges (--resume) keeps its order: each package starts once those before it are
  // over, so --jobs cannot build one before what it needs (a failure still skips nothing here)
  const jobs: Job[] = entries.map((entry, i) => ({
    n: i + 1,
    entry,
    after: entry.deps.filter((d) => d.edge !== "runtime_post" && d.edge !== "blocker").map((d) => indexOf.get(d.index)).filter((j): j is number => j !== undefined && j < i),
    // the one before it started only once those before it were over: waiting for it is enough
    before: args.inOrder && i > 0 ? [i - 1] : [],
    state: "waiting",
  }));
  const resume = () => {
    const left = jobs.filter((j) => j.state !== "done");
    const name = (j: Job) => `${j.entry.pkg.cpv}::${j.entry.pkg.repo}`;
    const host = left.filter((j) => j.entry.host);
    saveResume(root, {
      mergelist: left.filter((j) => !j.entry.host).map(name),
      ...(host.length ? { hostMergelist: host.map(name), hostRoot: host[0]!.entry.root } : {}),
      worldAtoms: worldAdd,
    });
  };
  resume();

  // the packages' ebuilds, sourced once for their metadata, USE as the plan decided
  const pkgs = new Map<Job, BuildPackage>();
  const pool = new DependPool();
  try {
    await Promise.all(
      jobs.map(async (j) => {
        const c = j.entry.pkg;
        if (aniseOrigin(c)) return; // an anise package: no ebuild, merged by the anise stage
        const repo = config.repos.get(c.repo);
        if (!repo) throw new OuzoError("no-repository", `${c.cpv}: repository '${c.repo}' is not configured`);
        const ebuild = path.join(repo.location, c.category, c.package, `${c.cpv.slice(c.category.length + 1)}.ebuild`);
        pkgs.set(j, await buildPackageOf(config, ebuild, c.use, pool));
      }),
    );
  } finally {
    pool.close();
  }

  // --usepkg, --usepkgonly, --getbinpkg: a fitting binary package of PKGDIR (or of a binhost,
  // downloaded into PKGDIR) instead of a build; with --usepkgonly nothing is built
  const usesBinaries = !!(args.usepkg || args.usepkgonly || args.getbinpkg || args.getbinpkgonly);
  const binaryFor = async (pkg: BuildPackage, s: BuildSettings, entry: PlanEntry) => {
    if (!usesBinaries) return undefined;
    // the plan's choice (its line said `binary`); a binhost's package is looked for now
    let found: BinpkgMatch | undefined = entry.binary !== undefined ? binpkgAt(entry.binary) : undefined;
    if (!found && (args.getbinpkg || args.getbinpkgonly)) found = findBinpkg(pkg, s) ?? ((await getBinpkg(pkg, s, out)) ? findBinpkg(pkg, s) : undefined);
    if (!found && (args.usepkgonly || args.getbinpkgonly)) {
      throw new OuzoError("no-binpkg", `${pkg.category}/${pkg.pf}: no binary package with USE="${pkg.use.join(" ")}" in ${pkgdirOf(s)}${args.getbinpkgonly ? " or on the binhosts" : ""}, and --usepkgonly builds nothing`);
    }
    return found;
  };

  // fetch everything first (Portage's parallel-fetch does it during the builds; here it is the
  // first step, so a missing distfile stops the run before anything is built)
  out.notice(`>>> Fetching the distfiles of ${total} package${total === 1 ? "" : "s"}`);
  const fetchFailures: string[] = [];
  for (const j of jobs) {
    if (aniseOrigin(j.entry.pkg)) continue;
    // a package that will come from a binary package needs no distfile
    if (usesBinaries && (await binaryFor(pkgs.get(j)!, run, j.entry))) continue;
    try {
      await fetchPackage(pkgs.get(j)!, run, out);
    } catch (e) {
      if (!(e instanceof OuzoError) || !args.keepGoing) throw e;
      j.state = "failed";
      j.error = e.message;
      fetchFailures.push(e.message);
    }
  }
  if (args.fetchonly) {
    for (const f of fetchFailures) out.error(f);
    return fetchFailures.length ? 1 : 0;
  }

  const index = OwnerIndex.open(root, cacheDirOf(args), { reporter: out });
  // the owner index of another root (the build host's) lives in that root's cache
  const indexes = new Map<string, OwnerIndex>([[root, index]]);
  const indexFor = (r: string) => {
    let x = indexes.get(r);
    if (!x) indexes.set(r, (x = OwnerIndex.open(r, path.join(r, "var", "cache", "ouzo"), { reporter: out })));
    return x;
  };
  // a weak blocker's victim goes right before the package that blocks it is merged (emerge spec §7.4)
  const unmergeBefore = new Map<number, UnmergeEntry[]>();
  for (const u of unmerges) {
    const first = Math.min(...u.by.map((b) => entries.findIndex((e) => e.pkg === b)).filter((i) => i >= 0));
    const at = Number.isFinite(first) ? first : 0;
    unmergeBefore.set(at, [...(unmergeBefore.get(at) ?? []), u]);
  }
  /** The world atoms of this run that name `cp` (`cp`, `cp:SLOT`, `cp::repo`), added once it is merged. */
  const addWorldOf = async (cp: string) => {
    const atoms = worldAdd.filter((a) => a === cp || a.startsWith(`${cp}:`));
    if (atoms.length) await addWorldAtoms(root, atoms);
  };
  const hooksFor = () => buildHooks(out, { quiet: !!args.quiet, quietBuild: !!args.quietBuild || (args.jobs ?? 1) !== 1 });
  const phaseHooks = installedPhaseHooks(run, tmpdir, hooksFor);
  const removeInstalled = async (p: InstalledPackage, why: string, from: string) => {
    out.result(`>>> Unmerging ${p.cpv} (${why})`);
    log.write(` === Unmerging... (${p.cpv})`);
    await unmergeInstalled(p, { root: from, config, features, out, ownerIndex: indexFor(from), hooks: phaseHooks });
    log.write(` >>> unmerge success: ${p.cpv}`);
  };
  const failed = (j: Job) => j.state === "failed" || j.state === "skipped";
  /** Its dependencies merged, and what goes before it over. */
  const ready = (j: Job) => j.after.every((a) => jobs[a]!.state === "done") && j.before.every((b) => jobs[b]!.state === "done" || failed(jobs[b]!));
  let mergeChain: Promise<void> = Promise.resolve();
  let running = 0;
  let loadTimer: NodeJS.Timeout | undefined;
  const width = args.jobs === UNLIMITED_JOBS ? Infinity : Math.max(1, args.jobs ?? 1);
  const started = Date.now();
  // emerge's status line with --jobs: how many are done, which are running, and the load
  const status = () => {
    if (width < 2) return;
    const done = jobs.filter((j) => j.state === "done").length;
    const busy = jobs.filter((j) => j.state === "building" || j.state === "merging").map((j) => `${j.entry.pkg.cpv} (${j.state === "merging" ? "merging" : (j.build?.phaseNow ?? "starting")})`);
    out.report({ kind: "progress", task: "emerge", done, total, item: `Jobs: ${done} of ${total} complete, ${busy.length} running${busy.length ? `: ${busy.join(", ")}` : ""}  Load avg: ${os.loadavg().map((l) => l.toFixed(2)).join(", ")}` });
  };
  const statusTimer = width > 1 ? setInterval(status, 1000) : undefined;
  out.report({ kind: "started", task: "emerge", total });

  const buildOne = async (j: Job): Promise<void> => {
    if (aniseOrigin(j.entry.pkg)) return;
    const pkg = pkgs.get(j)!;
    const cpv = `${pkg.category}/${pkg.pf}`;
    const where = `${cpv}::${j.entry.pkg.repo}`;
    out.result(`>>> Emerging (${j.n} of ${total}) ${where}`);
    log.write(` >>> emerge (${j.n} of ${total}) ${cpv} to ${toOf(j.entry)}`);
    log.write(` === (${j.n} of ${total}) Compiling/Merging (${cpv}::${pkg.ebuild})`);
    const pkgSettings: BuildSettings = { ...run, root: rootOfEntry(j.entry), bashrcs: [...run.bashrcs, ...envBashrcs(run.configRoot, pkg)] };
    const build = new PackageBuild(pkg, pkgSettings, tmpdir, hooksFor());
    j.build = build;
    const binary = await binaryFor(pkg, pkgSettings, j.entry);
    if (binary) {
      log.write(` === (${j.n} of ${total}) Merging Binary (${cpv}::${binary.path})`);
      await build.fromBinpkg(binary);
      return;
    }
    cleanBuildDir(build, features, "before");
    await build.run(features.has("buildpkg") ? "package" : "instprep");
  };

  const mergeOne = async (j: Job): Promise<void> => {
    const anise = aniseOrigin(j.entry.pkg);
    if (anise) {
      // an anise package (--usepkg): downloaded, verified and merged as `ouzo anise install` does
      const c = j.entry.pkg;
      out.result(`>>> Installing (${j.n} of ${total}) ${c.cpv}::${c.repo} (anise)`);
      log.write(` >>> emerge (${j.n} of ${total}) ${c.cpv} to ${to}`);
      const r = await (await import("./commands/anise.js")).mergeAniseEntries([j.entry], args, out);
      for (const f of r.finalizerFailures) out.warn(`${c.cpv}: ${f}`);
      for (const p of r.configPending) out.notice(` * IMPORTANT: config file '${p.path}' needs updating (${p.file}).`);
      await addWorldOf(`${c.category}/${c.package}`);
      log.write(` ::: completed emerge (${j.n} of ${total}) ${c.cpv} to ${to}`);
      out.result(`>>> Completed (${j.n} of ${total}) ${c.cpv}::${c.repo}`);
      return;
    }
    const build = j.build!;
    const pkg = build.pkg;
    const cpv = build.cpv;
    if (args.buildpkgonly) return;
    const into = rootOfEntry(j.entry);
    for (const u of unmergeBefore.get(j.n - 1) ?? []) {
      const from = rootOfEntry(u);
      const victim = readInstalled(from).find((p) => p.cpv === u.pkg.cpv);
      if (victim) await removeInstalled(victim, `blocked by ${u.atom}`, from);
    }
    out.result(`>>> Installing (${j.n} of ${total}) ${cpv}::${j.entry.pkg.repo}`);
    log.write(` === (${j.n} of ${total}) Merging (${cpv}::${pkg.ebuild})`);
    const result = await mergeBuilt(build, { root: into, config, features, out, ownerIndex: indexFor(into), hooks: await aniseAware(args, out, phaseHooks) });
    for (const r of result.replaced) log.write(` >>> unmerge success: ${r.cpv}`);
    elog.add(cpv, readElog(build.dir.temp, classes));
    // the world file is ROOT's: the build host's packages are dependencies
    if (into === root && !j.entry.host) await addWorldOf(`${pkg.category}/${pkg.pn}`);
    log.write(` === (${j.n} of ${total}) Post-Build Cleaning (${cpv}::${pkg.ebuild})`);
    cleanBuildDir(build, features, "merged");
    log.write(` ::: completed emerge (${j.n} of ${total}) ${cpv} to ${toOf(j.entry)}`);
    out.result(`>>> Completed (${j.n} of ${total}) ${cpv}::${j.entry.pkg.repo}`);
  };

  // the scheduler: start builds whose dependencies are merged, up to --jobs at once; merges
  // run one at a time, in the order builds finish
  await new Promise<void>((resolve) => {
    const tick = () => {
      for (const j of jobs) {
        if (j.state !== "waiting") continue;
        if (j.after.some((a) => failed(jobs[a]!))) {
          j.state = "skipped";
          j.error = `not built: it needs ${j.after.filter((a) => failed(jobs[a]!)).map((a) => jobs[a]!.entry.pkg.cpv).join(", ")}, which failed`;
          continue;
        }
      }
      const stop = !args.keepGoing && jobs.some((j) => j.state === "failed");
      // --load-average: with something running already, wait for the load to come down
      const loaded = running > 0 && args.loadAverage !== undefined && os.loadavg()[0]! > args.loadAverage;
      if (loaded && !loadTimer) loadTimer = setTimeout(() => ((loadTimer = undefined), tick()), 1000);
      if (!stop && !loaded) {
        for (const j of jobs) {
          if (running >= width) break;
          if (j.state !== "waiting" || !ready(j)) continue;
          j.state = "building";
          running++;
          buildOne(j)
            .then(() => {
              j.state = "built";
              mergeChain = mergeChain.then(async () => {
                j.state = "merging";
                try {
                  await mergeOne(j);
                  j.state = "done";
                } catch (e) {
                  fail(j, e);
                }
                resume();
              });
              return mergeChain;
            })
            .catch((e) => fail(j, e))
            .finally(() => {
              running--;
              tick();
            });
        }
      }
      if (running === 0 && (stop || !jobs.some((j) => j.state === "waiting" && ready(j)))) {
        void mergeChain.then(resolve);
      }
    };
    const fail = (j: Job, e: unknown) => {
      if (!(e instanceof OuzoError)) throw e;
      j.state = "failed";
      j.error = e.message;
      out.error(e.message);
      log.write(` !!! failed: ${j.entry.pkg.cpv}`);
      if (j.build) cleanBuildDir(j.build, features, "failed");
    };
    tick();
  });

  if (statusTimer) clearInterval(statusTimer);
  out.report({ kind: "finished", task: "emerge", message: width > 1 ? `Jobs: ${jobs.filter((j) => j.state === "done").length} of ${total} complete in ${((Date.now() - started) / 1000).toFixed(1)} s` : undefined });
  for (const x of indexes.values()) x.close();
  if (jobs.every((j) => j.state === "done") && worldSets.length) await addWorldSets(root, worldSets);
  // --buildpkgonly merges nothing: the indexes are left as they are
  const mergedInto = args.buildpkgonly ? [] : jobs.filter((j) => j.state === "done").map((j) => rootOfEntry(j.entry));
  const changed = [...mergedInto, ...unmerges.map(rootOfEntry)];
  if (changed.length) await infoDirAfter(changed, features, out);
  elog.print(out, root === "/" ? undefined : to);
  const bad = jobs.filter(failed);
  if (bad.length) {
    out.result("");
    out.result(` * Not merged (${bad.length} of ${total}):`);
    for (const j of bad) out.result(` *   ${j.entry.pkg.cpv}: ${j.error ?? "failed"}`);
    const left = jobs.filter((j) => j.state !== "done").length;
    out.result(` * ${left} package${left === 1 ? "" : "s"} left: 'ouzo emerge --resume' carries on${bad.length === 1 ? ", --resume --skipfirst without the failed one" : ""}`);
    log.write(` *** exiting unsuccessfully with status '1'.`);
    log.write(" *** terminating.");
    return 1;
  }
  saveResume(root, undefined);
  log.write(" *** exiting successfully.");
  log.write(" *** terminating.");
  return 0;
}

/** `ouzo emerge -C ATOMS`: the installed packages the atoms name, removed with their prerm/postrm. */
export async function runUnmerge(config: Config, atoms: readonly string[], args: RunOptions & { pretend?: boolean; shown?: boolean; deselect?: boolean }, out: Output): Promise<number> {
  const root = config.root;
  const installed = readInstalled(root);
  const chosen: InstalledPackage[] = [];
  for (const text of atoms) {
    const atom = Atom.parse(text.includes("/") ? text : `*/${text}`, USER_CONFIG_EAPI);
    const hits = installed.filter((p) => atom.matches({ category: p.category, package: p.package, version: p.version, slot: p.slot, subslot: p.subslot, repo: p.repo }));
    if (!hits.length) {
      out.error(`there are no installed packages matching "${text}"`);
      return 1;
    }
    for (const h of hits) if (!chosen.includes(h)) chosen.push(h);
  }
  if (!args.shown) out.result("\n>>> These are the packages that would be unmerged:\n");
  for (const p of args.shown ? [] : chosen) {
    out.result(` ${p.category}/${p.package}`);
    out.result(`    selected: ${p.version.toString()}`);
    out.result("   protected: none");
    out.result("     omitted: none\n");
  }
  if (args.pretend) return 0;
  const settings = buildSettingsOf(config, args);
  const tmpdir = config.vars.get("PORTAGE_TMPDIR") || "/var/tmp";
  const log = new EmergeLog(root);
  log.write(` *** emerge ${args.commandLine}`);
  const index = OwnerIndex.open(root, cacheDirOf(args), { reporter: out });
  const hooks = buildHooks(out, { quiet: !!args.quiet, quietBuild: !!args.quietBuild });
  try {
    for (const p of chosen) {
      out.result(`>>> Unmerging ${p.cpv}...`);
      log.write(` === Unmerging... (${p.cpv})`);
      await unmergeInstalled(p, {
        root,
        config,
        features: settings.features,
        out,
        ownerIndex: index,
        othersInSlot: installed.filter((o) => o !== p && o.category === p.category && o.package === p.package && o.slot === p.slot),
        // an anise-installed package runs its stored uninstall finalizer instead of ebuild phases
        hooks: await aniseAware(args, out, installedPhaseHooks(settings, tmpdir, () => hooks)),
        showKept: !args.quiet,
      });
      log.write(` >>> unmerge success: ${p.cpv}`);
      // the world file loses a package once no version of it is left
      if (args.deselect !== false && !readInstalled(root).some((o) => o.category === p.category && o.package === p.package)) await removeWorldAtoms(root, [`${p.category}/${p.package}`]);
    }
  } finally {
    index.close();
  }
  await infoDirAfter([root], settings.features, out);
  log.write(" *** exiting successfully.");
  return 0;
}

/** pkg_prerm/pkg_postrm for a recovery that finishes an interrupted replace or unmerge. */
export function recoveryHooks(config: Config, args: GlobalArgs, out: Output): MergeHooks {
  const hooks = buildHooks(out, { quietBuild: true });
  return installedPhaseHooks(buildSettingsOf(config, args), config.vars.get("PORTAGE_TMPDIR") || "/var/tmp", () => hooks);
}

