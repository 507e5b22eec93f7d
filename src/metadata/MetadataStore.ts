import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { OuzoError } from "../core/errors.js";
import { listDir } from "../core/fsutil.js";
import { onInterrupt } from "../core/interrupt.js";
import { FileLock } from "../core/lock.js";
import type { Reporter } from "../core/reporter.js";
import { silentReporter } from "../core/reporter.js";
import type { Repository, RepositorySet } from "../config/repositories.js";
import { DEFAULT_DEPEND_TIMEOUT_SECONDS, DependPool } from "../ebuild/DependPool.js";
import { isSupportedEapi } from "../pms/eapi.js";
import { type EbuildFile, ebuildsOfPackage, headEapi, md5File, scanRepository } from "./ebuildTree.js";
import { MetadataCache, type StoredStamp } from "./MetadataCache.js";
import { METADATA_KEYS, type MetadataKey, type PackageMetadata } from "./PackageMetadata.js";
import { readShippedEntry, type ShippedEntry } from "./shippedCache.js";

export interface RegenFailure {
  readonly repo: string;
  readonly cpv: string;
  readonly file: string;
  readonly message: string;
  readonly output: string;
  /** The failure may be transient (time limit, a killed worker): nothing is concluded about the ebuild. */
  readonly transient: boolean;
  /** An earlier entry of this ebuild exists and was kept (marked stale, retried by the next regen). */
  readonly kept: boolean;
}

/** A file in a package directory that is not an ebuild by PMS's naming rules: skipped, as Portage skips it. */
export interface RegenWarning {
  readonly repo: string;
  readonly file: string;
  readonly message: string;
}

export interface RepoRegenSummary {
  readonly repo: string;
  /** Entries taken from the repository's shipped metadata/md5-cache, valid by its checksums. */
  imported: number;
  /** Entries produced by sourcing the ebuild. */
  generated: number;
  unchanged: number;
  removed: number;
  failed: number;
}

export interface RegenSummary {
  readonly repos: RepoRegenSummary[];
  readonly failures: RegenFailure[];
  readonly warnings: RegenWarning[];
  readonly seconds: number;
}

export interface RegenOptions {
  /** Never import from the shipped md5-cache of these repositories, and source again what was imported (reposcan needs sourced values). */
  readonly sourceOnly?: readonly string[];
}

export interface MetadataStoreOptions {
  /** Parallel bash workers (default: one per core). */
  readonly jobs?: number;
  /** Seconds an ebuild may take in the depend phase (default DEFAULT_DEPEND_TIMEOUT_SECONDS). */
  readonly timeoutSeconds?: number;
  /** Import valid entries of a repository's shipped md5-cache instead of sourcing (default true). */
  readonly importShipped?: boolean;
  readonly reporter?: Reporter;
}

interface EclassEntry {
  readonly path: string;
  readonly md5: string;
}

/** One repository (or one package of it) to bring up to date. */
interface Target {
  readonly repo: Repository;
  readonly files: readonly EbuildFile[];
  /** `category/PN` when only one package is in scope (entries of other packages are left alone). */
  readonly pkg?: string;
}

/** An ebuild whose entry is missing or stale. */
interface StaleEbuild {
  readonly repo: Repository;
  readonly repoId: number;
  readonly summary: RepoRegenSummary;
  readonly file: EbuildFile;
  readonly stamp: StoredStamp | undefined;
}

/** What a refresh finds in one target, before it writes anything. */
interface Survey {
  readonly repoId: number;
  readonly summary: RepoRegenSummary;
  readonly stale: StaleEbuild[];
  /** Entries whose ebuild is gone. */
  readonly gone: string[];
  /** Entries whose ebuild was touched (new mtime or size) but has the same md5. */
  readonly touched: [string, bigint, number][];
}

/** How often sourced entries are committed: a regen that is interrupted keeps what it finished. */
const BATCH_ENTRIES = 200;
const BATCH_MS = 2000;
const IMPORT_SLICE = 2000;
/** Sourcing this many ebuilds takes long enough (a second or more) to say so before it starts. */
const NOTICE_FROM = 200;

