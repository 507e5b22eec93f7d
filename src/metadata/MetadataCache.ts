import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { packagePath } from "../core/paths.js";
import type { Reporter } from "../core/reporter.js";
import { METADATA_KEYS, type MetadataKey, type PackageMetadata } from "./PackageMetadata.js";

const COLUMN: Record<MetadataKey, string> = {
  DEPEND: "depend", RDEPEND: "rdepend", SLOT: "slot", SRC_URI: "src_uri", RESTRICT: "restrict_", HOMEPAGE: "homepage",
  LICENSE: "license", DESCRIPTION: "description", KEYWORDS: "keywords", INHERITED: "inherited", IUSE: "iuse",
  REQUIRED_USE: "required_use", PDEPEND: "pdepend", BDEPEND: "bdepend", IDEPEND: "idepend", EAPI: "eapi",
  PROPERTIES: "properties", DEFINED_PHASES: "defined_phases", _PY_COMPAT: "py_compat",
};

/** Where an entry came from: ouzo's depend phase, or the repository's shipped md5-cache. */
export type EntryOrigin = "sourced" | "md5-cache";

/** What staleness checks need of a stored entry. */
export interface StoredStamp {
  readonly md5: string;
  readonly mtimeNs: bigint;
  readonly size: number;
  readonly eclasses: string;
  readonly origin: EntryOrigin;
  /** Non-empty when the last regeneration failed: the values are the last good ones. */
  readonly failure: string;
}

/** An entry as generated or imported, with the stat of its ebuild for the staleness fast path. */
export interface EntryToStore extends Omit<PackageMetadata, "repo"> {
  readonly mtimeNs: bigint;
  readonly size: number;
  readonly origin: EntryOrigin;
}

type Row = Record<string, string | number | bigint>;

/**
 * The SQLite metadata cache (better-sqlite3, WAL). Schema changes are migrations in db/migrations,
 * applied in order and counted in PRAGMA user_version. A file that is not a usable database is
 * moved aside and rebuilt, with a warning.
 */
export class MetadataCache {
  readonly db: Database.Database;

