import * as fs from "node:fs";
import * as path from "node:path";
import { readRepoDefs } from "../../config/aniseRepos.js";
import { readEgoConf, type EgoConf } from "../../config/egoConf.js";
import { loadRepositories } from "../../config/repositories.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import { isDirectory } from "../../core/fsutil.js";
import { MetadataStore } from "../../metadata/MetadataStore.js";
import { dependTimeout, failureLine, regenTotals } from "./metadata.js";
import { AniseSync, type AniseSyncOutcome } from "../../sync/AniseSync.js";
import { DEFAULT_DOWNLOAD } from "../../sync/download.js";
import { Git } from "../../sync/git.js";
import { KitSync, type SyncResult } from "../../sync/KitSync.js";
import { installedCpvs, readPackageMoves, type PackageMove } from "../../sync/packageMoves.js";
import { applyPackageMoves } from "../../vdb/packageMoves.js";
import { updatePythonKitLines } from "../../sync/pythonKitProfile.js";
import { writeReposConf } from "../../sync/reposConf.js";
import { parseCpv } from "../../pms/atom.js";
import type { Output } from "../../ui/Output.js";
import { table } from "../../ui/table.js";
import { cacheDirOf, configRootOf, rootOf, stateDirOf, withSyncLock, type GlobalArgs } from "../context.js";

export interface SyncArgs extends GlobalArgs {
  dest?: string;
  offline?: boolean;
  link?: boolean;
  anise?: boolean;
  jobs?: number;
  kits?: boolean;
  regen?: boolean;
  /** false with --no-kits: only anise repositories. */
  metaRepo?: boolean;
}

/** Download limits: anise's HTTP_TIMEOUT (seconds) is honoured. */
function downloadOptions() {
  const t = Number(process.env.HTTP_TIMEOUT);
  return { ...DEFAULT_DOWNLOAD, timeoutMs: Number.isFinite(t) && t > 0 ? t * 1000 : DEFAULT_DOWNLOAD.timeoutMs };
}

/** anise repository definitions: ouzo's own directory, then /etc/anise/repos.conf.d. */
export function aniseRepoDirs(args: GlobalArgs): string[] {
  const c = configRootOf(args);
  return [path.join(c, "etc", "ouzo", "anise", "repos.conf.d"), path.join(c, "etc", "anise", "repos.conf.d")];
}

/** Location of a path as written in repos.conf: without the ROOT prefix. */
function withoutRoot(root: string, p: string): string {
  return root === "/" ? p : "/" + path.relative(root, p);
}

/** `ouzo sync`: meta-repo and kits (transactional), repos.conf, profile lines, moves, metadata, anise. */
export async function syncCommand(args: SyncArgs, out: Output): Promise<number> {
  if (args.kits) return kitsCommand(args, out);
  if (args.jobs !== undefined && (!Number.isInteger(args.jobs) || args.jobs < 1)) throw new UsageError("--jobs takes a whole number of at least 1");
  const root = rootOf(args);
  if (!isDirectory(root)) throw new OuzoError("NO_ROOT", `ROOT ${root} does not exist: check --root (or ROOT), or create the directory to sync a new system into it`);
  await out.live();
  // A second sync at once would delete the first's staging clones, take its switch journal for
  // an interrupted sync's and roll its kits back under it: it waits for the lock instead.
  return withSyncLock(args, out, () => (args.metaRepo === false ? aniseOnly(args, out) : syncLocked(args, out)));
}

