// Carrying out an anise plan (anise.md §9, §9.1, §10, §12): the file-conflict rule checked for
// the whole transaction first, every artifact downloaded and verified before anything in ROOT
// changes (each is unpacked into the work directory, subsets honoured, as soon as it is
// verified), then each package merged through the merge stage (its new files staged before the
// old version goes, one journal per package, CONFIG_PROTECT shared with source packages, the VDB
// lock held once for the run), removals through the unmerge, and at the end the install
// finalizers in order. A failing finalizer leaves its package installed and is reported.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { Reporter } from "../core/reporter.js";
import type { ImageEntry } from "../merge/imageWalk.js";
import { envUpdate } from "../merge/envUpdate.js";
import { updateInfoDirs } from "../merge/infoDir.js";
import { mergePackage, type MergeHooks, type MergeResult } from "../merge/merge.js";
import { unmergePackage, type UnmergeResult } from "../merge/unmerge.js";
import { withVdbLock } from "../vdb/vdbLock.js";
import { parseContents, type ContentsEntry } from "../vdb/contents.js";
import type { InstalledPackage } from "../vdb/installed.js";
import type { OwnerIndex } from "../vdb/ownerIndex.js";
import type { AniseCatalog, AniseEntry } from "./AniseCatalog.js";
import type { SubsetDefinition } from "./AniseConfig.js";
import { fingerprint, type PackageSpec } from "./AnisePackage.js";
import { aniseRecordOf, generatedEntryFiles, pfOf, recordFiles, slotOf } from "./AniseRecord.js";
import { fetchArtifacts, type ArtifactRequest, type FetchOptions } from "./download.js";
import { finalizerEnv, finalizerRecord, parseFinalizer, runFinalizer, type Finalizer, type FinalizerEnvironment } from "./finalizer.js";
import { checkFileConflicts, subsetsFor } from "./fileConflicts.js";
import type { UnpackResult } from "./ImageBuilder.js";
import { Unpacker, type UnpackVia } from "./Unpacker.js";

/** Bytes merged between two background write-backs (AniseRunContext.syncAtEnd). */
const SYNC_EVERY = 64 << 20;

/** One step of an anise plan, in order. */
export type AniseStep =
  | { readonly kind: "install"; readonly entry: AniseEntry; readonly replacing: readonly InstalledPackage[] }
  /** Record `cp` as provided by `provider` (an entry with no files: a virtual, in Portage's words). */
  | { readonly kind: "provide"; readonly spec: PackageSpec; readonly provider: AniseEntry; readonly replacing: readonly InstalledPackage[] }
  | { readonly kind: "remove"; readonly pkg: InstalledPackage; readonly reason: string };

export interface AniseRunContext {
  readonly root: string;
  readonly catalog: AniseCatalog;
  /** The package cache (`<cache>/anise/packages`). */
  readonly packagesDir: string;
  /** Scratch space for images, on ROOT's filesystem if possible (files are then moved, not copied). */
  readonly workDir: string;
  readonly fetch: FetchOptions;
  /** CONFIG_PROTECT and CONFIG_PROTECT_MASK of the configuration. */
  readonly configProtect: readonly string[];
  readonly configProtectMask: readonly string[];
  /** config.protect.d's directories. */
  readonly aniseProtect: readonly string[];
  /** --skip-config-protect or config_protect_skip. */
  readonly skipConfigProtect: boolean;
  /** FEATURES of the configuration (config-protect-if-modified, merge-sync…). */
  readonly features: ReadonlySet<string>;
  readonly subsetsEnabled: ReadonlySet<string>;
  readonly subsetDefinitions: readonly SubsetDefinition[];
  readonly skipFinalizers: boolean;
  readonly finalizerEnv: FinalizerEnvironment;
  /** --force: file conflicts are warnings. */
  readonly force: boolean;
  /** --skip-check-system: no check against files on disk and their owners. */
  readonly skipCheckSystem: boolean;
  /** anise's overwrite_dir_perms: existing directories take the package's mode and owner. */
  readonly overwriteDirPerms?: boolean;
  /** -k: protected files of removed packages stay, modified or not. */
  readonly keepProtected: boolean;
  readonly downloadOnly: boolean;
  readonly sameOwner?: boolean;
  /**
   * merge-sync for the run as a whole: ROOT's filesystem is synced once, started as soon as the
   * last merge (or removal) is done and waited for before the run returns, while the rest of the
   * run's work (env-update, the owner index, the work directory) goes on beside it; the merges
   * themselves run without merge-sync. Meanwhile the files merged so far are written back in the
   * background, every SYNC_EVERY bytes, so that the last sync has little left to wait for.
   */
  readonly syncAtEnd?: boolean;
  /** Make the GNU info directory index at the end (default true; emerge, which runs this per package, does it once itself). */
  readonly infoIndex?: boolean;
  /** How packages are unpacked ahead of the merges (default "auto": native/ouzo-unpack when built, else worker threads). */
  readonly unpackVia?: UnpackVia;
  /** pkg_prerm/pkg_postrm of a package built from source that an anise package replaces (the CLI runs them). */
  readonly sourceHooks?: MergeHooks;
  readonly ownerIndex?: OwnerIndex;
  readonly reporter?: Reporter;
}