  constructor(readonly file: string, reporter?: Reporter) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // a first command on a new system has no cache yet: that is worth a line with --verbose only
    if (!fs.existsSync(file)) reporter?.report({ kind: "info", message: `no metadata cache at ${file} yet: building it` });
    this.db = MetadataCache.open(file, reporter);
  }

  private static open(file: string, reporter?: Reporter): Database.Database {
    try {
      const db = new Database(file);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      db.defaultSafeIntegers(false);
      // A cheap check: a file that is not a database fails here. (PRAGMA quick_check reads every
      // page, 50 ms on a release's cache on every command; damage inside a valid file is met by
      // MetadataCache.isCorrupt where a query hits it.)
      db.prepare("SELECT count(*) FROM sqlite_master").get();
      migrate(db);
      return db;
    } catch (e) {
      if (e instanceof OuzoError) throw e;
      const aside = MetadataCache.moveAside(file);
      reporter?.report({ kind: "warning", code: "CACHE_REBUILT", message: `metadata cache ${file} was unusable (${(e as Error).message}); moved to ${aside} and rebuilt` });
      const db = new Database(file);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      migrate(db);
      return db;
    }
  }

  /** Move a cache file (with its WAL and shared memory) out of the way; returns the new name. */
  static moveAside(file: string): string {
    const aside = `${file}.corrupt-${Date.now()}`;
    for (const suffix of ["", "-wal", "-shm"]) {
      if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, aside + suffix);
    }
    return aside;
  }

  /** Whether an error says the database file is damaged. */
  static isCorrupt(e: unknown): boolean {
    const code = (e as { code?: unknown })?.code;
    return code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB" || (typeof code === "string" && code.startsWith("SQLITE_CORRUPT"));
  }

  close(): void {
    this.db.close();
  }

  /** Repository rows are never deleted: their ids are remembered (a resolver asks once per package). */
  private readonly repoIds = new Map<string, number>();

  repoId(name: string, location: string): number {
    const key = `${name}\0${location}`;
    let id = this.repoIds.get(key);
    if (id === undefined) this.repoIds.set(key, (id = this.lookupRepoId(name, location)));
    return id;
  }

  private lookupRepoId(name: string, location: string): number {
    const row = this.db.prepare("SELECT id, location FROM repository WHERE name = ?").get(name) as { id: number; location: string } | undefined;
    if (row) {
      if (row.location !== location) this.db.prepare("UPDATE repository SET location = ? WHERE id = ?").run(location, row.id);
      return row.id;
    }
    return Number(this.db.prepare("INSERT INTO repository (name, location) VALUES (?, ?)").run(name, location).lastInsertRowid);
  }

  /** The commit a sync last brought a repository's metadata up to, and whether it was complete then. */
  regenState(name: string): { commit: string; complete: boolean } | undefined {
    const row = this.db.prepare("SELECT regen_commit, regen_complete FROM repository WHERE name = ?").get(name) as { regen_commit: string; regen_complete: number } | undefined;
    return row && { commit: row.regen_commit, complete: row.regen_complete === 1 };
  }

  setRegenState(name: string, location: string, commit: string, complete: boolean): void {
    const id = this.repoId(name, location);
    this.db.prepare("UPDATE repository SET regen_commit = ?, regen_complete = ? WHERE id = ?").run(commit, complete ? 1 : 0, id);
  }

  private packageEntries?: Database.Statement;

  /** Staleness stamps of every entry of a repository, in one query (on the covering index ebuild_stamp). */
  stamps(repoId: number): Map<string, StoredStamp> {
    const out = new Map<string, StoredStamp>();
    const rows = this.db.prepare("SELECT cpv, md5, mtime_ns, size, eclasses, origin, failure FROM ebuild WHERE repo_id = ?").safeIntegers(true).raw(true).all(repoId) as [string, string, bigint, bigint, string, EntryOrigin, string][];
    for (const r of rows) out.set(r[0], { md5: r[1], mtimeNs: r[2], size: Number(r[3]), eclasses: r[4], origin: r[5], failure: r[6] });
    return out;
  }

  private packageState?: Database.Statement;

  /**
   * The stamps and the entries of one package, in one query: a resolver checks a package's
   * freshness and then reads it, and the second query cost as much as the first.
   */
  packageRows(repoId: number, repoName: string, category: string, pkg: string): { stamps: Map<string, StoredStamp>; entries: PackageMetadata[] } {
    this.packageState ??= this.db
      .prepare(`SELECT cpv, category, package, version, md5, mtime_ns, size, eclasses, origin, failure, ${METADATA_KEYS.map((k) => COLUMN[k]).join(", ")} FROM ebuild WHERE repo_id = ? AND category = ? AND package = ?`)
      .safeIntegers(true)
      .raw(true);
    // raw rows (arrays) cost half as much to build as objects: the columns are in the order above
    const rows = this.packageState.all(repoId, category, pkg) as (string | bigint)[][];
    const stamps = new Map<string, StoredStamp>();
    const entries: PackageMetadata[] = [];
    for (const r of rows) {
      const [cpv, cat, pn, version, md5, mtimeNs, size, eclasses, origin, failure] = r as [string, string, string, string, string, bigint, bigint, string, EntryOrigin, string];
      stamps.set(cpv, { md5, mtimeNs, size: Number(size), eclasses, origin, failure });
      entries.push(metadataOf(repoName, { cpv, category: cat, package: pn, version, md5, eclasses, origin, failure }, (_, i) => r[10 + i]));
    }
    return { stamps, entries };
  }

  /** The package-directory listings recorded for a repository (see ebuildTree's ListingCache). */
  listings(repoId: number): Map<string, { mtimeMs: number; pfs: string[] }> {
    const out = new Map<string, { mtimeMs: number; pfs: string[] }>();
    const rows = this.db.prepare("SELECT dir, mtime_ms, pfs FROM package_dir WHERE repo_id = ?").raw(true).all(repoId) as [string, number, string][];
    for (const [dir, mtimeMs, pfs] of rows) out.set(dir, { mtimeMs, pfs: pfs ? pfs.split("\n") : [] });
    return out;
  }

  private oneListing?: Database.Statement;

  /** The recorded listing of one package directory (`category/PN`), if any. */
  listing(repoId: number, dir: string): { mtimeMs: number; pfs: string[] } | undefined {
    const row = (this.oneListing ??= this.db.prepare("SELECT mtime_ms, pfs FROM package_dir WHERE repo_id = ? AND dir = ?").raw(true)).get(repoId, dir) as [number, string] | undefined;
    return row && { mtimeMs: row[0], pfs: row[1] ? row[1].split("\n") : [] };
  }

  /** Record new listings and forget those of directories that are gone. */
  saveListings(repoId: number, set: ReadonlyMap<string, { mtimeMs: number; pfs: readonly string[] }>, gone: readonly string[]): void {
    if (!set.size && !gone.length) return;
    const put = this.db.prepare("INSERT OR REPLACE INTO package_dir (repo_id, dir, mtime_ms, pfs) VALUES (?, ?, ?, ?)");
    const del = this.db.prepare("DELETE FROM package_dir WHERE repo_id = ? AND dir = ?");
    this.transaction(() => {
      for (const [dir, l] of set) put.run(repoId, dir, l.mtimeMs, l.pfs.join("\n"));
      for (const dir of gone) del.run(repoId, dir);
    });
  }

  private insertStmt?: Database.Statement;

  store(repoId: number, e: EntryToStore): void {
    this.insertStmt ??= this.db.prepare(
      `INSERT OR REPLACE INTO ebuild (repo_id, cpv, category, package, version, md5, mtime_ns, size, eclasses, origin, failure, ${METADATA_KEYS.map((k) => COLUMN[k]).join(", ")})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ${METADATA_KEYS.map(() => "?").join(", ")})`,
    );
    this.insertStmt.run(repoId, e.cpv, e.category, e.package, e.version, e.md5, e.mtimeNs, e.size, e.eclasses.map(([n, m]) => `${n} ${m}`).join(" "), e.origin, ...METADATA_KEYS.map((k) => e.values[k] ?? ""));
  }

  /**
   * The regeneration of an entry failed: keep its values (the last good ones), record why, and
   * leave it stale so that the next regen tries again.
   */
  markFailed(repoId: number, cpv: string, message: string): void {
    this.db.prepare("UPDATE ebuild SET failure = ? WHERE repo_id = ? AND cpv = ?").run(message || "failed", repoId, cpv);
  }

  touch(repoId: number, cpv: string, mtimeNs: bigint, size: number): void {
    this.db.prepare("UPDATE ebuild SET mtime_ns = ?, size = ? WHERE repo_id = ? AND cpv = ?").run(mtimeNs, size, repoId, cpv);
  }

  remove(repoId: number, cpv: string): void {
    this.db.prepare("DELETE FROM ebuild WHERE repo_id = ? AND cpv = ?").run(repoId, cpv);
  }

  /** Every entry of a repository (or only some packages), as PackageMetadata. */
  entries(repoName: string, filter?: { category: string; package: string }): PackageMetadata[] {
    const cols = METADATA_KEYS.map((k) => COLUMN[k]).join(", ");
    const sql = `SELECT cpv, category, package, version, md5, eclasses, origin, failure, ${cols} FROM ebuild JOIN repository r ON r.id = repo_id WHERE r.name = ?${filter ? " AND category = ? AND package = ?" : ""}`;
    // one package at a time is how a resolver reads: that statement is prepared once
    const rows = (filter ? (this.packageEntries ??= this.db.prepare(sql)).all(repoName, filter.category, filter.package) : this.db.prepare(sql).all(repoName)) as Row[];
    return rows.map((r) => toMetadata(repoName, r));
  }

  /** Search names and descriptions (case-insensitive substring). */
  search(term: string): PackageMetadata[] {
    const cols = METADATA_KEYS.map((k) => COLUMN[k]).join(", ");
    const like = `%${term.replace(/[%_\\]/g, (c) => "\\" + c)}%`;
    const rows = this.db
      .prepare(`SELECT r.name AS repo, cpv, category, package, version, md5, eclasses, origin, failure, ${cols} FROM ebuild JOIN repository r ON r.id = repo_id
                WHERE (category || '/' || package) LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\' ORDER BY category, package`)
      .all(like, like) as Row[];
    return rows.map((r) => toMetadata(String(r.repo), r));
  }

  /** md5 of an eclass file, from the table when its stat is unchanged. */
  eclassMd5(file: string, md5Of: (file: string) => string): string {
    const st = fs.statSync(file, { bigint: true });
    const row = this.db.prepare("SELECT md5, mtime_ns, size FROM eclass_file WHERE path = ?").safeIntegers(true).get(file) as { md5: string; mtime_ns: bigint; size: bigint } | undefined;
    if (row && row.mtime_ns === st.mtimeNs && Number(row.size) === Number(st.size)) return row.md5;
    const md5 = md5Of(file);
    this.db.prepare("INSERT OR REPLACE INTO eclass_file (path, md5, mtime_ns, size) VALUES (?, ?, ?, ?)").run(file, md5, st.mtimeNs, st.size);
    return md5;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}