async function syncLocked(args: SyncArgs, out: Output): Promise<number> {
  const root = rootOf(args);
  const ego = readEgoConf(root);
  if (!ego.exists) {
    // a misspelt --root lands here too: say what is in effect, and where it would come from
    out.notice(`no ${ego.file}: using ego's defaults (release ${ego.release ?? "master"}, sync_base_url ${ego.syncBaseUrl}, meta-repo ${ego.metaRepoPath}); write that file to choose`);
  }
  const kitSync = new KitSync({ ego, root, dest: args.dest, offline: args.offline, jobs: args.jobs ?? 4, link: args.link, stateDir: stateDirOf(args), reporter: out });
  const started = Date.now();
  const result = await kitSync.sync();
  const report: Record<string, unknown> = {
    release: result.release,
    meta_repo: { path: result.metaRepo.path, branch: result.metaRepoBranch, old: result.metaRepo.oldCommit ?? null, new: result.metaRepo.newCommit },
    kits: result.kits.map((k) => ({ kit: k.kit, branch: k.branch, stability: k.stability, old: k.oldCommit ?? null, new: k.newCommit, changed: k.oldCommit !== k.newCommit })),
    skipped: result.skipped,
  };
  const warnings = [...result.warnings];

  if (!args.dest) {
    const kitLocations = result.kits.map((k) => ({ kit: k.kit, location: withoutRoot(root, k.path) }));
    const rc = writeReposConf(ego.reposConfPath, kitLocations, "core-kit");
    report.repos_conf = { path: ego.reposConfPath, written: rc.written.length, removed: rc.removed.length };
    report.profile = updateProfileLines(args, ego, result, warnings);
    report.package_moves = await packageMoves(root, result, warnings);
    if (args.regen !== false) report.regen = await regenKits(args, ego, result, warnings, out);
  }

  let anise: AniseSyncOutcome[] = [];
  if (args.anise !== false) {
    const defs = readRepoDefs(aniseRepoDirs(args), (m) => warnings.push(m));
    if (defs.length) {
      anise = await aniseSync(args, out).syncAll(defs);
      report.anise = anise;
    }
  }
  report.seconds = Number(((Date.now() - started) / 1000).toFixed(3));
  report.warnings = warnings;
  const aniseFailed = anise.filter((a) => a.status === "failed");

  if (out.opts.json) out.json(report);
  else {
    for (const w of warnings) out.warn(w);
    const meta = result.metaRepo;
    out.line(`meta-repo ${result.metaRepoBranch}: ${meta.oldCommit ? (meta.oldCommit === meta.newCommit ? `${short(meta.newCommit)} (unchanged)` : `${short(meta.oldCommit)} -> ${short(meta.newCommit)}`) : `${short(meta.newCommit)} (new)`}`);
    const rows = result.kits.map((k) => [k.kit, k.branch, k.oldCommit === k.newCommit ? "unchanged" : k.oldCommit ? `${short(k.oldCommit)} -> ${short(k.newCommit)}` : `${short(k.newCommit)} (new)`]);
    for (const line of table([...rows, ...result.skipped.map((s) => [s, "", "skipped"])], "  ")) out.line(line);
    const nonPrime = result.kits.filter((k) => k.stability !== "prime");
    if (nonPrime.length) out.line(`not prime: ${nonPrime.map((k) => `${k.kit} (${k.branch}: ${k.stability})`).join(", ")}`);
    const moves = report.package_moves as { applicable: string[] } | undefined;
    if (moves?.applicable.length) out.line(`package moves to apply to installed packages: ${moves.applicable.join("; ")}`);
    const regen = report.regen as ({ kits: string[]; changed?: number; seconds?: number } & Partial<ReturnType<typeof regenTotals>>) | undefined;
    if (regen?.kits.length) {
      const n = regen.kits.length;
      const which = regen.changed === n ? `${n} changed kit${n === 1 ? "" : "s"}` : `${n} kit${n === 1 ? "" : "s"} (${regen.changed} changed, ${n - regen.changed!} left incomplete before)`;
      out.line(`metadata cache of ${which}: ${regen.imported} imported from shipped md5-cache, ${regen.generated} generated, ${regen.unchanged} unchanged, ${regen.removed} removed, ${regen.failed} failed in ${regen.seconds} s`);
    }
    for (const a of anise) out.line(`anise ${a.repo}: ${a.status}${a.revision !== undefined ? ` (revision ${a.revision})` : ""}${a.error ? `: ${a.error}` : ""}`);
    const changed = result.kits.filter((k) => k.oldCommit !== k.newCommit).length;
    out.result(`sync: ${result.kits.length} kits in alignment with the meta-repo (${changed} changed) in ${report.seconds} s`);
  }
  for (const a of aniseFailed) if (!out.opts.json) out.error(a.error!);
  return aniseFailed.length ? 1 : 0;
}

