// `ouzo anise …` (and an `anise` link to ouzo): anise's client commands on ouzo's pipeline
// (anise.md §9–§14). Installing is the resolver's choice among anise packages and what is
// installed (src/cli/aniseSource.ts), carried out by src/anise/AniseInstaller.ts through the
// merge stage; every package gets a /var/db/pkg entry, so emerge and these commands share one
// installed view. Where anise's behaviour is listed in §15 as not to be copied, ouzo does
// otherwise: unknown packages exit 1, versions order as PMS does, priorities decide
// deterministically, a sha256 is required, upgrades are atomic per package, and failures say why.
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { aniseHooks, runAniseSteps, type AniseRunContext, type AniseRunResult, type AniseStep } from "../../anise/AniseInstaller.js";
import type { MergeHooks } from "../../merge/merge.js";
import { type PackageSpec } from "../../anise/AnisePackage.js";
import { aniseRecordOf, readInstalledWithRecords, runtimeDependencies, type AniseInstalled } from "../../anise/AniseRecord.js";
import { createRepository } from "../../anise/createRepo.js";
import { fetchOptionsFromEnv } from "../../anise/download.js";
import { packPackage } from "../../anise/pack.js";
import { parsePackageArg, type PackageArg } from "../../anise/packageArgs.js";
import { planRemoval } from "../../anise/reverseDeps.js";
import { compareAniseVersions, parseAniseVersion } from "../../anise/version.js";
import { readMakeConf, readShellVars, tokens } from "../../config/shellVars.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import { packagePath } from "../../core/paths.js";
import { recoverInterrupted } from "../../merge/recover.js";
import { Atom } from "../../pms/atom.js";
import { COMMAND_LINE_EAPI } from "../../pms/eapi.js";
import { compareVersions } from "../../pms/version.js";
import { buildPlan } from "../../resolve/plan.js";
import { type RequestAtom, ref, ResolveFailure, Resolver, type ResolveOptions } from "../../resolve/resolve.js";
import type { Output } from "../../ui/Output.js";
import { readInstalled, type InstalledPackage } from "../../vdb/installed.js";
import { OwnerIndex } from "../../vdb/ownerIndex.js";
import { readWorld } from "../../vdb/world.js";
import { addWorldAtoms, removeWorldAtoms } from "../../vdb/worldWrite.js";
import { configEnv, loadConfig, type GlobalArgs } from "../context.js";
import { aniseQBelongsCommand, aniseRepoUpdateCommand } from "./aniseQuery.js";
import { emit, installedNamed, instRef, labelOf, nameLookup, openIndex, openSystem, outputMode, reopenCatalog, syncRepos, type AniseArgs, type AniseSystem } from "./aniseSystem.js";
import { aniseOrigin, AniseSource, depsChanged, InstalledListSource, type AniseCandidate } from "../aniseSource.js";
import { journalDir } from "../../merge/journal.js";

const TOOL_VERSION = "0.1.0";

export type { AniseArgs } from "./aniseSystem.js";

/** CONFIG_PROTECT, CONFIG_PROTECT_MASK, FEATURES: Portage's configuration when there is one, else make.globals and make.conf. */
function portageSettings(args: AniseArgs, sys: AniseSystem, out: Output): { protect: string[]; mask: string[]; features: Set<string> } {
  try {
    const c = loadConfig({ ...args, root: sys.root, configRoot: sys.configRoot }, out);
    return { protect: tokens(c.vars.get("CONFIG_PROTECT")), mask: tokens(c.vars.get("CONFIG_PROTECT_MASK")), features: new Set(tokens(c.vars.get("FEATURES"))) };
  } catch {
    // a binary-only system may have no profile: make.globals with make.conf on top
    const scope = new Map<string, string>();
    const vals = new Map<string, string>();
    try {
      for (const a of readShellVars(packagePath("profiles", "make.globals"), { scope })) vals.set(a.name, a.value);
      for (const a of readMakeConf(path.join(sys.configRoot, "etc", "portage"), scope)) vals.set(a.name, a.name === "FEATURES" ? `${vals.get("FEATURES") ?? ""} ${a.value}` : a.value);
    } catch (e) {
      out.warn(`Portage's settings cannot be read (${(e as Error).message}); CONFIG_PROTECT=/etc is used`);
    }
    const features = new Set<string>();
    // FEATURES of the environment stack on make.conf's, as the full configuration stacks them
    for (const f of tokens(`${vals.get("FEATURES") ?? "protect-owned"} ${configEnv().FEATURES ?? ""}`)) {
      if (f.startsWith("-")) features.delete(f.slice(1));
      else features.add(f);
    }
    return { protect: tokens(vals.get("CONFIG_PROTECT") ?? "/etc"), mask: tokens(vals.get("CONFIG_PROTECT_MASK") ?? ""), features };
  }
}

