import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { OuzoError } from "../core/errors.js";
import { listDir } from "../core/fsutil.js";
import { FileLock } from "../core/lock.js";
import type { Reporter } from "../core/reporter.js";
import { silentReporter } from "../core/reporter.js";
import type { Repository, RepositorySet } from "../config/repositories.js";
import { DependPool } from "../ebuild/DependPool.js";
import { isSupportedEapi } from "../pms/eapi.js";
import { type EbuildFile, ebuildsOfPackage, headEapi, md5File, scanRepository } from "./ebuildTree.js";
import { MetadataCache, type StoredStamp } from "./MetadataCache.js";
import { METADATA_KEYS, type MetadataKey, type PackageMetadata } from "./PackageMetadata.js";

export interface RegenFailure {
  readonly repo: string;
  readonly cpv: string;
  readonly file: string;
  readonly message: string;
  readonly output: string;
}

export interface RepoRegenSummary {
  readonly repo: string;
  generated: number;
  unchanged: number;
  removed: number;
  failed: number;
}

export interface RegenSummary {
  readonly repos: RepoRegenSummary[];
  readonly failures: RegenFailure[];
  readonly seconds: number;
}

export interface MetadataStoreOptions {
  /** Parallel bash workers (default: one per core). */
  readonly jobs?: number;
  /** Seconds an ebuild may take in the depend phase. */
  readonly timeoutSeconds?: number;
  readonly reporter?: Reporter;
}

interface EclassEntry {
  readonly path: string;
  readonly md5: string;
}

/**
 * Metadata of every configured repository, read through the SQLite cache and regenerated when
 * stale: the ebuild changed, an eclass it used changed anywhere in its lookup chain, or the
 * lookup now finds the eclass elsewhere.
 */
export class MetadataStore {
  readonly cache: MetadataCache;
  private readonly reporter: Reporter;
  private pool: DependPool | undefined;
  private readonly eclassIndexes = new Map<string, Map<string, EclassEntry>>();
  private readonly lock: FileLock;

  constructor(readonly repos: RepositorySet, readonly cacheFile: string, private readonly opts: MetadataStoreOptions = {}) {
    this.reporter = opts.reporter ?? silentReporter;
    this.cache = new MetadataCache(cacheFile, this.reporter);
    this.lock = new FileLock(`${cacheFile}.lock`);
  }

  close(): void {
    this.pool?.close();
    this.pool = undefined;
    this.cache.close();
    this.lock.release();
  }

  private getPool(): DependPool {
    this.pool ??= new DependPool(this.opts.jobs ?? Math.max(1, os.availableParallelism()), (this.opts.timeoutSeconds ?? 60) * 1000);
    return this.pool;
  }

