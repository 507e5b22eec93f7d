// Who owns which path: an SQLite index of every installed package's CONTENTS (build spec §9.8:
// a cache of the VDB, never a source of truth). It lives in ouzo's cache directory and is brought
// up to date from /var/db/pkg whenever it is opened or asked: the VDB's category directories are
// stamped (mtime, inode, link count; every writer changes them, §9.1), a category whose stamp
// moved is compared entry by entry (each entry stamped by its CONTENTS file), and only the
// entries that changed are read again. A missing or unusable file is rebuilt from scratch.
import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Reporter } from "../core/reporter.js";
import { parseContents, type ContentsEntry } from "./contents.js";
import { vdbDir } from "./installed.js";

/** Bumped when the tables change: an index of another version is rebuilt. */
const SCHEMA = 1;

const SCHEMA_SQL = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE category (name TEXT PRIMARY KEY, stamp TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE package (id INTEGER PRIMARY KEY, cpv TEXT NOT NULL UNIQUE, category TEXT NOT NULL, stamp TEXT NOT NULL);
CREATE INDEX package_category ON package (category);
CREATE TABLE file (path TEXT NOT NULL, pkg INTEGER NOT NULL, PRIMARY KEY (path, pkg)) WITHOUT ROWID;
CREATE INDEX file_pkg ON file (pkg);
`;

/** What a refresh did. */
export interface OwnerIndexRefresh {
  /** Categories compared entry by entry. */
  readonly categories: number;
  /** Entries whose CONTENTS were read again. */
  readonly read: number;
  /** Entries dropped from the index. */
  readonly dropped: number;
}

export interface OwnerIndexOptions {
  readonly reporter?: Reporter;
}

/** Names in a category directory that are not entries (§9.1). */
const notEntry = (name: string) => name.startsWith(".") || name.startsWith("-MERGING-") || name === "CVS" || name === "lost+found";

function stampOf(file: string): string | undefined {
  try {
    const s = fs.statSync(file, { bigint: true });
    return `${s.mtimeNs}:${s.ino}:${s.nlink}:${s.size}`;
  } catch {
    return undefined;
  }
}

/** `/usr//lib/`, `/usr/./lib/x/..` → `/usr/lib`; undefined for a path that is not absolute. */
export function normaliseOwnedPath(p: string): string | undefined {
  if (!p.startsWith("/")) return undefined;
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

const FILE_ROWS = 64;

/** The paths a CONTENTS records (every entry type owns its path). */
function pathsOf(contents: readonly ContentsEntry[]): string[] {
  return contents.map((c) => c.path);
}

export class OwnerIndex {
  private readonly st: {
    owners: Database.Statement;
    byName: Database.Statement;
    pkgsOf: Database.Statement;
    pkgId: Database.Statement;
    insertPkg: Database.Statement;
    updatePkg: Database.Statement;
    deletePkg: Database.Statement;
    deleteFiles: Database.Statement;
    insertFile: Database.Statement;
    setCategory: Database.Statement;
    deleteCategory: Database.Statement;
    pkgsOfCategory: Database.Statement;
  };
  /** FILE_ROWS files in one statement, prepared when a package first has that many. */
  private insertFiles: Database.Statement | undefined;
  /** Directory symlinks under ROOT (`/lib` → `/usr/lib`), found once: link → canonical target. */
  private links: Map<string, string> | undefined;

  private constructor(
    readonly root: string,
    /** The database file, or ":memory:" when the cache directory cannot be written. */
    readonly file: string,
    private readonly db: Database.Database,
  ) {
    this.st = {
      owners: db.prepare("SELECT p.cpv FROM file f JOIN package p ON p.id = f.pkg WHERE f.path = ?").pluck(),
      byName: db.prepare("SELECT f.path, p.cpv FROM file f JOIN package p ON p.id = f.pkg WHERE substr(f.path, -length(@name) - 1) = '/' || @name ORDER BY f.path, p.cpv"),
      pkgsOf: db.prepare("SELECT cpv FROM package ORDER BY cpv").pluck(),
      pkgId: db.prepare("SELECT id FROM package WHERE cpv = ?").pluck(),
      insertPkg: db.prepare("INSERT INTO package (cpv, category, stamp) VALUES (?, ?, ?)"),
      updatePkg: db.prepare("UPDATE package SET stamp = ? WHERE id = ?"),
      deletePkg: db.prepare("DELETE FROM package WHERE id = ?"),
      deleteFiles: db.prepare("DELETE FROM file WHERE pkg = ?"),
      insertFile: db.prepare("INSERT OR IGNORE INTO file (path, pkg) VALUES (?, ?)"),
      setCategory: db.prepare("INSERT OR REPLACE INTO category (name, stamp) VALUES (?, ?)"),
      deleteCategory: db.prepare("DELETE FROM category WHERE name = ?"),
      pkgsOfCategory: db.prepare("SELECT id, cpv, stamp FROM package WHERE category = ?"),
    };
  }

  /**
   * Open the index of ROOT's VDB kept in `cacheDir/owners.sqlite`, built or brought up to date
   * first. When the cache directory cannot be written, the index is built in memory.
   */
  static open(root: string, cacheDir: string, opts: OwnerIndexOptions = {}): OwnerIndex {
    const absRoot = path.resolve(root);
    const file = path.join(cacheDir, "owners.sqlite");
    let db: Database.Database;
    let where = file;
    try {
      db = openDatabase(file, absRoot, opts.reporter);
    } catch (e) {
      opts.reporter?.report({ kind: "info", message: `the owner index cannot be kept in ${cacheDir} (${(e as Error).message}); building it in memory` });
      db = new Database(":memory:");
      prepareSchema(db, absRoot);
      where = ":memory:";
    }
    const idx = new OwnerIndex(absRoot, where, db);
    idx.refresh();
    return idx;
  }

  close(): void {
    this.db.close();
  }

  /**
   * Read every entry again, whatever the stamps say (an entry edited in place can keep its
   * stamps): they are cleared in one SQLite transaction, so a reader meanwhile sees the old
   * answers, and the refresh re-reads all and drops what the VDB no longer has.
   */
  rebuild(): OwnerIndexRefresh {
    this.db.transaction(() => {
      this.db.prepare("UPDATE category SET stamp = ''").run();
      this.db.prepare("UPDATE package SET stamp = ''").run();
    })();
    return this.refresh();
  }

  /**
   * Bring the index up to date with the VDB: a stat of each category directory when nothing
   * changed; otherwise the changed categories are compared entry by entry. `written`: the
   * CONTENTS of entries this process has just committed (cpv → entries), taken as they are
   * instead of reading and parsing the files again.
   */
  refresh(written?: ReadonlyMap<string, readonly ContentsEntry[]>): OwnerIndexRefresh {
    const base = vdbDir(this.root);
    const seen = new Map<string, string>();
    let names: fs.Dirent[] = [];
    try {
      names = fs.readdirSync(base, { withFileTypes: true });
    } catch {
      // no VDB: nothing is installed
    }
    for (const d of names) {
      if (d.name.startsWith(".") || d.name === "CVS" || d.name === "lost+found" || !d.isDirectory()) continue;
      const stamp = stampOf(path.join(base, d.name));
      if (stamp) seen.set(d.name, stamp);
    }
    const stale = (known: Map<string, string>) => {
      const changed = [...seen].filter(([c, s]) => known.get(c) !== s).map(([c]) => c);
      const gone = [...known.keys()].filter((c) => !seen.has(c));
      return { changed, gone };
    };
    const knownNow = () => new Map((this.db.prepare("SELECT name, stamp FROM category").raw().all() as [string, string][]).map(([n, s]) => [n, s]));
    const first = stale(knownNow());
    if (!first.changed.length && !first.gone.length) return { categories: 0, read: 0, dropped: 0 };
    // decided again inside the write transaction: another process may have refreshed meanwhile
    return this.db
      .transaction(() => {
        const { changed, gone } = stale(knownNow());
        let read = 0;
        let dropped = 0;
        const emptyBefore = changed.length > 0 && this.db.prepare("SELECT count(*) FROM package").pluck().get() === 0;
        // a first build fills the file table faster without its secondary index
        if (emptyBefore) this.db.exec("DROP INDEX IF EXISTS file_pkg");
        for (const c of gone) {
          for (const row of this.st.pkgsOfCategory.all(c) as { id: number }[]) {
            this.st.deleteFiles.run(row.id);
            this.st.deletePkg.run(row.id);
            dropped++;
          }
          this.st.deleteCategory.run(c);
        }
        for (const c of changed) {
          const r = this.syncCategory(c, seen.get(c)!, written);
          read += r.read;
          dropped += r.dropped;
        }
        if (emptyBefore) this.db.exec("CREATE INDEX IF NOT EXISTS file_pkg ON file (pkg)");
        return { categories: changed.length, read, dropped };
      })
      .immediate();
  }

  /** Compare one category's entries with the index; read what changed. Inside a transaction. */
  private syncCategory(category: string, stamp: string, written?: ReadonlyMap<string, readonly ContentsEntry[]>): { read: number; dropped: number } {
    const dir = path.join(vdbDir(this.root), category);
    const known = new Map((this.st.pkgsOfCategory.all(category) as { id: number; cpv: string; stamp: string }[]).map((r) => [r.cpv, r]));
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      // removed meanwhile: every entry goes
    }
    let read = 0;
    let dropped = 0;
    const present = new Set<string>();
    for (const d of entries) {
      if (notEntry(d.name) || !d.isDirectory()) continue;
      const cpv = `${category}/${d.name}`;
      present.add(cpv);
      const contentsFile = path.join(dir, d.name, "CONTENTS");
      const s = stampOf(contentsFile) ?? "none";
      const row = known.get(cpv);
      if (row && row.stamp === s) continue;
      let contents: readonly ContentsEntry[] = [];
      const inMemory = s !== "none" ? written?.get(cpv) : undefined;
      if (inMemory) contents = inMemory;
      else if (s !== "none") {
        try {
          contents = parseContents(fs.readFileSync(contentsFile, "utf8"));
        } catch {
          // unreadable: owns nothing until it can be read
        }
      }
      this.store(cpv, category, s, contents, row?.id);
      read++;
    }
    for (const [cpv, row] of known) {
      if (present.has(cpv)) continue;
      this.st.deleteFiles.run(row.id);
      this.st.deletePkg.run(row.id);
      dropped++;
    }
    this.st.setCategory.run(category, stamp);
    return { read, dropped };
  }

  private store(cpv: string, category: string, stamp: string, contents: readonly ContentsEntry[], id?: number): void {
    if (id === undefined) id = Number(this.st.insertPkg.run(cpv, category, stamp).lastInsertRowid);
    else {
      this.st.deleteFiles.run(id);
      this.st.updatePkg.run(stamp, id);
    }
    // in statements of FILE_ROWS rows: a call into SQLite per file was most of a big refresh
    const paths = pathsOf(contents);
    let i = 0;
    if (paths.length >= FILE_ROWS) {
      this.insertFiles ??= this.db.prepare(`INSERT OR IGNORE INTO file (path, pkg) VALUES ${Array.from({ length: FILE_ROWS }, () => "(?, ?)").join(", ")}`);
      const args: (string | number)[] = new Array(2 * FILE_ROWS);
      for (; i + FILE_ROWS <= paths.length; i += FILE_ROWS) {
        for (let k = 0; k < FILE_ROWS; k++) {
          args[2 * k] = paths[i + k]!;
          args[2 * k + 1] = id;
        }
        this.insertFiles.run(args);
      }
    }
    for (; i < paths.length; i++) this.st.insertFile.run(paths[i], id);
  }

  /**
   * Record what newly committed entries own (cpv → their CONTENTS), stamped with their CONTENTS
   * as it is now, in one transaction, and nothing else: the next refresh finds them current and
   * settles the rest of their categories (entries replaced or gone). For a run of many merges,
   * which records what it committed while it waits for the next package, and refreshes once at
   * the end. Call under the VDB lock.
   */
  record(written: ReadonlyMap<string, readonly ContentsEntry[]>): void {
    if (!written.size) return;
    this.db
      .transaction(() => {
        for (const [cpv, contents] of written) {
          const slash = cpv.indexOf("/");
          const category = cpv.slice(0, slash);
          const stamp = stampOf(path.join(vdbDir(this.root), category, cpv.slice(slash + 1), "CONTENTS"));
          if (stamp === undefined) continue; // not in place: the refresh reads it
          this.store(cpv, category, stamp, contents, this.st.pkgId.get(cpv) as number | undefined);
        }
      })
      .immediate();
  }

  /**
   * Record what an entry now owns, after its commit (`contents`) or removal (`undefined`), and
   * compare the rest of its category with the VDB. Call after the VDB change, under the VDB lock.
   */
  update(cpv: string, contents: readonly ContentsEntry[] | undefined): void {
    const slash = cpv.indexOf("/");
    const category = cpv.slice(0, slash);
    const pf = cpv.slice(slash + 1);
    const catDir = path.join(vdbDir(this.root), category);
    this.db
      .transaction(() => {
        const id = this.st.pkgId.get(cpv) as number | undefined;
        if (contents === undefined) {
          if (id !== undefined) {
            this.st.deleteFiles.run(id);
            this.st.deletePkg.run(id);
          }
        } else {
          // a CONTENTS not (yet) in place stamps as "none": the next refresh reads it again
          this.store(cpv, category, stampOf(path.join(catDir, pf, "CONTENTS")) ?? "none", contents, id);
        }
        const stamp = stampOf(catDir);
        if (stamp) this.syncCategory(category, stamp);
        else {
          for (const row of this.st.pkgsOfCategory.all(category) as { id: number }[]) {
            this.st.deleteFiles.run(row.id);
            this.st.deletePkg.run(row.id);
          }
          this.st.deleteCategory.run(category);
        }
      })
      .immediate();
  }

  /**
   * The installed packages that own each path (paths relative to ROOT, starting with `/`),
   * sorted; paths that no package owns are absent. `//`, `.`, `..` and trailing slashes are
   * normalised, and directory symlinks of ROOT are followed both ways (`/lib/x` is found for
   * `/usr/lib/x` when `/lib` links to `usr/lib`, and the other way round).
   */
  owners(paths: readonly string[]): Map<string, string[]> {
    this.refresh();
    const out = new Map<string, string[]>();
    const canon = new Map<string, string>();
    for (const p of paths) {
      const n = normaliseOwnedPath(p);
      if (n === undefined) continue;
      const found = new Set<string>();
      for (const form of this.aliases(n, canon)) for (const cpv of this.st.owners.all(form) as string[]) found.add(cpv);
      if (found.size) out.set(p, [...found].sort());
    }
    return out;
  }

  /** Owned paths whose last component is `name` (as `equery belongs` and `qfile` take a bare file name): path → owners. */
  ownersByName(name: string): Map<string, string[]> {
    this.refresh();
    const out = new Map<string, string[]>();
    if (!name || name.includes("/")) return out;
    for (const { path: p, cpv } of this.st.byName.all({ name }) as { path: string; cpv: string }[]) {
      const list = out.get(p) ?? [];
      list.push(cpv);
      out.set(p, list);
    }
    for (const list of out.values()) list.sort();
    return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Every indexed package, sorted (for checks and tests). */
  packages(): string[] {
    return this.st.pkgsOf.all() as string[];
  }

  /** How many packages and paths the index holds. */
  size(): { packages: number; files: number } {
    return {
      packages: this.db.prepare("SELECT count(*) FROM package").pluck().get() as number,
      files: this.db.prepare("SELECT count(*) FROM file").pluck().get() as number,
    };
  }

  /** The forms a path may be recorded under: itself, with its directory symlinks resolved, and through each directory symlink that leads to it. */
  private aliases(p: string, canon: Map<string, string>): Set<string> {
    const forms = new Set([p]);
    const dir = path.posix.dirname(p);
    const real = this.canonical(dir, canon);
    const resolved = real === "/" ? `/${path.posix.basename(p)}` : `${real}/${path.posix.basename(p)}`;
    if (p !== "/") forms.add(resolved);
    for (const [link, target] of this.dirLinks()) {
      for (const f of [...forms]) if (f.startsWith(`${target}/`)) forms.add(link + f.slice(target.length));
    }
    return forms;
  }

  /** A directory (ROOT-relative) with its symlinks resolved inside ROOT; parts that do not exist are kept as they are. */
  private canonical(dir: string, memo: Map<string, string>, depth = 0): string {
    if (dir === "/") return "/";
    const hit = memo.get(dir);
    if (hit !== undefined) return hit;
    const parent = this.canonical(path.posix.dirname(dir), memo, depth);
    let here = parent === "/" ? `/${path.posix.basename(dir)}` : `${parent}/${path.posix.basename(dir)}`;
    try {
      if (depth < 16 && fs.lstatSync(path.join(this.root, here)).isSymbolicLink()) {
        const target = fs.readlinkSync(path.join(this.root, here));
        const joined = target.startsWith("/") ? path.posix.normalize(target) : path.posix.normalize(`${parent}/${target}`);
        here = this.canonical(joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined, memo, depth + 1);
      }
    } catch {
      // not there: kept as written
    }
    memo.set(dir, here);
    return here;
  }

  /** Symlinks to directories at the top of ROOT and of /usr (usrmerge, SYMLINK_LIB): link → canonical target. */
  private dirLinks(): Map<string, string> {
    if (this.links) return this.links;
    const links = new Map<string, string>();
    const memo = new Map<string, string>();
    for (const top of ["/", "/usr", "/usr/local"]) {
      let names: fs.Dirent[];
      try {
        names = fs.readdirSync(path.join(this.root, top), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const d of names) {
        if (!d.isSymbolicLink()) continue;
        const link = top === "/" ? `/${d.name}` : `${top}/${d.name}`;
        try {
          if (!fs.statSync(path.join(this.root, link)).isDirectory()) continue;
        } catch {
          continue;
        }
        const target = this.canonical(link, memo);
        if (target !== link) links.set(link, target);
      }
    }
    return (this.links = links);
  }
}

function openDatabase(file: string, root: string, reporter?: Reporter): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.accessSync(path.dirname(file), fs.constants.W_OK);
  const open = () => {
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 10000");
    prepareSchema(db, root);
    return db;
  };
  try {
    return open();
  } catch (e) {
    // a cache: a damaged file is dropped and built again
    reporter?.report({ kind: "info", message: `the owner index ${file} was unusable (${(e as Error).message}); rebuilding it` });
    for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true });
    return open();
  }
}

/** Create the tables, or start afresh when they are of another schema or another ROOT. */
function prepareSchema(db: Database.Database, root: string): void {
  const current = () => db.pragma("user_version", { simple: true }) === SCHEMA && db.prepare("SELECT value FROM meta WHERE key = 'root'").pluck().get() === root;
  if (current()) return;
  db.transaction(() => {
    // another process may have made it meanwhile
    if (current()) return;
    for (const t of ["file", "package", "category", "meta"]) db.exec(`DROP TABLE IF EXISTS ${t}`);
    db.exec(SCHEMA_SQL);
    db.prepare("INSERT INTO meta (key, value) VALUES ('root', ?)").run(root);
    db.pragma(`user_version = ${SCHEMA}`);
  }).immediate();
}