/**
 * Metadata of every configured repository, read through the SQLite cache and brought up to date
 * when stale: the ebuild changed, an eclass it used changed anywhere in its lookup chain, or the
 * lookup now finds the eclass elsewhere. A stale entry is imported from the repository's shipped
 * `metadata/md5-cache` when that file is valid by the same rules (Portage's), and sourced only
 * otherwise. An entry is removed only when its ebuild is gone; a failed regeneration keeps the
 * last good entry, marked with the failure.
 */
export class MetadataStore {
  readonly cache: MetadataCache;
  private readonly reporter: Reporter;
  private pool: DependPool | undefined;
  /** Eclasses of one repository's own `eclass/` directory, by location. */
  private readonly eclassDirs = new Map<string, Map<string, EclassEntry>>();
  private readonly eclassIndexes = new Map<string, Map<string, EclassEntry>>();
  private readonly lock: FileLock;
  /**
   * Entries of packages the last survey found fresh, read in the same query as their stamps:
   * the next entries() of each takes them (once). Any survey starts it afresh.
   */
  private readonly surveyed = new Map<string, PackageMetadata[]>();

  constructor(readonly repos: RepositorySet, readonly cacheFile: string, private readonly opts: MetadataStoreOptions = {}) {
    this.reporter = opts.reporter ?? silentReporter;
    this.cache = new MetadataCache(cacheFile, this.reporter);
    this.lock = new FileLock(`${cacheFile}.lock`, `ouzo ${process.argv.slice(2, 3).join(" ") || "command"}`.trim());
  }

  close(): void {
    this.pool?.close();
    this.pool = undefined;
    this.cache.close();
    this.lock.release();
  }

  /**
   * Take the cache's lock, waiting as long as another writer holds it (a regen of a whole release
   * may take minutes), and saying for whom.
   */
  private async takeLock(): Promise<void> {
    await this.lock.acquire({
      timeoutMs: Infinity,
      onWait: (pid, what) =>
        this.reporter.report({ kind: "notice", message: `waiting for ${pid ? `process ${pid}${what ? ` (${what})` : ""}` : "another process"}, which is updating the metadata cache ${this.cacheFile}` }),
    });
  }

  private getPool(): DependPool {
    this.pool ??= new DependPool(Math.max(1, this.opts.jobs ?? os.availableParallelism()), (this.opts.timeoutSeconds ?? DEFAULT_DEPEND_TIMEOUT_SECONDS) * 1000);
    return this.pool;
  }

  private eclassDir(location: string): Map<string, EclassEntry> {
    let idx = this.eclassDirs.get(location);
    if (idx) return idx;
    idx = new Map();
    const dir = path.join(location, "eclass");
    for (const n of listDir(dir) ?? []) {
      if (!n.endsWith(".eclass")) continue;
      const file = path.join(dir, n);
      idx.set(n.slice(0, -7), { path: file, md5: this.cache.eclassMd5(file, md5File) });
    }
    this.eclassDirs.set(location, idx);
    return idx;
  }

  /** Eclass lookup for ebuilds of a repository: name → the file the chain selects now, with its md5. */
  eclassIndex(repo: Repository): Map<string, EclassEntry> {
    let idx = this.eclassIndexes.get(repo.name);
    if (idx) return idx;
    idx = new Map();
    for (const r of this.repos.eclassChain(repo)) {
      for (const [name, e] of this.eclassDir(r.location)) if (!idx.has(name)) idx.set(name, e);
    }
    this.eclassIndexes.set(repo.name, idx);
    return idx;
  }

  private repoByName(name: string): Repository {
    const r = this.repos.get(name);
    if (!r) throw new OuzoError("UNKNOWN_REPO", `repository '${name}' is not configured`);
    return r;
  }