  /** Eclass lookup for ebuilds of a repository: name → the file the chain selects now, with its md5. */
  eclassIndex(repo: Repository): Map<string, EclassEntry> {
    let idx = this.eclassIndexes.get(repo.name);
    if (idx) return idx;
    idx = new Map();
    for (const r of this.repos.eclassChain(repo)) {
      const dir = path.join(r.location, "eclass");
      for (const n of (listDir(dir) ?? []).filter((f) => f.endsWith(".eclass"))) {
        const name = n.slice(0, -7);
        if (idx.has(name)) continue;
        const file = path.join(dir, n);
        idx.set(name, { path: file, md5: this.cache.eclassMd5(file, md5File) });
      }
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
  async regen(repoNames?: readonly string[]): Promise<RegenSummary> {
    const start = process.hrtime.bigint();
    const repos = repoNames?.length ? repoNames.map((n) => this.repoByName(n)) : [...this.repos.repos];
    const failures: RegenFailure[] = [];
    const summaries: RepoRegenSummary[] = [];
    await this.lock.acquire();
    try {
      for (const repo of repos) {
        const bad: RegenFailure[] = [];
        const files = scanRepository(repo.location, (file, why) => bad.push({ repo: repo.name, cpv: path.relative(repo.location, file), file, message: why, output: "" }));
        const s = await this.refresh(repo, files, undefined, failures);
        failures.push(...bad);
        s.failed += bad.length;
        summaries.push(s);
      }
    } finally {
      this.lock.release();
    }
    return { repos: summaries, failures, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  }

  /** Regenerate stale entries of one package on demand (any stage reading metadata calls this). */
  async ensurePackage(repoName: string, category: string, pn: string): Promise<RegenFailure[]> {
    const repo = this.repoByName(repoName);
    const failures: RegenFailure[] = [];
    await this.lock.acquire();
    try {
      await this.refresh(repo, ebuildsOfPackage(repo.location, category, pn), `${category}/${pn}`, failures);
    } finally {
      this.lock.release();
    }
    return failures;
  }

  /**
   * Regenerate what is stale among `files`, and drop the entries whose ebuild is gone: every entry
   * of the repository, or with `pkg` (`category/PN`) only that package's.
   */
  private async refresh(repo: Repository, files: EbuildFile[], pkg: string | undefined, failures: RegenFailure[]): Promise<RepoRegenSummary> {
    const label = pkg ?? repo.name;
    const repoId = this.cache.repoId(repo.name, repo.location);
    this.eclassIndexes.delete(repo.name);
    const stamps = this.cache.stamps(repoId);
    const summary: RepoRegenSummary = { repo: repo.name, generated: 0, unchanged: 0, removed: 0, failed: 0 };
    const stale: EbuildFile[] = [];
    for (const f of files) {
      if (this.isStale(repo, f, stamps.get(f.cpv), repoId)) stale.push(f);
      else summary.unchanged++;
    }
    const present = new Set(files.map((f) => f.cpv));
    const inScope = (cpv: string) => !pkg || (cpv.startsWith(`${pkg}-`) && /^\d/.test(cpv.slice(pkg.length + 1)));
    const gone = [...stamps.keys()].filter((c) => inScope(c) && !present.has(c));
    if (gone.length) this.cache.transaction(() => gone.forEach((c) => this.cache.remove(repoId, c)));
    summary.removed = gone.length;
    if (!stale.length) return summary;

    const index = this.eclassIndex(repo);
    const locations = this.repos.eclassChain(repo).map((r) => r.location);
    const task = `regen ${label}`;
    this.reporter.report({ kind: "started", task, total: stale.length });
    let done = 0;
    let pending: (() => void)[] = [];
    const flush = () => {
      const batch = pending;
      pending = [];
      if (batch.length) this.cache.transaction(() => batch.forEach((w) => w()));
    };
    const fail = (f: EbuildFile, message: string, output = "") => {
      summary.failed++;
      failures.push({ repo: repo.name, cpv: f.cpv, file: f.path, message, output });
      // An entry that can no longer be generated must not linger as if it were valid.
      if (stamps.has(f.cpv)) pending.push(() => this.cache.remove(repoId, f.cpv));
    };
    await Promise.all(
      stale.map(async (f) => {
        let text: Buffer;
        try {
          text = fs.readFileSync(f.path);
        } catch (e) {
          fail(f, `cannot read: ${(e as Error).message}`);
          return;
        }
        const md5 = md5Buffer(text);
        let eapi: string;
        try {
          eapi = headEapi(text.toString("utf8"), f.path);
        } catch (e) {
          fail(f, (e as Error).message);
          return;
        }
        if (!isSupportedEapi(eapi)) {
          fail(f, `unsupported EAPI '${eapi}'`);
        } else {
          const r = await this.getPool().run({ ebuild: f.path, category: f.category, pn: f.pn, pf: f.pf, eapi, eclassLocations: locations });
          if (!r.ok) fail(f, r.error, r.diagnostics);
          else if ((r.values.get("EAPI") || "0") !== eapi) fail(f, `EAPI mismatch: the head says '${eapi}', sourcing ended with '${r.values.get("EAPI") || "0"}'`, r.diagnostics);
          else {
            const values = {} as Record<MetadataKey, string>;
            for (const k of METADATA_KEYS) values[k] = r.values.get(k) ?? "";
            const eclasses = values.INHERITED.split(" ").filter(Boolean).map((name): [string, string] => {
              const file = r.eclassFiles.get(name);
              return [name, file ? (index.get(name)?.path === file ? index.get(name)!.md5 : this.cache.eclassMd5(file, md5File)) : ""];
            });
            const st = fs.statSync(f.path, { bigint: true });
            pending.push(() => this.cache.store(repoId, { cpv: f.cpv, category: f.category, package: f.pn, version: f.version, md5, mtimeNs: st.mtimeNs, size: Number(st.size), eclasses, values }));
            summary.generated++;
          }
        }
        done++;
        this.reporter.report({ kind: "progress", task, done, total: stale.length, item: f.cpv });
        if (pending.length >= 200) flush();
      }),
    );
    flush();
    this.reporter.report({ kind: "finished", task });
    return summary;
  }

  private isStale(repo: Repository, f: EbuildFile, stamp: StoredStamp | undefined, repoId: number): boolean {
    if (!stamp) return true;
    const st = fs.statSync(f.path, { bigint: true });
    if (st.mtimeNs !== stamp.mtimeNs || Number(st.size) !== stamp.size) {
      if (md5File(f.path) !== stamp.md5) return true;
      this.cache.touch(repoId, f.cpv, st.mtimeNs, Number(st.size));
    }
    if (!stamp.eclasses) return false;
    const index = this.eclassIndex(repo);
    const parts = stamp.eclasses.split(" ");
    for (let i = 0; i + 1 < parts.length; i += 2) {
      if (index.get(parts[i]!)?.md5 !== parts[i + 1]) return true;
    }
    return false;
  }

  /** Cached metadata of a repository (or one package), without checking staleness. */
  entries(repoName: string, filter?: { category: string; package: string }): PackageMetadata[] {
    return this.cache.entries(repoName, filter);
  }
}

function md5Buffer(b: Buffer): string {
  return createHash("md5").update(b).digest("hex");
}