function finalizerEnvOf(args: AniseArgs, sys: AniseSystem) {
  const vars: [string, string][] = sys.config.finalizerEnvs.map(([k, v]) => [k, v]);
  for (const kv of args.finalizerEnv ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`--finalizer-env takes KEY=VALUE, not '${kv}'`);
    vars.push([kv.slice(0, eq), kv.slice(eq + 1)]);
  }
  return { vars, subsets: [...sys.config.subsetsEnabled].sort(), toolVersion: TOOL_VERSION };
}

function runContext(args: AniseArgs, sys: AniseSystem, out: Output, index: OwnerIndex | undefined): AniseRunContext {
  const p = portageSettings(args, sys, out);
  // one syncfs at the end of the transaction instead of one per package (AniseRunContext.syncAtEnd),
  // with write-backs in the background meanwhile
  const syncAtEnd = p.features.delete("merge-sync");
  return {
    syncAtEnd,
    root: sys.root,
    catalog: sys.catalog,
    packagesDir: path.join(sys.cacheDir, "anise", "packages"),
    workDir: path.join(sys.cacheDir, "anise", "work"),
    fetch: fetchOptionsFromEnv(process.env, args.concurrency ?? sys.config.concurrency, sys.config.clientTimeout),
    configProtect: p.protect,
    configProtectMask: p.mask,
    aniseProtect: sys.config.configProtect,
    skipConfigProtect: !!args.skipConfigProtect || sys.config.configProtectSkip,
    features: p.features,
    subsetsEnabled: sys.config.subsetsEnabled,
    subsetDefinitions: sys.config.subsetDefinitions,
    overwriteDirPerms: sys.config.overwriteDirPerms,
    skipFinalizers: !!args.skipFinalizers,
    finalizerEnv: finalizerEnvOf(args, sys),
    force: !!args.force || !!args.ignoreConflicts,
    skipCheckSystem: !!args.skipCheckSystem,
    keepProtected: !!args.keepProtectedFiles,
    downloadOnly: !!args.downloadOnly,
    sameOwner: sys.config.sameOwner,
    ownerIndex: index,
    reporter: out,
  };
}

/** Finish or undo an interrupted merge first, running stored uninstall finalizers where due. */
async function recover(sys: AniseSystem, args: AniseArgs, out: Output): Promise<void> {
  // nothing was interrupted when no journal is left (every merge also recovers first, under its lock)
  let journals: string[] = [];
  try {
    journals = fs.readdirSync(journalDir(sys.root));
  } catch {
    // no journal directory: nothing ever began
  }
  if (!journals.length) return;
  const report = await recoverInterrupted(sys.root, out, { hooks: aniseHooks({ root: sys.root, skipFinalizers: !!args.skipFinalizers, finalizerEnv: finalizerEnvOf(args, sys), reporter: out }) });
  for (const t of report.transactions) if (t.action !== "discarded") out.notice(`recovered the interrupted ${t.kind} of ${t.cpv}: ${t.action}`);
}

function specOfCandidate(c: AniseCandidate): PackageSpec {
  return c.anise.kind === "package" ? c.anise.entry.spec : c.anise.spec;
}

interface PlannedSteps {
  readonly steps: AniseStep[];
  readonly lines: string[];
  readonly doc: { op: string; package: string; repository: string; replaces?: string }[];
}