/** The `name md5 name md5 ...` column as pairs. */
function eclassPairs(text: string): [string, string][] {
  const ec = text.split(" ").filter(Boolean);
  const eclasses: [string, string][] = [];
  for (let i = 0; i + 1 < ec.length; i += 2) eclasses.push([ec[i]!, ec[i + 1]!]);
  return eclasses;
}

/** An entry from its identifying columns and a reader of its METADATA_KEYS values (by key or position). */
function metadataOf(repo: string, h: { cpv: string; category: string; package: string; version: string; md5: string; eclasses: string | null; origin: unknown; failure: unknown }, value: (k: MetadataKey, i: number) => unknown): PackageMetadata {
  const values = {} as Record<MetadataKey, string>;
  METADATA_KEYS.forEach((k, i) => (values[k] = String(value(k, i) ?? "")));
  return {
    repo, cpv: h.cpv, category: h.category, package: h.package, version: h.version, md5: h.md5, eclasses: eclassPairs(h.eclasses || ""), values,
    origin: h.origin === "md5-cache" ? "md5-cache" : "sourced",
    ...(h.failure ? { failure: String(h.failure) } : {}),
  };
}

function toMetadata(repo: string, r: Row): PackageMetadata {
  const h = { cpv: String(r.cpv), category: String(r.category), package: String(r.package), version: String(r.version), md5: String(r.md5), eclasses: String(r.eclasses || ""), origin: r.origin, failure: r.failure };
  return metadataOf(repo, h, (k) => r[COLUMN[k]]);
}

/** Apply db/migrations/NNN-*.sql newer than PRAGMA user_version, each in a transaction. */
function migrate(db: Database.Database): void {
  const dir = packagePath("db", "migrations");
  const current = Number(db.pragma("user_version", { simple: true }));
  const files = fs.readdirSync(dir).filter((f) => /^\d{3}-.*\.sql$/.test(f)).sort();
  for (const f of files) {
    const n = Number(f.slice(0, 3));
    if (n <= current) continue;
    const sql = fs.readFileSync(path.join(dir, f), "utf8");
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${n}`);
    })();
  }
}