  /** `ouzo regen`: bring the cache of these repositories (default: all) up to date. */
  async regen(repoNames?: readonly string[], opts: RegenOptions = {}): Promise<RegenSummary> {
    const start = process.hrtime.bigint();
    const repos = repoNames?.length ? repoNames.map((n) => this.repoByName(n)) : [...this.repos.repos];
    const failures: RegenFailure[] = [];
    const warnings: RegenWarning[] = [];
    await this.takeLock();
    let summaries: RepoRegenSummary[];
    try {
      const targets = repos.map((repo): Target => ({ repo, files: this.scan(repo, warnings) }));
      summaries = await this.refresh(targets, failures, new Set(opts.sourceOnly ?? []));
    } catch (e) {
      throw this.damaged(e);
    } finally {
      this.lock.release();
    }
    return { repos: summaries, failures, warnings, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  }

  /**
   * The ebuilds of one package directory: the listing a scan recorded when the directory's mtime
   * is unchanged (a stat instead of a listing), else the directory listed.
   */
  private packageFiles(repo: Repository, category: string, pn: string): EbuildFile[] {
    const dir = `${repo.location}/${category}/${pn}`;
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    const known = st ? this.cache.listing(this.cache.repoId(repo.name, repo.location), `${category}/${pn}`) : undefined;
    if (st && known && known.mtimeMs === st.mtimeMs) {
      return known.pfs.map((pf) => ({ cpv: `${category}/${pf}`, category, pn, pf, version: pf.slice(pn.length + 1), path: `${dir}/${pf}.ebuild` }));
    }
    return ebuildsOfPackage(repo.location, category, pn);
  }

  /**
   * Every ebuild of a repository, listing only the package directories that changed since the
   * last scan; a misnamed file is reported when its directory is listed (so once per change).
   */
  private scan(repo: Repository, warnings: RegenWarning[]): EbuildFile[] {
    const repoId = this.cache.repoId(repo.name, repo.location);
    const known = this.cache.listings(repoId);
    const set = new Map<string, { mtimeMs: number; pfs: readonly string[] }>();
    let gone: string[] = [];
    const files = scanRepository(repo.location, (file, why) => warnings.push({ repo: repo.name, file, message: why }), {
      get: (rel) => known.get(rel),
      set: (rel, mtimeMs, pfs) => set.set(rel, { mtimeMs, pfs }),
      seen: (rels) => {
        gone = [...known.keys()].filter((d) => !rels.has(d));
      },
    });
    this.cache.saveListings(repoId, set, gone);
    return files;
  }

  /** Bring the entries of one package up to date on demand (any stage reading metadata calls this). */
  async ensurePackage(repoName: string, category: string, pn: string): Promise<RegenFailure[]> {
    return this.ensurePackages([{ repo: repoName, category, pn }]);
  }

  /**
   * Bring the entries of some packages up to date, under one lock: what a resolver reaches, a
   * level of its search at a time. Only those packages' stamps are read and only their files
   * looked at; the cost grows with the packages reached, not with the tree.
   */
  async ensurePackages(pkgs: readonly { repo: string; category: string; pn: string }[]): Promise<RegenFailure[]> {
    if (!pkgs.length) return [];
    const targets = pkgs.map((p): Target => {
      const repo = this.repoByName(p.repo);
      return { repo, files: this.packageFiles(repo, p.category, p.pn), pkg: `${p.category}/${p.pn}` };
    });
    const failures: RegenFailure[] = [];
    // the common case, everything fresh, is found without the lock (a resolver asks once per
    // level of its search); the lock is taken only to write, and the survey then made again
    if (this.survey(targets, new Set()).every((s) => !s.stale.length && !s.gone.length && !s.touched.length)) return failures;
    await this.takeLock();
    try {
      await this.refresh(targets, failures, new Set());
    } catch (e) {
      throw this.damaged(e);
    } finally {
      this.lock.release();
    }
    return failures;
  }

  /**
   * What a refresh of the targets would do, without writing: the stale ebuilds, the entries whose
   * ebuild is gone, the entries whose file was touched but not changed.
   */
  private survey(targets: readonly Target[], sourceOnly: ReadonlySet<string>): Survey[] {
    this.surveyed.clear();
    // eclasses are read afresh on each survey: they may have changed since the last one
    this.eclassIndexes.clear();
    this.eclassDirs.clear();
    return targets.map(({ repo, files, pkg }) => {
      const repoId = this.cache.repoId(repo.name, repo.location);
      const [category, pn] = pkg ? (pkg.split("/") as [string, string]) : [];
      const rows = category && pn ? this.cache.packageRows(repoId, repo.name, category, pn) : undefined;
      const stamps = rows?.stamps ?? this.cache.stamps(repoId);
      const summary: RepoRegenSummary = { repo: repo.name, imported: 0, generated: 0, unchanged: 0, removed: 0, failed: 0 };
      const mustSource = sourceOnly.has(repo.name);
      const touched: [string, bigint, number][] = [];
      const stale: StaleEbuild[] = [];
      const eclassesValid = new Map<string, boolean>();
      for (const f of files) {
        const stamp = stamps.get(f.cpv);
        if (this.isStale(repo, f, stamp, touched, eclassesValid) || (mustSource && stamp?.origin !== "sourced")) stale.push({ repo, repoId, summary, file: f, stamp });
        else summary.unchanged++;
      }
      const present = new Set(files.map((f) => f.cpv));
      const inScope = (cpv: string) => !pkg || (cpv.startsWith(`${pkg}-`) && /^\d/.test(cpv.slice(pkg.length + 1)));
      // The only definite verdict that removes an entry: its ebuild is gone (or no longer has a valid name).
      const gone = [...stamps.keys()].filter((c) => inScope(c) && !present.has(c));
      // a package found fresh is read from these rows (once) rather than queried again
      if (rows && pkg && !stale.length && !gone.length && !touched.length) this.surveyed.set(`${repo.name}\0${pkg}`, rows.entries);
      return { repoId, summary, stale, gone, touched };
    });
  }

  /**
   * Drop the entries whose ebuild is gone, import or regenerate what is stale among the targets'
   * files: every repository's stale ebuilds go to one pool, so no repository waits for another.
   */
  private async refresh(targets: readonly Target[], failures: RegenFailure[], sourceOnly: ReadonlySet<string>): Promise<RepoRegenSummary[]> {
    const surveys = this.survey(targets, sourceOnly);
    const stale = surveys.flatMap((s) => s.stale);
    for (const { repoId, gone, touched, summary } of surveys) {
      if (gone.length || touched.length) {
        this.cache.transaction(() => {
          gone.forEach((c) => this.cache.remove(repoId, c));
          touched.forEach(([c, m, s]) => this.cache.touch(repoId, c, m, s));
        });
      }
      summary.removed = gone.length;
    }
    const summaries = surveys.map((s) => s.summary);
    if (!stale.length) return summaries;

    const toSource = this.importShipped(stale, failures, sourceOnly);
    if (toSource.length) await this.source(toSource, failures, targets.length === 1 && targets[0]!.pkg ? targets[0]!.pkg : undefined);
    return summaries;
  }

  /** Record a failure; an existing entry keeps its values and is marked stale with the message. */
  private failed(s: StaleEbuild, failures: RegenFailure[], message: string, output: string, transient: boolean, pending?: (() => void)[]): void {
    s.summary.failed++;
    const kept = !!s.stamp;
    failures.push({ repo: s.repo.name, cpv: s.file.cpv, file: s.file.path, message, output, transient, kept });
    if (kept) {
      const mark = () => this.cache.markFailed(s.repoId, s.file.cpv, message);
      if (pending) pending.push(mark);
      else mark();
    }
  }

  /**
   * Import the stale ebuilds whose shipped md5-cache entry is valid now (its `_md5_` is the
   * ebuild's md5, each `_eclasses_` checksum is that of the eclass the chain selects now); return
   * the rest, to be sourced. Ebuilds that cannot be read or whose head EAPI is empty or
   * unsupported fail here.
   */
  private importShipped(stale: readonly StaleEbuild[], failures: RegenFailure[], sourceOnly: ReadonlySet<string>): { s: StaleEbuild; md5: string; eapi: string }[] {
    const rest: { s: StaleEbuild; md5: string; eapi: string }[] = [];
    const task = "import metadata/md5-cache";
    const importing = this.opts.importShipped !== false;
    if (importing) this.reporter.report({ kind: "started", task, total: stale.length });
    let done = 0;
    // committed in slices, so that an interrupted import keeps most of its work
    for (let from = 0; from < stale.length; from += IMPORT_SLICE) this.cache.transaction(() => {
      for (const s of stale.slice(from, from + IMPORT_SLICE)) {
        const f = s.file;
        let text: Buffer;
        try {
          text = fs.readFileSync(f.path);
        } catch (e) {
          this.failed(s, failures, `cannot read: ${(e as Error).message}`, "", false);
          continue;
        }
        const md5 = md5Buffer(text);
        let eapi: string;
        try {
          eapi = headEapi(text.toString("latin1"), f.path);
        } catch (e) {
          this.failed(s, failures, (e as Error).message, "", false);
          continue;
        }
        if (!isSupportedEapi(eapi)) {
          this.failed(s, failures, `unsupported EAPI '${eapi}'`, "", false);
          continue;
        }
        const shipped = importing && !sourceOnly.has(s.repo.name) ? readShippedEntry(s.repo.location, f.cpv) : undefined;
        if (shipped && this.shippedIsValid(s.repo, shipped, md5)) {
          const st = fs.statSync(f.path, { bigint: true });
          this.cache.store(s.repoId, { cpv: f.cpv, category: f.category, package: f.pn, version: f.version, md5, mtimeNs: st.mtimeNs, size: Number(st.size), eclasses: shipped.eclasses, values: shipped.values, origin: "md5-cache" });
          s.summary.imported++;
          if (++done % 500 === 0) this.reporter.report({ kind: "progress", task, done, total: stale.length, item: s.repo.name });
        } else rest.push({ s, md5, eapi });
      }
    });
    if (importing) this.reporter.report({ kind: "finished", task });
    return rest;
  }

  private shippedIsValid(repo: Repository, e: ShippedEntry, md5: string): boolean {
    if (e.md5 !== md5) return false;
    const index = this.eclassIndex(repo);
    for (const [name, sum] of e.eclasses) if (index.get(name)?.md5 !== sum) return false;
    return true;
  }

  /** Source ebuilds in the worker pool; results are committed in batches as they arrive. */
  private async source(work: readonly { s: StaleEbuild; md5: string; eapi: string }[], failures: RegenFailure[], pkg: string | undefined): Promise<void> {
    const repoCount = new Set(work.map((w) => w.s.repo.name)).size;
    const repoNames = [...new Set(work.map((w) => w.s.repo.name))];
    const what = `${work.length} ebuild${work.length === 1 ? "" : "s"} of ${repoCount === 1 ? repoNames[0] : `${repoCount} repositories`}`;
    const task = pkg ? `regen ${pkg}` : `regen: sourcing ${what}`;
    if (!pkg && work.length >= NOTICE_FROM) {
      const list = repoNames.length > 6 ? `${repoNames.slice(0, 6).join(", ")} and ${repoNames.length - 6} more` : repoNames.join(", ");
      this.reporter.report({ kind: "notice", message: `regen: sourcing ${what}${repoCount > 1 ? ` (${list})` : ""}: their kits ship no valid md5-cache entry for them` });
    }
    this.reporter.report({ kind: "started", task, total: work.length });
    let done = 0;
    let pending: (() => void)[] = [];
    let lastFlush = Date.now();
    const flush = () => {
      const batch = pending;
      pending = [];
      lastFlush = Date.now();
      if (batch.length) this.cache.transaction(() => batch.forEach((w) => w()));
    };
    // Interrupted: what was sourced is committed now, and kept; a later regen does the rest.
    const cleared = onInterrupt(() => {
      try {
        flush();
      } catch {
        // the database is busy or gone: the batches committed before stay
      }
      this.pool?.close();
      this.pool = undefined;
      return `regen: ${done} of ${work.length} ebuilds were sourced and kept; 'ouzo regen' sources the rest`;
    });
    const locations = new Map<string, string[]>();
    const chainOf = (repo: Repository) => {
      let l = locations.get(repo.name);
      if (!l) locations.set(repo.name, (l = this.repos.eclassChain(repo).map((r) => r.location)));
      return l;
    };
    await Promise.all(
      work.map(async ({ s, md5, eapi }) => {
        const f = s.file;
        const r = await this.getPool().run({ ebuild: f.path, category: f.category, pn: f.pn, pf: f.pf, eapi, eclassLocations: chainOf(s.repo) });
        if (!r.ok) this.failed(s, failures, r.error, r.diagnostics, r.transient, pending);
        else if ((r.values.get("EAPI") || "0") !== eapi) this.failed(s, failures, `EAPI mismatch: the head says '${eapi}', sourcing ended with '${r.values.get("EAPI") || "0"}'`, r.diagnostics, false, pending);
        else {
          const index = this.eclassIndex(s.repo);
          const values = {} as Record<MetadataKey, string>;
          for (const k of METADATA_KEYS) values[k] = r.values.get(k) ?? "";
          const eclasses = values.INHERITED.split(" ").filter(Boolean).map((name): [string, string] => {
            const file = r.eclassFiles.get(name);
            return [name, file ? (index.get(name)?.path === file ? index.get(name)!.md5 : this.cache.eclassMd5(file, md5File)) : ""];
          });
          const st = fs.statSync(f.path, { bigint: true });
          pending.push(() => this.cache.store(s.repoId, { cpv: f.cpv, category: f.category, package: f.pn, version: f.version, md5, mtimeNs: st.mtimeNs, size: Number(st.size), eclasses, values, origin: "sourced" }));
          s.summary.generated++;
        }
        done++;
        // the pool takes the repositories in order: say which of them it is at
        this.reporter.report({ kind: "progress", task, done, total: work.length, item: repoCount > 1 ? `(kit ${repoNames.indexOf(s.repo.name) + 1} of ${repoCount}: ${s.repo.name}) ${f.cpv}` : f.cpv });
        if (pending.length >= BATCH_ENTRIES || Date.now() - lastFlush >= BATCH_MS) flush();
      }),
    );
    flush();
    cleared();
    this.reporter.report({ kind: "finished", task });
  }

  /**
   * Whether an entry must be brought up to date: none yet, its last regeneration failed, its
   * ebuild's md5 changed (hashed only when the stat changed; an unchanged md5 with a new stat is
   * queued in `touched`), or an eclass it used has another md5 where the chain finds it now.
   */
  private isStale(repo: Repository, f: EbuildFile, stamp: StoredStamp | undefined, touched: [string, bigint, number][], eclassesValid: Map<string, boolean>): boolean {
    if (!stamp || stamp.failure) return true;
    const st = fs.statSync(f.path, { bigint: true });
    if (st.mtimeNs !== stamp.mtimeNs || Number(st.size) !== stamp.size) {
      if (md5File(f.path) !== stamp.md5) return true;
      touched.push([f.cpv, st.mtimeNs, Number(st.size)]);
    }
    if (!stamp.eclasses) return false;
    // many ebuilds of a repository use the same eclasses: check each distinct list once
    let valid = eclassesValid.get(stamp.eclasses);
    if (valid === undefined) {
      valid = true;
      const index = this.eclassIndex(repo);
      const parts = stamp.eclasses.split(" ");
      for (let i = 0; i + 1 < parts.length; i += 2) {
        if (index.get(parts[i]!)?.md5 !== parts[i + 1]) valid = false;
      }
      eclassesValid.set(stamp.eclasses, valid);
    }
    return !valid;
  }

  /** Cached metadata of a repository (or one package), without checking staleness. */
  entries(repoName: string, filter?: { category: string; package: string }): PackageMetadata[] {
    if (filter) {
      const key = `${repoName}\0${filter.category}/${filter.package}`;
      const rows = this.surveyed.get(key);
      if (rows) {
        this.surveyed.delete(key);
        return rows;
      }
    }
    try {
      return this.cache.entries(repoName, filter);
    } catch (e) {
      throw this.damaged(e);
    }
  }

  /**
   * A query that met a damaged database file: the cache is derived data, so it is moved aside
   * (the next command rebuilds it) and the user is told so in one line. Other errors pass through.
   */
  private damaged(e: unknown): unknown {
    if (!MetadataCache.isCorrupt(e)) return e;
    this.cache.close();
    const aside = MetadataCache.moveAside(this.cacheFile);
    return new OuzoError("CACHE_CORRUPT", `the metadata cache is damaged (${(e as Error).message}); it was moved to ${aside}: run the command again to rebuild it`, { file: this.cacheFile });
  }
}

function md5Buffer(b: Buffer): string {
  return createHash("md5").update(b).digest("hex");
}