/** The resolver's plan as anise steps, with the installed instances each one replaces. */
function stepsOf(entries: ReturnType<typeof buildPlan>["entries"], installed: readonly InstalledPackage[]): PlannedSteps {
  const steps: AniseStep[] = [];
  const lines: string[] = [];
  const doc: PlannedSteps["doc"] = [];
  const providedHere = new Map<string, string>(); // provided cp → provider cp
  for (const e of entries) {
    const o = aniseOrigin(e.pkg);
    if (o?.kind === "provided") providedHere.set(`${e.pkg.category}/${e.pkg.package}`, `${o.provider.spec.category}/${o.provider.spec.name}`);
  }
  for (const e of entries) {
    const c = e.pkg as AniseCandidate;
    const o = aniseOrigin(c);
    if (!o) throw new OuzoError("ANISE_PLAN", `${c.cpv}::${c.repo} would have to be built from source; 'ouzo emerge' does that`, { pkg: c.cpv });
    const spec = specOfCandidate(c);
    const cp = `${c.category}/${c.package}`;
    let replacing = installed.filter((p) => p.category === c.category && p.package === c.package && (p.slot === c.slot || p.cpv === c.cpv));
    if (o.kind === "package") {
      // a package providing names that are installed as packages of their own replaces them (§9 "Upgrade")
      for (const p of spec.provides) {
        const pcp = `${p.category}/${p.name}`;
        if (providedHere.get(pcp) !== cp) continue;
        for (const i of installed) if (`${i.category}/${i.package}` === pcp && !aniseRecordOf(i)?.providedBy) replacing.push(i);
      }
      steps.push({ kind: "install", entry: o.entry, replacing });
    } else {
      replacing = replacing.filter((i) => aniseRecordOf(i)?.providedBy);
      steps.push({ kind: "provide", spec, provider: o.provider, replacing });
    }
    const old = replacing.map((r) => aniseRecordOf(r)?.version ?? r.version.text);
    const tag = e.status === "new" || e.status === "new-slot" ? "N" : e.status === "reinstall" ? "R" : e.status === "downgrade" ? "UD" : "U";
    lines.push(`[anise ${tag.padEnd(2)}] ${labelOf(spec)}::${c.repo}${o.kind === "provided" ? ` (provided by ${labelOf(o.provider.spec)})` : ""}${old.length ? ` [${old.join(", ")}]` : ""}`);
    doc.push({ op: e.status, package: labelOf(spec), repository: c.repo, ...(replacing.length ? { replaces: replacing.map((r) => r.cpv).join(" ") } : {}) });
  }
  return { steps, lines, doc };
}

/**
 * Why a request cannot be satisfied, in anise's terms: the package named, the requirement no
 * repository has, the conflict with what is installed or asked for (§15.8: anise says only
 * "No valid candidate").
 */
function explain(failure: ResolveFailure, request: readonly PackageArg[], source: AniseSource, installed: readonly InstalledPackage[]): string {
  const lines: string[] = [];
  const best = (a: Atom) => source.candidatesSync(a.cp).filter((c) => c.masks.length === 0 && a.matchesIgnoringUse(ref(c)))[0];
  const bests = request.map((r) => best(r.atom)).filter((c): c is AniseCandidate => !!c);
  const visited = new Set<string>();
  const walk = (c: AniseCandidate, chain: string[], depth: number) => {
    if (visited.has(c.cpv) || depth > 20) return;
    visited.add(c.cpv);
    const spec = specOfCandidate(c);
    const me = labelOf(spec);
    for (const x of spec.conflicts) {
      const cp = `${x.category}/${x.name}`;
      if (spec.provides.some((p) => `${p.category}/${p.name}` === cp)) continue;
      const atom = Atom.tryParse(runtimeDependencies({ ...spec, requires: [], conflicts: [x], provides: [] }).split(" ")[0]!.replace(/^!!/, ""), "8");
      if (!atom) continue;
      for (const i of installed) if (atom.matchesIgnoringUse(instRef(i))) lines.push(`${[...chain, me].join(" → ")} conflicts with the installed ${i.cpv} (conflicts: ${cp}${x.version ? ` ${x.version}` : ""})`);
      for (const b of bests) if (b !== c && atom.matchesIgnoringUse(ref(b))) lines.push(`${[...chain, me].join(" → ")} conflicts with ${labelOf(specOfCandidate(b))}, also asked for (conflicts: ${cp}${x.version ? ` ${x.version}` : ""})`);
    }
    for (const i of installed) {
      const rec = aniseRecordOf(i);
      for (const x of rec?.spec?.conflicts ?? []) {
        if (`${x.category}/${x.name}` !== `${c.category}/${c.package}`) continue;
        lines.push(`the installed ${i.cpv} conflicts with ${[...chain, me].join(" → ")} (conflicts: ${x.category}/${x.name}${x.version ? ` ${x.version}` : ""})`);
      }
    }
    for (const r of spec.requires) {
      const dep = runtimeDependencies({ ...spec, requires: [r], conflicts: [], provides: [] });
      const atoms = dep.split(/\s+/).filter((t) => t !== "||" && t !== "(" && t !== ")").map((t) => Atom.tryParse(t, "8")).filter((a): a is Atom => !!a);
      const cands = atoms.flatMap((a) => source.candidatesSync(a.cp).filter((x) => a.matchesIgnoringUse(ref(x))));
      const inst = atoms.some((a) => installed.some((i) => a.matchesIgnoringUse(instRef(i))));
      if (inst) continue;
      const usable = cands.filter((x) => x.masks.length === 0);
      if (!cands.length) lines.push(`${[...chain, me].join(" → ")} requires ${r.category}/${r.name}${r.version ? ` ${r.version}` : ""}, which no repository has and is not installed`);
      else if (!usable.length) lines.push(`${[...chain, me].join(" → ")} requires ${r.category}/${r.name}${r.version ? ` ${r.version}` : ""}, whose every version is masked: ${cands.map((x) => `${x.cpv} (${x.masks.join(", ")})`).join("; ")}`);
      else walk(usable[0]!, [...chain, me], depth + 1);
    }
  };
  for (const b of bests) walk(b, [], 0);
  return lines.length ? [...new Set(lines)].join("\n") : failure.message;
}