function aniseSync(args: GlobalArgs, out: Output): AniseSync {
  return new AniseSync(path.join(stateDirOf(args), "anise", "repos"), path.join(cacheDirOf(args), "anise", "downloads"), out, downloadOptions());
}

/** `ouzo sync --no-kits`: anise repositories only. */
async function aniseOnly(args: SyncArgs, out: Output): Promise<number> {
  const warnings: string[] = [];
  const defs = readRepoDefs(aniseRepoDirs(args), (m) => warnings.push(m));
  const results = defs.length ? await aniseSync(args, out).syncAll(defs) : [];
  if (out.opts.json) out.json({ anise: results, warnings });
  else {
    for (const w of warnings) out.warn(w);
    if (!defs.length) out.line("no anise repositories are configured");
    for (const a of results) {
      if (a.status === "failed") out.error(a.error!);
      else out.line(`anise ${a.repo}: ${a.status} (revision ${a.revision})`);
    }
  }
  return results.some((a) => a.status === "failed") ? 1 : 0;
}

function short(sha: string): string {
  return sha.slice(0, 12);
}

/** ego's profile update: python-kit lines in make.profile/parent, when make.profile is a directory. */
function updateProfileLines(args: GlobalArgs, ego: EgoConf, result: SyncResult, warnings: string[]): unknown {
  const parent = path.join(configRootOf(args), "etc", "portage", "make.profile", "parent");
  if (!fs.existsSync(path.dirname(parent)) || !fs.statSync(path.dirname(parent)).isDirectory()) return { updated: false, reason: "no make.profile directory" };
  const pythonBranch = result.kits.find((k) => k.kit === "python-kit")?.branch;
  const profile = ego.pythonKitProfile ?? pythonBranch;
  if (!profile) return { updated: false, reason: "no python-kit in this release and no python_kit_profile" };
  const order = [...result.releaseData.releaseDefs.keys()].filter((k) => result.kits.some((x) => x.kit === k));
  const kits = order.map((k) => ({ kit: k, location: result.kits.find((x) => x.kit === k)!.path }));
  const r = updatePythonKitLines(parent, kits, profile);
  if (r.warning) warnings.push(r.warning);
  return { updated: r.changed, python_kit_profile: profile, lines: r.lines.filter((l) => l.includes(":funtoo/kits/python-kit/")).length };
}

/** Package moves of every kit (profiles/updates), applied to the installed database and the world file. */
async function packageMoves(root: string, result: SyncResult, warnings: string[]): Promise<{ total: number; applicable: string[]; applied: { renamed: number; slots: number; world: number } }> {
  const installed = installedCpvs(root)
    .map((c) => {
      try {
        return parseCpv(c);
      } catch {
        return undefined;
      }
    })
    .filter((c): c is NonNullable<typeof c> => !!c);
  let total = 0;
  const applicable: string[] = [];
  const moves: PackageMove[] = [];
  for (const k of result.kits) {
    for (const m of readPackageMoves(k.path, (w) => warnings.push(w))) {
      total++;
      moves.push(m);
      const atom = m.kind === "move" ? m.from : m.atom;
      const hits = installed.filter((c) => atom.matchesIgnoringUse({ category: c.category, package: c.package, version: c.version }));
      for (const h of hits) applicable.push(m.kind === "move" ? `${h.cpv} -> ${m.to}` : `${h.cpv} slot ${m.fromSlot} -> ${m.toSlot}`);
    }
  }
  if (!applicable.length || !fs.existsSync(path.join(root, "var", "db", "pkg"))) return { total, applicable, applied: { renamed: 0, slots: 0, world: 0 } };
  const r = await applyPackageMoves(root, moves);
  for (const s of r.skipped) warnings.push(`package move not applied to ${s.cpv}: ${s.why}`);
  return { total, applicable, applied: { renamed: r.renamed.length, slots: r.slots.length, world: r.world.length } };
}