export interface AniseRunResult {
  readonly downloaded: string[];
  readonly installed: { cpv: string; merge: MergeResult }[];
  readonly removed: { cpv: string; result: UnmergeResult }[];
  /** Protected files whose update went beside them (`._cfg0000_…`), relative to ROOT. */
  readonly configPending: { path: string; file: string }[];
  readonly finalizerFailures: string[];
}

/** The finalizer of an entry rendered with its definition, or undefined. */
export function finalizerOf(catalog: AniseCatalog, e: AniseEntry): Finalizer | undefined {
  const text = catalog.finalizeText(e);
  if (text === undefined) return undefined;
  return parseFinalizer(text, catalog.definition(e), path.join(e.dir, "finalize.yaml"));
}

const label = (s: PackageSpec) => `${s.category}/${s.name}-${s.version}`;

/** The merge hooks of a run: the stored uninstall finalizer of a replaced anise package, the CLI's phases for a source-built one. */
export function aniseHooks(ctx: Pick<AniseRunContext, "root" | "skipFinalizers" | "finalizerEnv" | "sourceHooks" | "reporter">, failures: string[] = []): MergeHooks {
  return {
    async prerm(old, by) {
      if (!aniseRecordOf(old)) await ctx.sourceHooks?.prerm?.(old, by);
    },
    async postrm(old, by) {
      const rec = aniseRecordOf(old);
      if (!rec) {
        await ctx.sourceHooks?.postrm?.(old, by);
        return;
      }
      if (ctx.skipFinalizers || !rec.finalizer?.uninstall.length) return;
      const r = await runFinalizer(rec.finalizer, "uninstall", ctx.root, finalizerEnv(ctx.finalizerEnv));
      for (const x of r.results) if (x.output.trim()) ctx.reporter?.report({ kind: "info", message: `${old.cpv} uninstall finalizer: ${x.output.trim()}` });
      if (!r.ok) {
        const last = r.results[r.results.length - 1]!;
        const m = `the uninstall finalizer of ${old.cpv} failed (exit ${last.status}): ${last.output.trim().split("\n").pop() ?? ""}`;
        failures.push(m);
        ctx.reporter?.report({ kind: "warning", code: "ANISE_FINALIZER", message: m });
      }
    },
  };
}

function protectPaths(ctx: AniseRunContext, extra: string | undefined): string[] {
  if (ctx.skipConfigProtect) return [];
  return [...new Set([...ctx.configProtect, ...ctx.aniseProtect, ...(extra ? [extra] : [])])];
}