async function confirm(args: AniseArgs, sys: AniseSystem, question: string): Promise<boolean> {
  if (args.yes || sys.config.yes || !process.stdin.isTTY) return true;
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N]: `)).trim());
  } finally {
    rl.close();
  }
}

/** Run a plan and say what happened; the exit status. */
async function runSteps(steps: AniseStep[], args: AniseArgs, sys: AniseSystem, out: Output, world: { add?: string[]; remove?: string[] }, what: string, plan: PlannedSteps | undefined): Promise<number> {
  const index = openIndex(sys, out);
  let result: AniseRunResult;
  const ctx = runContext(args, sys, out, index);
  try {
    result = await runAniseSteps(steps, ctx);
  } finally {
    index.close();
  }
  if (!ctx.downloadOnly) {
    if (world.add?.length) await addWorldAtoms(sys.root, world.add);
    if (world.remove?.length) await removeWorldAtoms(sys.root, world.remove);
  }
  const doc = {
    action: what,
    root: sys.root,
    plan: plan?.doc ?? [],
    downloaded: result.downloaded.map((f) => path.basename(f)),
    installed: result.installed.map((i) => i.cpv),
    removed: result.removed.map((r) => r.cpv),
    config_pending: result.configPending,
    finalizer_failures: result.finalizerFailures,
  };
  emit(args, out, doc, () => [
    ...(ctx.downloadOnly ? [`downloaded ${result.downloaded.length} package(s) into ${ctx.packagesDir}`] : []),
    ...result.installed.map((i) => `>>> installed ${i.cpv}`),
    ...result.removed.map((r) => `<<< removed ${r.cpv}`),
    ...result.configPending.map((c) => ` * IMPORTANT: config file '${c.path}' needs updating (${c.file})`),
  ]);
  for (const f of result.finalizerFailures) out.error(f);
  return result.finalizerFailures.length ? 1 : 0;
}

function showPlan(args: AniseArgs, out: Output, plan: PlannedSteps, header: string): void {
  if (outputMode(args) !== "terminal") return;
  out.result(header);
  for (const l of plan.lines) out.result(l);
}

/** `ouzo anise install PKG…` (alias `i`). */
export async function aniseInstallCommand(args: AniseArgs, out: Output): Promise<number> {
  if (!args.packages?.length) throw new UsageError("install needs at least one package");
  let sys = openSystem(args, out);
  if (args.syncRepos) {
    if (!(await syncRepos(sys, args, out))) return 1;
    sys = reopenCatalog(sys, args, out);
  }
  if (!args.pretend) await recover(sys, args, out);
  const installed = readInstalled(sys.root, (w) => out.warn(`${w.dir}${w.file ? `/${w.file}` : ""}: ${w.message}`));
  const installedSource = new InstalledListSource(installed);
  const source = new AniseSource(sys.catalog, (m) => out.warn(m));
  const request: PackageArg[] = [];
  for (const a of args.packages) {
    const pa = parsePackageArg(a, nameLookup(sys, installed));
    const have = installed.filter((p) => pa.atom.matchesIgnoringUse(instRef(p)) && (pa.build === undefined || aniseRecordOf(p)?.version === `${p.version.text}+${pa.build}`));
    if (have.length) {
      out.warn(`${a}: ${have.map((h) => h.cpv).join(", ")} is already installed`);
      continue;
    }
    const cands = source.candidatesSync(pa.atom.cp).filter((c) => pa.atom.matchesIgnoringUse(ref(c)));
    if (!cands.length) throw new OuzoError("ANISE_NO_PACKAGE", `no anise package matches '${a}'${sys.catalog.repos.length ? "" : " (no anise repository is synced: 'ouzo anise repo update' or --sync-repos)"}`);
    request.push(pa);
  }
  if (!request.length) {
    emit(args, out, { action: "install", plan: [] }, () => ["No packages to install."]);
    return 0;
  }
  const requestAtoms: RequestAtom[] = request.map((r) => ({ arg: r.arg, atom: r.atom }));
  const opts: ResolveOptions = { noreplace: true, nodeps: !!args.nodeps, selected: readWorld(sys.root).atoms };
  let plan: PlannedSteps;
  try {
    const selection = await new Resolver([source, installedSource], opts).resolve(requestAtoms);
    const { entries } = buildPlan(selection, { nodeps: args.nodeps });
    plan = stepsOf(entries, installed);
  } catch (e) {
    if (!(e instanceof ResolveFailure)) throw e;
    throw new OuzoError("ANISE_NO_PLAN", explain(e, request, source, installed));
  }
  showPlan(args, out, plan, "Packages that are going to be installed in the system:");
  if (args.pretend) {
    if (outputMode(args) !== "terminal") emit(args, out, { action: "install", pretend: true, plan: plan.doc }, () => []);
    return 0;
  }
  if (!(await confirm(args, sys, "Do you want to continue with this operation?"))) return 1;
  const world = request.map((r) => r.atom.cp);
  return runSteps(plan.steps, args, sys, out, { add: world }, "install", plan);
}

/**
 * `ouzo anise upgrade` (alias `u`): every installed anise package to its newest admissible
 * version (or the same version whose requires, conflicts or provides changed, or a newer build),
 * dependencies updated as needed; packages built from source are left alone unless named.
 */
export async function aniseUpgradeCommand(args: AniseArgs, out: Output): Promise<number> {
  let sys = openSystem(args, out);
  if (args.syncRepos) {
    if (!(await syncRepos(sys, args, out))) return 1;
    sys = reopenCatalog(sys, args, out);
  }
  if (!args.pretend) await recover(sys, args, out);
  const all = readInstalledWithRecords(sys.root);
  const installed = all.map((x) => x.pkg);
  let mine = all.filter((x): x is { pkg: InstalledPackage; anise: AniseInstalled } => !!x.anise);
  const named = (args.packages ?? []).map((a) => parsePackageArg(a, nameLookup(sys, installed)));
  if (named.length) {
    const chosen = all.filter((x) => named.some((n) => n.atom.matchesIgnoringUse(instRef(x.pkg))));
    for (const n of named) if (!chosen.some((x) => n.atom.matchesIgnoringUse(instRef(x.pkg)))) throw new OuzoError("ANISE_NOT_INSTALLED", `'${n.arg}' is not installed`);
    mine = chosen.map((x) => ({ pkg: x.pkg, anise: x.anise ?? ({ pkg: x.pkg, repository: x.pkg.repo, version: x.pkg.version.text, spec: undefined, finalizer: undefined, providedBy: undefined, configProtect: undefined } as AniseInstalled) }));
  }
  if (!mine.length) {
    emit(args, out, { action: "upgrade", plan: [] }, () => ["No anise packages are installed: nothing to upgrade."]);
    return 0;
  }
  const source = new AniseSource(sys.catalog, (m) => out.warn(m));
  const reinstall: Atom[] = [];
  const request: RequestAtom[] = [];
  const seen = new Set<string>();
  for (const { pkg, anise } of mine) {
    const cp = `${pkg.category}/${pkg.package}`;
    const cands = source.candidatesSync(cp).filter((c) => c.masks.length === 0);
    if (!seen.has(cp)) {
      seen.add(cp);
      request.push({ arg: cp, atom: Atom.parse(cp, COMMAND_LINE_EAPI) });
    }
    if (!cands.length) continue;
    const now = parseAniseVersion(anise.version);
    const same = cands.filter((c) => compareVersions(c.version, pkg.version) === 0);
    const newerBuild = same.some((c) => {
      const v = parseAniseVersion(specOfCandidate(c).version);
      return !!v && !!now && compareAniseVersions(v, now) > 0;
    });
    const changed = same.some((c) => c.anise.kind === "package" && depsChanged(anise.spec, c.anise.entry.spec));
    // a package that another now provides goes: its name is answered by the provider (§9)
    const replacedByProvider = !anise.providedBy && cands.every((c) => c.anise.kind === "provided");
    const gone = !!args.deep && !cands.some((c) => c.cpv === pkg.cpv);
    if (newerBuild || changed || replacedByProvider || gone) reinstall.push(Atom.parse(`=${pkg.cpv}`, COMMAND_LINE_EAPI));
  }
  const opts: ResolveOptions = { update: true, reinstallAtoms: reinstall, nodeps: !!args.nodeps, selected: readWorld(sys.root).atoms };
  let plan: PlannedSteps;
  const installedSource = new InstalledListSource(installed);
  try {
    const selection = await new Resolver([source, installedSource], opts).resolve(request);
    const { entries } = buildPlan(selection, { nodeps: args.nodeps });
    // --deep allows downgrades; without it an installed version newer than any available stays
    plan = stepsOf(
      entries.filter((e) => args.deep || e.status !== "downgrade" || reinstall.some((a) => e.replaces && a.matchesIgnoringUse(ref(e.replaces)))),
      installed,
    );
  } catch (e) {
    if (!(e instanceof ResolveFailure)) throw e;
    throw new OuzoError("ANISE_NO_PLAN", explain(e, request.map((r) => ({ arg: r.arg, atom: r.atom, build: undefined })), source, installed));
  }
  if (!plan.steps.length) {
    emit(args, out, { action: "upgrade", plan: [] }, () => ["Nothing to upgrade."]);
    return 0;
  }
  showPlan(args, out, plan, "Packages that are going to be upgraded:");
  if (args.pretend) {
    if (outputMode(args) !== "terminal") emit(args, out, { action: "upgrade", pretend: true, plan: plan.doc }, () => []);
    return 0;
  }
  if (!(await confirm(args, sys, "Do you want to continue with this operation?"))) return 1;
  return runSteps(plan.steps, args, sys, out, {}, "upgrade", plan);
}

/** `ouzo anise uninstall PKG…` (alias `rm`): with its installed reverse dependencies unless --nodeps. */
export async function aniseUninstallCommand(args: AniseArgs, out: Output): Promise<number> {
  if (!args.packages?.length) throw new UsageError("uninstall needs at least one package");
  const sys = openSystem(args, out);
  if (!args.pretend) await recover(sys, args, out);
  const installed = readInstalled(sys.root);
  const targets: InstalledPackage[] = [];
  for (const a of args.packages) for (const p of installedNamed(a, installed, nameLookup(sys, installed))) if (!targets.includes(p)) targets.push(p);
  const removal = planRemoval(installed, targets, !!args.nodeps);
  const fromSource = removal.order.filter((p) => !targets.includes(p) && !aniseRecordOf(p));
  if (fromSource.length && !args.force) {
    throw new OuzoError("ANISE_NEEDED", `removing ${targets.map((t) => t.cpv).join(", ")} would break packages built from source: ${fromSource.map((p) => `${p.cpv} (needs ${removal.because.get(p.cpv)})`).join(", ")}; remove them with 'ouzo emerge -C' first, or use --nodeps (leave them broken) or --force (remove them too)`);
  }
  const plan: PlannedSteps = {
    steps: removal.order.map((p) => ({ kind: "remove", pkg: p, reason: removal.because.has(p.cpv) ? `needs ${removal.because.get(p.cpv)}` : "asked for" })),
    lines: removal.order.map((p) => `[anise C ] ${aniseRecordOf(p) ? `${p.category}/${p.package}-${aniseRecordOf(p)!.version}` : p.cpv}${removal.because.has(p.cpv) ? ` (needs ${removal.because.get(p.cpv)})` : ""}`),
    doc: removal.order.map((p) => ({ op: "uninstall", package: p.cpv, repository: p.repo })),
  };
  showPlan(args, out, plan, "Packages that are going to be removed from the system:");
  if (args.pretend) {
    if (outputMode(args) !== "terminal") emit(args, out, { action: "uninstall", pretend: true, plan: plan.doc }, () => []);
    return 0;
  }
  if (!(await confirm(args, sys, "Do you want to continue with this operation?"))) return 1;
  const world = removal.order.map((p) => `${p.category}/${p.package}`);
  return runSteps(plan.steps, args, sys, out, { remove: world }, "uninstall", plan);
}

/** The anise packages of ROOT's synced repositories as a candidate source, masks applied. */
// --- for `ouzo emerge --usepkg` (wired by emerge.ts and emergeRun.ts) ---

export function aniseSourceFor(args: GlobalArgs, out: Output): AniseSource {
  return new AniseSource(openSystem(args as AniseArgs, out).catalog, (m) => out.warn(m));
}

/**
 * Merge the plan entries whose candidate is an anise package (aniseOrigin(entry.pkg) set), in
 * their order: downloaded, verified, unpacked and merged as `ouzo anise install` does. Returns
 * the run's result; finalizer failures are in it, not thrown.
 */
export async function mergeAniseEntries(entries: ReturnType<typeof buildPlan>["entries"], args: GlobalArgs, out: Output): Promise<AniseRunResult> {
  const a = { ...args, yes: true } as AniseArgs;
  const sys = openSystem(a, out);
  const plan = stepsOf(entries.filter((e) => aniseOrigin(e.pkg)), readInstalled(sys.root));
  const index = openIndex(sys, out);
  try {
    // emerge makes the info index once, at the end of its run
    return await runAniseSteps(plan.steps, { ...runContext(a, sys, out, index), infoIndex: false });
  } finally {
    index.close();
  }
}

/**
 * For `ouzo demo`: publish a small anise package into a local repository (`type: disk`) under
 * `base`, configure it for ROOT, sync it and install the package beside the source-built ones,
 * then ask who owns one of its files. Returns the exit status of the first step that fails.
 */
export async function aniseDemo(base: string, args: GlobalArgs, out: Output): Promise<number> {
  const root = path.resolve(args.root ?? "/");
  const image = path.join(base, "anise-image");
  const repo = path.join(base, "anise-repo");
  fs.mkdirSync(path.join(image, "usr", "share", "anise-hello"), { recursive: true });
  fs.writeFileSync(path.join(image, "usr", "share", "anise-hello", "README"), "Installed by ouzo anise from a binary repository.\n");
  const spec: PackageSpec = { category: "app-misc", name: "anise-hello", version: "1.0+1", requires: [], conflicts: [], provides: [], useFlags: [], hidden: false, annotations: {}, labels: {}, description: "a binary package of the demo", license: "MIT", uri: [] };
  await packPackage({ spec, source: { kind: "image", dir: image }, outDir: repo });
  await createRepository({ packagesDir: repo, name: "demo", type: "disk", urls: [repo], description: "the demo's anise repository" });
  const conf = path.join(root, "etc", "anise", "repos.conf.d");
  fs.mkdirSync(conf, { recursive: true });
  fs.writeFileSync(path.join(conf, "demo.yml"), YAML.stringify({ name: "demo", type: "disk", urls: [repo], priority: 10 }));
  const a: AniseArgs = { ...args, root, yes: true };
  out.line("ouzo anise repo update; ouzo anise install app-misc/anise-hello");
  let rc = await aniseRepoUpdateCommand(a, out);
  if (rc) return rc;
  rc = await aniseInstallCommand({ ...a, packages: ["app-misc/anise-hello"] }, out);
  if (rc) return rc;
  return aniseQBelongsCommand({ ...a, paths: ["/usr/share/anise-hello/README"] }, out);
}

/**
 * The merge hooks `ouzo emerge` uses when a removed or replaced package may be an anise one:
 * its stored uninstall finalizer runs (with anise's finalizer environment) instead of ebuild
 * phases; a source-built package gets `source`'s prerm/postrm.
 */
export function aniseAwareHooks(args: GlobalArgs, out: Output, source: MergeHooks): MergeHooks {
  let sys: AniseSystem | undefined;
  try {
    sys = openSystem(args as AniseArgs, out);
  } catch {
    // no usable /etc/anise: only source-built packages can be there
    return source;
  }
  return aniseHooks({ root: sys.root, skipFinalizers: false, finalizerEnv: finalizerEnvOf(args as AniseArgs, sys), sourceHooks: source, reporter: out });
}