/**
 * Bring the metadata cache of the release's kits up to date: the kits whose commit changed, and
 * every kit whose metadata an earlier sync did not complete at its current commit (skipped with
 * --no-regen, interrupted, or with failures). Entries of a kit's shipped md5-cache that are valid
 * are imported, the rest sourced (MARK's `mark-*` branches ship none). A kit whose master is not
 * configured (skipped in ego.conf) cannot be regenerated: it is named, with the master it needs.
 */
async function regenKits(args: SyncArgs, ego: EgoConf, result: SyncResult, warnings: string[], out: Output): Promise<unknown> {
  const repos = loadRepositories(ego.reposConfPath, configRootOf(args));
  const store = new MetadataStore(repos, path.join(cacheDirOf(args), "metadata.db"), { jobs: args.jobs, timeoutSeconds: dependTimeout(args), reporter: out });
  try {
    const due = result.kits.filter((k) => {
      if (k.oldCommit !== k.newCommit) return true;
      const state = store.cache.regenState(k.kit);
      return !state || state.commit !== k.newCommit || !state.complete;
    });
    const blocked: { kit: string; missing: string[] }[] = [];
    const kits = due.filter((k) => {
      const repo = repos.get(k.kit);
      const missing = repo ? repo.masters.filter((m) => !repos.get(m)) : [];
      if (missing.length) blocked.push({ kit: k.kit, missing });
      return repo && !missing.length;
    });
    for (const b of blocked) {
      warnings.push(`${b.kit} needs ${b.missing.join(" and ")} (its master${b.missing.length > 1 ? "s" : ""}), which ${b.missing.length > 1 ? "are" : "is"} not synced (skipped in ${ego.file}?): ${b.kit}'s metadata cannot be generated until ${b.missing.length > 1 ? "they are" : "it is"}`);
    }
    if (!kits.length) return { kits: [], blocked };
    const s = await store.regen(kits.map((k) => k.kit));
    for (const f of s.failures) out.warn(failureLine(f));
    const failedIn = new Set(s.failures.map((f) => f.repo));
    for (const k of kits) store.cache.setRegenState(k.kit, repos.get(k.kit)!.location, k.newCommit, !failedIn.has(k.kit));
    return { kits: kits.map((k) => k.kit), changed: kits.filter((k) => k.oldCommit !== k.newCommit).length, ...regenTotals(s), seconds: Number(s.seconds.toFixed(3)), blocked };
  } finally {
    store.close();
  }
}

/** `ouzo kits` (`ouzo sync --kits`): branch, stability, pin and current commit of every kit. */
export async function kitsCommand(args: GlobalArgs & { dest?: string }, out: Output): Promise<number> {
  const root = rootOf(args);
  const ego = readEgoConf(root);
  const ks = new KitSync({ ego, root, dest: args.dest, stateDir: stateDirOf(args) });
  const { choice, skipped } = await ks.currentRelease();
  const rows = choice.map((k) => {
    const dir = path.join(ks.kitsPath, k.kit);
    const current = Git.isRepo(dir) ? (Git.headOf(dir) ?? null) : null;
    return { kit: k.kit, branch: k.branch, stability: k.stability, pinned: k.sha1, current, matches: current === k.sha1 };
  });
  if (out.opts.json) out.json({ kits: rows, skipped });
  else {
    const lines = table([
      ["kit", "branch", "stability", "pinned", "current", "match"],
      ...rows.map((r) => [r.kit, r.branch, r.stability, short(r.pinned), r.current ? short(r.current) : "-", r.matches ? "yes" : "NO"]),
      ...skipped.map((s) => [s, "skipped"]),
    ]);
    // colour goes on after layout, on the last column only
    for (const line of lines) out.result(line.endsWith(" NO") ? line.slice(0, -2) + out.color("red", "NO") : line);
  }
  if (rows.some((r) => !r.matches)) {
    if (!out.opts.json) out.error(`kits out of alignment with the meta-repo: ${rows.filter((r) => !r.matches).map((r) => r.kit).join(", ")}; run 'ouzo sync'`);
    return 1;
  }
  return 0;
}