/** Paths of a removed package's CONTENTS that are protected, as UNINSTALL_IGNORE patterns (for -k). */
function protectedPatterns(pkg: InstalledPackage, protect: readonly string[]): string[] {
  let text = "";
  try {
    text = fs.readFileSync(path.join(pkg.dir, "CONTENTS"), "utf8");
  } catch {
    return [];
  }
  const dirs = protect.map((p) => p.replace(/\/+$/, "")).filter(Boolean);
  const escape = (p: string) => p.replace(/[*?[]/g, (c) => `[${c}]`);
  return parseContents(text)
    .filter((e) => e.type !== "dir" && dirs.some((d) => e.path === d || e.path.startsWith(`${d}/`)))
    .map((e) => escape(e.path));
}

/** Remove what runs that no longer live left in the work directory (`<work>/<pid>`). */
function clearStaleWork(workDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(workDir);
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(n);
    let alive = false;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === "EPERM";
      }
    }
    if (!alive) fs.rmSync(path.join(workDir, n), { recursive: true, force: true });
  }
}

/** Carry out a plan; see the file comment. */
export async function runAniseSteps(steps: readonly AniseStep[], ctx: AniseRunContext): Promise<AniseRunResult> {
  const reporter = ctx.reporter;
  const result: AniseRunResult = { downloaded: [], installed: [], removed: [], configPending: [], finalizerFailures: [] };

  // everything that can be refused is refused before the first change
  const finalizers = new Map<AniseStep, Finalizer | undefined>();
  for (const s of steps) if (s.kind === "install") finalizers.set(s, finalizerOf(ctx.catalog, s.entry));
  const conflicts = checkFileConflicts(steps, ctx);
  if (conflicts.length) {
    const shown = conflicts.slice(0, 20).join("; ") + (conflicts.length > 20 ? `; and ${conflicts.length - 20} more` : "");
    if (!ctx.force) throw new OuzoError("ANISE_FILE_CONFLICT", `file conflicts (${conflicts.length}): ${shown} (--force installs anyway)`);
    reporter?.report({ kind: "warning", code: "ANISE_FILE_CONFLICT", message: `file conflicts, installing anyway (--force): ${shown}` });
  }

  const requests: ArtifactRequest[] = [];
  const byStep = new Map<AniseStep, ArtifactRequest>();
  for (const s of steps) {
    if (s.kind !== "install") continue;
    const r: ArtifactRequest = { repo: s.entry.repo, file: s.entry.meta.file || `${fingerprint(s.entry.spec)}.package.tar.zst`, sha256: s.entry.meta.sha256, pkg: label(s.entry.spec) };
    requests.push(r);
    byStep.set(s, r);
  }
  const hooks = aniseHooks(ctx, result.finalizerFailures);
  const features = new Set(ctx.features);
  features.delete("collision-protect");
  if (ctx.force) features.delete("protect-owned");
  else features.add("protect-owned");
  const toFinalize: { cpv: string; f: Finalizer }[] = [];
  // Many packages at once: the owner index is not brought up to date by each merge (which
  // compares its whole category with the VDB each time) but records what the merges committed
  // while the run waits for the next package to be unpacked (time the main thread has, on a
  // disk), and is refreshed once at the end, which finds those current; the conflicts were
  // checked above.
  const mergeIndex = steps.length > 8 ? undefined : ctx.ownerIndex;
  /** Entries committed that the owner index has not recorded yet (see mergeIndex). */
  const toIndex = new Map<string, readonly ContentsEntry[]>();
  const recordCommitted = () => {
    if (!toIndex.size || !ctx.ownerIndex) return;
    try {
      ctx.ownerIndex.record(toIndex);
    } catch {
      // the refresh at the end reads them
    }
    toIndex.clear();
  };
  const clock = { download: 0, waitUnpack: 0, merge: 0, remove: 0 };

  // this run's scratch space; what a killed run left is removed
  const unpacking = !ctx.downloadOnly;
  if (unpacking) clearStaleWork(ctx.workDir);
  const runWork = path.join(ctx.workDir, String(process.pid));
  // generated entries have all their files as the merge's extra files: an empty build-info
  const emptyBuildInfo = path.join(runWork, "empty-build-info");
  if (unpacking) fs.mkdirSync(emptyBuildInfo, { recursive: true });
  const workOf = (spec: PackageSpec) => path.join(runWork, `${spec.category}--${pfOf(spec)}`);
  const unpacker = new Unpacker(unpacking ? (ctx.unpackVia ?? "auto") : "local");
  if (unpacking && requests.length) unpacker.warmUp();
  const unpacks = new Map<AniseStep, Promise<UnpackResult>>();
  /** The steps whose unpacking is over, done or failed. */
  const unpacked = new Set<AniseStep>();
  const removals: Promise<void>[] = [];
  /** Each artifact downloaded and verified so far, with its size. */
  const fetched = new Map<ArtifactRequest, { file: string; size: number; fresh: boolean }>();
  // Packages are unpacked ahead of the merges, into the work directory (ROOT is not touched until
  // every artifact is verified), as soon as each is downloaded: at least enough to keep every
  // unpacking thread busy, and as many more as fit in AHEAD_BYTES of artifacts (disk space for
  // the images, about three times that).
  const AHEAD = 2 * Math.min(4, Math.max(1, os.availableParallelism()));
  const AHEAD_BYTES = 64 << 20;
  // the window, kept as the merges and the unpackings move (not counted again from the merges'
  // step at each call: 400 calls over 200 steps): every install step before `next` is started
  let next = 0;
  let passed = 0;
  let ahead = 0;
  let aheadBytes = 0;
  /** Start what may be unpacked, the merges being at step `from`. */
  const startUnpacks = (from: number) => {
    if (!unpacking) return;
    // the steps the merges have reached leave the window
    for (; passed < from; passed++) {
      const t = steps[passed]!;
      if (t.kind !== "install" || !unpacks.has(t)) continue;
      ahead--;
      aheadBytes -= fetched.get(byStep.get(t)!)!.size;
    }
    for (; next < steps.length; next++) {
      const t = steps[next]!;
      if (t.kind !== "install") continue;
      const got = fetched.get(byStep.get(t)!);
      if (!got) break; // in the plan's order: the merges take them in that order
      if (ahead + 1 > AHEAD && aheadBytes + got.size > AHEAD_BYTES) break;
      ahead++;
      aheadBytes += got.size;
      const p = unpacker.unpack(got.file, workOf(t.entry.spec), {
        subsets: subsetsFor(t.entry.spec, ctx.subsetDefinitions),
        enabledSubsets: ctx.subsetsEnabled,
        sameOwner: ctx.sameOwner,
        compression: t.entry.meta.compression,
        verified: got.fresh,
      });
      // awaited in its turn
      p.then(
        () => unpacked.add(t),
        () => unpacked.add(t),
      );
      unpacks.set(t, p);
    }
  };

  /** syncfs of ROOT's filesystem, in the background; a failure is told when `tell`. */
  const syncRoot = (tell: boolean) =>
    unpacker.syncfs(ctx.root).catch((e: Error) => {
      if (tell) reporter?.report({ kind: "warning", code: "merge-sync", message: `sync -f failed: ${e.message}` });
    });
  // the background write-back (see syncAtEnd): one `sync -f` at a time
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  const writeBack = (bytes: number) => {
    unsynced += bytes;
    if (!ctx.syncAtEnd || syncing || unsynced < SYNC_EVERY) return;
    unsynced = 0;
    syncing = syncRoot(false).then(() => {
      syncing = undefined;
    });
  };
  /** The run's own merge-sync (see syncAtEnd), once the merges are over. */
  let finalSync: Promise<void> | undefined;

  let n = 0;
  try {
    const task = "download anise packages";
    if (requests.length) reporter?.report({ kind: "started", task, total: requests.length });
    let t = performance.now();
    const files = await fetchArtifacts(
      requests,
      ctx.packagesDir,
      ctx.fetch,
      (done, item) => reporter?.report({ kind: "progress", task, done, total: requests.length, item }),
      (a, file, fresh) => {
        fetched.set(a, { file, size: fs.statSync(file).size, fresh });
        startUnpacks(0);
      },
    );
    if (requests.length) reporter?.report({ kind: "finished", task });
    result.downloaded.push(...files.values());
    clock.download = performance.now() - t;
    if (ctx.downloadOnly) return result;
    const itask = "install anise packages";
    reporter?.report({ kind: "started", task: itask, total: steps.length });
    // one holding of the VDB lock for the whole run: one wait, one recovery check, and COUNTER
    // counted on rather than rescanned for each package
    await withVdbLock(
      ctx.root,
      async () => {
        try {
          for (let i = 0; i < steps.length; i++) {
            const s = steps[i]!;
            startUnpacks(i);
            if (s.kind === "remove") {
              const protect = protectPaths(ctx, aniseRecordOf(s.pkg)?.configProtect);
              t = performance.now();
              const r = await unmergePackage({
                root: ctx.root,
                pkg: s.pkg,
                configProtect: protect,
                configProtectMask: [...ctx.configProtectMask],
                features,
                hooks,
                reporter,
                ownerIndex: ctx.ownerIndex,
                uninstallIgnore: ctx.keepProtected ? protectedPatterns(s.pkg, protect) : [],
              });
              clock.remove += performance.now() - t;
              result.removed.push({ cpv: s.pkg.cpv, result: r });
            } else {
              const spec = s.kind === "install" ? s.entry.spec : s.spec;
              const repo = s.kind === "install" ? s.entry.repo.name : s.provider.repo.name;
              const pf = pfOf(spec);
              const work = workOf(spec);
              let buildInfo = emptyBuildInfo;
              let generated: Record<string, string> = {};
              let image = path.join(work, "image");
              let imageEntries: ImageEntry[] | undefined;
              let wholeDirs: ReadonlySet<string> | undefined;
              const f = finalizers.get(s);
              const configProtect = s.kind === "install" ? s.entry.meta.configProtect : undefined;
              if (s.kind === "install") {
                // the wait for it goes to the owner index
                if (!unpacked.has(s)) recordCommitted();
                t = performance.now();
                const u = await unpacks.get(s)!;
                clock.waitUnpack += performance.now() - t;
                image = u.image;
                writeBack(u.bytes);
                imageEntries = u.entries;
                wholeDirs = u.wholeDirs;
                if (u.skipped.length) reporter?.report({ kind: "info", message: `${label(spec)}: ${u.skipped.length} file(s) of disabled subsets not installed (${u.skipped[0]!.subset}: /${u.skipped[0]!.path}…)` });
                if (u.vdb && u.vdb.category === spec.category && u.vdb.pf === pf && fs.existsSync(path.join(u.vdb.dir, "SLOT"))) buildInfo = u.vdb.dir;
                else {
                  if (u.vdb) reporter?.report({ kind: "warning", code: "ANISE_VDB", message: `${label(spec)} carries the VDB entry ${u.vdb.category}/${u.vdb.pf}, which is not ${spec.category}/${pf}: an entry is generated from its metadata instead` });
                  generated = generatedEntryFiles({ spec, repository: repo });
                }
              } else {
                fs.rmSync(work, { recursive: true, force: true });
                fs.mkdirSync(image, { recursive: true });
                generated = generatedEntryFiles({ spec, repository: repo, rdepend: `=${s.provider.spec.category}/${pfOf(s.provider.spec)}` });
              }
              const slot = (generated.SLOT ?? fs.readFileSync(path.join(buildInfo, "SLOT"), "utf8")).trim().split("/")[0] || slotOf(spec);
              t = performance.now();
              const merge = await mergePackage({
                root: ctx.root,
                category: spec.category,
                pf,
                slot,
                imageDir: image,
                ...(imageEntries ? { imageEntries } : {}),
                ...(wholeDirs?.size ? { wholeDirs } : {}),
                ...(ctx.overwriteDirPerms ? { overwriteDirPerms: true } : {}),
                buildInfoDir: buildInfo,
                configProtect: protectPaths(ctx, configProtect),
                configProtectMask: [...ctx.configProtectMask],
                features,
                replacing: [...s.replacing],
                hooks,
                reporter,
                ownerIndex: mergeIndex,
                vdbExtra: {
                  ...generated,
                  ...recordFiles({
                    repository: repo,
                    spec,
                    finalizer: f ? finalizerRecord(f) : undefined,
                    providedBy: s.kind === "provide" ? label(s.provider.spec) : undefined,
                    configProtect,
                  }),
                },
              });
              clock.merge += performance.now() - t;
              result.installed.push({ cpv: merge.cpv, merge });
              if (!mergeIndex && ctx.ownerIndex) toIndex.set(merge.cpv, merge.contents);
              result.configPending.push(...merge.configPending);
              if (f?.install.length) toFinalize.push({ cpv: merge.cpv, f });
              // what the merge left of the image (its directories) goes off the main thread
              removals.push(unpacker.remove(work).catch(() => {}));
            }
            reporter?.report({ kind: "progress", task: itask, done: ++n, total: steps.length, item: s.kind === "remove" ? s.pkg.cpv : label(s.kind === "install" ? s.entry.spec : s.spec) });
          }
        } finally {
          // what was merged is on its way to the disk while the rest of the run goes on; also
          // when a merge failed, for the packages merged before it
          if (ctx.syncAtEnd && (result.installed.length || result.removed.length)) finalSync = syncRoot(true);
          // env-update once for the run (build spec §10.7), before the finalizers, which may rely
          // on profile.env; also when a merge failed, for the packages merged before it
          if (result.installed.length || result.removed.length) {
            // the paths merged and removed, gone through only if env-update has to
            const touched = function* () {
              for (const i of result.installed) {
                for (const c of i.merge.contents) yield c.path;
                for (const r of i.merge.replaced) yield* r.removed;
              }
              for (const r of result.removed) yield* r.result.removed;
            };
            try {
              const env = envUpdate(ctx.root, { touched: touched(), reporter });
              if (env.ldconfig.ran) reporter?.report({ kind: "info", message: `ldconfig: ${env.ldconfig.reason}` });
            } catch (e) {
              reporter?.report({ kind: "warning", code: "ENV_UPDATE", message: `env-update after the merges failed: ${(e as Error).message} ('ouzo env-update' tries again)` });
            }
            // the info manuals' index, as at the end of an emerge run (build spec §10.7)
            if (ctx.infoIndex !== false) try {
              const info = updateInfoDirs(ctx.root, { features: ctx.features, reporter });
              if (info.regenerated.length) reporter?.report({ kind: "info", message: `GNU info directory index made again in ${info.regenerated.join(", ")} (${info.processed} info files)` });
              for (const err of info.errors) reporter?.report({ kind: "warning", code: "INSTALL_INFO", message: `install-info: ${err}` });
            } catch (e) {
              reporter?.report({ kind: "warning", code: "INSTALL_INFO", message: `the GNU info directory index could not be made: ${(e as Error).message}` });
            }
          }
        }
      },
      { reporter, what: "ouzo anise" },
    );
    reporter?.report({ kind: "finished", task: itask });
  } finally {
    await Promise.all(removals);
    await syncing;
    await unpacker.close();
    if (unpacking) {
      fs.rmSync(runWork, { recursive: true, force: true });
      // what the merges just wrote is at hand: their CONTENTS are not read and parsed again
      if (!mergeIndex) ctx.ownerIndex?.refresh(new Map(result.installed.map((i) => [i.merge.cpv, i.merge.contents])));
    }
    await finalSync;
  }
  const sec = (x: number) => `${(x / 1000).toFixed(2)} s`;
  reporter?.report({ kind: "info", message: `anise: downloads ${sec(clock.download)}, waiting for unpacking (${unpacker.mode}) ${sec(clock.waitUnpack)}, merges ${sec(clock.merge)}, removals ${sec(clock.remove)}` });

  // the install finalizers, after everything is in place, in the order of the plan (§9)
  if (!ctx.skipFinalizers) {
    const env = finalizerEnv(ctx.finalizerEnv);
    for (const { cpv, f } of toFinalize) {
      const r = await runFinalizer(f, "install", ctx.root, env);
      for (const x of r.results) if (x.output.trim()) reporter?.report({ kind: "info", message: `${cpv} finalizer: ${x.output.trim()}` });
      if (!r.ok) {
        const last = r.results[r.results.length - 1]!;
        const m = `the install finalizer of ${cpv} failed (exit ${last.status}); the package stays installed: ${last.output.trim().split("\n").pop() ?? ""}`;
        result.finalizerFailures.push(m);
        reporter?.report({ kind: "warning", code: "ANISE_FINALIZER", message: m });
      }
    }
  }
  return result;
}
